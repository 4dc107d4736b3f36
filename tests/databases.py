"""An empty database of its own: a SQLite file in a folder, or, when
CONFIDE_TEST_DATABASE_URL is set, a new database on that PostgreSQL server (dropped after, in
the background).

A test that wants a migrated database gets a copy of a template migrated once per test
session (`migrated_template`): migrating takes most of a second, copying a file or
creating a PostgreSQL database from a template a few milliseconds."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bot.crypto import Keyring
from bot.store.database import create_engine, migrate

POSTGRES_URL = os.environ.get("CONFIDE_TEST_DATABASE_URL")
SQLITE_FILE = "confide.db"
T = TypeVar("T")
# DROP DATABASE waits for a checkpoint (a good part of a second): a thread of its own drops
# each test's database while the next test runs, and the session waits for them at its end.
_dropper = ThreadPoolExecutor(1, thread_name_prefix="drop-database")
_drops: list[Future[None]] = []


@asynccontextmanager
async def empty_database(folder: Path, template: str | None = None) -> AsyncIterator[str]:
    """With `template` (from `migrated_template`), a copy of it instead of an empty one."""
    if not POSTGRES_URL:
        if template is not None:
            shutil.copy2(template, folder / SQLITE_FILE)  # its mode too: owner only
        yield f"sqlite+aiosqlite:///{folder}/{SQLITE_FILE}"
        return
    name = f"confide_test_{uuid.uuid4().hex[:12]}"
    copying = f' TEMPLATE "{template}"' if template is not None else ""
    await _on_server(f'CREATE DATABASE "{name}"{copying}')
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        _drops.append(_dropper.submit(asyncio.run, _on_server(_dropping(name))))


def dropped() -> None:
    """Wait until every test's database is dropped (raises what a drop raised)."""
    while _drops:
        _drops.pop().result()


@contextmanager
def migrated_template(folder: Path, keyring: Keyring) -> Iterator[str]:
    """A database that `migrate` (what `confide migrate` does) brought to the newest schema
    with these keys (the keyed steps seal with them): a SQLite file's path, or the name of a
    PostgreSQL database nobody connects to (CREATE DATABASE ... TEMPLATE needs that)."""

    async def make() -> str:
        async with _kept_database(folder) as (url, name):
            engine = create_engine(url)
            try:
                await migrate(engine, keyring=keyring)
            finally:
                await engine.dispose()  # SQLite: the last connection folds the WAL in
            return name

    name = _in_own_loop(make())
    try:
        yield name
    finally:
        if POSTGRES_URL:
            _in_own_loop(_on_server(_dropping(name)))


@asynccontextmanager
async def _kept_database(folder: Path) -> AsyncIterator[tuple[str, str]]:
    if not POSTGRES_URL:
        path = folder / SQLITE_FILE
        yield f"sqlite+aiosqlite:///{path}", str(path)
        if Path(f"{path}-wal").exists():
            raise AssertionError("the template's WAL was not folded into its file")
        return
    name = f"confide_template_{uuid.uuid4().hex[:12]}"
    await _on_server(f'CREATE DATABASE "{name}"')
    yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False), name


def _dropping(name: str) -> str:
    return f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'


async def _on_server(statement: str) -> None:
    """One statement on the PostgreSQL server, outside a transaction (CREATE DATABASE and
    DROP DATABASE cannot run inside one)."""
    assert POSTGRES_URL is not None
    admin = create_async_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.exec_driver_sql(statement)
    finally:
        await admin.dispose()


def _in_own_loop(work: Coroutine[Any, Any, T]) -> T:
    """Run `work` to its end on an event loop of its own, in a thread: a fixture may be set up
    while a test's loop is running in this thread."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, work).result()
