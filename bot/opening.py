"""Opening what every command needs, the running bot and the command line alike: the keys
and the database. Kept apart from bot.runtime, which imports the whole bot (Telegram,
aiohttp, the services), so that a command such as `confide audit verify` loads only this.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import ConfigError, Settings
from bot.crypto import KeyConfigError, Keyring
from bot.store.database import is_sqlite, migrate, pending_migrations
from bot.store.problems import check_reachable


class KeyFileMissing(KeyConfigError):
    """What to do depends on what the database holds (bot.cli.commands.missing_keys)."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"the key file {path} does not exist")
        self.path = path


def load_keyring(settings: Settings) -> Keyring:
    if settings.key_material:
        return Keyring.parse(settings.key_material)
    if settings.key_file is None:
        raise KeyConfigError(
            "No keys: set CONFIDE_KEYS or CONFIDE_KEY_FILE, or run `confide init`."
        )
    if not settings.key_file.exists():
        raise KeyFileMissing(settings.key_file)
    return Keyring.from_file(settings.key_file)


def key_file_reader(settings: Settings) -> Callable[[], Keyring | None]:
    """How a running process re-reads its keys during a rotation (keys given in the
    environment cannot change under a running process: it must be restarted)."""
    if settings.key_material:
        return lambda: None
    return lambda: load_keyring(settings)


async def prepare_database(settings: Settings, engine: AsyncEngine, keyring: Keyring) -> None:
    """The embedded SQLite database migrates itself; a shared PostgreSQL is migrated explicitly
    (`confide migrate`), so that several replicas never race to change the schema."""
    await check_reachable(engine)
    if is_sqlite(settings.database_url):
        await migrate(engine, keyring=keyring)
    elif await pending_migrations(engine):
        raise ConfigError("The database schema is not up to date: run `confide migrate` first.")
