"""Bot API state and method implementations (transport-agnostic; see server.py for HTTP).

All state lives in one event loop and is only touched from it, so no locks are needed;
the bot under test talks to it over HTTP from any loop, thread or process.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .files import (
    DEFAULT_MAX_DOWNLOAD_BYTES,
    PARAM_WORDS,
    FileStore,
    check_upload,
    clean_file_name,
    guess_mime_type,
)
from .models import JSON, ApiCall, ApiError, ChatState, StoredFile, StoredMessage, Upload
from .validation import (
    NOT_MODIFIED,
    FormattedText,
    check_markup,
    command_entities,
    format_caption,
    format_text,
    get_bool,
    get_int,
)

CONFLICT = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
QUERY_INVALID = "query is too old and response timeout expired or query ID is invalid"
# Telegram's default when allowed_updates was never given (or given as []).
DEFAULT_EXCLUDED_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
CHAT_ACTIONS = frozenset(
    {
        "typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
        "upload_document", "choose_sticker", "find_location", "record_video_note",
        "upload_video_note",
    }
)  # fmt: skip
_REGULAR_CONTENT = frozenset(
    {
        "text", "caption", "sticker", "voice", "location", "photo", "document", "animation",
        "audio", "video", "video_note", "contact",
    }
)  # fmt: skip
# The methods that send one file, and the parameter (and message field) naming it.
SEND_FILE_METHODS = {
    "sendPhoto": "photo",
    "sendDocument": "document",
    "sendVoice": "voice",
    "sendAudio": "audio",
    "sendVideo": "video",
    "sendVideoNote": "video_note",
    "sendAnimation": "animation",
}
ALBUM_KINDS = frozenset({"photo", "video", "audio", "document"})
MAX_ALBUM_ITEMS = 10
# What a forward or copy of a message leaves behind: the rest is its content.
_NOT_CONTENT = frozenset(
    {
        "message_id", "from", "chat", "date", "edit_date", "reply_to_message", "reply_markup",
        "has_protected_content", "media_group_id", "forward_origin", "sender_chat",
    }
)  # fmt: skip
_GIFT_TYPES = {
    "unlimited_gifts": True,
    "limited_gifts": True,
    "unique_gifts": True,
    "premium_subscription": True,
    "gifts_from_channels": True,
}


@dataclass
class WithDescription:
    """A successful result that Telegram accompanies with a "description" field."""

    result: Any
    description: str


@dataclass
class _Poller:
    wake: asyncio.Event
    superseded: bool = False


def now() -> int:
    """Wall-clock seconds; an emulator's own dates come from :meth:`BotApi.now`."""
    return int(time.time())


def _optional_int(params: JSON, name: str, default: int) -> int:
    """An optional integer parameter (duration, width, ...); absent means ``default``."""
    if params.get(name) in (None, ""):
        return default
    return get_int(params, name, missing=f"invalid {name} specified")


