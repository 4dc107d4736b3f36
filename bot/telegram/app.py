"""The Bot API client the bot uses: python-telegram-bot's Bot, on few connections."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

from telegram import Bot
from telegram.error import InvalidToken, NetworkError, TelegramError, TimedOut

from bot.config import Settings
from bot.telegram.transport import AiohttpRequest

ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]
# Few connections to the Bot API, kept busy. httpcore checks every idle pooled connection
# (a system call each) on every request, so a large pool costs CPU on every call; measured
# in bench/: 4 connections handle ~40% more updates per second than 16.
HTTP_CONNECTIONS = 4


def build_bot(settings: Settings) -> Bot:
    return Bot(
        settings.require_token(),
        base_url=settings.base_url,
        base_file_url=settings.base_file_url,
        request=AiohttpRequest(HTTP_CONNECTIONS),
        # Long polling has a connection of its own, so it never waits behind a reply.
        get_updates_request=AiohttpRequest(1),
    )


# InvalidToken's own message quotes the token: this is said instead.
REFUSED_BY_TELEGRAM = (
    "Telegram refused the bot token (wrong, or revoked): get the token from @BotFather and "
    "set CONFIDE_TELEGRAM_TOKEN."
)


class TelegramUnreachable(Exception):
    """The Bot API could not be reached at start-up; the message says what to check."""


@contextlib.asynccontextmanager
async def connected(bot: Bot, base_url: str) -> AsyncIterator[Bot]:
    """The bot, once getMe answered. A network that is down, a name that does not resolve,
    a silent server or a base URL that is not the Bot API stop the start in one line; a
    wrong token raises InvalidToken (the CLI words it, never printing the token)."""
    host = urlsplit(base_url).netloc or base_url
    try:
        await _first_contact(bot, host)
    except BaseException:
        await bot.shutdown()  # the connections opened before getMe failed
        raise
    try:
        yield bot
    finally:
        await bot.shutdown()


async def _first_contact(bot: Bot, host: str) -> None:
    try:
        await bot.initialize()
    except InvalidToken:
        raise
    except TimedOut:
        raise TelegramUnreachable(
            f"Telegram ({host}) did not answer in time: check the network (a firewall or a "
            "proxy?) and start again."
        ) from None
    except NetworkError as error:
        if any(sign in str(error) for sign in _DNS_FAILURES):
            raise TelegramUnreachable(
                f"cannot resolve {host} (DNS): check the machine's DNS, or [telegram] base_url."
            ) from None
        raise TelegramUnreachable(
            f"cannot connect to Telegram ({host}): check the network and firewall, or "
            "[telegram] base_url, and start again."
        ) from None
    except TelegramError:
        raise TelegramUnreachable(
            f"{host} does not answer like Telegram's Bot API: check [telegram] base_url."
        ) from None


_DNS_FAILURES = (
    "Name or service not known",
    "nodename nor servname",
    "Temporary failure in name resolution",
    "No address associated with hostname",
)
