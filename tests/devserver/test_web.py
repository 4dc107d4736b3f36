"""The demo page's HTTP API, over real HTTP: a real emulator, a real python-telegram-bot
``Bot`` talking to it, and the page app served by aiohttp on 127.0.0.1."""

from __future__ import annotations

import asyncio
import io
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from PIL import Image
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.constants import ParseMode

from bot.devserver import BotApiEmulator, UserClient
from bot.devserver.page_view import entities_to_html
from bot.devserver.web import Person, page_app

TOKEN = "123456:TEST-TOKEN"
START = datetime(2030, 1, 7, 9, 30, tzinfo=UTC)
TABLES: list[dict[str, Any]] = [
    {"table": "cases", "columns": ["id", "sealed"], "rows": [["1", "gAAAA" * 40]]},
    {"table": "people", "columns": ["id"], "rows": []},
]


@dataclass
class FixedControls:
    """The demo's controls as a test needs them: a clock that only moves on skip_day."""

    moment: datetime = START
    skipped: list[datetime] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)

    def now(self) -> datetime:
        return self.moment

    async def skip_day(self) -> None:
        self.moment += timedelta(days=1)
        self.skipped.append(self.moment)

    async def database(self) -> list[dict[str, Any]]:
        return TABLES

    async def language_chosen(self, language_code: str) -> None:
        self.languages.append(language_code)


@dataclass
class Demo:
    emu: BotApiEmulator
    bot: Bot
    http: aiohttp.ClientSession
    controls: FixedControls
    reporter: UserClient
    responder: UserClient
    admin: UserClient
    runner: web.AppRunner


@pytest.fixture
async def demo() -> AsyncIterator[Demo]:
    controls = FixedControls()
    async with BotApiEmulator(token=TOKEN, seed=3, clock=lambda: controls.now().timestamp()) as emu:
        reporter = emu.new_user("Rea", started=True)
        responder = emu.new_user("Rob", started=True)
        admin = emu.new_user("Ada", started=True)
        people = [
            Person("reporter", "Rea (reporter)", reporter),
            Person("responder", "Rob (responder)", responder),
            Person("admin", "Ada (admin)", admin),
        ]
        runner = web.AppRunner(page_app(emu, people, controls), access_log=None)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        await web.SockSite(runner, sock).start()
        try:
            async with (
                Bot(TOKEN, base_url=emu.base_url, base_file_url=emu.base_file_url) as bot,
                aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http,
            ):
                yield Demo(emu, bot, http, controls, reporter, responder, admin, runner)
        finally:
            await runner.cleanup()


async def get_json(demo: Demo, path: str) -> Any:
    async with demo.http.get(path) as response:
        assert response.status == 200, await response.text()
        assert response.content_type == "application/json"
        return await response.json()


async def post_json(demo: Demo, path: str, body: Any, status: int = 200) -> Any:
    async with demo.http.post(path, json=body) as response:
        assert response.status == status, await response.text()
        return await response.json() if status == 200 else await response.text()


async def take_updates(bot: Bot) -> tuple[Update, ...]:
    """What the bot receives next, confirmed so that the next call sees only newer ones."""
    updates = await bot.get_updates(timeout=5)
    if updates:
        await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0)
    return updates


async def chat(demo: Demo, user: UserClient) -> Any:
    return await get_json(demo, f"/api/chats/{user.id}")


def png(width: int = 40, height: int = 30) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 40, 90)).save(out, format="PNG")
    return out.getvalue()


