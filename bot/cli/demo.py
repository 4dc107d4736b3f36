"""`confide demo`: the real bot, in one process, against the project's Bot API emulator
(bot.devserver) on 127.0.0.1, with a web page showing a reporter's, a responder's and an
admin's chats. No token and no network: everything goes over HTTP exactly as with Telegram.
The bot's clock is the one seam the demo adds (`serve(clock=...)`, which `confide run` never
passes): "Skip 1 day" moves it, so reminders and escalations can be seen happening.
A new demo's people say their first words (enrolling, /start) once the page has said which
language they speak, so that the bot greets them, and remembers the staff, in it."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import logs
from bot.config import load_settings
from bot.crypto import Keyring
from bot.devserver import BotApiEmulator, UserClient
from bot.devserver.web import Person, page_app
from bot.opening import load_keyring
from bot.runtime import serve
from bot.services.enrolment import create_invite
from bot.store.database import create_engine, session_factory
from bot.store.peek import raw_rows

TOKEN = "123456:DEMO-TOKEN-NOT-A-SECRET"  # noqa: S105 - the emulator's, valid nowhere else
BOT_USERNAME = "confide_demo_bot"
# (role, first name): the responder and the admin enrol under their first names.
CAST = (("reporter", "Rea"), ("responder", "Dan"), ("admin", "Ada"))
CONFIG = """\
# confide demo's settings: the shipped defaults, except that deadlines are checked every 2
# seconds, so that what "Skip 1 day" makes due shows up at once, and a case must be claimed
# within 2 days (not 1), so that one skip shows the reminder and the next the escalation.
[telegram]
poll_timeout = 1
[service_levels]
scan_seconds = 2
claim_hours = 48
"""
STARTED = 30.0  # seconds the bot may take to start, and a person to be welcomed


@dataclass
class Saved:
    """What `--keep DIR` keeps beside the database and keys, to continue where it was."""

    users: dict[str, int] = field(default_factory=dict)  # role -> Telegram user id
    enrolled: bool = False
    skipped_days: int = 0

    @classmethod
    def load(cls, folder: Path) -> Saved:
        path = folder / "demo.json"
        return cls(**json.loads(path.read_text(encoding="utf-8"))) if path.exists() else cls()

    def save(self, folder: Path) -> None:
        (folder / "demo.json").write_text(json.dumps(asdict(self)), encoding="utf-8")


class DemoClock:
    """Real time, moved on by whole days at the visitor's request."""

    def __init__(self, folder: Path, saved: Saved) -> None:
        self.folder, self.saved = folder, saved

    def __call__(self) -> datetime:
        return datetime.now(UTC) + timedelta(days=self.saved.skipped_days)

    def seconds(self) -> float:
        return self().timestamp()


class Controls:
    """The page's clock, database panel and language (bot.devserver.web.Controls)."""

    def __init__(
        self, clock: DemoClock, database_url: str, welcome: Callable[[], Awaitable[None]]
    ) -> None:
        self.clock = clock
        self.engine = create_engine(database_url)
        self.welcome = welcome
        self.welcoming = asyncio.Lock()  # two pages opened at once welcome them once

    def now(self) -> datetime:
        return self.clock()

    async def skip_day(self) -> None:
        self.clock.saved.skipped_days += 1
        self.clock.saved.save(self.clock.folder)

    async def database(self) -> list[dict[str, Any]]:
        return [asdict(table) for table in await raw_rows(self.engine)]

    async def language_chosen(self, language_code: str) -> None:
        async with self.welcoming:
            if not self.clock.saved.enrolled:
                await self.welcome()


def demo(port: int, keep: str | None) -> int:
    folder = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="confide-demo-"))
    try:
        folder.mkdir(parents=True, exist_ok=True)
        return asyncio.run(_demo(folder, port))
    finally:
        if keep is None:
            shutil.rmtree(folder, ignore_errors=True)


