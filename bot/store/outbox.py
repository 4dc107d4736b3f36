"""The outbox table as a queue: lease what is due (most urgent first), reschedule, delete."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete as sql_delete
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import OutboxMessage


async def lease_due(
    session: AsyncSession, now: datetime, until: datetime, limit: int
) -> list[OutboxMessage]:
    """Due rows, most urgent first, pushed to `until` so that no other sender takes them
    meanwhile; several senders never take the same row (row locks with SKIP LOCKED on
    PostgreSQL; SQLite has a single writer)."""
    query = (
        select(OutboxMessage)
        .where(OutboxMessage.due_at <= now)
        .order_by(OutboxMessage.priority.desc(), OutboxMessage.due_at)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = list(await session.scalars(query))
    for row in rows:
        row.due_at = until
    return rows


async def reschedule(
    session: AsyncSession, message_id: uuid.UUID, due_at: datetime, error: str
) -> None:
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .values(due_at=due_at, last_error=error)
    )


async def release(session: AsyncSession, message_ids: list[uuid.UUID], now: datetime) -> None:
    """Leased rows given back unsent: due now, and the attempt not counted."""
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(message_ids))
        .values(due_at=now, attempts=OutboxMessage.attempts - 1)
        .execution_options(synchronize_session=False)
    )


async def delete(session: AsyncSession, message_id: uuid.UUID) -> None:
    await session.execute(
        sql_delete(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .execution_options(synchronize_session=False)
    )


async def depth(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(OutboxMessage)) or 0)
