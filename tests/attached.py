"""Evidence files in tests: attaching one to a reporter's draft (as the file handler will),
reading one back, and looking for its bytes where they must not be."""

from __future__ import annotations

import os
import random
import uuid
from collections.abc import AsyncIterator
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from world import T0

from bot.crypto import CaseKey, DraftKey, Keyring
from bot.services import evidence
from bot.services.evidence import FileMeta, Holder
from bot.store.database import session_factory
from bot.store.models import Chat, EvidenceChunk, EvidenceFile

WINDOW = 32  # bytes: a slice of a file this long found anywhere would be a leak
MB = 1024 * 1024


def random_file(size: int) -> bytes:
    return os.urandom(size)


def photo(name: str = "IMG_2041.jpg") -> FileMeta:
    return FileMeta(kind="jpeg", mime="image/jpeg", cleaned=True, name=name, caption="at work")


def windows(data: bytes, count: int = 64, seed: int = 7) -> list[bytes]:
    """`count` slices of WINDOW bytes from all over `data` (its start and end included)."""
    if len(data) < WINDOW:
        return [data] if data else []
    picker = random.Random(seed)
    starts = {0, len(data) - WINDOW}
    starts |= {picker.randrange(0, len(data) - WINDOW) for _ in range(count - 2)}
    return [data[s : s + WINDOW] for s in sorted(starts)]


async def draft_of(
    engine: AsyncEngine, keyring: Keyring, lookup: bytes
) -> tuple[uuid.UUID, DraftKey]:
    """The id a reporter's draft files its evidence under (a random one, kept in the chat's
    sealed state: never the chat row's id), and the draft's key (from its row)."""
    async with engine.connect() as connection:
        chat = (await connection.execute(select(Chat).where(Chat.lookup == lookup))).one()
    assert chat.draft_key is not None, "the chat has no draft"
    state = keyring.chat_key(chat.id, chat.wrapped_key).open_state(chat.state)
    assert state["files"] is not None and uuid.UUID(state["files"]) != chat.id
    return uuid.UUID(state["files"]), keyring.draft_key(chat.id, chat.draft_key)


async def attach(
    engine: AsyncEngine,
    key: DraftKey | CaseKey,
    holder: Holder,
    data: bytes,
    meta: FileMeta | None = None,
    now: datetime = T0,
) -> uuid.UUID:
    async with session_factory(engine).begin() as session:
        return await evidence.store_file(session, key, holder, data, meta or photo(), now=now)


async def read(engine: AsyncEngine, key: DraftKey | CaseKey, file_id: uuid.UUID) -> bytes:
    async with session_factory(engine)() as session:
        _meta, stream = await evidence.open_file(session, key, file_id)
        return b"".join([piece async for piece in stream])


async def read_until_it_fails(
    engine: AsyncEngine, key: DraftKey | CaseKey, file_id: uuid.UUID
) -> tuple[bytes, BaseException | None]:
    """What a reader got before the stream raised, and what it raised (None: no error)."""
    got: list[bytes] = []
    async with session_factory(engine)() as session:
        try:
            _meta, stream = await evidence.open_file(session, key, file_id)
            async for piece in stream:
                got.append(piece)
        except Exception as error:
            return b"".join(got), error
    return b"".join(got), None


async def evidence_rows(engine: AsyncEngine) -> tuple[int, int]:
    """How many evidence_files and evidence_chunks rows there are, in all."""
    async with engine.connect() as connection:
        files = await connection.scalar(select(func.count()).select_from(EvidenceFile))
        chunks = await connection.scalar(select(func.count()).select_from(EvidenceChunk))
    return int(files or 0), int(chunks or 0)


async def stored_chunks(engine: AsyncEngine) -> list[bytes]:
    """Every chunk's sealed bytes, as the database holds them."""
    async with engine.connect() as connection:
        return [bytes(r.data) for r in await connection.execute(select(EvidenceChunk.data))]


async def pieces(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]
