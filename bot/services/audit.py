"""The audit trail: every access to and action on a case, append-only and hash-chained.

An entry is (sequence, time, case, actor, role, action) plus a link: a keyed hash of the
previous link and this entry (bot.crypto's chain_hash). `verify` walks the chain and says
where it breaks: a changed entry, a removed one (a gap, or a missing tail against the head),
one moved to another place."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.crypto import Keyring
from bot.store.models import AuditEntry, AuditHead

HEAD = "main"


def _entry_bytes(
    seq: int, at: datetime, case_id: uuid.UUID | None, actor: str, role: str, action: str
) -> bytes:
    parts = (
        str(seq),
        at.isoformat(timespec="microseconds"),
        str(case_id or ""),
        actor,
        role,
        action,
    )
    return "\x1f".join(parts).encode()


async def record(
    session: AsyncSession,
    keyring: Keyring,
    case_id: uuid.UUID | None,
    actor: str,
    role: str,
    action: str,
    now: datetime,
) -> None:
    """Append one entry. Touching the head first takes the lock (a row lock on PostgreSQL,
    the write lock on SQLite), so appends from several processes queue rather than fork."""
    head = update(AuditHead).where(AuditHead.name == HEAD)
    last_seq, last_link = (
        await session.execute(
            head.values(seq=AuditHead.seq).returning(AuditHead.seq, AuditHead.link),
            execution_options={"synchronize_session": False},
        )
    ).one()
    seq = last_seq + 1
    link = keyring.chain_hash(last_link, _entry_bytes(seq, now, case_id, actor, role, action))
    session.add(
        AuditEntry(
            seq=seq, at=now, case_id=case_id, actor=actor, role=role, action=action, link=link
        )
    )
    await session.execute(
        head.values(seq=seq, link=link), execution_options={"synchronize_session": False}
    )


async def trail(session: AsyncSession, case_id: uuid.UUID) -> list[AuditEntry]:
    query = select(AuditEntry).where(AuditEntry.case_id == case_id).order_by(AuditEntry.seq)
    return list(await session.scalars(query))


@dataclass(frozen=True)
class Break:
    seq: int
    problem: str


async def verify(session: AsyncSession, keyring: Keyring) -> tuple[int, list[Break]]:
    """Check the whole chain; returns (entries checked, where it breaks)."""
    head = (await session.scalars(select(AuditHead).where(AuditHead.name == HEAD))).one()
    problems: list[Break] = []
    previous, expected_seq, count = bytes(32), 1, 0
    for entry in await session.scalars(select(AuditEntry).order_by(AuditEntry.seq)):
        count += 1
        if entry.seq != expected_seq:
            gap = f"entries {expected_seq}..{entry.seq - 1} are missing"
            problems.append(Break(expected_seq, gap))
        link = keyring.chain_hash(
            previous,
            _entry_bytes(entry.seq, entry.at, entry.case_id, entry.actor, entry.role, entry.action),
        )
        if link != entry.link:
            problems.append(Break(entry.seq, "changed, or not following the entry before"))
        previous, expected_seq = entry.link, entry.seq + 1
    if head.seq != expected_seq - 1 or head.link != previous:
        problems.append(
            Break(
                head.seq,
                f"the log ends at {expected_seq - 1} but was written "
                f"up to {head.seq}: entries were removed from the end",
            )
        )
    return count, problems
