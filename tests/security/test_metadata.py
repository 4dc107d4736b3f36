"""Less metadata in the clear: times too coarse to link a case to the chat that sent it, chat
rows that go once idle, ciphertexts whose length says nothing, and responders' names shown
only if the operator chooses so."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from harness import InProcessBot, enrol
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from talk import WAIT, case_id_in, file_report, press, say
from world import ANN, BEN, Clock, send
from world import file_report as file_report_to

from bot.crypto import Keyring
from bot.devserver import BotApiEmulator
from bot.intake.flow import Action, ActionName, Ask
from bot.services.conversation import ConversationService
from bot.services.protocol import Command, FlowButton, Menu, MenuButton, ShowStep, Text
from bot.store.models import (
    AuditEntry,
    Case,
    CaseMessage,
    CaseNote,
    Chat,
    Responder,
)


def whole_minutes(moment: datetime | None) -> bool:
    return moment is None or (moment.second, moment.microsecond) == (0, 0)


def whole_hours(moment: datetime) -> bool:
    return (moment.minute, moment.second, moment.microsecond) == (0, 0, 0)


async def test_stored_times_are_too_coarse_to_link_a_case_to_its_chat(
    emulator: BotApiEmulator, bot: InProcessBot, engine: AsyncEngine, keyring: Keyring
) -> None:
    ann = await enrol(emulator, engine, keyring, "Ann")
    ann.skip_pending()
    rea = emulator.new_user(first_name="Rea", language_code="en")
    await file_report(rea, linked=False)
    case_id = case_id_in((await ann.next_message(WAIT)).text)
    await press(ann, "Claim", ann.last_message)
    await ann.next_message(WAIT)
    await say(ann, f"/reply {case_id} When did it start?")
    await say(ann, f"/note {case_id} Ask about the witness.")
    async with engine.connect() as connection:
        chats = (await connection.execute(select(Chat))).all()
        case = (await connection.execute(select(Case))).one()
        trail = (await connection.execute(select(AuditEntry))).all()
        thread = (await connection.execute(select(CaseMessage))).all()
        notes = (await connection.execute(select(CaseNote))).all()
        staff = (await connection.execute(select(Responder))).all()
    for chat in chats:
        assert whole_hours(chat.created_at) and whole_hours(chat.updated_at)
    case_times = [getattr(case, c.name) for c in Case.__table__.columns if c.name.endswith("_at")]
    assert all(whole_minutes(t) for t in case_times)
    assert all(whole_minutes(e.at) for e in trail)
    assert all(whole_minutes(m.created_at) for m in thread)
    assert all(whole_minutes(n.created_at) for n in notes)
    assert all(whole_minutes(p.enrolled_at) for p in staff)
    # So no chat row carries the moment the unlinked case was sent.
    sent = case.submitted_at
    assert not any(sent in (chat.created_at, chat.updated_at) for chat in chats if sent.minute)


async def test_idle_chat_rows_go_but_a_chat_waiting_on_an_open_case_stays(
    world: tuple[ConversationService, Clock], engine: AsyncEngine
) -> None:
    service, clock = world
    case_id = await file_report_to(service)  # linked: the reporter waits for replies here
    await send(service, Command("start"), 7007)  # someone who only looked
    clock.now += timedelta(hours=73)

    async def rows() -> int:
        async with engine.connect() as connection:
            return len((await connection.execute(select(Chat.id))).all())

    before = await rows()
    await service.prune_chats(timedelta(hours=72))
    assert await rows() == before - 1 - 3, "the onlooker's and the enrolment chats went"
    await send(service, Command("state", f"{case_id} closed"), ANN)
    clock.now += timedelta(hours=73)
    await service.prune_chats(timedelta(hours=72))
    assert await rows() == 0


async def test_ciphertext_lengths_say_nothing_of_answers_or_exclusions(keyring: Keyring) -> None:
    key, _ = keyring.new_case_key(uuid.uuid4())
    short = key.seal_answers({"answers": {"account": "He shouted."}})
    long = key.seal_answers({"answers": {"account": "He shouted at me again. " * 5}})
    assert len(short) == len(long)
    one = key.seal_exclusions([uuid.uuid4()])
    none = key.seal_exclusions([])
    assert len(one) == len(none)
    many = key.seal_exclusions([uuid.uuid4() for _ in range(12)])
    assert len(many) == len(one)
    brief = key.seal_message(uuid.uuid4(), "responder", uuid.uuid4(), "Thanks.")
    longer = key.seal_message(uuid.uuid4(), "responder", uuid.uuid4(), "Thank you. " * 60)
    assert len(brief) == len(longer)


async def test_the_operator_chooses_whether_responders_names_are_shown(
    world: tuple[ConversationService, Clock], engine: AsyncEngine
) -> None:
    service, _ = world

    async def exclusion_screen(chat_id: int) -> Ask:
        await send(service, MenuButton(Menu.REPORT), chat_id)
        views = await send(service, Text("Verbal harassment"), chat_id)
        while True:
            (step,) = [v for v in views if isinstance(v, ShowStep)]
            screen = step.step.screen
            assert isinstance(screen, Ask)
            if screen.question.id == "exclude":
                return screen
            views = await send(service, FlowButton(step.rev, Action(ActionName.SKIP)), chat_id)

    listed = await exclusion_screen(3001)
    assert {c.label.get("en") for c in listed.question.choices} == {"Ann", "Ben", "Ada"}

    service.exclusion = "typed"
    typed = await exclusion_screen(3002)
    assert typed.question.choices == () and "Ann" not in typed.question.text.get("en")
    case_id = await file_report_to(service, chat_id=3003, exclude_typed="ben")
    (queue,) = await send(service, Command("queue"), BEN)
    assert case_id not in str(queue)
    (queue,) = await send(service, Command("queue"), ANN)
    assert case_id in str(queue)

    service.exclusion = "off"
    await send(service, MenuButton(Menu.REPORT), 3004)
    views = await send(service, Text("Verbal harassment"), 3004)
    while True:
        (step,) = [v for v in views if isinstance(v, ShowStep)]
        if not isinstance(step.step.screen, Ask):
            break
        assert step.step.screen.question.id != "exclude"
        views = await send(service, FlowButton(step.rev, Action(ActionName.SKIP)), 3004)
