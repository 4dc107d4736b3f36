"""The service-level clock's queries: cases with a timer due, and firing one exactly once."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import Case


async def cases_due(
    session: AsyncSession, now: datetime, states: Iterable[str], limit: int
) -> list[Case]:
    """Cases whose next timer is due, oldest first; on PostgreSQL each scanning process
    gets rows no other one holds (FOR UPDATE SKIP LOCKED)."""
    query = (
        select(Case)
        .where(Case.next_timer_at <= now, Case.status.in_(list(states)))
        .order_by(Case.next_timer_at)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        # NO KEY UPDATE: not skipped for a row that merely has a new outbox message about it.
        query = query.with_for_update(skip_locked=True, key_share=True)
    return list(await session.scalars(query))


async def claim_timers(session: AsyncSession, case: Case, **after: Any) -> bool:
    """Move a case's timers on, if nobody did since it was read: only one process wins, so
    each timer fires once (on SQLite too, where there are no row locks)."""
    result = await session.execute(
        update(Case)
        .where(Case.id == case.id, Case.next_timer_at == case.next_timer_at)
        .values(**after, version=Case.version + 1)  # a turn that read the case must re-read
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0) == 1
