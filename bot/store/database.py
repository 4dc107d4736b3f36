"""Engine, sessions and migrations. At most one transaction per update."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, **options: Any) -> AsyncEngine:
    """An engine that never puts bound parameters (ciphertext, hashes) into error messages."""
    if is_sqlite(url):
        # One connection: SQLite has one writer at a time anyway, and queueing in the pool
        # (FIFO, asynchronous) is far cheaper than SQLite's sleeping busy handler.
        # No rollback on return to the pool: SQLAlchemy already ends every transaction it
        # began, and on SQLite that rollback would be one more round trip to the driver's
        # thread per transaction.
        options = {
            "pool_size": 1,
            "max_overflow": 0,
            "pool_timeout": 120,
            "pool_reset_on_return": None,
        } | options
        engine = create_async_engine(url, hide_parameters=True, **options)
        _make_sqlite_safe_for_concurrency(engine)
        return engine
    return create_async_engine(url, hide_parameters=True, pool_pre_ping=True, **options)


def _make_sqlite_safe_for_concurrency(engine: AsyncEngine) -> None:
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
        ):
            cursor.execute(pragma)
        cursor.close()


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


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


async def migrate(engine: AsyncEngine, revision: str = "head") -> None:
    """Apply pending migrations (idempotent) on the engine's own connection."""
    await _alembic(engine, command.upgrade, revision)


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    await _alembic(engine, command.downgrade, revision)


async def _alembic(engine: AsyncEngine, verb: Callable[[Config, str], None], revision: str) -> None:
    def run(connection: Connection) -> None:
        config = alembic_config(engine.url.render_as_string(hide_password=False))
        config.attributes["connection"] = connection
        verb(config, revision)

    async with engine.begin() as connection:
        await connection.run_sync(run)


async def pending_migrations(engine: AsyncEngine) -> bool:
    def check(connection: Connection) -> bool:
        script = ScriptDirectory.from_config(alembic_config(str(engine.url)))
        current = MigrationContext.configure(connection).get_current_heads()
        return set(current) != set(script.get_heads())

    async with engine.connect() as connection:
        return await connection.run_sync(check)
