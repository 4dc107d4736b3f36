"""`confide webhook set | delete | info`: registering the webhook is one step for every
replica, never part of a bot's start (each would overwrite the last one's registration)."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC

from telegram.error import InvalidToken, TelegramError

from bot import logs
from bot.config import load_settings
from bot.telegram.app import ALLOWED_UPDATES, build_bot, connected


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "webhook",
        help="webhook set: have Telegram post updates to [webhook] url; delete: back to "
        "polling; info: what Telegram has",
    )
    actions = parser.add_subparsers(dest="webhook_command", required=True)
    actions.add_parser(
        "set", help="register [webhook] url, with the secret from the key file (once, for all)"
    )
    actions.add_parser("delete", help="stop the webhook: updates wait for `confide run`")
    actions.add_parser("info", help="the URL Telegram posts to, updates waiting, last error")


async def run(args: argparse.Namespace) -> int:
    if args.webhook_command == "set":
        return await set_webhook()
    if args.webhook_command == "delete":
        return await delete_webhook()
    return await webhook_info()


async def set_webhook() -> int:
    settings = load_settings()
    logs.configure("WARNING", secrets=[settings.token or ""])
    url = settings.require_webhook_url()  # before anything else: the one thing it needs
    from bot.cli.commands import open_database

    # The keys are checked against the database, so that the secret Telegram is given is
    # the one every replica (same key file) derives.
    engine, _, keyring = await open_database()
    await engine.dispose()
    async with connected(build_bot(settings), settings.base_url) as bot:
        try:
            await bot.set_webhook(
                url,
                secret_token=keyring.webhook_secret(),
                allowed_updates=ALLOWED_UPDATES,
                max_connections=settings.webhook.max_connections,
            )
        except InvalidToken:
            raise
        except TelegramError as error:
            print(f"confide: Telegram refused the webhook: {error.message}", file=sys.stderr)
            return 2
    print(f"Webhook set: Telegram posts updates to {url}.")
    print(
        f"Run the bot with `confide run --webhook`; it listens on "
        f"{settings.webhook.listen}:{settings.webhook.port}{settings.webhook.path}."
    )
    return 0


async def delete_webhook() -> int:
    settings = load_settings()
    logs.configure("WARNING", secrets=[settings.token or ""])
    async with connected(build_bot(settings), settings.base_url) as bot:
        await bot.delete_webhook(drop_pending_updates=False)
    print("Webhook deleted: updates wait for `confide run` (long polling), none is dropped.")
    return 0


async def webhook_info() -> int:
    settings = load_settings()
    logs.configure("WARNING", secrets=[settings.token or ""])
    async with connected(build_bot(settings), settings.base_url) as bot:
        info = await bot.get_webhook_info()
    if not info.url:
        print("No webhook: the bot takes updates by long polling (`confide run`).")
    else:
        print(f"url              {info.url}")
        print(f"max_connections  {info.max_connections}")
        print(f"allowed_updates  {', '.join(info.allowed_updates or ()) or 'all'}")
    print(f"waiting updates  {info.pending_update_count}")
    if info.last_error_date is not None:
        when = info.last_error_date.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
        print(f"last error       {when}: {info.last_error_message}")
    return 0
