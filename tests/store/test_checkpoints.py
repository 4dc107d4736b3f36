"""SQLite's write-ahead log copied back by the bot's own passive checkpoints, so that no
update's commit has to (bot.store.checkpoints)."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, LargeBinary, MetaData, Table, insert
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store.checkpoints import WalCheckpoints
from bot.store.database import create_engine

pages = Table(
    "pages", MetaData(), Column("id", Integer, primary_key=True), Column("data", LargeBinary)
)


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path}/wal.db"


@pytest.fixture
async def sqlite(url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(pages.metadata.create_all)
    yield engine
    await engine.dispose()


async def write_pages(engine: AsyncEngine, count: int) -> None:
    for _ in range(count):
        async with engine.begin() as connection:
            await connection.execute(insert(pages), {"data": bytes(3000)})


async def test_a_checkpoint_copies_the_whole_log_back(sqlite: AsyncEngine, url: str) -> None:
    checkpoints = WalCheckpoints(url)
    try:
        await write_pages(sqlite, 50)
        in_log, copied = await checkpoints.run()
        assert in_log >= 50
        assert copied == in_log
        # Nothing new: nothing to do, and the log is not copied twice.
        assert await checkpoints.run() == (in_log, in_log)
    finally:
        checkpoints.close()


async def test_a_reader_is_not_waited_for_and_what_it_holds_is_copied_later(
    sqlite: AsyncEngine, url: str, tmp_path: Path
) -> None:
    checkpoints = WalCheckpoints(url)
    reader = sqlite3.connect(tmp_path / "wal.db", isolation_level=None)
    try:
        await write_pages(sqlite, 10)
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM pages").fetchone()  # a snapshot of the log
        await write_pages(sqlite, 10)
        in_log, copied = await checkpoints.run()
        assert 0 < copied < in_log  # up to the reader's snapshot, at once
        reader.execute("COMMIT")
        assert await checkpoints.run() == (in_log, in_log)
    finally:
        reader.close()
        checkpoints.close()


async def test_postgresql_and_memory_need_none() -> None:
    for url in ("postgresql+asyncpg://confide@db/confide", "sqlite+aiosqlite://"):
        checkpoints = WalCheckpoints(url)
        assert not checkpoints.needed
        assert await checkpoints.run() == (0, 0)


async def test_the_bots_commits_leave_the_copy_to_it_and_the_clis_do_not(url: str) -> None:
    async def pages_before_a_commit_copies(engine: AsyncEngine) -> int:
        try:
            async with engine.connect() as connection:
                return int(
                    (await connection.exec_driver_sql("PRAGMA wal_autocheckpoint")).scalar_one()
                )
        finally:
            await engine.dispose()

    assert (
        await pages_before_a_commit_copies(create_engine(url, checkpoints_elsewhere=True)) == 10_000
    )
    assert await pages_before_a_commit_copies(create_engine(url)) == 1000
