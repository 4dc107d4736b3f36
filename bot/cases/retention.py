"""Retention: how long a case is kept, when its content is crypto-shredded, and what may
remain of it afterwards. Pure: the times come in (`now` too), decisions go out.

A resolved or closed case keeps its content for `closed_days` after its last change; its
responders are warned `WARNING_AHEAD` before, and the content is never destroyed sooner
than that after the warning, so a warning always comes a full week ahead (also for cases
that were already past their time when retention was switched on). What remains of a
withdrawn or shredded case — the row's clear metadata — goes `metadata_days` after its
content went. For statistics only `Figures` survive: coarse numbers, never content or
identity, and not even the case they came from."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.cases.lifecycle import State

WARNING_AHEAD = timedelta(days=7)
# Cases that are done: kept for their retention period, then shredded. Open cases never
# are (the deadlines keep reminding until someone settles them); withdrawn ones already are.
KEPT_STATES = frozenset({State.RESOLVED, State.CLOSED})
# A category survives only if it looks like a choice id (the questionnaire's id rule): an
# organisation whose "category" question takes free text must not have that text kept.
_CHOICE_ID = re.compile(r"[a-z][a-z0-9_]{0,23}")
_RESOLVING = frozenset({f"state:{State.RESOLVED.value}", f"state:{State.CLOSED.value}"})
_REOPENING = frozenset({f"state:{State.INVESTIGATING.value}", f"state:{State.WAITING.value}"})
CLAIM_ACTION = "claim"


@dataclass(frozen=True)
class Retention:
    """The `[retention]` settings. `closed_days`: how long resolved and closed cases keep
    their content after their last change. `metadata_days`: how long what remains of a
    withdrawn or shredded case (its row: state, times, short id) is kept after that."""

    closed_days: int = 365
    metadata_days: int = 730

    def __post_init__(self) -> None:
        for name in ("closed_days", "metadata_days"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"[retention] {name} must be a whole number of days, at least 1")

    @property
    def closed(self) -> timedelta:
        return timedelta(days=self.closed_days)

    @property
    def metadata(self) -> timedelta:
        return timedelta(days=self.metadata_days)


# ---- when ---------------------------------------------------------------------------------


def shred_at(last_change: datetime, retention: Retention) -> datetime:
    """When a done case's time is up (it is shredded then, or a week after its warning)."""
    return last_change + retention.closed


def warn_at(last_change: datetime, retention: Retention) -> datetime:
    return shred_at(last_change, retention) - WARNING_AHEAD


def warned_for(warned_at: datetime | None, last_change: datetime) -> bool:
    """Whether the warning on record is about the case as it is now: a case reopened and
    settled again after a warning must be warned again."""
    return warned_at is not None and warned_at >= last_change


def due_for_warning(
    state: State,
    last_change: datetime,
    warned_at: datetime | None,
    now: datetime,
    retention: Retention,
) -> bool:
    return (
        state in KEPT_STATES
        and not warned_for(warned_at, last_change)
        and now >= warn_at(last_change, retention)
    )


def due_for_shredding(
    state: State,
    last_change: datetime,
    warned_at: datetime | None,
    now: datetime,
    retention: Retention,
) -> bool:
    """Time is up, and the responders were warned at least a week ago."""
    return (
        state in KEPT_STATES
        and now >= shred_at(last_change, retention)
        and warned_at is not None
        and warned_for(warned_at, last_change)
        and now >= warned_at + WARNING_AHEAD
    )


def delete_at(gone_since: datetime, retention: Retention) -> datetime:
    """When the remaining row of a withdrawn or shredded case goes."""
    return gone_since + retention.metadata


def due_for_deletion(gone_since: datetime | None, now: datetime, retention: Retention) -> bool:
    """`gone_since`: when the content was destroyed (None while it exists)."""
    return gone_since is not None and now >= delete_at(gone_since, retention)


@dataclass(frozen=True)
class Cutoffs:
    """The same rules as bounds on stored times, for the queries that find candidates (each
    candidate is then checked against the rules above)."""

    warn_changed_before: datetime
    shred_changed_before: datetime
    shred_warned_before: datetime
    delete_gone_before: datetime


def cutoffs(now: datetime, retention: Retention) -> Cutoffs:
    return Cutoffs(
        warn_changed_before=now - retention.closed + WARNING_AHEAD,
        shred_changed_before=now - retention.closed,
        shred_warned_before=now - WARNING_AHEAD,
        delete_gone_before=now - retention.metadata,
    )


# ---- what remains -------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    """What statistics keep of a case once its content is gone: how it ended, the month it
    was sent, what kind of case it was (a choice id; none for a withdrawn case, whose
    reporter was promised that everything they wrote is deleted), and the time to
    acknowledge (hours) and to resolve (days), rounded up. No case id, no exact time."""

    outcome: str
    month: str
    category: str | None
    hours_to_acknowledge: int | None
    days_to_resolve: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "month": self.month,
            "category": self.category,
            "hours_to_acknowledge": self.hours_to_acknowledge,
            "days_to_resolve": self.days_to_resolve,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Figures:
        return cls(
            outcome=str(data["outcome"]),
            month=str(data["month"]),
            category=None if data.get("category") is None else str(data["category"]),
            hours_to_acknowledge=_optional_int(data.get("hours_to_acknowledge")),
            days_to_resolve=_optional_int(data.get("days_to_resolve")),
        )


def figures(
    outcome: State,
    submitted_at: datetime,
    trail: Iterable[tuple[datetime, str]],
    answers: dict[str, Any] | None,
) -> Figures:
    """A case's figures from its clear metadata, its audit trail (time, action), oldest
    first, and, for a case kept to the end, its answers (read before the key is gone)."""
    entries = list(trail)
    acknowledged = next((at for at, action in entries if action == CLAIM_ACTION), None)
    resolved = resolved_at(entries)
    return Figures(
        outcome=outcome.value,
        month=month_of(submitted_at),
        category=None if outcome is State.WITHDRAWN else category_of(answers),
        hours_to_acknowledge=_rounded_up(submitted_at, acknowledged, timedelta(hours=1)),
        days_to_resolve=_rounded_up(submitted_at, resolved, timedelta(days=1)),
    )


def month_of(moment: datetime) -> str:
    return f"{moment.year:04d}-{moment.month:02d}"


def category_of(answers: dict[str, Any] | None) -> str | None:
    """The answer to the "category" question, if it is a choice id; never free text."""
    if not answers:
        return None
    value = answers.get("category")
    if isinstance(value, str) and _CHOICE_ID.fullmatch(value):
        return value
    return None


def resolved_at(trail: Iterable[tuple[datetime, str]]) -> datetime | None:
    """When the case was settled for good: the first resolution (resolved or closed) after
    its last reopening; None if it never was."""
    settled: datetime | None = None
    for at, action in trail:
        if action in _REOPENING:
            settled = None
        elif action in _RESOLVING and settled is None:
            settled = at
    return settled


def _rounded_up(start: datetime, end: datetime | None, unit: timedelta) -> int | None:
    """Whole units from start to end, rounded up and at least one: coarse on purpose."""
    if end is None:
        return None
    return max(1, math.ceil((end - start) / unit))


def _optional_int(value: object) -> int | None:
    if value is None or isinstance(value, int):
        return value
    raise ValueError(f"not a whole number: {type(value).__name__}")
