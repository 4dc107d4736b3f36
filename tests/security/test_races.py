"""No race is won twice: two processes act on one case at the same moment — two claims, a
withdrawal and a state change, a reply and a withdrawal, two state changes — and exactly one
wins each time; the other is told what happened, and nothing is overwritten."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from harness import REPO
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from world import ADA, ANN, BEN, REPORTER, Clock, file_report

from bot.cases.limits import Limits
from bot.crypto import Keyring
from bot.services.conversation import ConversationService
from bot.store.models import AuditEntry, Case, CaseMessage, OutboxMessage

ROUNDS = 6
START_IN = 0.3  # seconds after both processes said they are up: both are waiting by then
APART = 0.6  # seconds between rounds


async def race(
    database_url: str,
    keyring: Keyring,
    tmp_path: Path,
    first: list[dict[str, Any]],
    second: list[dict[str, Any]],
) -> tuple[list[list[str]], list[list[str]]]:
    """Play two lists of events in two OS processes, event i of each at the same moment."""
    processes = []
    for name, events in (("first", first), ("second", second)):
        timed = [{**e, "after": i * APART} for i, e in enumerate(events)]
        plan = tmp_path / f"{name}.json"
        plan.write_text(
            json.dumps({"database": database_url, "keys": keyring.dump(), "events": timed}),
            encoding="utf-8",
        )
        processes.append(
            await asyncio.create_subprocess_exec(
                sys.executable,
                str(REPO / "tests" / "actor.py"),
                str(plan),
                env={**os.environ, "PYTHONPATH": f"{REPO}:{REPO / 'tests'}"},
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        )
    for process in processes:
        assert process.stdout is not None
        up = await asyncio.wait_for(process.stdout.readline(), 120)
        assert json.loads(up or b"{}").get("ready"), (await process.communicate())[1].decode()
    start = f"{time.time() + START_IN}\n".encode()
    for process in processes:
        assert process.stdin is not None
        process.stdin.write(start)
        process.stdin.close()
    results = []
    for process in processes:
        out, err = await asyncio.wait_for(process.communicate(), 120)
        assert process.returncode == 0, err.decode()
        results.append([json.loads(line)["said"] for line in out.decode().splitlines()])
    return results[0], results[1]


async def cases_filed(service: ConversationService, count: int) -> list[str]:
    service.limits = Limits(reports_per_day=count)  # one reporter files them all
    return [await file_report(service) for _ in range(count)]


async def rows(engine: AsyncEngine, model: Any) -> list[Any]:
    async with engine.connect() as connection:
        return list((await connection.execute(select(model))).all())


async def test_two_claims_at_once_one_wins_the_other_is_told(
    world: tuple[ConversationService, Clock],
    engine: AsyncEngine,
    keyring: Keyring,
    tmp_path: Path,
    database_url: str,
) -> None:
    service, _ = world
    ids = await cases_filed(service, ROUNDS)
    ann, ben = await race(
        database_url,
        keyring,
        tmp_path,
        [{"chat": ANN, "command": ["claim", c]} for c in ids],
        [{"chat": BEN, "command": ["claim", c]} for c in ids],
    )
    claimers = {c.short_id: c.claimed_by for c in await rows(engine, Case)}
    for n, case_id in enumerate(ids):
        outcomes = sorted([ann[n][0], ben[n][0]])
        assert outcomes == ["claimed", "claimed_by_other"], (case_id, ann[n], ben[n])
        assert claimers[case_id] is not None
    # Each case has exactly one claim in its audit trail.
    claims = [e for e in await rows(engine, AuditEntry) if e.action == "claim"]
    assert len(claims) == ROUNDS


async def test_a_withdrawal_racing_a_state_change_is_never_overwritten(
    world: tuple[ConversationService, Clock],
    engine: AsyncEngine,
    keyring: Keyring,
    tmp_path: Path,
    database_url: str,
) -> None:
    service, _ = world
    ids = await cases_filed(service, ROUNDS)
    reporter, ann = await race(
        database_url,
        keyring,
        tmp_path,
        [{"chat": REPORTER, "button": ["withdraw_yes", c]} for c in ids],
        [{"chat": ANN, "command": ["state", f"{c} investigating"]} for c in ids],
    )
    for case in await rows(engine, Case):
        n = ids.index(case.short_id)
        assert reporter[n] == ["withdrawn"], reporter[n]  # withdrawing is always allowed
        assert case.status == "withdrawn" and case.wrapped_key is None
        assert ann[n] in (["state_set"], ["bad_transition"]), ann[n]  # "withdrawn: no change"


async def test_a_reply_racing_a_withdrawal_is_never_delivered_after_it(
    world: tuple[ConversationService, Clock],
    engine: AsyncEngine,
    keyring: Keyring,
    tmp_path: Path,
    database_url: str,
) -> None:
    service, _ = world
    ids = await cases_filed(service, ROUNDS)
    reporter, ann = await race(
        database_url,
        keyring,
        tmp_path,
        [{"chat": REPORTER, "button": ["withdraw_yes", c]} for c in ids],
        [{"chat": ANN, "command": ["reply", f"{c} Please call us."]} for c in ids],
    )
    assert all(r == ["withdrawn"] for r in reporter), reporter
    # Whoever won, nothing of a reply survives the withdrawal: no message, nothing to send.
    assert await rows(engine, CaseMessage) == []
    assert [o for o in await rows(engine, OutboxMessage) if o.audience == "reporter"] == []
    assert all(a in (["reply_relayed"], ["case_not_open"]) for a in ann), ann


async def test_two_state_changes_at_once_are_both_recorded_in_order(
    world: tuple[ConversationService, Clock],
    engine: AsyncEngine,
    keyring: Keyring,
    tmp_path: Path,
    database_url: str,
) -> None:
    service, _ = world
    ids = await cases_filed(service, ROUNDS)
    ann, ada = await race(
        database_url,
        keyring,
        tmp_path,
        [{"chat": ANN, "command": ["state", f"{c} waiting"]} for c in ids],
        [{"chat": ADA, "command": ["state", f"{c} resolved"]} for c in ids],
    )
    trail = await rows(engine, AuditEntry)
    for case in await rows(engine, Case):
        n = ids.index(case.short_id)
        applied = [e.action for e in sorted(trail, key=lambda e: e.seq) if e.case_id == case.id]
        changes = [a.removeprefix("state:") for a in applied if a.startswith("state:")]
        # What each was told matches what happened, and the last change is what stands.
        assert len(changes) == [ann[n], ada[n]].count(["state_set"]), (changes, ann[n], ada[n])
        assert changes[-1] == case.status
