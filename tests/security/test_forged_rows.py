"""Write access to the database without the keys gains nothing: forged or edited rows that
grant power grant none, a removed or relabelled sealed value is tampering, and look-ups
never link one person's roles."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from harness import InProcessBot, enrol, invite
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine
from talk import WAIT, file_report, say
from world import ADA, ANN, BEN, REPORTER, Clock, send
from world import file_report as file_report_to

from bot.crypto import Keyring
from bot.devserver import BotApiEmulator
from bot.services.conversation import ConversationService
from bot.services.protocol import (
    CaseButton,
    Command,
    Say,
    ShowCase,
    ShowCaseFile,
    ShowMyCases,
    ShowQueue,
)
from bot.store.models import Case, CaseMessage, Chat, Invite, Responder

UNKNOWN = "don't know that command"


async def new_chat_row(engine: AsyncEngine, before: set[uuid.UUID]) -> Any:
    """The attacker finds their own chat's row: the one that appeared when they wrote."""
    async with engine.connect() as connection:
        rows = (await connection.execute(select(Chat))).all()
    (row,) = [r for r in rows if r.id not in before]
    return row


async def chat_ids(engine: AsyncEngine) -> set[uuid.UUID]:
    async with engine.connect() as connection:
        return set((await connection.execute(select(Chat.id))).scalars())


