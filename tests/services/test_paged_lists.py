"""The other lists a person can ask for, a page at a time, read at the database: the admins'
/responders and a case's /audit trail, and a reporter's /status of the cases linked to
their chat. Everyone (every entry, every case) on exactly one page, in order."""

from __future__ import annotations

from datetime import timedelta

from many_cases import responder_id, seed_cases, seed_responders, seed_trail
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine
from world import ADA, ANN, REPORTER, T0, Clock, send

from bot.crypto import Keyring
from bot.services.admin import AUDIT_PAGE, RESPONDERS_PAGE
from bot.services.conversation import ConversationService
from bot.services.protocol import (
    CaseButton,
    Command,
    ResponderButton,
    ShowAudit,
    ShowMyCases,
    ShowResponders,
)
from bot.services.reporter_cases import STATUS_PAGE
from bot.store.models import Case


async def test_responders_are_listed_a_page_at_a_time(
    world: tuple[ConversationService, Clock], engine: AsyncEngine, keyring: Keyring
) -> None:
    service, _ = world
    names = [f"Person {i:03}" for i in range(2 * RESPONDERS_PAGE + 5)]
    await seed_responders(engine, keyring, names, T0)
    (first,) = await send(service, Command("responders"), ADA)
    assert isinstance(first, ShowResponders) and (first.page, first.pages) == (1, 3)
    pages = [first]
    for number in (2, 3):
        (shown,) = await send(service, ResponderButton("responders", str(number)), ADA)
        assert isinstance(shown, ShowResponders) and shown.page == number
        pages.append(shown)
    listed = [name for page in pages for name, _, _ in page.people]
    assert listed == sorted([*names, "Ada", "Ann", "Ben"])  # each once, by name
    assert [len(p.people) for p in pages] == [RESPONDERS_PAGE, RESPONDERS_PAGE, 8]
    (past,) = await send(service, Command("responders", "99"), ADA)
    assert isinstance(past, ShowResponders) and past.people == pages[-1].people


async def test_a_long_audit_trail_is_read_a_page_at_a_time(
    world: tuple[ConversationService, Clock], engine: AsyncEngine, keyring: Keyring
) -> None:
    service, clock = world
    clock.now = T0 + timedelta(days=30)
    (case,) = await seed_cases(engine, keyring, 1, T0)
    ann = await responder_id(engine, keyring, ANN)
    await seed_trail(engine, keyring, case.short_id, ann, 2 * AUDIT_PAGE + 7)
    (first,) = await send(service, Command("audit", case.short_id), ADA)
    assert isinstance(first, ShowAudit) and (first.page, first.pages) == (1, 3)
    pages = [first]
    while pages[-1].page < pages[-1].pages:
        argument = f"{case.short_id}:{pages[-1].page + 1}"
        (shown,) = await send(service, ResponderButton("audit", argument), ADA)
        assert isinstance(shown, ShowAudit) and shown.page == pages[-1].page + 1
        pages.append(shown)
    lines = [line for page in pages for line in page.lines]
    # Every opening once, oldest first; then the readings of the trail itself, each of
    # which is recorded (one per page read before the last was).
    assert [(line.action, line.who) for line in lines[: 2 * AUDIT_PAGE + 7]] == [
        ("open", "Ann")
    ] * (2 * AUDIT_PAGE + 7)
    assert [line.action for line in lines[2 * AUDIT_PAGE + 7 :]] == ["export"] * 2
    assert [line.at for line in lines] == sorted(line.at for line in lines)
    (typed,) = await send(service, Command("audit", f"{case.short_id} 2"), ADA)
    assert isinstance(typed, ShowAudit) and typed.lines == pages[1].lines


async def test_a_reporters_linked_cases_are_listed_a_page_at_a_time(
    world: tuple[ConversationService, Clock], engine: AsyncEngine, keyring: Keyring
) -> None:
    service, clock = world
    clock.now = T0 + timedelta(days=30)
    mine = await seed_cases(engine, keyring, 2 * STATUS_PAGE + 3, T0, reporter=REPORTER)
    others = await seed_cases(engine, keyring, 5, T0, reporter=REPORTER + 1)
    # Someone with write access copies this chat's look-up onto another's case: the sealed
    # link decides, and it is listed on no page.
    async with engine.begin() as connection:
        lookup = keyring.reporter_lookup(REPORTER)
        copied = others[0].short_id
        await connection.execute(
            update(Case).where(Case.short_id == copied).values(reporter_lookup=lookup)
        )
    (first,) = await send(service, Command("status"), REPORTER)
    assert isinstance(first, ShowMyCases) and (first.page, first.pages) == (1, 3)
    pages = [first]
    for number in (2, 3):
        (shown,) = await send(service, CaseButton("status", str(number)), REPORTER)
        assert isinstance(shown, ShowMyCases) and shown.page == number
        pages.append(shown)
    listed = [c.short_id for page in pages for c in page.cases]
    assert sorted(listed) == sorted(c.short_id for c in mine)
    assert len(listed) == len(set(listed)) and copied not in listed
