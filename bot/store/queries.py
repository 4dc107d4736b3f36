"""The queries the services need, each a small async function over one session."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import Case, Chat, KeyCheck


async def chat_by_lookup(session: AsyncSession, lookup: bytes) -> Chat | None:
    return (await session.scalars(select(Chat).where(Chat.lookup == lookup))).one_or_none()


async def case_by_receipt(session: AsyncSession, lookup: bytes) -> Case | None:
    return (await session.scalars(select(Case).where(Case.receipt_lookup == lookup))).one_or_none()


async def short_id_taken(session: AsyncSession, short_id: str) -> bool:
    found = await session.scalar(select(Case.id).where(Case.short_id == short_id))
    return found is not None


def new_id() -> uuid.UUID:
    return uuid.uuid4()


async def forget_stale_drafts(session: AsyncSession, older_than: datetime) -> int:
    """Drop conversation state (drafts) untouched since `older_than`; keeps the language."""
    result = await session.execute(
        update(Chat).where(Chat.state.is_not(None), Chat.updated_at < older_than).values(state=None)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def key_checks(session: AsyncSession) -> dict[str, bytes]:
    rows = await session.scalars(select(KeyCheck))
    return {row.name: row.value for row in rows}


async def add_key_check(session: AsyncSession, name: str, value: bytes) -> None:
    session.add(KeyCheck(name=name, value=value))
