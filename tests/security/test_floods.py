"""One person can't drown the others: a flood from one chat holds one slot at most; each chat
may start so many reports and send so many messages; wrong codes are limited per chat and
slow everyone down (never lock anyone out) when many are tried; urgent alerts leave first;
a sender killed with messages in hand holds them for seconds only."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from harness import InProcessBot
from sqlalchemy.ext.asyncio import AsyncEngine
from talk import WAIT
from world import Clock, file_report, send

from bot.cases.limits import Limits
from bot.crypto import Keyring
from bot.devserver import BotApiEmulator
from bot.services.conversation import ConversationService
from bot.services.enrolment import create_invite
from bot.services.outbox import Outbox
from bot.services.protocol import CaseButton, Command, Incoming, Menu, MenuButton, Say, Text
from bot.store.database import session_factory

FLOOD = 10_000


async def test_a_flood_from_one_chat_does_not_hold_up_another(
    emulator: BotApiEmulator, bot: InProcessBot
) -> None:
    flooder = emulator.new_user(first_name="Flo", language_code="en")
    for n in range(FLOOD):
        await flooder.send(f"message {n}")
    other = emulator.new_user(first_name="Oda", language_code="en")
    loop = asyncio.get_running_loop()
    started = loop.time()
    await other.send("/start")
    answer = await other.next_message(WAIT)
    waited = loop.time() - started
    assert "Make a report" in " ".join(answer.button_texts)
    answered_flood = sum(1 for m in flooder.messages)
    assert answered_flood < FLOOD / 2, "the other chat waited for the flood"
    print(f"answered after {waited:.1f} s, {answered_flood} of the flood handled by then")
    assert waited < 15, waited


async def test_each_chat_may_start_so_many_reports_and_send_so_many_messages(
    world: tuple[ConversationService, Clock], engine: AsyncEngine
) -> None:
    service, clock = world
    service.limits = Limits(reports_per_day=2, messages_per_hour=3)
    case_id = await file_report(service)
    await file_report(service)
    views = await send(service, MenuButton(Menu.REPORT), 1001)
    assert views == (Say("limit_reports", {"limit": 2}),)
    for n in range(3):
        await send(service, CaseButton("reply", case_id), 1001)
        views = await send(service, Text(f"message {n}"), 1001)
        assert Say("reporter_reply_sent", {"case": case_id}) in views
    await send(service, CaseButton("reply", case_id), 1001)
    views = await send(service, Text("one too many"), 1001)
    assert Say("limit_messages", {"limit": 3}) in views
    clock.now += timedelta(hours=1)
    views = await send(service, Text("one too many"), 1001)  # still being written: sent now
    assert Say("reporter_reply_sent", {"case": case_id}) in views
    clock.now += timedelta(days=1)
    (step,) = await send(service, MenuButton(Menu.REPORT), 1001)
    assert not isinstance(step, Say)


async def test_wrong_codes_are_limited_per_chat_and_slow_down_everyone_when_many(
    world: tuple[ConversationService, Clock], engine: AsyncEngine
) -> None:
    service, _ = world
    await file_report(service)
    wrong = "AAAA-BBBB-CCCC-DDDD"
    for _ in range(4):
        assert await send(service, Command("status", wrong), 7001) == (Say("case_not_found"),)
    # A right code in between does not wipe the count of wrong ones.
    async with service.sessions.begin() as session:
        right = await create_invite(
            session, service.keyring, "responder", "Zed", service.clock(), timedelta(hours=1)
        )
    await send(service, Command("enroll", right), 7001)
    (paused,) = await send(service, Command("status", wrong), 7001)
    assert isinstance(paused, Say) and paused.key == "case_not_found"
    (paused,) = await send(service, Command("status", wrong), 7001)
    assert isinstance(paused, Say) and paused.key == "too_many_codes"

    # Many chats guessing: answers slow down, for every chat, but nobody is locked out.
    for chat_id in range(8000, 8040):
        await send(service, Command("status", wrong), chat_id)
    reply = await service.handle(Incoming(10**9, 9999, "en", 1, Command("status", wrong)))
    assert reply is not None and reply.delay > 0
    assert reply.views == (Say("case_not_found"),)  # still answered


async def test_urgent_alerts_leave_first_and_a_dead_senders_lease_lapses_in_seconds(
    world: tuple[ConversationService, Clock], engine: AsyncEngine, keyring: Keyring
) -> None:
    service, clock = world
    for _ in range(3):
        await file_report(service)
    await file_report(service, danger=True)
    outbox = Outbox(session_factory(engine), keyring)
    first = await outbox.lease_due(clock.now)
    assert [d.notification.key for d in first[:3]] == ["alert_urgent_case"] * 3
    # The sender dies with the batch in hand. Another takes it over a few seconds later.
    other = Outbox(session_factory(engine), keyring)
    assert await other.lease_due(clock.now + timedelta(seconds=5)) == []
    again = await other.lease_due(clock.now + timedelta(seconds=11))
    assert {d.id for d in again} == {d.id for d in first}
