"""Keys as the database knows them: the check values and states of the KEKs, the running
processes and the KEKs they hold, and every wrapped data key (for rotation and retirement)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, LargeBinary, bindparam, delete, func, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from bot.crypto import KeyOwner
from bot.store.models import (
    Case,
    Chat,
    InboxUpdate,
    KeyCheck,
    Replica,
    Responder,
    StatisticsKeyRecord,
)

INDEX = "index"
PENDING, ROTATING, CURRENT, OLD = "pending", "rotating", "current", "old"
IN_USE = (ROTATING, CURRENT)  # the KEK new data keys are wrapped under


def kek_check_name(kek_id: int) -> str:
    return f"kek.{kek_id}"


@dataclass(frozen=True)
class KekRecord:
    kek_id: int
    check: bytes
    state: str


async def index_check(session: AsyncSession) -> bytes | None:
    row = await session.get(KeyCheck, INDEX)
    return None if row is None else row.value


async def keks(session: AsyncSession) -> list[KekRecord]:
    rows = await session.scalars(select(KeyCheck).where(KeyCheck.name != INDEX))
    return sorted(
        (KekRecord(int(r.name.removeprefix("kek.")), r.value, r.state or OLD) for r in rows),
        key=lambda r: r.kek_id,
    )


async def record_index_check(session: AsyncSession, value: bytes) -> None:
    session.add(KeyCheck(name=INDEX, value=value))


async def record_kek(session: AsyncSession, kek_id: int, check: bytes, state: str) -> None:
    session.add(KeyCheck(name=kek_check_name(kek_id), value=check, state=state))


async def set_kek_state(session: AsyncSession, kek_id: int, state: str) -> None:
    """Make `kek_id` the one in `state`; a KEK in use hands over to it and becomes old."""
    if state in IN_USE:
        await session.execute(
            update(KeyCheck)
            .where(KeyCheck.name != INDEX, KeyCheck.state.in_(IN_USE))
            .values(state=OLD)
        )
    await session.execute(
        update(KeyCheck).where(KeyCheck.name == kek_check_name(kek_id)).values(state=state)
    )


async def forget_kek(session: AsyncSession, kek_id: int) -> None:
    await session.execute(delete(KeyCheck).where(KeyCheck.name == kek_check_name(kek_id)))


# ---- running processes ------------------------------------------------------------------------


@dataclass(frozen=True)
class ReplicaKeys:
    """What a running process said of its keys at its last heartbeat."""

    replica_id: uuid.UUID
    held: frozenset[int]
    wraps_under: int


async def heartbeat(
    session: AsyncSession,
    replica_id: uuid.UUID,
    kek_ids: Sequence[int],
    wraps_under: int,
    now: datetime,
) -> None:
    held = ",".join(str(i) for i in sorted(kek_ids))
    values = {"kek_ids": held, "wraps_under": wraps_under, "seen_at": now}
    result = await session.execute(update(Replica).where(Replica.id == replica_id).values(**values))
    if not getattr(result, "rowcount", 0):
        session.add(Replica(id=replica_id, **values))


async def live_replicas(session: AsyncSession, seen_since: datetime) -> list[ReplicaKeys]:
    rows = await session.scalars(select(Replica).where(Replica.seen_at >= seen_since))
    return [
        ReplicaKeys(r.id, frozenset(int(i) for i in r.kek_ids.split(",") if i), r.wraps_under)
        for r in rows
    ]


async def forget_replica(session: AsyncSession, replica_id: uuid.UUID) -> None:
    await session.execute(delete(Replica).where(Replica.id == replica_id))


# ---- wrapped data keys ---------------------------------------------------------------------------

# Where each kind of record keeps its wrapped key: every KeyOwner, or a rotation would
# leave keys under the old KEK and retiring it would make them unreadable.
_WRAPPED: dict[KeyOwner, Any] = {
    KeyOwner.CHAT: Chat.wrapped_key,
    KeyOwner.DRAFT: Chat.draft_key,
    KeyOwner.CASE: Case.wrapped_key,
    KeyOwner.RESPONDER: Responder.wrapped_key,
    KeyOwner.INBOX: InboxUpdate.wrapped_key,
    KeyOwner.STATISTICS: StatisticsKeyRecord.wrapped_key,
}


def _under(column: Any, kek_id: int) -> Any:
    """Rows whose wrapped key names `kek_id` in its header (byte 2 to 5, see bot.crypto)."""
    return func.substr(column, 2, 4) == kek_id.to_bytes(4, "big")


async def count_wrapped(session: AsyncSession, kek_id: int | None = None) -> dict[KeyOwner, int]:
    """How many wrapped keys there are of each kind (under `kek_id`, or in all)."""
    counts = {}
    for owner, column in _WRAPPED.items():
        query = select(func.count()).select_from(column.class_).where(column.is_not(None))
        if kek_id is not None:
            query = query.where(_under(column, kek_id))
        counts[owner] = int(await session.scalar(query) or 0)
    return counts


async def wrapped_not_under(
    session: AsyncSession,
    owner: KeyOwner,
    kek_id: int,
    after: uuid.UUID | int | None,
    limit: int,
) -> list[Any]:
    """The next batch of records (by id, after `after`) whose key is not wrapped under
    `kek_id`, locked against concurrent writers (PostgreSQL; SQLite has one writer). A chat
    comes whole (it gets a new key, and its state is sealed anew); other records as their id
    and wrapped key only (a case's sealed answers are not read to re-wrap its key)."""
    column = _WRAPPED[owner]
    model = column.class_
    query = (select(model) if owner is KeyOwner.CHAT else select(model.id, column)).where(
        column.is_not(None), ~_under(column, kek_id)
    )
    if after is not None:
        query = query.where(model.id > after)
    query = query.order_by(model.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    if owner is KeyOwner.CHAT:
        return list(await session.scalars(query))
    return list(await session.execute(query))


async def replace_wrapped(
    session: AsyncSession, owner: KeyOwner, swaps: Sequence[tuple[Any, bytes, bytes]]
) -> int:
    """Swap each wrapped key (record id, the key read, its new wrapping) if it is still the
    one read (nobody re-keyed or shredded it), the whole batch in one round trip: one per
    key made a rotation of 100,000 cases take minutes. Returns how many changed."""
    if not swaps:
        return 0
    column = _WRAPPED[owner]
    table = column.class_.__table__
    target = table.c[column.key]
    values: dict[str, Any] = {}
    if owner in (KeyOwner.CHAT, KeyOwner.DRAFT):
        values["version"] = table.c.version + 1  # cached copies of the row must be re-read
    rows = [{"b_id": i, "b_old": old, "b_new": new} for i, old, new in swaps]
    return await _swap_each(
        session,
        table,
        rows,
        match={"id": (table.c.id, table.c.id.type), "old": (target, LargeBinary())},
        change={target.key: ("new", LargeBinary())},
        also=values,
    )


async def rekey_chats(
    session: AsyncSession, rekeyed: Sequence[tuple[Chat, bytes, bytes | None]]
) -> int:
    """Give chats a new key (and their state sealed under it), each if its row did not
    change since it was read, the batch in one round trip; returns how many changed."""
    if not rekeyed:
        return 0
    table = Chat.__table__
    rows = [
        {"b_id": chat.id, "b_version": chat.version, "b_wrapped": wrapped, "b_state": state}
        for chat, wrapped, state in rekeyed
    ]
    return await _swap_each(
        session,
        table,
        rows,
        match={"id": (table.c.id, table.c.id.type), "version": (table.c.version, Integer())},
        change={"wrapped_key": ("wrapped", LargeBinary()), "state": ("state", LargeBinary())},
        also={"version": table.c.version + 1},
    )


async def _swap_each(
    session: AsyncSession,
    table: Any,
    rows: list[dict[str, Any]],
    *,
    match: dict[str, tuple[Any, Any]],
    change: dict[str, tuple[str, Any]],
    also: dict[str, Any],
) -> int:
    """UPDATE each row named by `rows` (parameters `b_<name>`) where every `match` column
    still holds its value; how many rows changed. PostgreSQL: one statement over arrays
    (unnest), whose RETURNING counts; SQLite: one executemany, whose rowcount adds up."""
    if session.get_bind().dialect.name == "postgresql":
        names = [*match, *(name for name, _ in change.values())]
        kinds = [*(kind for _, kind in match.values()), *(kind for _, kind in change.values())]
        given = (
            func.unnest(
                *(bindparam(f"b_{n}", type_=ARRAY(k)) for n, k in zip(names, kinds, strict=True))
            )
            .table_valued(*names)
            .render_derived(name="given")
        )
        statement = (
            update(table)
            .where(*(col == given.c[name] for name, (col, _) in match.items()))
            .values({key: given.c[name] for key, (name, _) in change.items()} | also)
            .returning(table.c.id)
        )
        arrays = {f"b_{n}": [row[f"b_{n}"] for row in rows] for n in names}
        return len((await session.execute(statement, arrays)).all())
    many = (
        update(table)
        .where(*(col == bindparam(f"b_{name}") for name, (col, _) in match.items()))
        .values({key: bindparam(f"b_{name}") for key, (name, _) in change.items()} | also)
    )
    result = await session.execute(many, rows)
    return int(getattr(result, "rowcount", 0) or 0)
