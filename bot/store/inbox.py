"""The inbox table: updates stored before they are confirmed to Telegram, the ids seen."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from bot.store import driver
from bot.store.models import InboxUpdate

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
        async with driver.transaction(engine) as connection:
            for batch in batches:
                statement = _compiled(engine.dialect, len(batch))
                params = {f"{k}_m{i}": v for i, row in enumerate(batch) for k, v in row.items()}
                found = await connection.execute_fetchall(statement.sql, statement.row(params))
                new.update(int(row[0]) for row in found)
        return new
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


def _handled(update_id: int, now: datetime) -> Any:
    return (
        update(inbox)
        .where(inbox.c.id == update_id, inbox.c.payload.is_not(None))
        .values(payload=None, wrapped_key=None, handled_at=now)
    )


async def mark_handled(
    connection: AsyncConnection | AsyncSession, update_id: int, now: datetime
) -> bool:
    """In the transaction of the update's effect: its content goes, its id stays. False if
    it was already handled (by another process): the caller's effect must not stand. An
    update that never went through the inbox (a test driving the service directly) is
    not refused."""
    result = await connection.execute(_handled(update_id, now))
    if int(getattr(result, "rowcount", 0) or 0) == 1:
        return True
    seen = await connection.execute(select(inbox.c.id).where(inbox.c.id == update_id))
    return seen.first() is None


async def forget_seen(session: AsyncSession, received_before: datetime) -> int:
    """Ids of handled updates older than Telegram's redelivery window are no longer needed."""
    result = await session.execute(
        delete(InboxUpdate).where(
            InboxUpdate.payload.is_(None), InboxUpdate.received_at < received_before
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)
