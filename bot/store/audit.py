"""The audit log's tables: append under the head's lock, read a case's trail, walk it all."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import MINUTE, AuditEntry, AuditHead, floor_time

HEAD = "main"
WALK_BATCH = 5000


def entry_time(now: datetime) -> datetime:
    """The time an entry keeps (and its link covers): to the minute."""
    return floor_time(now, MINUTE)


# Built once, as Core statements on the tables: an append runs with every read of a case,
# and building a statement, or the ORM's bookkeeping, costs more than running it.
_heads: Table = AuditHead.__table__  # type: ignore[assignment]
_entries: Table = AuditEntry.__table__  # type: ignore[assignment]
_HEAD = update(_heads).where(_heads.c.name == HEAD)
_LOCK = _HEAD.values(seq=_heads.c.seq).returning(_heads.c.seq, _heads.c.link)
_MOVE = _HEAD.values(seq=bindparam("seq"), link=bindparam("link"), mac=bindparam("mac"))
_ADD = insert(_entries)
# PostgreSQL: the entry and the head's move in one statement (one round trip fewer).
_ENTRY: dict[str, Any] = {
    name: bindparam(name) for name in ("seq", "at", "case_id", "actor", "role", "action")
}
_ADD_AND_MOVE = _MOVE.add_cte(
    insert(_entries).values(_ENTRY | {"link": bindparam("link")}).cte("added")
)


async def _lock_head(session: AsyncSession) -> tuple[int, bytes]:
    """The head's sequence number and link, with its lock taken (a row lock on PostgreSQL,
    the write lock on SQLite) until the transaction ends."""
    seq, link = (await session.execute(_LOCK)).one()
    return int(seq), bytes(link)


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
    last_seq, last_link = await _lock_head(session)
    seq = last_seq + 1
    link, mac = make_link(seq, last_link)
    entry = {"seq": seq, "at": at, "case_id": case_id, "actor": actor, "role": role}
    entry |= {"action": action, "link": link}
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(_ADD_AND_MOVE, entry | {"mac": mac})
        return
    await session.execute(_ADD, [entry])
    await session.execute(_MOVE, {"seq": seq, "link": link, "mac": mac})


async def append_many(session: AsyncSession, entries: Sequence[Entry], mac: bytes) -> None:
    """Append entries already chained from the head (`mac` authenticates the last): rows in
    one executemany, then the head moved to the last one, under its lock. For seeding a
    benchmark's log; refused if the head is not where the chain starts."""
    if not entries:
        return
    last_seq, _ = await _lock_head(session)
    if entries[0].seq != last_seq + 1:
        raise ValueError(f"the log ends at {last_seq}, these entries start at {entries[0].seq}")
    await session.execute(_ADD, [entry._asdict() for entry in entries])
    last = entries[-1]
    await session.execute(_MOVE, {"seq": last.seq, "link": last.link, "mac": mac})


async def trail(session: AsyncSession, case_id: uuid.UUID) -> list[AuditEntry]:
    query = select(AuditEntry).where(AuditEntry.case_id == case_id).order_by(AuditEntry.seq)
    return list(await session.scalars(query))


async def trail_page(
    session: AsyncSession, case_id: uuid.UUID, offset: int, limit: int
) -> list[AuditEntry]:
    query = select(AuditEntry).where(AuditEntry.case_id == case_id).order_by(AuditEntry.seq)
    return list(await session.scalars(query.offset(offset).limit(limit)))


async def trail_length(session: AsyncSession, case_id: uuid.UUID) -> int:
    query = select(func.count()).where(AuditEntry.case_id == case_id)
    return int(await session.scalar(query) or 0)


async def head(session: AsyncSession) -> AuditHead:
    return (await session.scalars(select(AuditHead).where(AuditHead.name == HEAD))).one()


class Entry(NamedTuple):
    """An entry as `walk` reads it: plain values, not an ORM object (no identity map to
    fill, a third of the memory, faster)."""

    seq: int
    at: datetime
    case_id: uuid.UUID | None
    actor: str
    role: str
    action: str
    link: bytes


async def walk(
    session: AsyncSession, after: int = 0, upto: int | None = None, batch: int = WALK_BATCH
) -> AsyncIterator[list[Entry]]:
    """The entries numbered above `after` (up to `upto`) in order, a batch at a time (keyset
    on seq), so that memory stays flat however long the log: only one batch is held at
    once. Batches, not entries, so that a million entries are not a million steps of an
    async generator."""
    columns = (
        AuditEntry.seq,
        AuditEntry.at,
        AuditEntry.case_id,
        AuditEntry.actor,
        AuditEntry.role,
        AuditEntry.action,
        AuditEntry.link,
    )
    # Core, not the ORM session: plain rows without the ORM's loading step per row (a third
    # of the time of `confide audit verify` on SQLite).
    connection = await session.connection()
    while True:
        query = select(*columns).where(AuditEntry.seq > after).order_by(AuditEntry.seq)
        if upto is not None:
            query = query.where(AuditEntry.seq <= upto)
        rows = (await connection.execute(query.limit(batch))).all()
        if rows:
            yield [Entry._make(row) for row in rows]
        if len(rows) < batch or (upto is not None and rows[-1][0] >= upto):
            return  # the end, without a read to find nothing
        after = rows[-1][0]


async def last_link_upto(session: AsyncSession, seq: int) -> tuple[int, bytes] | None:
    """The entry numbered `seq`, or the last before it if that one is missing: where a
    check of the entries after it starts from."""
    query = (
        select(AuditEntry.seq, AuditEntry.link)
        .where(AuditEntry.seq <= seq)
        .order_by(AuditEntry.seq.desc())
        .limit(1)
    )
    found = (await session.execute(query)).first()
    return None if found is None else (int(found[0]), bytes(found[1]))


async def any_after(session: AsyncSession, seq: int) -> bool:
    query = select(AuditEntry.seq).where(AuditEntry.seq > seq).limit(1)
    return (await session.execute(query)).first() is not None


async def head_position(session: AsyncSession) -> tuple[int, bytes]:
    """The head's entry count and link as stored now (not as a session may have kept it)."""
    query = select(_heads.c.seq, _heads.c.link).where(_heads.c.name == HEAD)
    seq, link = (await session.execute(query)).one()
    return int(seq), bytes(link)