# ------------------------------------------------------------------- page, assets
async def test_page_and_assets_are_served_with_their_types(demo: Demo) -> None:
    async with demo.http.get("/") as response:
        assert response.status == 200 and response.content_type == "text/html"
        page = await response.text()
        assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert '<html lang="en">' in page  # until the page has chosen its language
    assert 'data-i18n="page.intro"' in page  # its words come from strings.json
    for hook in ("clock", "skip-day", "database-toggle", "database", "language"):
        assert f'data-testid="{hook}"' in page
    assert "http://" not in page and "https://" not in page  # nothing from elsewhere
    async with demo.http.get("/static/strings.json") as response:
        assert response.status == 200 and response.content_type == "application/json"
        assert response.charset == "utf-8"
        strings = await response.json()
    assert strings["en"]["page.intro"].endswith("Nothing leaves this computer.")
    assert strings["zh-Hans"]["page.intro"].endswith("所有数据都不会离开这台电脑。")
    for name, content_type in (("app.js", "text/javascript"), ("style.css", "text/css")):
        async with demo.http.get(f"/static/{name}") as response:
            assert response.status == 200 and response.content_type == content_type
            assert response.charset == "utf-8"
            # Nothing from elsewhere (an XML namespace is a name, not a download).
            body = (await response.text()).replace('"http://www.w3.org/2000/svg"', "")
            assert "http://" not in body and "https://" not in body and "@import" not in body
    for path in ("/static/web.py", "/static/..%2Fweb.py", "/static/missing.js"):
        async with demo.http.get(path) as response:
            assert response.status == 404


async def test_people_lists_the_three_chats(demo: Demo) -> None:
    assert await get_json(demo, "/api/people") == [
        {
            "user_id": demo.reporter.id,
            "role": "reporter",
            "name": "Rea (reporter)",
            "first_name": "Rea",
        },
        {
            "user_id": demo.responder.id,
            "role": "responder",
            "name": "Rob (responder)",
            "first_name": "Rob",
        },
        {"user_id": demo.admin.id, "role": "admin", "name": "Ada (admin)", "first_name": "Ada"},
    ]


async def test_chats_of_other_users_are_not_served(demo: Demo) -> None:
    stranger = demo.emu.new_user("Sam", started=True)
    for path in (f"/api/chats/{stranger.id}", "/api/chats/nope", "/api/chats/1/menu"):
        async with demo.http.get(path) as response:
            assert response.status == 404
    await post_json(demo, f"/api/chats/{stranger.id}/send", {"text": "hi"}, 404)


# ------------------------------------------------------------------------- chats
async def test_bot_message_shows_with_formatting_and_its_buttons(demo: Demo) -> None:
    keyboard = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton("Start a report", callback_data="start")],
            [InlineKeyboardButton("Read more", url="https://example.org/x")],
        ]
    )
    sent = await demo.bot.send_message(
        demo.reporter.id,
        "<b>Hello</b> &lt;you&gt;, <i>welcome</i>",
        parse_mode=ParseMode.HTML,
        reply_markup=keyboard,
    )
    shown = await chat(demo, demo.reporter)
    assert shown["user_id"] == demo.reporter.id and shown["role"] == "reporter"
    assert shown["reply_keyboard"] is None
    [message] = shown["messages"]
    assert message["message_id"] == sent.message_id and message["from"] == "bot"
    assert message["text"] == "Hello <you>, welcome"
    assert message["html"] == "<b>Hello</b> &lt;you&gt;, <i>welcome</i>"
    assert {e["type"] for e in message["entities"]} == {"bold", "italic"}
    assert message["buttons"] == [
        [{"text": "Start a report", "data": "start", "url": None}],
        [{"text": "Read more", "data": None, "url": "https://example.org/x"}],
    ]
    assert message["edited"] is False and message["file"] is None
    assert message["date"] == START.isoformat()  # the emulator follows the demo's clock
    assert (await chat(demo, demo.responder))["messages"] == []


async def test_edits_and_deletions_show(demo: Demo) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Yes", callback_data="y")]])
    first = await demo.bot.send_message(demo.admin.id, "one", reply_markup=keyboard)
    second = await demo.bot.send_message(demo.admin.id, "two")
    await demo.bot.edit_message_text("one, edited", demo.admin.id, first.message_id)
    await demo.bot.delete_message(demo.admin.id, second.message_id)
    [message] = (await chat(demo, demo.admin))["messages"]
    assert message["text"] == "one, edited" and message["edited"] is True
    assert message["buttons"] == []  # an edit without reply_markup drops the keyboard


async def test_reply_keyboard_is_shown(demo: Demo) -> None:
    markup = ReplyKeyboardMarkup([["Yes", "No"], ["Cancel"]], one_time_keyboard=True)
    await demo.bot.send_message(demo.reporter.id, "Sure?", reply_markup=markup)
    shown = await chat(demo, demo.reporter)
    assert shown["reply_keyboard"] == [["Yes", "No"], ["Cancel"]]


