"""Engine, sessions and migrations. At most one transaction per update."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, event, insert, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from bot.store import liveness, one_trip
from bot.store.problems import CONNECT_SECONDS, DatabaseProblem, checked_url, newer_schema
from bot.store.upgrades import STEPS, KeysNeeded

if TYPE_CHECKING:
    from bot.crypto import Keyring

log = logging.getLogger(__name__)
# A checkpoint cannot finish while another connection (another process) reads the WAL.
PURGE_ATTEMPTS = 20
PURGE_PAUSE = 0.1
# A commit that takes SQLite's log past this many pages copies it back itself: SQLite's
# default, and, where bot.store.checkpoints does it every second, a backstop ten times
# further (40 MB of log) that it should never reach.
DEFAULT_CHECKPOINT_PAGES = 1000
BACKSTOP_PAGES = 10_000


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite URL (None for an in-memory database)."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def _create_private_file(path: Path) -> None:
    """Create the database file readable by its owner only, before SQLite creates it with
    the umask's mode; SQLite gives its WAL and journal files the same mode."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(descriptor)


def create_engine(url: str, *, checkpoints_elsewhere: bool = False, **options: Any) -> AsyncEngine:
    """An engine that never puts bound parameters (ciphertext, hashes) into error messages.
    A URL Confide cannot use is refused here, in words (bot.store.problems).

    `checkpoints_elsewhere`: SQLite's log is checkpointed by bot.store.checkpoints, so this
    engine's commits leave it to that (up to BACKSTOP_PAGES, where they take it up again)."""
    checked_url(url)
    if is_sqlite(url):
        path = sqlite_path(url)
        if path is not None and path.parent.is_dir():
            _create_private_file(path)
        # One connection: SQLite has one writer at a time anyway, and queueing in the pool
        # (FIFO, asynchronous) is far cheaper than SQLite's sleeping busy handler.
        # No rollback on return to the pool: SQLAlchemy already ends every transaction it
        # began, and on SQLite that rollback would be one more round trip to the driver's
        # thread per transaction.
        options = {
            "module": one_trip.dbapi(),
            "pool_size": 1,
            "max_overflow": 0,
            "pool_timeout": 120,
            "pool_reset_on_return": None,
        } | options
        engine = create_async_engine(url, hide_parameters=True, **options)
        _make_sqlite_safe_for_concurrency(
            engine, BACKSTOP_PAGES if checkpoints_elsewhere else DEFAULT_CHECKPOINT_PAGES
        )
        return engine
    options = {"connect_args": {"timeout": CONNECT_SECONDS}} | options
    engine = create_async_engine(url, hide_parameters=True, **options)
    liveness.check_when_idle(engine)
    return engine


def _make_sqlite_safe_for_concurrency(engine: AsyncEngine, checkpoint_pages: int) -> None:
    """WAL for concurrent readers, and write transactions that take the write lock at their
    first write (BEGIN IMMEDIATE, issued by the driver inside that statement's own round
    trip), so that two writers — also in two bot processes — queue on the busy timeout
    instead of failing with "database is locked" when a reader upgrades to a writer."""

    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = "IMMEDIATE"
        cursor = dbapi_connection.cursor()
        for pragma in (
            "PRAGMA journal_mode=WAL",
            "PRAGMA synchronous=NORMAL",
            "PRAGMA busy_timeout=30000",
            "PRAGMA foreign_keys=ON",
            "PRAGMA secure_delete=ON",  # deleted drafts are overwritten, not left in free pages
            f"PRAGMA wal_autocheckpoint={checkpoint_pages}",
        ):
            cursor.execute(pragma)
        cursor.close()


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def purge_freed_pages(engine: AsyncEngine) -> bool:
    """After a shred: make sure no copy of what was deleted stays in the files. SQLite
    overwrites deleted content in the database file (secure_delete), but older versions of
    each page stay in the write-ahead log until a checkpoint copies the new ones back and
    the log is truncated. PostgreSQL keeps dead tuples, WAL and backups that no application
    can erase; there, shredded keys become unreadable when their KEK is retired.

    Returns False if another process kept the log busy throughout (retry later)."""
    if engine.dialect.name != "sqlite":
        return True
    for _ in range(PURGE_ATTEMPTS):
        async with engine.connect() as connection:
            result = await connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            busy = result.one()[0]
        if not busy:
            return True
        await asyncio.sleep(PURGE_PAUSE)
    log.warning("event=wal_checkpoint_busy")
    return False


async def vacuum(engine: AsyncEngine) -> None:
    """SQLite: rewrite the file, so that pages freed before secure_delete was on (by older
    versions) hold nothing; then truncate the log."""
    if engine.dialect.name != "sqlite":
        return
    async with engine.connect() as connection:
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        await driver.execute("VACUUM")
    await purge_freed_pages(engine)


