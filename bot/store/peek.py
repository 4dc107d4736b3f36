"""The database as someone holding a copy of it sees it: raw rows, nothing opened. `confide
demo` shows them beside the chats, so a visitor can see that nothing in them is readable."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Column, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store.models import Base

# The rows a report passes through: the chat holding the draft, the case, its thread and
# files, and who may read it.
SHOWN = ("chats", "cases", "case_messages", "evidence_files", "responders", "audit_log")
BYTES_SHOWN = 16  # a ciphertext's first bytes, in hex: enough to see it is one


@dataclass(frozen=True)
class RawTable:
    table: str
    columns: list[str]
    rows: list[list[str]]


async def raw_rows(engine: AsyncEngine, limit: int = 4) -> list[RawTable]:
    """Each shown table's newest rows (at most `limit`), every value as text."""
    tables: list[RawTable] = []
    async with engine.connect() as connection:
        for name in SHOWN:
            table = Base.metadata.tables[name]
            newest = _newest_first(list(table.columns))
            query = select(table).limit(limit)
            if newest is not None:
                query = query.order_by(newest.desc())
            result = await connection.execute(query)
            tables.append(
                RawTable(
                    name,
                    [column.name for column in table.columns],
                    [[shown(value) for value in row] for row in result],
                )
            )
    return tables


def shown(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
        more = "…" if len(data) > BYTES_SHOWN else ""
        return f"{data[:BYTES_SHOWN].hex()}{more} ({len(data)} bytes)"
    if isinstance(value, datetime):
        return value.isoformat(timespec="minutes")
    if isinstance(value, uuid.UUID):
        return str(value)
    return str(value)


def _newest_first(columns: list[Column[object]]) -> Column[object] | None:
    for name in ("seq", "updated_at", "submitted_at", "created_at", "sent_at", "at"):
        for column in columns:
            if column.name == name:
                return column
    return None
