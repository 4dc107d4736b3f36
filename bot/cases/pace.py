"""How fast the outbox may send: Telegram's limits as arithmetic. Pure.

Each limit (the whole bot's, and each chat's) is a rate with a burst, kept as one time per
limit: the "theoretical arrival time" of the generic cell rate algorithm (GCRA). A message
may go at `at` when `tat - tolerance <= at`; sending it moves `tat` one interval on. A
stored time is all that replicas must share (in the database), and a time already past
means the same as no time at all, so such records can be deleted at any moment.

Over any span of W seconds this sends at most `burst + W * per_second` messages."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class Rate:
    per_second: float
    burst: int = 1

    def __post_init__(self) -> None:
        if self.per_second <= 0 or self.burst < 1:
            raise ValueError("a rate needs per_second > 0 and burst >= 1")

    @property
    def interval(self) -> timedelta:
        return timedelta(seconds=1 / self.per_second)

    @property
    def tolerance(self) -> timedelta:
        """How far ahead of now the stored time may run while still allowing a message."""
        return self.interval * (self.burst - 1)

    def earliest(self, tat: datetime | None, now: datetime) -> datetime:
        """When the next message may go: `now` while within the burst."""
        return now if tat is None else max(now, tat - self.tolerance)

    def after(self, tat: datetime | None, at: datetime) -> datetime:
        """The stored time once a message goes at `at`."""
        return (at if tat is None else max(tat, at)) + self.interval

    def held(self, tat: datetime | None, until: datetime) -> datetime:
        """The stored time such that nothing goes before `until` (Telegram's retry_after)."""
        later = until + self.tolerance
        return later if tat is None else max(tat, later)


@dataclass(frozen=True)
class Pace:
    """The outbox's limits ([outbox] in config.toml). Telegram allows about 30 messages a
    second per bot and about one a second per chat, with short bursts; the bot's default
    leaves headroom for the replies that do not go through the outbox."""

    bot: Rate = field(default_factory=lambda: Rate(25, 5))
    chat: Rate = field(default_factory=lambda: Rate(1, 3))
    # A lease plans sends this far ahead, no further: what it takes is sent within it.
    lookahead: timedelta = timedelta(seconds=1)


@dataclass(frozen=True)
class Plan(Generic[K]):
    """What one lease takes: the candidates' positions with the time each may be sent (in
    order), the bot's new stored time, and each chat's that changed. `retry_at`: when a
    candidate left behind could go, if any was."""

    slots: tuple[tuple[int, datetime], ...]
    bot_tat: datetime | None
    chat_tats: dict[K, datetime]
    retry_at: datetime | None


def plan(
    pace: Pace,
    now: datetime,
    bot_tat: datetime | None,
    candidates: Sequence[tuple[K, datetime | None]],
    limit: int,
) -> Plan[K]:
    """Take candidates (most urgent first: (chat, that chat's stored time)) while the bot's
    limit has room within the lookahead; a candidate whose chat has no room at its time
    stays for a later lease, and those behind it in other chats go first."""
    horizon = now + pace.lookahead
    chats: dict[K, datetime | None] = {}
    slots: list[tuple[int, datetime]] = []
    retry_at: datetime | None = None
    for index, (chat, stored) in enumerate(candidates):
        at = pace.bot.earliest(bot_tat, now)
        if len(slots) >= limit or at > horizon:
            retry_at = _sooner(retry_at, at)
            break
        chat_tat = chats.get(chat, stored)
        ready = pace.chat.earliest(chat_tat, at)
        if ready > at:
            retry_at = _sooner(retry_at, ready)
            continue
        slots.append((index, at))
        bot_tat = pace.bot.after(bot_tat, at)
        chats[chat] = pace.chat.after(chat_tat, at)
    changed = {chat: tat for chat, tat in chats.items() if tat is not None}
    return Plan(tuple(slots), bot_tat, changed, retry_at)


def _sooner(one: datetime | None, other: datetime) -> datetime:
    return other if one is None else min(one, other)
