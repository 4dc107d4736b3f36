"""Chat rows: cached reads, version-checked writes, and writes committed together."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store import inbox
from bot.store.chats import AlreadyHandled, ChatRow, ChatStore, ChatWrite, StaleChat
from bot.store.models import Chat, InboxUpdate

T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


def new_row(n: int) -> ChatRow:
    return ChatRow(uuid.uuid4(), bytes([n]) * 32, b"wrapped", None, None, 1, T0, T0)


def write(row: ChatRow, based_on: int) -> ChatWrite:
    return ChatWrite(row, based_on, None, T0)


async def stored(engine: AsyncEngine) -> dict[bytes, tuple[bytes | None, int]]:
    async with engine.connect() as connection:
        rows = await connection.execute(select(Chat.lookup, Chat.state, Chat.version))
        return {lookup: (state, version) for lookup, state, version in rows}


async def test_concurrent_writes_are_stored_and_a_stale_one_alone_is_refused(
    migrated: AsyncEngine,
) -> None:
    store = ChatStore(migrated)
    rows = [new_row(n) for n in range(3)]
    await asyncio.gather(*(store.write(write(row, 0), None) for row in rows))

    # Another process moves chat 1 on; this process's copy of it is now out of date.
    elsewhere = ChatStore(migrated)
    behind = await elsewhere.find(rows[1].lookup)
    assert behind is not None
    await elsewhere.write(write(replace(behind, state=b"theirs", version=2), 1), None)

    ahead = [replace(row, state=b"mine", version=2) for row in rows]
    results = await asyncio.gather(
        *(store.write(write(row, 1), None) for row in ahead), return_exceptions=True
    )
    assert [type(r) for r in results] == [type(None), StaleChat, type(None)]
    assert await stored(migrated) == {
        rows[0].lookup: (b"mine", 2),
        rows[1].lookup: (b"theirs", 2),
        rows[2].lookup: (b"mine", 2),
    }
    # What was refused is not remembered: the next read goes to the database.
    assert await store.find(rows[1].lookup) == replace(behind, state=b"theirs", version=2)


async def test_a_chat_created_twice_is_refused_the_second_time(migrated: AsyncEngine) -> None:
    row = new_row(7)
    await ChatStore(migrated).write(write(row, 0), None)
    with pytest.raises(StaleChat):
        await ChatStore(migrated).write(write(replace(row, id=uuid.uuid4()), 0), None)


async def test_rows_are_remembered_up_to_the_cache_size(migrated: AsyncEngine) -> None:
    store = ChatStore(migrated, cache_size=2)
    rows = [new_row(n) for n in range(3)]
    for row in rows:
        await store.write(write(row, 0), None)
    assert list(store._cache) == [rows[1].lookup, rows[2].lookup]


def pending_update(update_id: int) -> dict[str, object]:
    return {
        "id": update_id,
        "wrapped_key": b"key",
        "payload": b"sealed update",
        "received_at": T0,
        "handled_at": None,
        "chat_lookup": None,
    }


async def unhandled(engine: AsyncEngine) -> list[int]:
    async with engine.connect() as connection:
        query = select(InboxUpdate.id).where(InboxUpdate.payload.is_not(None))
        return sorted(await connection.scalars(query))


async def test_a_write_marks_its_update_handled_and_a_refused_write_marks_nothing(
    migrated: AsyncEngine,
) -> None:
    """On PostgreSQL the write and the mark are one statement: each refusal is checked here."""
    store = ChatStore(migrated, cache_size=0)
    row = new_row(9)
    await store.write(write(row, 0), None)
    assert await inbox.add_new(migrated, [pending_update(1), pending_update(2)]) == {1, 2}
    moved = replace(row, state=b"one", version=2)
    async with migrated.begin() as connection:  # in a turn's own transaction
        await store.write(ChatWrite(moved, 1, 1, T0), connection)
    assert await unhandled(migrated) == [2]

    # Update 1 again (redelivered to another replica): refused, nothing written.
    with pytest.raises(AlreadyHandled):
        await store.write(ChatWrite(replace(moved, state=b"again", version=3), 2, 1, T0), None)
    # Update 2 on an out-of-date copy: refused, and update 2 is still to be handled.
    with pytest.raises(StaleChat) as refused:
        await store.write(ChatWrite(replace(moved, state=b"stale", version=2), 1, 2, T0), None)
    assert not isinstance(refused.value, AlreadyHandled)
    assert await unhandled(migrated) == [2]
    assert (await stored(migrated))[row.lookup] == (b"one", 2)

    # An update that never went through the inbox (a service driven directly) still counts.
    await store.write(ChatWrite(replace(moved, state=b"two", version=3), 2, 99, T0), None)
    await store.write(ChatWrite(replace(moved, state=b"three", version=4), 3, 2, T0), None)
    assert await unhandled(migrated) == []
    assert (await stored(migrated))[row.lookup] == (b"three", 4)
