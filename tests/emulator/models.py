"""Plain data types shared by the emulator server and the script-like client API."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, NamedTuple

JSON = dict[str, Any]


class ApiCall(NamedTuple):
    """One Bot API request as received (params already JSON-decoded)."""

    method: str
    params: JSON


class ApiError(Exception):
    """A Bot API error response: ``{"ok": false, "error_code": ..., "description": ...}``."""

    def __init__(self, code: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    @classmethod
    def bad_request(cls, reason: str) -> ApiError:
        return cls(400, f"Bad Request: {reason}")

    @classmethod
    def forbidden(cls, reason: str) -> ApiError:
        return cls(403, f"Forbidden: {reason}")

    def payload(self) -> JSON:
        body: JSON = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


@dataclass
class Failure:
    """An injected failure for the next ``times`` calls of ``method`` ("*" = any method)."""

    method: str
    status: int = 500
    times: int = 1
    retry_after: int | None = None
    drop_connection: bool = False
    description: str | None = None
    served: int = 0
    stall_seconds: float = 0.0  # answer nothing this long first (a hung connection)

    def matches(self, method: str) -> bool:
        return self.times > 0 and self.method in ("*", method.lower())


@dataclass
class StoredMessage:
    """Server-side state of one message in a chat (user's or bot's)."""

    raw: JSON  # Telegram Message object as currently shown
    from_bot: bool
    html: str | None = None
    parse_mode: str | None = None
    markup: JSON | None = None  # reply_markup as sent (reply keyboards aren't in ``raw``)
    params: JSON = field(default_factory=dict)  # the sendMessage parameters
    edited: bool = False
    deleted: bool = False

    @property
    def message_id(self) -> int:
        return int(self.raw["message_id"])


@dataclass
class ChatState:
    """Server-side state of one chat."""

    raw: JSON  # Telegram Chat object
    members: set[int] = field(default_factory=set)
    messages: dict[int, StoredMessage] = field(default_factory=dict)
    # Bot actions that created/edited a message: ("sent" | "edited", message_id), in order.
    events: list[tuple[str, int]] = field(default_factory=list)
    deleted_message_ids: list[int] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)  # sendChatAction history
    reply_keyboard: JSON | None = None  # last ReplyKeyboardMarkup sent (cleared by remove)
    chat_instance: str = ""
    next_message_id: int = 1
    started: bool = False  # private chats: the user has written to the bot
    blocked: bool = False  # private chats: the user blocked the bot
    bot_is_admin: bool = False  # groups: admins may delete others' messages, see everything

    @property
    def id(self) -> int:
        return int(self.raw["id"])

    @property
    def type(self) -> str:
        return str(self.raw["type"])

    @property
    def title(self) -> str:
        return str(self.raw.get("title") or self.raw.get("first_name") or self.id)

    def take_message_id(self) -> int:
        message_id = self.next_message_id
        self.next_message_id += 1
        return message_id


Button = tuple[str, str | None]


@dataclass(frozen=True)
class BotMessage:
    """Snapshot of a message as the user sees it at the time it was taken."""

    message_id: int
    chat_id: int
    text: str  # plain text (tags removed, entities unescaped); caption for media
    html: str | None  # raw text as sent with parse_mode HTML, else None
    parse_mode: str | None
    entities: list[JSON]
    buttons: list[list[Button]]  # inline keyboard rows of (text, callback_data or url)
    reply_markup: JSON | None  # raw markup as sent (inline or reply keyboard)
    edited: bool
    deleted: bool
    from_bot: bool
    raw: JSON  # the Telegram Message object
    params: JSON  # sendMessage parameters (disable_notification, protect_content, ...)

    @property
    def button_texts(self) -> list[str]:
        return [text for row in self.buttons for text, _ in row]

    @property
    def callback_data(self) -> list[str | None]:
        return [data for row in self.buttons for _, data in row]

    def describe(self) -> str:
        who = "bot" if self.from_bot else "user"
        line = f"[#{self.message_id} {who}{', edited' if self.edited else ''}] {self.text!r}"
        if self.buttons:
            line += f" buttons={self.button_texts}"
        return line

    @classmethod
    def of(cls, stored: StoredMessage) -> BotMessage:
        raw = copy.deepcopy(stored.raw)
        inline = (raw.get("reply_markup") or {}).get("inline_keyboard") or []
        buttons = [
            [(str(b.get("text", "")), b.get("callback_data", b.get("url"))) for b in row]
            for row in inline
        ]
        return cls(
            message_id=stored.message_id,
            chat_id=int(raw["chat"]["id"]),
            text=str(raw.get("text", raw.get("caption", ""))),
            html=stored.html,
            parse_mode=stored.parse_mode,
            entities=list(raw.get("entities") or raw.get("caption_entities") or []),
            buttons=buttons,
            reply_markup=copy.deepcopy(stored.markup),
            edited=stored.edited,
            deleted=stored.deleted,
            from_bot=stored.from_bot,
            raw=raw,
            params=copy.deepcopy(stored.params),
        )
