"""Building the python-telegram-bot Application around the services."""

from __future__ import annotations

from telegram import BotCommand, BotCommandScopeDefault
from telegram.ext import Application, ApplicationBuilder

from bot.config import Settings
from bot.i18n import LANGUAGES, Catalogue
from bot.services.reporter import ReporterService
from bot.telegram.handlers import ReporterHandler, register
from bot.telegram.ordering import PerChatUpdateProcessor
from bot.telegram.render import Renderer

REPORTER_COMMANDS = ("start", "status", "cancel", "language", "privacy", "help")
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]


def build_application(settings: Settings) -> Application:  # type: ignore[type-arg]
    return (
        ApplicationBuilder()
        .token(settings.require_token())
        .base_url(settings.base_url)
        .base_file_url(settings.base_file_url)
        .concurrent_updates(PerChatUpdateProcessor())

        .build()
    )


async def attach(
    application: Application,  # type: ignore[type-arg]
    service: ReporterService,
    catalogue: Catalogue,
) -> None:
    """Register handlers and publish the command menu (after `initialize`, which knows the bot)."""
    renderer = Renderer(catalogue, application.bot.username)
    register(application, ReporterHandler(service, renderer))
    for language in LANGUAGES:
        commands = [
            BotCommand(name, catalogue.text(language, f"cmd_{name}")) for name in REPORTER_COMMANDS
        ]
        await application.bot.set_my_commands(
            commands,
            scope=BotCommandScopeDefault(),
            language_code=None if language == "en" else language,
        )
