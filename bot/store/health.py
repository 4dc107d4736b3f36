"""Counts for the health line and the metrics (bot.services.health): sizes and ages, never
content. The outbox's depth is bot.store.outbox.depth."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import Case, OutboxMessage


async def cases_in(session: AsyncSession, states: Iterable[str]) -> int:
    query = select(func.count()).select_from(Case).where(Case.status.in_(list(states)))
    return int(await session.scalar(query) or 0)


async def cases_by_state(session: AsyncSession, states: Iterable[str]) -> dict[str, int]:
    """How many cases are in each of `states` (one indexed GROUP BY); a state with none is
    left out."""
    query = (
        select(Case.status, func.count()).where(Case.status.in_(list(states))).group_by(Case.status)
    )
    return {status: int(count) for status, count in (await session.execute(query)).all()}


async def oldest_queued(session: AsyncSession) -> datetime | None:
    """When the oldest message still waiting in the outbox was queued (to the minute)."""
    found: datetime | None = await session.scalar(select(func.min(OutboxMessage.created_at)))
    return found


async def oldest_unclaimed(session: AsyncSession, state: str) -> datetime | None:
    """When the oldest case still waiting for its first responder was submitted."""
    query = select(func.min(Case.submitted_at)).where(
        Case.status == state, Case.claimed_at.is_(None)
    )
    found: datetime | None = await session.scalar(query)
    return found
