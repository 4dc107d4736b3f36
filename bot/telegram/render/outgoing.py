"""What rendering produces: messages to send and the few other things a screen can ask of
Telegram. The handlers and the outbox's sender carry these out."""

from __future__ import annotations

from dataclasses import dataclass

from telegram import InlineKeyboardMarkup


@dataclass(frozen=True)
class Send:
    text: str  # HTML
    keyboard: InlineKeyboardMarkup | None = None
    # Case content for a responder: cannot be forwarded or saved, and is deleted from the
    # chat after a while (bot.services.case_views).
    confidential: bool = False


@dataclass(frozen=True)
class EditKeyboard:
    message_id: int
    keyboard: InlineKeyboardMarkup


@dataclass(frozen=True)
class DeleteRange:
    first: int
    last: int


@dataclass(frozen=True)
class SetChatCommands:
    role: str


Outgoing = Send | EditKeyboard | DeleteRange | SetChatCommands
