"""`confide init | run | migrate` — the operator's commands."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from importlib import resources
from pathlib import Path

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
    args = parser.parse_args(argv)
    try:
        if args.command == "init":
            return init()
        if args.command == "migrate":
            return asyncio.run(migrate_only())
        return run()
    except (ConfigError, CryptoError, QuestionnaireError) as error:
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
