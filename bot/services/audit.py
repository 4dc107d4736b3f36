"""The audit trail: every access to and action on a case, append-only and hash-chained.

An entry is (sequence, time, case, actor, role, action) plus a link: a keyed hash of the
previous link and this entry (bot.crypto's chain_hash). The head row holds the last link
and the number of entries under a MAC, so that the log cannot be cut at its end and the
head rewritten to match. `verify` walks the chain and says where it breaks: a changed
entry, a removed one (a gap, or a missing tail against the head), one moved elsewhere, or
a head that was not written by Confide.

What no key can catch: someone who restores an older copy of the whole database (an old
head with its log) — docs/security.md says how an external anchor closes that."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.crypto import Keyring
from bot.store import audit as log_table
from bot.store.models import AuditEntry, AuditHead
from bot.store.session import Session

# The actor and role of an entry made from the command line, whoever runs it. Changes of
# access (bot.services.access) and keys have no case: an entry then says who acted, in what
# role, and what was done, never to whom.
OPERATOR = "operator"


def link_of(
    keyring: Keyring,
    previous: bytes,
    seq: int,
    at: datetime,
    case_id: uuid.UUID | None,
    actor: str,
    role: str,
    action: str,
) -> bytes:
    """An entry's link: a keyed hash of the link before it and the entry."""
    return keyring.chain_hash(previous, entry_text(seq, at, case_id, actor, role, action))


def entry_text(
    seq: int, at: datetime, case_id: uuid.UUID | None, actor: str, role: str, action: str
) -> bytes:
    """What an entry's link covers, besides the link before it."""
    parts = (
        str(seq),
        at.isoformat(timespec="microseconds"),
        str(case_id or ""),
        actor,
        role,
        action,
    )
    return "\x1f".join(parts).encode()


async def record(
    session: Session,
    keyring: Keyring,
    case_id: uuid.UUID | None,
    actor: str,
    role: str,
    action: str,
    now: datetime,
) -> None:
    """Append one entry (in the caller's transaction)."""
    at = log_table.entry_time(now)

    def make_link(seq: int, previous: bytes) -> tuple[bytes, bytes]:
        link = link_of(keyring, previous, seq, at, case_id, actor, role, action)
        return link, keyring.audit_head_mac(seq, link)

    await log_table.append(session, make_link, at, case_id, actor, role, action)


async def trail(session: Session, case_id: uuid.UUID) -> list[AuditEntry]:
    return await log_table.trail(session, case_id)


async def trail_page(
    session: Session, case_id: uuid.UUID, offset: int, limit: int
) -> tuple[list[AuditEntry], int]:
    """A page of a case's trail, oldest first, and how long the whole trail is."""
    entries = await log_table.trail_page(session, case_id, offset, limit)
    return entries, await log_table.trail_length(session, case_id)


@dataclass(frozen=True)
class Break:
    seq: int
    problem: str


@dataclass(frozen=True)
class Anchor:
    """The head at some moment, kept outside the database (a log line, a file, a note):
    a copy of the database restored from before it is caught by `verify`."""

    seq: int
    link: bytes

    def __str__(self) -> str:
        return f"{self.seq}:{self.link.hex()}"

    @classmethod
    def parse(cls, text: str) -> Anchor:
        seq, _, link = text.strip().partition(":")
        try:
            return cls(int(seq), bytes.fromhex(link))
        except ValueError:
            raise ValueError(
                f"an audit anchor looks like 1234:9f2c... (entry number, colon, link in hex), "
                f"not {text.strip()[:20]!r}"
            ) from None


async def head(session: Session) -> AuditHead:
    return await log_table.head(session)


async def anchor(session: Session) -> Anchor:
    head = await log_table.head(session)
    return Anchor(head.seq, bytes(head.link))


@dataclass(frozen=True)
class Stretch:
    """What checking the entries numbered after..upto found, on their own: the breaks, the
    anchors' entries met, and where the chain stood at the end. A stretch starts from the
    stored link before it, so stretches checked apart (in parallel, `confide audit
    verify`) find exactly what one walk over them all would."""

    after: int
    upto: int
    count: int
    breaks: tuple[Break, ...]
    anchors_met: frozenset[int]
    last_link: bytes
    next_seq: int


