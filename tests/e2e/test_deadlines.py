"""The service-level clock, end to end: a running bot whose clock the test moves on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from harness import InProcessBot, bot_environment, enrol
from sqlalchemy.ext.asyncio import AsyncEngine
from world import Clock

from bot.crypto import Keyring
from bot.devserver import BotApiEmulator

WAIT = 20.0


async def test_unclaimed_case_is_reminded_then_escalated_and_the_reporter_told(
    emulator: BotApiEmulator,
    migrated: AsyncEngine,
    keyring: Keyring,
    tmp_path: Path,
    database_url: str,
) -> None:
    engine = migrated
    (tmp_path / "config.toml").write_text(
        "[telegram]\npoll_timeout = 1\n[service_levels]\nscan_seconds = 0.1\n"
        "[outbox]\nretry_seconds = 0.1\n",
        encoding="utf-8",
    )
    clock = Clock(datetime.now(UTC))
    bot = InProcessBot(
        bot_environment(tmp_path, database_url, emulator.base_url, keyring.dump()), clock
    )
    await bot.start()
    try:
        sam = await enrol(emulator, engine, keyring, "Sam", "responder")
        ada = await enrol(emulator, engine, keyring, "Ada", "admin")
        rae = emulator.new_user(first_name="Rae", language_code="en")
        await rae.send("/start")
        await rae.next_message(WAIT)
        await rae.click("Make a report")
        await rae.next_message(WAIT)
        await rae.click("Verbal harassment")
        shown = await rae.next_message(WAIT)
        while "Please check your report" not in shown.text:
            if "Is any of these responders involved" in shown.text:
                assert "Sam" in " ".join(shown.button_texts)
                assert "Ada" in " ".join(shown.button_texts)
            await rae.click("Skip")
            shown = await rae.next_message(WAIT)
        await rae.click("Send report")
        await rae.next_message(WAIT)
        await sam.wait_until(lambda: any("New case" in m.text for m in sam.messages), WAIT)

        clock.now += timedelta(hours=12, minutes=1)
        await sam.wait_until(lambda: any("still unclaimed" in m.text for m in sam.messages), WAIT)
        clock.now += timedelta(hours=12)
        await ada.wait_until(lambda: any("Escalated" in m.text for m in ada.messages), WAIT)
        await rae.wait_until(
            lambda: any("passed to senior staff" in m.text for m in rae.messages), WAIT
        )
        assert not any("Escalated" in m.text for m in sam.messages)  # admins are the tier

        await ada.send("/overdue")
        overdue = await ada.next_message(WAIT)
        while "Overdue" not in overdue.text:
            overdue = await ada.next_message(WAIT)
        assert "C-" in overdue.text

        rae.skip_pending()
        await bot.restart()  # the clock lives in the database: nothing fires twice
        clock.now += timedelta(minutes=1)
        await rae.assert_no_message(1.0)
        assert sum("still unclaimed" in m.text for m in sam.messages) == 1
        assert sum("Escalated" in m.text for m in ada.messages) == 1
    finally:
        await bot.stop()
