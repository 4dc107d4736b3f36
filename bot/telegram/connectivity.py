"""Whether Telegram answers, as every part of one process sees it (the poller, replies, the
outbox's sender): an outage is one WARNING when calls start failing and one INFO when one
succeeds again, with a shared back-off in between — not a line per failed call."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

log = logging.getLogger(__name__)
BACKOFF_START, BACKOFF_MAX = 1.0, 10.0


class Connectivity:
    def __init__(self) -> None:
        self.down_since: float | None = None
        self._backoff = 0.0

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def failed(self, error: Exception) -> float:
        """A call could not reach Telegram; returns how long to wait before the next try."""
        if self.down_since is None:
            self.down_since = time.monotonic()
            log.warning("event=telegram_unreachable error=%s", type(error).__name__)
        self._backoff = min(BACKOFF_MAX, (self._backoff or BACKOFF_START / 2) * 2)
        return self._backoff

    @staticmethod
    def attempt() -> float:
        """When a call starts: give it to `succeeded` once the call has worked."""
        return time.monotonic()

    def succeeded(self, started: float) -> None:
        """A call that started at `started` (from `attempt`) worked. One started before the
        outage began proves nothing about now: a reply in flight when the network went can
        still arrive, and would end the outage only to have the next call start it again."""
        if self.down_since is not None and started < self.down_since:
            return
        if self.down_since is not None:
            lasted = time.monotonic() - self.down_since
            log.info("event=telegram_reachable_again after=%.0fs", lasted)
        self.down_since, self._backoff = None, 0.0

    async def pause(self, error: Exception, stop: asyncio.Event | None = None) -> None:
        """Wait out the back-off after a failed call (sooner if `stop` is set)."""
        delay = self.failed(error)
        if stop is None:
            await asyncio.sleep(delay)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
