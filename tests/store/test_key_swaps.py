"""A rotation re-wraps a batch of keys in one statement, and still only where each record
holds what was read: a key changed meanwhile (a bot re-keyed the chat, a withdrawal
shredded the case) is left alone and counted out, for the next pass to find."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.crypto import KeyOwner, Keyring
from bot.services import people
from bot.store import keys as stored_keys
from bot.store.database import migrate, session_factory
from bot.store.models import Chat, Responder


async def test_only_keys_still_as_read_are_swapped(engine: AsyncEngine, keyring: Keyring) -> None:
    await migrate(engine, keyring=keyring)
    sessions = session_factory(engine)
    now = datetime.now(UTC)
    staff = [
        people.new_responder(keyring, 500 + n, f"R{n}", "responder", "en", now) for n in (1, 2, 3)
    ]
    async with sessions.begin() as session:
        session.add_all(staff)
    read = {p.id: bytes(p.wrapped_key) for p in staff}
    moved_on = staff[1].id  # re-keyed by someone else after the rotation read it
    async with sessions.begin() as session:
        await stored_keys.replace_wrapped(
            session, KeyOwner.RESPONDER, [(moved_on, read[moved_on], b"someone else's")]
        )
    async with sessions.begin() as session:
        swaps = [(i, old, b"new:" + i.bytes) for i, old in read.items()]
        assert await stored_keys.replace_wrapped(session, KeyOwner.RESPONDER, swaps) == 2
    async with sessions.begin() as session:
        stored = dict((await session.execute(select(Responder.id, Responder.wrapped_key))).all())
    assert stored == {i: b"someone else's" if i == moved_on else b"new:" + i.bytes for i in read}


async def test_only_chats_still_at_the_version_read_are_rekeyed(
    engine: AsyncEngine, keyring: Keyring
) -> None:
    await migrate(engine, keyring=keyring)
    sessions = session_factory(engine)
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    chats = [
        Chat(
            id=uuid.uuid4(),
            lookup=bytes([n]) * 32,
            wrapped_key=b"old",
            state=b"s",
            version=3,
            created_at=now,
            updated_at=now,
        )
        for n in range(3)
    ]
    async with sessions.begin() as session:
        session.add_all(chats)
    read = [(c.id, c.version) for c in chats]
    async with sessions.begin() as session:  # a bot wrote the second chat meanwhile
        written = await session.get(Chat, chats[1].id)
        assert written is not None
        written.version = 4
    async with sessions.begin() as session:
        rekeyed = [
            (Chat(id=i, version=v), b"new:" + i.bytes, None if n else b"state:" + i.bytes)
            for n, (i, v) in enumerate(read)
        ]
        assert await stored_keys.rekey_chats(session, rekeyed) == 2
    async with sessions.begin() as session:
        rows = {c.id: c for c in await session.scalars(select(Chat))}
    first, second, third = (rows[c.id] for c in chats)
    assert (first.wrapped_key, first.state, first.version) == (
        b"new:" + first.id.bytes,
        b"state:" + first.id.bytes,
        4,
    )
    assert (second.wrapped_key, second.state, second.version) == (b"old", b"s", 4)
    assert (third.wrapped_key, third.state, third.version) == (b"new:" + third.id.bytes, None, 4)
