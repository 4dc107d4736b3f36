"""Wrong codes counted per minute, across every chat and every replica."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import MINUTE, CodeGuesses, floor_time


async def record_wrong(session: AsyncSession, now: datetime) -> None:
    minute = floor_time(now, MINUTE)
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(CodeGuesses).values(minute=minute, count=1)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["minute"], set_={"count": CodeGuesses.count + 1}
        )
    )


async def wrong_since(session: AsyncSession, since: datetime) -> int:
    total = await session.scalar(
        select(func.coalesce(func.sum(CodeGuesses.count), 0)).where(CodeGuesses.minute >= since)
    )
    return int(total or 0)
