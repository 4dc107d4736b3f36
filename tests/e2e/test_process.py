"""The bot as an operator runs it: `python -m bot run`, a real process, against the emulator."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from harness import REPO, SubprocessBot

from bot.devserver import BotApiEmulator

WAIT = 20.0


async def test_restart_between_two_answers_loses_nothing_and_logs_no_secrets(
    emulator: BotApiEmulator, bot_env: dict[str, str], tmp_path: Path, migrated: object
) -> None:
    bot = SubprocessBot({**bot_env, "CONFIDE_LOG_LEVEL": "DEBUG"}, tmp_path / "bot.log")
    await bot.start()
    try:
        zoe = emulator.new_user(first_name="Zoe", username="zoe_private", language_code="en")
        await zoe.send("/start")
        await zoe.next_message(WAIT)
        await zoe.click("Make a report")
        await zoe.next_message(WAIT)
        await zoe.click("Sexual assault")
        assert "Question 2/" in (await zoe.next_message(WAIT)).text

        assert await bot.stop() == 0  # a clean stop (SIGTERM)
        await bot.start()
        await zoe.send("2026-08-02")
        assert "Question 3/" in (await zoe.next_message(WAIT)).text

        await bot.kill()  # a crash: no chance to tidy up
        await bot.start()
        await zoe.click("Once")
        assert "Question 4/" in (await zoe.next_message(WAIT)).text
        await zoe.click("Online or by message")
        assert "Question 5/" in (await zoe.next_message(WAIT)).text
        account = "My supervisor messaged me at night: secret-account-text"
        await zoe.send(account)
        assert "Question 6/" in (await zoe.next_message(WAIT)).text
    finally:
        await bot.stop()

    log = bot.log
    assert "event=started" in log
    for secret in (account, "secret-account-text", str(zoe.id), "Zoe", "zoe_private", "TEST-TOKEN"):
        assert secret not in log, f"{secret!r} leaked into the log"


def run_cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env={**os.environ, **env, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_init_writes_config_and_a_private_key_file_once(tmp_path: Path) -> None:
    env = {"CONFIDE_CONFIG": str(tmp_path / "config.toml")}
    first = run_cli("init", env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    config, keys = tmp_path / "config.toml", tmp_path / "confide.keys"
    assert config.read_text() == (REPO / "config.example.toml").read_text()
    assert oct(keys.stat().st_mode & 0o777) == "0o600"
    original = keys.read_text()
    again = run_cli("init", env=env, cwd=tmp_path)
    assert again.returncode == 2
    assert "already exists" in again.stderr
    assert keys.read_text() == original
    config.unlink()
    third = run_cli("init", env=env, cwd=tmp_path)  # config gone, key file still there
    assert third.returncode == 2 and "confide.keys already exists" in third.stderr
    assert keys.read_text() == original


def test_wrong_key_stops_the_start_with_a_clear_message(
    bot_env: dict[str, str], tmp_path: Path
) -> None:
    from bot.crypto import Keyring

    migrated = run_cli("migrate", env=bot_env, cwd=tmp_path)
    assert migrated.returncode == 0, migrated.stderr
    # First run records the keys; we only need its start-up, so give it a dead Bot API.
    env = {**bot_env, "CONFIDE_TELEGRAM_BASE_URL": "http://127.0.0.1:9/bot"}
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        cwd=tmp_path,
        env={**os.environ, **env, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)
    wrong = run_cli("run", env={**env, "CONFIDE_KEYS": Keyring.generate().dump()}, cwd=tmp_path)
    assert wrong.returncode == 2
    assert "key file" in wrong.stderr
    assert "Traceback" not in wrong.stderr

    missing = run_cli(
        "run",
        env={k: v for k, v in env.items() if k != "CONFIDE_KEYS"}
        | {"CONFIDE_KEY_FILE": str(tmp_path / "nope.keys")},
        cwd=tmp_path,
    )
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_a_bare_confide_explains_itself_and_starts_nothing(tmp_path: Path) -> None:
    env = {"CONFIDE_CONFIG": str(tmp_path / "config.toml"), "CONFIDE_TELEGRAM_TOKEN": "1:x"}
    bare = run_cli(env=env, cwd=tmp_path)
    assert bare.returncode == 0, bare.stderr
    assert not (tmp_path / "confide.db").exists()  # no bot started, no database made
    described = run_cli("--help", env=env, cwd=tmp_path)
    assert described.stdout == bare.stdout
    for command in ("init", "run", "migrate", "invite", "tick", "audit verify", "audit anchor"):
        assert command in bare.stdout, command
    for command in ("keys rotate", "keys retire", "responders list", "invites list"):
        assert command in bare.stdout, command


def test_confide_version_is_the_installed_version(tmp_path: Path) -> None:
    from importlib.metadata import version

    shown = run_cli("--version", env={}, cwd=tmp_path)
    assert shown.returncode == 0
    assert shown.stdout.strip() == f"confide {version('confide')}"
