"""Counts for the health line (bot.services.health): sizes and ages, never content. The
outbox's depth is bot.store.outbox.depth."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import Case


async def cases_in(session: AsyncSession, states: Iterable[str]) -> int:
    query = select(func.count()).select_from(Case).where(Case.status.in_(list(states)))
    return int(await session.scalar(query) or 0)


async def oldest_unclaimed(session: AsyncSession, state: str) -> datetime | None:
    """When the oldest case still waiting for its first responder was submitted."""
    query = select(func.min(Case.submitted_at)).where(
        Case.status == state, Case.claimed_at.is_(None)
    )
    found: datetime | None = await session.scalar(query)
    return found
