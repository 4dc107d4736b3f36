"""Withdrawal shreds: nothing of a withdrawn case stays readable, in the database's rows,
its files, the outbox, or the responders' Telegram chats; on PostgreSQL, old copies die
with the KEK that wrapped them."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from harness import InProcessBot, bot_environment, enrol
from sealed import pending_outbox
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from talk import WAIT, case_id_in, file_report, press, say
from world import ANN, REPORTER, Clock, send
from world import file_report as file_report_to

from bot.crypto import DecryptionError, Keyring
from bot.devserver import BotApiEmulator
from bot.services import keys as key_service
from bot.services.conversation import ConversationService
from bot.services.outbox import Outbox
from bot.services.protocol import CaseButton, Command
from bot.store.database import session_factory
from bot.store.models import Case, Chat, ExpiringMessage, OutboxMessage


def sqlite_file(database_url: str) -> Path:
    if not database_url.startswith("sqlite"):
        pytest.skip("reads the SQLite files directly")
    return Path(database_url.removeprefix("sqlite+aiosqlite:///"))


class StoredValues:
    """Every value the database held at any snapshot: what an attacker who copies the files
    could look for."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.seen: set[bytes] = set()

    def now(self) -> set[bytes]:
        values: set[bytes] = set()
        connection = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
        try:
            tables = [
                r[0]
                for r in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            ]
            for table in tables:
                for row in connection.execute(f'SELECT * FROM "{table}"'):  # noqa: S608
                    for value in row:
                        if isinstance(value, bytes) and len(value) >= 16:
                            values.add(value)
                        elif isinstance(value, str) and len(value) >= 16:
                            values.add(value.encode())
        finally:
            connection.close()
        return values

    def take(self) -> None:
        self.seen |= self.now()

    def raw_files(self) -> bytes:
        parts = [self.path, *(Path(f"{self.path}{s}") for s in ("-wal", "-journal", "-shm"))]
        return b"".join(p.read_bytes() for p in parts if p.exists())


async def test_withdrawal_leaves_no_byte_of_the_case_in_the_sqlite_files(
    emulator: BotApiEmulator,
    bot: InProcessBot,
    engine: AsyncEngine,
    keyring: Keyring,
    database_url: str,
) -> None:
    stored = StoredValues(sqlite_file(database_url))
    ann = await enrol(emulator, engine, keyring, "Ann")
    ann.skip_pending()
    rea = emulator.new_user(first_name="Rea", username="rea_secret", language_code="en")
    await file_report(rea, account="pangolin-account-text")
    stored.take()
    case_id = case_id_in((await ann.next_message(WAIT)).text)
    await press(ann, "Claim", ann.last_message)
    await ann.next_message(WAIT)  # the case file
    stored.take()
    await say(ann, f"/reply {case_id} tapir-reply-text")
    relayed = await rea.next_message(WAIT)
    stored.take()
    await press(rea, "Reply", relayed)
    await say(rea, "okapi-reporter-text")
    await ann.next_message(WAIT)
    await say(ann, f"/note {case_id} wombat-note-text")
    stored.take()

    await say(rea, "/withdraw")
    await press(rea, "Yes, withdraw")
    await ann.next_message(WAIT)  # told of the withdrawal
    removed = stored.seen - stored.now()
    async with engine.connect() as connection:
        case = (await connection.execute(select(Case))).one()
    assert any(len(v) > 60 for v in removed), "the withdrawal removed the sealed content"

    def leftovers() -> list[bytes]:
        raw = stored.raw_files()
        return [value for value in removed if value in raw]

    assert leftovers() == [], "while the bot runs"

    async def outbox_empty() -> bool:
        async with engine.connect() as connection:
            count = select(func.count()).select_from(OutboxMessage)
            return (await connection.execute(count)).scalar() == 0

    # Delivered messages are deleted, not kept (the withdrawal notice goes once sent).
    await emulator.wait_until(outbox_empty, timeout=WAIT)
    assert case.wrapped_key is None
    await bot.stop()
    assert leftovers() == [], "after the bot stopped"
    await bot.start()


async def test_a_message_waiting_for_a_withdrawn_case_is_dropped_never_sent(
    world: tuple[ConversationService, Clock], engine: AsyncEngine, keyring: Keyring
) -> None:
    service, clock = world
    case_id = await file_report_to(service)
    await send(service, Command("claim", case_id), ANN)
    await send(service, Command("reply", f"{case_id} heron-reply-text"), ANN)
    # Telegram was down: the reply to the reporter still waits in the outbox.
    assert (REPORTER, "notify_reporter_message") in await pending_outbox(engine, keyring)

    await send(service, Command("withdraw"), REPORTER)
    await send(service, CaseButton("withdraw_yes", case_id), REPORTER)

    outbox = Outbox(session_factory(engine), keyring)
    deliveries = await outbox.lease_due(clock.now + timedelta(minutes=1))
    assert [d.notification.key for d in deliveries if d.chat_id == REPORTER] == []
    assert {(d.chat_id, d.notification.key) for d in deliveries} == {(ANN, "alert_withdrawn")}
    async with engine.connect() as connection:
        about_the_case = select(OutboxMessage).where(OutboxMessage.case_id.is_not(None))
        assert (await connection.execute(about_the_case)).all() == []


