"""Responders' lists of cases (/queue, /mine, /overdue), a page at a time, read at the
database a batch at a time.

Whether a responder may see a case is sealed in it (the reporter's exclusions), so no
query can count or skip what they may see. A page therefore starts from a position (the
last case the page before showed, carried by its Next button, or the first, by its
Previous button) and reads forward only until it has a page and one case more (to know
whether there is a next page): it opens the exclusion lists of the rows it reads and of no
others. Its cost grows with the page shown and the cases hidden from this person on it,
never with the number of open cases. There is no "page N of M": M would need every list
opened; the page number and Previous/Next are exact.

A page typed by number (`/queue 5`) is read from the start: it costs the pages before it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.services import people
from bot.services.protocol import QueueItem, ShowQueue
from bot.services.turn import Turn
from bot.store import queries
from bot.store.models import Case, Responder

PAGE_SIZE = 8
KINDS = ("queue", "mine", "overdue")


@dataclass(frozen=True)
class Position:
    """A case's place in list order: its submission minute and short id. In a button it is
    text: `>29384756.C-7F3K` (the page after it) or `<...` (the page before it)."""

    at: datetime
    short_id: str

    @classmethod
    def of(cls, case: Case) -> Position:
        return cls(case.submitted_at, case.short_id)

    def text(self, direction: str) -> str:
        return f"{direction}{int(self.at.timestamp()) // 60}.{self.short_id}"

    @classmethod
    def parse(cls, text: str) -> tuple[str, Position] | None:
        """Callback data comes from the client: anything odd is no position at all."""
        direction = text[:1]
        minutes, _, short_id = text[1:].partition(".")
        if direction not in ("<", ">") or not minutes.isdigit() or not short_id:
            return None
        try:
            at = datetime.fromtimestamp(int(minutes) * 60, UTC)
        except (OverflowError, OSError, ValueError):
            return None
        return direction, cls(at, short_id)

    def key(self) -> queries.ListPosition:
        return self.at, self.short_id


class _Reader:
    """Reads one list for one responder, keeping only the cases they may see."""

    def __init__(self, turn: Turn, me: Responder, kind: str) -> None:
        self.turn, self.me = turn, me
        self.claimed_by = me.id if kind == "mine" else None
        self.late_at = turn.now if kind == "overdue" else None

    async def visible(
        self, want: int, *, after: Position | None = None, before: Position | None = None
    ) -> list[Case]:
        """Up to `want` cases this person may see, forward from `after` (or the start), or
        nearest first before `before`. Rows are fetched only while the page is short."""
        found: list[Case] = []
        while len(found) < want:
            limit = want - len(found)
            batch = await queries.cases_in_order(
                self.turn.session,
                limit=limit,
                claimed_by=self.claimed_by,
                late_at=self.late_at,
                after=after.key() if after else None,
                before=before.key() if before else None,
            )
            # An excluded responder (or, if the list was tampered with, anyone but an
            # admin) never sees the case; only these rows' lists are opened.
            found.extend(c for c in batch if not self.turn.vault.hidden_from(c, self.me))
            if len(batch) < limit:
                break
            if before is not None:
                before = Position.of(batch[-1])
            else:
                after = Position.of(batch[-1])
        return found


async def page(turn: Turn, me: Responder, kind: str, number: int, cursor: str = "") -> ShowQueue:
    """Page `number` of a list; `cursor` is what its Next or Previous button carried."""
    reader = _Reader(turn, me, kind)
    number = max(1, number)
    parsed = Position.parse(cursor) if number > 1 else None
    if parsed is not None and parsed[0] == "<":
        earlier = await reader.visible(PAGE_SIZE + 1, before=parsed[1])
        if len(earlier) > PAGE_SIZE:
            page_before = earlier[:PAGE_SIZE][::-1]
            return await _show(turn, kind, max(number, 2), page_before, more=True)
        number, parsed = 1, None  # the start was reached: this is the first page
    if parsed is not None:
        rows = await reader.visible(PAGE_SIZE + 1, after=parsed[1])
        if rows:
            return await _show(turn, kind, number, rows[:PAGE_SIZE], more=len(rows) > PAGE_SIZE)
        number = 1  # nothing is left after it (cases were closed meanwhile): start over
    # From the start, a page at a time, holding one page only; a page past the end shows
    # the last one.
    shown: list[Case] = []
    reached, more, after = 0, True, None
    while reached < number and more:
        rows = await reader.visible(PAGE_SIZE + 1, after=after)
        if not rows:
            break
        shown, more, reached = rows[:PAGE_SIZE], len(rows) > PAGE_SIZE, reached + 1
        after = Position.of(shown[-1])
    return await _show(turn, kind, max(1, reached), shown, more=more and bool(shown))


async def _show(turn: Turn, kind: str, number: int, shown: list[Case], *, more: bool) -> ShowQueue:
    claimers = {c.claimed_by for c in shown if c.claimed_by is not None}
    names = await people.names_of(turn.session, turn.keyring, claimers)
    return ShowQueue(
        kind,
        tuple(_item(turn.now, c, names) for c in shown),
        number,
        previous=f"{number - 1}:{Position.of(shown[0]).text('<')}" if number > 1 else None,
        next=f"{number + 1}:{Position.of(shown[-1]).text('>')}" if more and shown else None,
    )


def _item(now: datetime, case: Case, names: dict[uuid.UUID, str]) -> QueueItem:
    return QueueItem(
        case.short_id,
        now - case.submitted_at,
        case.status,
        case.urgent,
        names.get(case.claimed_by) if case.claimed_by else None,
    )
