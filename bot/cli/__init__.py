"""Confide, an anonymous reporting channel on Telegram: the operator's commands.
`confide run` starts the bot; `confide init` first, on a new machine."""

from __future__ import annotations

import argparse
import asyncio
import sys
from importlib.metadata import PackageNotFoundError, version

from bot.config import ConfigError
from bot.crypto import CryptoError
from bot.opening import KeyFileMissing


def main(argv: list[str] | None = None) -> int:
    # Each command loads what it uses: `confide run` the whole bot, `audit verify` the
    # database and the keys only (and the processes it starts, the same).
    from bot.cli import commands, people, webhook

    parser = argparse.ArgumentParser(
        prog="confide", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"confide {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    init = sub.add_parser("init", help="write config.toml and a new key file (never overwrites)")
    init.add_argument(
        "--keys",
        action="store_true",
        help="only a new key file, when config.toml exists and the database holds nothing yet",
    )
    run = sub.add_parser("run", help="run the bot (long polling, or --webhook)")
    run.add_argument(
        "--webhook",
        action="store_true",
        help='take updates Telegram posts to [webhook] url (as [telegram] mode = "webhook")',
    )
    sub.add_parser("migrate", help="apply pending database migrations")
    sub.add_parser("check", help="run every start-up check without starting the bot")
    invite = sub.add_parser("invite", help="print a one-time code to enrol a responder")
    invite.add_argument("--role", choices=("responder", "admin"), default="responder")
    invite.add_argument("--name", required=True, help="display name shown to colleagues")
    audit = sub.add_parser(
        "audit", help="audit verify: check the audit log's hash chain; audit anchor: its head"
    )
    audit.add_argument(
        "action",
        choices=("verify", "anchor"),
        help="verify: check the chain; anchor: print the head to keep outside the database",
    )
    audit.add_argument(
        "--anchor",
        action="append",
        metavar="SEQ:LINK",
        help="with verify: an anchor printed earlier (by `audit anchor` or the bot's log)",
    )
    tick = sub.add_parser("tick", help="fire due reminders and escalations once, and exit")
    tick.add_argument("--now", help="ISO time to act as now (for tests and drills)")
    keys_parser = sub.add_parser(
        "keys", help="keys rotate: a new key-encryption key; keys retire ID: drop an old one"
    )
    keys_sub = keys_parser.add_subparsers(dest="keys_command", required=True)
    rotate = keys_sub.add_parser(
        "rotate", help="add a new key-encryption key and re-wrap every data key under it"
    )
    rotate.add_argument(
        "--wait",
        type=float,
        default=120.0,
        help="seconds to wait for running bots to load the new key (default 120)",
    )
    rotate.add_argument(
        "--batch",
        type=int,
        default=500,
        help="data keys re-wrapped per transaction (default 500; smaller holds locks shorter)",
    )
    retire = keys_sub.add_parser("retire", help="remove an old key-encryption key (kek.ID)")
    retire.add_argument("kek_id", type=int, metavar="ID")
    backup_parser = sub.add_parser(
        "backup", help="write a consistent copy of the database (never the keys) to a new file"
    )
    backup_parser.add_argument("path", metavar="PATH", help="the new file (never overwritten)")
    restore_parser = sub.add_parser(
        "restore", help="restore a backup into the configured database, and check the keys"
    )
    restore_parser.add_argument("path", metavar="PATH", help="a file written by `confide backup`")
    restore_parser.add_argument(
        "--force", action="store_true", help="replace a database that already holds data"
    )
    people.add_parsers(sub)
    webhook.add_parsers(sub)
    demo_parser = sub.add_parser(
        "demo", help="try Confide in a browser: the real bot against a local Telegram emulator"
    )
    demo_parser.add_argument(
        "--port", type=int, default=8765, help="the web page's port on 127.0.0.1 (default 8765)"
    )
    demo_parser.add_argument(
        "--keep",
        metavar="DIR",
        help="keep the demo's database and keys in DIR (and continue from them next time)",
    )
    args = parser.parse_args(argv)
    if args.command is None:  # a bare `confide` explains itself rather than starting anything
        parser.print_help()
        return 0
    try:
        if args.command == "init" and args.keys:
            return asyncio.run(commands.new_keys())
        if args.command == "init":
            return commands.init()
        if args.command == "check":
            from bot.cli import check

            return asyncio.run(check.check())
        if args.command == "migrate":
            return asyncio.run(commands.migrate_only())
        if args.command == "invite":
            return asyncio.run(commands.invite_code(args.role, args.name))
        if args.command == "audit" and args.action == "anchor":
            return asyncio.run(commands.audit_anchor())
        if args.command == "audit":
            from bot.cli.audit import verify_audit

            return asyncio.run(verify_audit(args.anchor))
        if args.command == "tick":
            return asyncio.run(commands.tick_once(args.now))
        if args.command == "keys":
            from bot.cli import keys

            if args.keys_command == "rotate":
                return asyncio.run(keys.rotate(args.wait, args.batch))
            return asyncio.run(keys.retire(args.kek_id))
        if args.command in ("backup", "restore"):
            from bot.cli import backup

            if args.command == "backup":
                return asyncio.run(backup.take(args.path))
            return asyncio.run(backup.restore(args.path, args.force))
        if args.command in ("responders", "invites"):
            return asyncio.run(people.run(args))
        if args.command == "webhook":
            return asyncio.run(webhook.run(args))
        if args.command == "demo":
            from bot.cli.demo import demo

            return demo(args.port, args.keep)
        return commands.run(webhook=args.webhook)  # "run"
    except KeyFileMissing as missing:
        print(f"confide: {asyncio.run(commands.missing_keys(missing.path))}", file=sys.stderr)
        return 2
    except _said_in_one_line() as error:
        print(f"confide: {error}", file=sys.stderr)
        return 2
    except _invalid_token():  # its message quotes the token: never shown
        from bot.telegram.app import REFUSED_BY_TELEGRAM

        print(f"confide: {REFUSED_BY_TELEGRAM}", file=sys.stderr)
        return 2


# An except clause's classes are looked up only when something is raised: these load the
# modules that define them only then.
def _said_in_one_line() -> tuple[type[Exception], ...]:
    """What an operator can get wrong, each said in one line, never a traceback."""
    from bot.intake.questionnaire import QuestionnaireError
    from bot.probes import ProbePortUnavailable
    from bot.store.problems import DatabaseProblem
    from bot.store.upgrades import KeysNeeded
    from bot.telegram.app import TelegramUnreachable

    return (
        ConfigError,
        CryptoError,
        QuestionnaireError,
        KeysNeeded,
        ValueError,
        DatabaseProblem,
        TelegramUnreachable,
        ProbePortUnavailable,
    )


def _invalid_token() -> type[Exception]:
    from telegram.error import InvalidToken

    return InvalidToken


def _version() -> str:
    try:
        return version("confide")
    except PackageNotFoundError:  # running from a checkout that was never installed
        return "unknown"
