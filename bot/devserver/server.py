"""HTTP side of the emulator: Telegram's Bot API wire format on 127.0.0.1 via aiohttp."""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import mimetypes
import socket
import time
from collections.abc import Callable, Iterable
from http import HTTPStatus
from types import TracebackType
from typing import Any

from aiohttp import web

from .api import BotApi, WithDescription
from .client import GroupChat, UserClient
from .files import DEFAULT_MAX_DOWNLOAD_BYTES, DEFAULT_MAX_UPLOAD_BYTES, MEBIBYTE
from .limits import SEND_METHODS, FloodControl, RateLimits, Send
from .models import JSON, ApiCall, ApiError, ChatState, Failure, StoredFile, Upload
from .webhook import WebhookDeliverer, WebhookDelivery

log = logging.getLogger(__name__)

# Parameters that are strings in the Bot API. PTB sends every str value raw and every other
# value JSON-encoded, so these must never be JSON-decoded (a text "123" stays "123").
TEXT_PARAMS = frozenset(
    {
        "text", "caption", "parse_mode", "callback_query_id", "url", "description",
        "short_description", "name", "language_code", "inline_message_id", "action",
        "secret_token", "ip_address", "emoji", "title", "query", "file_id", "data",
        "message_effect_id", "business_connection_id", "custom_title", "question",
        "performer", "photo", "document", "voice", "audio", "video", "video_note", "animation",
        "sticker", "thumbnail", "cover",
    }
)  # fmt: skip


def decode_param(name: str, value: Any) -> Any:
    """Undo PTB's form encoding: non-text values arrive as JSON strings."""
    if not isinstance(value, str) or name in TEXT_PARAMS:
        return value
    try:
        decoded = json.loads(value)
    except ValueError:
        return value  # e.g. chat_id "@channel"
    return value if isinstance(decoded, str) else decoded


async def read_params(request: web.Request) -> JSON:
    """Merge query string and body (urlencoded, multipart or JSON), like Telegram does.

    A file part of a multipart body becomes an :class:`Upload` under the part's name, as
    Telegram finds files either there or by an ``attach://<name>`` reference."""
    raw: dict[str, Any] = dict(request.query)
    if request.can_read_body:
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise ApiError.bad_request("can't parse JSON encoded request parameters") from None
            if not isinstance(body, dict):
                raise ApiError.bad_request("JSON object expected as request parameters")
            raw.update(body)
        elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            try:
                form = await request.post()
            except web.HTTPRequestEntityTooLarge:
                raise ApiError(413, "Request Entity Too Large") from None
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    raw[key] = Upload(value.filename, value.content_type, value.file.read())
                else:
                    raw[key] = value if isinstance(value, str) else bytes(value).decode()
    return {key: decode_param(key, value) for key, value in raw.items()}


def _reply(body: JSON, status: int) -> web.Response:
    return web.json_response(body, status=status)


