"""Fixtures: a really migrated database (SQLite, or PostgreSQL when CONFIDE_TEST_DATABASE_URL
is set), the project's Telegram Bot API emulator, keys, and the bot itself."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from databases import dropped, empty_database, migrated_template
from harness import BOT_USERNAME, TOKEN, InProcessBot, bot_environment
from sqlalchemy.ext.asyncio import AsyncEngine
from world import Clock, make_world

from bot.crypto import Keyring
from bot.services.conversation import ConversationService
from bot.store.database import create_engine, migrate

if TYPE_CHECKING:
    from bot.devserver import BotApiEmulator

# `confide run` started by a test (and its config from `confide init`) would listen on the
# fixed health port, 9465, and two test runs side by side would collide on it. Tests that
# want the port say so (tests/e2e/test_health.py).
os.environ.setdefault("CONFIDE_HEALTH_ENABLED", "false")

# Random keys, once per session: the migrated template is sealed with them (its keyed steps
# MAC the audit log's head). Each test gets its own Keyring object (use_kek changes one).
SESSION_KEYS = Keyring.generate().dump()
# A test that asks for one of these gets its database migrated already (tests/databases.py).
MIGRATED = {"migrated", "world"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark `database` the tests that run on the database under test: those with a database
    of their own (`database_url`), and those of a module that looks at which it is. On
    PostgreSQL, CI runs only these (`-m database`): the others never touch it, and the SQLite
    run has run them already."""
    for item in items:
        uses = getattr(item, "fixturenames", ())
        module = getattr(item, "module", None)
        if "database_url" in uses or hasattr(module, "POSTGRES_URL"):
            item.add_marker(pytest.mark.database)


@pytest.fixture(scope="session", autouse=True)
def _databases_dropped() -> Iterator[None]:
    yield
    dropped()


@pytest.fixture(scope="session")
def database_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with migrated_template(tmp_path_factory.mktemp("template"), Keyring.parse(SESSION_KEYS)) as t:
        yield t


@pytest.fixture
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A database of its own for each test: empty, or a copy of the migrated template for a
    test that would migrate it first."""
    wants_migrated = not MIGRATED.isdisjoint(request.fixturenames)
    template = request.getfixturevalue("database_template") if wants_migrated else None
    async with empty_database(tmp_path, template) as url:
        yield url


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def keyring() -> Keyring:
    return Keyring.parse(SESSION_KEYS)


@pytest.fixture
async def emulator() -> AsyncIterator[BotApiEmulator]:
    from bot.devserver import BotApiEmulator

    async with BotApiEmulator(token=TOKEN, bot_username=BOT_USERNAME) as emulator:
        yield emulator


@pytest.fixture
def bot_env(
    tmp_path: Path, database_url: str, emulator: BotApiEmulator, keyring: Keyring
) -> dict[str, str]:
    return bot_environment(tmp_path, database_url, emulator.base_url, keyring.dump())


@pytest.fixture
async def migrated(engine: AsyncEngine, keyring: Keyring) -> AsyncEngine:
    """What `confide migrate` does (SQLite would also migrate itself at start-up): here, on a
    copy of the template it migrated, it finds nothing left to do."""
    await migrate(engine, keyring=keyring)
    return engine


@pytest.fixture
async def world(engine: AsyncEngine, keyring: Keyring) -> tuple[ConversationService, Clock]:
    """Ann and Ben (responders) and Ada (admin) enrolled; the service on a moving clock."""
    return await make_world(engine, keyring)


@pytest.fixture
async def bot(bot_env: dict[str, str], migrated: AsyncEngine) -> AsyncIterator[InProcessBot]:
    running = InProcessBot(bot_env)
    await running.start()
    yield running
    await running.stop()
