"""A small organisation for service-level tests: three enrolled people, a reporter, a clock
the test moves, and the conversation service they all talk to (no Telegram)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path

from harness import REPO
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.crypto import Keyring
from bot.intake.flow import Action, ActionName, Intake, Review, Toggle
from bot.intake.questionnaire import load_questionnaire
from bot.services.conversation import ConversationService
from bot.services.enrolment import create_invite
from bot.services.protocol import (
    Command,
    Event,
    FlowButton,
    Incoming,
    Menu,
    MenuButton,
    ShowReceipt,
    ShowStep,
    Text,
)
from bot.store.database import migrate, session_factory

T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
REPORTER, ANN, BEN, ADA = 1001, 2001, 2002, 2003
updates = count(1)


class Clock:
    """A clock the test moves (from T0, or from `start`)."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


async def make_world(engine: AsyncEngine, keyring: Keyring) -> tuple[ConversationService, Clock]:
    await migrate(engine, keyring=keyring)
    clock = Clock()
    service = ConversationService(
        session_factory(engine), keyring, Intake(load_questionnaire()), clock=clock
    )
    for chat_id, name, role in (
        (ANN, "Ann", "responder"),
        (BEN, "Ben", "responder"),
        (ADA, "Ada", "admin"),
    ):
        async with session_factory(engine).begin() as session:
            code = await create_invite(session, keyring, role, name, T0, timedelta(hours=1))
        await send(service, Command("enroll", code), chat_id)
    return service, clock


async def send(service: ConversationService, event: Event, chat_id: int) -> tuple[object, ...]:
    reply = await service.handle(Incoming(next(updates), chat_id, "en", 1, event))
    assert reply is not None
    return reply.views


def cli_env(database_url: str, keyring: Keyring, tmp_path: Path) -> dict[str, str]:
    """What a `confide` command line needs: this database, these keys, an empty config."""
    (tmp_path / "empty.toml").write_text("", encoding="utf-8")
    return {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "CONFIDE_DATABASE_URL": database_url,
        "CONFIDE_KEYS": keyring.dump(),
        "CONFIDE_CONFIG": str(tmp_path / "empty.toml"),
    }


async def file_report(
    service: ConversationService,
    *,
    danger: bool = False,
    exclude: tuple[str, ...] = (),
    exclude_typed: str | None = None,
    chat_id: int = REPORTER,
) -> str:
    views = await send(service, MenuButton(Menu.REPORT), chat_id)
    views = await send(service, Text("Verbal harassment"), chat_id)
    while True:
        (step,) = [v for v in views if isinstance(v, ShowStep)]
        if isinstance(step.step.screen, Review):
            break
        question = step.step.screen.question.id  # type: ignore[union-attr]
        if question == "safe_now" and danger:
            views = await send(service, Text("I am in danger now"), chat_id)
        elif question == "exclude" and exclude_typed is not None:
            views = await send(service, Text(exclude_typed), chat_id)
        elif question == "exclude" and exclude:
            screen = step.step.screen
            for choice in screen.question.choices:  # type: ignore[union-attr]
                if choice.label.get("en") in exclude:
                    views = await send(service, FlowButton(step.rev, Toggle(choice.id)), chat_id)
                    (step,) = [v for v in views if isinstance(v, ShowStep)]
            views = await send(service, FlowButton(step.rev, Action(ActionName.DONE)), chat_id)
        else:
            views = await send(service, FlowButton(step.rev, Action(ActionName.SKIP)), chat_id)
    views = await send(service, FlowButton(step.rev, Action(ActionName.SUBMIT)), chat_id)
    (receipt,) = [v for v in views if isinstance(v, ShowReceipt)]
    await send(service, MenuButton(Menu.SAVED), chat_id)  # the code is written down
    return receipt.short_id
