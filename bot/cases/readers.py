"""Who is told of what about a case. Pure: people in, people out.

The readers of a case are the active staff the reporter did not exclude. Everything about a
case goes to readers only — escalations included: an administrator the reporter excluded
is never told of the case, nor sees it anywhere. The intake makes sure at least one reader
remains (`excludes_everyone`)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar


class Occasion(StrEnum):
    NEW_CASE = "new_case"  # and an urgent case's repeated alert
    REMINDER = "reminder"  # half the time to acknowledge or answer is gone
    ESCALATION = "escalation"  # a deadline was missed
    REPORTER_WROTE = "reporter_wrote"
    WITHDRAWN = "withdrawn"
    RETENTION = "retention"  # the content is to be shredded in a week


@dataclass(frozen=True)
class Staff:
    id: uuid.UUID
    admin: bool


Person = TypeVar("Person", bound=Staff)


def readers(staff: Iterable[Person], excluded: frozenset[uuid.UUID]) -> list[Person]:
    return [p for p in staff if p.id not in excluded]


def recipients(
    occasion: Occasion,
    staff: Sequence[Person],
    excluded: frozenset[uuid.UUID],
    claimer: uuid.UUID | None = None,
) -> list[Person]:
    """Who is told. The claimer, for what concerns the one handling the case; admins for an
    escalation (or, if the reporter excluded every admin, the other readers); everyone who
    may read it otherwise. Empty only when the case has no reader at all."""
    allowed = readers(staff, excluded)
    if occasion in (
        Occasion.REMINDER,
        Occasion.REPORTER_WROTE,
        Occasion.WITHDRAWN,
        Occasion.RETENTION,
    ):
        handling = [p for p in allowed if p.id == claimer]
        return handling or allowed
    if occasion is Occasion.ESCALATION:
        return [p for p in allowed if p.admin] or allowed
    return allowed


def excludes_everyone(staff: Iterable[Staff], excluded: Iterable[uuid.UUID]) -> bool:
    """Whether an exclusion would leave the case without any reader."""
    people = {p.id for p in staff}
    return bool(people) and people <= set(excluded)
