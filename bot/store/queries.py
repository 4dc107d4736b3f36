"""The queries the services need, each a small async function over one session."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import Case, CaseMessage, CaseNote, Chat, Invite, KeyCheck, Responder


async def case_by_receipt(session: AsyncSession, lookup: bytes) -> Case | None:
    return (await session.scalars(select(Case).where(Case.receipt_lookup == lookup))).one_or_none()


def new_id() -> uuid.UUID:
    return uuid.uuid4()


async def forget_stale_drafts(session: AsyncSession, older_than: datetime) -> int:
    """Drop conversation state (drafts) untouched since `older_than`; keeps the language.
    The version moves on, so a writer holding the old row finds out (bot.store.chats)."""
    result = await session.execute(
        update(Chat)
        .where(Chat.state.is_not(None), Chat.updated_at < older_than)
        .values(state=None, version=Chat.version + 1)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def key_checks(session: AsyncSession) -> dict[str, bytes]:
    rows = await session.scalars(select(KeyCheck))
    return {row.name: row.value for row in rows}


async def add_key_check(session: AsyncSession, name: str, value: bytes) -> None:
    session.add(KeyCheck(name=name, value=value))


async def case_by_short_id(session: AsyncSession, short_id: str) -> Case | None:
    return (await session.scalars(select(Case).where(Case.short_id == short_id))).one_or_none()


async def open_cases(
    session: AsyncSession, states: Iterable[str], claimed_by: uuid.UUID | None = None
) -> list[Case]:
    query = select(Case).where(Case.status.in_(list(states))).order_by(Case.submitted_at)
    if claimed_by is not None:
        query = query.where(Case.claimed_by == claimed_by)
    return list(await session.scalars(query))


async def cases_linked_to(session: AsyncSession, reporter_lookup: bytes) -> list[Case]:
    query = select(Case).where(Case.reporter_lookup == reporter_lookup).order_by(Case.submitted_at)
    return list(await session.scalars(query))


async def responder_by_lookup(session: AsyncSession, lookup: bytes) -> Responder | None:
    query = select(Responder).where(Responder.lookup == lookup)
    return (await session.scalars(query)).one_or_none()


async def responders(session: AsyncSession, active_only: bool = True) -> list[Responder]:
    query = select(Responder).order_by(Responder.display_name)
    if active_only:
        query = query.where(Responder.active.is_(True))
    return list(await session.scalars(query))


async def invite_by_lookup(session: AsyncSession, lookup: bytes) -> Invite | None:
    return (await session.scalars(select(Invite).where(Invite.code_lookup == lookup))).one_or_none()


async def thread_of(session: AsyncSession, case_id: uuid.UUID) -> list[CaseMessage]:
    query = (
        select(CaseMessage).where(CaseMessage.case_id == case_id).order_by(CaseMessage.created_at)
    )
    return list(await session.scalars(query))


async def notes_of(session: AsyncSession, case_id: uuid.UUID) -> list[CaseNote]:
    query = select(CaseNote).where(CaseNote.case_id == case_id).order_by(CaseNote.created_at)
    return list(await session.scalars(query))


async def delete_case_content(session: AsyncSession, case_id: uuid.UUID) -> None:
    await session.execute(delete(CaseMessage).where(CaseMessage.case_id == case_id))
    await session.execute(delete(CaseNote).where(CaseNote.case_id == case_id))
