"""Evidence through the emulator: a reporter sends files with a report, a responder gets
them cleaned, as new uploads under neutral names, never forwarded."""

from __future__ import annotations

import io
import re

import pikepdf
from attached import evidence_rows
from harness import InProcessBot, enrol
from PIL import ExifTags, Image
from sqlalchemy.ext.asyncio import AsyncEngine
from talk import RECEIPT, WAIT, press, say

from bot.crypto import Keyring
from bot.devserver import BotApiEmulator, BotMessage, UserClient

EVIDENCE = "screenshots, photos, documents or recordings"


def jpeg_with_gps() -> bytes:
    image = Image.new("RGB", (64, 48), (200, 30, 30))
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Canon"
    exif[ExifTags.Base.Artist] = "Jane Doe"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (52.0, 22.0, 1.5)
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, quality=90)
    return out.getvalue()


def photo_bytes(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (80, 60), colour).save(out, "JPEG")
    return out.getvalue()


def pdf_with_authors() -> bytes:
    pdf = pikepdf.new()
    pdf.add_blank_page()
    pdf.docinfo["/Author"] = "Jane Doe"
    pdf.docinfo["/Creator"] = "Secret Writer 3"
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


async def to_evidence_question(user: UserClient) -> BotMessage:
    await say(user, "/start")
    await press(user, "Make a report")
    await press(user, "Verbal harassment")
    for _ in range(3):
        await press(user, "Skip")
    shown = await say(user, "My manager sent me these messages.")
    while EVIDENCE not in shown.text:
        shown = await press(user, "Skip")
    return shown


async def send_report(user: UserClient) -> str:
    shown = user.last_message
    while shown is not None and "Please check your report" not in shown.text:
        shown = await press(user, "Skip")
    assert shown is not None
    review = shown.text
    await user.click("Send report")
    receipt = await user.next_message(WAIT)
    assert RECEIPT.search(receipt.text), user.transcript()
    await user.next_message(WAIT)  # the offer to delete the conversation
    thanks = await press(user, "I have saved my code", receipt)  # as a careful reporter does
    assert "Keep the code safe" in thanks.text, user.transcript()
    return review


async def case_of(responder: UserClient) -> str:
    alert = await responder.next_message(WAIT)
    found = re.search(r"C-[0-9A-Z]{3}-[0-9A-Z]{3}", alert.text)
    assert found, alert.text
    return found.group()


async def files_after_open(responder: UserClient, case: str, count: int) -> list[BotMessage]:
    await responder.send(f"/open {case}")
    received: list[BotMessage] = []
    while len(received) < count:
        message = await responder.next_message(WAIT)
        if message.kind != "text":
            received.append(message)
    return received


async def test_a_jpeg_and_a_pdf_reach_the_responder_without_their_metadata(
    emulator: BotApiEmulator, bot: InProcessBot, engine: AsyncEngine, keyring: Keyring
) -> None:
    ann = await enrol(emulator, engine, keyring, "Ann")
    ann.skip_pending()
    rea = emulator.new_user(first_name="Wang", language_code="en")
    await to_evidence_question(rea)
    await rea.send_document(jpeg_with_gps(), file_name="IMG_2041.jpg", mime_type="image/jpeg")
    first = await rea.next_message(WAIT)
    assert "File received" in first.text and "IMG_2041.jpg" in first.text
    await rea.send_document(pdf_with_authors(), file_name="Wang Wei's contract.pdf")
    second = await rea.next_message(WAIT)
    assert "contract.pdf" in second.text and "Done" in " ".join(second.button_texts)
    await press(rea, "Done")
    review = await send_report(rea)
    assert "IMG_2041.jpg" in review and "PDF" in review

    case = await case_of(ann)
    photo, document = await files_after_open(ann, case, 2)
    for message, extension in ((photo, "jpg"), (document, "pdf")):
        assert message.kind == "document" and message.protected
        assert re.fullmatch(rf"{case}-\d\.{extension}", message.file_name or ""), message
        assert case in message.text
    assert photo.file_bytes is not None and document.file_bytes is not None
    image = Image.open(io.BytesIO(photo.file_bytes))
    assert len(image.getexif()) == 0 and "exif" not in image.info
    with pikepdf.open(io.BytesIO(document.file_bytes)) as pdf:
        assert "/Author" not in pdf.docinfo and "/Creator" not in pdf.docinfo
    assert b"Jane Doe" not in photo.file_bytes + document.file_bytes
    assert not emulator.calls_to("forwardMessage") and not emulator.calls_to("copyMessage")

    names = await say(ann, f"/filenames {case}")
    assert "IMG_2041.jpg" in names.text and "Wang Wei" in names.text
    trail = await say(ann, f"/audit {case}")  # only admins may: refused, never leaked
    assert "IMG_2041" not in trail.text