def stretches(last_seq: int, parts: int) -> list[tuple[int, int]]:
    """(after, upto) of `parts` stretches of about equal length covering entries 1..last_seq."""
    bounds = [last_seq * n // parts for n in range(parts + 1)]
    return [(bounds[n], bounds[n + 1]) for n in range(parts) if bounds[n + 1] > bounds[n]] or [
        (0, last_seq)
    ]


async def check_stretch(
    session: Session, keyring: Keyring, after: int, upto: int, anchors: tuple[Anchor, ...] = ()
) -> Stretch:
    previous, expected_seq = bytes(32), 1
    if after > 0:
        before = await log_table.last_link_upto(session, after)
        if before is not None:
            previous, expected_seq = before[1], before[0] + 1
    problems: list[Break] = []
    pinned = {a.seq: a.link for a in anchors if after < a.seq <= upto}
    met: set[int] = set()
    count = 0
    chain = keyring.chain_hasher()
    async for entries in log_table.walk(session, after, upto):
        count += len(entries)
        for seq, at, case_id, actor, role, action, stored in entries:
            if seq in pinned:
                met.add(seq)
                if bytes(stored) != pinned[seq]:
                    problems.append(Break(seq, "differs from the anchor kept outside"))
            if seq != expected_seq:
                problems.append(
                    Break(expected_seq, f"entries {expected_seq}..{seq - 1} are missing")
                )
            link = chain(previous, entry_text(seq, at, case_id, actor, role, action))
            if link != stored:
                problems.append(Break(seq, "changed, or not following the entry before"))
            previous, expected_seq = stored, seq + 1
    return Stretch(after, upto, count, tuple(problems), frozenset(met), previous, expected_seq)


async def verify(
    session: Session, keyring: Keyring, anchors: tuple[Anchor, ...] = ()
) -> tuple[int, list[Break]]:
    """Check the whole chain up to the head (and that it still holds each anchor); returns
    (entries checked, where it breaks)."""
    head = await log_table.head(session)
    whole = await check_stretch(session, keyring, 0, head.seq, anchors)
    return await conclude(session, keyring, head, [whole], anchors)


async def conclude(
    session: Session,
    keyring: Keyring,
    head: AuditHead,
    checked: Sequence[Stretch],
    anchors: tuple[Anchor, ...] = (),
) -> tuple[int, list[Break]]:
    """The breaks of stretches that cover 1..head.seq in order, with what only the whole
    can tell: anchors never met, and a head that does not end the chain. `head` is as read
    before the stretches were: entries appended since are not the check's business."""
    problems = [problem for stretch in checked for problem in stretch.breaks]
    met = frozenset().union(*(stretch.anchors_met for stretch in checked))
    for seq in sorted({a.seq for a in anchors} - met):
        problems.append(
            Break(
                seq,
                "is missing, but an anchor kept outside shows it existed: an older "
                "copy of the database was restored, or the log was cut",
            )
        )
    last_link, next_seq = checked[-1].last_link, checked[-1].next_seq
    if not Keyring.macs_match(head.mac, keyring.audit_head_mac(head.seq, head.link)):
        problems.append(
            Break(
                head.seq,
                "the head (last link and entry count) was not written by Confide: "
                "the log was cut or rewritten",
            )
        )
    elif head.seq != next_seq - 1 or head.link != last_link:
        problems.append(
            Break(
                head.seq,
                f"the log ends at {next_seq - 1} but was written "
                f"up to {head.seq}: entries were removed from the end",
            )
        )
    elif await log_table.any_after(session, head.seq) and await _head_still(session, head):
        # An append moves the head in its own transaction: entries past a head that has
        # not moved were not appended by Confide (or the head was put back).
        problems.append(
            Break(head.seq + 1, "entries after the head: the head was put back, or forged")
        )
    return sum(stretch.count for stretch in checked), problems


async def _head_still(session: Session, head: AuditHead) -> bool:
    return await log_table.head_position(session) == (head.seq, bytes(head.link))
