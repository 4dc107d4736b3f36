"""Responders and reporters talking through the bot, several people at once, via the emulator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from harness import InProcessBot, enrol, invite
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from talk import CASE, WAIT, case_id_in, file_report, press, say

from bot.crypto import Keyring
from bot.devserver import BotApiEmulator, UserClient
from bot.services.enrolment import create_invite
from bot.store.database import session_factory
from bot.store.models import Case, CaseMessage, CaseNote


async def test_the_whole_conversation_between_a_reporter_and_responders(
    emulator: BotApiEmulator,
    bot: InProcessBot,
    engine: AsyncEngine,
    keyring: Keyring,
    database_url: str,
) -> None:
    ann = await enrol(emulator, engine, keyring, "Ann")
    ben = await enrol(emulator, engine, keyring, "Ben")
    ann.skip_pending()
    ben.skip_pending()
    rea = emulator.new_user(first_name="Reporter", username="secret_reporter", language_code="en")
    await file_report(rea)

    alert_a = await ann.next_message(WAIT)
    alert_b = await ben.next_message(WAIT)
    for alert in (alert_a, alert_b):
        assert "New case" in alert.text
        assert "shouts" not in alert.text  # no report content in alerts
    match = CASE.search(alert_a.text)
    assert match
    case_id = match.group()

    claimed = await press(ann, "Claim", alert_a)
    assert f"You claimed case {case_id}" in claimed.text
    case_file = await ann.next_message(WAIT)
    assert "My team lead shouts at me in front of clients." in case_file.text
    assert "Reporter" not in case_file.text and "secret_reporter" not in case_file.text
    assert str(rea.id) not in case_file.text

    taken = await say(ben, f"/claim {case_id}")
    assert "already claimed by Ann" in taken.text

    sent = await say(ann, f"/reply {case_id} Thank you for telling us. When did it start?")
    assert "relayed" in sent.text
    relayed = await rea.next_message(WAIT)
    assert f"A responder wrote about your case {case_id}" in relayed.text
    assert "When did it start?" in relayed.text
    assert "Ann" not in relayed.text

    prompt = await press(rea, "Reply", relayed)
    assert "Responders will not see who you are" in prompt.text
    done = await say(rea, "About three months ago, after the reorganisation.")
    assert "passed on" in done.text
    ping = await ann.next_message(WAIT)
    assert "wrote a message" in ping.text and "three months" not in ping.text
    await ben.assert_no_message(0.3)  # only the claimer is told

    note = await say(ann, f"/note {case_id} Check the reorganisation date with HR.")
    assert "Note saved" in note.text
    await rea.assert_no_message(0.3)  # notes never reach the reporter

    await ann.send(f"/open {case_id}")
    file_now = await ann.next_message(WAIT)
    assert "three months ago" in file_now.text and "Check the reorganisation date" in file_now.text

    changed = await say(ann, f"/state {case_id} investigating")
    assert "is now investigating" in changed.text
    told = await rea.next_message(WAIT)
    assert f"Your case {case_id} is being looked into" in told.text
    bad = await say(ann, f"/state {case_id} new")
    assert "Usage" in bad.text

    status = await say(rea, "/status")
    assert case_id in status.text and "being looked into" in status.text

    await say(rea, "/withdraw")
    assert "Withdraw case" in rea.last_message.text  # type: ignore[union-attr]
    gone = await press(rea, "Yes, withdraw")
    assert "withdrawn" in gone.text
    notice = await ann.next_message(WAIT)
    assert f"Case {case_id} was withdrawn" in notice.text
    reopened = await say(ann, f"/open {case_id}")
    assert "no longer exists" in reopened.text

    async with engine.connect() as connection:
        case = (await connection.execute(select(Case))).one()
        assert case.status == "withdrawn"
        assert case.wrapped_key is None and case.answers is None and case.reporter is None
        assert (await connection.execute(select(CaseMessage))).all() == []
        assert (await connection.execute(select(CaseNote))).all() == []


async def test_an_unlinked_reporter_uses_only_the_receipt_code(
    emulator: BotApiEmulator, bot: InProcessBot, engine: AsyncEngine, keyring: Keyring
) -> None:
    cal = await enrol(emulator, engine, keyring, "Cal")
    cal.skip_pending()
    una = emulator.new_user(first_name="Una", language_code="en")
    code = await file_report(una, linked=False)
    alert = await cal.next_message(WAIT)
    match = CASE.search(alert.text)
    assert match
    case_id = match.group()

    saved = await say(cal, f"/reply {case_id} Are you able to meet us?")
    assert "chose not to link a chat" in saved.text
    await una.assert_no_message(0.3)  # nothing links the case to Una's chat

    # From another phone, even: any chat with the code can read and answer.
    other = emulator.new_user(first_name="Una-elsewhere", language_code="en")
    shown = await say(other, f"/status {code}")
    assert case_id in shown.text and "Are you able to meet us?" in shown.text
    await press(other, "Reply", shown)
    await say(other, "Yes, next week.")
    ping = await cal.next_message(WAIT)
    assert "wrote a message" in ping.text


async def test_wrong_receipt_codes_are_rate_limited(
    emulator: BotApiEmulator, bot: InProcessBot
) -> None:
    eve = emulator.new_user(first_name="Eve", language_code="en")
    for _ in range(5):
        answer = await say(eve, "/status AAAA-BBBB-CCCC-DDDD")
        assert "No case matches" in answer.text
    blocked = await say(eve, "/status AAAA-BBBB-CCCC-DDDD")
    assert "Too many wrong codes" in blocked.text


RESPONDER_COMMANDS = [
    "/queue",
    "/mine",
    "/claim {c}",
    "/release {c}",
    "/open {c}",
    "/reply {c} hello",
    "/note {c} hello",
    "/state {c} closed",
    "/filenames {c}",
    "/responders",
    "/revoke Ann",
]


async def admin_responder_and_a_case(
    emulator: BotApiEmulator, engine: AsyncEngine, keyring: Keyring
) -> tuple[UserClient, UserClient, UserClient, str]:
    """Ada (admin) and Dan (responder), both alerted to the case Rex just reported."""
    admin = await enrol(emulator, engine, keyring, "Ada", role="admin")
    dan = await enrol(emulator, engine, keyring, "Dan")
    admin.skip_pending()
    dan.skip_pending()
    rex = emulator.new_user(first_name="Rex", language_code="en")
    await file_report(rex)
    case_id = case_id_in((await dan.next_message(WAIT)).text)
    await admin.next_message(WAIT)  # the same alert
    return admin, dan, rex, case_id


async def test_reporters_and_revoked_responders_get_nothing(
    emulator: BotApiEmulator, bot: InProcessBot, engine: AsyncEngine, keyring: Keyring
) -> None:
    admin, dan, rex, case_id = await admin_responder_and_a_case(emulator, engine, keyring)

    plain = await say(dan, "/responders")  # admin only
    assert "don't know that command" in plain.text

    listing = await say(admin, "/responders")
    assert "Ada" in listing.text and "Dan" in listing.text
    revoked = await say(admin, "/revoke Dan")
    assert "Dan is no longer a responder" in revoked.text
    told = await dan.next_message(WAIT)
    assert "no longer a responder" in told.text
    await emulator.wait_until(
        lambda: any(
            c.get("scope", {}).get("chat_id") == dan.chat_id
            for c in emulator.calls_to("deleteMyCommands")
        ),
        timeout=WAIT,
    )

    for person in (rex, dan):
        for command in RESPONDER_COMMANDS:
            answer = await say(person, command.format(c=case_id))
            assert "don't know that command" in answer.text, (command, answer.text)
            assert "shouts" not in answer.text
        await say(person, "/start")
        for data in (f"R|open|{case_id}", f"R|claim|{case_id}", "R|queue|1"):
            await person.click_data(data, message=person.last_message)
            answer = await person.next_message(WAIT)
            assert "shouts" not in answer.text and case_id not in answer.text


async def test_a_forged_button_gives_a_responder_no_admin_power(
    emulator: BotApiEmulator, bot: InProcessBot, engine: AsyncEngine, keyring: Keyring
) -> None:
    """Commands and buttons are one dispatch: a button must not open what the command
    refuses. A plain responder forges admins' callback data."""
    admin, dan, _, case_id = await admin_responder_and_a_case(emulator, engine, keyring)
    await say(dan, "/queue")
    for data in ("R|revoke|Ada", "R|responders|", "R|overdue|", f"R|audit|{case_id}"):
        await dan.click_data(data, message=dan.last_message)
        answer = await dan.next_message(WAIT)
        assert "earlier message" in answer.text, (data, answer.text)
        assert "Ada" not in answer.text and "Audit" not in answer.text
    listing = await say(admin, "/responders")
    assert "Ada" in listing.text and "revoked" not in listing.text.lower()
    trail = await say(admin, f"/audit {case_id}")
    assert "Dan" not in trail.text  # his forged read of the trail never happened