async def test_menu_follows_telegrams_scope_order(demo: Demo) -> None:
    await demo.bot.set_my_commands([BotCommand("start", "Start a report")])
    await demo.bot.set_my_commands(
        [BotCommand("cases", "Open cases"), BotCommand("help", "Help")],
        scope=BotCommandScopeChat(demo.responder.id),
    )
    assert await get_json(demo, f"/api/chats/{demo.reporter.id}/menu") == [
        {"command": "start", "description": "Start a report"}
    ]
    assert await get_json(demo, f"/api/chats/{demo.responder.id}/menu") == [
        {"command": "cases", "description": "Open cases"},
        {"command": "help", "description": "Help"},
    ]


async def test_menu_is_in_the_users_language_by_its_first_part(demo: Demo) -> None:
    await demo.bot.set_my_commands([BotCommand("start", "Start a report")])
    await demo.bot.set_my_commands([BotCommand("start", "开始举报")], language_code="zh")
    demo.reporter.set_language("zh-hans")  # what a Simplified Chinese Telegram app sends
    assert await get_json(demo, f"/api/chats/{demo.reporter.id}/menu") == [
        {"command": "start", "description": "开始举报"}
    ]
    demo.reporter.set_language("fr")  # no French commands: the ones for everybody
    assert await get_json(demo, f"/api/chats/{demo.reporter.id}/menu") == [
        {"command": "start", "description": "Start a report"}
    ]


# ------------------------------------------------------------------- what users do
async def test_send_delivers_a_text_message_to_the_bot(demo: Demo) -> None:
    text = "Hello <script>alert(1)</script> & bye"
    answer = await post_json(demo, f"/api/chats/{demo.reporter.id}/send", {"text": text})
    [update] = await take_updates(demo.bot)
    assert update.message is not None and update.message.text == text
    assert update.message.from_user is not None
    assert update.message.from_user.id == demo.reporter.id
    assert update.message.message_id == answer["message_id"]
    [message] = (await chat(demo, demo.reporter))["messages"]
    assert message["from"] == "user" and message["text"] == text
    # What the page inserts as markup is escaped: the script stays text.
    assert message["html"] == "Hello &lt;script&gt;alert(1)&lt;/script&gt; &amp; bye"
    assert "<script" not in message["html"]


async def test_send_refuses_what_telegram_would_not_send(demo: Demo) -> None:
    path = f"/api/chats/{demo.reporter.id}/send"
    await post_json(demo, path, {"text": "   "}, 400)
    await post_json(demo, path, {"text": "x" * 4097}, 400)
    await post_json(demo, path, ["not", "an", "object"], 400)
    assert demo.emu.pending_updates == []


async def test_press_delivers_a_callback_query_and_shows_the_answer(demo: Demo) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Start", callback_data="start")]])
    sent = await demo.bot.send_message(demo.reporter.id, "Hi", reply_markup=keyboard)
    path = f"/api/chats/{demo.reporter.id}/press"
    pressing = asyncio.create_task(
        post_json(demo, path, {"message_id": sent.message_id, "data": "start"})
    )
    [update] = await take_updates(demo.bot)
    query = update.callback_query
    assert query is not None and query.data == "start"
    assert query.from_user.id == demo.reporter.id
    assert query.message is not None and query.message.message_id == sent.message_id
    await query.answer("Noted")
    assert await pressing == {"answered": True, "text": "Noted", "show_alert": False}


async def test_press_refuses_buttons_that_are_not_there(demo: Demo) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Start", callback_data="start")]])
    sent = await demo.bot.send_message(demo.reporter.id, "Hi", reply_markup=keyboard)
    path = f"/api/chats/{demo.reporter.id}/press"
    await post_json(demo, path, {"message_id": sent.message_id, "data": "forged"}, 409)
    await post_json(demo, path, {"message_id": 999, "data": "start"}, 404)
    await post_json(demo, path, {"message_id": "1", "data": "start"}, 400)
    assert demo.emu.pending_updates == []


