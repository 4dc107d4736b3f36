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


def build_application(settings: Settings) -> Application:  # type: ignore[type-arg]
    return (
        ApplicationBuilder()
        .token(settings.require_token())
        .base_url(settings.base_url)
        .base_file_url(settings.base_file_url)
        # Few connections, kept busy: httpcore looks at every pooled connection on each
        # request, so a large idle pool costs CPU on every call.
        .connection_pool_size(settings.concurrent_updates)
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