def migrations_dir() -> Path:
    """The Alembic scripts: bot/migrations when installed, else the checkout's migrations/."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "migrations", here.parent / "migrations"):
        if (candidate / "env.py").is_file():
            return candidate
    raise RuntimeError("Alembic migrations not found; is the package installed completely?")


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


async def migrate(
    engine: AsyncEngine, revision: str = "head", keyring: Keyring | None = None
) -> None:
    """Apply pending migrations (idempotent) on the engine's own connection, one revision at
    a time; after a revision that changed a sealed format, its keyed step converts the data
    (bot.store.upgrades), which needs the keys: without them, KeysNeeded stops the
    migration and nothing is changed (it all runs in one transaction: both PostgreSQL and
    SQLite change schemas transactionally)."""
    ran_keyed_step = False

    def run(connection: Connection) -> None:
        nonlocal ran_keyed_step
        config = _config_on(engine, connection)
        script = ScriptDirectory.from_config(config)
        _refuse_newer(connection, script)
        current = MigrationContext.configure(connection).get_current_revision()
        path = [r.revision for r in reversed(list(script.iterate_revisions(revision, current)))]
        for step in path:
            command.upgrade(config, step)
            for keyed in (k for k in STEPS if k.after_revision == step):
                if _applied(connection, keyed.name):
                    continue
                if keyring is None:
                    raise KeysNeeded(
                        f"the database needs the keys to convert its data ({keyed.name}): "
                        "run `confide migrate` where the key file (or CONFIDE_KEYS) is set"
                    )
                keyed.run(connection, keyring)
                _record(connection, keyed.name)
                ran_keyed_step = True

    async with _without_foreign_keys(engine) as connection, connection.begin():
        await connection.run_sync(run)
    if ran_keyed_step:
        await vacuum(engine)


def _refuse_newer(connection: Connection, script: ScriptDirectory) -> None:
    """A schema revision this code does not know was written by a newer version: migrating
    cannot help, and running on it could damage it."""
    known = {r.revision for r in script.walk_revisions()}
    unknown = [
        r for r in MigrationContext.configure(connection).get_current_heads() if r not in known
    ]
    if unknown:
        raise newer_schema(unknown, script.get_current_head() or "none")


def _config_on(engine: AsyncEngine, connection: Connection) -> Config:
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    config.attributes["connection"] = connection
    return config


def _applied(connection: Connection, name: str) -> bool:
    from bot.store.models import KeyedMigration

    found = connection.execute(select(KeyedMigration.name).where(KeyedMigration.name == name))
    return found.first() is not None


def _record(connection: Connection, name: str) -> None:
    from bot.store.models import KeyedMigration

    connection.execute(insert(KeyedMigration).values(name=name, applied_at=datetime.now(UTC)))


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    def run(connection: Connection) -> None:
        command.downgrade(_config_on(engine, connection), revision)

    async with _without_foreign_keys(engine) as connection, connection.begin():
        await connection.run_sync(run)


@contextlib.asynccontextmanager
async def _without_foreign_keys(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """SQLite changes a table by copying it to a new one and dropping the old: with foreign
    keys on, dropping `cases` would delete every message of every case (ON DELETE CASCADE)
    and dropping `responders` would unclaim every case (SET NULL). So migrations run with
    them off, and are checked afterwards."""
    async with engine.connect() as connection:
        if engine.dialect.name != "sqlite":
            yield connection
            return
        await connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        await connection.commit()  # the pragma is ignored inside a transaction
        try:
            yield connection
            broken = (await connection.exec_driver_sql("PRAGMA foreign_key_check")).all()
            await connection.commit()
            if broken:
                raise RuntimeError(f"migration left {len(broken)} rows pointing nowhere")
        finally:
            await connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            await connection.commit()


async def pending_migrations(engine: AsyncEngine) -> bool:
    """True if the schema is behind the code, or a keyed step has not run yet."""

    def check(connection: Connection) -> bool:
        script = ScriptDirectory.from_config(alembic_config(str(engine.url)))
        _refuse_newer(connection, script)
        current = MigrationContext.configure(connection).get_current_heads()
        if set(current) != set(script.get_heads()):
            return True
        return any(not _applied(connection, step.name) for step in STEPS)

    async with engine.connect() as connection:
        return await connection.run_sync(check)


async def schema_problem(engine: AsyncEngine) -> str | None:
    """For readiness (/readyz): None when the database answers and its schema is this
    code's; else a few fixed words (never the driver's message: it may name a host or a
    user)."""
    try:
        behind = await pending_migrations(engine)
    except DatabaseProblem:  # written by a newer version (newer_schema)
        return "the database schema is newer than this version"
    except Exception:  # every driver fails in its own way; all mean the same here
        return "the database does not answer"
    return "the database schema is not current (confide migrate)" if behind else None
