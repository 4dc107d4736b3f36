"""Files only their owner can read, a warning when the key file sits beside the database, and
a privacy notice that promises only what is true, in every language."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from harness import REPO, InProcessBot, bot_environment
from talk import say

from bot.crypto import Keyring
from bot.devserver import BotApiEmulator


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_init_writes_private_files_and_warns_when_the_keys_sit_beside_the_database(
    tmp_path: Path,
) -> None:
    env = {**os.environ, "CONFIDE_CONFIG": str(tmp_path / "config.toml")}
    env.pop("CONFIDE_KEYS", None)
    env.pop("CONFIDE_KEY_FILE", None)
    env.pop("CONFIDE_DATABASE_URL", None)
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os, sys; os.umask(0o022); from bot.cli import main; sys.exit(main(['init']))",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert mode(tmp_path / "config.toml") == 0o600
    assert mode(tmp_path / "confide.keys") == 0o600
    assert "the key file is in the same folder as the database" in result.stdout


async def test_the_database_and_its_log_are_private(
    emulator: BotApiEmulator, keyring: Keyring, tmp_path: Path
) -> None:
    folder = tmp_path / "state"
    folder.mkdir()
    url = f"sqlite+aiosqlite:///{folder}/confide.db"
    old = os.umask(0o022)
    try:
        bot = InProcessBot(bot_environment(tmp_path, url, emulator.base_url, keyring.dump()))
        await bot.start()
        try:
            await say(emulator.new_user(first_name="Pat"), "/start")
            files = [p for p in folder.iterdir() if p.name.startswith("confide.db")]
            assert {p.name for p in files} >= {"confide.db", "confide.db-wal"}
            for path in files:
                assert mode(path) == 0o600, path.name
        finally:
            await bot.stop()
    finally:
        os.umask(old)


async def test_the_privacy_notice_promises_only_what_is_true(
    emulator: BotApiEmulator, bot: InProcessBot
) -> None:
    english = await say(emulator.new_user(first_name="Ed", language_code="en"), "/privacy")
    assert "Responders never see your Telegram account" in english.text
    assert "keyed fingerprint of your Telegram account while you use this chat" in english.text
    assert "it sees that your account talks to this bot" in english.text
    assert "The organisation cannot see it" not in english.text  # its bot host does see it
    chinese = await say(emulator.new_user(first_name="Zhu", language_code="zh-hans"), "/privacy")
    assert "处理人员永远看不到您的 Telegram 账号" in chinese.text
    assert "加密指纹" in chinese.text
    assert "Telegram 能看到您的账号在与这个机器人对话" in chinese.text
