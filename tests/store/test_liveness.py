"""A pooled PostgreSQL connection cut while idle (a server restart, a proxy's timeout) is
replaced before anyone uses it (bot.store.liveness)."""

from __future__ import annotations

import asyncio

import pytest
from databases import POSTGRES_URL
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bot.store import liveness

pytestmark = pytest.mark.skipif(not POSTGRES_URL, reason="cuts PostgreSQL connections")


async def cut_connections(database_url: str) -> None:
    """What a restart does to the bot's pool: every connection to its database is closed."""
    assert POSTGRES_URL
    server = create_async_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = database_url.rsplit("/", 1)[1]
    try:
        async with server.connect() as connection:
            cut = await connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )
            assert cut.all(), "the pool held a connection"
    finally:
        await server.dispose()


async def ask(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int((await connection.execute(text("SELECT 1"))).scalar_one())


async def test_a_connection_cut_while_idle_is_replaced_unseen(
    engine: AsyncEngine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(liveness, "IDLE_SECONDS", 0.2)
    assert await ask(engine) == 1
    await cut_connections(database_url)
    await asyncio.sleep(0.3)
    assert await ask(engine) == 1


async def test_one_in_steady_use_is_not_tested_and_a_cut_costs_one_statement(
    engine: AsyncEngine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(liveness, "IDLE_SECONDS", 60.0)
    assert await ask(engine) == 1
    await cut_connections(database_url)
    with pytest.raises(DBAPIError):  # not tested: used as it was
        await ask(engine)
    assert await ask(engine) == 1  # the pool replaced it
