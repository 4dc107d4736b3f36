"""Retention on a really migrated database (SQLite, or PostgreSQL with
CONFIDE_TEST_DATABASE_URL), with a clock the test moves: done cases are warned a week ahead,
then shredded as a withdrawal shreds; what remains goes after metadata_days; statistics keep
coarse figures only; the audit chain holds throughout; two watches, in one process or two,
warn and shred each case once."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path

from sealed import pending_outbox
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from world import ADA, ANN, BEN, REPORTER, T0, Clock, cli_env, file_report, send

from bot.cases.retention import Figures, Retention
from bot.crypto import Keyring
from bot.services import audit
from bot.services.cases import CaseDestroyed, CaseVault
from bot.services.conversation import ConversationService
from bot.services.protocol import CaseButton, Command, Say, Text
from bot.services.retention import RetentionResult, RetentionWatch
from bot.services.statistics import Statistics
from bot.store.database import create_engine, session_factory
from bot.store.models import AuditEntry, Case, CaseMessage, CaseNote, CaseStatistics, OutboxMessage

DAY = timedelta(days=1)
WARN = 358 * DAY  # a week before the 365 days are up
UP = 365 * DAY


def watch_of(engine: AsyncEngine, keyring: Keyring, clock: Clock) -> RetentionWatch:
    return RetentionWatch(session_factory(engine), keyring, Retention(), clock)


async def settled_case(
    service: ConversationService, *, claim: int | None = ANN, state: str = "closed"
) -> str:
    """A report, claimed, with a reply, a note and the reporter's answer, then settled."""
    case = await file_report(service)
    if claim is not None:
        await send(service, Command("claim", case), claim)
    await send(service, Command("reply", f"{case} tapir-reply-text"), ANN)
    await send(service, CaseButton("reply", case), REPORTER)
    await send(service, Text("okapi-reporter-text"), REPORTER)
    await send(service, Command("note", f"{case} wombat-note-text"), ANN)
    await send(service, Command("state", f"{case} {state}"), ANN)
    return case


async def case_row(engine: AsyncEngine, short_id: str) -> Case | None:
    async with session_factory(engine)() as session:
        return (await session.scalars(select(Case).where(Case.short_id == short_id))).one_or_none()


async def warnings(engine: AsyncEngine, keyring: Keyring) -> list[int]:
    return sorted(
        chat for chat, key in await pending_outbox(engine, keyring) if key == "retention_warning"
    )


async def audit_actions(engine: AsyncEngine, action: str) -> Counter[object]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(AuditEntry.case_id).where(AuditEntry.action == action)
        )
        return Counter(r.case_id for r in rows)


async def figures(engine: AsyncEngine, keyring: Keyring) -> list[Figures]:
    async with session_factory(engine).begin() as session:
        return await Statistics(keyring).read(session)


async def chain_holds(engine: AsyncEngine, keyring: Keyring) -> int:
    async with session_factory(engine)() as session:
        count, problems = await audit.verify(session, keyring)
    assert problems == []
    return count


async def count(engine: AsyncEngine, model: type[object], case: Case) -> int:
    column = model.case_id  # type: ignore[attr-defined]
    async with engine.connect() as connection:
        query = select(func.count()).select_from(model).where(column == case.id)
        return int((await connection.execute(query)).scalar() or 0)


async def test_a_closed_case_is_warned_a_week_ahead_then_shredded_and_its_figures_kept(
    world: tuple[ConversationService, Clock], engine: AsyncEngine, keyring: Keyring
) -> None:
    service, clock = world
    case = await settled_case(service)
    before = await case_row(engine, case)
    assert before is not None and before.wrapped_key is not None
    assert (
        await count(engine, CaseMessage, before) == 2 and await count(engine, CaseNote, before) == 1
    )
    watch = watch_of(engine, keyring, clock)

    clock.now = T0 + WARN - timedelta(minutes=1)
    assert await watch.run() == RetentionResult()
    clock.now = T0 + WARN
    assert await watch.run() == RetentionResult(warned=1)
    assert await warnings(engine, keyring) == [ANN]  # the one who holds it, only
    assert await watch.run() == RetentionResult()
    clock.now = T0 + UP - timedelta(minutes=1)
    assert await watch.run() == RetentionResult()
    assert (await case_row(engine, case)).wrapped_key is not None  # type: ignore[union-attr]

    clock.now = T0 + UP
    assert await watch.run() == RetentionResult(shredded=1, recorded=1)
    assert await watch.run() == RetentionResult()
    after = await case_row(engine, case)
    assert after is not None and after.status == "closed"
    assert (after.wrapped_key, after.answers, after.reporter, after.excluded) == (None,) * 4
    assert after.reporter_lookup is None and after.shredded_at == clock.now
    for model in (CaseMessage, CaseNote, OutboxMessage):
        assert await count(engine, model, after) == 0  # the warning waiting about it too
    try:
        CaseVault(keyring).answers(after)
        raise AssertionError("a shredded case's answers opened")
    except CaseDestroyed:
        pass
    views = await send(service, Command("open", case), ANN)
    assert Say("case_expired_gone", {"case": case}) in views
    assert await figures(engine, keyring) == [Figures("closed", "2026-11", "verbal", 1, 1)]
    assert (await audit_actions(engine, "retention_shred")) == Counter({after.id: 1})
    assert (await audit_actions(engine, "retention_warning")) == Counter({after.id: 1})
    assert (await audit_actions(engine, "retention_run"))[None] == 2  # the runs that did something
    await chain_holds(engine, keyring)


