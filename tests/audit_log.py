"""A long genuine audit log, written fast: for the tests of `confide audit verify`."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import insert, update
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