async def test_a_file_over_the_limit_is_refused_before_it_is_downloaded(
    emulator: BotApiEmulator, bot: InProcessBot
) -> None:
    rea = emulator.new_user(first_name="Rea", language_code="en")
    await to_evidence_question(rea)
    big = b"%PDF-1.4\n" + bytes(21 * 1024 * 1024)
    await rea.send_document(big, file_name="scan.pdf")
    refused = await rea.next_message(WAIT)
    assert "larger than 20 MB" in refused.text and "split" in refused.text
    assert "screenshot" in refused.text
    assert not emulator.calls_to("getFile")


async def test_an_album_of_three_photos_is_three_files_and_one_caption(
    emulator: BotApiEmulator, bot: InProcessBot, engine: AsyncEngine, keyring: Keyring
) -> None:
    ann = await enrol(emulator, engine, keyring, "Ann")
    ann.skip_pending()
    rea = emulator.new_user(first_name="Rea", language_code="en")
    await to_evidence_question(rea)
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
    await rea.send_album(
        [("photo", photo_bytes(c)) for c in colours], caption="The chat from Monday"
    )
    for _ in range(3):
        shown = await rea.next_message(WAIT)
    assert "Received so far (3)" in shown.text, rea.transcript()
    assert await evidence_rows(engine) == (3, 3)
    await press(rea, "Done")
    await send_report(rea)
    case = await case_of(ann)
    photos = await files_after_open(ann, case, 3)
    assert [p.kind for p in photos] == ["photo"] * 3
    captions = [p.text for p in photos if "The chat from Monday" in p.text]
    assert len(captions) == 1
    assert all(p.protected for p in photos)
    assert not emulator.calls_to("forwardMessage")


async def test_withdrawal_leaves_no_chunk(
    emulator: BotApiEmulator, bot: InProcessBot, engine: AsyncEngine
) -> None:
    rea = emulator.new_user(first_name="Rea", language_code="en")
    await to_evidence_question(rea)
    await rea.send_photo(photo_bytes((10, 20, 30)))
    await rea.next_message(WAIT)
    await press(rea, "Done")
    await send_report(rea)
    assert await evidence_rows(engine) == (1, 1)
    await say(rea, "/withdraw")
    gone = await press(rea, "Yes, withdraw")
    assert "withdrawn" in gone.text
    assert await evidence_rows(engine) == (0, 0)


async def test_a_video_is_kept_only_if_the_reporter_says_so(
    emulator: BotApiEmulator, bot: InProcessBot, engine: AsyncEngine
) -> None:
    rea = emulator.new_user(first_name="Rea", language_code="en")
    await to_evidence_question(rea)
    video = b"\x00\x00\x00\x18ftypmp42" + bytes(2000)
    await rea.send_document(video, file_name="VID_0001.mp4", mime_type="video/mp4")
    asked = await rea.next_message(WAIT)
    assert "location or name" in asked.text, rea.transcript()
    skipped = await press(rea, "Skip this file", asked)
    assert "not kept" in skipped.text
    assert await evidence_rows(engine) == (0, 0)
    await rea.next_message(WAIT)  # the question again
    await rea.send_document(video, file_name="VID_0001.mp4", mime_type="video/mp4")
    asked = await rea.next_message(WAIT)
    kept = await press(rea, "Send it anyway", asked)
    assert "File received" in kept.text and "VID_0001.mp4" in kept.text
    assert (await evidence_rows(engine))[0] == 1