async def test_file_is_sent_as_a_document_with_its_name_and_type(demo: Demo) -> None:
    form = aiohttp.FormData()
    content = b"<html><script>alert(1)</script></html>"
    form.add_field("file", content, filename="notes.html", content_type="text/html")
    async with demo.http.post(f"/api/chats/{demo.reporter.id}/file", data=form) as response:
        assert response.status == 200, await response.text()
    [update] = await take_updates(demo.bot)
    assert update.message is not None and update.message.document is not None
    document = update.message.document
    assert document.file_name == "notes.html" and document.mime_type == "text/html"
    downloaded = await (await demo.bot.get_file(document.file_id)).download_as_bytearray()
    assert bytes(downloaded) == content

    [message] = (await chat(demo, demo.reporter))["messages"]
    info = message["file"]
    assert info["kind"] == "document" and info["name"] == "notes.html"
    assert info["size"] == len(content) and info["mime_type"] == "text/html"
    async with demo.http.get(info["url"]) as response:
        # Served as a download, never as a page of this origin that could run script.
        assert response.status == 200 and await response.read() == content
        assert response.content_type == "application/octet-stream"
        assert response.headers["Content-Disposition"].startswith("attachment;")
        assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_picture_is_sent_as_a_photo_and_previewed(demo: Demo) -> None:
    form = aiohttp.FormData()
    form.add_field("file", png(), filename="shot.png", content_type="image/png")
    async with demo.http.post(f"/api/chats/{demo.reporter.id}/file", data=form) as response:
        assert response.status == 200, await response.text()
    [update] = await take_updates(demo.bot)
    assert update.message is not None and update.message.photo
    [message] = (await chat(demo, demo.reporter))["messages"]
    assert message["kind"] == "photo" and message["file"]["kind"] == "photo"
    async with demo.http.get(message["file"]["thumbnail_url"]) as response:
        assert response.status == 200 and response.content_type == "image/jpeg"
    async with demo.http.get("/api/files/nope") as response:
        assert response.status == 404


async def test_file_upload_needs_a_file(demo: Demo) -> None:
    form = aiohttp.FormData()
    form.add_field("caption", "no file")
    async with demo.http.post(f"/api/chats/{demo.reporter.id}/file", data=form) as response:
        assert response.status == 400
    empty = aiohttp.FormData()
    empty.add_field("file", b"", filename="empty.txt", content_type="text/plain")
    async with demo.http.post(f"/api/chats/{demo.reporter.id}/file", data=empty) as response:
        assert response.status == 400


# ---------------------------------------------------------------------- live events
async def next_event(response: aiohttp.ClientResponse, name: str) -> Any:
    """The data of the next event called ``name`` on a server-sent event stream."""
    event = None
    async with asyncio.timeout(5):
        while True:
            line = (await response.content.readline()).decode().rstrip("\n")
            if line.startswith("event: "):
                event = line.removeprefix("event: ")
            elif line.startswith("data: ") and event == name:
                return json.loads(line.removeprefix("data: "))


async def test_events_announce_every_change_to_a_chat(demo: Demo) -> None:
    async with demo.http.get("/api/events") as stream:
        assert stream.content_type == "text/event-stream"
        await next_event(stream, "hello")  # subscribed
        sent = await demo.bot.send_message(demo.responder.id, "New case")
        assert await next_event(stream, "chat") == {"user_id": demo.responder.id}
        await demo.bot.edit_message_text("New case!", demo.responder.id, sent.message_id)
        assert await next_event(stream, "chat") == {"user_id": demo.responder.id}
        await demo.bot.delete_message(demo.responder.id, sent.message_id)
        assert await next_event(stream, "chat") == {"user_id": demo.responder.id}
        await post_json(demo, f"/api/chats/{demo.admin.id}/send", {"text": "/start"})
        assert await next_event(stream, "chat") == {"user_id": demo.admin.id}
        await post_json(demo, "/api/clock/skip-day", None)
        assert await next_event(stream, "clock") == {"now": (START + timedelta(days=1)).isoformat()}


async def test_stopping_ends_open_event_streams(demo: Demo) -> None:
    async with demo.http.get("/api/events") as stream:
        await next_event(stream, "hello")
        async with asyncio.timeout(3):  # does not wait for the page to go away
            await demo.runner.cleanup()
        assert demo.emu.chat_listeners == []


