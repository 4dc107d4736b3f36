"""No user is ignored and no update is lost: duplicates are the update ids seen (Telegram
starts numbering again from a random value after a quiet week), and an update is stored
before Telegram is told the bot has it, so a process killed mid-flight loses nothing and
applies nothing twice."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from harness import InProcessBot, SubprocessBot, enrol
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from talk import RECEIPT, WAIT, case_id_in, file_report, say
from world import Clock

from bot.crypto import Keyring
from bot.devserver import BotApiEmulator
from bot.services.conversation import ConversationService
from bot.services.inbox import Inbox
from bot.services.protocol import Command, Incoming
from bot.store.models import Case, CaseNote, InboxUpdate

NOTES = 40


async def test_updates_numbered_again_from_a_low_id_are_all_answered(
    emulator: BotApiEmulator, bot: InProcessBot
) -> None:
    emulator.number_updates_from(900_000)
    ida = emulator.new_user(first_name="Ida", language_code="en")
    ben = emulator.new_user(first_name="Ben", language_code="en")
    assert "Make a report" in " ".join((await say(ida, "/start")).button_texts)
    assert "Make a report" in " ".join((await say(ben, "/start")).button_texts)
    # A week without updates later, Telegram numbers them from a low value again.
    emulator.number_updates_from(5)
    for person in (ida, ben):
        assert "What I can do" in (await say(person, "/help")).text
        assert "Privacy" in (await say(person, "/privacy")).text
        assert "Make a report" in " ".join((await say(person, "/start")).button_texts)


async def test_seen_update_ids_are_kept_a_day_then_forgotten(
    world: tuple[ConversationService, Clock], engine: AsyncEngine, keyring: Keyring
) -> None:
    service, clock = world
    inbox = Inbox(service.sessions, keyring, clock)
    assert len(await inbox.store([{"update_id": 42}])) == 1
    assert await service.handle(Incoming(42, 7, "en", 1, Command("start"))) is not None
    clock.now += timedelta(hours=23)
    assert await inbox.store([{"update_id": 42}]) == []  # Telegram may still redeliver it
    await inbox.forget_old_ids()
    clock.now += timedelta(hours=3)
    await inbox.forget_old_ids()
    async with engine.connect() as connection:
        assert (await connection.execute(select(InboxUpdate.id))).all() == []


async def test_a_bot_killed_with_updates_in_flight_handles_each_exactly_once(
    emulator: BotApiEmulator,
    bot_env: dict[str, str],
    migrated: AsyncEngine,
    keyring: Keyring,
    tmp_path: Path,
) -> None:
    engine = migrated
    bot = SubprocessBot(bot_env, tmp_path / "bot.log")
    await bot.start()
    try:
        ann = await enrol(emulator, engine, keyring, "Ann")
        ann.skip_pending()
        await file_report(emulator.new_user(first_name="Rea", language_code="en"))
        case_id = case_id_in((await ann.next_message(WAIT)).text)
        for n in range(NOTES):  # as fast as a client can send them
            await ann.send(f"/note {case_id} note-{n:02d}")
        await emulator.wait_until(
            lambda: sum("Note saved" in m.text for m in ann.messages) >= 5, timeout=WAIT
        )
        await bot.kill()  # kill -9, mid-flight
        saved_before = sum("Note saved" in m.text for m in ann.messages)
        assert saved_before < NOTES, "the kill came too late to test anything"
        await bot.start()

        async def all_noted() -> bool:
            async with engine.connect() as connection:
                count = select(func.count()).select_from(CaseNote)
                return (await connection.execute(count)).scalar() == NOTES

        await emulator.wait_until(all_noted, timeout=WAIT)
        await emulator.wait_until(lambda: not emulator.pending_updates, timeout=WAIT)
    finally:
        await bot.stop()
    async with engine.connect() as connection:
        rows = (await connection.execute(select(CaseNote))).all()
        case = (await connection.execute(select(Case))).one()
    key = keyring.case_key(case.id, case.wrapped_key)
    texts = sorted(key.open_note(r.id, r.responder_id, r.body) for r in rows)
    assert texts == [f"note-{n:02d}" for n in range(NOTES)]  # none lost, none twice


async def test_a_receipt_that_never_arrived_is_shown_again_until_saved(
    emulator: BotApiEmulator, bot: InProcessBot
) -> None:
    una = emulator.new_user(first_name="Una", language_code="en")
    await say(una, "/start")
    await una.click("Make a report")
    await una.next_message(WAIT)
    await una.click("Verbal harassment")
    shown = await una.next_message(WAIT)
    while "Please check your report" not in shown.text:
        await una.click("Skip")
        shown = await una.next_message(WAIT)
    # Telegram fails every message for a while: the receipt never reaches the phone.
    emulator.fail("sendMessage", status=502, times=1000)
    await una.click("don't link this chat")
    # Tried, and tried again after the back-off: the reply is waiting the outage out (each
    # further try comes twice as late, so waiting for more only makes the test longer).
    await emulator.wait_until(lambda: emulator.failures_served >= 2, timeout=WAIT)
    await asyncio.sleep(0.5)
    assert not any(RECEIPT.search(m.text) for m in una.messages)

    # A reply waits out an outage, so the bot must restart during it for the receipt to be
    # lost (bot.telegram.handlers: the waiting reply dies with the process).
    await bot.restart()
    emulator.clear_failures()
    una.skip_pending()
    assert not any(RECEIPT.search(m.text) for m in una.messages)
    again = await say(una, "/start")
    code = RECEIPT.search(again.text)
    assert code and "in case you have not saved it yet" in again.text
    await una.next_message(WAIT)  # the menu
    assert RECEIPT.search((await say(una, "/help")).text), "shown again until saved"
    await una.next_message(WAIT)
    await una.click("I have saved my code", message=again)
    assert "Keep the code safe" in (await una.next_message(WAIT)).text
    assert not RECEIPT.search((await say(una, "/help")).text)
    # The code works.
    checked = await say(emulator.new_user(first_name="Una-2"), f"/status {code.group()}")
    assert "received" in checked.text
