"""A Telegram outage while running is two lines in the log — one WARNING when it starts, one
INFO when it ends — with quiet back-off between, and nothing lost."""

from __future__ import annotations

from pathlib import Path

from harness import SubprocessBot, enrol
from sqlalchemy.ext.asyncio import AsyncEngine
from talk import WAIT, file_report

from bot.crypto import Keyring
from bot.devserver import BotApiEmulator

# The outage lasts until this many calls have failed: each part of the bot that was calling
# Telegram (polling, sending, setting a menu) failed, and one failed again after its
# back-off. Every failure doubles the back-off all parts share (1 s up to 10 s): a longer
# outage would only make the test wait for the next try.
FAILED_CALLS = 4


async def test_an_outage_is_one_warning_then_one_info_and_nothing_is_lost(
    emulator: BotApiEmulator,
    bot_env: dict[str, str],
    migrated: AsyncEngine,
    keyring: Keyring,
    tmp_path: Path,
) -> None:
    bot = SubprocessBot(bot_env, tmp_path / "bot.log")
    await bot.start()
    try:
        ann = await enrol(emulator, migrated, keyring, "Ann")
        ann.skip_pending()
        before = len(bot.log.splitlines())
        # Every call fails as if the network were gone: connections dropped.
        emulator.fail("*", times=10**6, drop_connection=True)
        rea = emulator.new_user(first_name="Rea", language_code="en")
        await rea.send("/start")  # waits at Telegram until the outage ends
        await emulator.wait_until(lambda: len(emulator.failed_calls) >= FAILED_CALLS, WAIT)
        emulator.clear_failures()
        await rea.next_message(WAIT)  # the update sent during the outage is answered
        await file_report(rea)
        alert = await ann.next_message(WAIT)
        assert "New case" in alert.text
    finally:
        await bot.stop()
    during = bot.log.splitlines()[before:]
    warnings = [line for line in during if " WARNING " in line or " ERROR " in line]
    recovered = [line for line in during if "telegram_reachable_again" in line]
    assert len(warnings) == 1 and "telegram_unreachable" in warnings[0], "\n".join(during)
    assert len(recovered) == 1, "\n".join(during)
    assert not [line for line in during if "Traceback" in line or line.startswith(" ")]
    assert len(during) < 60, f"{len(during)} lines:\n" + "\n".join(during)
