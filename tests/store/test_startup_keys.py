"""A wrong or missing key is refused at start-up with a clear message, not garbage later."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import await_

from bot.crypto import KeyConfigError, Keyring
from bot.services.keys import check_keys
from bot.store.database import create_engine, session_factory


@pytest.mark.usefixtures("migrated")
async def test_keys_are_recorded_then_verified(engine: AsyncEngine, keyring: Keyring) -> None:
    sessions = session_factory(engine)
    await check_keys(sessions, keyring)
    await check_keys(sessions, keyring)  # the same keys again: fine

    with pytest.raises(KeyConfigError, match=r"does not match|not in the key file"):
        await check_keys(sessions, Keyring.generate())

    rotated = keyring.with_new_kek()
    await check_keys(sessions, rotated)  # a new key joins
    with pytest.raises(KeyConfigError, match=r"kek\.2.*not in the key file"):
        await check_keys(sessions, keyring)  # the old file lacks the new key


@pytest.mark.usefixtures("migrated")
async def test_wrong_index_key_is_refused(engine: AsyncEngine, keyring: Keyring) -> None:
    sessions = session_factory(engine)
    await check_keys(sessions, keyring)
    text = keyring.dump()
    other_index = Keyring.generate().dump().split("index = ")[1].splitlines()[0]
    mine = text.split("index = ")[1].splitlines()[0]
    with pytest.raises(KeyConfigError, match="index"):
        await check_keys(sessions, Keyring.parse(text.replace(mine, other_index)))


@pytest.mark.usefixtures("migrated")
async def test_two_processes_starting_together_on_a_new_database_both_start(
    database_url: str, engine: AsyncEngine, keyring: Keyring
) -> None:
    """Both read "no key checks yet" and both store them: the one that writes second checks
    its keys against the first one's instead of failing. The race is forced: the first
    process starts and finishes just as the second is about to write."""
    second = create_engine(database_url)
    first_ran = False

    @event.listens_for(second.sync_engine, "before_cursor_execute")
    def first_process_wins(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
        nonlocal first_ran
        if statement.startswith("INSERT INTO key_checks") and not first_ran:
            first_ran = True
            await_(check_keys(session_factory(engine), keyring))

    try:
        await check_keys(session_factory(second), keyring)
    finally:
        await second.dispose()
    assert first_ran
    with pytest.raises(KeyConfigError):
        await check_keys(session_factory(engine), Keyring.generate())
