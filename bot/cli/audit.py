"""`confide audit verify`: the whole chain checked, in stretches on several cores.

A million entries are a million keyed hashes and rows turned into values, all CPU: one
process took 30 to 40 s on two cores. Each stretch starts from the stored link before it
(bot.services.audit.Stretch), so stretches are checked apart, one in this process and the
others each in a process of its own that opens the database as this one did, and what
they find is what one walk would."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor

from bot import logs
from bot.cli.commands import open_database
from bot.services.audit import Anchor, Stretch, check_stretch, conclude, head, stretches

# Below this many entries a second process (its start-up, about a second of CPU) costs
# more than it saves.
PARALLEL_FROM = 200_000
MAX_PROCESSES = 4


async def verify_audit(anchor_texts: list[str] | None = None) -> int:
    """Exit 0 if the chain holds; 1, saying where, if anything was changed or removed."""
    logs.configure("WARNING")
    anchors = tuple(Anchor.parse(text) for text in anchor_texts or ())
    engine, sessions, keyring = await open_database()
    try:
        async with sessions.begin() as session:
            top = await head(session)
            parts = stretches(top.seq, processes(top.seq))
            with ProcessPoolExecutor(
                max(1, len(parts) - 1), mp_context=multiprocessing.get_context("spawn")
            ) as pool:
                loop = asyncio.get_running_loop()
                elsewhere = [
                    loop.run_in_executor(pool, check_elsewhere, after, upto, anchor_texts or [])
                    for after, upto in parts[1:]
                ]
                here = await check_stretch(session, keyring, *parts[0], anchors)
                checked = [here, *await asyncio.gather(*elsewhere)]
            count, breaks = await conclude(session, keyring, top, checked, anchors)
    finally:
        await engine.dispose()
    if breaks:
        for problem in breaks:
            print(f"audit log broken at entry {problem.seq}: {problem.problem}", file=sys.stderr)
        return 1
    print(f"audit log intact: {count} entries")
    return 0


def processes(entries: int) -> int:
    if entries < PARALLEL_FROM:
        return 1
    return max(1, min(_cores(), MAX_PROCESSES))


def _cores() -> int:
    """The cores this process may run on (a container's share, not the host's)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1  # not Linux


def check_elsewhere(after: int, upto: int, anchor_texts: list[str]) -> Stretch:
    """In a process of its own (spawned: nothing of the parent's event loop or connections)."""
    return asyncio.run(_check(after, upto, tuple(Anchor.parse(t) for t in anchor_texts)))


async def _check(after: int, upto: int, anchors: tuple[Anchor, ...]) -> Stretch:
    logs.configure("WARNING")
    engine, sessions, keyring = await open_database()
    try:
        async with sessions.begin() as session:
            return await check_stretch(session, keyring, after, upto, anchors)
    finally:
        await engine.dispose()
