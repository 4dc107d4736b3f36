"""Building the python-telegram-bot Application around the services."""

from __future__ import annotations

from telegram.ext import Application, ApplicationBuilder

from bot.config import Settings
from bot.i18n import Catalogue
from bot.intake.questionnaire import Questionnaire
from bot.services.conversation import ConversationService
from bot.telegram.commands import set_default_commands
from bot.telegram.handlers import UpdateHandler, register
from bot.telegram.ordering import PerChatUpdateProcessor
from bot.telegram.render import Renderer

ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]
# Few connections to the Bot API, kept busy. httpcore checks every idle pooled connection
# (a system call each) on every request, so a large pool costs CPU on every call; measured
# in bench/: 4 connections handle ~40% more updates per second than 16.
HTTP_CONNECTIONS = 4


def build_application(settings: Settings) -> Application:  # type: ignore[type-arg]
    return (
        ApplicationBuilder()
        .token(settings.require_token())
        .base_url(settings.base_url)
        .base_file_url(settings.base_file_url)
        .connection_pool_size(HTTP_CONNECTIONS)
        .concurrent_updates(PerChatUpdateProcessor(settings.concurrent_updates))
        .build()
    )


async def attach(
    application: Application,  # type: ignore[type-arg]
    service: ConversationService,
    catalogue: Catalogue,
    questionnaire: Questionnaire,
) -> Renderer:
    """Register the handler and publish the command menu (after `initialize`, which knows
    the bot's username)."""
    renderer = Renderer(catalogue, questionnaire, application.bot.username)
    register(application, UpdateHandler(service, renderer))
    await set_default_commands(application.bot, catalogue)
    return renderer