class BotApiEmulator(BotApi):
    """A local Telegram Bot API server plus a script-like API for simulated users.

    >>> async with BotApiEmulator(token="123:ABC", bot_username="x_bot") as emu:
    ...     bot = telegram.Bot("123:ABC", base_url=emu.base_url)
    """

    def __init__(
        self,
        token: str = "123456:TEST-TOKEN",  # noqa: S107 - a fake token for tests
        bot_username: str = "confide_test_bot",
        bot_first_name: str = "Confide",
        *,
        group_privacy: bool = True,
        strict_html_entities: bool = True,
        seed: int | None = None,
        max_download_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES,
        max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
        clock: Callable[[], float] = time.time,
        webhook_extra_urls: Iterable[str] = (),
        webhook_retry_seconds: float = 0.05,
        webhook_timeout_seconds: float = 10.0,
        rate_limits: RateLimits | None = None,
    ) -> None:
        """``max_download_bytes``: larger files make getFile answer "file is too big";
        ``max_upload_bytes``: a request uploading a larger file is refused with 413. Both
        default to the limits of Telegram's cloud Bot API (20 MB and 50 MB). ``clock``
        (seconds since the epoch) dates messages, so they can follow a demo's clock.
        ``rate_limits``: answer sends beyond them 429 with retry_after, as Telegram does
        (off by default; see :meth:`limit_rates`).

        While a webhook is set, updates are POSTed to it (see webhook.py), round-robin over
        its URL and ``webhook_extra_urls`` (more replicas behind one name); a failed delivery
        is retried after ``webhook_retry_seconds``, doubling up to a second."""
        super().__init__(
            token,
            bot_username,
            bot_first_name,
            group_privacy=group_privacy,
            strict_html_entities=strict_html_entities,
            seed=seed,
            max_download_bytes=max_download_bytes,
            clock=clock,
        )
        self.max_upload_bytes = max_upload_bytes
        self.failures: list[Failure] = []
        self.failures_served = 0
        self.errors: list[tuple[str, JSON, str]] = []  # (method, params, description) of 4xx/5xx
        self.downloads: list[str] = []  # file_ids of files the bot downloaded, in order
        self.sends: list[Send] = []  # every call of a send method, timed (monotonic)
        self.flood: FloodControl | None = None
        self.limit_rates(rate_limits)
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._user_ids: set[int] = set()
        self.webhook_extra_urls: list[str] = list(webhook_extra_urls)
        self._deliverer = WebhookDeliverer(
            self,
            self.webhook_extra_urls,
            retry_seconds=webhook_retry_seconds,
            timeout_seconds=webhook_timeout_seconds,
        )

    # -------------------------------------------------------------------- lifecycle
    async def start(self) -> None:
        # aiohttp's own limit stays above ours, so that our 413 is the one bots see.
        app = web.Application(client_max_size=self.max_upload_bytes + 16 * MEBIBYTE)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        self._closing = False
        # Short shutdown timeout: a bot killed mid long-poll must not delay teardown.
        self._runner = web.AppRunner(
            app, handle_signals=False, access_log=None, shutdown_timeout=0.5
        )
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self._port = int(sock.getsockname()[1])
        await web.SockSite(self._runner, sock).start()
        self._deliverer.start()

    async def stop(self) -> None:
        self.close_pollers()
        await self._deliverer.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> BotApiEmulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("BotApiEmulator is not started")
        return self._port

    @property
    def base_url(self) -> str:
        """For ``Bot(token, base_url=...)``: PTB appends ``{token}/{method}``."""
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    # ----------------------------------------------------------- failure injection
    def fail(
        self,
        method: str,
        *,
        status: int = 500,
        times: int = 1,
        retry_after: int | None = None,
        drop_connection: bool = False,
        description: str | None = None,
        stall_seconds: float = 0.0,
    ) -> Failure:
        """Make the next ``times`` calls of ``method`` ("*" = any) fail without side effects;
        with ``stall_seconds``, after hanging that long (the caller may give up first)."""
        failure = Failure(
            method.lower(),
            status,
            times,
            retry_after,
            drop_connection,
            description,
            stall_seconds=stall_seconds,
        )
        self.failures.append(failure)
        return failure

    def limit_rates(self, limits: RateLimits | None) -> None:
        """Enforce Telegram's flood limits from now on (None: no more); counts start anew."""
        self.flood = None if limits is None else FloodControl(limits)

    @property
    def rate_refused(self) -> int:
        """Sends refused with 429 by the rate limits (not by :meth:`fail`)."""
        return 0 if self.flood is None else self.flood.refused

    def clear_failures(self) -> None:
        self.failures.clear()

    def _take_failure(self, method: str) -> Failure | None:
        for failure in self.failures:
            if failure.matches(method):
                failure.times -= 1
                failure.served += 1
                self.failures_served += 1
                return failure
        return None

    @staticmethod
    def _failure_body(failure: Failure) -> tuple[JSON, int]:
        if failure.retry_after is not None:
            description = (
                failure.description or f"Too Many Requests: retry after {failure.retry_after}"
            )
            error = ApiError(429, description, {"retry_after": failure.retry_after})
            return error.payload(), 429
        try:
            phrase = HTTPStatus(failure.status).phrase
        except ValueError:
            phrase = "Error"
        error = ApiError(failure.status, failure.description or phrase)
        return error.payload(), failure.status

    # ------------------------------------------------------------------------- HTTP
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return _reply({"ok": False, "error_code": 401, "description": "Unauthorized"}, 401)
        entry = self.methods.get(request.match_info["method"].lower())
        if entry is None:
            return _reply({"ok": False, "error_code": 404, "description": "Not Found"}, 404)
        name, handler = entry
        try:
            params = await read_params(request)
        except ApiError as exc:
            return _reply(exc.payload(), exc.code)
        call = ApiCall(name, params)
        self.calls.append(call)
        uploads = [value for value in params.values() if isinstance(value, Upload)]
        if any(upload.size > self.max_upload_bytes for upload in uploads):
            # api.telegram.org refuses such a request before reading it.
            self.errors.append((name, params, "Request Entity Too Large"))
            self.notify()
            return _reply(ApiError(413, "Request Entity Too Large").payload(), 413)
        response: web.StreamResponse | None = None
        try:
            response = await self._dispatch(request, call, handler)
            return response
        finally:
            if name.lower() in SEND_METHODS:
                status = 500 if response is None else response.status
                self.sends.append(Send(time.monotonic(), name, params.get("chat_id"), status))
            self.notify()  # wake wait_until() watchers of emu.calls

    async def _dispatch(
        self, request: web.Request, call: ApiCall, handler: Callable[[JSON], Any]
    ) -> web.StreamResponse:
        failure = self._take_failure(call.method)
        if failure is not None:
            self.failed_calls.append(call)
            if failure.stall_seconds:
                await asyncio.sleep(failure.stall_seconds)
            if failure.drop_connection:
                if request.transport is not None:
                    request.transport.close()
                return web.Response(status=500)  # unsendable: the connection is gone
            body, status = self._failure_body(failure)
            return _reply(body, status)
        if self.flood is not None and call.method.lower() in SEND_METHODS:
            wait = self.flood.retry_after(call.params.get("chat_id"))
            if wait is not None:
                return _reply(*self._failure_body(Failure(call.method, 429, 0, wait)))
        try:
            result = handler(call.params)
            if inspect.isawaitable(result):
                result = await result
        except ApiError as exc:
            self.errors.append((call.method, call.params, exc.description))
            return _reply(exc.payload(), exc.code)
        except Exception as exc:  # a bug in the emulator: make it loud but keep serving
            log.exception("emulator failed handling %s", call.method)
            description = f"Internal Server Error: emulator bug: {exc!r}"
            self.errors.append((call.method, call.params, description))
            return _reply({"ok": False, "error_code": 500, "description": description}, 500)
        if isinstance(result, WithDescription):
            return _reply(
                {"ok": True, "result": result.result, "description": result.description}, 200
            )
        return _reply({"ok": True, "result": result}, 200)

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        """``GET /file/bot<token>/<file_path>``: PTB's File.download_* fetch
        ``{base_file_url}{token}/{file_path}`` (the path URL-quoted, which aiohttp undoes).
        Only paths getFile handed out exist, as on Telegram."""
        if request.match_info["token"] != self.token:
            return _reply({"ok": False, "error_code": 401, "description": "Unauthorized"}, 401)
        stored = self.file_store.download(request.match_info["path"])
        if stored is None:
            return _reply({"ok": False, "error_code": 404, "description": "Not Found"}, 404)
        self.downloads.append(stored.file_id)
        content_type = mimetypes.guess_type(stored.file_path)[0] or "application/octet-stream"
        return web.Response(body=stored.content, content_type=content_type)

    # ------------------------------------------------------------- script-like API
    def calls_to(self, method: str) -> list[JSON]:
        """Parameters of every call of ``method`` (case-insensitive), including failed ones."""
        return [call.params for call in self.calls if call.method.lower() == method.lower()]

    def file(self, file_id: str) -> StoredFile:
        """A file users or the bot sent, by file_id (``.content`` is its bytes)."""
        stored = self.files.get(file_id)
        if stored is None:
            raise AssertionError(f"no file with file_id {file_id!r}")
        return stored

    def menu(self, chat_id: int | None = None, language: str = "") -> list[str]:
        """The commands a client shows in a chat's menu: the chat's own, else the default
        (Telegram's own fallback order, for one language)."""
        for scope in ({"type": "chat", "chat_id": chat_id}, {"type": "default"}):
            key = (json.dumps(scope, sort_keys=True), language)
            if key in self.commands:
                return [str(c["command"]) for c in self.commands[key]]
        return []

    @property
    def webhook_deliveries(self) -> list[WebhookDelivery]:
        """Every POST to the webhook so far, in the order the answers came."""
        return list(self._deliverer.deliveries)

    def lose_webhook_answers(self, times: int = 1) -> None:
        """The next `times` 2xx answers from the webhook are lost on their way back (the bot
        did get the update): Telegram delivers the same update again."""
        self._deliverer.lose_answers += times

    def inject_update(self, update: JSON) -> int:
        """Queue a raw update as is (any update_id is replaced; allowed_updates not applied)."""
        update_id = self.enqueue_update(update, apply_filter=False)
        assert update_id is not None
        return update_id

    def _unique_user_id(self) -> int:
        while True:
            user_id = self.rng.randint(10**8, 7_999_999_999)  # 9-10 digits, like real ids
            if user_id not in self._user_ids:
                self._user_ids.add(user_id)
                return user_id

    def new_user(
        self,
        first_name: str = "User",
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
        is_premium: bool | None = None,
        started: bool = False,
        user_id: int | None = None,
    ) -> UserClient:
        """Create a user and their private chat with the bot (chat id == user id).

        Like Telegram, the bot can't message the user until they have written to it
        (``started=True`` pretends they already did). `user_id` brings back a known user
        (someone who talked to the bot before this emulator started).
        """
        if user_id is None:
            user_id = self._unique_user_id()
        else:
            self._user_ids.add(user_id)
        optional = {"last_name": last_name, "username": username}
        user: JSON = {"id": user_id, "is_bot": False, "first_name": first_name}
        user.update({k: v for k, v in optional.items() if v is not None})
        if language_code is not None:
            user["language_code"] = language_code
        if is_premium:
            user["is_premium"] = True
        self.users[user_id] = user
        chat_raw: JSON = {"id": user_id, "first_name": first_name}
        chat_raw.update({k: v for k, v in optional.items() if v is not None})
        chat_raw["type"] = "private"
        self.chats[user_id] = ChatState(
            raw=chat_raw, members={user_id}, chat_instance=self._chat_instance(), started=started
        )
        return UserClient(self, user_id)

    def new_group(
        self,
        title: str = "Group",
        *,
        supergroup: bool = False,
        username: str | None = None,
        bot_is_admin: bool = False,
        members: Iterable[UserClient] = (),
    ) -> GroupChat:
        """Create a group (negative id) the bot is a member of."""
        while True:
            if supergroup:
                chat_id = -(10**12 + self.rng.randint(10**9, 3 * 10**9))
            else:
                chat_id = -self.rng.randint(4 * 10**9, 5 * 10**9 - 1)
            if chat_id not in self.chats:
                break
        raw: JSON = {"id": chat_id, "title": title, "type": "supergroup" if supergroup else "group"}
        if username is not None:
            raw["username"] = username
        self.chats[chat_id] = ChatState(
            raw=raw,
            members={member.id for member in members},
            chat_instance=self._chat_instance(),
            bot_is_admin=bot_is_admin,
        )
        return GroupChat(self, chat_id)

    def _chat_instance(self) -> str:
        return str(self.rng.randint(-9 * 10**18, 9 * 10**18))

    async def wait_until(
        self,
        predicate: Callable[[], object],
        timeout: float = 5.0,  # noqa: ASYNC109 - the script-like API wants plain timeouts
        message: str | None = None,
    ) -> None:
        """Wait until ``predicate()`` (sync or async) is truthy; AssertionError on timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = predicate()
            if inspect.isawaitable(result):
                result = await result
            if result:
                return
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(message or f"condition not met within {timeout}s")
            # State changes wake us at once; poll too, the predicate may look elsewhere (DB).
            await self.wait_for_change(min(remaining, 0.05))

    def recent_errors(self, count: int = 5) -> str:
        return "\n".join(
            f"  {method}: {description}" for method, _, description in self.errors[-count:]
        )


__all__ = ["BotApiEmulator", "decode_param", "read_params"]
