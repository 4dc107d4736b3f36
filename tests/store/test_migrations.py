"""The migrations build exactly the models' schema, and each one goes up and down."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.crypto import Keyring
from bot.store.database import alembic_config, downgrade, migrate, pending_migrations
from bot.store.models import Base


def _differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names()) - {"alembic_version"}


async def test_migrated_schema_matches_the_models(engine: AsyncEngine, keyring: Keyring) -> None:
    assert await pending_migrations(engine)
    await migrate(engine, keyring=keyring)
    assert not await pending_migrations(engine)
    async with engine.connect() as connection:
        assert await connection.run_sync(_differences) == []
        assert await connection.run_sync(_tables) == set(Base.metadata.tables)


async def test_every_migration_goes_up_and_down(engine: AsyncEngine, keyring: Keyring) -> None:
    script = ScriptDirectory.from_config(alembic_config(str(engine.url)))
    revisions = [r.revision for r in reversed(list(script.walk_revisions()))]
    assert revisions, "no migrations found"
    for revision in revisions:
        await migrate(engine, revision, keyring=keyring)
        previous = script.get_revision(revision).down_revision
        assert previous is None or isinstance(previous, str), "no merge migrations expected"
        await downgrade(engine, previous or "base")
        await migrate(engine, revision, keyring=keyring)
    await downgrade(engine, "base")
    async with engine.connect() as connection:
        assert await connection.run_sync(_tables) == set()
    await migrate(engine, keyring=keyring)
    async with engine.connect() as connection:
        assert await connection.run_sync(_differences) == []


async def test_migrating_twice_is_harmless(engine: AsyncEngine, keyring: Keyring) -> None:
    await migrate(engine, keyring=keyring)
    await migrate(engine, keyring=keyring)
    assert not await pending_migrations(engine)