async def test_enrolment_codes_are_one_time_and_checked(
    emulator: BotApiEmulator, bot: InProcessBot, engine: AsyncEngine, keyring: Keyring
) -> None:
    code = await invite(engine, keyring, "Fay")
    fay = emulator.new_user(first_name="Fay", language_code="en")
    assert "Welcome, Fay" in (await say(fay, f"/enroll {code}")).text
    await emulator.wait_until(
        lambda: any(
            m.get("scope", {}).get("chat_id") == fay.chat_id
            for m in emulator.calls_to("setMyCommands")
        ),
        timeout=WAIT,
    )
    gus = emulator.new_user(first_name="Gus", language_code="en")
    assert "already used" in (await say(gus, f"/enroll {code}")).text
    assert "not valid" in (await say(gus, "/enroll AAAA-BBBB-CCCC-DDDD")).text
    async with session_factory(engine).begin() as session:
        old = await create_invite(
            session,
            keyring,
            "responder",
            "Old",
            datetime.now(UTC) - timedelta(hours=30),
            timedelta(hours=24),
        )
    assert "expired" in (await say(gus, f"/enroll {old}")).text


async def test_raw_database_holds_no_message_or_note(
    emulator: BotApiEmulator,
    bot: InProcessBot,
    engine: AsyncEngine,
    keyring: Keyring,
    database_url: str,
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("reads the SQLite file directly")
    hal = await enrol(emulator, engine, keyring, "Hal")
    hal.skip_pending()
    ivy = emulator.new_user(first_name="Ivy", username="ivy_hidden", language_code="en")
    await file_report(ivy)
    case_id = CASE.search((await hal.next_message(WAIT)).text).group()  # type: ignore[union-attr]
    await say(hal, f"/reply {case_id} zebra-reply-text")
    await say(hal, f"/note {case_id} quokka-note-text")
    relayed = await ivy.next_message(WAIT)
    await press(ivy, "Reply", relayed)
    await say(ivy, "narwhal-reporter-text")
    await bot.stop()
    path = database_url.removeprefix("sqlite+aiosqlite:///")
    raw = b"".join(Path(p).read_bytes() for p in (path, path + "-wal") if Path(p).exists())
    for secret in (
        "zebra-reply-text",
        "quokka-note-text",
        "narwhal-reporter-text",
        "My team lead shouts",
        str(ivy.id),
        str(hal.id),
        "ivy_hidden",
    ):
        assert secret.encode() not in raw, secret
    await bot.start()
