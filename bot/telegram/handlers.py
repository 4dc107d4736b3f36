"""The thin shell: Telegram update -> service event -> rendered reply.

Logs name events only; never update payloads, texts, names or Telegram ids."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import Bot, Chat, InputFile, Message, Update
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from bot import metrics
from bot.services.conversation import ConversationService
from bot.services.inbox import Inbox, StoredUpdate
from bot.services.protocol import (
    Command,
    Edited,
    FetchFailed,
    FileSent,
    Incoming,
    Other,
    Text,
)
from bot.telegram import callbacks
from bot.telegram.commands import set_chat_commands
from bot.telegram.connectivity import Connectivity
from bot.telegram.render import (
    DeleteRange,
    EditKeyboard,
    Outgoing,
    Renderer,
    Send,
    SetChatCommands,
)
from bot.telegram.render.outgoing import SendFile

log = logging.getLogger(__name__)
REPLY_PATIENCE = 600.0  # seconds a reply keeps trying while Telegram is unreachable
DELETE_BATCH = 100  # deleteMessages takes at most 100 ids
MAX_WIPE = 2000


class UpdateHandler:
    """One stored update: parsed, handed to the service (which marks it handled with its
    effect), and answered. An update the service does not see is marked handled here."""

    def __init__(
        self,
        service: ConversationService,
        renderer: Renderer,
        bot: Bot,
        inbox: Inbox,
        connectivity: Connectivity | None = None,
    ) -> None:
        self.service = service
        self.renderer = renderer
        self.bot = bot
        self.inbox = inbox
        self.connectivity = connectivity or Connectivity()

    async def handle(self, stored: StoredUpdate) -> None:
        """In its chat's turn across replicas (bot.services.inbox), which may bring other
        replicas' pending updates of the chat, handled here first if they came first."""
        await self.inbox.in_turn(stored, self._handle_timed)

    async def _handle_timed(self, stored: StoredUpdate) -> None:
        started = time.perf_counter()
        kind = "other"
        try:
            kind = await self._handle(stored)
        finally:
            metrics.current().update_handled(kind, time.perf_counter() - started)

    async def _handle(self, stored: StoredUpdate) -> str:
        """Handles the update; returns its kind, for the metrics."""
        try:
            update = Update.de_json(stored.data, self.bot)
        except Exception as error:  # not in Telegram's shape: say what, never the content
            log.warning("event=update_unparseable error=%s", type(error).__name__)
            await self.inbox.done(stored.update_id)
            return "other"
        chat = update.effective_chat
        incoming = None
        if chat is not None and chat.type == ChatType.PRIVATE:
            incoming = self.parse(update, chat)
        if chat is None or incoming is None:
            await self.inbox.done(stored.update_id)
            if chat is not None and chat.type != ChatType.PRIVATE:
                await self._refuse_group(update, chat)
            return "other"
        kind = _kind(incoming)
        query = update.callback_query
        # Stop the button's spinner while the work is done; the answer follows as a message.
        spinner = asyncio.create_task(_quietly(query.answer())) if query is not None else None
        try:
            reply = await self.service.handle(incoming)
        except Exception as error:  # any failure still gets a clear answer, without details
            log.error("event=handler_failed error=%s", type(error).__name__)
            await _quietly_done(self.inbox, stored.update_id)
            language = self.service.language_for(incoming.client_language)
            await self.deliver(chat.id, [self.renderer.error(language)])
            return kind
        finally:
            if spinner is not None:
                await spinner
        if reply is not None:
            if reply.delay:  # slowed down, after the transaction: nothing is held meanwhile
                await asyncio.sleep(reply.delay)
            await self.deliver(chat.id, self.renderer.render(reply.views, reply.language))
        return kind

    def parse(self, update: Update, chat: Chat) -> Incoming | None:
        user = update.effective_user
        language = user.language_code if user else None
        if update.callback_query is not None:
            query = update.callback_query
            message = query.message
            return Incoming(
                update.update_id,
                chat.id,
                language,
                message.message_id if message is not None else None,
                callbacks.parse(query.data),
            )
        if update.edited_message is not None:
            return Incoming(
                update.update_id, chat.id, language, update.edited_message.message_id, Edited()
            )
        message = update.message
        if message is None:
            return None
        return Incoming(
            update.update_id,
            chat.id,
            language,
            message.message_id,
            _message_event(message, self.renderer.bot_username),
        )

    async def _refuse_group(self, update: Update, chat: Chat) -> None:
        """No reports in groups: others would read them. Say so when addressed; else stay quiet."""
        user = update.effective_user
        language = self.service.language_for(user.language_code if user else None)
        if update.callback_query is not None:
            await _quietly(update.callback_query.answer())
            return
        message = update.message
        addressed = (
            message is not None
            and message.text is not None
            and (message.text.startswith("/") or f"@{self.renderer.bot_username}" in message.text)
        )
        if addressed:
            log.info("event=group_refused")
            await self.deliver(chat.id, [self.renderer.group_refusal(language)])

    async def deliver(self, chat_id: int, messages: list[Outgoing]) -> None:
        confidential: list[int] = []
        for item in messages:
            await self._with_retries(functools.partial(self._send_one, chat_id, item, confidential))
        if confidential:
            try:
                await self.service.case_views.shown(chat_id, confidential)
            except Exception as error:  # the view was shown; only its later deletion is lost
                log.error("event=case_view_not_recorded error=%s", type(error).__name__)

    async def _send_one(self, chat_id: int, item: Outgoing, confidential: list[int]) -> None:
        bot = self.bot
        match item:
            case Send(text, keyboard, secret):
                sent = await bot.send_message(
                    chat_id,
                    text,
                    parse_mode=ParseMode.HTML,
                    reply_markup=keyboard,
                    protect_content=secret or None,
                )
                if secret:
                    confidential.append(sent.message_id)
            case EditKeyboard(message_id, keyboard):
                try:
                    await bot.edit_message_reply_markup(chat_id, message_id, reply_markup=keyboard)
                except BadRequest as error:
                    if "not modified" not in str(error).lower():
                        raise
            case SendFile(send_as, name, caption, load, secret):
                sent = await _upload(bot, chat_id, send_as, name, caption, await load(), secret)
                if secret:
                    confidential.append(sent.message_id)
            case SetChatCommands(role):
                await set_chat_commands(bot, self.renderer.catalogue, chat_id, role)
            case DeleteRange(first, last):
                ids = list(range(max(first, last - MAX_WIPE), last + 1))
                for start in range(0, len(ids), DELETE_BATCH):
                    await _quietly(bot.delete_messages(chat_id, ids[start : start + DELETE_BATCH]))

    async def _with_retries(self, send: Callable[[], Awaitable[None]]) -> None:
        """Replies are sent right away. Flood limits are waited out; while Telegram cannot
        be reached the reply waits too (the chat's later updates queue behind it), for up to
        REPLY_PATIENCE, so that an outage delays answers instead of losing them."""
        loop = asyncio.get_running_loop()
        give_up = loop.time() + REPLY_PATIENCE
        while True:
            started = self.connectivity.attempt()
            try:
                await send()
            except RetryAfter as error:
                metrics.rate_limited()
                delay = error.retry_after
                seconds = delay if isinstance(delay, int | float) else delay.total_seconds()
                log.warning("event=reply_rate_limited retry_after=%s", seconds)
                await asyncio.sleep(seconds)
            except (Forbidden, BadRequest) as error:
                log.warning("event=reply_refused error=%s", type(error).__name__)
                return
            except NetworkError as error:  # timeouts and 5xx too
                if loop.time() >= give_up:
                    log.error("event=reply_failed error=%s", type(error).__name__)
                    return
                await self.connectivity.pause(error)
            else:
                self.connectivity.succeeded(started)
                return


