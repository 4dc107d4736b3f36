"""The queries the services need, each a small async function over one session."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store import evidence
from bot.store.models import (
    Case,
    CaseMessage,
    CaseNote,
    Chat,
    ExpiringMessage,
    Invite,
    KeyCheck,
    OutboxMessage,
    Responder,
    may_be_late,
    open_case,
)


def new_id() -> uuid.UUID:
    return uuid.uuid4()


# ---- chats ----------------------------------------------------------------------------------


async def idle_chats(session: AsyncSession, older_than: datetime, limit: int) -> list[Chat]:
    """Chats untouched since `older_than`: their drafts have expired, and the rows
    themselves go unless they still hold something (bot.services.conversation decides)."""
    query = select(Chat).where(Chat.updated_at < older_than).order_by(Chat.updated_at).limit(limit)
    return list(await session.scalars(query))


async def drafting_chats(session: AsyncSession) -> list[Chat]:
    """Chats holding a draft (whose sealed states say where its files are filed)."""
    return list(await session.scalars(select(Chat).where(Chat.draft_key.is_not(None))))


async def forget_draft(session: AsyncSession, chat: Chat) -> bool:
    """Drop a chat's draft (key and content) if the row did not change since it was read;
    the version moves on, so a writer holding the old row finds out (bot.store.chats)."""
    result = await session.execute(
        update(Chat)
        .where(Chat.id == chat.id, Chat.version == chat.version)
        .values(draft_key=None, draft=None, version=Chat.version + 1)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


async def delete_chat(session: AsyncSession, chat: Chat) -> bool:
    """Delete an idle chat's row if it did not change since it was read."""
    result = await session.execute(
        delete(Chat)
        .where(Chat.id == chat.id, Chat.version == chat.version)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


# ---- keys -----------------------------------------------------------------------------------


async def key_checks(session: AsyncSession) -> dict[str, bytes]:
    rows = await session.scalars(select(KeyCheck))
    return {row.name: row.value for row in rows}


async def add_key_check(
    session: AsyncSession, name: str, value: bytes, state: str | None = None
) -> None:
    session.add(KeyCheck(name=name, value=value, state=state))


# ---- cases ----------------------------------------------------------------------------------


def case_values(case: Case) -> dict[str, Any]:
    """A new case's row as `insert_cases` writes it (plain values: they can be kept aside)."""
    values = {column.key: getattr(case, column.key) for column in Case.__table__.columns}
    return values | {"version": 1}


async def insert_cases(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
    """Many new cases at once (rows of `case_values`), in one executemany rather than
    through the unit of work: for seeding a benchmark's database."""
    if rows:
        await session.execute(insert(Case.metadata.tables[Case.__tablename__]), list(rows))


async def case_by_receipt(session: AsyncSession, lookup: bytes) -> Case | None:
    return (await session.scalars(select(Case).where(Case.receipt_lookup == lookup))).one_or_none()


# The statements every responder's action runs, built once (building one costs more than
# running it on SQLite).
_CASE_BY_SHORT_ID = select(Case).where(Case.short_id == bindparam("short_id"))
_THREAD = (
    select(CaseMessage)
    .where(CaseMessage.case_id == bindparam("case_id"))
    .order_by(CaseMessage.created_at, CaseMessage.id)
)
_NOTES = (
    select(CaseNote)
    .where(CaseNote.case_id == bindparam("case_id"))
    .order_by(CaseNote.created_at, CaseNote.id)
)
_RESPONDER_BY_LOOKUP = select(Responder).where(Responder.lookup == bindparam("lookup"))
_RESPONDERS_BY_IDS = select(Responder).where(Responder.id.in_(bindparam("ids", expanding=True)))


async def case_by_short_id(session: AsyncSession, short_id: str) -> Case | None:
    return (await session.scalars(_CASE_BY_SHORT_ID, {"short_id": short_id})).one_or_none()


async def free_short_id(session: AsyncSession, draw: Callable[[], str], tries: int = 10) -> str:
    """A short id no case has, drawn by `draw` until one is free: a taken one costs one
    indexed look-up, not the whole update tried again. Two processes drawing the same free
    id at the same moment (about one in a billion) still meet the unique index, and that
    update alone is tried again."""
    for _ in range(tries):
        short_id = draw()
        taken = await session.scalar(select(Case.id).where(Case.short_id == short_id))
        if taken is None:
            return short_id
    raise RuntimeError("no free short id after several draws")


async def case_by_id(session: AsyncSession, case_id: uuid.UUID) -> Case | None:
    return await session.get(Case, case_id)


async def statuses_of(session: AsyncSession, short_ids: Sequence[str]) -> dict[str, str]:
    if not short_ids:
        return {}
    rows = await session.execute(
        select(Case.short_id, Case.status).where(Case.short_id.in_(list(short_ids)))
    )
    return {short_id: status for short_id, status in rows}


async def open_cases(
    session: AsyncSession, states: Iterable[str], claimed_by: uuid.UUID | None = None
) -> list[Case]:
    query = select(Case).where(Case.status.in_(list(states))).order_by(Case.submitted_at)
    if claimed_by is not None:
        query = query.where(Case.claimed_by == claimed_by)
    return list(await session.scalars(query))


# Where a case stands in a list (the queue, /mine, /overdue): oldest first, the short id
# breaking ties between cases of the same minute. Lists are read from such a position a
# batch at a time, so a page costs what it shows, not what the table holds.
ListPosition = tuple[datetime, str]


async def cases_in_order(
    session: AsyncSession,
    *,
    limit: int,
    claimed_by: uuid.UUID | None = None,
    late_at: datetime | None = None,
    after: ListPosition | None = None,
    before: ListPosition | None = None,
) -> list[Case]:
    """Up to `limit` open cases in list order after `after`, or nearest first before
    `before`. `late_at`: only those escalated or past a deadline at that time.

    Each form is read along a partial index in list order (models' ix_cases_open_*), so a
    page reads its rows and stops: no sort, no other open case touched (for /overdue, only
    those with a deadline still running step by)."""
    query = select(Case).where(open_case())
    if claimed_by is not None:
        query = query.where(Case.claimed_by == claimed_by)
    if late_at is not None:
        query = query.where(
            may_be_late(),  # implied by what follows; stated so that its index is used
            or_(
                Case.escalated_at.is_not(None),
                Case.claim_due_at <= late_at,
                Case.reply_due_at <= late_at,
            ),
        )
    if after is not None:
        at, short_id = after
        # `>= at` bounds the index scan (both databases); the rest breaks the minute's ties.
        query = query.where(
            Case.submitted_at >= at,
            or_(Case.submitted_at > at, and_(Case.submitted_at == at, Case.short_id > short_id)),
        )
    if before is not None:
        at, short_id = before
        query = query.where(
            Case.submitted_at <= at,
            or_(Case.submitted_at < at, and_(Case.submitted_at == at, Case.short_id < short_id)),
        )
        query = query.order_by(Case.submitted_at.desc(), Case.short_id.desc())
    else:
        query = query.order_by(Case.submitted_at, Case.short_id)
    return list(await session.scalars(query.limit(limit)))


async def cases_linked_to(session: AsyncSession, reporter_lookup: bytes) -> list[Case]:
    query = select(Case).where(Case.reporter_lookup == reporter_lookup).order_by(Case.submitted_at)
    return list(await session.scalars(query))


async def cases_linked_page(
    session: AsyncSession, reporter_lookup: bytes, offset: int, limit: int
) -> tuple[list[Case], int]:
    """A page of the cases listed for a chat, oldest first, and how many there are."""
    where = Case.reporter_lookup == reporter_lookup
    query = select(Case).where(where).order_by(Case.submitted_at, Case.id)
    rows = list(await session.scalars(query.offset(offset).limit(limit)))
    return rows, int(await session.scalar(select(func.count()).where(where)) or 0)


async def thread_of(session: AsyncSession, case_id: uuid.UUID) -> list[CaseMessage]:
    return list(await session.scalars(_THREAD, {"case_id": case_id}))


async def unread_by_reporter(session: AsyncSession, case_id: uuid.UUID) -> int:
    query = select(func.count()).where(
        CaseMessage.case_id == case_id,
        CaseMessage.author == "responder",
        CaseMessage.read_at.is_(None),
    )
    return int(await session.scalar(query) or 0)


async def notes_of(session: AsyncSession, case_id: uuid.UUID) -> list[CaseNote]:
    return list(await session.scalars(_NOTES, {"case_id": case_id}))


async def delete_case_content(session: AsyncSession, case_id: uuid.UUID) -> None:
    """Everything sealed under a case's key, apart from the case row's own fields: the
    thread, the notes, the messages waiting to be sent about it, and its evidence files.
    Every shred (withdrawal, retention) and every deletion of a case's row passes here."""
    await session.execute(delete(CaseMessage).where(CaseMessage.case_id == case_id))
    await session.execute(delete(CaseNote).where(CaseNote.case_id == case_id))
    await session.execute(delete(OutboxMessage).where(OutboxMessage.case_id == case_id))
    await evidence.delete_case_files(session, case_id)


# ---- responders and invites -------------------------------------------------------------------


async def responder_by_lookup(session: AsyncSession, lookup: bytes) -> Responder | None:
    return (await session.scalars(_RESPONDER_BY_LOOKUP, {"lookup": lookup})).one_or_none()


async def responder_by_id(session: AsyncSession, responder_id: uuid.UUID) -> Responder | None:
    return await session.get(Responder, responder_id)


async def responders_by_ids(session: AsyncSession, ids: Iterable[uuid.UUID]) -> list[Responder]:
    return list(await session.scalars(_RESPONDERS_BY_IDS, {"ids": list(ids)}))


async def responders_page(session: AsyncSession, offset: int, limit: int) -> list[Responder]:
    """Everyone, revoked included, by name: a page of them (the admins' /responders)."""
    query = select(Responder).order_by(Responder.display_name, Responder.id)
    return list(await session.scalars(query.offset(offset).limit(limit)))


async def responder_count(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Responder)) or 0)


