"""Benchmark at scale: 100,000 cases (10,000 open), 50 responders and 1,000,000 audit
entries, as real sealed rows, on SQLite and on PostgreSQL.

    python bench/scale.py --db sqlite|postgres|both      # by hand, not in CI

Seeding uses the bot's own verbs: every case is sealed as submission seals it (a draft key
that becomes the case key; answers, reporter link and exclusions sealed under it; timers
set by the service-level rules and fired up to now), and written in bulk through
bot.store; the audit log is a real keyed hash chain with its head MAC. Then it measures,
as a responder sees it through the service layer (the call the Telegram handler makes):
/queue and /overdue (first page, Next, Previous, and pages deep in the list), opening a
case; then `confide audit verify` and `confide keys rotate` as the operator runs them
(time and peak memory of the process), and the peak memory of `confide run` with 10,000
open cases while a responder lists and opens cases through the Bot API emulator.

PostgreSQL: CONFIDE_BENCH_POSTGRES (default postgresql+asyncpg://postgres@127.0.0.1:5432/
postgres) names a server where a database of its own is created and dropped after.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import pickle
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO)]

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.cases.ids import new_receipt_code, new_short_id
from bot.cases.lifecycle import State
from bot.cases.sla import Due, ServiceLevels, Timers, after_claim, after_first_reply, due
from bot.cases.sla import timers_at_submission as timers_at
from bot.crypto import Keyring, ReporterLink
from bot.devserver import BotApiEmulator
from bot.intake.flow import Intake
from bot.intake.questionnaire import load_questionnaire
from bot.services import people
from bot.services.audit import entry_text
from bot.services.cases import CaseVault
from bot.services.conversation import ConversationService
from bot.services.deadlines import set_timers
from bot.services.inbox import Inbox
from bot.services.listing import Position
from bot.services.protocol import Command, Incoming, ResponderButton, ShowCaseFile, ShowQueue
from bot.store import audit as audit_table
from bot.store import queries
from bot.store.checkpoints import EVERY_SECONDS as CHECKPOINT_SECONDS
from bot.store.checkpoints import WalCheckpoints
from bot.store.database import create_engine, migrate, session_factory
from bot.store.models import Case, Responder

CASES, OPEN, RESPONDERS, AUDIT = 100_000, 10_000, 50, 1_000_000
BATCH = 2_000  # cases per transaction while seeding
AUDIT_BATCH = 20_000
ADMIN_CHAT, FIRST_CHAT = 900_000, 900_001  # the admin (/overdue) and the measured responder
TOKEN = "123456:SCALE-TOKEN"
POSTGRES = os.environ.get(
    "CONFIDE_BENCH_POSTGRES", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
GOALS = {"list p99": 50.0, "open p99": 20.0, "verify s": 30.0, "rotate s": 120.0, "rss": 150.0}
ACCOUNT = (
    "He cornered me after the quarterly meeting and would not let me leave the room until I "
    "agreed to go to dinner with him. It has happened three times since, always when the "
    "floor is empty. A colleague from accounting saw the last time."
)


def document(i: int) -> dict[str, object]:
    """A report as the default questionnaire's answers hold it."""
    return {
        "language": "en",
        "answers": {
            "category": ["sexual_harassment", "verbal", "discrimination"][i % 3],
            "when": f"2026-0{1 + i % 9}-1{i % 10}",
            "how_often": "several",
            "where": "office",
            "account": ACCOUNT,
            "who": ["manager"],
            "who_detail": "A. Manager, regional sales",
            "witnesses": "yes",
            "witness_detail": "B. Witness from accounting",
            "safe_now": "safe",
            "wanted": ["investigation"],
            "contact": "bot",
        },
    }


@dataclass
class Seeded:
    """What the measurements need to know of the seeded data (no content)."""

    responders: list[Responder] = field(default_factory=list)
    visible_open: list[tuple[datetime, str]] = field(default_factory=list)  # to R1, in order
    late: list[tuple[datetime, str]] = field(default_factory=list)  # late, seen by the admin
    case_batches: list[Path] = field(default_factory=list)  # sealed rows, kept aside
    audit_batches: list[Path] = field(default_factory=list)


