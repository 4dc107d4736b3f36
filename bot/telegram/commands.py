"""Telegram's command menu: reporters see theirs; responders and admins, per chat, theirs."""

from __future__ import annotations

from telegram import Bot, BotCommand, BotCommandScopeChat, BotCommandScopeDefault

from bot.i18n import DEFAULT, Catalogue

REPORTER_COMMANDS = ("start", "status", "withdraw", "cancel", "language", "privacy", "help")
RESPONDER_COMMANDS = (
    "queue",
    "mine",
    "open",
    "claim",
    "release",
    "reply",
    "note",
    "state",
    "filenames",
)
ADMIN_COMMANDS = ("overdue", "audit", "responders", "revoke")


def commands_for(role: str) -> tuple[str, ...]:
    if role == "admin":
        return (*RESPONDER_COMMANDS, *ADMIN_COMMANDS, "help")
    if role == "responder":
        return (*RESPONDER_COMMANDS, "help")
    return REPORTER_COMMANDS


def _menu(catalogue: Catalogue, language: str, role: str) -> list[BotCommand]:
    return [
        BotCommand(name, catalogue.text(language, f"cmd_{name}")) for name in commands_for(role)
    ]


async def set_default_commands(bot: Bot, catalogue: Catalogue) -> None:
    for language in catalogue.languages:
        await bot.set_my_commands(
            _menu(catalogue, language, "reporter"),
            scope=BotCommandScopeDefault(),
            language_code=None if language == DEFAULT else language,
        )


async def set_chat_commands(bot: Bot, catalogue: Catalogue, chat_id: int, role: str) -> None:
    for language in catalogue.languages:
        await bot.set_my_commands(
            _menu(catalogue, language, role),
            scope=BotCommandScopeChat(chat_id),
            language_code=None if language == DEFAULT else language,
        )