async def responders(session: AsyncSession, active_only: bool = True) -> list[Responder]:
    query = select(Responder).order_by(Responder.display_name)
    if active_only:
        query = query.where(Responder.active.is_(True))
    return list(await session.scalars(query))


async def invite_by_lookup(session: AsyncSession, lookup: bytes) -> Invite | None:
    return (await session.scalars(select(Invite).where(Invite.code_lookup == lookup))).one_or_none()


async def invites(session: AsyncSession) -> list[Invite]:
    """Every invite, newest first (the operator's `confide invites list`)."""
    query = select(Invite).order_by(Invite.created_at.desc(), Invite.display_name)
    return list(await session.scalars(query))


# ---- messages to delete from responders' chats ------------------------------------------------


async def add_expiring_messages(
    session: AsyncSession, responder_id: uuid.UUID, message_ids: Iterable[int], at: datetime
) -> None:
    session.add_all(
        ExpiringMessage(id=uuid.uuid4(), responder_id=responder_id, message_id=m, delete_at=at)
        for m in message_ids
    )


async def expiring_messages_due(
    session: AsyncSession, now: datetime, limit: int
) -> list[ExpiringMessage]:
    query = (
        select(ExpiringMessage)
        .where(ExpiringMessage.delete_at <= now)
        .order_by(ExpiringMessage.delete_at)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(await session.scalars(query))


async def forget_expiring_messages(session: AsyncSession, ids: Iterable[uuid.UUID]) -> None:
    await session.execute(delete(ExpiringMessage).where(ExpiringMessage.id.in_(list(ids))))


def _rowcount(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
