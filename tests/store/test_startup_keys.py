"""A wrong or missing key is refused at start-up with a clear message, not garbage later."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.crypto import KeyConfigError, Keyring
from bot.runtime import check_keys
from bot.store.database import migrate, session_factory


async def test_keys_are_recorded_then_verified(engine: AsyncEngine, keyring: Keyring) -> None:
    await migrate(engine)
    sessions = session_factory(engine)
    await check_keys(sessions, keyring)
    await check_keys(sessions, keyring)  # the same keys again: fine

    with pytest.raises(KeyConfigError, match=r"does not match|not in the key file"):
        await check_keys(sessions, Keyring.generate())

    rotated = keyring.with_new_kek()
    await check_keys(sessions, rotated)  # a new key joins
    with pytest.raises(KeyConfigError, match=r"kek\.2.*not in the key file"):
        await check_keys(sessions, keyring)  # the old file lacks the new key


async def test_wrong_index_key_is_refused(engine: AsyncEngine, keyring: Keyring) -> None:
    await migrate(engine)
    sessions = session_factory(engine)
    await check_keys(sessions, keyring)
    text = keyring.dump()
    other_index = Keyring.generate().dump().split("index = ")[1].splitlines()[0]
    mine = text.split("index = ")[1].splitlines()[0]
    with pytest.raises(KeyConfigError, match="index"):
        await check_keys(sessions, Keyring.parse(text.replace(mine, other_index)))
