"""`confide run` as a service: SIGTERM stops it within 10 s, and what it held goes back
(outbox messages it had leased are due again at once, for the next start or another
replica); and it logs a health line of counts."""

from __future__ import annotations

import asyncio
import re
import signal
import time
from datetime import UTC, datetime
from pathlib import Path

from harness import SubprocessBot, enrol
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from talk import WAIT, file_report

from bot.crypto import Keyring
from bot.devserver import BotApiEmulator
from bot.services import outbox, people
from bot.services.outbox import Notification
from bot.store.database import session_factory
from bot.store.models import OutboxMessage

NOTICES = 3


async def test_sigterm_stops_within_ten_seconds_and_gives_back_the_leased_messages(
    emulator: BotApiEmulator,
    bot_env: dict[str, str],
    migrated: AsyncEngine,
    keyring: Keyring,
    tmp_path: Path,
) -> None:
    bot = SubprocessBot(bot_env, tmp_path / "bot.log")
    await bot.start()
    ann = await enrol(emulator, migrated, keyring, "Ann")
    ann.skip_pending()
    # Telegram hangs: the sender is stuck in a send, holding its leased batch.
    emulator.fail("sendMessage", times=10**6, stall_seconds=60, drop_connection=True)
    async with session_factory(migrated).begin() as session:
        (person,) = await people.active_responders(session, keyring)
        for n in range(NOTICES):
            notice = Notification("help_staff_title", "en", {"n": str(n)})
            outbox.to_responder(session, keyring, person, notice, datetime.now(UTC))
    await emulator.wait_until(lambda: bool(emulator.failed_calls), timeout=WAIT)
    async with migrated.connect() as connection:
        leased = (await connection.execute(select(OutboxMessage.due_at))).scalars().all()
    assert len(leased) == NOTICES and all(due > datetime.now(UTC) for due in leased)

    asked = time.monotonic()
    code = await bot.stop(signal.SIGTERM)
    took = time.monotonic() - asked
    assert code == 0, bot.log
    assert took < 10, f"{took:.1f} s"
    assert "event=stopped" in bot.log
    assert "Traceback" not in bot.log
    async with migrated.connect() as connection:
        rows = (await connection.execute(select(OutboxMessage))).all()
    stopped_at = datetime.now(UTC)
    assert len(rows) == NOTICES
    assert all(row.due_at <= stopped_at for row in rows)  # due again now, not at lease end
    assert all(row.attempts == 0 for row in rows)  # an attempt cut short does not count

    emulator.clear_failures()
    await bot.start()
    try:
        got = [await ann.next_message(WAIT) for _ in range(NOTICES)]
        assert all(message.text == "Your commands" for message in got)
    finally:
        await bot.stop()


HEALTH = re.compile(
    r"event=health updates_handled=(\d+) outbox_depth=(\d+) open_cases=(\d+) "
    r"oldest_unacknowledged=(none|\d+s)$"
)


async def test_the_health_line_is_counts_only(
    emulator: BotApiEmulator,
    bot_env: dict[str, str],
    migrated: AsyncEngine,
    keyring: Keyring,
    tmp_path: Path,
) -> None:
    config = Path(bot_env["CONFIDE_CONFIG"])
    config.write_text(config.read_text() + "[logging]\nhealth_seconds = 1\n", encoding="utf-8")
    bot = SubprocessBot(bot_env, tmp_path / "bot.log")
    await bot.start()
    try:
        await enrol(emulator, migrated, keyring, "Ann")
        rea = emulator.new_user(first_name="Rea", language_code="en")
        await file_report(rea, account="Secret account text 7d1f")
        for _ in range(100):
            lines = [line for line in bot.log.splitlines() if "event=health" in line]
            if lines and HEALTH.search(lines[-1]) and "open_cases=1" in lines[-1]:
                break
            await asyncio.sleep(0.1)
    finally:
        await bot.stop()
    lines = [line for line in bot.log.splitlines() if "event=health" in line]
    last = HEALTH.search(lines[-1])
    assert last is not None, lines
    assert last.group(3) == "1"  # the report, unclaimed
    assert last.group(4) != "none"
    handled = sum(int(m.group(1)) for line in lines if (m := HEALTH.search(line)))
    assert handled >= 10  # the enrolment and every step of the report
    assert all(" INFO " in line for line in lines)
    assert "Secret account" not in bot.log and "Rea" not in "\n".join(lines)
