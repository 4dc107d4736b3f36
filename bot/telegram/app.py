"""The Bot API client the bot uses: python-telegram-bot's Bot, on few connections."""

from __future__ import annotations

from telegram import Bot
from telegram.request import HTTPXRequest

from bot.config import Settings

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
        request=HTTPXRequest(connection_pool_size=HTTP_CONNECTIONS),
        # Long polling has a connection of its own, so it never waits behind a reply.
        get_updates_request=HTTPXRequest(connection_pool_size=1),
    )
