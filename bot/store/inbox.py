"""The inbox table: updates stored before they are confirmed to Telegram, the ids seen; and,
on PostgreSQL, each chat's turn: the lock under which a replica handles that chat's
pending updates."""

from __future__ import annotations

import contextlib
import functools
import logging
import sqlite3
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from bot.store import driver
from bot.store.database import create_engine, is_sqlite
from bot.store.models import InboxUpdate
from bot.store.problems import CONNECT_SECONDS

log = logging.getLogger(__name__)
inbox: Table = InboxUpdate.__table__  # type: ignore[assignment]


BATCH = 100  # rows a statement: getUpdates returns at most 100, and SQLite caps parameters


async def add_new(engine: AsyncEngine, rows: Sequence[dict[str, Any]]) -> set[int]:
    """Insert the updates not seen before, committed; returns the ids that were new. An id
    already in the table (handled or not, by this process or another) is left alone.

    One statement a batch (a multi-row INSERT … ON CONFLICT DO NOTHING RETURNING id); on
    SQLite handed straight to the driver, as every update goes through here."""
    batches = [rows[start : start + BATCH] for start in range(0, len(rows), BATCH)]
    new: set[int] = set()
    if not batches:
        return new
    if driver.on_aiosqlite(engine):
        statements = []
        for batch in batches:
            statement = _compiled(engine.dialect, len(batch))
            params = {f"{k}_m{i}": v for i, row in enumerate(batch) for k, v in row.items()}
            statements.append((statement.sql, statement.row(params)))

        def insert_all(sqlite: sqlite3.Connection) -> list[Any]:
            return [row for sql, values in statements for row in sqlite.execute(sql, values)]

        return {int(row[0]) for row in await driver.in_one_trip(engine, insert_all)}
    async with engine.begin() as connection:
        for batch in batches:
            new.update((await connection.execute(_insert_new(engine.dialect, batch))).scalars())
    return new


def _insert_new(dialect: Dialect, rows: Sequence[dict[str, Any]]) -> Any:
    insert = postgresql.insert if dialect.name == "postgresql" else sqlite.insert
    return (
        insert(inbox)
        .values(list(rows))
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(inbox.c.id)
    )


@functools.lru_cache(maxsize=BATCH)
def _compiled(dialect: Dialect, count: int) -> driver.DriverStatement:
    """The statement for `count` rows, its parameters named `<column>_m<row>`."""
    blank = {column.name: None for column in inbox.columns}
    return driver.DriverStatement(_insert_new(dialect, [blank] * count), dialect)


async def pending(
    session: AsyncSession, received_before: datetime | None = None
) -> list[InboxUpdate]:
    """Updates stored but not handled (and received before `received_before`, if given), in
    the order they arrived."""
    query = (
        select(InboxUpdate)
        .where(InboxUpdate.payload.is_not(None))
        .order_by(InboxUpdate.received_at, InboxUpdate.id)
    )
    if received_before is not None:
        query = query.where(InboxUpdate.received_at < received_before)
    return list(await session.scalars(query))


# Built once: it runs with every update.
HANDLED = (
    update(inbox)
    .where(inbox.c.id == bindparam("update_id"), inbox.c.payload.is_not(None))
    .values(payload=None, wrapped_key=None, chat_lookup=None, handled_at=bindparam("now"))
)
_SEEN = select(inbox.c.id).where(inbox.c.id == bindparam("update_id"))


async def mark_handled(
    connection: AsyncConnection | AsyncSession, update_id: int, now: datetime
) -> bool:
    """In the transaction of the update's effect: its content goes, its id stays. False if
    it was already handled (by another process): the caller's effect must not stand. An
    update that never went through the inbox (a test driving the service directly) is
    not refused."""
    result = await connection.execute(HANDLED, {"update_id": update_id, "now": now})
    if int(getattr(result, "rowcount", 0) or 0) == 1:
        return True
    return not await stored_before(connection, update_id)


async def stored_before(connection: AsyncConnection | AsyncSession, update_id: int) -> bool:
    """Whether the update went through the inbox: if it is not pending, someone handled it."""
    return (await connection.execute(_SEEN, {"update_id": update_id})).first() is not None


async def forget_seen(session: AsyncSession, received_before: datetime) -> int:
    """Ids of handled updates older than Telegram's redelivery window are no longer needed."""
    result = await session.execute(
        delete(InboxUpdate).where(
            InboxUpdate.payload.is_(None), InboxUpdate.received_at < received_before
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


class ChatTurns:
    """One chat's turn across replicas (PostgreSQL): a transaction that holds a
    transaction-level advisory lock keyed by the chat's lookup, on a connection of a pool of
    its own. Its holder handles the chat's pending updates (whoever stored them) one by one,
    reply included, and ends the transaction: that releases the lock, as does the death of
    the holder's connection or process. Nothing is written in it; each update's effect is
    committed in its own transaction, as ever, before the turn ends.

    The pool has a connection for each update being handled at once (`size`, the
    dispatcher's slots) and is used for nothing else: a turn waiting for a connection to do
    its work never waits behind turns that hold every connection for their locks."""

    def __init__(self, database_url: str, size: int) -> None:
        # Waiting for a turn lasts as long as another replica's turn: the role's lock_timeout
        # and statement_timeout, if set, are lifted on these connections, which do nothing
        # else. The operator's idle_in_transaction_session_timeout stays: it frees the lock
        # of a replica whose machine vanished without closing its connection.
        settings = {"lock_timeout": "0", "statement_timeout": "0"}
        self.engine = create_engine(
            database_url,
            pool_size=size,
            max_overflow=0,
            connect_args={"timeout": CONNECT_SECONDS, "server_settings": settings},
        )

    @contextlib.asynccontextmanager
    async def hold(self, lookup: bytes) -> AsyncIterator[AsyncConnection]:
        """The chat's turn: waited for, held until the block ends."""
        async with self.engine.connect() as connection:
            try:
                await connection.execute(select(func.pg_advisory_xact_lock(lock_key(lookup))))
                yield connection
            finally:
                # The turn ends, and with it the lock; a connection that broke meanwhile
                # (its lock went with it) is not put back into the pool.
                try:
                    await connection.rollback()
                except Exception as error:
                    log.warning("event=chat_turn_end_failed error=%s", type(error).__name__)
                    await connection.invalidate()

    async def close(self) -> None:
        await self.engine.dispose()


def chat_turns(database_url: str, size: int) -> ChatTurns | None:
    """Turns across processes for PostgreSQL; None for SQLite, which one process uses (its
    dispatcher keeps each chat's order)."""
    return None if is_sqlite(database_url) else ChatTurns(database_url, size)


def lock_key(lookup: bytes) -> int:
    """The advisory lock's key: the lookup's first 64 bits (a keyed hash: two chats share a
    key by chance only, and then merely take turns)."""
    return int.from_bytes(lookup[:8], "big", signed=True)


async def pending_of(
    connection: AsyncConnection, lookup: bytes, update_id: int
) -> list[tuple[int, bytes | None, bytes | None]]:
    """A chat's pending updates (id, wrapped key, payload), and `update_id` if it is still
    pending (it may have been stored without its chat's lookup), lowest update id first."""
    query = (
        select(inbox.c.id, inbox.c.wrapped_key, inbox.c.payload)
        .where(
            inbox.c.payload.is_not(None),
            or_(inbox.c.chat_lookup == lookup, inbox.c.id == update_id),
        )
        .order_by(inbox.c.id)
    )
    return [(row.id, row.wrapped_key, row.payload) for row in await connection.execute(query)]
