"""The demo's web page: simulated users' chats with the bot, shown and driven from a browser.

``page_app`` serves a page (static/) and a small JSON API over the emulator's state. It must
run in the emulator's event loop: the emulator's state is only ever touched from there.
Serve it without an access log (``web.AppRunner(app, access_log=None)``): paths carry
Telegram user ids, which are never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

from aiohttp import web

from .client import UserClient
from .files import MAX_PHOTO_BYTES, MEBIBYTE, clean_file_name
from .models import JSON, BotMessage
from .page_view import command_menu, message_json
from .server import BotApiEmulator

STATIC = Path(__file__).parent / "static"
ASSETS = {
    "index.html": "text/html",
    "app.js": "text/javascript",
    "style.css": "text/css",
    "strings.json": "application/json",  # the page's own words, by language
}
MAX_TEXT = 4096  # Telegram's limit for one message
# What a Telegram app sends as language_code: an IETF tag such as "en" or "zh-hans".
LANGUAGE_CODE = re.compile(r"[a-z]{2,3}(-[a-z0-9]{1,8}){0,3}")
MAX_FILE_BYTES = 20 * MEBIBYTE  # what a bot can download at most: larger is useless here
PRESS_ANSWER_WAIT = 3.0  # seconds to wait for answerCallbackQuery, to show its text
KEEPALIVE_SECONDS = 15.0
# Images a browser shows inline; anything else (SVG, HTML, ...) is served as a download so
# that a file someone sent can never run script in the page's origin.
INLINE_IMAGES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
# The page loads nothing from elsewhere and runs no inline script: should any markup slip
# through, it could still not run.
PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


@dataclass(frozen=True)
class Person:
    """One chat on the page: a simulated Telegram user and how the page titles them."""

    role: str  # "reporter" | "responder" | "admin"
    name: str  # e.g. "Rea (reporter)"
    user: UserClient


class Controls(Protocol):
    """What the page asks of whoever runs the demo (the bot's clock and database)."""

    def now(self) -> datetime: ...  # the bot's clock (aware, UTC)

    async def skip_day(self) -> None: ...  # moves the bot's and the emulator's clock 1 day on

    async def database(self) -> list[dict[str, Any]]: ...  # [{"table", "columns", "rows"}]

    # The page said which language its people's Telegram apps speak (already set on them).
    async def language_chosen(self, language_code: str) -> None: ...


# ------------------------------------------------------------------------- events
class Events:
    """Fans the emulator's chat changes out to every open event stream."""

    def __init__(self) -> None:
        self.streams: set[asyncio.Queue[str | None]] = set()

    def publish(self, event: str, data: JSON) -> None:
        message = f"event: {event}\ndata: {json.dumps(data)}\n\n"
        for queue in self.streams:
            with contextlib.suppress(asyncio.QueueFull):  # a stuck reader misses events
                queue.put_nowait(message)

    def close(self) -> None:
        for queue in self.streams:
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(None)


# ------------------------------------------------------------------------- the app
def page_app(
    emulator: BotApiEmulator, people: Sequence[Person], controls: Controls
) -> web.Application:
    """The page and its API, for the chats of ``people`` (see the module docstring)."""
    by_id = {person.user.id: person for person in people}
    events = Events()

    def on_chat_change(chat_id: int) -> None:
        if chat_id in by_id:
            events.publish("chat", {"user_id": chat_id})

    def person_of(request: web.Request) -> Person:
        try:
            return by_id[int(request.match_info["user_id"])]
        except (ValueError, KeyError):
            raise web.HTTPNotFound(text="no such chat") from None

    async def json_body(request: web.Request) -> JSON:
        try:
            body = await request.json()
        except ValueError:
            raise web.HTTPBadRequest(text="JSON body expected") from None
        if not isinstance(body, dict):
            raise web.HTTPBadRequest(text="JSON object expected")
        return body

    def clock() -> JSON:
        return {"now": controls.now().astimezone(UTC).isoformat()}

    async def index(_: web.Request) -> web.StreamResponse:
        return _asset("index.html")

    async def static(request: web.Request) -> web.StreamResponse:
        return _asset(request.match_info["file"])

    async def no_icon(_: web.Request) -> web.Response:
        return web.Response(status=204)  # browsers ask for one; a 404 would look like a fault

    async def list_people(_: web.Request) -> web.Response:
        return web.json_response(
            [
                {
                    "user_id": p.user.id,
                    "role": p.role,
                    "name": p.name,
                    "first_name": p.user.first_name,  # the page titles the chat in its language
                }
                for p in people
            ]
        )

    async def chat(request: web.Request) -> web.Response:
        person = person_of(request)
        state = emulator.chats[person.user.id]
        return web.json_response(
            {
                "user_id": person.user.id,
                "role": person.role,
                "name": person.name,
                "messages": [message_json(m) for m in state.messages.values() if not m.deleted],
                "reply_keyboard": person.user.reply_keyboard,
            }
        )

    async def menu(request: web.Request) -> web.Response:
        person = person_of(request)
        language = str(person.user.user.get("language_code") or "")
        return web.json_response(command_menu(emulator, person.user.id, language))

    async def send(request: web.Request) -> web.Response:
        person = person_of(request)
        text = (await json_body(request)).get("text")
        if not isinstance(text, str) or not text.strip():
            raise web.HTTPBadRequest(text="text expected")
        if len(text) > MAX_TEXT:
            raise web.HTTPBadRequest(text=f"at most {MAX_TEXT} characters")
        return web.json_response({"message_id": await person.user.send(text)})

    async def press(request: web.Request) -> web.Response:
        person = person_of(request)
        body = await json_body(request)
        message_id, data = body.get("message_id"), body.get("data")
        if not isinstance(message_id, int) or not isinstance(data, str):
            raise web.HTTPBadRequest(text="message_id and data expected")
        stored = emulator.chats[person.user.id].messages.get(message_id)
        if stored is None or stored.deleted or not stored.from_bot:
            raise web.HTTPNotFound(text="no such message")
        if data not in BotMessage.of(stored).callback_data:
            raise web.HTTPConflict(text="that button is no longer there")
        click = await person.user.click_data(data, message=message_id)
        # Telegram shows the bot's answer as a toast: wait for it a little, without failing.
        with contextlib.suppress(AssertionError):
            await click.wait_answered(PRESS_ANSWER_WAIT)
        answer = click.answer or {}
        return web.json_response(
            {
                "answered": click.answer is not None,
                "text": answer.get("text"),
                "show_alert": bool(answer.get("show_alert")),
            }
        )

    async def upload(request: web.Request) -> web.Response:
        person = person_of(request)
        form = await request.post()  # over client_max_size: aiohttp answers 413
        part = form.get("file")
        if not isinstance(part, web.FileField):
            raise web.HTTPBadRequest(text="a file part named 'file' expected")
        content = part.file.read()
        if not content:
            raise web.HTTPBadRequest(text="the file is empty")
        caption = form.get("caption")
        caption = caption if isinstance(caption, str) and caption.strip() else None
        mime = part.content_type or "application/octet-stream"
        # Telegram apps send pictures as photos (compressed, no name); SVGs and very large
        # images can't be photos, so they go as documents, like everything else.
        as_photo = mime.startswith("image/") and mime != "image/svg+xml"
        if as_photo and len(content) <= MAX_PHOTO_BYTES:
            message_id = await person.user.send_photo(content, caption)
        else:
            name = clean_file_name(part.filename) or "file"
            message_id = await person.user.send_document(content, name, mime, caption)
        return web.json_response({"message_id": message_id})

    async def file(request: web.Request) -> web.StreamResponse:
        stored = emulator.files.get(request.match_info["file_id"])
        if stored is None:
            raise web.HTTPNotFound(text="no such file")
        media = stored.media if isinstance(stored.media, dict) else {}
        mime = "image/jpeg" if stored.kind == "photo" else str(media.get("mime_type") or "")
        headers = {"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox"}
        if mime in INLINE_IMAGES:
            return web.Response(body=stored.content, content_type=mime, headers=headers)
        name = str(media.get("file_name") or Path(stored.file_path).name)
        headers["Content-Disposition"] = _attachment(name)
        return web.Response(
            body=stored.content, content_type="application/octet-stream", headers=headers
        )

    async def stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        queue: asyncio.Queue[str | None] = asyncio.Queue(maxsize=1000)
        events.streams.add(queue)
        try:
            await response.write(b"event: hello\ndata: {}\n\n")  # subscribed: refetch all
            while True:
                try:
                    message = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
                except TimeoutError:
                    message = ": keep-alive\n\n"  # also notices a page that went away
                if message is None:  # the server is shutting down
                    break
                await response.write(message.encode())
        except ConnectionResetError:
            pass  # the page went away
        finally:
            events.streams.discard(queue)
        return response

    async def set_language(request: web.Request) -> web.Response:
        code = (await json_body(request)).get("language_code")
        if not isinstance(code, str) or not LANGUAGE_CODE.fullmatch(code):
            raise web.HTTPBadRequest(text="language_code expected, such as en or zh-hans")
        for person in people:  # one page, one language: every chat on it speaks it
            person.user.set_language(code)
        await controls.language_chosen(code)
        return web.json_response({"language_code": code})

    async def get_clock(_: web.Request) -> web.Response:
        return web.json_response(clock())

    async def skip_day(_: web.Request) -> web.Response:
        await controls.skip_day()
        events.publish("clock", clock())
        return web.json_response(clock())

    async def database(_: web.Request) -> web.Response:
        tables = await controls.database()
        return web.json_response({"tables": tables}, dumps=lambda v: json.dumps(v, default=str))

    async def startup(_: web.Application) -> None:
        emulator.chat_listeners.append(on_chat_change)

    async def shutdown(_: web.Application) -> None:
        with contextlib.suppress(ValueError):
            emulator.chat_listeners.remove(on_chat_change)
        events.close()  # ends open event streams, so the server can stop at once

    app = web.Application(client_max_size=MAX_FILE_BYTES + MEBIBYTE)
    app.on_startup.append(startup)
    app.on_shutdown.append(shutdown)
    app.router.add_get("/", index)
    app.router.add_get("/static/{file}", static)
    app.router.add_get("/favicon.ico", no_icon)
    app.router.add_get("/api/people", list_people)
    app.router.add_get("/api/chats/{user_id}", chat)
    app.router.add_get("/api/chats/{user_id}/menu", menu)
    app.router.add_post("/api/chats/{user_id}/send", send)
    app.router.add_post("/api/chats/{user_id}/press", press)
    app.router.add_post("/api/chats/{user_id}/file", upload)
    app.router.add_get("/api/files/{file_id}", file)
    app.router.add_post("/api/language", set_language)
    app.router.add_get("/api/events", stream)
    app.router.add_get("/api/clock", get_clock)
    app.router.add_post("/api/clock/skip-day", skip_day)
    app.router.add_get("/api/database", database)
    return app


def _asset(name: str) -> web.Response:
    """One of the page's own files; only the known names exist (no path traversal)."""
    content_type = ASSETS.get(name)
    if content_type is None:
        raise web.HTTPNotFound(text="no such file")
    return web.Response(
        body=(STATIC / name).read_bytes(),
        content_type=content_type,
        charset="utf-8",
        headers={
            "Cache-Control": "no-cache",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": PAGE_POLICY,
        },
    )


def _attachment(name: str) -> str:
    """A Content-Disposition that survives any file name (RFC 6266 filename*)."""
    fallback = "".join(c if (c.isascii() and c.isalnum()) or c in "._-" else "_" for c in name)
    encoded = quote(name, safe="")
    return f"attachment; filename=\"{fallback or 'file'}\"; filename*=UTF-8''{encoded}"


__all__ = ["Controls", "Person", "page_app"]
