"""No false comfort: nobody is told "responders were alerted" when none was; exclusions hold
for escalations too; a report that nobody can read yet waits, says so, and reaches the
first responder enrolled at once."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from harness import InProcessBot, enrol
from sealed import pending_outbox
from sqlalchemy.ext.asyncio import AsyncEngine
from talk import WAIT, file_report
from world import ADA, ANN, BEN, Clock, send
from world import file_report as file_report_to

from bot.cases.sla import ServiceLevels
from bot.crypto import Keyring
from bot.devserver import BotApiEmulator
from bot.intake.flow import Action, ActionName, Ask, NoticeKind, Toggle
from bot.services.conversation import ConversationService
from bot.services.deadlines import DeadlineWatch
from bot.services.protocol import (
    Command,
    FlowButton,
    Menu,
    MenuButton,
    Say,
    ShowQueue,
    ShowStep,
    Text,
)
from bot.store.database import session_factory


async def at_the_exclusion_question(service: ConversationService, chat_id: int) -> ShowStep:
    await send(service, MenuButton(Menu.REPORT), chat_id)
    views = await send(service, Text("Verbal harassment"), chat_id)
    while True:
        (step,) = [v for v in views if isinstance(v, ShowStep)]
        assert isinstance(step.step.screen, Ask)
        if step.step.screen.question.id == "exclude":
            return step
        views = await send(service, FlowButton(step.rev, Action(ActionName.SKIP)), chat_id)


async def test_excluding_everyone_is_refused_at_the_question(
    world: tuple[ConversationService, Clock],
) -> None:
    service, _ = world
    step = await at_the_exclusion_question(service, 5001)
    assert isinstance(step.step.screen, Ask)
    assert "administrators you did not tick" in step.step.screen.question.text.get("en")
    for choice in step.step.screen.question.choices:
        (ticked,) = await send(service, FlowButton(step.rev, Toggle(choice.id)), 5001)
        assert isinstance(ticked, ShowStep)
        step = ticked
    (refused,) = await send(service, FlowButton(step.rev, Action(ActionName.DONE)), 5001)
    assert isinstance(refused, ShowStep)
    assert [n.kind for n in refused.step.notices] == [NoticeKind.KEEP_A_READER]
    assert refused.step.screen.question.id == "exclude"  # type: ignore[union-attr]
    ada = next(c for c in refused.step.screen.question.choices if c.label.get("en") == "Ada")  # type: ignore[union-attr]
    (unticked,) = await send(service, FlowButton(refused.rev, Toggle(ada.id)), 5001)
    assert isinstance(unticked, ShowStep)
    views = await send(service, FlowButton(unticked.rev, Action(ActionName.DONE)), 5001)
    (moved_on,) = [v for v in views if isinstance(v, ShowStep)]
    assert moved_on.step.screen.question.id != "exclude"  # type: ignore[union-attr]

    service.exclusion = "typed"
    step = await at_the_exclusion_question(service, 5002)
    (refused,) = await send(service, Text("Ann, Ben and Ada"), 5002)
    assert isinstance(refused, ShowStep)
    assert [n.kind for n in refused.step.notices] == [NoticeKind.KEEP_A_READER]
    views = await send(service, Text("Ann, Ben"), 5002)
    (moved_on,) = [v for v in views if isinstance(v, ShowStep)]
    assert moved_on.step.screen.question.id != "exclude"  # type: ignore[union-attr]


async def test_escalations_respect_exclusions_and_an_excluded_admin_sees_nothing(
    world: tuple[ConversationService, Clock], engine: AsyncEngine, keyring: Keyring
) -> None:
    service, clock = world
    case_id = await file_report_to(service, exclude=("Ada",))
    seen = len(await pending_outbox(engine, keyring))
    watch = DeadlineWatch(session_factory(engine), keyring, ServiceLevels(), clock)
    clock.now += timedelta(hours=24)
    await watch.scan()
    told = (await pending_outbox(engine, keyring))[seen:]
    escalated = sorted(chat for chat, key in told if key == "escalated_claim")
    assert escalated == sorted([ANN, BEN])  # the admin the reporter excluded is not told
    assert all(chat != ADA for chat, _ in told)
    (overdue,) = await send(service, Command("overdue"), ADA)
    assert isinstance(overdue, ShowQueue) and case_id not in repr(overdue)
    (opened,) = await send(service, Command("open", case_id), ADA)
    assert opened == Say("no_such_case", {"case": case_id})


async def test_a_report_nobody_can_read_yet_says_so_waits_and_reaches_the_first_responder(
    emulator: BotApiEmulator,
    bot: InProcessBot,
    engine: AsyncEngine,
    keyring: Keyring,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    # The operator is warned at start-up.
    await emulator.wait_until(lambda: "event=no_active_responder" in caplog.text, timeout=WAIT)
    rea = emulator.new_user(first_name="Rea", language_code="en")
    await file_report(rea)
    receipt = next(m for m in rea.messages if "Your report was sent" in m.text)
    assert "Nobody who handles reports is enrolled yet" in receipt.text
    assert "alerted" not in receipt.text
    urgent = emulator.new_user(first_name="Uri", language_code="en")
    await file_report(urgent, danger=True)

    ann = await enrol(emulator, engine, keyring, "Ann")
    alerts = [await ann.next_message(WAIT), await ann.next_message(WAIT)]
    assert "URGENT" in alerts[0].text.upper() and "New case" in alerts[1].text


async def test_with_no_responder_the_operator_is_warned(
    world: tuple[ConversationService, Clock],
    engine: AsyncEngine,
    keyring: Keyring,
    caplog: pytest.LogCaptureFixture,
) -> None:
    service, clock = world
    await file_report_to(service)
    watch = DeadlineWatch(session_factory(engine), keyring, ServiceLevels(), clock)
    assert await watch.check_staffing() == 3
    for name in ("Ann", "Ben"):
        await send(service, Command("revoke", name), ADA)
    await send(service, Command("revoke", "Ada"), ADA)  # the last one, by herself
    caplog.set_level(logging.WARNING)
    assert await watch.check_staffing() == 0
    assert "event=no_active_responder waiting_cases=1" in caplog.text
