"""Retention's queries: the cases whose time has come (to record, warn, shred, delete), taking
one so that only one process acts on it, and the statistics that remain.

Several processes may run retention on one database: on PostgreSQL each gets rows no other
one holds (FOR UPDATE SKIP LOCKED); on SQLite too, and always, the act itself is a
compare-and-set on the case's version that only one process can win."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.store import queries
from bot.store.database import purge_freed_pages
from bot.store.models import Case, CaseStatistics, StatisticsKeyRecord

WITHDRAWN = "withdrawn"
Query = TypeVar("Query", bound=Select[Any])


def _shared(session: AsyncSession, query: Query) -> Query:
    """On PostgreSQL, rows another process is working on are skipped, not waited for. FOR NO
    KEY UPDATE, not FOR UPDATE: a transaction that adds a row pointing at a case (an outbox
    message about it) holds a key-share lock on it, which FOR UPDATE would take for "being
    worked on" and skip until the next run."""
    if session.get_bind().dialect.name == "postgresql":
        return query.with_for_update(skip_locked=True, key_share=True)
    return query


async def withdrawn_without_statistics(session: AsyncSession, limit: int) -> list[Case]:
    """Withdrawn cases whose figures were not recorded yet (they have no `shredded_at`)."""
    query = (
        select(Case)
        .where(Case.status == WITHDRAWN, Case.wrapped_key.is_(None), Case.shredded_at.is_(None))
        .order_by(Case.updated_at)
        .limit(limit)
    )
    return list(await session.scalars(_shared(session, query)))


async def cases_to_warn(
    session: AsyncSession, states: Iterable[str], changed_before: datetime, limit: int
) -> list[Case]:
    """Done cases, content intact, unchanged since `changed_before`, whose responders were
    not warned since their last change."""
    query = (
        select(Case)
        .where(
            Case.status.in_(list(states)),
            Case.wrapped_key.is_not(None),
            Case.updated_at <= changed_before,
            or_(Case.retention_warned_at.is_(None), Case.retention_warned_at < Case.updated_at),
        )
        .order_by(Case.updated_at)
        .limit(limit)
    )
    return list(await session.scalars(_shared(session, query)))


async def cases_to_shred(
    session: AsyncSession,
    states: Iterable[str],
    changed_before: datetime,
    warned_before: datetime,
    limit: int,
) -> list[Case]:
    """Done cases, content intact, unchanged since `changed_before`, and warned (since their
    last change) before `warned_before`."""
    query = (
        select(Case)
        .where(
            Case.status.in_(list(states)),
            Case.wrapped_key.is_not(None),
            Case.updated_at <= changed_before,
            Case.retention_warned_at >= Case.updated_at,
            Case.retention_warned_at <= warned_before,
        )
        .order_by(Case.updated_at)
        .limit(limit)
    )
    return list(await session.scalars(_shared(session, query)))


async def remains_to_delete(session: AsyncSession, gone_before: datetime, limit: int) -> list[Case]:
    """Rows of withdrawn or shredded cases whose content went before `gone_before`."""
    query = (
        select(Case)
        .where(Case.wrapped_key.is_(None), Case.shredded_at <= gone_before)
        .order_by(Case.shredded_at)
        .limit(limit)
    )
    return list(await session.scalars(_shared(session, query)))


async def take_case(session: AsyncSession, case: Case, **values: Any) -> bool:
    """Set `values` on a case if nobody changed it since it was read, moving its version on
    (a turn holding the old row must re-read it); True if this process won. The loaded row
    is then refreshed, so that later changes to it pass the ORM's own version check."""
    result = await session.execute(
        update(Case)
        .where(Case.id == case.id, Case.version == case.version)
        .values(**values, version=Case.version + 1)
        .execution_options(synchronize_session=False)
    )
    if int(getattr(result, "rowcount", 0) or 0) != 1:
        return False
    await session.refresh(case)
    return True


async def delete_remains(session: AsyncSession, case: Case) -> bool:
    """Delete what is left of a case (its row, and anything still filed under it: thread,
    notes, waiting messages, normally none by now) if nobody changed it since it was read.
    Its audit entries stay: the chain links every entry to the one before."""
    await queries.delete_case_content(session, case.id)
    result = await session.execute(
        delete(Case)
        .where(Case.id == case.id, Case.version == case.version)
        .execution_options(synchronize_session=False)
    )
    won = int(getattr(result, "rowcount", 0) or 0) == 1
    if won:
        session.expunge(case)
    return won


async def purge_after_shredding(sessions: async_sessionmaker[AsyncSession]) -> bool:
    """What a withdrawal does after its shred: no old page of the case stays in SQLite's
    log (bot.store.database.purge_freed_pages)."""
    engine = sessions.kw.get("bind")
    if not isinstance(engine, AsyncEngine):
        raise TypeError("the session factory is not bound to an engine")
    return await purge_freed_pages(engine)


# ---- statistics ----------------------------------------------------------------------------


async def statistics_key(session: AsyncSession) -> StatisticsKeyRecord | None:
    """The newest statistics key, if one was made."""
    query = (
        select(StatisticsKeyRecord)
        .order_by(StatisticsKeyRecord.created_at.desc(), StatisticsKeyRecord.id)
        .limit(1)
    )
    return (await session.scalars(query)).one_or_none()


async def statistics_key_by_id(
    session: AsyncSession, key_id: uuid.UUID
) -> StatisticsKeyRecord | None:
    return await session.get(StatisticsKeyRecord, key_id)


async def add_statistics_key(
    session: AsyncSession, key_id: uuid.UUID, wrapped: bytes, now: datetime
) -> None:
    session.add(StatisticsKeyRecord(id=key_id, wrapped_key=wrapped, created_at=now))
    await session.flush()  # before the rows that name it (no ORM relationship orders them)


def add_figures(session: AsyncSession, row_id: uuid.UUID, key_id: uuid.UUID, sealed: bytes) -> None:
    session.add(CaseStatistics(id=row_id, key_id=key_id, figures=sealed))


async def all_figures(session: AsyncSession) -> list[CaseStatistics]:
    """Every statistics row (in no meaningful order: rows carry no time)."""
    return list(await session.scalars(select(CaseStatistics).order_by(CaseStatistics.id)))
