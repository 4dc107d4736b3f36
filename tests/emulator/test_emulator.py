"""Tests of the emulator itself, driven by python-telegram-bot's own Bot over real HTTP."""

from __future__ import annotations

import asyncio
import datetime as dtm
import html
import sys
import warnings
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from telegram import (
    Bot,
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    MessageEntity,
    ReplyKeyboardMarkup,
    ReplyParameters,
    Update,
)
from telegram.error import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
)
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
)

from bot.devserver import BotApiEmulator, UserClient
from bot.devserver.tg_html import HtmlParseError, parse_html

TOKEN = "123456:TEST-TOKEN"


@pytest_asyncio.fixture
async def emu() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator(
        token=TOKEN, bot_username="confide_test_bot", bot_first_name="Confide", seed=7
    ) as emulator:
        yield emulator


@pytest_asyncio.fixture
async def bot(emu: BotApiEmulator) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=emu.base_url, base_file_url=emu.base_file_url) as tg_bot:
        yield tg_bot


async def started_user(emu: BotApiEmulator, name: str = "Alice") -> UserClient:
    return emu.new_user(first_name=name, username=name.lower(), started=True)


def keyboard(*buttons: tuple[str, str]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(t, callback_data=d)] for t, d in buttons])


# --------------------------------------------------------------------------- basics
@pytest.mark.asyncio
async def test_get_me(bot: Bot) -> None:
    me = await bot.get_me()
    assert me.id == 123456 and me.is_bot
    assert me.username == "confide_test_bot" and me.first_name == "Confide"


@pytest.mark.asyncio
async def test_wrong_token_and_unknown_method(emu: BotApiEmulator) -> None:
    with pytest.raises(InvalidToken):
        async with Bot("123456:WRONG", base_url=emu.base_url):
            pass
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{emu.base_url}{TOKEN}/noSuchMethod")
        assert response.status_code == 404
        assert response.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
        response = await client.get(f"{emu.base_url}{TOKEN}/GETME")  # case-insensitive
        assert response.json()["result"]["username"] == "confide_test_bot"


