"""The reporter service over a really migrated database, without Telegram."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.crypto import Keyring
from bot.intake.flow import Intake, Pick
from bot.intake.questionnaire import load_questionnaire
from bot.services.conversation import ConversationService
from bot.services.inbox import Inbox
from bot.services.protocol import (
    Command,
    Event,
    FlowButton,
    Incoming,
    Menu,
    MenuButton,
    ShowMenu,
    ShowStep,
    Text,
)
from bot.store.database import session_factory
from bot.store.models import Chat


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def service(migrated: AsyncEngine, keyring: Keyring) -> ConversationService:
    return ConversationService(
        session_factory(migrated), keyring, Intake(load_questionnaire()), clock=Clock()
    )


updates = count(1)


async def send(
    service: ConversationService, event: Event, chat_id: int = 4242
) -> tuple[object, ...]:
    reply = await service.handle(Incoming(next(updates), chat_id, "en", 1, event))
    assert reply is not None
    return reply.views


def through_the_inbox(service: ConversationService, keyring: Keyring) -> Inbox:
    return Inbox(service.sessions, keyring, service.clock)


async def test_a_redelivered_update_is_handled_once(
    service: ConversationService, keyring: Keyring
) -> None:
    inbox = through_the_inbox(service, keyring)
    assert [u.update_id for u in await inbox.store([{"update_id": 10_000}])] == [10_000]
    assert await inbox.store([{"update_id": 10_000}]) == []  # redelivered: not stored again
    incoming = Incoming(10_000, 77, "en", 1, MenuButton(Menu.REPORT))
    assert await service.handle(incoming) is not None
    assert await service.handle(incoming) is None


async def test_stale_drafts_are_deleted_after_the_configured_age(
    service: ConversationService, engine: AsyncEngine
) -> None:
    clock = service.clock
    assert isinstance(clock, Clock)
    await send(service, MenuButton(Menu.REPORT))
    views = await send(service, Command("start"))
    assert views == (ShowMenu(resume=True),)

    clock.now += timedelta(hours=71)
    assert await service.prune_chats(timedelta(hours=72)) == 0
    views = await send(service, Command("start"))  # activity: the clock starts again
    assert views == (ShowMenu(resume=True),)

    clock.now += timedelta(hours=73)
    assert await service.prune_chats(timedelta(hours=72)) == 1
    async with engine.connect() as connection:
        # An idle chat keeps nothing, not even its row (a chat's fingerprint goes with it).
        assert (await connection.execute(select(Chat))).all() == []
    assert await send(service, Command("start")) == (ShowMenu(resume=False),)


async def test_two_chats_never_share_a_draft(service: ConversationService) -> None:
    await send(service, MenuButton(Menu.REPORT), chat_id=1)
    await send(service, MenuButton(Menu.REPORT), chat_id=2)
    await send(service, Text("Verbal harassment"), chat_id=1)
    (view,) = await send(service, Command("start"), chat_id=2)
    assert view == ShowMenu(resume=True)
    (step,) = await send(service, MenuButton(Menu.CONTINUE), chat_id=2)
    assert isinstance(step, ShowStep)
    assert step.step.draft.answers == {}


async def test_two_processes_take_turns_on_one_chat_without_losing_an_answer(
    service: ConversationService, engine: AsyncEngine, keyring: Keyring
) -> None:
    """Each process keeps the chat rows it last saw; a row another process wrote since is
    noticed at the write, and the update is applied again to what is stored."""
    other = ConversationService(
        session_factory(engine), keyring, Intake(load_questionnaire()), clock=service.clock
    )
    (step,) = await send(service, MenuButton(Menu.REPORT), chat_id=7)
    assert isinstance(step, ShowStep)
    views = await send(other, FlowButton(step.rev, Pick("verbal")), chat_id=7)
    asks = [v for v in views if isinstance(v, ShowStep)]
    assert asks[-1].step.draft.answers == {"category": "verbal"}

    # `service` still holds the row from before `other` wrote: it must not write over it.
    views = await send(service, Text("2026-08-02"), chat_id=7)
    asks = [v for v in views if isinstance(v, ShowStep)]
    assert asks[-1].step.draft.answers == {"category": "verbal", "when": "2026-08-02"}


async def test_an_update_handled_by_another_process_is_not_handled_again(
    service: ConversationService, engine: AsyncEngine, keyring: Keyring
) -> None:
    other = ConversationService(
        session_factory(engine), keyring, Intake(load_questionnaire()), clock=service.clock
    )
    await through_the_inbox(service, keyring).store([{"update_id": 500}, {"update_id": 501}])
    await service.handle(Incoming(500, 8, "en", 1, MenuButton(Menu.REPORT)))
    redelivered = Incoming(501, 8, "en", 2, Command("start"))
    assert await other.handle(redelivered) is not None
    # `service` last saw update 500 in its own cache, yet recognises 501 as done elsewhere.
    assert await service.handle(redelivered) is None


async def test_a_draft_pruned_elsewhere_does_not_come_back_from_a_cache(
    service: ConversationService, engine: AsyncEngine, keyring: Keyring
) -> None:
    clock = service.clock
    assert isinstance(clock, Clock)
    pruner = ConversationService(
        session_factory(engine), keyring, Intake(load_questionnaire()), clock=clock
    )
    await send(service, MenuButton(Menu.REPORT), chat_id=9)
    clock.now += timedelta(hours=73)
    assert await pruner.prune_chats(timedelta(hours=72)) == 1
    (view,) = await send(service, Command("start"), chat_id=9)
    assert view == ShowMenu(resume=False)