async def test_case_content_is_protected_and_deleted_from_the_responders_chat(
    emulator: BotApiEmulator,
    migrated: AsyncEngine,
    keyring: Keyring,
    tmp_path: Path,
    database_url: str,
) -> None:
    (tmp_path / "config.toml").write_text(
        "[telegram]\npoll_timeout = 1\n[service_levels]\nscan_seconds = 0.1\n"
        "[responders]\ncase_content_hours = 2\n",
        encoding="utf-8",
    )

    clock = Clock(datetime.now(UTC))
    bot = InProcessBot(
        bot_environment(tmp_path, database_url, emulator.base_url, keyring.dump()), clock
    )
    await bot.start()
    try:
        ann = await enrol(emulator, migrated, keyring, "Ann")
        ann.skip_pending()
        rea = emulator.new_user(first_name="Rea", language_code="en")
        await file_report(rea, account="marmot-account-text")
        case_id = case_id_in((await ann.next_message(WAIT)).text)
        shown = await say(ann, f"/open {case_id}")
        assert "marmot-account-text" in shown.text
        to_ann = [c for c in emulator.calls_to("sendMessage") if c.get("chat_id") == ann.chat_id]
        sends = [c for c in to_ann if "marmot" in str(c.get("text"))]
        assert sends and all(c.get("protect_content") in (True, "true") for c in sends)
        alert = [c for c in to_ann if "New case" in str(c.get("text"))]
        assert alert and not any(c.get("protect_content") for c in alert)

        async def recorded() -> bool:  # the bot notes the message once it is sent
            async with migrated.connect() as connection:
                count = select(func.count()).select_from(ExpiringMessage)
                return bool((await connection.execute(count)).scalar())

        await emulator.wait_until(recorded, timeout=WAIT)
        clock.now += timedelta(hours=1, minutes=59)
        await ann.assert_no_message(0.5)
        assert ann.message(shown.message_id).deleted is False
        clock.now += timedelta(minutes=2)
        await emulator.wait_until(lambda: ann.message(shown.message_id).deleted, timeout=WAIT)
        assert not any("marmot" in m.text for m in ann.messages)
    finally:
        await bot.stop()


async def test_old_copies_of_a_withdrawn_case_die_with_the_kek_that_wrapped_them(
    emulator: BotApiEmulator,
    migrated: AsyncEngine,
    keyring: Keyring,
    tmp_path: Path,
    database_url: str,
) -> None:
    """What PostgreSQL's dead rows, its WAL and every backup keep: the case's wrapped key and
    sealed answers as they were before the withdrawal, and old versions of the reporter's
    chat state. A rotation, then retiring the old KEK, makes all of them unreadable, while
    the running bot (which re-reads its key file) carries on."""
    engine = migrated
    key_file = tmp_path / "confide.keys"
    keyring.write_new_file(key_file)
    (tmp_path / "config.toml").write_text(
        "[telegram]\npoll_timeout = 1\n[service_levels]\nscan_seconds = 0.2\n", encoding="utf-8"
    )
    env = bot_environment(tmp_path, database_url, emulator.base_url, "")
    env.pop("CONFIDE_KEYS")
    env["CONFIDE_KEY_FILE"] = str(key_file)
    bot = InProcessBot(env)
    await bot.start()
    try:
        ann = await enrol(emulator, engine, keyring, "Ann")
        ann.skip_pending()
        rea = emulator.new_user(first_name="Rea", language_code="en")
        await file_report(rea, account="ibex-account-text")
        await ann.next_message(WAIT)
        async with engine.connect() as connection:
            old_case = (await connection.execute(select(Case))).one()
            old_chats = (await connection.execute(select(Chat))).all()
        old_key = keyring.case_key(old_case.id, old_case.wrapped_key)
        assert old_key.open_answers(old_case.answers)["answers"]["account"] == "ibex-account-text"
        await say(rea, "/withdraw")
        await press(rea, "Yes, withdraw")

        async def write_key_file(new: Keyring) -> bool:
            new.replace_file(key_file)
            return True

        sessions = session_factory(engine)
        target = await key_service.rotate(
            sessions,
            keyring,
            write_key_file,
            wait_seconds=30,
            say=lambda _: None,
            progress=lambda _done, _total: None,
            poll_seconds=0.1,
        )
        assert target == 2
        assert await key_service.retire(sessions, keyring, 1, write_key_file)
        after = Keyring.from_file(key_file)
        assert after.kek_ids == (2,)
        with pytest.raises(DecryptionError, match=r"kek\.1"):
            after.case_key(old_case.id, old_case.wrapped_key)
        for chat in old_chats:
            with pytest.raises(DecryptionError, match=r"kek\.1"):
                after.chat_key(chat.id, chat.wrapped_key)
        # The running bot carries on with the new key file; the reporter's chat was re-keyed.
        answer = await say(rea, "/start")
        assert "Make a report" in " ".join(answer.button_texts)
        await file_report(emulator.new_user(first_name="Sam"), account="second-report")
        live = select(Case).where(Case.wrapped_key.is_not(None))
        async with engine.connect() as connection:
            newest = (await connection.execute(live)).one()
        assert Keyring.wrapped_kek_id(newest.wrapped_key) == 2
    finally:
        await bot.stop()
