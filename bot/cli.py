"""`confide init | run | migrate` — the operator's commands."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from importlib import resources
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot import logs
from bot.config import ConfigError, config_path, load_settings
from bot.crypto import CryptoError, Keyring
from bot.intake.questionnaire import QuestionnaireError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="confide", description=__doc__)
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("init", help="write config.toml and a new key file (never overwrites)")
    commands.add_parser("run", help="run the bot (long polling); the default")
    commands.add_parser("migrate", help="apply pending database migrations")
    invite = commands.add_parser("invite", help="print a one-time code to enrol a responder")
    invite.add_argument("--role", choices=("responder", "admin"), default="responder")
    invite.add_argument("--name", required=True, help="display name shown to colleagues")
    audit = commands.add_parser("audit", help="check the audit log's hash chain")
    audit.add_argument("action", choices=("verify",))
    tick = commands.add_parser("tick", help="fire due reminders and escalations once, and exit")
    tick.add_argument("--now", help="ISO time to act as now (for tests and drills)")
    args = parser.parse_args(argv)
    try:
        if args.command == "init":
            return init()
        if args.command == "migrate":
            return asyncio.run(migrate_only())
        if args.command == "invite":
            return asyncio.run(invite_code(args.role, args.name))
        if args.command == "audit":
            return asyncio.run(verify_audit())
        if args.command == "tick":
            return asyncio.run(tick_once(args.now))
        return run()
    except (ConfigError, CryptoError, QuestionnaireError, ValueError) as error:
        print(f"confide: {error}", file=sys.stderr)
        return 2


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
    with open(target, "x", encoding="utf-8") as handle:
        handle.write(template)
    print(f"Wrote {target} and {key_file} (mode 0600).")
    print("Back up the key file apart from the database: without it no report can be read.")
    print("Next: TELEGRAM_BOT_TOKEN=... confide run")
    return 0


def run() -> int:
    settings = load_settings()
    logs.configure(settings.log_level)
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
    settings = load_settings()
    logs.configure(settings.log_level)
    from bot.store.database import create_engine, migrate

    engine = create_engine(settings.database_url)
    try:
        await migrate(engine)
    finally:
        await engine.dispose()
    print("Database is up to date.")
    return 0


async def invite_code(role: str, name: str) -> int:
    settings = load_settings()
    logs.configure("WARNING")
    from datetime import UTC, datetime, timedelta

    from bot.services.responder import create_invite

    engine, sessions, keyring = await _open_database()
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


async def _open_database() -> tuple[AsyncEngine, async_sessionmaker[AsyncSession], Keyring]:
    settings = load_settings()
    from bot.runtime import check_keys, load_keyring, prepare_database
    from bot.store.database import create_engine, session_factory

    keyring = load_keyring(settings)
    engine = create_engine(settings.database_url)
    await prepare_database(settings, engine)
    sessions = session_factory(engine)
    await check_keys(sessions, keyring)
    return engine, sessions, keyring


async def verify_audit() -> int:
    """Exit 0 if the chain holds; 1, saying where, if anything was changed or removed."""
    logs.configure("WARNING")
    from bot.services.audit import verify

    engine, sessions, keyring = await _open_database()
    try:
        async with sessions.begin() as session:
            count, breaks = await verify(session, keyring)
    finally:
        await engine.dispose()
    if breaks:
        for problem in breaks:
            print(f"audit log broken at entry {problem.seq}: {problem.problem}", file=sys.stderr)
        return 1
    print(f"audit log intact: {count} entries")
    return 0


async def tick_once(now_text: str | None) -> int:
    """One deadline scan, as the running bot does every few seconds (usable from cron)."""
    from datetime import UTC, datetime

    settings = load_settings()
    logs.configure(settings.log_level)
    from bot.services.deadlines import DeadlineWatch

    now = datetime.fromisoformat(now_text) if now_text else datetime.now(UTC)
    engine, sessions, keyring = await _open_database()
    try:
        watch = DeadlineWatch(sessions, keyring, settings.levels, lambda: now)
        fired = await watch.scan()
    finally:
        await engine.dispose()
    print(f"{fired} deadline actions fired")
    return 0
