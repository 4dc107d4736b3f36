"""Fixtures: a really migrated database (SQLite, or PostgreSQL when CONFIDE_TEST_DATABASE_URL
is set), the project's Telegram Bot API emulator, keys, and the bot itself."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from databases import empty_database
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


@pytest.fixture
async def database_url(tmp_path: Path) -> AsyncIterator[str]:
    """An empty database of its own for each test."""
    async with empty_database(tmp_path) as url:
        yield url


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def keyring() -> Keyring:
    return Keyring.generate()


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
    """What `confide migrate` does (SQLite would also migrate itself at start-up)."""
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
