"""`confide check`: every start-up check of `confide run`, without starting the bot. One
line per check; the exit code is 1 if any failed. A check that needs an earlier one which
failed is skipped, and says so."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.engine import make_url
from telegram.error import InvalidToken

from bot.config import ConfigError, Settings, config_path, load_settings
from bot.crypto import CryptoError, Keyring
from bot.intake.questionnaire import QuestionnaireError
from bot.store.problems import DatabaseProblem
from bot.store.session import Sessions
from bot.telegram.app import REFUSED_BY_TELEGRAM, TelegramUnreachable

OK, FAILED, SKIPPED = "ok", "FAIL", "skip"
# What a failed check raises: its message is the line.
PROBLEMS = (ConfigError, CryptoError, QuestionnaireError, DatabaseProblem, TelegramUnreachable)


@dataclass
class Line:
    outcome: str
    name: str
    text: str

    def __str__(self) -> str:
        return f"{self.outcome:<5} {self.name:<10} {self.text}"


class Checks:
    """The checks in order; what each finds is kept for those after it."""

    def __init__(self) -> None:
        self.lines: list[Line] = []
        self.settings: Settings | None = None
        self.keyring: Keyring | None = None
        self.sessions: Sessions | None = None
        self.unmigrated = False  # a SQLite database that `confide run` will migrate

    async def run(self, name: str, check: Callable[[], Awaitable[str]], *needs: object) -> None:
        if any(need is None for need in needs):
            self._say(Line(SKIPPED, name, "not checked: an earlier check failed"))
            return
        try:
            self._say(Line(OK, name, await check()))
        except InvalidToken:
            self._say(Line(FAILED, name, REFUSED_BY_TELEGRAM))
        except PROBLEMS as problem:
            self._say(Line(FAILED, name, str(problem)))

    def _say(self, line: Line) -> None:
        self.lines.append(line)
        print(line, flush=True)

    @property
    def failed(self) -> bool:
        return any(line.outcome != OK for line in self.lines)


async def check() -> int:
    from bot import logs

    logs.configure("WARNING")
    checks = Checks()
    engine = None
    try:

        async def config() -> str:
            checks.settings = load_settings()
            path = config_path_text()
            if not path:
                return "no config file: everything from the environment"
            return f"{path} read; every section and key is known"

        await checks.run("config", config)
        settings = checks.settings

        async def zone() -> str:
            assert settings is not None
            now = datetime.now(UTC).astimezone(settings.timezone)
            return f"{settings.timezone.key}: it is {now.isoformat(timespec='minutes')} there"

        await checks.run("time zone", zone, settings)

        async def questions() -> str:
            from bot.intake.questionnaire import load_questionnaire

            assert settings is not None
            questionnaire = load_questionnaire(settings.questionnaire)
            where = settings.questionnaire or "the built-in questionnaire"
            return f"{where}: {len(questionnaire.questions)} questions"

        await checks.run("questions", questions, settings)

        async def keys() -> str:
            from bot.opening import KeyFileMissing, load_keyring

            assert settings is not None
            try:
                checks.keyring = load_keyring(settings)
            except KeyFileMissing as missing:
                from bot.cli.commands import missing_keys

                raise ConfigError(await missing_keys(missing.path)) from None
            where = "CONFIDE_KEYS" if settings.key_material else f"key file {settings.key_file}"
            count = len(checks.keyring.kek_ids)
            return f"{where}: {count} key-encryption key{'s' if count != 1 else ''}"

        await checks.run("keys", keys, settings)

        async def database() -> str:
            from bot.services.keys import keys_known
            from bot.store.database import (
                create_engine,
                is_sqlite,
                pending_migrations,
                session_factory,
            )
            from bot.store.problems import check_reachable

            nonlocal engine
            assert settings is not None and checks.keyring is not None
            engine = create_engine(settings.database_url)
            await check_reachable(engine)
            where = make_url(settings.database_url).render_as_string(hide_password=True)
            if await pending_migrations(engine):
                if not is_sqlite(settings.database_url):
                    raise ConfigError(
                        f"{where} is reachable, but its schema is not up to date: run "
                        "`confide migrate`."
                    )
                checks.unmigrated = True
                return f"{where}: reachable; `confide run` brings its schema up to date"
            sessions = session_factory(engine)
            known = await keys_known(sessions, checks.keyring)
            checks.sessions = sessions
            if not known:
                return f"{where}: reachable and migrated; it records these keys at first start"
            return f"{where}: reachable and migrated, and these keys are its keys"

        await checks.run("database", database, settings, checks.keyring)

        async def telegram() -> str:
            from bot.telegram.app import build_bot, connected

            assert settings is not None
            settings.require_token()
            async with connected(build_bot(settings), settings.base_url) as bot:
                return f"reachable; the token is @{bot.username}'s"

        await checks.run("telegram", telegram, settings)

        async def people() -> str:
            from bot.services.people import staffing

            if checks.unmigrated:
                raise ConfigError(
                    "nobody is enrolled in a database whose schema is not up to date: run "
                    "`confide migrate`, then `confide invite --role admin --name NAME`."
                )
            assert checks.sessions is not None and checks.keyring is not None
            responders, admins = await staffing(checks.sessions, checks.keyring)
            if not admins:
                raise ConfigError(
                    f"{_count(responders, 'responder')} and no admin: nobody is told when a "
                    "case is escalated. Enrol one: `confide invite --role admin --name NAME`."
                )
            if not responders:
                raise ConfigError(
                    f"{_count(admins, 'admin')} and no responder: enrol one with "
                    "`confide invite --name NAME`."
                )
            return f"{_count(responders, 'responder')} and {_count(admins, 'admin')}, active"

        await checks.run("people", people, checks.sessions or checks.unmigrated or None)
    finally:
        if engine is not None:
            await engine.dispose()
    if checks.failed:
        print("Some checks failed: fix them, then run `confide check` again.", file=sys.stderr)
        return 1
    print("Everything `confide run` needs is in place.")
    return 0


def config_path_text() -> str:
    import os

    path = config_path(os.environ)
    return str(path) if path.is_file() else ""


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"