def case_row(
    i: int,
    case_id: uuid.UUID,
    short_id: str,
    keyring: Keyring,
    staff: list[uuid.UUID],
    now: datetime,
    rng: random.Random,
    seen: tuple[list[tuple[datetime, str]], list[tuple[datetime, str]]],
) -> Case:
    """Case number i, sealed as submission seals it. The last OPEN are open."""
    levels = ServiceLevels()
    is_open = i >= CASES - OPEN
    if is_open:  # the open ones over the last 120 days, oldest first
        at = now - timedelta(days=120) * (CASES - i) / OPEN
    else:  # the settled ones over the year before retention would shred them
        at = now - timedelta(days=350) + timedelta(days=320) * i / (CASES - OPEN)
    at = at.replace(second=0, microsecond=0)
    case = Case(
        id=case_id,
        short_id=short_id,
        receipt_lookup=keyring.receipt_lookup(new_receipt_code()),
        urgent=rng.random() < 0.03,
        submitted_at=at,
        updated_at=at,
    )
    # The measured responder is excluded from one open case in ten; anyone from one in 20.
    excluded = [rng.choice(staff)] if rng.random() < 0.05 else []
    if is_open and rng.random() < 0.1:
        excluded.append(staff[1])
    draft_key, _ = keyring.new_draft_key(case.id)
    link = ReporterLink(1_000_000 + i, "en") if i % 2 else None
    CaseVault(keyring).seal_new(case, draft_key, document(i), link, excluded)
    timers = timers_at(at, case.urgent, levels)
    if not is_open:
        case.status = State.WITHDRAWN.value if i % 18 == 0 else State.CLOSED.value
        case.claimed_by, case.claimed_at = rng.choice(staff), at + timedelta(hours=3)
        case.first_reply_at = at + timedelta(hours=20)
        case.updated_at = at + timedelta(days=10)
        if case.status == State.WITHDRAWN.value:  # shredded: only the clear metadata stays
            case.wrapped_key = case.answers = case.reporter = case.excluded = None
            case.reporter_lookup, case.shredded_at = None, case.updated_at
        set_timers(case, Timers())
        return case
    roll = rng.random()
    status = State.NEW if roll < 0.15 else State.INVESTIGATING if roll < 0.7 else State.WAITING
    status = State.RESOLVED if roll > 0.9 else status
    case.status = status.value
    case.urgent = case.urgent and status is not State.NEW  # urgent ones were claimed at once
    if status is not State.NEW:
        case.claimed_by, case.claimed_at = rng.choice(staff[1:]), at + timedelta(hours=2)
        timers = after_claim(timers)
        if rng.random() < 0.7:
            case.first_reply_at = at + timedelta(hours=30)
            timers = after_first_reply(timers)
    if status is State.RESOLVED:
        timers = Timers()
    fired, timers = due(timers, now, levels)  # what the deadline watch has done by now
    if any(d in (Due.ESCALATE_CLAIM, Due.ESCALATE_REPLY) for d in fired):
        case.escalated_at = min(now, at + levels.first_reply)
    if status is State.WAITING:
        case.paused_at = min(now, at + timedelta(days=3))
    set_timers(case, timers)
    position = (case.submitted_at, case.short_id)
    if staff[1] not in excluded:
        seen[0].append(position)
    late = case.escalated_at is not None or any(
        t is not None and t <= now for t in (case.claim_due_at, case.reply_due_at)
    )
    if late and staff[0] not in excluded:
        seen[1].append(position)
    return case


def build_cases(
    first: int,
    ids: list[tuple[uuid.UUID, str]],
    keys: str,
    staff: list[uuid.UUID],
    now: datetime,
    out: Path,
) -> tuple[list[tuple[datetime, str]], list[tuple[datetime, str]]]:
    """A batch of sealed case rows, written to `out` (run in a worker process)."""
    keyring, rng = Keyring.parse(keys), random.Random(first)
    seen: tuple[list[tuple[datetime, str]], list[tuple[datetime, str]]] = ([], [])
    rows = [
        queries.case_values(case_row(first + n, *ident, keyring, staff, now, rng, seen))
        for n, ident in enumerate(ids)
    ]
    out.write_bytes(pickle.dumps(rows, protocol=pickle.HIGHEST_PROTOCOL))
    return seen


