"""Logs and errors carry no identity: a rejected token is one line and never shown; an update
that does not parse is logged without its content, by the bot and by python-telegram-bot."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from harness import REPO, TOKEN, SubprocessBot, bot_environment
from talk import WAIT, say

from bot.crypto import Keyring
from bot.devserver import BotApiEmulator

MALFORMED = {
    "message": {
        "message_id": 1,
        "date": "not a date",
        "chat": {"id": 424242, "type": "private", "first_name": "Secret-Name"},
        "from": {"id": 424242, "is_bot": False, "first_name": "Secret-Name"},
        "text": "secret-text-of-the-update",
    }
}


async def test_a_rejected_token_is_one_line_and_never_printed(
    emulator: BotApiEmulator,
    keyring: Keyring,
    tmp_path: Path,
    database_url: str,
    migrated: object,
) -> None:
    wrong = "987654:THIS-TOKEN-MUST-NOT-BE-PRINTED"
    env = bot_environment(tmp_path, database_url, emulator.base_url, keyring.dump())
    env["CONFIDE_TELEGRAM_TOKEN"] = wrong
    env["CONFIDE_TELEGRAM_BASE_URL"] = emulator.base_url
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "bot", "run"],
        cwd=REPO,
        env={**os.environ, **env, "CONFIDE_LOG_LEVEL": "DEBUG"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "Telegram refused the bot token" in result.stderr
    assert "Traceback" not in result.stderr
    for secret in (wrong, wrong.split(":")[1]):
        assert secret not in result.stdout + result.stderr


async def test_an_update_that_does_not_parse_is_logged_without_its_content(
    emulator: BotApiEmulator,
    bot_env: dict[str, str],
    migrated: object,
    tmp_path: Path,
) -> None:
    bot = SubprocessBot({**bot_env, "CONFIDE_LOG_LEVEL": "DEBUG"}, tmp_path / "bot.log")
    await bot.start()
    try:
        emulator.inject_update(MALFORMED)
        await emulator.wait_until(lambda: "event=update_unparseable" in bot.log, WAIT)
        # The bot goes on: the next person is answered.
        answer = await say(emulator.new_user(first_name="Next", language_code="en"), "/start")
        assert "Make a report" in " ".join(answer.button_texts)
    finally:
        await bot.stop()
    log = bot.log
    assert "event=update_unparseable" in log
    for secret in ("Secret-Name", "secret-text-of-the-update", "424242", TOKEN):
        assert secret not in log, secret


async def test_python_telegram_bots_own_report_of_a_bad_update_loses_its_content(
    emulator: BotApiEmulator, tmp_path: Path
) -> None:
    """PTB's Bot.get_updates logs a bad update at CRITICAL, quoting all of it; the bot's
    logging (bot.logs) keeps the line and drops the quote."""
    emulator.inject_update(MALFORMED)
    script = (
        "import asyncio, logging\n"
        "from telegram import Bot\n"
        "from bot import logs\n"
        f"logs.configure('DEBUG', secrets=[{TOKEN!r}])\n"
        "async def main():\n"
        f"    async with Bot({TOKEN!r}, base_url={emulator.base_url!r}) as b:\n"
        "        try:\n"
        "            await b.get_updates(timeout=0)\n"
        "        except Exception as error:\n"
        "            logging.getLogger('check').error('raised %s', type(error).__name__)\n"
        "asyncio.run(main())\n"
    )
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", script],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    output = result.stdout + result.stderr
    assert "CRITICAL telegram" in output and "withheld" in output, output
    for secret in ("Secret-Name", "secret-text-of-the-update", "424242", TOKEN):
        assert secret not in output, secret
