"""Retention shreds as a withdrawal does: nothing of an expired case stays readable, in the
database's rows or (SQLite) its files; on PostgreSQL, old copies die with the KEK that
wrapped them. What remains for statistics is coarse, sealed under a key of its own that KEK
rotation re-wraps, and cannot be joined back to its case."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.ext.asyncio import AsyncEngine
from test_shredding import StoredValues, sqlite_file
from world import ANN, REPORTER, T0, Clock, file_report, send

from bot.cases.retention import Retention
from bot.crypto import DecryptionError, KeyOwner, Keyring
from bot.services import keys as key_service
from bot.services.conversation import ConversationService
from bot.services.protocol import CaseButton, Command, Text
from bot.services.retention import RetentionWatch
from bot.services.statistics import Statistics
from bot.store import keys as stored_keys
from bot.store.database import session_factory
from bot.store.models import Case, CaseStatistics, StatisticsKeyRecord

DAY = timedelta(days=1)
FIGURES = {"outcome", "month", "category", "hours_to_acknowledge", "days_to_resolve"}


async def expire(
    service: ConversationService, clock: Clock, engine: AsyncEngine, keyring: Keyring
) -> tuple[str, RetentionWatch]:
    """A case with a thread and a note, closed, then a year on: warned, then shredded."""
    case = await file_report(service)
    await send(service, Command("claim", case), ANN)
    await send(service, Command("reply", f"{case} tapir-reply-text"), ANN)
    await send(service, CaseButton("reply", case), REPORTER)
    await send(service, Text("okapi-reporter-text"), REPORTER)
    await send(service, Command("note", f"{case} wombat-note-text"), ANN)
    await send(service, Command("state", f"{case} closed"), ANN)
    watch = RetentionWatch(session_factory(engine), keyring, Retention(), clock)
    clock.now = T0 + 358 * DAY
    assert (await watch.run()).warned == 1
    return case, watch


async def test_retention_leaves_no_byte_of_the_case_in_the_sqlite_files(
    world: tuple[ConversationService, Clock],
    engine: AsyncEngine,
    keyring: Keyring,
    database_url: str,
) -> None:
    stored = StoredValues(sqlite_file(database_url))
    service, clock = world
    stored.take()
    _case, watch = await expire(service, clock, engine, keyring)
    stored.take()  # the warning waits in the outbox, sealed: it must go too

    clock.now = T0 + 365 * DAY
    assert (await watch.run()).shredded == 1
    # Zeros (the audit head's link before its first entry) are no one's secret.
    removed = {v for v in stored.seen - stored.now() if v.strip(b"\x00")}
    assert any(len(v) > 1000 for v in removed), "the shred removed the sealed answers"

    def leftovers() -> list[bytes]:
        raw = stored.raw_files()
        return [value for value in removed if value in raw]

    assert leftovers() == [], "while the database is open"
    await engine.dispose()
    assert leftovers() == [], "after it was closed"
    raw = stored.raw_files()
    for text in (b"tapir-reply-text", b"okapi-reporter-text", b"wombat-note-text"):
        assert text not in raw


async def test_the_statistics_are_coarse_sealed_and_not_linked_to_their_case(
    world: tuple[ConversationService, Clock], engine: AsyncEngine, keyring: Keyring
) -> None:
    service, clock = world
    withdrawn = await file_report(service)
    await send(service, Command("withdraw"), REPORTER)
    await send(service, CaseButton("withdraw_yes", withdrawn), REPORTER)
    _case, watch = await expire(service, clock, engine, keyring)
    clock.now = T0 + 365 * DAY
    assert (await watch.run()).shredded == 1
    async with engine.connect() as connection:
        columns = await connection.run_sync(
            lambda sync: {c["name"] for c in inspect(sync).get_columns("case_statistics")}
        )
        rows = (await connection.execute(select(CaseStatistics))).all()
        key = (await connection.execute(select(StatisticsKeyRecord))).one()
        cases = (await connection.execute(select(Case))).all()
    # No case id, no time: nothing to join the row back to the case, its trail or its chat.
    assert columns == {"id", "key_id", "figures"}
    assert len(rows) == 2
    assert len({len(r.figures) for r in rows}) == 1, "with or without a category, one size"
    for row in rows:
        for c in cases:
            assert c.id.bytes not in row.figures and c.short_id.encode() not in row.figures
        opened = keyring.statistics_key(key.id, key.wrapped_key).open_figures(row.id, row.figures)
        assert set(opened) == FIGURES
    # A row moved under another id refuses to open.
    with pytest.raises(DecryptionError):
        keyring.statistics_key(key.id, key.wrapped_key).open_figures(rows[1].id, rows[0].figures)
    # Without the key file: a database copy holds only ciphertext.
    with pytest.raises(DecryptionError):
        Keyring.generate().statistics_key(key.id, key.wrapped_key)


async def test_the_statistics_key_is_rotated_and_an_expired_cases_old_copies_die_with_its_kek(
    world: tuple[ConversationService, Clock], engine: AsyncEngine, keyring: Keyring
) -> None:
    """What PostgreSQL's dead rows, its WAL and backups keep of a shredded case (its wrapped
    key and sealed answers as they were) is unreadable once the KEK that wrapped the key is
    retired; the statistics key is re-wrapped by the rotation, so the figures stay."""
    service, clock = world
    case, watch = await expire(service, clock, engine, keyring)
    async with engine.connect() as connection:
        old = (await connection.execute(select(Case).where(Case.short_id == case))).one()
    assert keyring.case_key(old.id, old.wrapped_key).open_answers(old.answers)
    clock.now = T0 + 365 * DAY
    assert (await watch.run()).shredded == 1

    sessions = session_factory(engine)
    async with sessions() as session:
        counted = await stored_keys.count_wrapped(session, 1)
    assert set(counted) == set(KeyOwner), "rotation knows where every kind of key is kept"
    assert counted[KeyOwner.STATISTICS] == 1 and counted[KeyOwner.CASE] == 0

    async def installed(_: Keyring) -> bool:
        return True

    target = await key_service.rotate(
        sessions,
        keyring,
        installed,
        wait_seconds=5,
        say=lambda _: None,
        progress=lambda _done, _total: None,
        poll_seconds=0.1,
    )
    assert target == 2
    async with sessions() as session:
        assert sum((await stored_keys.count_wrapped(session, 1)).values()) == 0
    assert await key_service.retire(sessions, keyring, 1, installed)
    assert keyring.kek_ids == (2,)
    async with sessions() as session:
        kept = await Statistics(keyring).read(session)
    assert [f.category for f in kept] == ["verbal"]
    with pytest.raises(DecryptionError, match=r"kek\.1"):
        keyring.case_key(old.id, old.wrapped_key)