def build_audit(
    keyring: Keyring, case_ids: list[uuid.UUID], staff: list[uuid.UUID], now: datetime, folder: Path
) -> list[Path]:
    """A million entries chained as bot.services.audit chains them, over the last year, from
    an empty log (a migrated database's head), in files of a batch each."""
    rng, seq, previous, batches = random.Random(9), 0, bytes(32), []
    chain = keyring.chain_hasher()  # link_of's hash, prepared once
    actors = [str(p) for p in staff]
    actions = ("open", "open", "open", "claim", "first_reply", "state:investigating", "note")
    start = now - timedelta(days=365)
    while seq < AUDIT:
        entries = []
        for _ in range(min(AUDIT_BATCH, AUDIT - seq)):
            seq += 1
            at = audit_table.entry_time(start + timedelta(days=365) * seq / AUDIT)
            case_id, actor, action = rng.choice(case_ids), rng.choice(actors), rng.choice(actions)
            link = chain(previous, entry_text(seq, at, case_id, actor, "responder", action))
            entries.append(audit_table.Entry(seq, at, case_id, actor, "responder", action, link))
            previous = link
        batches.append(folder / f"audit-{seq}.pickle")
        batches[-1].write_bytes(
            pickle.dumps((entries, keyring.audit_head_mac(seq, previous)), pickle.HIGHEST_PROTOCOL)
        )
    return batches


def build(keyring: Keyring, now: datetime, folder: Path) -> Seeded:
    """Every row, sealed once, kept in files: each database is seeded from the same rows."""
    started = time.perf_counter()
    seeded = Seeded()
    for n in range(RESPONDERS):
        role, name = ("admin", "Admin") if n == 0 else ("responder", f"Responder {n}")
        seeded.responders.append(
            people.new_responder(keyring, ADMIN_CHAT + n, name, role, "en", now)
        )
    staff = [p.id for p in seeded.responders]
    case_ids = [uuid.uuid4() for _ in range(CASES)]
    # Drawn as submission draws them; about five of 100,000 draws repeat one, and are drawn
    # again (submission asks the table: queries.free_short_id).
    short_ids: set[str] = set()
    while len(short_ids) < CASES:
        short_ids.add(new_short_id())
    idents = list(zip(case_ids, short_ids, strict=True))
    with ProcessPoolExecutor(2) as pool:
        futures = []
        for first in range(0, CASES, BATCH):
            seeded.case_batches.append(folder / f"cases-{first}.pickle")
            ids = idents[first : first + BATCH]
            futures.append(
                pool.submit(
                    build_cases, first, ids, keyring.dump(), staff, now, seeded.case_batches[-1]
                )
            )
        # The chain is one long sequence: built here while the workers seal cases.
        seeded.audit_batches = build_audit(keyring, case_ids, staff, now, folder)
        for future in futures:
            visible, late = future.result()
            seeded.visible_open += visible
            seeded.late += late
    seeded.visible_open.sort()
    seeded.late.sort()
    print(
        f"  sealed {CASES:,} cases and chained {AUDIT:,} audit entries in "
        f"{time.perf_counter() - started:.0f} s",
        flush=True,
    )
    return seeded


async def seed(url: str, seeded: Seeded) -> None:
    """Write the rows through bot.store, as many per transaction as a batch holds, on an
    engine of its own: on SQLite its one connection gets a page cache that holds the
    indexes being filled (a million random case ids) and skips the WAL's syncs — for this
    bulk load only; the measurements run on a fresh engine with the bot's settings."""
    engine = create_engine(url)
    try:
        if engine.dialect.name == "sqlite":
            async with engine.connect() as connection:  # the pool's one connection, kept
                for pragma in ("cache_size=-524288", "synchronous=OFF", "temp_store=MEMORY"):
                    await connection.exec_driver_sql(f"PRAGMA {pragma}")
        await write_rows(engine, seeded)
    finally:
        await engine.dispose()


async def write_rows(engine: AsyncEngine, seeded: Seeded) -> None:
    sessions = session_factory(engine)
    started = time.perf_counter()
    async with sessions.begin() as session:
        columns = [column.key for column in Responder.__table__.columns]
        session.add_all(
            Responder(**{key: getattr(p, key) for key in columns}) for p in seeded.responders
        )
    for path in seeded.case_batches:
        rows = pickle.loads(path.read_bytes())  # noqa: S301 - written by this run
        async with sessions.begin() as session:
            await queries.insert_cases(session, rows)
    print(f"  wrote {CASES:,} cases in {time.perf_counter() - started:.0f} s", flush=True)
    started = time.perf_counter()
    for path in seeded.audit_batches:
        entries, mac = pickle.loads(path.read_bytes())  # noqa: S301 - written by this run
        async with sessions.begin() as session:
            await audit_table.append_many(session, entries, mac)
    print(f"  wrote {AUDIT:,} audit entries in {time.perf_counter() - started:.0f} s", flush=True)


