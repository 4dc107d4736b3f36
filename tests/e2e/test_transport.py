"""The bot's seam to the network (bot.telegram.transport): python-telegram-bot's Bot on
AiohttpRequest, over real HTTP to the emulator: parameters, uploads, downloads, long polls,
a pool of one, and each failure raised as the library's own error."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputMediaDocument
from telegram.error import BadRequest, NetworkError, TimedOut

from bot.devserver import BotApiEmulator
from bot.telegram.transport import AiohttpRequest

TOKEN = "123456:TRANSPORT-TOKEN"


@pytest_asyncio.fixture
async def emu() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator(token=TOKEN, seed=5) as emulator:
        yield emulator


def on_aiohttp(base_url: str, base_file_url: str = "", connections: int = 4) -> Bot:
    return Bot(
        TOKEN,
        base_url=base_url,
        base_file_url=base_file_url or base_url,
        request=AiohttpRequest(connections),
        get_updates_request=AiohttpRequest(1),
    )


async def test_messages_buttons_and_answers_round_trip(emu: BotApiEmulator) -> None:
    alice = emu.new_user(first_name="Alice", started=True)
    async with on_aiohttp(emu.base_url, emu.base_file_url) as bot:
        buttons = InlineKeyboardMarkup([[InlineKeyboardButton("Next ▶", callback_data="n|2")]])
        sent = await bot.send_message(
            alice.chat_id,
            "<b>Queue</b> — 第 1 页 &amp; more",
            parse_mode="HTML",
            reply_markup=buttons,
        )
        shown = await alice.next_message()
        assert shown.text == "Queue — 第 1 页 & more" and shown.button_texts == ["Next ▶"]
        assert sent.message_id == shown.message_id
        await alice.click("Next ▶")
        (update,) = await bot.get_updates(timeout=0)
        assert update.callback_query is not None and update.callback_query.data == "n|2"
        assert await update.callback_query.answer()
        with pytest.raises(BadRequest):  # Telegram's refusal is still the library's error
            await bot.send_message(alice.chat_id, "")


async def test_uploads_go_as_multipart_and_downloads_come_back_whole(emu: BotApiEmulator) -> None:
    alice = emu.new_user(first_name="Alice", started=True)
    report = b"%PDF-1.7 " + bytes(range(256)) * 400  # every byte value, 100 KB
    async with on_aiohttp(emu.base_url, emu.base_file_url) as bot:
        sent = await bot.send_document(
            alice.chat_id, report, filename="report-17.pdf", caption="#17", protect_content=True
        )
        shown = await alice.next_message()
        assert shown.file_bytes == report and shown.file_name == "report-17.pdf"
        assert shown.protected and shown.caption == "#17"
        album = [
            InputMediaDocument(b"first file", filename="a.txt"),
            InputMediaDocument(b"second file", filename="b.txt"),
        ]
        await bot.send_media_group(alice.chat_id, album)
        first, second = await alice.next_message(), await alice.next_message()
        assert (first.file_bytes, second.file_bytes) == (b"first file", b"second file")
        assert sent.document is not None
        file = await bot.get_file(sent.document.file_id)
        assert bytes(await file.download_as_bytearray()) == report


async def test_a_long_poll_waits_past_the_default_read_timeout(emu: BotApiEmulator) -> None:
    alice = emu.new_user(first_name="Alice", started=True)
    quick = Bot(TOKEN, base_url=emu.base_url, get_updates_request=AiohttpRequest(1, 0.5))
    async with quick as bot:
        # python-telegram-bot adds the poll's timeout to the read timeout: 2.5 s here.
        polling = asyncio.create_task(bot.get_updates(timeout=2))
        await asyncio.sleep(1.5)  # three times the default
        assert not polling.done()
        await alice.send("/start")
        (update,) = await asyncio.wait_for(polling, 5)
        assert update.message is not None and update.message.text == "/start"


async def test_a_pool_of_one_serves_calls_in_turn(emu: BotApiEmulator) -> None:
    alice = emu.new_user(first_name="Alice", started=True)
    async with on_aiohttp(emu.base_url, connections=1) as bot:
        sent = await asyncio.gather(*(bot.send_message(alice.chat_id, f"m{i}") for i in range(8)))
    assert sorted(str(m.text) for m in sent) == [f"m{i}" for i in range(8)]
    assert len({m.message_id for m in sent}) == 8


@pytest_asyncio.fixture
async def silent_server() -> AsyncIterator[str]:
    """Accepts connections and never answers."""
    held: list[asyncio.StreamWriter] = []

    async def hold(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}/bot"
    for writer in held:
        writer.close()
    server.close()
    await server.wait_closed()


async def test_a_server_that_never_answers_is_timed_out(silent_server: str) -> None:
    request = AiohttpRequest(1, read_timeout=0.5)  # the default, for calls that name none
    await request.initialize()
    try:
        with pytest.raises(TimedOut):
            await request.post(f"{silent_server}{TOKEN}/getMe")
    finally:
        await request.shutdown()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize(
    ("host", "words"),
    [("127.0.0.1:{closed}", "aiohttp.Client"), ("telegram.invalid", "Name or service not known")],
    ids=["refused", "unknown name"],
)
async def test_a_refused_connection_or_unknown_name_is_a_network_error(
    host: str, words: str
) -> None:
    """bot.telegram.app words start-up failures from these texts (DNS or not)."""
    url = f"http://{host.format(closed=closed_port())}/bot"
    request = AiohttpRequest(1)
    await request.initialize()
    try:
        with pytest.raises(NetworkError) as raised:
            await request.post(f"{url}{TOKEN}/getMe")
    finally:
        await request.shutdown()
    assert not isinstance(raised.value, TimedOut) and words in str(raised.value)


async def test_the_environments_proxy_is_used_as_httpx_used_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An organisation that reaches Telegram only through its proxy sets HTTPS_PROXY (or
    HTTP_PROXY) for the service, as it did when the bot was on httpx."""
    asked: list[bytes] = []

    async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        asked.append(await reader.readline())  # the request line names the whole URL
        body = b'{"ok": true, "result": {"id": 1, "is_bot": true, "first_name": "Via"}}'
        while (await reader.readline()).strip():
            pass
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
        writer.write(b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(proxy, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    try:
        async with on_aiohttp("http://api.telegram.invalid/bot") as bot:
            assert bot.first_name == "Via"  # getMe, answered by the proxy
    finally:
        server.close()
        await server.wait_closed()
    assert asked[0].startswith(b"POST http://api.telegram.invalid/bot")


async def test_a_request_before_initialize_or_after_shutdown_is_refused() -> None:
    request = AiohttpRequest(1)
    with pytest.raises(NetworkError, match="not initialized"):
        await request.post("http://127.0.0.1:1/botX/getMe")
    await request.initialize()
    await request.shutdown()
    await request.shutdown()  # twice is harmless
    with pytest.raises(NetworkError, match="not initialized"):
        await request.post("http://127.0.0.1:1/botX/getMe")
