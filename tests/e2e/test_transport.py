"""The bot's seam to the network (bot.telegram.transport): python-telegram-bot's Bot on
AiohttpRequest, over real HTTP to the emulator: parameters, uploads, downloads, long polls,
a pool of one, and each failure raised as the library's own error."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
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


@pytest.mark.parametrize("url", ["http://127.0.0.1:99999/bot", "ftp://127.0.0.1/bot"])
async def test_an_invalid_url_is_refused_without_the_token_in_words(url: str) -> None:
    """aiohttp's own error is the whole URL, token included: it is never passed on."""
    request = AiohttpRequest(1)
    await request.initialize()
    try:
        with pytest.raises(NetworkError) as raised:
            await request.post(f"{url}{TOKEN}/getMe")
    finally:
        await request.shutdown()
    said = str(raised.value)
    assert TOKEN not in said and "/bot(token withheld)/getMe" in said
    assert raised.value.__cause__ is None and raised.value.__context__ is not None


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that no authority signed, and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "not-telegram")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


async def test_a_server_no_trusted_authority_vouches_for_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Someone in the middle with a certificate of their own gets no call (and no token);
    the authority an operator names in SSL_CERT_FILE is trusted, as with httpx."""
    cert_file, key_file = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    asked: list[bytes] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            asked.append(await reader.readline())
            while (await reader.readline()).strip():
                pass
            body = b'{"ok": true, "result": {"id": 1, "is_bot": true, "first_name": "TLS"}}'
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
            writer.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
            await writer.drain()
        except (ConnectionError, ssl.SSLError):
            pass  # the client refused the handshake
        finally:
            writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=context)
    url = f"https://127.0.0.1:{server.sockets[0].getsockname()[1]}/bot{TOKEN}/getMe"
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    try:
        request = AiohttpRequest(1)
        await request.initialize()
        try:
            with pytest.raises(NetworkError, match="Certificate"):
                await request.post(url)
        finally:
            await request.shutdown()
        assert asked == []  # nothing was sent

        monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))
        request = AiohttpRequest(1)
        await request.initialize()
        try:
            me = await request.post(url)
            assert isinstance(me, dict) and me["first_name"] == "TLS"
        finally:
            await request.shutdown()
        assert asked == [f"POST /bot{TOKEN}/getMe HTTP/1.1\r\n".encode()]
    finally:
        server.close()
        await server.wait_closed()