class BotApi:
    """Emulated Telegram state: users, chats, messages, the update queue, bot settings."""

    def __init__(
        self,
        token: str,
        bot_username: str,
        bot_first_name: str,
        *,
        group_privacy: bool = True,
        strict_html_entities: bool = True,
        seed: int | None = None,
        max_download_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.token = token
        self.clock = clock  # seconds since the epoch, for message dates (a demo moves it)
        # Called with a chat id whenever a message there is stored, edited or deleted, or its
        # reply keyboard changes (a live view refreshes that chat). They must not raise.
        self.chat_listeners: list[Callable[[int], None]] = []
        self._chat_changed: dict[int, asyncio.Event] = {}  # for wait_for_chat_change
        self.group_privacy = group_privacy
        self.strict_html_entities = strict_html_entities
        self.rng = random.Random(seed)  # noqa: S311 - fake ids for a local emulator, no secrets
        prefix = token.split(":", 1)[0]
        bot_id = int(prefix) if prefix.isdigit() else self.rng.randint(10**9, 8 * 10**9)
        self.bot_user: JSON = {
            "id": bot_id,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": not group_privacy,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
        self.users: dict[int, JSON] = {}
        self.chats: dict[int, ChatState] = {}
        self.calls: list[ApiCall] = []
        self.failed_calls: list[ApiCall] = []  # calls answered by an injected failure
        self.callback_answers: list[JSON] = []  # answerCallbackQuery params + "user_id"
        self.commands: dict[tuple[str, str], list[JSON]] = {}  # (scope JSON, language) -> list
        self.bot_texts: dict[tuple[str, str], str] = {}  # (field name, language) -> value
        self.webhook: JSON | None = None
        # Set when there may be updates for the webhook to deliver (server.py delivers them).
        self.webhook_wake = asyncio.Event()
        self.webhook_last_error: tuple[int, str] | None = None  # (date, what Telegram says)
        self.file_store = FileStore(self.rng, max_download_bytes)
        self.files: dict[str, StoredFile] = self.file_store.files  # by file_id
        self._pending_queries: dict[str, int] = {}  # unanswered callback query id -> user id
        self._query_answers: dict[str, JSON] = {}
        self._updates: list[JSON] = []  # unconfirmed updates, oldest first
        self._next_update_id = self.rng.randint(10**8, 9 * 10**8)
        self._allowed_updates: frozenset[str] | None = None  # None = Telegram's default
        self._poller: _Poller | None = None
        self._closing = False
        self._changed: asyncio.Event | None = None
        self.methods: dict[str, tuple[str, Callable[[JSON], Any]]] = {
            name.lower(): (name, handler)
            for name, handler in {
                "getMe": lambda _: dict(self.bot_user),
                "getUpdates": self._get_updates,
                "sendMessage": self._send_message,
                "editMessageText": self._edit_message_text,
                "editMessageReplyMarkup": self._edit_message_reply_markup,
                "answerCallbackQuery": self._answer_callback_query,
                "deleteMessage": self._delete_message,
                "deleteMessages": self._delete_messages,
                "setMyCommands": self._set_my_commands,
                "getMyCommands": self._get_my_commands,
                "deleteMyCommands": self._delete_my_commands,
                "setWebhook": self._set_webhook,
                "deleteWebhook": self._delete_webhook,
                "getWebhookInfo": self._get_webhook_info,
                "close": lambda _: True,
                "logOut": lambda _: True,
                "sendChatAction": self._send_chat_action,
                "setMyDescription": lambda p: self._set_text(p, "description"),
                "getMyDescription": lambda p: self._get_text(p, "description"),
                "setMyShortDescription": lambda p: self._set_text(p, "short_description"),
                "getMyShortDescription": lambda p: self._get_text(p, "short_description"),
                "setMyName": lambda p: self._set_text(p, "name"),
                "getMyName": lambda p: self._get_text(p, "name"),
                "getChat": self._get_chat,
                "getFile": self._get_file,
                **{method: self._file_sender(kind) for method, kind in SEND_FILE_METHODS.items()},
                "sendMediaGroup": self._send_media_group,
                "forwardMessage": lambda p: self._forward_message(p, as_copy=False),
                "copyMessage": lambda p: self._forward_message(p, as_copy=True),
                "forwardMessages": lambda p: self._forward_messages(p, as_copy=False),
                "copyMessages": lambda p: self._forward_messages(p, as_copy=True),
            }.items()
        }

    @property
    def max_download_bytes(self) -> int:
        """Files larger than this can't be downloaded: getFile answers "file is too big"."""
        return self.file_store.max_download_bytes

    @max_download_bytes.setter
    def max_download_bytes(self, value: int) -> None:
        self.file_store.max_download_bytes = value

    # ----------------------------------------------------------------- notifications
    def notify(self) -> None:
        """Wake everything waiting in :meth:`wait_for_change`."""
        if self._changed is not None:
            self._changed.set()
        self._changed = asyncio.Event()

    def chat_changed(self, chat: ChatState) -> None:
        changed = self._chat_changed.pop(chat.id, None)
        if changed is not None:
            changed.set()
        for listener in list(self.chat_listeners):
            listener(chat.id)

    def now(self) -> int:
        """The date Telegram would stamp on a message now (follows ``clock``)."""
        return int(self.clock())

    async def wait_for_change(self, timeout: float) -> None:  # noqa: ASYNC109
        if self._changed is None:
            self._changed = asyncio.Event()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), max(timeout, 0))

    async def wait_for_chat_change(self, chat_id: int, timeout: float) -> None:  # noqa: ASYNC109
        """Until a message in this chat is stored, edited or deleted (or `timeout`). Only
        this chat's waiters wake: hundreds of people waiting, each for their own chat, do
        not all wake at every message."""
        changed = self._chat_changed.setdefault(chat_id, asyncio.Event())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), max(timeout, 0))

    # ----------------------------------------------------------------------- updates
    def number_updates_from(self, update_id: int) -> None:
        """The next update gets this id. Telegram numbers a bot's updates on from the last
        one, except after a week without any, when it starts again from a random value."""
        self._next_update_id = update_id

    def enqueue_update(self, payload: JSON, *, apply_filter: bool = True) -> int | None:
        """Queue an update (payload without update_id); None if allowed_updates drops it."""
        kind = next((key for key in payload if key != "update_id"), "")
        allowed = self._allowed_updates
        if apply_filter and (
            kind in DEFAULT_EXCLUDED_UPDATES if allowed is None else kind not in allowed
        ):
            return None
        update_id = self._next_update_id
        self._next_update_id += 1
        payload = {key: value for key, value in payload.items() if key != "update_id"}
        self._updates.append({"update_id": update_id, **copy.deepcopy(payload)})
        if self._poller is not None:
            self._poller.wake.set()
        self.webhook_wake.set()
        self.notify()
        return update_id

    @property
    def pending_updates(self) -> list[JSON]:
        """Updates not yet confirmed by the bot (via a getUpdates offset)."""
        return copy.deepcopy(self._updates)

    async def _get_updates(self, params: JSON) -> list[JSON]:
        if self.webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        if self._poller is not None:  # only one getUpdates may wait at a time
            self._poller.superseded = True
            self._poller.wake.set()
        if params.get("offset") not in (None, ""):
            offset = get_int(params, "offset", missing="")
            if offset < 0:
                self._updates = self._updates[offset:]
            else:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = frozenset(map(str, allowed)) if allowed else None
        limit = get_int(params, "limit", missing="") if params.get("limit") else 100
        limit = limit if 1 <= limit <= 100 else 100
        timeout = float(params.get("timeout") or 0)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        poller = _Poller(asyncio.Event())
        self._poller = poller
        try:
            while not self._updates and not self._closing:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    await asyncio.wait_for(poller.wake.wait(), remaining)
                except TimeoutError:
                    break
                poller.wake.clear()
                if poller.superseded:
                    raise ApiError(409, CONFLICT)
        finally:
            if self._poller is poller:
                self._poller = None
        return copy.deepcopy(self._updates[:limit])

    def confirm_update(self, update_id: int) -> None:
        """The webhook answered 2xx: Telegram forgets the update."""
        self._updates = [u for u in self._updates if u["update_id"] != update_id]

    def close_pollers(self) -> None:
        """Answer a waiting long poll now (used on shutdown)."""
        self._closing = True
        if self._poller is not None:
            self._poller.wake.set()

    # ------------------------------------------------------------------ chats, users
    def chat(self, params: JSON) -> ChatState:
        value = params.get("chat_id")
        if value is None or value == "":
            raise ApiError.bad_request("chat_id is empty")
        if isinstance(value, str) and value.startswith("@"):
            for chat in self.chats.values():
                if str(chat.raw.get("username", "")).lower() == value[1:].lower():
                    return chat
            raise ApiError.bad_request("chat not found")
        try:
            chat_id = get_int(params, "chat_id", missing="chat_id is empty")
        except ApiError:
            raise ApiError.bad_request("chat not found") from None
        found = self.chats.get(chat_id)
        if found is None:
            raise ApiError.bad_request("chat not found")
        return found

    def _check_can_send(self, chat: ChatState) -> None:
        if chat.type != "private":
            return
        if chat.blocked:
            raise ApiError.forbidden("bot was blocked by the user")
        if not chat.started:
            raise ApiError.forbidden("bot can't initiate conversation with a user")

    def _bot_from(self) -> JSON:
        return {k: self.bot_user[k] for k in ("id", "is_bot", "first_name", "username")}

    def _bot_sees(self, chat: ChatState, message: JSON) -> bool:
        """Group privacy mode: only commands for this bot and replies to it get through."""
        if chat.type == "private" or not self.group_privacy or chat.bot_is_admin:
            return True
        text = str(message.get("text") or message.get("caption") or "")
        match = re.match(r"/[A-Za-z0-9_]+(?:@([A-Za-z0-9_]+))?", text)
        username = str(self.bot_user["username"]).lower()
        if match and (match.group(1) is None or match.group(1).lower() == username):
            return True
        reply = message.get("reply_to_message") or {}
        if reply.get("from", {}).get("id") == self.bot_user["id"]:
            return True
        content = set(message) - {"message_id", "from", "chat", "date", "reply_to_message"}
        return not content & _REGULAR_CONTENT  # service messages always get through

    def deliver_user_message(
        self,
        user_id: int,
        chat: ChatState,
        content: JSON,
        *,
        reply_to: int | None = None,
        file: StoredFile | None = None,
    ) -> int:
        """Record a user's message in ``chat`` and queue the update if the bot would see it.

        ``file`` is the file the message carries (a photo's largest size), if any."""
        message: JSON = {
            "message_id": chat.take_message_id(),
            "from": copy.deepcopy(self.users[user_id]),
            "chat": copy.deepcopy(chat.raw),
            "date": self.now(),
        }
        if reply_to is not None:
            message["reply_to_message"] = self._reply_snapshot(chat, reply_to)
        message.update(copy.deepcopy(content))
        for key, entities_key in (("text", "entities"), ("caption", "caption_entities")):
            entities = command_entities(str(message.get(key, "")))
            if entities:
                message[entities_key] = entities
        chat.messages[message["message_id"]] = StoredMessage(raw=message, from_bot=False, file=file)
        if chat.type == "private":
            chat.started, chat.blocked = True, False
        chat.members.add(user_id)
        if self._bot_sees(chat, message):
            self.enqueue_update({"message": message})
        self.notify()
        self.chat_changed(chat)
        return int(message["message_id"])

    def press(self, user_id: int, chat: ChatState, stored: StoredMessage, data: str) -> str:
        """Queue a callback_query update as Telegram sends it when a button is pressed."""
        query_id = str(self.rng.randint(10**17, 9 * 10**18))
        self._pending_queries[query_id] = user_id
        query: JSON = {
            "id": query_id,
            "from": copy.deepcopy(self.users[user_id]),
            "message": copy.deepcopy(stored.raw),
            "chat_instance": chat.chat_instance,
            "data": data,
        }
        self.enqueue_update({"callback_query": query})
        return query_id

    def query_answer(self, query_id: str) -> JSON | None:
        return self._query_answers.get(query_id)

    # ---------------------------------------------------------------------- messages
    def _reply_snapshot(self, chat: ChatState, message_id: int) -> JSON:
        stored = chat.messages.get(message_id)
        if stored is None or stored.deleted:
            raise ApiError.bad_request("message to be replied not found")
        # Telegram doesn't nest reply_to_message inside reply_to_message.
        return {k: copy.deepcopy(v) for k, v in stored.raw.items() if k != "reply_to_message"}

    def _reply_target(self, chat: ChatState, params: JSON) -> JSON | None:
        reply = params.get("reply_parameters")
        if isinstance(reply, dict):
            message_id, allow = (
                reply.get("message_id"),
                get_bool(reply, "allow_sending_without_reply"),
            )
        elif params.get("reply_to_message_id") not in (None, ""):
            message_id = params["reply_to_message_id"]
            allow = get_bool(params, "allow_sending_without_reply")
        else:
            return None
        try:
            return self._reply_snapshot(
                chat, get_int({"id": message_id}, "id", missing="message to be replied not found")
            )
        except ApiError:
            if allow:
                return None
            raise

    def _new_bot_message(self, chat: ChatState, params: JSON) -> JSON:
        """The head of a message the bot sends: id, sender, chat, date, what it replies to."""
        reply = self._reply_target(chat, params)
        message: JSON = {
            "message_id": chat.take_message_id(),
            "from": self._bot_from(),
            "chat": copy.deepcopy(chat.raw),
            "date": self.now(),
        }
        if reply is not None:
            message["reply_to_message"] = reply
        return message

    def _record_bot_message(
        self,
        chat: ChatState,
        message: JSON,
        params: JSON,
        *,
        formatted: FormattedText | None,
        markup: JSON | None,
        file: StoredFile | None = None,
    ) -> JSON:
        """Apply protect_content and reply_markup, store the message, show it to the chat."""
        if get_bool(params, "protect_content"):
            message["has_protected_content"] = True
        if markup is not None and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        elif markup is not None and "keyboard" in markup:
            chat.reply_keyboard = markup
        elif markup is not None and markup.get("remove_keyboard"):
            chat.reply_keyboard = None
        stored = StoredMessage(
            raw=message,
            from_bot=True,
            html=None if formatted is None else formatted.html,
            parse_mode=None if formatted is None else formatted.parse_mode,
            markup=markup,
            params=copy.deepcopy(params),
            file=file,
        )
        chat.messages[stored.message_id] = stored
        chat.events.append(("sent", stored.message_id))
        self.notify()
        self.chat_changed(chat)
        return copy.deepcopy(message)

    def _send_message(self, params: JSON) -> JSON:
        chat = self.chat(params)
        self._check_can_send(chat)
        formatted = format_text(params, strict_html_entities=self.strict_html_entities)
        markup = check_markup(params.get("reply_markup"))
        message = self._new_bot_message(chat, params)
        message["text"] = formatted.text
        if formatted.entities:
            message["entities"] = formatted.entities
        return self._record_bot_message(chat, message, params, formatted=formatted, markup=markup)

    # ------------------------------------------------------------------------- files
    def _file_sender(self, kind: str) -> Callable[[JSON], JSON]:
        return lambda params: self._send_file(params, kind)

    def _send_file(self, params: JSON, kind: str) -> JSON:
        """sendPhoto, sendDocument, ...: like TDLib, the file and the caption are read
        before the chat is looked at."""
        media = self._input_media(params, kind, params.get(kind), params)
        if media is None:
            word = PARAM_WORDS.get(kind, kind)
            raise ApiError.bad_request(f"there is no {word} in the request")
        caption = None
        if kind != "video_note":  # video notes have no caption
            caption = format_caption(params, strict_html_entities=self.strict_html_entities)
        chat = self.chat(params)
        self._check_can_send(chat)
        markup = check_markup(params.get("reply_markup"))
        message = self._new_bot_message(chat, params)
        self._add_media(message, kind, media, caption, params)
        return self._record_bot_message(
            chat,
            message,
            params,
            formatted=caption,
            markup=markup,
            file=self.file_store.main_file(media),
        )

    def _input_media(self, params: JSON, kind: str, value: Any, details: JSON) -> Any:
        """The media object for a file parameter, as Telegram's get_input_file reads it: an
        upload in the part named for the parameter, one named by ``attach://<part>``, or the
        file_id of a file the bot has seen. None if there is no file."""
        if isinstance(value, str) and value.startswith("attach://"):
            value = params.get(value.removeprefix("attach://"))
            if not isinstance(value, Upload):
                return None
        if isinstance(value, Upload):
            check_upload(value, kind)
            return self._new_media(kind, value, details)
        if isinstance(value, str) and value:
            return self.file_store.reuse(value, kind)
        return None

    def _new_media(self, kind: str, upload: Upload, details: JSON) -> Any:
        """Store an upload; its fields as the Bot API fills them for a file the bot sent."""
        store = self.file_store
        if kind == "photo":
            return store.new_photo(upload.content)
        name = clean_file_name(upload.filename)
        duration = _optional_int(details, "duration", 0)
        if kind == "voice":
            mime = guess_mime_type(name, "audio/ogg")
            mime = mime if mime.startswith("audio/") else "audio/ogg"
            return store.new_file(kind, upload.content, mime_type=mime, duration=duration)
        if kind == "video_note":
            length = _optional_int(details, "length", 240)
            return store.new_file(kind, upload.content, duration=duration, length=length)
        fields: JSON = {}
        if kind in ("video", "animation"):
            fields = {
                "width": _optional_int(details, "width", 0),
                "height": _optional_int(details, "height", 0),
                "duration": duration,
            }
        elif kind == "audio":
            fields = {
                "duration": duration,
                "performer": details.get("performer"),
                "title": details.get("title"),
            }
        default_mime = {"video": "video/mp4", "animation": "video/mp4", "audio": "audio/mpeg"}
        mime = guess_mime_type(name, default_mime.get(kind, "application/octet-stream"))
        return store.new_file(kind, upload.content, file_name=name, mime_type=mime, **fields)

    @staticmethod
    def _add_media(
        message: JSON, kind: str, media: Any, caption: FormattedText | None, params: JSON
    ) -> None:
        message[kind] = media
        if kind == "animation":  # Telegram shows animations as documents to old clients too
            message["document"] = copy.deepcopy(media)
        if caption is not None:
            message["caption"] = caption.text
            if caption.entities:
                message["caption_entities"] = caption.entities
            if get_bool(params, "show_caption_above_media"):
                message["show_caption_above_media"] = True
        if get_bool(params, "has_spoiler") and kind in ("photo", "video", "animation"):
            message["has_media_spoiler"] = True

    def _album_item(self, params: JSON, item: Any) -> tuple[str, Any, FormattedText | None, JSON]:
        """One InputMedia of sendMediaGroup: (kind, media object, caption, the item)."""
        if not isinstance(item, dict):
            raise ApiError.bad_request("can't parse InputMedia: expected an Object")
        caption = format_caption(item, strict_html_entities=self.strict_html_entities)
        kind = str(item.get("type") or "")
        if kind == "animation":
            raise ApiError.bad_request(
                "can't parse InputMedia: type \"animation\" can't be used in sendMediaGroup"
            )
        if kind not in ALBUM_KINDS:
            raise ApiError.bad_request(f'can\'t parse InputMedia: type "{kind}" is unsupported')
        media = self._input_media(params, kind, item.get("media"), item)
        if media is None:
            raise ApiError.bad_request("can't parse InputMedia: media not found")
        return kind, media, caption, item

    def _send_media_group(self, params: JSON) -> list[JSON]:
        """An album: one message per item, sharing a media_group_id (a single item is an
        ordinary message). Documents and audio can only be grouped with their own kind."""
        items = params.get("media")
        if items is None or items == "":
            raise ApiError.bad_request('parameter "media" is required')
        if isinstance(items, str):
            raise ApiError.bad_request("can't parse media JSON object")
        if not isinstance(items, list):
            raise ApiError.bad_request("expected an Array of InputMedia")
        if not items:
            raise ApiError.bad_request("there are no messages to send")
        if len(items) > MAX_ALBUM_ITEMS:
            raise ApiError.bad_request("too many messages to send as an album")
        contents = [self._album_item(params, item) for item in items]
        kinds = {kind for kind, _, _, _ in contents}
        for alone in ("document", "audio"):
            if alone in kinds and len(kinds) > 1:
                raise ApiError.bad_request(f"{alone} can't be mixed with other media types")
        chat = self.chat(params)
        self._check_can_send(chat)
        group_id = str(self.rng.randint(10**17, 2**63 - 1)) if len(contents) > 1 else None
        sent: list[JSON] = []
        for kind, media, caption, item in contents:
            message = self._new_bot_message(chat, params)
            if group_id is not None:
                message["media_group_id"] = group_id
            self._add_media(message, kind, media, caption, item)
            sent.append(
                self._record_bot_message(
                    chat,
                    message,
                    params,
                    formatted=caption,
                    markup=None,  # sendMediaGroup takes no reply_markup
                    file=self.file_store.main_file(media),
                )
            )
        return sent

    # ------------------------------------------------------------ forwards and copies
    def _forward_message(self, params: JSON, *, as_copy: bool) -> JSON:
        """forwardMessage (answers the new message) or copyMessage (answers its MessageId)."""
        message_id = get_int(params, "message_id", missing="message identifier is not specified")
        sent = self._forward(params, message_id, as_copy=as_copy)
        return {"message_id": sent["message_id"]} if as_copy else sent

    def _forward_messages(self, params: JSON, *, as_copy: bool) -> list[JSON]:
        """forwardMessages/copyMessages: in id order, skipping messages that can't be found."""
        ids = params.get("message_ids")
        if not isinstance(ids, list) or not ids:
            raise ApiError.bad_request("message identifiers are not specified")
        if len(ids) > 100:
            raise ApiError.bad_request("too many message identifiers specified")
        numbers = sorted(get_int({"id": i}, "id", missing="invalid message id") for i in ids)
        self.chat({"chat_id": params.get("from_chat_id")})  # these fail the whole call
        self._check_can_send(self.chat(params))
        results: list[JSON] = []
        for message_id in numbers:
            with contextlib.suppress(ApiError):  # only messages that can't be sent are skipped
                sent = self._forward(params, message_id, as_copy=as_copy)
                results.append({"message_id": sent["message_id"]})
        return results

    def _forward(self, params: JSON, message_id: int, *, as_copy: bool) -> JSON:
        """Send the content of another message again: a forward names where it came from,
        a copy doesn't and may get a new caption. Protected content can be neither."""
        verb = "copy" if as_copy else "forward"
        source_chat = self.chat({"chat_id": params.get("from_chat_id")})
        source = source_chat.messages.get(message_id)
        if source is None or source.deleted:
            raise ApiError.bad_request(f"message to {verb} not found")
        if source.raw.get("has_protected_content"):
            raise ApiError.bad_request("message can't be " + ("copied" if as_copy else "forwarded"))
        content = {k: copy.deepcopy(v) for k, v in source.raw.items() if k not in _NOT_CONTENT}
        formatted: FormattedText | None = None
        markup: JSON | None = None
        if as_copy:
            markup = check_markup(params.get("reply_markup"))
            if "caption" in params and "text" not in content:
                formatted = format_caption(params, strict_html_entities=self.strict_html_entities)
                content.pop("caption", None)
                content.pop("caption_entities", None)
                if formatted is not None:
                    content["caption"] = formatted.text
                    if formatted.entities:
                        content["caption_entities"] = formatted.entities
        chat = self.chat(params)
        self._check_can_send(chat)
        message = self._new_bot_message(chat, params if as_copy else {})
        if not as_copy:
            message["forward_origin"] = self._origin(source)
        message.update(content)
        return self._record_bot_message(
            chat, message, params, formatted=formatted, markup=markup, file=source.file
        )

    def _origin(self, source: StoredMessage) -> JSON:
        """MessageOrigin of a forward: a forward of a forward names the original sender."""
        origin = source.raw.get("forward_origin")
        if origin is not None:
            return copy.deepcopy(origin)
        return {
            "type": "user",
            "sender_user": copy.deepcopy(source.raw.get("from", {})),
            "date": source.raw.get("date", self.now()),
        }

    def _editable(self, params: JSON) -> tuple[ChatState, StoredMessage]:
        if params.get("inline_message_id"):
            raise ApiError.bad_request("message to edit not found")  # inline mode isn't emulated
        chat = self.chat(params)
        message_id = get_int(params, "message_id", missing="message identifier is not specified")
        stored = chat.messages.get(message_id)
        if stored is None or stored.deleted:
            raise ApiError.bad_request("message to edit not found")
        if not stored.from_bot:
            raise ApiError.bad_request("message can't be edited")
        return chat, stored

    def _apply_edit(self, chat: ChatState, stored: StoredMessage, markup: JSON | None) -> JSON:
        if markup is None:
            stored.raw.pop("reply_markup", None)
        else:
            stored.raw["reply_markup"] = markup
        stored.markup = markup
        stored.raw["edit_date"] = self.now()
        stored.edited = True
        chat.events.append(("edited", stored.message_id))
        self.notify()
        self.chat_changed(chat)
        return copy.deepcopy(stored.raw)

    def _edit_message_text(self, params: JSON) -> JSON:
        chat, stored = self._editable(params)
        if "text" not in stored.raw:
            raise ApiError.bad_request("there is no text in the message to edit")
        formatted = format_text(params, strict_html_entities=self.strict_html_entities)
        # Omitting reply_markup removes the inline keyboard, exactly like Telegram.
        markup = check_markup(params.get("reply_markup"), inline_only=True)
        if (
            formatted.text == stored.raw["text"]
            and formatted.entities == stored.raw.get("entities", [])
            and markup == stored.raw.get("reply_markup")
        ):
            raise ApiError.bad_request(NOT_MODIFIED)
        stored.raw["text"] = formatted.text
        stored.raw.pop("entities", None)
        if formatted.entities:
            stored.raw["entities"] = formatted.entities
        stored.html, stored.parse_mode = formatted.html, formatted.parse_mode
        return self._apply_edit(chat, stored, markup)

    def _edit_message_reply_markup(self, params: JSON) -> JSON:
        chat, stored = self._editable(params)
        markup = check_markup(params.get("reply_markup"), inline_only=True)
        if markup == stored.raw.get("reply_markup"):
            raise ApiError.bad_request(NOT_MODIFIED)
        return self._apply_edit(chat, stored, markup)

    def delete(self, chat: ChatState, message_id: int) -> None:
        stored = chat.messages.get(message_id)
        if stored is None or stored.deleted:
            raise ApiError.bad_request("message to delete not found")
        if chat.type != "private" and not stored.from_bot and not chat.bot_is_admin:
            raise ApiError.bad_request("message can't be deleted")
        stored.deleted = True
        chat.deleted_message_ids.append(message_id)
        self.notify()
        self.chat_changed(chat)

    def _delete_message(self, params: JSON) -> bool:
        chat = self.chat(params)
        self.delete(
            chat, get_int(params, "message_id", missing="message identifier is not specified")
        )
        return True

    def _delete_messages(self, params: JSON) -> bool:
        chat = self.chat(params)
        ids = params.get("message_ids")
        if not isinstance(ids, list) or not ids:
            raise ApiError.bad_request("message identifiers are not specified")
        if len(ids) > 100:
            raise ApiError.bad_request("too many message identifiers specified")
        for message_id in ids:
            # Telegram skips messages that can't be found or deleted.
            with contextlib.suppress(ApiError):
                self.delete(chat, get_int({"id": message_id}, "id", missing="invalid message id"))
        return True

    def _answer_callback_query(self, params: JSON) -> bool:
        query_id = str(params.get("callback_query_id") or "")
        if query_id not in self._pending_queries:
            raise ApiError.bad_request(QUERY_INVALID)
        if len(str(params.get("text") or "")) > 200:
            raise ApiError.bad_request("MESSAGE_TOO_LONG")
        user_id = self._pending_queries.pop(query_id)
        answer: JSON = {"show_alert": False, **copy.deepcopy(params), "user_id": user_id}
        answer["show_alert"] = get_bool(answer, "show_alert")
        answer.setdefault("text", None)
        self.callback_answers.append(answer)
        self._query_answers[query_id] = answer
        self.notify()
        return True

    def _send_chat_action(self, params: JSON) -> bool:
        chat = self.chat(params)
        self._check_can_send(chat)
        action = str(params.get("action") or "")
        if action not in CHAT_ACTIONS:
            raise ApiError.bad_request("wrong parameter action in request")
        chat.actions.append(action)
        return True

    def _get_chat(self, params: JSON) -> JSON:
        chat = self.chat(params)
        full = {
            **copy.deepcopy(chat.raw),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": dict(_GIFT_TYPES),
        }
        if chat.type != "private":
            full["permissions"] = {"can_send_messages": True}
        return full

    def _get_file(self, params: JSON) -> JSON:
        return self.file_store.file_for_bot(str(params.get("file_id") or ""))

    # ------------------------------------------------------------------ bot settings
    @staticmethod
    def _commands_key(params: JSON) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        if not isinstance(scope, dict) or "type" not in scope:
            raise ApiError.bad_request("can't parse BotCommandScope JSON object")
        return json.dumps(scope, sort_keys=True), str(params.get("language_code") or "")

    def _set_my_commands(self, params: JSON) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise ApiError.bad_request("can't parse commands JSON object")
        if len(commands) > 100:
            raise ApiError.bad_request("too many commands specified")
        for item in commands:
            command = item.get("command") if isinstance(item, dict) else None
            if not isinstance(command, str) or not re.fullmatch(r"[a-z0-9_]{1,32}", command):
                raise ApiError.bad_request("BOT_COMMAND_INVALID")
            description = item.get("description")
            if not isinstance(description, str) or not 1 <= len(description.strip()) <= 256:
                raise ApiError.bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        key = self._commands_key(params)
        self.commands[key] = [
            {"command": c["command"], "description": c["description"]} for c in commands
        ]
        if not commands:
            del self.commands[key]
        return True

    def _get_my_commands(self, params: JSON) -> list[JSON]:
        return copy.deepcopy(self.commands.get(self._commands_key(params), []))

    def _delete_my_commands(self, params: JSON) -> bool:
        self.commands.pop(self._commands_key(params), None)
        return True

    def _set_text(self, params: JSON, field: str) -> bool:
        key = (field, str(params.get("language_code") or ""))
        value = params.get(field)
        if value in (None, ""):
            self.bot_texts.pop(key, None)
        else:
            self.bot_texts[key] = str(value)
        return True

    def _get_text(self, params: JSON, field: str) -> JSON:
        lang = str(params.get("language_code") or "")
        return {field: self.bot_texts.get((field, lang), self.bot_texts.get((field, ""), ""))}

    def _set_webhook(self, params: JSON) -> WithDescription:
        url = str(params.get("url") or "")
        if url and not url.startswith(("https://", "http://")):
            # Telegram wants HTTPS; plain HTTP is let through for bots on this machine.
            raise ApiError.bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.get("secret_token")
        if secret not in (None, "") and not WEBHOOK_SECRET.fullmatch(str(secret)):
            raise ApiError.bad_request("secret token contains unallowed characters")
        connections = _optional_int(params, "max_connections", 40)
        if not 1 <= connections <= 100:
            raise ApiError.bad_request("invalid max_connections specified")
        if get_bool(params, "drop_pending_updates"):
            self._updates.clear()
        if not url:
            self.webhook = None
            return WithDescription(True, "Webhook was deleted")
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):  # as getUpdates': absent keeps the previous choice
            self._allowed_updates = frozenset(map(str, allowed)) if allowed else None
        self.webhook = {k: v for k, v in params.items() if k != "certificate"}
        self.webhook_last_error = None
        self.webhook_wake.set()
        return WithDescription(True, "Webhook was set")

    def _delete_webhook(self, params: JSON) -> WithDescription:
        if get_bool(params, "drop_pending_updates"):
            self._updates.clear()
        was_set, self.webhook = self.webhook is not None, None
        return WithDescription(
            True, "Webhook was deleted" if was_set else "Webhook is already deleted"
        )

    def _get_webhook_info(self, _params: JSON) -> JSON:
        info: JSON = {
            "url": "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if self.webhook is not None:
            info["url"] = str(self.webhook.get("url", ""))
            info["max_connections"] = int(self.webhook.get("max_connections") or 40)
            if isinstance(self.webhook.get("allowed_updates"), list):
                info["allowed_updates"] = self.webhook["allowed_updates"]
            if self.webhook_last_error is not None:
                info["last_error_date"], info["last_error_message"] = self.webhook_last_error
        return info
