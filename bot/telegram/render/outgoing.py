"""What rendering produces: messages to send and the few other things a screen can ask of
Telegram. The handlers and the outbox's sender carry these out."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

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


@dataclass(frozen=True)
class SendFile:
    """A file uploaded anew (sendPhoto, sendDocument, sendVoice ...), never forwarded: its
    bytes come from `load` when it is sent."""

    send_as: str  # "photo", "document", "voice", "audio", "video", "video_note"
    name: str
    caption: str  # HTML
    load: Callable[[], Awaitable[bytes]] = field(repr=False, compare=False)
    confidential: bool = True  # protect_content, and deleted after a while for responders


Outgoing = Send | EditKeyboard | DeleteRange | SetChatCommands | SendFile