# -------------------------------------------------------------------------- language
async def test_the_pages_language_is_every_persons_telegram_language(demo: Demo) -> None:
    answer = await post_json(demo, "/api/language", {"language_code": "zh-hans"})
    assert answer == {"language_code": "zh-hans"}
    assert demo.controls.languages == ["zh-hans"]
    for user in (demo.reporter, demo.responder, demo.admin):
        await post_json(demo, f"/api/chats/{user.id}/send", {"text": "/start"})
    updates = await take_updates(demo.bot)
    assert [
        u.message.from_user.language_code for u in updates if u.message and u.message.from_user
    ] == ["zh-hans"] * 3

    await post_json(demo, "/api/language", {"language_code": "en"})
    await post_json(demo, f"/api/chats/{demo.admin.id}/send", {"text": "/help"})
    [update] = await take_updates(demo.bot)
    assert update.message is not None and update.message.from_user is not None
    assert update.message.from_user.language_code == "en"
    assert demo.controls.languages == ["zh-hans", "en"]


@pytest.mark.parametrize("body", [{}, {"language_code": "中文"}, {"language_code": 7}, ["en"]])
async def test_a_language_that_is_no_language_code_is_refused(demo: Demo, body: Any) -> None:
    await post_json(demo, "/api/language", body, 400)
    assert demo.controls.languages == []
    assert demo.reporter.user["language_code"] == "en"


# ------------------------------------------------------------------ clock, database
async def test_clock_shows_and_skips_a_day(demo: Demo) -> None:
    assert await get_json(demo, "/api/clock") == {"now": START.isoformat()}
    tomorrow = START + timedelta(days=1)
    assert await post_json(demo, "/api/clock/skip-day", None) == {"now": tomorrow.isoformat()}
    assert demo.controls.skipped == [tomorrow]
    assert await get_json(demo, "/api/clock") == {"now": tomorrow.isoformat()}
    await post_json(demo, f"/api/chats/{demo.reporter.id}/send", {"text": "later"})
    [message] = (await chat(demo, demo.reporter))["messages"]
    assert message["date"] == tomorrow.isoformat()


async def test_database_shows_what_the_controls_give(demo: Demo) -> None:
    assert await get_json(demo, "/api/database") == {"tables": TABLES}


# ------------------------------------------------------------------------ rendering
@pytest.mark.parametrize(
    ("text", "entities", "expected"),
    [
        ("plain <b>", [], "plain &lt;b&gt;"),
        (
            "bold and nested",
            [
                {"type": "bold", "offset": 0, "length": 15},
                {"type": "italic", "offset": 9, "length": 6},
            ],
            "<b>bold and <i>nested</i></b>",
        ),
        (  # offsets count UTF-16 units: an emoji is two
            "😀 hi",
            [{"type": "underline", "offset": 3, "length": 2}],
            "😀 <u>hi</u>",
        ),
        (
            "site",
            [{"type": "text_link", "offset": 0, "length": 4, "url": 'https://x.org/?a="b"'}],
            '<a href="https://x.org/?a=&quot;b&quot;" target="_blank" '
            'rel="noopener noreferrer">site</a>',
        ),
        (
            "evil",
            [{"type": "text_link", "offset": 0, "length": 4, "url": "javascript:alert(1)"}],
            "evil",
        ),
        (  # an entity overlapping its parent's end is cut there: always well formed
            "abcdef",
            [
                {"type": "bold", "offset": 0, "length": 3},
                {"type": "italic", "offset": 2, "length": 4},
            ],
            "<b>ab<i>c</i></b>def",
        ),
        ("/start now", [{"type": "bot_command", "offset": 0, "length": 6}], "/start now"),
        (
            "x",
            [{"type": "spoiler", "offset": 0, "length": 1}],
            '<tg-spoiler tabindex="0">x</tg-spoiler>',
        ),
    ],
)
def test_entities_become_escaped_html(
    text: str, entities: list[dict[str, Any]], expected: str
) -> None:
    assert entities_to_html(text, entities) == expected
