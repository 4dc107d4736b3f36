"""Retention in the running bot: a case resolved long ago is announced to its responder a
week ahead, then shredded, by the bot's own chores (no `confide tick`)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from harness import InProcessBot, bot_environment, enrol
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from talk import WAIT, case_id_in, file_report, say
from world import Clock

from bot.crypto import Keyring
from bot.devserver import BotApiEmulator
from bot.store.models import Case


async def shredded(engine: AsyncEngine, short_id: str) -> None:
    for _ in range(int(WAIT / 0.05)):
        async with engine.connect() as connection:
            query = select(Case.shredded_at).where(Case.short_id == short_id)
            if (await connection.execute(query)).scalar_one() is not None:
                return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{short_id} was not shredded within {WAIT} s")


async def test_the_running_bot_warns_then_shreds_a_case_past_its_retention(
    emulator: BotApiEmulator,
    migrated: AsyncEngine,
    keyring: Keyring,
    tmp_path: Path,
    database_url: str,
) -> None:
    (tmp_path / "config.toml").write_text(
        "[telegram]\npoll_timeout = 1\n[outbox]\nretry_seconds = 0.1\n"
        "[retention]\nclosed_days = 30\n",
        encoding="utf-8",
    )
    clock = Clock(datetime.now(UTC))
    bot = InProcessBot(
        bot_environment(tmp_path, database_url, emulator.base_url, keyring.dump()), clock
    )
    await bot.start()
    try:
        sam = await enrol(emulator, migrated, keyring, "Sam", "responder")
        rea = emulator.new_user(first_name="Rea", language_code="en")
        await file_report(rea)
        case = case_id_in((await sam.next_message(WAIT)).text)
        sam.skip_pending()
        await say(sam, f"/claim {case}")
        shown = await say(sam, f"/state {case} resolved")
        while "is now resolved" not in shown.text:
            shown = await sam.next_message(WAIT)
        sam.skip_pending()

        clock.now += timedelta(days=24)  # 30 days after the last change, less a week
        await bot.restart()  # the chores run at start, then every 10 minutes
        warning = await sam.next_message(WAIT)
        assert f"Case {case} was resolved or closed a long time ago. In 7 days" in warning.text

        clock.now += timedelta(days=8)
        await bot.restart()
        await shredded(migrated, case)  # by the chores, beside the bot's turns
        gone = await say(sam, f"/open {case}")
        assert gone.text == (
            f"Case {case} reached the end of its retention period; its content was deleted."
        )
    finally:
        await bot.stop()
