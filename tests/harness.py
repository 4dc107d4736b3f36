"""Running the real bot against the emulator: in this process, or as a separate OS process."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import Settings, load_settings
from bot.crypto import Keyring
from bot.devserver import BotApiEmulator, UserClient
from bot.runtime import serve
from bot.services.enrolment import create_invite
from bot.store.database import session_factory

REPO = Path(__file__).resolve().parent.parent
TOKEN = "123456:TEST-TOKEN"
BOT_USERNAME = "confide_test_bot"
CONFIDE_TIMEOUT = 300.0  # seconds a `confide` command may take in a test


def bot_environment(
    tmp_path: Path, database_url: str, base_url: str, keys: str, **extra: str
) -> dict[str, str]:
    """The environment an operator would set; the config file holds the rest."""
    config = tmp_path / "config.toml"
    if not config.exists():
        config.write_text(
            "[telegram]\npoll_timeout = 1\n[intake]\ndraft_max_age_hours = 72\n",
            encoding="utf-8",
        )
    return {
        "CONFIDE_CONFIG": str(config),
        "CONFIDE_TELEGRAM_TOKEN": TOKEN,
        "CONFIDE_TELEGRAM_BASE_URL": base_url,
        "CONFIDE_TELEGRAM_BASE_FILE_URL": base_url.replace("/bot", "/file/bot"),
        "CONFIDE_DATABASE_URL": database_url,
        "CONFIDE_KEYS": keys,
        # Bots in tests do not take the operator's fixed health port (9465): tests run side
        # by side. tests/e2e/test_health.py opens it, on a free port.
        "CONFIDE_HEALTH_ENABLED": "false",
        **extra,
    }


class InProcessBot:
    """`bot.runtime.serve` as a task in the test's event loop."""

    def __init__(self, env: Mapping[str, str], clock: Callable[[], datetime] | None = None) -> None:
        self.env = dict(env)
        self.clock = clock
        self.task: asyncio.Task[None] | None = None
        self.stop_event = asyncio.Event()

    @property
    def settings(self) -> Settings:
        return load_settings(self.env)

    async def start(self) -> None:
        self.stop_event = asyncio.Event()
        ready = asyncio.Event()
        if self.clock is None:
            self.task = asyncio.create_task(serve(self.settings, self.stop_event, ready))
        else:
            self.task = asyncio.create_task(
                serve(self.settings, self.stop_event, ready, clock=self.clock)
            )
        waiter = asyncio.create_task(ready.wait())
        done, _ = await asyncio.wait({self.task, waiter}, timeout=30, return_when="FIRST_COMPLETED")
        if self.task in done:
            waiter.cancel()
            self.task.result()  # raises the start-up error
        if waiter not in done:
            raise AssertionError("bot did not start within 30 s")

    async def stop(self) -> None:
        if self.task is None:
            return
        self.stop_event.set()
        await asyncio.wait_for(self.task, 30)
        self.task = None

    async def restart(self) -> None:
        await self.stop()
        await self.start()


class SubprocessBot:
    """`python -m bot run` exactly as an operator starts it."""

    def __init__(
        self, env: Mapping[str, str], log_path: Path, args: Sequence[str] = ("run",)
    ) -> None:
        self.env = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
        self.log_path = log_path
        self.args = list(args)
        self.process: subprocess.Popen[bytes] | None = None

    async def start(self, ready_when: object = None) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 - closed with the process
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot", *self.args],
            cwd=REPO,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        for _ in range(300):
            if "event=started" in self.log:
                return
            if self.process.poll() is not None:
                raise AssertionError(f"bot exited with {self.process.returncode}:\n{self.log}")
            await asyncio.sleep(0.05)
        raise AssertionError(f"bot did not start:\n{self.log}")

    @property
    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    async def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.process is None:
            return 0
        self.process.send_signal(sig)
        for _ in range(300):
            if self.process.poll() is not None:
                break
            await asyncio.sleep(0.05)
        else:
            self.process.kill()
        code = self.process.wait()
        self.process = None
        return code

    async def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            await self.stop(signal.SIGKILL)


async def confide(
    *args: str, env: Mapping[str, str], stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m bot ARGS` as an operator runs it, without blocking the event loop."""
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "bot", *args],
        cwd=REPO,
        env=dict(env),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=CONFIDE_TIMEOUT,
    )


async def invite(engine: AsyncEngine, keyring: Keyring, name: str, role: str = "responder") -> str:
    """What `confide invite` does: a one-time enrolment code."""
    async with session_factory(engine).begin() as session:
        return await create_invite(
            session, keyring, role, name, datetime.now(UTC), timedelta(hours=24)
        )


async def enrol(
    emulator: BotApiEmulator,
    engine: AsyncEngine,
    keyring: Keyring,
    name: str,
    role: str = "responder",
    language: str = "en",
) -> UserClient:
    """A new person who sends /enroll CODE and is welcomed."""
    person = emulator.new_user(first_name=name, language_code=language)
    code = await invite(engine, keyring, name, role)
    await person.send(f"/enroll {code}")
    welcome = await person.next_message(20.0)
    greeting = "欢迎，" if language == "zh" else "Welcome, "
    assert f"{greeting}{name}" in welcome.text, welcome.text
    return person
