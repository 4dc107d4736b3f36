"""The health line: once a minute by default ([logging] health_seconds), what an operator
watching the log needs to see that the bot is alive and keeping up; and the same figures
for the metrics' gauges (bot.metrics), read when Prometheus scrapes. Counts and ages only:
never a case, a person or a text."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot import metrics
from bot.cases.lifecycle import State
from bot.store import health as counts
from bot.store import outbox as queue
from bot.store.session import Sessions

log = logging.getLogger(__name__)
# Being handled: a resolved case may be reopened, but nobody owes it anything.
HANDLING = (State.NEW.value, State.INVESTIGATING.value, State.WAITING.value)


@dataclass(frozen=True)
class Health:
    updates_handled: int  # since the previous line
    outbox_depth: int
    open_cases: int
    oldest_unacknowledged: timedelta | None  # None: every case was claimed

    def line(self) -> str:
        oldest = self.oldest_unacknowledged
        age = "none" if oldest is None else f"{int(oldest.total_seconds())}s"
        return (
            f"event=health updates_handled={self.updates_handled} "
            f"outbox_depth={self.outbox_depth} open_cases={self.open_cases} "
            f"oldest_unacknowledged={age}"
        )


class HealthLine:
    def __init__(
        self,
        sessions: Sessions,
        handled: Callable[[], int],
        clock: Callable[[], datetime],
    ) -> None:
        self.sessions = sessions
        self.handled = handled  # updates handled so far by this process
        self.clock = clock
        self._reported = 0

    async def measure(self) -> Health:
        async with self.sessions.begin() as session:
            depth = await queue.depth(session)
            open_cases = await counts.cases_in(session, HANDLING)
            oldest = await counts.oldest_unclaimed(session, State.NEW.value)
        total = self.handled()
        since, self._reported = total - self._reported, total
        age = None if oldest is None else max(self.clock() - oldest, timedelta(0))
        return Health(since, depth, open_cases, age)

    async def write(self) -> None:
        log.info("%s", (await self.measure()).line())


class Gauges:
    """The metrics that live in the database, read in one short transaction per scrape."""

    def __init__(
        self, sessions: Sessions, clock: Callable[[], datetime], into: metrics.Metrics
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.metrics = into

    async def refresh(self) -> None:
        async with self.sessions.begin() as session:
            depth = await queue.depth(session)
            queued = await counts.oldest_queued(session)
            by_state = await counts.cases_by_state(session, HANDLING)
            unclaimed = await counts.oldest_unclaimed(session, State.NEW.value)
        now = self.clock()
        self.metrics.outbox_depth.set(depth)
        self.metrics.outbox_oldest.set(_age(now, queued))
        self.metrics.set_open_cases(by_state)
        self.metrics.oldest_unacknowledged.set(_age(now, unclaimed))


def _age(now: datetime, since: datetime | None) -> float:
    return 0.0 if since is None else max((now - since).total_seconds(), 0.0)
