"""`confide audit verify` reads the log a batch at a time: memory stays flat however long the
log is. (That it catches a changed, removed, reordered or cut entry is
tests/security/test_audit_truncation.py.)"""

from __future__ import annotations

import tracemalloc
from typing import Any

import pytest
from audit_log import lengthen
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.crypto import Keyring
from bot.services import audit
from bot.store import audit as log_table
from bot.store.database import session_factory


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
    # One read per batch (the walk ends at the head: no empty read), and one look past the
    # head (entries there with the head unmoved would have been put there by hand) ...
    assert len(small_reads) == -(-10_000 // log_table.WALK_BATCH) + 1
    assert len(large_reads) == -(-50_000 // log_table.WALK_BATCH) + 1
    # ... and a batch's worth of memory at most: five times the log, the same peak (the
    # whole log of 50,000 entries held at once would take over 30 MB).
    assert large_peak < small_peak * 1.2
    assert large_peak < 16 * 2**20
