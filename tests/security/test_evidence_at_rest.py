"""Evidence files at rest: no piece of a file is ever in the database's files in the clear;
a draft's files become its case's at submission and open with the case's key; withdrawal
and retention delete them with the case (on SQLite, not a byte of their chunks stays in the
files), and a discarded or expired draft takes its files with it."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

from attached import (
    MB,
    attach,
    draft_of,
    evidence_rows,
    photo,
    random_file,
    read,
    stored_chunks,
    windows,
)
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from test_retention_shredding import DAY, expire
from test_shredding import StoredValues
from world import REPORTER, T0, Clock, file_report, send

from bot.crypto import CaseKey, DraftKey, Keyring
from bot.intake.flow import Action, ActionName
from bot.services import evidence
from bot.services.cases import CaseVault
from bot.services.conversation import ConversationService
from bot.services.evidence import Holder
from bot.services.protocol import CaseButton, Command, FlowButton, Menu, MenuButton, ShowStep
from bot.store.database import session_factory
from bot.store.models import Case, Chat, EvidenceFile

THREE_MB = 3 * MB + 4321
World = tuple[ConversationService, Clock]


def raw_files(database_url: str) -> bytes | None:
    """Everything SQLite's files hold (the database, its log); None on PostgreSQL."""
    if not database_url.startswith("sqlite"):
        return None
    return StoredValues(Path(database_url.removeprefix("sqlite+aiosqlite:///"))).raw_files()


def found(pieces: list[bytes], raw: bytes) -> list[bytes]:
    return [piece for piece in pieces if piece in raw]


async def start_draft(
    service: ConversationService, engine: AsyncEngine, keyring: Keyring
) -> tuple[uuid.UUID, DraftKey]:
    await send(service, MenuButton(Menu.REPORT), REPORTER)
    return await draft_of(engine, keyring, keyring.chat_lookup(REPORTER))


async def the_case(engine: AsyncEngine, keyring: Keyring, short_id: str) -> tuple[Case, CaseKey]:
    async with session_factory(engine)() as session:
        case = (await session.scalars(select(Case).where(Case.short_id == short_id))).one()
    return case, CaseVault(keyring).key(case)


async def chunk_windows(engine: AsyncEngine) -> list[bytes]:
    """Slices of every stored chunk: what must be gone from the files once they are."""
    return [w for chunk in await stored_chunks(engine) for w in windows(chunk, 8)]


async def test_no_piece_of_a_file_is_stored_in_the_clear(
    world: World, engine: AsyncEngine, keyring: Keyring, database_url: str
) -> None:
    service, _clock = world
    chat_row, key = await start_draft(service, engine, keyring)
    data = random_file(THREE_MB)
    await attach(engine, key, Holder.of_draft(chat_row), data)
    plain = windows(data, 96)

    chunks = await stored_chunks(engine)
    assert len(chunks) == THREE_MB // (64 * 1024) + 1
    for chunk in chunks:
        assert found(plain, chunk) == []
    raw = raw_files(database_url)
    if raw is not None:
        assert found(plain, raw) == []
        # The check can see: the sealed chunks themselves are in the files (a window that
        # straddles two of SQLite's pages is not found whole, hence "most").
        sealed = await chunk_windows(engine)
        assert len(found(sealed, raw)) > len(sealed) // 2


async def test_a_drafts_files_become_its_cases_and_open_with_the_cases_key(
    world: World, engine: AsyncEngine, keyring: Keyring
) -> None:
    service, _clock = world
    chat_row, draft_key = await start_draft(service, engine, keyring)
    big, empty = random_file(THREE_MB), b""
    first = await attach(engine, draft_key, Holder.of_draft(chat_row), big, photo("one.jpg"))
    second = await attach(engine, draft_key, Holder.of_draft(chat_row), empty, photo("two.jpg"))

    short_id = await file_report(service)  # the rest of the report, then send it
    case, case_key = await the_case(engine, keyring, short_id)
    assert await read(engine, case_key, first) == big
    assert await read(engine, case_key, second) == empty
    async with session_factory(engine)() as session:
        listed = dict(await evidence.files_of(session, case_key, Holder.of_case(case.id)))
        assert await evidence.files_of(session, draft_key, Holder.of_draft(chat_row)) == []
    assert {m.name for m in listed.values()} == {"one.jpg", "two.jpg"}
    assert listed[first].size == THREE_MB
    async with engine.connect() as connection:
        rows = (await connection.execute(select(EvidenceFile))).all()
    # Nothing on the rows links the case to the chat it was written in any more.
    assert {(r.case_id, r.draft_owner) for r in rows} == {(case.id, None)}