@pytest.mark.asyncio
async def test_parameters_in_any_encoding(emu: BotApiEmulator) -> None:
    alice = await started_user(emu)
    url = f"{emu.base_url}{TOKEN}/sendMessage"
    async with httpx.AsyncClient() as client:
        form = await client.post(url, data={"chat_id": str(alice.id), "text": "123"})
        assert form.json()["result"]["text"] == "123"  # a numeric text stays a string
        query = await client.get(url, params={"chat_id": alice.id, "text": "true"})
        assert query.json()["result"]["text"] == "true"
        markup = {"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}
        body = {"chat_id": alice.id, "text": "json", "reply_markup": markup}
        as_json = await client.post(url, json=body)
        assert as_json.json()["result"]["reply_markup"] == markup
        multipart = await client.post(
            url, data={"chat_id": str(alice.id), "text": "{}"}, files={"x": ("x.txt", b"abc")}
        )
        assert multipart.json()["result"]["text"] == "{}"
    assert [m.text for m in alice.messages] == ["123", "true", "json", "{}"]
    assert emu.calls_to("sendmessage")[0] == {"chat_id": alice.id, "text": "123"}


# ------------------------------------------------------------------- conversations
@pytest.mark.asyncio
async def test_button_click_reaches_get_updates(emu: BotApiEmulator, bot: Bot) -> None:
    alice = await started_user(emu)
    sent = await bot.send_message(
        alice.chat_id, "Pick one", reply_markup=keyboard(("Start a report", "start"))
    )
    shown = await alice.next_message()
    assert shown.message_id == sent.message_id and shown.button_texts == ["Start a report"]
    assert shown.buttons == [[("Start a report", "start")]]
    click = await alice.click("a report")  # unique substring match
    updates = await bot.get_updates(timeout=0)
    assert len(updates) == 1
    query = updates[0].callback_query
    assert query is not None and query.data == "start" and query.id == click.query_id
    assert query.from_user.id == alice.id and query.message is not None
    assert query.message.message_id == sent.message_id
    assert await query.answer("Noted", show_alert=True)
    assert alice.callback_answers[0]["text"] == "Noted"
    assert alice.callback_answers[0]["show_alert"] is True and click.answer is not None
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await query.answer()
    with pytest.raises(AssertionError, match=r"(?i)Available buttons"):
        await alice.click("Nope")


@pytest.mark.asyncio
async def test_long_poll_wakes_on_update_and_times_out(emu: BotApiEmulator, bot: Bot) -> None:
    alice = emu.new_user(first_name="Alice")
    loop = asyncio.get_running_loop()
    begin = loop.time()
    assert await bot.get_updates(timeout=1) == ()
    assert loop.time() - begin >= 0.9

    async def later() -> None:
        await asyncio.sleep(0.2)
        await alice.send("hello")

    task = asyncio.create_task(later())
    begin = loop.time()
    updates = await bot.get_updates(timeout=5)
    assert loop.time() - begin < 2
    await task
    assert updates[0].message is not None and updates[0].message.text == "hello"


@pytest.mark.asyncio
async def test_offset_confirms_updates(emu: BotApiEmulator, bot: Bot) -> None:
    alice = emu.new_user(first_name="Alice")
    for text in ("one", "two", "three"):
        await alice.send(text)
    first = await bot.get_updates(limit=2)
    assert [u.message.text for u in first if u.message] == ["one", "two"]
    assert first[1].update_id == first[0].update_id + 1
    again = await bot.get_updates()
    assert len(again) == 3  # nothing confirmed yet
    rest = await bot.get_updates(offset=first[1].update_id + 1)
    assert [u.message.text for u in rest if u.message] == ["three"]
    assert await bot.get_updates(offset=rest[0].update_id + 1) == ()
    assert emu.pending_updates == []


@pytest.mark.asyncio
async def test_second_get_updates_terminates_the_waiting_one(emu: BotApiEmulator, bot: Bot) -> None:
    waiting = asyncio.create_task(bot.get_updates(timeout=5))
    await emu.wait_until(lambda: emu.calls_to("getUpdates"))
    await asyncio.sleep(0.05)
    # A second bot instance (PTB serialises getUpdates within one Bot).
    async with Bot(TOKEN, base_url=emu.base_url) as other:
        assert await other.get_updates(timeout=0) == ()
    with pytest.raises(Conflict, match=r"(?i)terminated by other getUpdates request"):
        await waiting


@pytest.mark.asyncio
async def test_commands_have_entities_ptb_understands(emu: BotApiEmulator, bot: Bot) -> None:
    alice = emu.new_user(first_name="Alice")
    await alice.send("/start@confide_test_bot deep-link")
    await alice.send("/help")
    updates = await bot.get_updates()
    first = updates[0].message
    assert first is not None and first.text == "/start@confide_test_bot deep-link"
    assert first.parse_entities() == {
        MessageEntity(MessageEntity.BOT_COMMAND, 0, 23): "/start@confide_test_bot"
    }
    second = updates[1].message
    assert second is not None and second.entities[0].length == len("/help")
    assert first.from_user is not None and first.from_user.id == alice.id
    assert first.chat.type == "private" and first.chat.id == alice.id


@pytest.mark.asyncio
async def test_media_updates_parse(emu: BotApiEmulator, bot: Bot) -> None:
    alice = emu.new_user(first_name="Alice")
    await alice.send_sticker()
    await alice.send_voice()
    await alice.send_location()
    await alice.send_photo(caption="/report photo")
    await alice.send_document()
    messages = [u.message for u in await bot.get_updates()]
    assert all(m is not None for m in messages)
    sticker, voice, location, photo, document = (m for m in messages if m is not None)
    assert sticker.sticker is not None and sticker.sticker.emoji == "👍"
    assert voice.voice is not None and voice.voice.mime_type == "audio/ogg"
    assert location.location is not None
    assert photo.photo and photo.caption_entities[0].type == MessageEntity.BOT_COMMAND
    assert document.document is not None
    file = await bot.get_file(document.document.file_id)
    content = await file.download_as_bytearray()
    assert len(content) == document.document.file_size


# ------------------------------------------------------------------------ validation
@pytest.mark.asyncio
async def test_html_is_validated_and_stored_as_plain_text(emu: BotApiEmulator, bot: Bot) -> None:
    alice = await started_user(emu)
    markup = (
        '<b>Hi</b> <i>there</i> <a href="https://x.org">x</a> &lt;3 &#128512; '
        '<pre><code class="language-py">a</code></pre>'
    )
    sent = await bot.send_message(alice.chat_id, markup, parse_mode="HTML")
    assert sent.text == "Hi there x <3 😀 a"
    types = [(e.type, e.offset, e.length) for e in sent.entities]
    assert types == [("bold", 0, 2), ("italic", 3, 5), ("text_link", 9, 1), ("pre", 17, 1)]
    assert sent.entities[3].language == "py"
    stored = await alice.next_message()
    assert stored.text == sent.text and stored.html == markup and stored.parse_mode == "HTML"

    for bad in ("<b>unclosed", "<blink>x</blink>", "Q&A", "1 < 2", "&nbsp;", "<b><i>x</b></i>"):
        with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
            await bot.send_message(alice.chat_id, bad, parse_mode="HTML")
    nasty = "<b>bold</b> & *stars* <a href='x'>link</a> &amp;"
    echoed = await bot.send_message(alice.chat_id, html.escape(nasty), parse_mode="HTML")
    assert echoed.text == nasty
    assert len(alice.messages) == 2  # failed sends stored nothing


@pytest.mark.asyncio
async def test_text_limits_and_unknown_chats(emu: BotApiEmulator, bot: Bot) -> None:
    alice = await started_user(emu)
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(alice.chat_id, "x" * 4097)
    assert (await bot.send_message(alice.chat_id, "x" * 4096)).text == "x" * 4096
    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        await bot.send_message(alice.chat_id, "<b> </b>", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(999, "hi")
    stranger = emu.new_user(first_name="Bob")
    with pytest.raises(Forbidden, match=r"(?i)can't initiate conversation"):
        await bot.send_message(stranger.chat_id, "hi")
    await alice.block()
    with pytest.raises(Forbidden, match=r"(?i)blocked by the user"):
        await bot.send_message(alice.chat_id, "hi")
    member_update = (await bot.get_updates())[-1].my_chat_member
    assert member_update is not None and member_update.new_chat_member.status == "kicked"


@pytest.mark.asyncio
async def test_keyboard_validation(emu: BotApiEmulator, bot: Bot) -> None:
    alice = await started_user(emu)
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(alice.chat_id, "x", reply_markup=keyboard(("A", "d" * 65)))
    text_only = InlineKeyboardMarkup([[InlineKeyboardButton("A", callback_data="a")]]).to_dict()
    del text_only["inline_keyboard"][0][0]["callback_data"]
    async with httpx.AsyncClient() as client:
        body = {"chat_id": alice.chat_id, "text": "x", "reply_markup": text_only}
        response = await client.post(f"{emu.base_url}{TOKEN}/sendMessage", json=body)
    assert response.status_code == 400
    assert response.json()["description"] == (
        "Bad Request: can't parse inline keyboard button: "
        "Text buttons are unallowed in the inline keyboard"
    )
    await bot.send_message(alice.chat_id, "kb", reply_markup=ReplyKeyboardMarkup([["Yes", "No"]]))
    assert alice.reply_keyboard == [["Yes", "No"]]
    assert alice.last_message is not None and alice.last_message.buttons == []


@pytest.mark.asyncio
async def test_edits_and_deletes(emu: BotApiEmulator, bot: Bot) -> None:
    alice = await started_user(emu)
    sent = await bot.send_message(alice.chat_id, "Q1", reply_markup=keyboard(("A", "a")))
    first = await alice.next_message()
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text(
            "Q1", alice.chat_id, sent.message_id, reply_markup=keyboard(("A", "a"))
        )
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_reply_markup(
            alice.chat_id, sent.message_id, reply_markup=keyboard(("A", "a"))
        )
    edited = await bot.edit_message_text(
        "<b>Q1</b>", alice.chat_id, sent.message_id, parse_mode="HTML"
    )
    assert isinstance(edited, Message)
    assert edited.reply_markup is None  # omitting reply_markup drops the keyboard
    shown = await alice.next_message()
    assert shown.edited and shown.text == "Q1" and shown.buttons == [] and first.buttons
    await bot.edit_message_reply_markup(
        alice.chat_id, sent.message_id, reply_markup=keyboard(("B", "b"))
    )
    assert (await alice.next_message()).button_texts == ["B"]
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("x", alice.chat_id, 9999)

    own = await alice.send("my secret")
    assert await bot.delete_message(alice.chat_id, own)  # a user's message in a private chat
    assert await bot.delete_message(alice.chat_id, sent.message_id)
    with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
        await bot.delete_message(alice.chat_id, sent.message_id)
    assert alice.deleted_message_ids == [own, sent.message_id] and alice.messages == []
    more = [(await bot.send_message(alice.chat_id, str(i))).message_id for i in range(3)]
    assert await bot.delete_messages(alice.chat_id, [*more, 9999])
    assert alice.history == []


@pytest.mark.asyncio
async def test_reply_parameters_and_send_options(emu: BotApiEmulator, bot: Bot) -> None:
    alice = await started_user(emu)
    asked = await alice.send("question?")
    reply = await bot.send_message(
        alice.chat_id,
        "answer",
        reply_parameters=ReplyParameters(asked),
        link_preview_options=LinkPreviewOptions(is_disabled=True),
        protect_content=True,
        disable_notification=True,
    )
    assert reply.reply_to_message is not None and reply.reply_to_message.text == "question?"
    assert reply.has_protected_content
    assert (await alice.next_message()).params["disable_notification"] is True
    with pytest.raises(BadRequest, match=r"(?i)message to be replied not found"):
        await bot.send_message(alice.chat_id, "x", reply_parameters=ReplyParameters(9999))


# ------------------------------------------------------------------ failure injection
@pytest.mark.asyncio
async def test_failure_injection(emu: BotApiEmulator, bot: Bot) -> None:
    alice = await started_user(emu)
    emu.fail("sendMessage", status=500, times=1)
    with pytest.raises(NetworkError, match=r"(?i)Internal Server Error"):
        await bot.send_message(alice.chat_id, "one")
    emu.fail("sendMessage", retry_after=2, times=1)
    with warnings.catch_warnings():  # PTB warns that retry_after becomes a timedelta
        warnings.simplefilter("ignore")
        with pytest.raises(RetryAfter) as retry:
            await bot.send_message(alice.chat_id, "two")
        retry_after = retry.value.retry_after
    assert retry_after in (2, dtm.timedelta(seconds=2))
    emu.fail("sendMessage", drop_connection=True, times=1)
    with pytest.raises(NetworkError):
        await bot.send_message(alice.chat_id, "three")
    assert alice.messages == [] and emu.failures_served == 3
    assert (await bot.send_message(alice.chat_id, "four")).text == "four"
    assert [m.text for m in alice.messages] == ["four"]
    assert len(emu.calls_to("sendMessage")) == 4 and len(emu.failed_calls) == 3
    emu.fail("*", status=502, times=5)
    emu.clear_failures()
    assert await bot.get_me()


# ---------------------------------------------------------------------- bot settings
@pytest.mark.asyncio
async def test_commands_webhook_and_misc(emu: BotApiEmulator, bot: Bot) -> None:
    alice = await started_user(emu)
    commands = [BotCommand("start", "Start"), BotCommand("help", "Help")]
    assert await bot.set_my_commands(commands)
    assert await bot.set_my_commands([BotCommand("start", "Anfang")], language_code="de")
    assert [c.command for c in await bot.get_my_commands()] == ["start", "help"]
    assert [c.description for c in await bot.get_my_commands(language_code="de")] == ["Anfang"]
    assert emu.calls_to("setMyCommands")[0]["commands"][0] == {
        "command": "start",
        "description": "Start",
    }
    with pytest.raises(BadRequest, match=r"(?i)BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand("Bad-Name", "x")])
    assert await bot.delete_my_commands()
    assert await bot.get_my_commands() == ()

    assert await bot.set_webhook("https://example.org/hook")
    assert (await bot.get_webhook_info()).url == "https://example.org/hook"
    with pytest.raises(Conflict, match=r"(?i)webhook is active"):
        await bot.get_updates()
    assert await bot.delete_webhook(drop_pending_updates=True)
    assert (await bot.get_webhook_info()).url == ""

    assert await bot.send_chat_action(alice.chat_id, "typing")
    assert alice.chat_actions == ["typing"]
    assert await bot.set_my_description("Reports, confidentially")
    assert await bot.set_my_short_description("Confide")
    assert (await bot.get_my_description()).description == "Reports, confidentially"
    chat = await bot.get_chat(alice.chat_id)
    assert chat.type == "private" and chat.username == "alice"
    assert await bot.close() and await bot.log_out()


@pytest.mark.asyncio
async def test_group_chat_and_privacy_mode(emu: BotApiEmulator, bot: Bot) -> None:
    alice = emu.new_user(first_name="Alice")
    team = emu.new_group(title="Team")
    assert team.id < 0
    await alice.send("just chatting", chat=team)  # not for the bot: privacy mode hides it
    await alice.send("/start@other_bot", chat=team)
    await alice.send("/start", chat=team)
    updates = await bot.get_updates()
    assert len(updates) == 1
    message = updates[0].message
    assert message is not None and message.chat.type == "group" and message.chat.title == "Team"
    await bot.send_message(team.id, "DM me instead", reply_markup=keyboard(("OK", "ok")))
    assert (await team.next_message()).text == "DM me instead"
    assert [m.text for m in team.messages] == ["DM me instead"]
    await alice.click("OK", chat=team)
    query = (await bot.get_updates(offset=updates[0].update_id + 1))[0].callback_query
    assert query is not None and query.message is not None and query.message.chat.id == team.id
    with pytest.raises(BadRequest, match=r"(?i)message can't be deleted"):
        await bot.delete_message(team.id, message.message_id)
    await alice.click_data("forged", message=team.last_message)
    assert len(emu.pending_updates) == 2
    assert alice.messages == []  # nothing in the private chat


# -------------------------------------------------------------- a real Application
@pytest.mark.asyncio
async def test_application_with_handlers(emu: BotApiEmulator) -> None:
    async def start(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(
            "<b>Welcome</b>", parse_mode="HTML", reply_markup=keyboard(("Start a report", "report"))
        )

    async def clicked(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer("Got it")
        await query.edit_message_text(f"You chose {query.data}")

    app = Application.builder().token(TOKEN).base_url(emu.base_url).build()
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(clicked))
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=1)
    try:
        alice = emu.new_user(first_name="Alice", username="alice")
        await alice.send("/start")
        welcome = await alice.next_message()
        assert welcome.text == "Welcome" and welcome.html == "<b>Welcome</b>"
        click = await alice.click("Start a report")
        edited = await alice.next_message()
        assert edited.edited and edited.text == "You chose report" and edited.buttons == []
        assert (await click.wait_answered())["text"] == "Got it"
        await alice.assert_no_message(within=0.1)
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()


@pytest.mark.asyncio
async def test_next_message_timeout_explains_what_the_chat_shows(
    emu: BotApiEmulator, bot: Bot
) -> None:
    alice = await started_user(emu)
    await alice.send("hello?")
    with pytest.raises(BadRequest):
        await bot.send_message(alice.chat_id, "<b>oops", parse_mode="HTML")
    with pytest.raises(AssertionError) as failure:
        await alice.next_message(timeout=0.1)
    assert "'hello?'" in str(failure.value) and "can't parse entities" in str(failure.value)


@pytest.mark.asyncio
async def test_client_disconnect_while_long_polling(emu: BotApiEmulator, bot: Bot) -> None:
    waiting = asyncio.create_task(bot.get_updates(timeout=5))
    await emu.wait_until(lambda: emu.calls_to("getUpdates"))
    await asyncio.sleep(0.05)
    waiting.cancel()  # the HTTP connection goes away mid long-poll
    with pytest.raises(asyncio.CancelledError):
        await waiting
    alice = emu.new_user(first_name="Alice")
    await alice.send("still there?")
    async with Bot(TOKEN, base_url=emu.base_url) as fresh:
        updates = await fresh.get_updates(timeout=1)
    assert [u.message.text for u in updates if u.message] == ["still there?"]


BOT_SCRIPT = """
import sys
from telegram.ext import Application, CommandHandler

async def ping(update, context):
    await update.effective_message.reply_text(f"pong {update.effective_user.id}")

app = Application.builder().token(sys.argv[1]).base_url(sys.argv[2]).build()
app.add_handler(CommandHandler("ping", ping))
app.run_polling(poll_interval=0, timeout=1)
"""


@pytest.mark.asyncio
async def test_bot_in_another_process(emu: BotApiEmulator) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", BOT_SCRIPT, TOKEN, emu.base_url
    )
    try:
        alice = emu.new_user(first_name="Alice")
        await alice.send("/ping")
        assert (await alice.next_message(timeout=15)).text == f"pong {alice.id}"
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 10)


@pytest.mark.parametrize(
    ("markup", "text", "entities"),
    [
        ("<a href='https://x.org'>x</a>", "x", [("text_link", 0, 1, "https://x.org")]),
        ("😀<b>b</b>", "😀b", [("bold", 2, 1, None)]),  # offsets are UTF-16 code units
        ("<blockquote expandable>q</blockquote>", "q", [("expandable_blockquote", 0, 1, None)]),
        ('<span class="tg-spoiler">s</span>', "s", [("spoiler", 0, 1, None)]),
        ("<tg-emoji emoji-id=\"5368324170671202286\">👍</tg-emoji>", "👍",
         [("custom_emoji", 0, 2, None)]),
        ("<b>a<i>b</i></b><u></u>", "ab", [("bold", 0, 2, None), ("italic", 1, 1, None)]),
        ("&quot;&#x41;&#66;&amp;", '"AB&', []),
    ],
)  # fmt: skip
def test_html_parser_entities(
    markup: str, text: str, entities: list[tuple[str, int, int, str | None]]
) -> None:
    plain, parsed = parse_html(markup)
    assert plain == text
    assert [(e["type"], e["offset"], e["length"], e.get("url")) for e in parsed] == entities


@pytest.mark.parametrize(
    ("markup", "reason"),
    [
        ("<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
        ("a <x>", 'Unsupported start tag "x" at byte offset 2'),
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<b", "Unclosed start tag at byte offset 0"),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ("&nbsp;", 'Unsupported HTML entity "&nbsp;" at byte offset 0'),
        ("<a href=https://x>x</a>", "Unexpected end of name token at byte offset 8"),
    ],
)
def test_html_parser_errors(markup: str, reason: str) -> None:
    with pytest.raises(HtmlParseError) as error:
        parse_html(markup)
    assert str(error.value) == reason


def test_lenient_ampersand_like_telegram() -> None:
    assert parse_html("Q&A &lt", strict_entities=False) == ("Q&A <", [])
