"""A reporter's whole conversation, through the emulator, as they would have it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from harness import InProcessBot
from sealed import case_answers
from sealed import chat_state as open_chat_state
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.crypto import Keyring
from bot.devserver import BotApiEmulator, BotMessage, UserClient
from bot.store.models import Case, Chat

RECEIPT = re.compile(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}")


def shown(user: UserClient) -> BotMessage:
    """The newest bot message in the chat (there must be one)."""
    message = user.last_message
    assert message is not None
    return message


def has_button(message: BotMessage, label: str) -> bool:
    return any(label in text for text in message.button_texts)


# Generous: 50 reporters at once share one event loop with the bot and the emulator here.
WAIT = 60.0


async def reply_to(user: UserClient, text: str) -> str:
    await user.send(text)
    return (await user.next_message(WAIT)).text


async def click(user: UserClient, label: str) -> str:
    await user.click(label)
    return (await user.next_message(WAIT)).text


async def start_report(user: UserClient) -> None:
    await user.send("/start")
    welcome = await user.next_message(WAIT)
    assert "Confide" in welcome.text
    assert has_button(welcome, "Make a report")
    assert "Telegram" in welcome.text  # the privacy notice says Telegram sees the chat
    assert "Question 1/" in await click(user, "Make a report")


async def answer_everything(
    user: UserClient, account: str = "He cornered me after the meeting."
) -> str:
    """Fill in the default questionnaire, touching every kind of question; returns the review."""
    await start_report(user)
    assert "Question 2/" in await click(user, "Sexual harassment")
    assert "Question 3/" in await reply_to(user, "2026-08-02")
    await click(user, "Several times")
    await click(user, "At the office")
    assert "Question 5/" in shown(user).text
    await reply_to(user, account)
    await user.click("My manager")
    toggled = await user.next_message(WAIT)
    assert any(t.startswith("☑️") and "manager" in t for t in toggled.button_texts)
    await click(user, "Done")
    await reply_to(user, "A. Manager")
    await click(user, "Yes")
    assert "screenshots, photos" in await reply_to(user, "B. Witness")
    await user.send_photo()
    assert "Received so far (1)" in (await user.next_message(WAIT)).text
    await click(user, "Done")
    await click(user, "No")
    await click(user, "I am safe now")
    await user.click("An investigation")
    await user.next_message(WAIT)
    await click(user, "Done")
    return await click(user, "Only through this bot")


async def test_full_report_from_start_to_receipt(
    emulator: BotApiEmulator, bot: InProcessBot, engine: AsyncEngine, keyring: Keyring
) -> None:
    alice = emulator.new_user(first_name="Alice", username="alice_w", language_code="en")
    review = await answer_everything(alice)
    assert "Please check your report" in review
    assert "He cornered me after the meeting." in review
    assert has_button(shown(alice), "Send report")
    await alice.click("Send report")
    receipt = await alice.next_message()
    code = RECEIPT.search(receipt.text)
    assert code, receipt.text
    assert "until then I show it to you again here" in receipt.text  # issue 10: not "only once"
    offer = await alice.next_message()
    assert has_button(offer, "Delete this conversation")
    await alice.click("I have saved my code", message=receipt)  # until then it comes back
    await alice.next_message()

    async with engine.connect() as connection:
        case = (await connection.execute(select(Case))).one()
        assert case.status == "new" and case.urgent is False
        assert case.receipt_lookup == keyring.receipt_lookup(code.group())
        stored = case_answers(keyring, case)
        assert stored["answers"]["account"] == "He cornered me after the meeting."
        assert stored["answers"]["involved_role"] == ["manager"]
        # The draft is gone once sent.
        chat_state = (await connection.execute(select(Chat.state))).scalar_one()
        assert chat_state is not None  # only the right to wipe remains
        chat = (await connection.execute(select(Chat))).one()
        state = open_chat_state(keyring, chat)
        # The draft lives apart, under its own key; once sent, neither is left in the chat.
        assert chat.draft is None and chat.draft_key is None and state["wipe"] is True

    # Check the case with the receipt code, from the menu.
    await alice.send("/start")
    await alice.next_message()
    assert "receipt code" in await click(alice, "Check a case")
    status = await reply_to(alice, code.group().lower().replace("-", " "))
    assert "received" in status and re.search(r"C-[0-9A-Z]{3}-[0-9A-Z]{3}", status)


async def test_wipe_deletes_the_conversation_from_the_chat(
    emulator: BotApiEmulator, bot: InProcessBot
) -> None:
    bob = emulator.new_user(first_name="Bob", username="bob", language_code="en")
    await answer_everything(bob)
    await bob.click("Send report")
    await bob.next_message()
    await bob.next_message()
    await bob.click("Delete this conversation")
    await bob.wait_until(lambda: not any("Question" in m.text for m in bob.messages))
    assert not any("Send report" in m.button_texts for m in bob.messages)
    # A second press (an old button) does nothing harmful.
    assert bob.deleted_message_ids


async def test_raw_database_holds_no_answer_id_or_name(
    emulator: BotApiEmulator, bot: InProcessBot, bot_env: dict[str, str], database_url: str
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("reads the SQLite file directly")
    carol = emulator.new_user(first_name="Carolyn", username="carolyn_secret", language_code="en")
    account = "The regional director grabbed my arm at the offsite"
    await answer_everything(carol, account=account)
    await carol.click("Send report")
    await carol.next_message()
    await bot.stop()  # flush everything to the file (WAL included)
    path = database_url.removeprefix("sqlite+aiosqlite:///")
    raw = b"".join(Path(p).read_bytes() for p in (path, path + "-wal") if Path(p).exists())
    for secret in (account, "A. Manager", "B. Witness", str(carol.id), "Carolyn", "carolyn_secret"):
        assert secret.encode() not in raw, secret
        assert secret.encode("utf-16-le") not in raw, secret
    await bot.start()


async def test_draft_survives_a_restart_between_two_answers(
    emulator: BotApiEmulator, bot: InProcessBot
) -> None:
    dana = emulator.new_user(first_name="Dana", language_code="en")
    await start_report(dana)
    await click(dana, "Verbal harassment")
    await bot.restart()
    text = await reply_to(dana, "yesterday")
    assert "Question 3/" in text
    await dana.send("/start")
    resume = await dana.next_message()
    assert "unfinished report" in resume.text
    assert "Question 3/" in await click(dana, "Continue")


async def test_bad_input_gets_a_clear_answer_and_changes_nothing(
    emulator: BotApiEmulator, bot: InProcessBot
) -> None:
    erin = emulator.new_user(first_name="Erin", language_code="en")
    await start_report(erin)
    text = await reply_to(erin, "it was bad")
    assert "choose one of the buttons" in text and "Question 1/" in text
    assert has_button(shown(erin), "Verbal harassment")
    await erin.send_sticker()
    assert "only take typed text" in (await erin.next_message()).text
    await erin.send_voice()
    assert "only take typed text" in (await erin.next_message()).text
    await erin.send_location()
    assert "only take typed text" in (await erin.next_message()).text
    await erin.click_data("f999|p|verbal", message=shown(erin))
    assert "earlier message" in (await erin.next_message()).text
    await erin.click_data("garbage\x00data", message=shown(erin))
    assert "earlier message" in (await erin.next_message()).text
    await click(erin, "Verbal harassment")
    text = await reply_to(erin, "sometime")
    assert "couldn't read that date" in text
    text = await reply_to(erin, "/frobnicate")
    assert "don't know that command" in text
    assert "Question 2/" in (await erin.next_message()).text  # and where they were
    await click(erin, "Skip")
    await click(erin, "Skip")
    await click(erin, "Skip")
    text = await reply_to(erin, "x" * 3500)
    assert "3500 characters; the limit here is 3000" in text
    # Still on the same question, and what was typed before is intact.
    assert "Question 5/" in shown(erin).text


async def test_user_text_is_escaped_everywhere(emulator: BotApiEmulator, bot: InProcessBot) -> None:
    fay = emulator.new_user(first_name="Fay", language_code="en")
    nasty = "<b>bold</b> & *stars* _under_ <a href='x'>link</a> &amp;"
    review = await answer_everything(fay, account=nasty)
    assert nasty in review  # shown literally; the emulator rejects broken HTML outright


async def test_group_chats_are_refused(emulator: BotApiEmulator, bot: InProcessBot) -> None:
    gus = emulator.new_user(first_name="Gus", language_code="en")
    team = emulator.new_group(title="Team")
    await gus.send("/start", chat=team)
    refusal = await team.next_message()
    assert "group" in refusal.text and "@confide_test_bot" in refusal.text
    assert not refusal.button_texts


async def test_cancel_asks_then_discards(emulator: BotApiEmulator, bot: InProcessBot) -> None:
    hal = emulator.new_user(first_name="Hal", language_code="en")
    await start_report(hal)
    await click(hal, "Verbal harassment")
    assert "Discard this report?" in await reply_to(hal, "/cancel")
    assert "Question 2/" in await click(hal, "No, keep it")
    await reply_to(hal, "/cancel")
    assert "Nothing was sent" in await click(hal, "Yes, discard it")
    assert "no report in progress" in await reply_to(hal, "/cancel")


async def test_help_and_privacy_work_mid_report(
    emulator: BotApiEmulator, bot: InProcessBot
) -> None:
    ida = emulator.new_user(first_name="Ida", language_code="en")
    await start_report(ida)
    assert "/status" in await reply_to(ida, "/help")
    assert "Question 1/" in (await ida.next_message()).text  # back to where they were
    privacy = await reply_to(ida, "/privacy")
    assert "What Telegram sees" in privacy and "72 hours" in privacy
    assert "Question 1/" in (await ida.next_message()).text


async def test_chinese_client_and_language_switch(
    emulator: BotApiEmulator, bot: InProcessBot
) -> None:
    li = emulator.new_user(first_name="Li", language_code="zh-hans")
    await li.send("/start")
    assert has_button((await li.next_message()), "开始举报")
    await li.send("/language")
    await li.next_message()
    assert "English" in await click(li, "English")
    await li.send("/start")
    assert has_button((await li.next_message()), "Make a report")


async def test_edit_an_answer_from_the_review(emulator: BotApiEmulator, bot: InProcessBot) -> None:
    jo = emulator.new_user(first_name="Jo", language_code="en")
    await answer_everything(jo)
    assert "Which answer" in await click(jo, "Change an answer")
    assert "Changing your answer" in await click(jo, "What happened")
    review = await click(jo, "Discrimination")
    assert "Please check your report" in review and "Discrimination" in review


async def test_many_reporters_at_once_get_separate_reports(
    emulator: BotApiEmulator, bot: InProcessBot, engine: AsyncEngine, keyring: Keyring
) -> None:
    import asyncio

    users = [emulator.new_user(first_name=f"U{i}", language_code="en") for i in range(50)]

    async def report(i: int, user: UserClient) -> str:
        await answer_everything(user, account=f"Account number {i} of fifty")
        await user.click("Send report")
        receipt = await user.next_message(WAIT)
        match = RECEIPT.search(receipt.text)
        assert match
        return match.group()

    codes = await asyncio.gather(*(report(i, u) for i, u in enumerate(users)))
    assert len(set(codes)) == 50
    async with engine.connect() as connection:
        assert (await connection.execute(select(func.count()).select_from(Case))).scalar() == 50
        accounts = set()
        for case in (await connection.execute(select(Case))).all():
            answers = case_answers(keyring, case)
            accounts.add(answers["answers"]["account"])
            lookup = case.receipt_lookup
            assert lookup in {keyring.receipt_lookup(c) for c in codes}
    assert accounts == {f"Account number {i} of fifty" for i in range(50)}