# ---- measuring ---------------------------------------------------------------------------


class Timer:
    def __init__(self) -> None:
        self.ms: list[float] = []

    def p(self, q: float) -> float:
        ordered = sorted(self.ms)
        return ordered[min(len(ordered) - 1, int(len(ordered) * q))]

    def line(self, name: str, goal: float | None = None) -> str:
        ok = "" if goal is None else ("  ok" if self.p(0.99) < goal else "  MISSED")
        return (
            f"  {name:34s} n={len(self.ms):4d}  p50 {self.p(0.5):6.1f} ms  "
            f"p99 {self.p(0.99):6.1f} ms  max {max(self.ms):6.1f} ms{ok}"
        )


updates = count(1)


async def timed(service: ConversationService, chat: int, event: object, timer: Timer) -> object:
    # Stored first, as the poller or the webhook stores each update before it is handled;
    # what is timed is the handling, from the update to the reply, marked handled with it.
    update_id = next(updates)
    inbox = Inbox(service.sessions, service.keyring, service.clock)
    await inbox.store([{"update_id": update_id}])
    started = time.perf_counter()
    reply = await service.handle(Incoming(update_id, chat, "en", 1, event))  # type: ignore[arg-type]
    timer.ms.append(1000 * (time.perf_counter() - started))
    assert reply is not None
    return reply.views[0]