async def test_cases_not_yet_due_are_untouched(
    world: tuple[ConversationService, Clock], engine: AsyncEngine, keyring: Keyring
) -> None:
    service, clock = world
    still_open = await file_report(service)
    resolved = await settled_case(service, state="resolved")
    clock.now = T0 + 300 * DAY
    late = await settled_case(service)
    await send(service, Command("state", f"{resolved} investigating"), ANN)  # a change
    await send(service, Command("state", f"{resolved} resolved"), ANN)
    seen = await pending_outbox(engine, keyring)

    clock.now = T0 + 300 * DAY + WARN - timedelta(minutes=1)
    assert await watch_of(engine, keyring, clock).run() == RetentionResult()
    assert await pending_outbox(engine, keyring) == seen
    clock.now = T0 + 3650 * DAY  # ten years on: an open case is never shredded
    result = await watch_of(engine, keyring, clock).run()
    assert result == RetentionResult(warned=2)
    vault = CaseVault(keyring)
    for case in (still_open, resolved, late):
        row = await case_row(engine, case)
        assert row is not None and vault.answers(row)["answers"]["category"] == "verbal"
    assert (await case_row(engine, still_open)).retention_warned_at is None  # type: ignore[union-attr]


async def test_an_unclaimed_case_warns_its_readers_never_someone_excluded(
    world: tuple[ConversationService, Clock], engine: AsyncEngine, keyring: Keyring
) -> None:
    service, clock = world
    case = await file_report(service, exclude=("Ben",))
    await send(service, Command("state", f"{case} closed"), ADA)
    clock.now = T0 + WARN
    assert await watch_of(engine, keyring, clock).run() == RetentionResult(warned=1)
    assert await warnings(engine, keyring) == [ANN, ADA]
    assert BEN not in await warnings(engine, keyring)


async def test_a_case_reopened_after_its_warning_is_kept_and_warned_again(
    world: tuple[ConversationService, Clock], engine: AsyncEngine, keyring: Keyring
) -> None:
    service, clock = world
    case = await settled_case(service, state="resolved")
    watch = watch_of(engine, keyring, clock)
    clock.now = T0 + WARN
    assert (await watch.run()).warned == 1
    clock.now = T0 + WARN + 2 * DAY
    await send(service, Command("state", f"{case} investigating"), ANN)
    await send(service, Command("state", f"{case} resolved"), ANN)
    clock.now = T0 + UP + DAY
    assert await watch.run() == RetentionResult()  # its clock started over
    clock.now = T0 + WARN + 2 * DAY + WARN
    assert (await watch.run()).warned == 1
    clock.now += 7 * DAY
    assert (await watch.run()).shredded == 1
    assert await warnings(engine, keyring) == []  # shredded: the waiting warning went too
    assert sum((await audit_actions(engine, "retention_warning")).values()) == 2


async def test_the_claimer_is_warned_once_by_two_watches_at_once(
    world: tuple[ConversationService, Clock],
    engine: AsyncEngine,
    keyring: Keyring,
    database_url: str,
) -> None:
    service, clock = world
    cases = [await settled_case(service) for _ in range(3)]
    clock.now = T0 + WARN
    other = create_engine(database_url)
    try:
        results = await asyncio.gather(
            watch_of(engine, keyring, clock).run(), watch_of(other, keyring, clock).run()
        )
        again = await watch_of(other, keyring, clock).run()
    finally:
        await other.dispose()
    assert sum(r.warned for r in results) == 3 and again == RetentionResult()
    assert await warnings(engine, keyring) == [ANN, ANN, ANN]  # one per case
    warned = await audit_actions(engine, "retention_warning")
    assert sorted(warned.values()) == [1, 1, 1] and len(cases) == 3
    await chain_holds(engine, keyring)


