"""How much one chat may do: new reports a day, messages to responders an hour. Pure.

A chat keeps one counter per kind, for the current period only (a day, an hour by the
clock): no finer time is kept than the chat row's own, so the counters link nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Limits:
    reports_per_day: int = 5
    messages_per_hour: int = 30


@dataclass(frozen=True)
class EvidenceLimits:
    """How big evidence may be ([evidence]): a file (Telegram's cloud Bot API lets a bot
    download at most 20 MB; a self-hosted Bot API server allows more), and a case's files
    together, by count and size."""

    max_file_mb: float = 20
    max_files: int = 20
    max_total_mb: float = 200

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 1024 * 1024)

    @property
    def max_total_bytes(self) -> int:
        return int(self.max_total_mb * 1024 * 1024)


def _period(now: datetime, per: str) -> str:
    return now.strftime("%Y-%m-%d") if per == "day" else now.strftime("%Y-%m-%dT%H")


def allowed(counter: dict[str, Any] | None, now: datetime, per: str, limit: int) -> bool:
    """Whether one more is allowed in the current period."""
    if counter is None or counter.get("period") != _period(now, per):
        return limit > 0
    return int(counter.get("count", 0)) < limit


def counted(counter: dict[str, Any] | None, now: datetime, per: str) -> dict[str, Any]:
    """The counter after one more."""
    period = _period(now, per)
    if counter is None or counter.get("period") != period:
        return {"period": period, "count": 1}
    return {"period": period, "count": int(counter.get("count", 0)) + 1}
