"""Service levels: when a case must be acknowledged and answered, and what happens when it is
not. Pure: the times come in, the timers and the due actions go out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


@dataclass(frozen=True)
class ServiceLevels:
    claim: timedelta = timedelta(hours=24)
    urgent_claim: timedelta = timedelta(hours=1)
    first_reply: timedelta = timedelta(hours=72)
    urgent_repeat: timedelta = timedelta(minutes=15)


@dataclass(frozen=True)
class Timers:
    claim_remind_at: datetime | None = None
    claim_due_at: datetime | None = None
    reply_remind_at: datetime | None = None
    reply_due_at: datetime | None = None
    urgent_repeat_at: datetime | None = None

    def _times(self) -> tuple[datetime | None, ...]:
        return (
            self.claim_remind_at,
            self.claim_due_at,
            self.reply_remind_at,
            self.reply_due_at,
            self.urgent_repeat_at,
        )

    def next_at(self) -> datetime | None:
        return min((t for t in self._times() if t is not None), default=None)

    def shifted(self, by: timedelta) -> Timers:
        """After a pause (waiting on the reporter), every clock resumes where it stopped."""
        return Timers(*(t + by if t is not None else None for t in self._times()))


class Due(StrEnum):
    REMIND_CLAIM = "remind_claim"  # half the time to acknowledge is gone
    ESCALATE_CLAIM = "escalate_claim"  # not acknowledged in time
    REMIND_REPLY = "remind_reply"
    ESCALATE_REPLY = "escalate_reply"  # no first reply to the reporter in time
    REPEAT_URGENT = "repeat_urgent"  # an urgent case still unclaimed


def timers_at_submission(now: datetime, urgent: bool, levels: ServiceLevels) -> Timers:
    claim = levels.urgent_claim if urgent else levels.claim
    return Timers(
        claim_remind_at=now + claim / 2,
        claim_due_at=now + claim,
        reply_remind_at=now + levels.first_reply / 2,
        reply_due_at=now + levels.first_reply,
        urgent_repeat_at=now + levels.urgent_repeat if urgent else None,
    )


def after_claim(timers: Timers) -> Timers:
    """Acknowledged: the claim clock and urgent repeats stop; the reply clock runs on."""
    return Timers(reply_remind_at=timers.reply_remind_at, reply_due_at=timers.reply_due_at)


def after_first_reply(timers: Timers) -> Timers:
    return Timers(
        claim_remind_at=timers.claim_remind_at,
        claim_due_at=timers.claim_due_at,
        urgent_repeat_at=timers.urgent_repeat_at,
    )


def due(timers: Timers, now: datetime, levels: ServiceLevels) -> tuple[list[Due], Timers]:
    """What is due at `now`, and the timers afterwards (each fired timer cleared or, for the
    urgent repeat, moved on). A reminder that was overtaken by its deadline is dropped."""
    fired: list[Due] = []
    t = timers
    if t.claim_due_at is not None and t.claim_due_at <= now:
        fired.append(Due.ESCALATE_CLAIM)
        t = Timers(None, None, t.reply_remind_at, t.reply_due_at, t.urgent_repeat_at)
    elif t.claim_remind_at is not None and t.claim_remind_at <= now:
        fired.append(Due.REMIND_CLAIM)
        t = Timers(None, t.claim_due_at, t.reply_remind_at, t.reply_due_at, t.urgent_repeat_at)
    if t.reply_due_at is not None and t.reply_due_at <= now:
        fired.append(Due.ESCALATE_REPLY)
        t = Timers(t.claim_remind_at, t.claim_due_at, None, None, t.urgent_repeat_at)
    elif t.reply_remind_at is not None and t.reply_remind_at <= now:
        fired.append(Due.REMIND_REPLY)
        t = Timers(t.claim_remind_at, t.claim_due_at, None, t.reply_due_at, t.urgent_repeat_at)
    if t.urgent_repeat_at is not None and t.urgent_repeat_at <= now:
        fired.append(Due.REPEAT_URGENT)
        following = t.urgent_repeat_at + levels.urgent_repeat
        while following <= now:  # after downtime: one repeat now, not a burst
            following += levels.urgent_repeat
        t = Timers(t.claim_remind_at, t.claim_due_at, t.reply_remind_at, t.reply_due_at, following)
    return fired, t
