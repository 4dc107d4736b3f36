"""`confide audit verify` checks the chain in stretches, in several processes: what it finds
must be what one walk over the whole log finds, wherever the damage is (at a stretch's
edge included), and the head it read first bounds it: entries appended meanwhile are no
break, entries past a head that was put back are."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from audit_log import lengthen
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncEngine
from world import cli_env

from bot.cli import audit as audit_command
from bot.crypto import Keyring
from bot.services import audit
from bot.store.database import session_factory
from bot.store.models import AuditEntry, AuditHead


async def damage(engine: AsyncEngine) -> tuple[bytes, bytes]:
    """Entries 20, 40 and 41 removed, 31 rewritten; returns the links of 10 and 45."""
    async with engine.begin() as connection:
        await connection.execute(delete(AuditEntry).where(AuditEntry.seq.in_([20, 40, 41])))
        await connection.execute(
            update(AuditEntry).where(AuditEntry.seq == 31).values(action="note")
        )
        links = dict((await connection.execute(select(AuditEntry.seq, AuditEntry.link))).all())
    return bytes(links[10]), bytes(links[45])


async def checked_apart(
    engine: AsyncEngine, keyring: Keyring, parts: int, anchors: tuple[audit.Anchor, ...]
) -> tuple[int, list[audit.Break]]:
    sessions = session_factory(engine)
    async with sessions() as session:
        head = await audit.head(session)
    found = []
    for after, upto in audit.stretches(head.seq, parts):
        async with sessions.begin() as session:  # each on its own, as another process would
            found.append(await audit.check_stretch(session, keyring, after, upto, anchors))
    async with sessions.begin() as session:
        return await audit.conclude(session, keyring, head, found, anchors)


@pytest.mark.usefixtures("migrated")
async def test_stretches_checked_apart_find_what_one_walk_finds(
    engine: AsyncEngine, keyring: Keyring
) -> None:
    await lengthen(engine, keyring, 60)
    ten, forty_five = await damage(engine)
    anchors = (audit.Anchor(10, ten), audit.Anchor(45, bytes(32)), audit.Anchor(70, bytes(32)))
    async with session_factory(engine).begin() as session:
        whole = await audit.verify(session, keyring, anchors)
    assert whole == (
        57,
        [
            audit.Break(20, "entries 20..20 are missing"),
            audit.Break(21, "changed, or not following the entry before"),
            audit.Break(31, "changed, or not following the entry before"),
            audit.Break(40, "entries 40..41 are missing"),
            audit.Break(42, "changed, or not following the entry before"),
            audit.Break(45, "differs from the anchor kept outside"),
            audit.Break(70, whole[1][-1].problem),
        ],
    )
    assert "an older copy of the database was restored" in whole[1][-1].problem
    assert forty_five != bytes(32)
    # Stretches that end just before, at, and just after each damaged entry.
    for parts in (2, 3, 4, 6, 7, 60):
        assert await checked_apart(engine, keyring, parts, anchors) == whole, parts


@pytest.mark.usefixtures("migrated")
async def test_entries_appended_during_a_check_pass_and_entries_past_a_put_back_head_fail(
    engine: AsyncEngine, keyring: Keyring
) -> None:
    await lengthen(engine, keyring, 30)
    sessions = session_factory(engine)
    async with sessions() as session:
        old = await audit.head(session)
        assert old.mac is not None
        old_head = (old.seq, bytes(old.link), bytes(old.mac))
        whole = await audit.check_stretch(session, keyring, 0, old.seq)
    await lengthen(engine, keyring, 5)  # the bot goes on writing while the check runs
    async with sessions.begin() as session:
        assert await audit.conclude(session, keyring, old, [whole]) == (30, [])

    # An attacker puts back the head of entry 30, with its genuine MAC (from a backup),
    # leaving entries 31..35 in place: they would never be checked.
    seq, link, mac = old_head
    async with engine.begin() as connection:
        await connection.execute(update(AuditHead).values(seq=seq, link=link, mac=mac))
    async with sessions.begin() as session:
        count, breaks = await audit.verify(session, keyring)
    assert count == 30
    assert breaks == [audit.Break(31, "entries after the head: the head was put back, or forged")]


async def test_the_command_checks_stretches_in_other_processes(
    migrated: AsyncEngine,
    keyring: Keyring,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await lengthen(migrated, keyring, 90)
    for name, value in cli_env(database_url, keyring, tmp_path).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(audit_command, "processes", lambda entries: 3)
    assert await audit_command.verify_audit() == 0
    assert capsys.readouterr().out == "audit log intact: 90 entries\n"

    # Entry 80 is in the last stretch (60..90): only another process reads it.
    async with migrated.begin() as connection:
        await connection.execute(
            update(AuditEntry).where(AuditEntry.seq == 80).values(actor="someone")
        )
    assert await audit_command.verify_audit() == 1
    said = capsys.readouterr().err
    assert said == "audit log broken at entry 80: changed, or not following the entry before\n"


def test_a_short_log_is_checked_in_one_process_and_a_long_one_on_each_core() -> None:
    assert audit_command.processes(audit_command.PARALLEL_FROM - 1) == 1
    cores = len(os.sched_getaffinity(0))
    assert audit_command.processes(1_000_000) == min(cores, audit_command.MAX_PROCESSES)
    assert audit.stretches(10, 3) == [(0, 3), (3, 6), (6, 10)]
    assert audit.stretches(2, 4) == [(0, 1), (1, 2)]  # never an empty stretch
    assert audit.stretches(0, 2) == [(0, 0)]  # an empty log is still checked (its head)
