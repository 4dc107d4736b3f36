"""An update a replica stored (so Telegram forgot it) but did not live to handle is taken
over by a running replica once it has waited a minute: removing a replica loses nothing."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from harness import InProcessBot
from sqlalchemy.ext.asyncio import AsyncEngine
from test_webhook import update
from world import Clock

from bot.crypto import Keyring
from bot.devserver import BotApiEmulator
from bot.services.inbox import Inbox
from bot.store.database import session_factory

SCAN = 0.25  # seconds between sweeps for orphans
SWEEPS = 4  # sweeps that must find nothing to take over


async def test_an_update_left_by_a_dead_replica_is_handled_once(
    emulator: BotApiEmulator, bot_env: dict[str, str], migrated: AsyncEngine, keyring: Keyring
) -> None:
    with open(bot_env["CONFIDE_CONFIG"], "a", encoding="utf-8") as config:
        config.write(f"[service_levels]\nscan_seconds = {SCAN}\n")
    clock = Clock()
    running = InProcessBot(bot_env, clock=clock)
    await running.start()
    try:
        eve = emulator.new_user(first_name="Eve", started=True)
        # What another replica did before it died: stored the update, answered Telegram.
        left = Inbox(session_factory(migrated), keyring, clock)
        assert await left.store([update(7_000_001, eve.id)])
        # A few sweeps go by: too recent to be anybody's orphan yet.
        await eve.assert_no_message(within=SWEEPS * SCAN)
        clock.now += timedelta(minutes=2)
        await eve.next_message(20.0)  # taken over: Eve is welcomed
        await asyncio.sleep(SWEEPS * SCAN)  # later sweeps find it handled: no second welcome
        welcomes = [m for m in eve.history if "Make a report" in " ".join(m.button_texts)]
        assert len(welcomes) == 1, eve.transcript()
        assert await left.unhandled() == []
    finally:
        await running.stop()