RUN_ELSEWHERE = """
import asyncio, dataclasses, json, os, sys
from datetime import datetime
from bot.cases.retention import Retention
from bot.crypto import Keyring
from bot.services.retention import RetentionWatch
from bot.store.database import create_engine, session_factory

async def main() -> None:
    engine = create_engine(os.environ["CONFIDE_DATABASE_URL"])
    keyring = Keyring.parse(os.environ["CONFIDE_KEYS"])
    now = datetime.fromisoformat(sys.argv[1])
    watch = RetentionWatch(session_factory(engine), keyring, Retention(), lambda: now)
    try:
        print(json.dumps(dataclasses.asdict(await watch.run())))
    finally:
        await engine.dispose()

asyncio.run(main())
"""


async def test_two_processes_racing_shred_each_case_once(
    world: tuple[ConversationService, Clock],
    engine: AsyncEngine,
    keyring: Keyring,
    database_url: str,
    tmp_path: Path,
) -> None:
    service, clock = world
    cases = [await settled_case(service) for _ in range(4)]
    clock.now = T0 + WARN
    assert (await watch_of(engine, keyring, clock).run()).warned == 4
    env = cli_env(database_url, keyring, tmp_path)
    now = (T0 + UP).isoformat()
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            RUN_ELSEWHERE,
            now,
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    outputs = [await p.communicate() for p in processes]
    assert all(p.returncode == 0 for p in processes), outputs
    results = [json.loads(out) for out, _ in outputs]
    assert sum(r["shredded"] for r in results) == 4
    assert sum(r["recorded"] for r in results) == 4
    shreds = await audit_actions(engine, "retention_shred")
    assert sorted(shreds.values()) == [1, 1, 1, 1]
    assert len(await figures(engine, keyring)) == len(cases)
    for case in cases:
        assert (await case_row(engine, case)).wrapped_key is None  # type: ignore[union-attr]
    await chain_holds(engine, keyring)


async def test_what_remains_of_withdrawn_and_shredded_cases_goes_after_metadata_days(
    world: tuple[ConversationService, Clock], engine: AsyncEngine, keyring: Keyring
) -> None:
    service, clock = world
    withdrawn = await file_report(service)
    await send(service, Command("claim", withdrawn), BEN)
    clock.now = T0 + timedelta(hours=2)
    await send(service, Command("withdraw"), REPORTER)
    await send(service, CaseButton("withdraw_yes", withdrawn), REPORTER)
    expired = await settled_case(service)
    watch = watch_of(engine, keyring, clock)

    # The withdrawal's figures are kept at the next run; without the category.
    assert await watch.run() == RetentionResult(recorded=1)
    assert await figures(engine, keyring) == [Figures("withdrawn", "2026-11", None, 1, None)]
    gone = await case_row(engine, withdrawn)
    assert gone is not None and gone.shredded_at == clock.now
    clock.now = T0 + WARN + timedelta(hours=2)
    assert (await watch.run()).warned == 1
    clock.now = T0 + UP + timedelta(hours=2)
    assert (await watch.run()).shredded == 1
    ids = {case: (await case_row(engine, case)).id for case in (withdrawn, expired)}  # type: ignore[union-attr]
    entries = await chain_holds(engine, keyring)

    clock.now = T0 + timedelta(hours=2) + 730 * DAY - timedelta(minutes=1)
    assert await watch.run() == RetentionResult()
    clock.now = T0 + timedelta(hours=2) + 730 * DAY
    assert await watch.run() == RetentionResult(deleted=1)  # the withdrawn case's row
    assert await case_row(engine, withdrawn) is None
    assert await case_row(engine, expired) is not None
    clock.now = T0 + UP + timedelta(hours=2) + 730 * DAY
    assert await watch.run() == RetentionResult(deleted=1)
    assert await case_row(engine, expired) is None
    assert await watch.run() == RetentionResult()

    # The audit trail outlives the cases, and still verifies; the figures stay.
    assert await chain_holds(engine, keyring) == entries + 4  # two deletions, two runs
    deleted = await audit_actions(engine, "retention_delete")
    assert deleted == Counter({ids[withdrawn]: 1, ids[expired]: 1})
    async with engine.connect() as connection:
        trail = await connection.execute(
            select(AuditEntry.action).where(AuditEntry.case_id == ids[withdrawn])
        )
        assert {"submit", "claim", "withdraw"} <= {r.action for r in trail}
        assert (
            await connection.execute(select(func.count()).select_from(CaseStatistics))
        ).scalar() == 2
    assert sorted(f.outcome for f in await figures(engine, keyring)) == ["closed", "withdrawn"]