async def walk_list(
    service: ConversationService, chat: int, kind: str, positions: list[tuple[datetime, str]]
) -> dict[str, Timer]:
    """First pages, Next and Previous presses, and Next from positions deep in the list."""
    timers = {"first": Timer(), "next": Timer(), "previous": Timer(), "deep": Timer()}
    for _ in range(20):
        page = await timed(service, chat, Command(kind), timers["first"])
    assert isinstance(page, ShowQueue) and page.items, page
    for _ in range(min(120, len(positions) // 8 - 2)):
        assert page.next is not None
        page = await timed(service, chat, ResponderButton(kind, page.next), timers["next"])
        assert isinstance(page, ShowQueue) and page.items
    for _ in range(min(60, len(timers["next"].ms))):
        assert page.previous is not None
        page = await timed(service, chat, ResponderButton(kind, page.previous), timers["previous"])
        assert isinstance(page, ShowQueue) and page.items
    rng = random.Random(kind)
    for _ in range(100):
        i = rng.randrange(len(positions) - 20)
        cursor = Position(*positions[i]).text(">")
        page = await timed(
            service, chat, ResponderButton(kind, f"{2 + i // 8}:{cursor}"), timers["deep"]
        )
        assert isinstance(page, ShowQueue) and page.items
        # Deadlines passing while the bench runs may add a case to /overdue: not to /queue.
        assert kind != "queue" or page.items[0].short_id == positions[i + 1][1], (
            [x.short_id for x in page.items],
            positions[i : i + 3],
        )
    return timers


@asynccontextmanager
async def as_the_bot_runs(engine: AsyncEngine) -> AsyncIterator[None]:
    """What `confide run` does beside handling updates that bears on their latency: it
    checkpoints SQLite's log in the background, and keeps what start-up built out of the
    garbage collector's rounds."""
    checkpoints = WalCheckpoints(engine.url.render_as_string(hide_password=False))

    async def checkpointing() -> None:
        while True:
            await asyncio.sleep(CHECKPOINT_SECONDS)
            await checkpoints.run()

    task = asyncio.create_task(checkpointing())
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        checkpoints.close()
        gc.unfreeze()


async def measure_service(engine: AsyncEngine, keyring: Keyring, seeded: Seeded) -> list[str]:
    async with as_the_bot_runs(engine):
        return await measure_lists_and_opening(engine, keyring, seeded)


async def measure_lists_and_opening(
    engine: AsyncEngine, keyring: Keyring, seeded: Seeded
) -> list[str]:
    service = ConversationService(
        session_factory(engine),
        keyring,
        Intake(load_questionnaire()),
        clock=lambda: datetime.now(UTC),
    )
    lines = []
    queue = await walk_list(service, FIRST_CHAT, "queue", seeded.visible_open)
    overdue = await walk_list(service, ADMIN_CHAT, "overdue", seeded.late)
    for name, timers in (("/queue", queue), ("/overdue (admin)", overdue)):
        everything = Timer()
        for kind, timer in timers.items():
            everything.ms += timer.ms
            lines.append(timer.line(f"{name} {kind}"))
        lines.append(everything.line(f"{name} all", GOALS["list p99"]))
    opening = Timer()
    rng = random.Random(3)
    for _ in range(300):
        _, short_id = rng.choice(seeded.visible_open)
        view = await timed(service, FIRST_CHAT, Command("open", short_id.lower()), opening)
        assert isinstance(view, ShowCaseFile), view
    lines.append(opening.line("opening a case (/open)", GOALS["open p99"]))
    return lines


def environment(
    url: str, key_file: Path, folder: Path, emulator: BotApiEmulator | None
) -> dict[str, str]:
    config = folder / "config.toml"
    config.write_text("[telegram]\npoll_timeout = 10\n", encoding="utf-8")
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "CONFIDE_CONFIG": str(config),
        "CONFIDE_DATABASE_URL": url,
        "CONFIDE_KEY_FILE": str(key_file),
        "CONFIDE_LOG_LEVEL": "WARNING",
        "CONFIDE_HEALTH_ENABLED": "false",
        "CONFIDE_TELEGRAM_TOKEN": TOKEN,
    }
    env.pop("CONFIDE_KEYS", None)
    if emulator is not None:
        env["CONFIDE_TELEGRAM_BASE_URL"] = emulator.base_url
        env["CONFIDE_TELEGRAM_BASE_FILE_URL"] = emulator.base_file_url
    return env


def run_command(args: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """A `confide` command as the operator runs it: seconds, peak memory (VmHWM, read while
    it runs: a child's rusage would count this process's memory from before the exec),
    summed over its processes (`audit verify` checks in several)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    peaks: dict[int, float] = {}

    def watch() -> None:
        while process.poll() is None:
            for pid in tree(process.pid):
                with contextlib.suppress(OSError, ValueError):
                    peaks[pid] = max(peaks.get(pid, 0.0), peak_memory_mb(pid))
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    output = process.communicate()[0].decode()
    watcher.join()
    elapsed = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError(f"confide {' '.join(args)} failed: {output[-500:]}")
    return elapsed, sum(peaks.values()), output


def tree(pid: int) -> list[int]:
    """The process and its descendants."""
    found, i = [pid], 0
    while i < len(found):
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{found[i]}/task").iterdir():
                found += [int(c) for c in (task / "children").read_text().split()]
        i += 1
    return found


def peak_memory_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def measure_running_bot(url: str, key_file: Path, folder: Path, seeded: Seeded) -> float:
    """`confide run` with the seeded database; the admin lists and opens cases through the
    emulator a few times; the bot's peak resident memory (VmHWM)."""
    async with BotApiEmulator(token=TOKEN, bot_username="confide_scale_bot") as emulator:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"],
            cwd=REPO,
            env=environment(url, key_file, folder, emulator),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(1200):
                if emulator.calls_to("getUpdates"):
                    break
                await asyncio.sleep(0.05)
            else:
                raise RuntimeError("the bot did not start polling")
            admin = emulator.new_user("Admin", language_code="en", user_id=ADMIN_CHAT)
            rng = random.Random(5)
            for _ in range(5):
                for text in ("/queue", "/queue 3", "/overdue", "/mine"):
                    await admin.send(text)
                    await admin.next_message(60)
                    admin.skip_pending()
                for _ in range(3):
                    await admin.send(f"/open {rng.choice(seeded.visible_open)[1]}")
                    await admin.next_message(60)
                    await asyncio.sleep(0.2)  # the case's messages, then its keyboard
                    admin.skip_pending()
            return peak_memory_mb(process.pid)
        finally:
            process.terminate()
            process.wait(60)


@asynccontextmanager
async def database(kind: str, folder: Path) -> AsyncIterator[str]:
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{folder}/scale.db"
        return
    from sqlalchemy.ext.asyncio import create_async_engine

    name = f"confide_scale_{uuid.uuid4().hex[:8]}"
    admin = create_async_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(POSTGRES).set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as connection:
            await connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.dispose()


async def explain(engine: AsyncEngine) -> list[str]:
    """The plans the database chose for the lists' page queries, at this size."""
    from sqlalchemy import event

    seen: list[tuple[str, object]] = []

    def grab(_c: object, _cur: object, statement: str, parameters: object, *_: object) -> None:
        if "FROM cases" in statement and "LIMIT" in statement:
            seen.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", grab)
    now = datetime.now(UTC)
    async with session_factory(engine).begin() as session:
        after = (now - timedelta(days=60), "C-000-000")
        await queries.cases_in_order(session, limit=9, after=after)
        await queries.cases_in_order(session, limit=9, late_at=now, after=after)
        await queries.cases_in_order(session, limit=9, claimed_by=uuid.uuid4())
    event.remove(engine.sync_engine, "before_cursor_execute", grab)
    lines = []
    postgres = engine.dialect.name == "postgresql"
    async with engine.connect() as connection:
        for (statement, parameters), kind in zip(seen, ("queue", "overdue", "mine"), strict=True):
            prefix = "EXPLAIN (ANALYZE, BUFFERS) " if postgres else "EXPLAIN QUERY PLAN "
            rows = (await connection.exec_driver_sql(prefix + statement, parameters)).all()  # type: ignore[arg-type]
            plan = [str(row[-1]).strip() for row in rows]
            lines.append(f"  plan {kind}: " + " | ".join(p for p in plan if p)[:400])
    return lines


async def run(kind: str, seeded: Seeded, keys: str, work: Path) -> list[str]:
    print(f"\n== {kind} ==", flush=True)
    began = time.perf_counter()
    folder = work / kind
    folder.mkdir()
    key_file = folder / "keys"
    keyring = Keyring.parse(keys)
    keyring.write_new_file(key_file)  # a copy each: the rotation rewrites it
    async with database(kind, folder) as url:
        engine = create_engine(url, checkpoints_elsewhere=True)  # as `confide run`'s
        try:
            await migrate(engine, keyring=keyring)
            await seed(url, seeded)
            if kind == "postgres":
                async with engine.connect() as connection:
                    await connection.exec_driver_sql("ANALYZE")  # as autovacuum would
            lines = await explain(engine)
            print("\n".join(lines), flush=True)
            lines += await measure_service(engine, keyring, seeded)
        finally:
            await engine.dispose()
        print("\n".join(lines[3:]), flush=True)
        peak = await measure_running_bot(url, key_file, folder, seeded)
        rss = f"  bot peak RSS, {OPEN:,} open cases    {peak:6.1f} MB"
        lines.append(rss + ("  ok" if peak < GOALS["rss"] else "  MISSED"))
        print(lines[-1], flush=True)
        env = environment(url, key_file, folder, None)
        seconds, memory, output = run_command(["audit", "verify"], env)
        lines.append(
            f"  confide audit verify ({AUDIT:,})    {seconds:6.1f} s  peak {memory:5.1f} MB"
            + ("  ok" if seconds < GOALS["verify s"] else "  MISSED")
        )
        print(lines[-1], f"({output.strip().splitlines()[-1][:80]})", flush=True)
        seconds, memory, _ = run_command(["keys", "rotate"], env)
        lines.append(
            f"  confide keys rotate (every key)    {seconds:6.1f} s  peak {memory:5.1f} MB"
            + ("  ok" if seconds < GOALS["rotate s"] else "  MISSED")
        )
        print(lines[-1], flush=True)
    lines.append(f"  {kind} run {time.perf_counter() - began:.0f} s")
    print(lines[-1], flush=True)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument(
        "--fraction", type=float, default=1.0, help="of the cases and audit entries (a quick try)"
    )
    args = parser.parse_args()
    global CASES, OPEN, AUDIT
    CASES, OPEN, AUDIT = (int(n * args.fraction) for n in (CASES, OPEN, AUDIT))
    kinds = ("sqlite", "postgres") if args.db == "both" else (args.db,)
    began = time.perf_counter()
    keyring = Keyring.generate()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        seeded = build(keyring, datetime.now(UTC), work)
        results = {kind: asyncio.run(run(kind, seeded, keyring.dump(), work)) for kind in kinds}
    print(f"\nSummary ({time.perf_counter() - began:.0f} s in all)")
    for kind, lines in results.items():
        print(f"{kind}:")
        print("\n".join(line for line in lines if "plan" not in line))


if __name__ == "__main__":
    main()