async def test_a_forged_responder_row_grants_nothing(
    emulator: BotApiEmulator,
    bot: InProcessBot,
    engine: AsyncEngine,
    keyring: Keyring,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ada = await enrol(emulator, engine, keyring, "Ada", "admin")
    ada.skip_pending()
    before = await chat_ids(engine)
    mal = emulator.new_user(first_name="Mal", language_code="en")
    await say(mal, "/start")
    own = await new_chat_row(engine, before)
    async with engine.connect() as connection:
        genuine = (await connection.execute(select(Responder))).one()

    def forged(lookup: bytes) -> dict[str, object]:
        row = dict(genuine._mapping)
        return row | {"id": uuid.uuid4(), "lookup": lookup, "display_name": "Mal"}

    # Copying the look-up of the attacker's own chat row, and the rest from Ada's row.
    async with engine.begin() as connection:
        await connection.execute(insert(Responder).values(**forged(own.lookup)))
    caplog.set_level(logging.INFO)
    assert UNKNOWN in (await say(mal, "/responders")).text
    assert UNKNOWN in (await say(mal, "/queue")).text
    # Even with the right look-up (which takes the key to compute), the MAC gives it away.
    async with engine.begin() as connection:
        await connection.execute(
            insert(Responder).values(**forged(keyring.responder_lookup(mal.chat_id)))
        )
    assert UNKNOWN in (await say(mal, "/responders")).text
    assert "event=tampering_detected what=responder_row" in caplog.text
    assert str(mal.chat_id) not in caplog.text and "Mal" not in caplog.text
    # Ada is untouched by the forgery.
    assert "Ada" in (await say(ada, "/responders")).text


async def test_editing_a_genuine_responder_row_grants_nothing(
    emulator: BotApiEmulator, bot: InProcessBot, engine: AsyncEngine, keyring: Keyring
) -> None:
    ada = await enrol(emulator, engine, keyring, "Ada", "admin")
    ben = await enrol(emulator, engine, keyring, "Ben")
    dan = await enrol(emulator, engine, keyring, "Dan")
    for person in (ada, ben, dan):
        person.skip_pending()
    assert "Dan is no longer a responder" in (await say(ada, "/revoke Dan")).text
    await dan.next_message(WAIT)

    async with engine.begin() as connection:
        await connection.execute(
            update(Responder).where(Responder.display_name == "Ben").values(role="admin")
        )
        await connection.execute(
            update(Responder)
            .where(Responder.display_name == "Dan")
            .values(active=True, revoked_at=None)
        )
    assert UNKNOWN in (await say(ben, "/responders")).text  # no admin from a changed role
    assert UNKNOWN in (await say(ben, "/queue")).text  # nor is the changed row a responder
    assert UNKNOWN in (await say(dan, "/queue")).text  # no revival of a revoked account


async def test_an_invite_with_a_raised_role_is_refused(
    emulator: BotApiEmulator, bot: InProcessBot, engine: AsyncEngine, keyring: Keyring
) -> None:
    code = await invite(engine, keyring, "Eve", "responder")
    async with engine.begin() as connection:
        await connection.execute(update(Invite).values(role="admin"))
    eve = emulator.new_user(first_name="Eve", language_code="en")
    assert "not valid" in (await say(eve, f"/enroll {code}")).text
    assert UNKNOWN in (await say(eve, "/responders")).text
    honest = await invite(engine, keyring, "Fay", "responder")
    fay = emulator.new_user(first_name="Fay", language_code="en")
    assert "Welcome, Fay" in (await say(fay, f"/enroll {honest}")).text


async def test_a_removed_exclusion_list_still_excludes(
    world: tuple[ConversationService, Clock],
    engine: AsyncEngine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    service, _ = world
    case_id = await file_report_to(service, exclude=("Ben",))
    (listed,) = await send(service, Command("queue"), BEN)
    assert isinstance(listed, ShowQueue) and listed.items == ()  # Ben was excluded
    async with engine.begin() as connection:
        await connection.execute(update(Case).values(excluded=None))
    caplog.set_level(logging.WARNING)
    (listed,) = await send(service, Command("queue"), BEN)
    assert isinstance(listed, ShowQueue)
    assert listed.items == (), "a lifted exclusion let Ben see the case"
    (opened,) = await send(service, Command("open", case_id), BEN)
    assert opened == Say("no_such_case", {"case": case_id})
    assert "event=tampering_detected what=case_exclusions" in caplog.text
    # An admin can still open it, to find out what happened.
    views = await send(service, Command("open", case_id), ADA)
    assert any(isinstance(v, ShowCaseFile) for v in views)


async def test_a_relabelled_message_refuses_to_open(
    world: tuple[ConversationService, Clock],
    engine: AsyncEngine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    service, _ = world
    case_id = await file_report_to(service)
    await send(service, Command("claim", case_id), ANN)
    await send(service, Command("reply", f"{case_id} Please call HR on Monday."), ANN)
    # Relabel Ann's line as the reporter's own words.
    async with engine.begin() as connection:
        await connection.execute(update(CaseMessage).values(author="reporter", responder_id=None))
    caplog.set_level(logging.WARNING)
    (opened,) = await send(service, Command("open", case_id), ANN)
    assert opened == Say("case_tampered", {"case": case_id})
    (shown,) = await send(service, Command("status"), REPORTER)
    assert isinstance(shown, ShowMyCases)
    (seen,) = await send(service, CaseButton("open", case_id), REPORTER)
    assert seen == Say("case_damaged", {"case": case_id})
    assert "event=tampering_detected what=case_content" in caplog.text
    assert "Monday" not in caplog.text


async def test_a_copied_reporter_link_opens_nothing(
    world: tuple[ConversationService, Clock], engine: AsyncEngine
) -> None:
    """The attacker files a linked report from their own chat, then copies its look-up onto
    the victim's case, hoping their /status will list it and show its thread."""
    service, _ = world
    victim = await file_report_to(service)
    await send(service, Command("reply", f"{victim} Thank you, we will call you."), ANN)
    attacker = 4242
    own_id = await file_report_to(service, chat_id=attacker)
    async with engine.begin() as connection:
        own = (await connection.execute(select(Case).where(Case.short_id == own_id))).one()
        await connection.execute(
            update(Case).where(Case.short_id == victim).values(reporter_lookup=own.reporter_lookup)
        )
    (mine,) = await send(service, Command("status"), attacker)
    assert isinstance(mine, ShowMyCases)
    assert [c.short_id for c in mine.cases] == [own_id]
    forced = await send(service, CaseButton("open", victim), attacker)
    assert not any(isinstance(view, ShowCase) for view in forced)
    # The real reporter still sees their case.
    (theirs,) = await send(service, CaseButton("open", victim), REPORTER)
    assert isinstance(theirs, ShowCase) and theirs.thread


async def test_lookups_never_link_a_responder_who_reports(
    world: tuple[ConversationService, Clock], engine: AsyncEngine
) -> None:
    """Ann, a responder, reports from the same chat: her chat row, her responder row and her
    case carry look-ups that cannot be matched with one another."""
    service, _ = world
    await file_report_to(service, chat_id=ANN)
    async with engine.connect() as connection:
        chat = (await connection.execute(select(Chat.lookup))).scalars().all()
        responder = (await connection.execute(select(Responder.lookup))).scalars().all()
        reporter = (await connection.execute(select(Case.reporter_lookup))).scalars().all()
    assert len(reporter) == 1 and reporter[0] is not None
    assert not set(chat) & set(responder)
    assert not set(chat) & set(reporter)
    assert not set(responder) & set(reporter)


async def test_a_tampered_responder_row_receives_no_alerts(
    emulator: BotApiEmulator,
    bot: InProcessBot,
    engine: AsyncEngine,
    keyring: Keyring,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A tampered responder row also receives no alerts: it is not among the readers."""
    ann = await enrol(emulator, engine, keyring, "Ann")
    ann.skip_pending()
    async with engine.begin() as connection:
        await connection.execute(
            update(Responder).values(revoked_at=datetime(2026, 1, 1, tzinfo=UTC))
        )
    caplog.set_level(logging.WARNING)
    rea = emulator.new_user(first_name="Rea", language_code="en")
    await file_report(rea)
    await ann.assert_no_message(1.0)
    assert "tampering_detected what=responder_row" in caplog.text
