"""The inbox table: updates stored before they are confirmed to Telegram, the ids seen."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from bot.store.models import InboxUpdate

inbox: Table = InboxUpdate.__table__  # type: ignore[assignment]


async def add_new(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> set[int]:
    """Insert the updates not seen before; returns the ids that were new. An id already in
    the table (handled or not, by this process or another) is left alone."""
    if not rows:
        return set()
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(inbox)
        .values(list(rows))  # one multi-row statement: a batch is one round trip
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(inbox.c.id)
    )
    return set((await session.execute(statement)).scalars())


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