def _kind(incoming: Incoming) -> str:
    """What the person did, in one of the metrics' few words (never what they wrote)."""
    match incoming.event:
        case Command():
            return "command"
        case Text():
            return "text"
        case FileSent():
            return "file"
        case Edited() | Other():
            return "other"
    return "button"  # every other event is a button's meaning (bot.telegram.callbacks)


def _message_event(message: Message, bot_username: str) -> Command | Text | FileSent | Other:
    text = message.text
    if text is None:
        return _file_event(message) or Other()
    if text.startswith("/"):
        head, _, argument = text[1:].partition(" ")
        name, _, addressee = head.partition("@")
        if not addressee or addressee.lower() == bot_username.lower():
            return Command(name.lower(), argument.strip())
    return Text(text)


async def _upload(
    bot: Bot, chat_id: int, send_as: str, name: str, caption: str, data: bytes, secret: bool
) -> Message:
    """A new upload of the bytes (never a forward: a forward shows where it came from)."""
    upload = InputFile(data, filename=name)
    common: dict[str, Any] = {"protect_content": secret or None}
    captioned: dict[str, Any] = {**common, "caption": caption, "parse_mode": ParseMode.HTML}
    if send_as == "photo":
        return await bot.send_photo(chat_id, upload, **captioned)
    if send_as == "voice":
        return await bot.send_voice(chat_id, upload, **captioned)
    if send_as == "audio":
        return await bot.send_audio(chat_id, upload, **captioned)
    if send_as == "video":
        return await bot.send_video(chat_id, upload, **captioned)
    if send_as == "video_note":  # takes no caption: sent as a document with it instead
        return await bot.send_document(chat_id, upload, **captioned)
    return await bot.send_document(chat_id, upload, **captioned)


def _file_event(message: Message) -> FileSent | None:
    """A photo (its largest size), document, voice note, audio, video or video note, as an
    event whose `fetch` downloads it to memory; stickers, locations, contacts: None."""
    name: str | None = None
    mime: str | None = None
    media: Any
    if message.photo:
        sent_as, media = "photo", max(message.photo, key=lambda p: p.width * p.height)
    elif message.document is not None:
        sent_as, media = "document", message.document
        name, mime = media.file_name, media.mime_type
    elif message.voice is not None:
        sent_as, media = "voice", message.voice
        mime = media.mime_type
    elif message.audio is not None:
        sent_as, media = "audio", message.audio
        name, mime = media.file_name, media.mime_type
    elif message.video is not None:
        sent_as, media = "video", message.video
        name, mime = media.file_name, media.mime_type
    elif message.video_note is not None:
        sent_as, media = "video_note", message.video_note
    else:
        return None
    bot, file_id = message.get_bot(), media.file_id

    async def fetch() -> bytes:
        try:
            found = await bot.get_file(file_id)
            return bytes(await found.download_as_bytearray())
        except BadRequest as error:  # the cloud Bot API's 20 MB: "file is too big"
            raise FetchFailed(too_big="too big" in str(error).lower()) from None
        except TelegramError:
            raise FetchFailed() from None

    return FileSent(
        sent_as=sent_as,
        size=media.file_size,
        fetch=fetch,
        name=name,
        mime=mime,
        caption=message.caption,
        album=message.media_group_id,
    )


async def _quietly_done(inbox: Inbox, update_id: int) -> None:
    try:
        await inbox.done(update_id)
    except Exception as error:  # the database is away: it is handled again at the next start
        log.error("event=inbox_mark_failed error=%s", type(error).__name__)


async def _quietly(call: object) -> None:
    try:
        await call  # type: ignore[misc]
    except TelegramError as error:
        log.info("event=telegram_call_ignored error=%s", type(error).__name__)
