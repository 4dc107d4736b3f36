"""`confide audit verify` reads the log a batch at a time: memory stays flat however long the
log is. (That it catches a changed, removed, reordered or cut entry is
tests/security/test_audit_truncation.py.)"""

from __future__ import annotations

import tracemalloc
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, insert, update
from sqlalchemy.ext.asyncio import AsyncEngine
from world import T0

from bot.crypto import Keyring
from bot.services import audit
from bot.store import audit as log_table
from bot.store.database import session_factory
from bot.store.models import AuditEntry, AuditHead


async def lengthen(engine: AsyncEngine, keyring: Keyring, more: int) -> None:
    """`more` genuine entries at the end of the log, linked with the verbs `audit.record`
    uses, written a few thousand rows per statement (one by one would take minutes)."""
    case = uuid.uuid4()
    async with session_factory(engine).begin() as session:
        head = await log_table.head(session)
        previous, last = bytes(head.link), head.seq + more
        for first in range(head.seq + 1, last + 1, 2000):
            rows: list[dict[str, Any]] = []
            for seq in range(first, min(first + 2000, last + 1)):
                at = log_table.entry_time(T0 + timedelta(minutes=seq))
                previous = audit.link_of(
                    keyring, previous, seq, at, case, "system", "system", "open"
                )
                rows.append({"seq": seq, "at": at, "case_id": case, "link": previous})
            rows = [r | {"actor": "system", "role": "system", "action": "open"} for r in rows]
            await session.execute(insert(AuditEntry), rows)
        await session.execute(
            update(AuditHead)
            .where(AuditHead.name == log_table.HEAD)
            .values(seq=last, link=previous, mac=keyring.audit_head_mac(last, previous))
        )


async def verified(engine: AsyncEngine, keyring: Keyring) -> tuple[int, int, list[int]]:
    """Verify the log: (entries checked, peak bytes allocated, one item per read of the log)."""
    reads: list[int] = []

    def counted(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "audit_log" in statement:
            reads.append(0)

    sessions = session_factory(engine)
    event.listen(engine.sync_engine, "after_cursor_execute", counted)
    tracemalloc.start()
    try:
        async with sessions.begin() as session:
            count, breaks = await audit.verify(session, keyring)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        event.remove(engine.sync_engine, "after_cursor_execute", counted)
    assert breaks == []
    return count, peak, reads


@pytest.mark.usefixtures("migrated")
async def test_verify_reads_the_log_in_batches_with_flat_memory(
    engine: AsyncEngine, keyring: Keyring
) -> None:
    await lengthen(engine, keyring, 10_000)
    count, small_peak, small_reads = await verified(engine, keyring)
    assert count == 10_000
    await lengthen(engine, keyring, 40_000)
    count, large_peak, large_reads = await verified(engine, keyring)
    assert count == 50_000
    # One read per batch (and an empty one that ends the walk) ...
    assert len(small_reads) == -(-10_000 // log_table.WALK_BATCH) + 1
    assert len(large_reads) == -(-50_000 // log_table.WALK_BATCH) + 1
    # ... and a batch's worth of memory at most: five times the log, the same peak (the
    # whole log of 50,000 entries held at once would take over 30 MB).
    assert large_peak < small_peak * 1.2
    assert large_peak < 16 * 2**20