async def _demo(folder: Path, port: int) -> int:
    logs.configure("ERROR")  # the console shows the one line that says where to look
    saved = Saved.load(folder)
    clock = DemoClock(folder, saved)
    env = _environment(folder)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with BotApiEmulator(token=TOKEN, bot_username=BOT_USERNAME, clock=clock.seconds) as emu:
        env["CONFIDE_TELEGRAM_BASE_URL"] = emu.base_url
        env["CONFIDE_TELEGRAM_BASE_FILE_URL"] = emu.base_file_url
        settings = load_settings(env)
        people = [_person(emu, saved, role, name) for role, name in CAST]
        saved.save(folder)  # their ids, before anyone writes to the bot

        async def welcome() -> None:
            await _welcome(emu, settings.database_url, people, saved, folder)

        controls = Controls(clock, settings.database_url, welcome)
        runner = web.AppRunner(page_app(emu, people, controls), access_log=None)  # ids in URLs
        await runner.setup()
        try:
            await web.TCPSite(runner, "127.0.0.1", port).start()
        except OSError as error:
            await runner.cleanup()
            await controls.engine.dispose()
            taken = error.errno == errno.EADDRINUSE
            print(
                f"confide: port {port} is {'in use' if taken else 'not available'} "
                "on 127.0.0.1: choose another with --port.",
                file=sys.stderr,
            )
            return 2
        ready = asyncio.Event()
        bot = asyncio.create_task(serve(settings, stop, ready, clock=clock))
        try:
            await _started(bot, ready)
            print(
                f"Confide demo: open http://127.0.0.1:{port}/ to see a reporter, a responder "
                "and an admin use the real bot through a local copy of Telegram (no network, "
                "no token). Ctrl+C stops it.",
                flush=True,
            )
            await asyncio.wait(
                {bot, asyncio.create_task(stop.wait())}, return_when="FIRST_COMPLETED"
            )
        finally:
            stop.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(bot, 30)
            await runner.cleanup()
            await controls.engine.dispose()
    if bot.done() and not bot.cancelled():
        bot.result()  # what stopped the bot, if anything did: the CLI gives it its one line
    return 0


def _environment(folder: Path) -> dict[str, str]:
    """The settings an operator would write, for a demo folder: its own database and keys."""
    config, keys = folder / "config.toml", folder / "confide.keys"
    if not config.exists():
        config.write_text(CONFIG, encoding="utf-8")
    if not keys.exists():
        keys.touch(mode=0o600)
        keys.write_text(Keyring.generate().dump(), encoding="utf-8")
    return {
        "CONFIDE_CONFIG": str(config),
        "CONFIDE_TELEGRAM_TOKEN": TOKEN,
        "CONFIDE_DATABASE_URL": f"sqlite+aiosqlite:///{folder / 'confide.db'}",
        "CONFIDE_KEY_FILE": str(keys),
        "CONFIDE_LOG_LEVEL": "ERROR",
        # A demo beside a real bot must not take its health port.
        "CONFIDE_HEALTH_ENABLED": "false",
        "PATH": os.environ.get("PATH", ""),
    }


def _person(emu: BotApiEmulator, saved: Saved, role: str, name: str) -> Person:
    user = emu.new_user(first_name=name, language_code="en", user_id=saved.users.get(role))
    saved.users[role] = user.id
    return Person(role=role, name=f"{name} ({role})", user=user)


async def _started(bot: asyncio.Task[None], ready: asyncio.Event) -> None:
    waiter = asyncio.create_task(ready.wait())
    done, _ = await asyncio.wait({bot, waiter}, timeout=STARTED, return_when="FIRST_COMPLETED")
    if bot in done:
        waiter.cancel()
        bot.result()  # raises what stopped it
    if waiter not in done:
        raise TimeoutError("the bot did not start within 30 seconds")


async def _welcome(
    emu: BotApiEmulator, database_url: str, people: list[Person], saved: Saved, folder: Path
) -> None:
    """On a new demo, in the language the page chose for them: the responder and the admin
    enrol with one-time codes, as people do, and the reporter presses Start."""
    if not saved.enrolled:
        keyring = load_keyring(load_settings(_environment(folder)))
        engine = create_engine(database_url)
        try:
            for person in people:
                if person.role != "reporter":
                    await _enrol(engine, keyring, person.user, person.role, person.name)
        finally:
            await engine.dispose()
        reporter = next(p.user for p in people if p.role == "reporter")
        await reporter.send("/start")
        saved.enrolled = True
        saved.save(folder)


async def _enrol(
    engine: AsyncEngine, keyring: Keyring, user: UserClient, role: str, name: str
) -> None:
    async with session_factory(engine).begin() as session:
        code = await create_invite(
            session, keyring, role, name.split(" ")[0], datetime.now(UTC), timedelta(hours=1)
        )
    await user.send(f"/enroll {code}")
    await user.next_message(STARTED)
