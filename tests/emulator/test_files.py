"""Files in the emulator: what users send, getFile and downloads, the bot's uploads, albums,
forwards and copies, driven by python-telegram-bot's own Bot over real HTTP."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from PIL import Image
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaDocument,
    InputMediaPhoto,
    InputMediaVideo,
    Message,
    MessageId,
)
from telegram.error import BadRequest, NetworkError

from bot.devserver import BotApiEmulator, UserClient

TOKEN = "123456:TEST-TOKEN"
MB = 1024 * 1024


@pytest_asyncio.fixture
async def emu() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator(token=TOKEN, seed=11) as emulator:
        yield emulator


@pytest_asyncio.fixture
async def bot(emu: BotApiEmulator) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=emu.base_url, base_file_url=emu.base_file_url) as tg_bot:
        yield tg_bot


@pytest_asyncio.fixture
async def alice(emu: BotApiEmulator) -> UserClient:
    return emu.new_user(first_name="Alice", username="alice", started=True)


def image(width: int, height: int, fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 60)).save(out, format=fmt)
    return out.getvalue()


async def messages(bot: Bot) -> list[Message]:
    found = [update.message for update in await bot.get_updates()]
    assert all(m is not None for m in found)
    return [m for m in found if m is not None]


async def download(bot: Bot, file_id: str) -> bytes:
    file = await bot.get_file(file_id)
    return bytes(await file.download_as_bytearray())


# ------------------------------------------------------------------ users send files
async def test_a_users_photo_has_sizes_and_downloads_as_sent(
    emu: BotApiEmulator, bot: Bot, alice: UserClient
) -> None:
    original = image(1000, 700)
    await alice.send_photo(original, caption="the bruise")
    (message,) = await messages(bot)
    assert message.caption == "the bruise"
    sizes = message.photo
    assert [(s.width, s.height) for s in sizes] == [(90, 63), (320, 224), (800, 560), (1000, 700)]
    assert len({s.file_id for s in sizes}) == len({s.file_unique_id for s in sizes}) == 4
    largest, thumbnail = sizes[-1], sizes[0]
    assert largest.file_size == len(original)
    assert await download(bot, largest.file_id) == original  # the largest keeps the bytes
    small = await download(bot, thumbnail.file_id)
    assert len(small) == thumbnail.file_size
    with Image.open(io.BytesIO(small)) as shown:
        assert (shown.format, shown.size) == ("JPEG", (90, 63))
    assert emu.downloads == [largest.file_id, thumbnail.file_id]
    stored = alice.history[-1]
    assert stored.kind == "photo" and stored.file_bytes == original
    assert stored.file_id == largest.file_id and stored.caption == "the bruise"


async def test_a_photo_that_is_no_image_still_has_two_sizes(bot: Bot, alice: UserClient) -> None:
    await alice.send_photo(b"not an image")
    (message,) = await messages(bot)
    assert [(s.width, s.height) for s in message.photo] == [(90, 68), (800, 600)]
    assert await download(bot, message.photo[-1].file_id) == b"not an image"
    await alice.send_photo()  # placeholder: a real JPEG
    placeholder = (await messages(bot))[-1]
    assert placeholder.photo[-1].width == 800 and len(placeholder.photo) == 3


async def test_documents_voice_audio_video_and_video_notes(
    emu: BotApiEmulator, bot: Bot, alice: UserClient
) -> None:
    pdf = b"%PDF-1.7 statement"
    await alice.send_document(pdf, file_name="C:\\Users\\a\\statement.pdf", caption="signed")
    await alice.send_voice(b"OggS voice", duration=7)
    await alice.send_audio(b"ID3 call", duration=61, title="Call", performer="Bob")
    await alice.send_video(b"video bytes", duration=12, width=640, height=480, caption="car park")
    await alice.send_video_note(b"round", duration=4, length=360)
    await alice.send_document(b"a,b\n", file_name="log.csv")
    document, voice, audio, video, note, csv = await messages(bot)
    assert document.document is not None and document.caption == "signed"
    assert document.document.file_name == "statement.pdf"  # no sender's directories
    assert document.document.mime_type == "application/pdf"
    assert document.document.file_size == len(pdf)
    assert await download(bot, document.document.file_id) == pdf
    assert voice.voice is not None and voice.voice.mime_type == "audio/ogg"
    assert voice.voice.to_dict()["duration"] == 7
    assert await download(bot, voice.voice.file_id) == b"OggS voice"
    assert audio.audio is not None and (audio.audio.title, audio.audio.performer) == ("Call", "Bob")
    assert audio.audio.file_name == "audio.mp3" and audio.audio.mime_type == "audio/mpeg"
    assert video.video is not None and (video.video.width, video.video.height) == (640, 480)
    assert (
        video.caption == "car park" and await download(bot, video.video.file_id) == b"video bytes"
    )
    assert note.video_note is not None and note.video_note.length == 360
    assert note.caption is None and await download(bot, note.video_note.file_id) == b"round"
    assert csv.document is not None and csv.document.mime_type == "text/csv"
    file = await bot.get_file(document.document.file_id)
    assert file.file_path == f"{emu.base_file_url}{TOKEN}/{emu.file(file.file_id).file_path}"
    assert [m.kind for m in alice.history] == [
        "document", "voice", "audio", "video", "video_note", "document"
    ]  # fmt: skip


async def test_other_content_for_refusals(bot: Bot, alice: UserClient) -> None:
    await alice.send_sticker("😡")
    await alice.send_location()
    await alice.send_contact()
    await alice.send_contact("+4915112345678", "Bob", last_name="B")
    await alice.send_animation(b"gif", caption="look")
    sticker, location, own, other, gif = await messages(bot)
    assert sticker.sticker is not None and sticker.sticker.emoji == "😡"
    assert location.location is not None
    assert own.contact is not None and own.contact.user_id == alice.id
    assert own.contact.first_name == "Alice"
    assert other.contact is not None and other.contact.user_id is None
    assert other.contact.last_name == "B"
    assert gif.animation is not None and gif.document is not None and gif.caption == "look"
    assert [m.kind for m in alice.history] == [
        "sticker", "location", "contact", "contact", "animation"
    ]  # fmt: skip


async def test_an_album_shares_a_media_group_id_with_the_caption_on_the_first(
    bot: Bot, alice: UserClient
) -> None:
    first, second = image(400, 300), image(300, 400, "JPEG")
    ids = await alice.send_album(
        [("photo", first), ("photo", second), ("video", b"clip")], caption="what I saw"
    )
    album = await messages(bot)
    assert [m.message_id for m in album] == ids and len(ids) == 3
    group = album[0].media_group_id
    assert group is not None and all(m.media_group_id == group for m in album)
    assert [m.caption for m in album] == ["what I saw", None, None]
    assert await download(bot, album[0].photo[-1].file_id) == first
    assert await download(bot, album[1].photo[-1].file_id) == second
    assert album[2].video is not None

    await alice.send_album(
        [("document", b"1", "a.pdf"), ("document", b"2", "b.bin", "application/x-thing")]
    )
    docs = (await messages(bot))[3:]
    assert docs[0].media_group_id == docs[1].media_group_id != group
    assert [d.document.file_name for d in docs if d.document] == ["a.pdf", "b.bin"]
    assert [d.document.mime_type for d in docs if d.document] == [
        "application/pdf",
        "application/x-thing",
    ]
    await alice.send_album([("photo", first)])  # one item is no album
    assert (await messages(bot))[-1].media_group_id is None
    with pytest.raises(ValueError, match="as one album"):
        await alice.send_album([("photo", first), ("document", b"x", "x.pdf")])
    with pytest.raises(ValueError, match="1 to 10"):
        await alice.send_album([("photo", first)] * 11)


# ----------------------------------------------------------------- getFile, downloads
async def test_files_over_20_mb_cannot_be_downloaded(
    emu: BotApiEmulator, bot: Bot, alice: UserClient
) -> None:
    await alice.send_document(bytes(21 * MB), file_name="video.zip")
    (message,) = await messages(bot)
    assert message.document is not None and message.document.file_size == 21 * MB
    with pytest.raises(BadRequest, match=r"(?i)^file is too big$"):
        await bot.get_file(message.document.file_id)
    async with httpx.AsyncClient() as client:
        response = await client.get(
            f"{emu.base_url}{TOKEN}/getFile", params={"file_id": message.document.file_id}
        )
    assert response.status_code == 400
    assert response.json() == {
        "ok": False,
        "error_code": 400,
        "description": "Bad Request: file is too big",
    }
    emu.max_download_bytes = 21 * MB  # configurable (also BotApiEmulator(max_download_bytes=))
    assert (await bot.get_file(message.document.file_id)).file_size == 21 * MB


async def test_download_limit_is_configurable_and_inclusive() -> None:
    async with BotApiEmulator(token=TOKEN, max_download_bytes=1000) as emu:
        alice = emu.new_user()
        await alice.send_document(bytes(1000))
        await alice.send_document(bytes(1001))
        async with Bot(TOKEN, base_url=emu.base_url, base_file_url=emu.base_file_url) as bot:
            at_limit, over = await messages(bot)
            assert at_limit.document is not None and over.document is not None
            assert await download(bot, at_limit.document.file_id) == bytes(1000)
            with pytest.raises(BadRequest, match=r"(?i)file is too big"):
                await bot.get_file(over.document.file_id)


async def test_only_paths_get_file_handed_out_can_be_downloaded(
    emu: BotApiEmulator, bot: Bot, alice: UserClient
) -> None:
    await alice.send_document(b"secret")
    (message,) = await messages(bot)
    assert message.document is not None
    stored = emu.file(message.document.file_id)
    url = f"{emu.base_file_url}{TOKEN}/{stored.file_path}"
    async with httpx.AsyncClient() as client:
        assert (await client.get(url)).status_code == 404  # no getFile yet
        await bot.get_file(message.document.file_id)
        response = await client.get(url)
        assert response.status_code == 200 and response.content == b"secret"
        wrong = await client.get(url.replace(TOKEN, "123456:WRONG"))
        assert wrong.status_code == 401
    with pytest.raises(BadRequest, match=r"(?i)invalid file_id"):
        await bot.get_file("AgACAgIAAxkBAAInope")


# --------------------------------------------------------------------- bot uploads
async def test_bot_uploads_reach_the_user_with_bytes_name_and_protection(
    emu: BotApiEmulator, bot: Bot, alice: UserClient
) -> None:
    report = b"%PDF-1.7 the report"
    buttons = InlineKeyboardMarkup([[InlineKeyboardButton("Done", callback_data="done")]])
    sent = await bot.send_document(
        alice.chat_id,
        report,
        filename="report-17.pdf",
        caption="<b>Report</b> #17",
        parse_mode="HTML",
        protect_content=True,
        reply_markup=buttons,
    )
    assert sent.document is not None and sent.document.file_name == "report-17.pdf"
    assert sent.document.mime_type == "application/pdf" and sent.has_protected_content
    shown = await alice.next_message()
    assert shown.kind == "document" and shown.file_name == "report-17.pdf"
    assert shown.file_bytes == report and await alice.download(shown) == report
    assert shown.protected and shown.params["protect_content"] is True
    assert shown.text == "Report #17" and shown.html == "<b>Report</b> #17"
    assert shown.entities[0]["type"] == "bold" and shown.button_texts == ["Done"]
    assert shown.mime_type == "application/pdf" and shown.file_id == sent.document.file_id

    picture = image(1600, 1200)
    photo = await bot.send_photo(alice.chat_id, picture, caption="evidence 1")
    assert [(p.width, p.height) for p in photo.photo][-1] == (1600, 1200)
    shown = await alice.next_message()
    assert shown.kind == "photo" and shown.file_bytes == picture and not shown.protected
    assert shown.text == shown.caption == "evidence 1" and shown.file_name is None

    voice = await bot.send_voice(alice.chat_id, b"OggS...", duration=4, protect_content=True)
    assert voice.voice is not None and voice.voice.mime_type == "audio/ogg"
    shown = await alice.next_message()
    assert (shown.kind, shown.file_bytes, shown.protected) == ("voice", b"OggS...", True)
    assert shown.raw["voice"]["duration"] == 4

    await bot.send_audio(alice.chat_id, b"ID3", filename="call.mp3", title="Call")
    await bot.send_video(alice.chat_id, b"mp4", width=640, height=360, caption="clip")
    await bot.send_video_note(alice.chat_id, b"round", length=240)
    kinds = [(m.kind, m.file_bytes) for m in [await alice.next_message() for _ in range(3)]]
    assert kinds == [("audio", b"ID3"), ("video", b"mp4"), ("video_note", b"round")]
    assert alice.messages[-3].file_name == "call.mp3"
    assert "document 'report-17.pdf' (19 bytes)" in alice.transcript()


async def test_bot_resends_a_file_by_file_id(
    emu: BotApiEmulator, bot: Bot, alice: UserClient
) -> None:
    picture = image(200, 100)
    await alice.send_photo(picture)
    await alice.send_document(b"doc", file_name="d.txt")
    photo_message, document_message = await messages(bot)
    assert document_message.document is not None
    again = await bot.send_photo(alice.chat_id, photo_message.photo[-1].file_id)
    assert [p.file_unique_id for p in again.photo] == [
        p.file_unique_id for p in photo_message.photo
    ]
    assert (await alice.next_message()).file_bytes == picture
    doc = await bot.send_document(alice.chat_id, document_message.document.file_id, caption="x")
    assert doc.document is not None and doc.document.file_name == "d.txt" and doc.caption == "x"
    assert (await alice.next_message()).file_bytes == b"doc"
    with pytest.raises(BadRequest, match=r"(?i)can't use file of type photo as document"):
        await bot.send_document(alice.chat_id, photo_message.photo[-1].file_id)
    with pytest.raises(BadRequest, match=r"(?i)wrong file identifier/http url specified"):
        await bot.send_document(alice.chat_id, "BQACAgIAAxkBAAInope")
    assert emu.errors[-1][2] == "Bad Request: wrong file identifier/HTTP URL specified"


async def test_upload_validation_like_telegram(
    emu: BotApiEmulator, bot: Bot, alice: UserClient
) -> None:
    with pytest.raises(BadRequest, match=r"(?i)message caption is too long"):
        await bot.send_document(alice.chat_id, b"x", filename="x.txt", caption="c" * 1025)
    ok = await bot.send_document(alice.chat_id, b"x", filename="x.txt", caption="c" * 1024)
    assert ok.caption == "c" * 1024
    with pytest.raises(BadRequest, match=r"(?i)file must be non-empty"):
        await bot.send_document(alice.chat_id, b"", filename="empty.txt")
    with pytest.raises(BadRequest, match=r"(?i)image_process_failed"):
        await bot.send_photo(alice.chat_id, b"not an image")
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_photo(alice.chat_id, image(10, 10), caption="<b>x", parse_mode="HTML")
    stranger = emu.new_user(first_name="Bob")
    with pytest.raises(BadRequest, match=r"(?i)there is no document in the request"):
        await bot.send_document(stranger.chat_id, "")  # the file is looked at before the chat
    url = f"{emu.base_url}{TOKEN}"
    async with httpx.AsyncClient() as client:
        for method, field, words in [
            ("sendDocument", "document", "document"),
            ("sendPhoto", "photo", "photo"),
            ("sendVoice", "voice", "voice"),
            ("sendVideoNote", "video_note", "video note"),
        ]:
            response = await client.post(f"{url}/{method}", data={"chat_id": str(alice.id)})
            assert response.status_code == 400
            assert (
                response.json()["description"] == f"Bad Request: there is no {words} in the request"
            )
            attached = await client.post(
                f"{url}/{method}", data={"chat_id": str(alice.id), field: "attach://missing"}
            )
            assert attached.json()["description"] == response.json()["description"]
        # Uploaded in another part, named with attach:// (as PTB does for thumbnails).
        response = await client.post(
            f"{url}/sendDocument",
            data={"chat_id": str(alice.id), "document": "attach://part1"},
            files={"part1": ("notes.txt", b"attached", "text/plain")},
        )
        assert response.json()["result"]["document"]["file_name"] == "notes.txt"
    assert [m.kind for m in alice.messages] == ["document", "document"]


async def test_uploads_over_the_limit_are_refused_with_413() -> None:
    async with BotApiEmulator(token=TOKEN, max_upload_bytes=1000) as emu:
        alice = emu.new_user(started=True)
        async with Bot(TOKEN, base_url=emu.base_url) as bot:
            with pytest.raises(NetworkError, match="Request Entity Too Large"):
                await bot.send_document(alice.chat_id, bytes(1001), filename="big.bin")
            assert alice.messages == []
            assert (await bot.send_document(alice.chat_id, bytes(1000))).document is not None


# --------------------------------------------------------------------------- albums
async def test_send_media_group(emu: BotApiEmulator, bot: Bot, alice: UserClient) -> None:
    first, second = image(640, 480), image(480, 640)
    sent = await bot.send_media_group(
        alice.chat_id,
        [
            InputMediaPhoto(first, caption="<i>one</i>", parse_mode="HTML"),
            InputMediaPhoto(second),
            InputMediaVideo(b"clip", width=320, height=240),
        ],
        protect_content=True,
    )
    assert len(sent) == 3 and len({m.media_group_id for m in sent}) == 1
    assert sent[0].media_group_id is not None and sent[0].caption == "one"
    assert [m.caption for m in sent[1:]] == [None, None]
    shown = [await alice.next_message() for _ in range(3)]
    assert [m.kind for m in shown] == ["photo", "photo", "video"]
    assert [m.file_bytes for m in shown] == [first, second, b"clip"]
    assert all(m.media_group_id == sent[0].media_group_id and m.protected for m in shown)
    assert shown[0].html == "<i>one</i>"

    documents = await bot.send_media_group(
        alice.chat_id,
        [InputMediaDocument(b"a", filename="a.pdf"), InputMediaDocument(b"b", filename="b.pdf")],
    )
    assert [d.document.file_name for d in documents if d.document] == ["a.pdf", "b.pdf"]
    with pytest.raises(BadRequest, match=r"(?i)document can't be mixed with other media types"):
        await bot.send_media_group(
            alice.chat_id, [InputMediaPhoto(first), InputMediaDocument(b"a", filename="a.pdf")]
        )
    with pytest.raises(BadRequest, match=r"(?i)too many messages to send as an album"):
        await bot.send_media_group(alice.chat_id, [InputMediaPhoto(first)] * 11)
    with pytest.raises(BadRequest, match=r"(?i)media not found"):
        await bot.send_media_group(
            alice.chat_id, [InputMediaPhoto("attach://nothing"), InputMediaPhoto(first)]
        )
    assert len(alice.messages) == 5  # refused albums sent nothing


# ------------------------------------------------------------ forwards and copies
async def test_forwards_and_copies_are_recorded(
    emu: BotApiEmulator, bot: Bot, alice: UserClient
) -> None:
    bob = emu.new_user(first_name="Bob", started=True)
    await alice.send_document(b"statement", file_name="s.pdf", caption="mine")
    (message,) = await messages(bot)
    forwarded = await bot.forward_message(bob.chat_id, alice.chat_id, message.message_id)
    assert forwarded.forward_origin is not None
    assert forwarded.document is not None and forwarded.caption == "mine"
    shown = await bob.next_message()
    assert shown.kind == "document" and shown.file_bytes == b"statement"
    assert shown.raw["forward_origin"]["sender_user"]["id"] == alice.id
    copied = await bot.copy_message(bob.chat_id, alice.chat_id, message.message_id, caption="")
    assert isinstance(copied, MessageId)
    copy = await bob.next_message()
    assert "forward_origin" not in copy.raw and copy.caption is None
    assert copy.file_bytes == b"statement"
    assert len(emu.calls_to("forwardMessage")) == len(emu.calls_to("copyMessage")) == 1
    ids = await bot.forward_messages(bob.chat_id, alice.chat_id, [message.message_id, 999])
    assert len(ids) == 1 and len(emu.calls_to("forwardMessages")) == 1

    protected = await bot.send_message(alice.chat_id, "private", protect_content=True)
    with pytest.raises(BadRequest, match=r"(?i)message can't be forwarded"):
        await bot.forward_message(bob.chat_id, alice.chat_id, protected.message_id)
    with pytest.raises(BadRequest, match=r"(?i)message can't be copied"):
        await bot.copy_message(bob.chat_id, alice.chat_id, protected.message_id)
    with pytest.raises(BadRequest, match=r"(?i)message to forward not found"):
        await bot.forward_message(bob.chat_id, alice.chat_id, 999)
