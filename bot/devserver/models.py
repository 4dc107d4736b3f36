"""Plain data types shared by the emulator server and the script-like client API."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, NamedTuple

JSON = dict[str, Any]

# Message fields that name what a message carries, in the order BotMessage.kind looks for them
# (an animation also carries a "document" field, for old clients, so it comes first).
MESSAGE_KINDS = (
    "animation", "photo", "document", "voice", "audio", "video", "video_note", "sticker",
    "location", "venue", "contact", "poll", "dice", "text",
)  # fmt: skip


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


@dataclass(frozen=True)
class Upload:
    """One file part of a multipart/form-data request, as the bot uploaded it."""

    filename: str | None
    content_type: str
    content: bytes = field(repr=False)

    @property
    def size(self) -> int:
        return len(self.content)

    def __repr__(self) -> str:  # the bytes would drown assertion messages
        return f"Upload({self.filename!r}, {self.content_type!r}, {self.size} bytes)"


@dataclass
class StoredFile:
    """A file as Telegram keeps it: described by getFile, downloaded from its file_path.

    ``media`` is the object a message shows for it (a PhotoSize list for photos, shared by all
    sizes of one photo), which sending the file again by file_id reproduces.
    """

    file_id: str
    file_unique_id: str
    kind: str  # "photo", "document", "voice", "audio", "video", "video_note", "sticker", ...
    content: bytes = field(repr=False)
    file_path: str
    media: Any = None
    path_issued: bool = False  # getFile handed out file_path: only then is it downloadable

    @property
    def size(self) -> int:
        return len(self.content)


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
    file: StoredFile | None = None  # the file it carries (a photo's largest size)

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
    kind: str = "text"  # "text", "photo", "document", "voice", ... (see MESSAGE_KINDS)
    file_id: str | None = None  # of the file it carries (a photo's largest size)
    file_name: str | None = None  # documents, audio, video, animations
    mime_type: str | None = None
    media_group_id: str | None = None  # shared by the messages of one album
    file_bytes: bytes | None = field(default=None, repr=False)  # the file's content

    @property
    def caption(self) -> str | None:
        caption = self.raw.get("caption")
        return None if caption is None else str(caption)

    @property
    def protected(self) -> bool:
        """Sent with protect_content: Telegram clients forbid forwarding and saving it."""
        return bool(self.raw.get("has_protected_content"))

    @property
    def button_texts(self) -> list[str]:
        return [text for row in self.buttons for text, _ in row]

    @property
    def callback_data(self) -> list[str | None]:
        return [data for row in self.buttons for _, data in row]

    def describe(self) -> str:
        who = "bot" if self.from_bot else "user"
        line = f"[#{self.message_id} {who}{', edited' if self.edited else ''}] "
        if self.kind != "text":
            line += self.kind
            if self.file_name:
                line += f" {self.file_name!r}"
            if self.file_bytes is not None:
                line += f" ({len(self.file_bytes)} bytes)"
            line += f" {self.text!r}" if self.text else ""
        else:
            line += repr(self.text)
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
            kind=next((kind for kind in MESSAGE_KINDS if kind in raw), "service"),
            file_id=None if stored.file is None else stored.file.file_id,
            file_name=_media_field(raw, "file_name"),
            mime_type=_media_field(raw, "mime_type"),
            media_group_id=None if "media_group_id" not in raw else str(raw["media_group_id"]),
            file_bytes=None if stored.file is None else stored.file.content,
        )


def _media_field(raw: JSON, name: str) -> str | None:
    """A field of the (non-photo) media object a message carries, if any."""
    for kind in MESSAGE_KINDS:
        media = raw.get(kind)
        if isinstance(media, dict) and name in media:
            return str(media[name])
    return None