async def test_files_go_both_ways_in_the_thread(
    emulator: BotApiEmulator, bot: InProcessBot, engine: AsyncEngine, keyring: Keyring
) -> None:
    ann = await enrol(emulator, engine, keyring, "Ann")
    ann.skip_pending()
    rea = emulator.new_user(first_name="Rea", language_code="en")
    await to_evidence_question(rea)
    await send_report(rea)
    case = await case_of(ann)

    await say(ann, f"/reply {case}")
    stored = await ann.send_document(pdf_with_authors(), file_name="Policy by Ann.pdf")
    assert stored
    assert "stored with case" in (await ann.next_message(WAIT)).text
    told = await rea.next_message(WAIT)
    assert "sent a file" in told.text
    await rea.click("Open", message=told)
    received: list[BotMessage] = []
    while not received:
        message = await rea.next_message(WAIT)
        if message.kind != "text":
            received.append(message)
    pdf = received[0]
    assert pdf.kind == "document" and pdf.protected
    assert pdf.file_name == f"{case}-1.pdf" and "Ann" not in pdf.text
    assert pdf.file_bytes is not None and b"Jane Doe" not in pdf.file_bytes

    prompt = await press(rea, "Reply", rea.messages[-2] if rea.messages else None)
    assert "send photos or files" in prompt.text, rea.transcript()
    await rea.send_photo(photo_bytes((1, 2, 3)), caption="The note on my desk")
    assert "passed on" in (await rea.next_message(WAIT)).text
    assert "sent a file" in (await ann.next_message(WAIT)).text
    files = await files_after_open(ann, case, 2)
    assert [f.kind for f in files] == ["document", "photo"]
    assert "The note on my desk" in files[1].text

    # A file that cannot be cleaned, in the thread too: asked about first.
    case_view = [m for m in rea.messages if any("Reply" in t for t in m.button_texts)][-1]
    await press(rea, "Reply", case_view)
    await rea.send_document(b"\x00\x00\x00\x18ftypmp42" + bytes(500), file_name="v.mp4")
    asked = await rea.next_message(WAIT)
    assert "location or name" in asked.text, rea.transcript()
    assert "passed on" in (await press(rea, "Send it anyway", asked)).text
    assert "sent a file" in (await ann.next_message(WAIT)).text
    assert len(await files_after_open(ann, case, 3)) == 3
    assert not emulator.calls_to("forwardMessage")


async def answer_then_question(user: UserClient) -> str:
    """The bot's answer, once the evidence question it shows again after it has arrived."""
    answer = await user.next_message(WAIT)
    shown = answer
    while EVIDENCE not in shown.text:
        shown = await user.next_message(WAIT)
    return answer.text


async def test_a_damaged_file_or_a_sticker_is_refused_with_a_line_and_nothing_is_kept(
    emulator: BotApiEmulator, bot: InProcessBot, engine: AsyncEngine
) -> None:
    rea = emulator.new_user(first_name="Rea", language_code="en")
    await to_evidence_question(rea)
    await rea.send_document(b"%PDF-1.7\n" + bytes(range(256)) * 8, file_name="broken.pdf")
    assert "could not read that file" in await answer_then_question(rea)
    await rea.send_document(jpeg_with_gps()[:200], file_name="cut.jpg", mime_type="image/jpeg")
    assert "could not read that file" in await answer_then_question(rea)
    for refusal in (rea.send_sticker(), rea.send_location(), rea.send_contact()):
        await refusal
        assert "Nothing from that message was saved" in await answer_then_question(rea)
    assert await evidence_rows(engine) == (0, 0)
    await rea.send_photo(photo_bytes((1, 2, 3)))  # and the question still takes files
    assert "File received" in (await rea.next_message(WAIT)).text
    assert await evidence_rows(engine) == (1, 1)


async def test_a_case_holds_at_most_the_set_number_of_files(
    emulator: BotApiEmulator, bot_env: dict[str, str], migrated: AsyncEngine
) -> None:
    with open(bot_env["CONFIDE_CONFIG"], "a", encoding="utf-8") as config:
        config.write("[evidence]\nmax_files = 2\nmax_total_mb = 200\n")
    running = InProcessBot(bot_env)
    await running.start()
    try:
        rea = emulator.new_user(first_name="Rea", language_code="en")
        await to_evidence_question(rea)
        for colour in ((1, 1, 1), (2, 2, 2)):
            await rea.send_photo(photo_bytes(colour))
            assert "File received" in (await rea.next_message(WAIT)).text
        await rea.send_photo(photo_bytes((3, 3, 3)))
        full = await rea.next_message(WAIT)
        assert "at most 2 files" in full.text, rea.transcript()
        assert await evidence_rows(migrated) == (2, 2)
    finally:
        await running.stop()
