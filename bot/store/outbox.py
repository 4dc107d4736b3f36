"""The outbox table as a queue: lease what is due (most urgent first), reschedule, delete;
and the pace rows that keep every sender together within Telegram's limits."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, case, func, or_, select, update
from sqlalchemy import delete as sql_delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import OutboxMessage, OutboxPace

BOT = uuid.UUID(int=0)  # the pace row of the whole bot; recipients' ids are random


def _recipient() -> ColumnElement[uuid.UUID]:
    """Whose chat a row goes to, as far as the database knows (the chat id itself is
    sealed): the responder, or the case whose reporter it is."""
    return case(
        (OutboxMessage.audience == "responder", OutboxMessage.responder_id),
        else_=OutboxMessage.case_id,
    )


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


async def lock_pace(session: AsyncSession, now: datetime) -> datetime | None:
    """The bot's pace time, its row locked until the transaction ends: senders on every
    replica take turns here. Recipients' rows whose time has passed are deleted on the way:
    they no longer hold anything back."""
    prune = (
        sql_delete(OutboxPace)
        .where(OutboxPace.recipient != BOT, OutboxPace.tat < now)
        .execution_options(synchronize_session=False)
    )
    query = select(OutboxPace.tat).where(OutboxPace.recipient == BOT)
    if _postgres(session):
        query = query.with_for_update()
    else:
        # SQLite's write lock comes with the first write (BEGIN IMMEDIATE): write first, so
        # that reading the times and writing them back is one turn, also across processes.
        await session.execute(prune)
    found = (await session.execute(query)).first()
    if found is None:
        await session.execute(
            _insert(session).values(recipient=BOT, tat=now).on_conflict_do_nothing()
        )
        found = (await session.execute(query)).first()
    if _postgres(session):
        await session.execute(prune)  # under the lock: before it, two leases could deadlock
    return found[0] if found is not None else None


async def due_with_pace(
    session: AsyncSession, now: datetime, held_after: datetime, limit: int
) -> list[tuple[OutboxMessage, uuid.UUID | None, datetime | None]]:
    """Due rows, most urgent first, each with its recipient and that recipient's pace time;
    rows whose recipient is held past `held_after` are left out (they cannot go yet). The
    recipient's row is found by its primary key."""
    recipient = _recipient()
    query = (
        select(OutboxMessage, recipient, OutboxPace.tat)
        .outerjoin(OutboxPace, OutboxPace.recipient == recipient)
        .where(OutboxMessage.due_at <= now)
        .where(or_(OutboxPace.tat.is_(None), OutboxPace.tat <= held_after))
        .order_by(OutboxMessage.priority.desc(), OutboxMessage.due_at)
        .limit(limit)
    )
    if _postgres(session):
        query = query.with_for_update(skip_locked=True, of=OutboxMessage)
    return [(row, who, tat) for row, who, tat in (await session.execute(query)).all()]


async def held_until(session: AsyncSession, now: datetime) -> datetime | None:
    """The soonest pace time among recipients of due rows (they wait for their chat)."""
    query = (
        select(func.min(OutboxPace.tat))
        .join(OutboxMessage, OutboxPace.recipient == _recipient())
        .where(OutboxMessage.due_at <= now)
    )
    return await session.scalar(query)


def take(rows: list[OutboxMessage], until: datetime) -> None:
    """Leased: no other sender takes them before `until`."""
    for row in rows:
        row.due_at = until


async def pace_of(session: AsyncSession, recipient: uuid.UUID) -> datetime | None:
    return await session.scalar(select(OutboxPace.tat).where(OutboxPace.recipient == recipient))


async def save_pace(session: AsyncSession, tats: dict[uuid.UUID, datetime]) -> None:
    """Store pace times (the caller holds the bot's row, so nobody else writes them)."""
    for recipient, tat in tats.items():
        insert = _insert(session).values(recipient=recipient, tat=tat)
        await session.execute(
            insert.on_conflict_do_update(index_elements=["recipient"], set_={"tat": tat})
        )


def _postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _insert(session: AsyncSession) -> Any:
    """INSERT with ON CONFLICT, in the dialect's own words (both have it)."""
    return (pg_insert if _postgres(session) else sqlite_insert)(OutboxPace)


async def reschedule(
    session: AsyncSession, message_id: uuid.UUID, due_at: datetime, error: str, maybe_sent: bool
) -> None:
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .values(due_at=due_at, last_error=error, maybe_sent=maybe_sent)
    )


async def mark_maybe_sent(session: AsyncSession, message_id: uuid.UUID) -> None:
    """About to be sent: until an outcome is stored, it may have reached Telegram."""
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .values(maybe_sent=True)
        .execution_options(synchronize_session=False)
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