async def test_withdrawal_deletes_the_files_and_no_byte_of_them_stays_in_the_files(
    world: World, engine: AsyncEngine, keyring: Keyring, database_url: str
) -> None:
    service, _clock = world
    chat_row, draft_key = await start_draft(service, engine, keyring)
    data = random_file(THREE_MB)
    await attach(engine, draft_key, Holder.of_draft(chat_row), data)
    short_id = await file_report(service)
    case, case_key = await the_case(engine, keyring, short_id)
    later = random_file(200_000)  # one sent after submission, under the case's key
    await attach(engine, case_key, Holder.of_case(case.id), later)
    assert await evidence_rows(engine) == (2, THREE_MB // (64 * 1024) + 1 + 4)
    sealed = await chunk_windows(engine)
    async with engine.connect() as connection:
        wraps = [bytes(w) for w in await connection.scalars(select(EvidenceFile.wrapped_key))]
    raw = raw_files(database_url)
    if raw is not None:
        assert len(found(sealed, raw)) > len(sealed) // 2  # the check can see them

    await send(service, Command("withdraw"), REPORTER)
    await send(service, CaseButton("withdraw_yes", short_id), REPORTER)

    assert await evidence_rows(engine) == (0, 0)
    plain = windows(data, 64) + windows(later, 16)
    raw = raw_files(database_url)
    if raw is not None:
        assert found(sealed, raw) == [], "while the database is open"
        assert found(wraps, raw) == []
        assert found(plain, raw) == []
        await engine.dispose()
        raw = raw_files(database_url)
        assert raw is not None
        assert found(sealed, raw) == [], "after it was closed"


async def test_retention_deletes_a_cases_files(
    world: World, engine: AsyncEngine, keyring: Keyring, database_url: str
) -> None:
    service, clock = world
    short_id, watch = await expire(service, clock, engine, keyring)
    case, key = await the_case(engine, keyring, short_id)
    await attach(engine, key, Holder.of_case(case.id), random_file(300_000))
    sealed = await chunk_windows(engine)

    clock.now = T0 + 365 * DAY
    assert (await watch.run()).shredded == 1
    assert await evidence_rows(engine) == (0, 0)
    raw = raw_files(database_url)
    if raw is not None:
        assert found(sealed, raw) == []


async def test_a_discarded_draft_takes_its_files(
    world: World, engine: AsyncEngine, keyring: Keyring, database_url: str
) -> None:
    service, _clock = world
    chat_row, key = await start_draft(service, engine, keyring)
    await attach(engine, key, Holder.of_draft(chat_row), random_file(300_000))
    sealed = await chunk_windows(engine)

    views = await send(service, MenuButton(Menu.START_OVER), REPORTER)
    (step,) = [v for v in views if isinstance(v, ShowStep)]
    await send(service, FlowButton(step.rev, Action(ActionName.CONFIRM_DISCARD)), REPORTER)

    assert await evidence_rows(engine) == (0, 0)
    async with engine.connect() as connection:
        chat = (await connection.execute(select(Chat))).all()
    assert all(c.draft_key is None for c in chat)
    raw = raw_files(database_url)
    if raw is not None:
        assert found(sealed, raw) == []


async def test_an_expired_draft_takes_its_files(
    world: World, engine: AsyncEngine, keyring: Keyring, database_url: str
) -> None:
    service, clock = world
    chat_row, key = await start_draft(service, engine, keyring)
    await attach(engine, key, Holder.of_draft(chat_row), random_file(300_000))
    sealed = await chunk_windows(engine)

    clock.now += timedelta(hours=73)
    assert await service.prune_chats(timedelta(hours=72)) >= 1
    assert await evidence_rows(engine) == (0, 0)
    raw = raw_files(database_url)
    if raw is not None:
        assert found(sealed, raw) == []


async def test_an_expired_draft_beside_an_open_case_takes_its_files(
    world: World, engine: AsyncEngine, keyring: Keyring
) -> None:
    """The chat stays (its reporter follows an open case); the draft and its files go."""
    service, clock = world
    short_id = await file_report(service)
    case, case_key = await the_case(engine, keyring, short_id)
    kept = await attach(engine, case_key, Holder.of_case(case.id), random_file(1000))
    chat_row, key = await start_draft(service, engine, keyring)
    await attach(engine, key, Holder.of_draft(chat_row), random_file(1000))

    clock.now += timedelta(hours=73)
    assert await service.prune_chats(timedelta(hours=72)) >= 1
    async with engine.connect() as connection:
        rows = (await connection.execute(select(EvidenceFile.id))).scalars().all()
        lookup = keyring.chat_lookup(REPORTER)
        chat = (await connection.execute(select(Chat).where(Chat.lookup == lookup))).one()
    assert list(rows) == [kept]  # the case's file stays; the draft's went
    assert chat.draft_key is None


async def test_files_of_a_draft_that_no_longer_exists_are_swept(
    world: World, engine: AsyncEngine, keyring: Keyring
) -> None:
    service, clock = world
    gone_key, _ = keyring.new_draft_key(uuid.uuid4())
    orphan = await attach(engine, gone_key, Holder.of_draft(uuid.uuid4()), b"left behind")
    clock.now += timedelta(hours=73)
    chat_row, key = await start_draft(service, engine, keyring)  # a live draft, just begun
    live = await attach(engine, key, Holder.of_draft(chat_row), b"still being written", now=T0)

    await service.prune_chats(timedelta(hours=72))
    async with engine.connect() as connection:
        rows = (await connection.execute(select(EvidenceFile.id))).scalars().all()
    assert orphan not in rows
    assert list(rows) == [live]
