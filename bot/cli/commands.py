"""The operator's everyday commands: init, run, migrate, invite, audit verify, tick."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
from datetime import UTC, datetime, tzinfo
from importlib import resources
from pathlib import Path

from bot import logs
from bot.config import ConfigError, config_path, load_settings
from bot.crypto import Keyring
from bot.store.database import sqlite_path
from bot.store.session import Engine as AsyncEngine
from bot.store.session import Sessions


def init() -> int:
    target = config_path(os.environ)
    template = resources.files("bot").joinpath("config.example.toml").read_text(encoding="utf-8")
    if target.exists():
        raise ConfigError(f"{target} already exists; not overwriting it.")
    target.parent.mkdir(parents=True, exist_ok=True)
    default_key_file = target.parent / "confide.keys"
    key_file = Path(os.environ.get("CONFIDE_KEY_FILE") or default_key_file)
    if key_file.exists():
        raise ConfigError(f"{key_file} already exists; not overwriting it.")
    Keyring.generate().write_new_file(key_file)
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(template)
    print(f"Wrote {target} and {key_file} (both mode 0600).")
    print("Back up the key file apart from the database: without it no report can be read.")
    database = sqlite_path(load_settings().database_url)
    if database is not None and database.parent.resolve() == key_file.parent.resolve():
        print(
            f"Warning: the key file is in the same folder as the database ({database.parent}). "
            "A copy of that folder (a backup, a stolen disk) holds both, and with both "
            "every report can be read. Move the key file elsewhere (for example "
            "/etc/confide/confide.keys, readable only by the bot's user) and set [keys] file."
        )
    print("Next: TELEGRAM_BOT_TOKEN=... confide run")
    return 0


async def new_keys() -> int:
    """`confide init --keys`: config.toml exists, the key file does not, and the database
    holds nothing that needs the old keys — so nothing is lost by making new ones."""
    from bot.store.contents import adopt_keys
    from bot.store.database import create_engine
    from bot.store.problems import check_reachable

    settings = load_settings()
    target = config_path(os.environ)
    if not target.exists():
        raise ConfigError(f"{target} does not exist: run `confide init` (without --keys) first.")
    if settings.key_file is None:
        raise ConfigError("no key file is configured ([keys] file in config.toml).")
    if settings.key_file.exists():
        raise ConfigError(f"{settings.key_file} already exists; not overwriting it.")
    keyring = Keyring.generate()
    engine = create_engine(settings.database_url)
    try:
        await check_reachable(engine)
        held = await adopt_keys(engine, keyring)
    finally:
        await engine.dispose()
    if not held.nothing:
        raise ConfigError(_restore_advice(settings.key_file, held.reports, held.rows))
    keyring.write_new_file(settings.key_file)
    print(f"Wrote {settings.key_file} (mode 0600). The database held nothing, so nothing was lost.")
    print("Back up the key file apart from the database: without it no report can be read.")
    return 0


async def missing_keys(path: Path) -> str:
    """What to do about a missing key file: it depends on what the database holds."""
    from bot.store.contents import held
    from bot.store.database import create_engine
    from bot.store.problems import DatabaseProblem, check_reachable

    engine = create_engine(load_settings().database_url)
    try:
        await check_reachable(engine)
        found = await held(engine)
    except DatabaseProblem:
        return f"the key file {path} does not exist: restore it from its backup."
    finally:
        await engine.dispose()
    if found.nothing:
        return (
            f"the key file {path} does not exist, and the database holds nothing yet: "
            "`confide init --keys` makes new keys."
        )
    return _restore_advice(path, found.reports, found.rows)


def _restore_advice(path: Path, reports: int, rows: int) -> str:
    what = f"{reports} report{'s' if reports != 1 else ''}" if reports else f"{rows} sealed rows"
    return (
        f"the key file {path} does not exist and the database holds {what}: restore the key file "
        "from its backup. Without it, they are lost; new keys cannot read them."
    )


def run(*, webhook: bool = False) -> int:
    settings = load_settings()
    if webhook:
        settings = dataclasses.replace(settings, mode="webhook")
    logs.configure(settings.log_level, secrets=[settings.token or ""])
    from bot.runtime import serve

    async def main_loop() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve(settings, stop)

    asyncio.run(main_loop())
    return 0


async def migrate_only() -> int:
    """Schema migrations, then the keyed steps that convert sealed data (these need the keys;
    without any configured, only what needs no keys is done, and the message says so)."""
    settings = load_settings()
    logs.configure(settings.log_level)
    from bot.opening import load_keyring
    from bot.store.database import create_engine, migrate
    from bot.store.problems import check_reachable

    keyring = load_keyring(settings) if settings.has_keys() else None
    engine = create_engine(settings.database_url)
    try:
        await check_reachable(engine)
        await migrate(engine, keyring=keyring)
    finally:
        await engine.dispose()
    print("Database is up to date.")
    return 0


async def invite_code(role: str, name: str) -> int:
    settings = load_settings()
    logs.configure("WARNING")
    from datetime import timedelta

    from bot.services.enrolment import create_invite

    engine, sessions, keyring = await open_database()
    try:
        valid_for = timedelta(hours=settings.invite_hours)
        async with sessions.begin() as session:
            code = await create_invite(session, keyring, role, name, datetime.now(UTC), valid_for)
    finally:
        await engine.dispose()
    print(f"Enrolment code for {name} ({role}), valid {settings.invite_hours:g} hours, one use:")
    print(f"  /enroll {code}")
    print("They send that to the bot in a private chat.")
    return 0


async def open_database() -> tuple[AsyncEngine, Sessions, Keyring]:
    """The database, checked against the keys, as the bot itself opens it."""
    settings = load_settings()
    from bot.opening import load_keyring, prepare_database
    from bot.services.keys import check_keys
    from bot.store.database import create_engine, session_factory

    keyring = load_keyring(settings)
    engine = create_engine(settings.database_url)
    try:
        await prepare_database(settings, engine, keyring)
        sessions = session_factory(engine)
        await check_keys(sessions, keyring)
    except BaseException:
        await engine.dispose()
        raise
    return engine, sessions, keyring


async def audit_anchor() -> int:
    """Print the log's head, to keep outside the database (see docs/security.md)."""
    logs.configure("WARNING")
    from bot.services.audit import anchor

    engine, sessions, _ = await open_database()
    try:
        async with sessions.begin() as session:
            print(await anchor(session))
    finally:
        await engine.dispose()
    return 0


async def tick_once(now_text: str | None) -> int:
    """One round of what the running bot does on its clock: deadlines (reminders,
    escalations) and retention. Usable from cron, and for drills with `--now`."""
    settings = load_settings()
    logs.configure(settings.log_level)
    from bot.services.deadlines import DeadlineWatch
    from bot.services.retention import RetentionWatch

    now = datetime.now(UTC) if now_text is None else _moment(now_text, settings.timezone)
    engine, sessions, keyring = await open_database()
    try:
        fired = await DeadlineWatch(sessions, keyring, settings.levels, lambda: now).scan()
        kept = await RetentionWatch(sessions, keyring, settings.retention, lambda: now).run()
    finally:
        await engine.dispose()
    print(f"{fired} deadline actions fired")
    print(f"retention: {kept.warned} warned, {kept.shredded} shredded, {kept.deleted} deleted")
    return 0


def _moment(text: str, zone: tzinfo) -> datetime:
    """An ISO time; without an offset it is read in the organisation's time zone."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(
            f"--now {text!r} is not a time: write it like 2026-08-02T09:30 (read in the "
            "organisation's time zone) or 2026-08-02T09:30+08:00."
        ) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=zone)).astimezone(UTC)
