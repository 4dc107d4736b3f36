"""The audit log's tables: append under the head's lock, read a case's trail, walk it all."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import MINUTE, AuditEntry, AuditHead, floor_time

HEAD = "main"
WALK_BATCH = 5000


def entry_time(now: datetime) -> datetime:
    """The time an entry keeps (and its link covers): to the minute."""
    return floor_time(now, MINUTE)


async def append(
    session: AsyncSession,
    make_link: Callable[[int, bytes], tuple[bytes, bytes]],
    at: datetime,
    case_id: uuid.UUID | None,
    actor: str,
    role: str,
    action: str,
) -> None:
    """Append one entry. `make_link(seq, previous link)` gives (link, head MAC). Touching the
    head first takes the lock (a row lock on PostgreSQL, the write lock on SQLite), so
    appends from several processes queue rather than fork."""
    head = update(AuditHead).where(AuditHead.name == HEAD)
    last_seq, last_link = (
        await session.execute(
            head.values(seq=AuditHead.seq).returning(AuditHead.seq, AuditHead.link),
            execution_options={"synchronize_session": False},
        )
    ).one()
    seq = last_seq + 1
    link, mac = make_link(seq, last_link)
    session.add(
        AuditEntry(
            seq=seq, at=at, case_id=case_id, actor=actor, role=role, action=action, link=link
        )
    )
    await session.execute(
        head.values(seq=seq, link=link, mac=mac), execution_options={"synchronize_session": False}
    )


async def trail(session: AsyncSession, case_id: uuid.UUID) -> list[AuditEntry]:
    query = select(AuditEntry).where(AuditEntry.case_id == case_id).order_by(AuditEntry.seq)
    return list(await session.scalars(query))


async def head(session: AsyncSession) -> AuditHead:
    return (await session.scalars(select(AuditHead).where(AuditHead.name == HEAD))).one()


async def walk(session: AsyncSession) -> AsyncIterator[AuditEntry]:
    """Every entry in order, a batch at a time, so memory stays flat however long the log."""
    after = 0
    while True:
        batch = list(
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.seq > after)
                .order_by(AuditEntry.seq)
                .limit(WALK_BATCH)
            )
        )
        if not batch:
            return
        for entry in batch:
            yield entry
        after = batch[-1].seq
        session.expunge_all()
