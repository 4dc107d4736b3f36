"""Script-like API for tests: simulated users and group chats talking to the bot."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .api import ALBUM_KINDS, MAX_ALBUM_ITEMS
from .files import FileStore, guess_mime_type, placeholder_photo
from .models import JSON, BotMessage, ChatState, StoredFile, StoredMessage

if TYPE_CHECKING:
    from .server import BotApiEmulator

MessageRef = BotMessage | int
# An album item: ("photo", data), ("video", data), ("audio", data, file_name) or
# ("document", data, file_name[, mime_type]); data None means placeholder bytes.
AlbumItem = (
    tuple[str, bytes | None] | tuple[str, bytes | None, str] | tuple[str, bytes | None, str, str]
)


class ChatView:
    """What a participant sees in one chat, plus a cursor over the bot's actions in it."""

    def __init__(self, emu: BotApiEmulator, chat_id: int) -> None:
        self._emu = emu
        self.chat_id = chat_id
        self._cursor = 0  # index into ChatState.events already returned by next_message()

    @property
    def _chat(self) -> ChatState:
        return self._emu.chats[self.chat_id]

    @property
    def messages(self) -> list[BotMessage]:
        """The bot's messages currently in the chat (edits applied, deleted removed)."""
        return [
            BotMessage.of(m) for m in self._chat.messages.values() if m.from_bot and not m.deleted
        ]

    @property
    def history(self) -> list[BotMessage]:
        """All messages currently in the chat, the users' too (``from_bot`` tells them apart)."""
        return [BotMessage.of(m) for m in self._chat.messages.values() if not m.deleted]

    @property
    def last_message(self) -> BotMessage | None:
        messages = self.messages
        return messages[-1] if messages else None

    @property
    def deleted_message_ids(self) -> list[int]:
        return list(self._chat.deleted_message_ids)

    @property
    def chat_actions(self) -> list[str]:
        """sendChatAction actions received for this chat, in order."""
        return list(self._chat.actions)

    @property
    def reply_keyboard(self) -> list[list[str]] | None:
        """Button texts of the current reply keyboard (ReplyKeyboardMarkup), if any."""
        markup = self._chat.reply_keyboard
        if markup is None:
            return None
        return [
            [str(b["text"]) if isinstance(b, dict) else str(b) for b in row]
            for row in markup["keyboard"]
        ]

    def message(self, message_id: int) -> BotMessage:
        """Current state of any message in this chat (deleted ones included)."""
        stored = self._chat.messages.get(message_id)
        if stored is None:
            raise AssertionError(f"no message #{message_id} in chat {self.chat_id}")
        return BotMessage.of(stored)

    async def download(self, message: MessageRef) -> bytes:
        """The bytes of the file a message carries (a photo's largest size), as the
        participant's Telegram app would save them."""
        if isinstance(message, int):
            found = self.message(message)
        else:  # as it is now, in whichever chat it is
            found = ChatView(self._emu, message.chat_id).message(message.message_id)
        if found.file_bytes is None:
            raise AssertionError(f"message carries no file: {found.describe()}")
        return found.file_bytes

    def transcript(self) -> str:
        lines = [m.describe() for m in self.history]
        return "\n".join(f"  {line}" for line in lines) or "  (no messages)"

    def _describe_failure(self, what: str) -> str:
        text = f"{what}\nThe chat {self._chat.title!r} currently shows:\n{self.transcript()}"
        errors = self._emu.recent_errors()
        return f"{text}\nRecent Bot API errors:\n{errors}" if errors else text

    async def next_message(self, timeout: float = 5.0) -> BotMessage:  # noqa: ASYNC109
        """Wait for the next bot send/edit in this chat; returns the message as it is now."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            events = self._chat.events
            if self._cursor < len(events):
                _, message_id = events[self._cursor]
                self._cursor += 1
                return BotMessage.of(self._chat.messages[message_id])
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(
                    self._describe_failure(f"No new bot message within {timeout}s.")
                )
            await self._emu.wait_for_chat_change(self.chat_id, remaining)

    async def assert_no_message(self, within: float = 0.3) -> None:
        """Assert the bot doesn't send or edit anything in this chat for ``within`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while (remaining := deadline - loop.time()) > 0:
            if self._cursor < len(self._chat.events):
                kind, message_id = self._chat.events[self._cursor]
                found = BotMessage.of(self._chat.messages[message_id]).describe()
                raise AssertionError(
                    self._describe_failure(f"Unexpected bot action ({kind}): {found}")
                )
            await self._emu.wait_for_chat_change(self.chat_id, remaining)

    async def wait_for_change(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Until a message in this chat is sent, edited or deleted, or `timeout` passes."""
        await self._emu.wait_for_chat_change(self.chat_id, timeout)

    def skip_pending(self) -> None:
        """Mark all bot actions so far as seen by next_message()."""
        self._cursor = len(self._chat.events)

    async def wait_until(
        self,
        predicate: Callable[[], object],
        timeout: float = 5.0,  # noqa: ASYNC109
        message: str | None = None,
    ) -> None:
        try:
            await self._emu.wait_until(predicate, timeout)
        except AssertionError:
            raise AssertionError(
                self._describe_failure(message or f"Condition not met within {timeout}s.")
            ) from None


class GroupChat(ChatView):
    """A group the bot is in; users write to it with ``user.send(..., chat=group)``."""

    @property
    def id(self) -> int:
        return self.chat_id

    @property
    def title(self) -> str:
        return self._chat.title

    @property
    def bot_is_admin(self) -> bool:
        return self._chat.bot_is_admin

    @bot_is_admin.setter
    def bot_is_admin(self, value: bool) -> None:
        self._chat.bot_is_admin = value


@dataclass
class Click:
    """A pressed inline button (a callback query sent to the bot)."""

    query_id: str
    data: str
    message: BotMessage  # the message as it was shown when clicked
    _emu: BotApiEmulator = field(repr=False)

    @property
    def answer(self) -> JSON | None:
        """answerCallbackQuery parameters once the bot answered, else None."""
        return self._emu.query_answer(self.query_id)

    async def wait_answered(self, timeout: float = 5.0) -> JSON:  # noqa: ASYNC109
        await self._emu.wait_until(
            lambda: self.answer is not None,
            timeout,
            f"callback query {self.data!r} was not answered within {timeout}s",
        )
        assert self.answer is not None
        return self.answer


class UserClient(ChatView):
    """A simulated user. Their private chat with the bot has the same id as the user."""

    def __init__(self, emu: BotApiEmulator, user_id: int) -> None:
        super().__init__(emu, user_id)
        self.id = user_id

    @property
    def user(self) -> JSON:
        return dict(self._emu.users[self.id])

    @property
    def first_name(self) -> str:
        return str(self._emu.users[self.id]["first_name"])

    @property
    def username(self) -> str | None:
        username = self._emu.users[self.id].get("username")
        return None if username is None else str(username)

    def set_language(self, language_code: str | None) -> None:
        """The language their Telegram app says it speaks (``language_code``) from now on,
        as when someone changes their app's language; None: it says none."""
        if language_code is None:
            self._emu.users[self.id].pop("language_code", None)
        else:
            self._emu.users[self.id]["language_code"] = language_code

    @property
    def callback_answers(self) -> list[JSON]:
        """answerCallbackQuery parameters for this user's queries (text, show_alert, ...)."""
        return [a for a in self._emu.callback_answers if a["user_id"] == self.id]

    def _chat_of(self, chat: ChatView | None) -> ChatState:
        return self._emu.chats[self.chat_id if chat is None else chat.chat_id]

    async def _send(
        self,
        content: JSON,
        chat: ChatView | None,
        reply_to: MessageRef | None,
        file: StoredFile | None = None,
    ) -> int:
        target = self._chat_of(chat)
        reply_id = reply_to.message_id if isinstance(reply_to, BotMessage) else reply_to
        message_id = self._emu.deliver_user_message(
            self.id, target, content, reply_to=reply_id, file=file
        )
        await asyncio.sleep(0)  # let a same-loop long poll pick the update up
        return message_id

    async def send(
        self, text: str, *, chat: ChatView | None = None, reply_to: MessageRef | None = None
    ) -> int:
        """Send a text message (bot_command entities added like Telegram); returns message_id."""
        return await self._send({"text": text}, chat, reply_to)

    # -------------------------------------------------------------------- files
    # Each sends one message carrying a file, as a Telegram app does; ``data`` None sends
    # placeholder bytes. Returns the message_id. The file is in emu.files under its file_id,
    # downloadable by the bot through getFile.
    @property
    def _files(self) -> FileStore:
        return self._emu.file_store

    def _placeholder(self, size: int, head: bytes = b"") -> bytes:
        return head + self._emu.rng.randbytes(size)

    async def _send_file(
        self,
        kind: str,
        media: Any,
        caption: str | None,
        chat: ChatView | None,
        reply_to: MessageRef | None,
        extra: JSON | None = None,
    ) -> int:
        content = _with_caption({kind: media, **(extra or {})}, caption)
        return await self._send(content, chat, reply_to, self._files.main_file(media))

    async def send_photo(
        self,
        data: bytes | None = None,
        caption: str | None = None,
        *,
        chat: ChatView | None = None,
        reply_to: MessageRef | None = None,
    ) -> int:
        """A photo: several PhotoSize entries, smallest first; the largest keeps ``data``."""
        content = data if data is not None else placeholder_photo(self._emu.rng)
        return await self._send_file(
            "photo", self._files.new_photo(content), caption, chat, reply_to
        )

    async def send_document(
        self,
        data: bytes | None = None,
        file_name: str = "document.pdf",
        mime_type: str | None = None,
        caption: str | None = None,
        *,
        chat: ChatView | None = None,
        reply_to: MessageRef | None = None,
    ) -> int:
        """A file sent as a document; mime_type None guesses it from the name, as apps do."""
        content = data if data is not None else self._placeholder(30_000, b"%PDF-1.4\n")
        media = self._files.new_file(
            "document",
            content,
            file_name=file_name,
            mime_type=mime_type or guess_mime_type(file_name),
        )
        return await self._send_file("document", media, caption, chat, reply_to)

    async def send_voice(
        self,
        data: bytes | None = None,
        duration: int = 3,
        *,
        caption: str | None = None,
        mime_type: str = "audio/ogg",
        chat: ChatView | None = None,
        reply_to: MessageRef | None = None,
    ) -> int:
        """A voice note (OGG/Opus, as Telegram apps record them)."""
        content = data if data is not None else self._placeholder(2_000 * duration, b"OggS")
        media = self._files.new_file("voice", content, mime_type=mime_type, duration=duration)
        return await self._send_file("voice", media, caption, chat, reply_to)

    async def send_audio(
        self,
        data: bytes | None = None,
        duration: int = 30,
        *,
        file_name: str | None = "audio.mp3",
        mime_type: str | None = None,
        title: str | None = None,
        performer: str | None = None,
        caption: str | None = None,
        chat: ChatView | None = None,
        reply_to: MessageRef | None = None,
    ) -> int:
        """A music file (shown with a player, unlike a document)."""
        content = data if data is not None else self._placeholder(50_000, b"ID3")
        media = self._files.new_file(
            "audio",
            content,
            file_name=file_name,
            mime_type=mime_type or guess_mime_type(file_name, "audio/mpeg"),
            duration=duration,
            performer=performer,
            title=title,
        )
        return await self._send_file("audio", media, caption, chat, reply_to)

    async def send_video(
        self,
        data: bytes | None = None,
        duration: int = 5,
        *,
        width: int = 1280,
        height: int = 720,
        file_name: str | None = None,
        mime_type: str = "video/mp4",
        caption: str | None = None,
        chat: ChatView | None = None,
        reply_to: MessageRef | None = None,
    ) -> int:
        content = data if data is not None else self._placeholder(100_000)
        media = self._files.new_file(
            "video",
            content,
            file_name=file_name,
            mime_type=mime_type,
            width=width,
            height=height,
            duration=duration,
        )
        return await self._send_file("video", media, caption, chat, reply_to)

    async def send_video_note(
        self,
        data: bytes | None = None,
        duration: int = 5,
        *,
        length: int = 240,
        chat: ChatView | None = None,
        reply_to: MessageRef | None = None,
    ) -> int:
        """A round video message (no caption, no file name: Telegram has none for them)."""
        content = data if data is not None else self._placeholder(60_000)
        media = self._files.new_file("video_note", content, length=length, duration=duration)
        return await self._send_file("video_note", media, None, chat, reply_to)

    async def send_animation(
        self,
        data: bytes | None = None,
        *,
        duration: int = 3,
        width: int = 320,
        height: int = 240,
        file_name: str = "animation.mp4",
        caption: str | None = None,
        chat: ChatView | None = None,
        reply_to: MessageRef | None = None,
    ) -> int:
        """A GIF: Telegram shows it as "animation" and, for old clients, as "document" too."""
        content = data if data is not None else self._placeholder(40_000)
        media = self._files.new_file(
            "animation",
            content,
            file_name=file_name,
            mime_type="video/mp4",
            width=width,
            height=height,
            duration=duration,
        )
        extra = {"document": dict(media)}
        return await self._send_file("animation", media, caption, chat, reply_to, extra)

    async def send_sticker(self, emoji: str = "👍", *, chat: ChatView | None = None) -> int:
        sticker = self._files.new_file(
            "sticker",
            self._placeholder(24_000, b"RIFF"),
            width=512,
            height=512,
            emoji=emoji,
            set_name="HotCherry",
            is_animated=False,
            is_video=False,
            type="regular",
        )
        return await self._send_file("sticker", sticker, None, chat, None)

    async def send_album(
        self,
        items: Sequence[AlbumItem],
        caption: str | None = None,
        *,
        chat: ChatView | None = None,
        reply_to: MessageRef | None = None,
    ) -> list[int]:
        """Photos, videos, documents or audio sent together: one message (and update) per
        item, all with one media_group_id, the caption on the first only, as Telegram apps
        send them. Documents and audio go only with their own kind; one item is no album."""
        if not 1 <= len(items) <= MAX_ALBUM_ITEMS:
            raise ValueError(f"an album has 1 to {MAX_ALBUM_ITEMS} items, not {len(items)}")
        kinds = {item[0] for item in items}
        if not kinds <= ALBUM_KINDS or (len(kinds) > 1 and kinds & {"document", "audio"}):
            raise ValueError(f"Telegram apps can't send {sorted(kinds)} as one album")
        media = [self._album_media(item) for item in items]
        group: JSON = {}
        if len(media) > 1:
            group["media_group_id"] = str(self._emu.rng.randint(10**17, 2**63 - 1))
        return [
            await self._send_file(kind, item, caption if i == 0 else None, chat, reply_to, group)
            for i, (kind, item) in enumerate(media)
        ]

    def _album_media(self, item: AlbumItem) -> tuple[str, Any]:
        kind, data, *rest = item
        name = rest[0] if rest else None
        if kind == "photo":
            content = data if data is not None else placeholder_photo(self._emu.rng)
            return kind, self._files.new_photo(content)
        content = data if data is not None else self._placeholder(30_000)
        mime = (
            rest[1]
            if len(rest) > 1
            else guess_mime_type(name, _DEFAULT_MIME.get(kind, "application/octet-stream"))
        )
        fields: JSON = {"duration": 5, "width": 1280, "height": 720} if kind == "video" else {}
        if kind == "audio":
            fields = {"duration": 30}
        return kind, self._files.new_file(kind, content, file_name=name, mime_type=mime, **fields)

    async def send_location(
        self,
        latitude: float = 52.520008,
        longitude: float = 13.404954,
        *,
        chat: ChatView | None = None,
    ) -> int:
        return await self._send(
            {"location": {"latitude": latitude, "longitude": longitude}}, chat, None
        )

    async def send_contact(
        self,
        phone_number: str = "+15555550123",
        first_name: str | None = None,
        *,
        last_name: str | None = None,
        user_id: int | None = None,
        vcard: str | None = None,
        chat: ChatView | None = None,
    ) -> int:
        """A shared contact; without ``first_name``, the user's own (with their user_id)."""
        if first_name is None:
            first_name = self.first_name
            user_id = self.id if user_id is None else user_id
        contact: JSON = {"phone_number": phone_number, "first_name": first_name}
        optional = {"last_name": last_name, "user_id": user_id, "vcard": vcard}
        contact.update({k: v for k, v in optional.items() if v is not None})
        return await self._send({"contact": contact}, chat, None)

    def _find_message(
        self, message: MessageRef | None, chat: ChatView | None, *, need_keyboard: bool
    ) -> tuple[ChatState, StoredMessage]:
        target = (
            self._emu.chats[message.chat_id]
            if isinstance(message, BotMessage)
            else self._chat_of(chat)
        )
        if message is not None:
            message_id = message.message_id if isinstance(message, BotMessage) else message
            stored = target.messages.get(message_id)
            if stored is None:
                raise AssertionError(f"no message #{message_id} in chat {target.title!r}")
            return target, stored
        bot_messages = [m for m in target.messages.values() if m.from_bot and not m.deleted]
        with_keyboard = [m for m in bot_messages if m.raw.get("reply_markup")]
        candidates = with_keyboard or ([] if need_keyboard else bot_messages)
        if not candidates:
            view = ChatView(self._emu, target.id)
            raise AssertionError(view._describe_failure("No bot message with an inline keyboard."))
        return target, candidates[-1]

    async def click(
        self, text: str, *, message: MessageRef | None = None, chat: ChatView | None = None
    ) -> Click:
        """Press the inline button labelled ``text`` (exact, else unique substring match)
        on ``message`` or on the newest bot message with an inline keyboard."""
        target, stored = self._find_message(message, chat, need_keyboard=True)
        if stored.deleted:
            raise AssertionError(f"message #{stored.message_id} was deleted; its buttons are gone")
        rows: list[list[Any]] = (stored.raw.get("reply_markup") or {}).get("inline_keyboard", [])
        buttons: list[JSON] = [button for row in rows for button in row]
        exact = [b for b in buttons if b.get("text") == text]
        candidates = exact or [b for b in buttons if text in str(b.get("text", ""))]
        if not exact and len(candidates) != 1:
            shown = BotMessage.of(stored).describe()
            problem = "is ambiguous" if candidates else "not found"
            raise AssertionError(
                f"Button {text!r} {problem}. Available buttons: "
                f"{[b.get('text') for b in buttons]}\nMessage: {shown}"
            )
        button = candidates[0]
        if "callback_data" not in button:
            kind = next((k for k in button if k != "text"), "?")
            raise AssertionError(
                f"Button {button['text']!r} is a {kind} button ({button.get(kind)!r}), "
                "not a callback button"
            )
        return await self._press(target, stored, str(button["callback_data"]))

    async def click_data(
        self, data: str, *, message: MessageRef | None = None, chat: ChatView | None = None
    ) -> Click:
        """Send a callback query with arbitrary ``data`` (forged or stale buttons)."""
        target, stored = self._find_message(message, chat, need_keyboard=False)
        return await self._press(target, stored, data)

    async def _press(self, chat: ChatState, stored: StoredMessage, data: str) -> Click:
        chat.members.add(self.id)
        snapshot = BotMessage.of(stored)
        query_id = self._emu.press(self.id, chat, stored, data)
        await asyncio.sleep(0)
        return Click(query_id, data, snapshot, self._emu)

    async def block(self) -> None:
        """Block the bot: sends fail with 403 and the bot gets a my_chat_member update."""
        await self._set_blocked(True)

    async def unblock(self) -> None:
        await self._set_blocked(False)

    async def _set_blocked(self, blocked: bool) -> None:
        chat = self._chat_of(None)
        if chat.blocked == blocked:
            return
        chat.blocked = blocked
        bot = {k: self._emu.bot_user[k] for k in ("id", "is_bot", "first_name", "username")}
        old, new = ("member", "kicked") if blocked else ("kicked", "member")

        def member(status: str) -> JSON:
            return {
                "user": bot,
                "status": status,
                **({"until_date": 0} if status == "kicked" else {}),
            }

        update = {
            "chat": dict(chat.raw),
            "from": self.user,
            "date": self._emu.now(),
            "old_chat_member": member(old),
            "new_chat_member": member(new),
        }
        self._emu.enqueue_update({"my_chat_member": update})
        await asyncio.sleep(0)


def _with_caption(content: JSON, caption: str | None) -> JSON:
    return content if caption is None else {**content, "caption": caption}


_DEFAULT_MIME = {"video": "video/mp4", "audio": "audio/mpeg"}
