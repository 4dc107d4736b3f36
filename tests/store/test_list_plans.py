"""The responders' lists are read along their partial indexes, in list order: the database
neither sorts the open cases nor reads the settled ones to show a page (every form of the
page query, as cases_in_order sends it, explained by the database itself)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from many_cases import seed_cases
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from world import T0

from bot.crypto import Keyring
from bot.store import queries
from bot.store.database import session_factory
from bot.store.session import Session

LATER = T0 + timedelta(days=1)
Read = Callable[[Session], Awaitable[object]]
FORMS: list[tuple[str, Read, str]] = [
    ("queue", lambda s: queries.cases_in_order(s, limit=9), "ix_cases_open_order"),
    (
        "queue, next page",
        lambda s: queries.cases_in_order(s, limit=9, after=(T0, "C-000-000")),
        "ix_cases_open_order",
    ),
    (
        "queue, previous page",
        lambda s: queries.cases_in_order(s, limit=9, before=(LATER, "C-000-000")),
        "ix_cases_open_order",
    ),
    (
        "mine",
        lambda s: queries.cases_in_order(s, limit=9, claimed_by=uuid.UUID(int=7)),
        "ix_cases_open_claimed",
    ),
    (
        "overdue, next page",
        lambda s: queries.cases_in_order(s, limit=9, late_at=LATER, after=(T0, "C-000-000")),
        "ix_cases_open_late",
    ),
]


async def sent_sql(engine: AsyncEngine, read: Read) -> tuple[str, Any]:
    """The statement (and its parameters) that reading a page sends to the database."""
    seen: list[tuple[str, Any]] = []

    def grab(_c: object, _cur: object, statement: str, parameters: Any, *_: object) -> None:
        if "FROM cases" in statement:
            seen.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", grab)
    try:
        async with session_factory(engine).begin() as session:
            await read(session)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", grab)
    (sent,) = seen
    return sent


@pytest.mark.parametrize(("form", "read", "index"), FORMS, ids=[f[0] for f in FORMS])
async def test_a_page_is_read_along_its_index_without_a_sort(
    migrated: AsyncEngine, keyring: Keyring, form: str, read: Read, index: str
) -> None:
    # Mostly settled cases, as a database that has run a while holds.
    await seed_cases(migrated, keyring, 90, T0 - timedelta(days=30), status="closed")
    await seed_cases(migrated, keyring, 30, T0, late=True)
    statement, parameters = await sent_sql(migrated, read)
    postgres = migrated.dialect.name == "postgresql"
    async with migrated.connect() as connection:
        if postgres:
            # A small table is cheaper to read whole; the question is which index the
            # planner can use, as it would at 100,000 cases.
            await connection.exec_driver_sql("SET enable_seqscan = off")
        explain = "EXPLAIN " if postgres else "EXPLAIN QUERY PLAN "
        rows = (await connection.exec_driver_sql(explain + statement, parameters)).all()
    plan = "\n".join(str(row[-1]) for row in rows)
    assert index in plan, plan
    if form != "mine" or not postgres:
        # /mine on PostgreSQL may sort the responder's own claimed cases (a bitmap scan of
        # its index): never anyone else's.
        assert "Sort" not in plan and "TEMP B-TREE" not in plan, plan
