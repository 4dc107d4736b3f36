"""Tables. Anything that could identify a person or tell what happened is a sealed blob
(see bot.crypto); only coarse metadata — states, flags, timestamps — is plaintext."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ColumnElement,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    TypeDecorator,
    Uuid,
    and_,
    false,
    literal,
    or_,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bot.cases.lifecycle import OPEN_STATES, State

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Precision(StrEnum):
    """How finely a time is kept. Times finer than a row's purpose needs would link rows
    across tables (a case's submission to the chat that sent it): chats keep hours; cases,
    their threads and the audit log keep minutes, what deadlines need; queues keep all."""

    EXACT = "exact"
    MINUTE = "minute"
    HOUR = "hour"


def floor_time(moment: datetime, precision: Precision) -> datetime:
    if precision is Precision.MINUTE:
        return moment.replace(second=0, microsecond=0)
    if precision is Precision.HOUR:
        return moment.replace(minute=0, second=0, microsecond=0)
    return moment


class Timestamp(TypeDecorator[datetime]):
    """Always timezone-aware UTC, also on SQLite, which forgets the zone; stored no finer
    than its precision."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def __init__(self, precision: Precision = Precision.EXACT) -> None:
        super().__init__()
        self.precision = precision

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware UTC time")
        return floor_time(value.astimezone(UTC), self.precision)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


MINUTE = Precision.MINUTE
HOUR = Precision.HOUR
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Micros(TypeDecorator[datetime]):
    """An aware UTC time kept as whole microseconds since 1970, for times rewritten many
    times a second (the outbox's pace): a number, not text, so that the old values SQLite's
    files keep until the next checkpoint are not read as left-over case text by the
    shredding check (tests/security/test_shredding.py). They are send times, no content."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> int | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware UTC time")
        return (value - EPOCH) // timedelta(microseconds=1)

    def process_result_value(self, value: int | None, dialect: Dialect) -> datetime | None:
        return None if value is None else EPOCH + timedelta(microseconds=value)


class Chat(Base):
    """One private chat with the bot: its preferences and its encrypted conversation state.

    `lookup` is a keyed hash of the Telegram chat id, so the row can be found on each update
    without the chat id ever being stored in the clear. A report being written lives apart,
    under a key of its own (`draft_key`, `draft`) that becomes the case's key at submission.
    `version` makes two concurrent writers of one chat detect each other (the rows are read
    and written by bot.store.chats). Times are kept to the hour."""

    __tablename__ = "chats"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    lookup: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    language: Mapped[str | None] = mapped_column(String(8))
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    state: Mapped[bytes | None] = mapped_column(LargeBinary)
    draft_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    draft: Mapped[bytes | None] = mapped_column(LargeBinary)
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(Timestamp(HOUR))
    updated_at: Mapped[datetime] = mapped_column(Timestamp(HOUR), index=True)


class Responder(Base):
    """HR / ethics staff (and admins). `lookup` finds them by chat; `chat` is their Telegram
    chat id, sealed, so alerts can reach them. `mac` authenticates every field that grants
    power (bot.crypto's responder_mac): a row forged or edited without the keys grants
    nothing."""

    __tablename__ = "responders"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    lookup: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    chat: Mapped[bytes] = mapped_column(LargeBinary)
    display_name: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(8))
    active: Mapped[bool] = mapped_column(Boolean, index=True)
    enrolled_at: Mapped[datetime] = mapped_column(Timestamp(MINUTE))
    revoked_at: Mapped[datetime | None] = mapped_column(Timestamp(MINUTE))
    mac: Mapped[bytes | None] = mapped_column(LargeBinary(32))


class Invite(Base):
    """A one-time enrolment code, known only by its keyed hash; `mac` authenticates its
    role, name and validity: when it expires, whether it was used, whether it was revoked
    (`confide invites revoke`)."""

    __tablename__ = "invites"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    code_lookup: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    display_name: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(Timestamp(MINUTE))
    expires_at: Mapped[datetime] = mapped_column(Timestamp(MINUTE))
    used_at: Mapped[datetime | None] = mapped_column(Timestamp(MINUTE))
    revoked_at: Mapped[datetime | None] = mapped_column(Timestamp(MINUTE))
    mac: Mapped[bytes | None] = mapped_column(LargeBinary(32))


class Case(Base):
    """A submitted report. `reporter` is sealed always; it holds the reporter's chat only if
    they chose to be notified in it (then `reporter_lookup` lists the case for that chat);
    otherwise nothing links the case to a chat. Times are kept to the minute."""

    __tablename__ = "cases"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    short_id: Mapped[str] = mapped_column(String(12), unique=True)
    receipt_lookup: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary)  # None: crypto-shredded
    answers: Mapped[bytes | None] = mapped_column(LargeBinary)
    reporter_lookup: Mapped[bytes | None] = mapped_column(LargeBinary(32), index=True)
    reporter: Mapped[bytes | None] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), index=True)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    claimed_by: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("responders.id", ondelete="SET NULL")
    )
    claimed_at: Mapped[datetime | None] = mapped_column(Timestamp(MINUTE))
    first_reply_at: Mapped[datetime | None] = mapped_column(Timestamp(MINUTE))
    # Responders the reporter excluded (conflict of interest), sealed: who was excluded is
    # itself a hint at who is involved.
    excluded: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The service-level clock: when the next reminder / escalation / urgent repeat is due.
    # A timer is cleared in the same transaction that fires it, so it fires once.
    claim_remind_at: Mapped[datetime | None] = mapped_column(Timestamp(MINUTE))
    claim_due_at: Mapped[datetime | None] = mapped_column(Timestamp(MINUTE))
    reply_remind_at: Mapped[datetime | None] = mapped_column(Timestamp(MINUTE))
    reply_due_at: Mapped[datetime | None] = mapped_column(Timestamp(MINUTE))
    urgent_repeat_at: Mapped[datetime | None] = mapped_column(Timestamp(MINUTE))
    next_timer_at: Mapped[datetime | None] = mapped_column(Timestamp(MINUTE), index=True)
    paused_at: Mapped[datetime | None] = mapped_column(Timestamp(MINUTE))  # waiting on the reporter
    escalated_at: Mapped[datetime | None] = mapped_column(Timestamp(MINUTE))
    submitted_at: Mapped[datetime] = mapped_column(Timestamp(MINUTE), index=True)
    updated_at: Mapped[datetime] = mapped_column(Timestamp(MINUTE))
    # Retention (bot.cases.retention): when the responders were last warned that the
    # content is about to be shredded, and when the content went (withdrawal or retention);
    # the row itself goes `metadata_days` after that.
    retention_warned_at: Mapped[datetime | None] = mapped_column(Timestamp(MINUTE))
    shredded_at: Mapped[datetime | None] = mapped_column(Timestamp(MINUTE), index=True)
    # Every change of a case is a compare-and-set on this: of two responders who claim at
    # once, or a withdrawal racing a state change, one wins and the other is told.
    version: Mapped[int] = mapped_column(Integer, server_default=text("0"))

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy's own spelling


# The responders' lists (bot.store.queries' cases_in_order) read open cases in list order
# from a position, a page at a time. Partial indexes in that order let a page be read
# without sorting, or even touching, the other open cases; the closed ones (most of the
# table) are not in them at all. A query uses one only if it states the index's condition
# in the same words (SQLite compares the expressions), with the states as literals, not
# parameters: `open_case()` and `may_be_late()` are those words, for both. Open is "not
# closed or withdrawn" (NOT IN), a condition ix_cases_status cannot serve, so that SQLite,
# without statistics, does not prefer that index and sort every open case.
SETTLED_STATUSES = tuple(sorted(s.value for s in State if s not in OPEN_STATES))


def open_case() -> ColumnElement[bool]:
    return Case.__table__.c.status.not_in(
        [literal(s, String(), literal_execute=True) for s in SETTLED_STATUSES]
    )


def may_be_late() -> ColumnElement[bool]:
    """A case with a deadline running or missed (a superset of the late ones at any time)."""
    c = Case.__table__.c
    return or_(
        c.escalated_at.is_not(None), c.claim_due_at.is_not(None), c.reply_due_at.is_not(None)
    )


def _partial_index(name: str, where: ColumnElement[bool], *columns: Any) -> Index:
    """An index over the rows `where` holds, in list order, on both databases."""
    return Index(
        name, *columns, Case.submitted_at, Case.short_id, sqlite_where=where, postgresql_where=where
    )


_partial_index("ix_cases_open_order", open_case())
_partial_index("ix_cases_open_claimed", open_case(), Case.claimed_by)
_partial_index("ix_cases_open_late", and_(open_case(), may_be_late()))


class CaseMessage(Base):
    """The thread between responders and the reporter, relayed by the bot."""

    __tablename__ = "case_messages"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    case_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("cases.id", ondelete="CASCADE"), index=True
    )
    author: Mapped[str] = mapped_column(String(16))  # "reporter" or "responder"
    responder_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("responders.id", ondelete="SET NULL")
    )
    body: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(Timestamp(MINUTE))
    read_at: Mapped[datetime | None] = mapped_column(Timestamp(MINUTE))  # by the other side


class CaseNote(Base):
    """Internal notes: responders only, never shown to the reporter."""

    __tablename__ = "case_notes"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    case_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("cases.id", ondelete="CASCADE"), index=True
    )
    responder_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("responders.id", ondelete="SET NULL")
    )
    body: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(Timestamp(MINUTE))


class EvidenceFile(Base):
    """A file the reporter (or a responder) sent, sealed under a key of its own (bot.crypto's
    FileKey) that is stored only wrapped under its draft's or case's data key: shredding the
    case's key destroys the file, and the withdrawal deletes its rows. Filed under a draft
    (`draft_owner`: a random id kept only inside the chat's sealed state, never the chat
    row's id, so that two copies of the database do not link a chat to its case) until
    submission moves it to the case. Its name, type, caption, size and hash are in
    `meta`, sealed; in the clear only how many chunks it has (its size to `CHUNK_SIZE`, as
    the chunks themselves tell). `meta` is None only while the file is being written."""

    __tablename__ = "evidence_files"
    __table_args__ = (
        CheckConstraint("(case_id IS NULL) <> (draft_owner IS NULL)", name="one_holder"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    case_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("cases.id", ondelete="CASCADE"), index=True
    )
    draft_owner: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    meta: Mapped[bytes | None] = mapped_column(LargeBinary)
    chunk_count: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(Timestamp(MINUTE))


class EvidenceChunk(Base):
    """One sealed piece of an evidence file (`CHUNK_SIZE` bytes of it, the last fewer), bound
    by its sealing to its file, its index and whether it is the last: a chunk removed,
    reordered or moved to another file makes the file refuse to open."""

    __tablename__ = "evidence_chunks"

    file_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("evidence_files.id", ondelete="CASCADE"), primary_key=True
    )
    index: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class OutboxMessage(Base):
    """A message that must reach a person, written in the same transaction as its cause,
    sent by the background sender, and deleted once delivered.

    It has no key of its own: a message for a reporter is sealed under its case's key and
    goes to the chat sealed in the case, so shredding the case destroys it (and it is then
    dropped, never sent); a message for a responder is sealed under the responder's key and
    goes to the chat sealed in their row. `case_id` on a responder's message names the case
    it is about: shredding that case drops it too."""

    __tablename__ = "outbox"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    audience: Mapped[str] = mapped_column(String(16))  # "responder" or "reporter"
    responder_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("responders.id", ondelete="CASCADE")
    )
    case_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("cases.id", ondelete="CASCADE"), index=True
    )
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    priority: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    created_at: Mapped[datetime] = mapped_column(Timestamp(MINUTE))
    due_at: Mapped[datetime] = mapped_column(Timestamp(), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(64))
    # An attempt may have reached Telegram: set before each send, cleared only by a send
    # that certainly failed. Sent again with it set, the message may arrive twice
    # (sendMessage has no idempotency key): that is counted (bot.telegram.sender).
    maybe_sent: Mapped[bool] = mapped_column(Boolean, server_default=false())


class OutboxPace(Base):
    """How fast the outbox may send, shared by every sender (bot.cases.pace): one row for
    the whole bot (`recipient` all zeros), locked by each lease so that replicas take turns,
    and one per recipient sent to in the last seconds: a responder's id, or a case's id for
    its reporter. `tat` is the limit's "theoretical arrival time"; a row whose time has
    passed says nothing and is deleted, so no recipient's row outlives a few seconds."""

    __tablename__ = "outbox_pace"

    recipient: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    tat: Mapped[datetime] = mapped_column(Micros())


class KeyCheck(Base):
    """Sealed canaries that prove at start-up the configured keys are the database's keys.

    A KEK's `state` says what the running processes may do with it: "pending" (added by a
    rotation; every process must load it before it is used), "rotating" (new data keys are
    wrapped under it while the rotation re-wraps the old ones), "current" (the same, once
    that is done), "old" (still unwraps keys that were not re-wrapped). A retired KEK's row
    is deleted with the key."""

    __tablename__ = "key_checks"

    name: Mapped[str] = mapped_column(String(16), primary_key=True)
    value: Mapped[bytes] = mapped_column(LargeBinary)
    state: Mapped[str | None] = mapped_column(String(16))


class Replica(Base):
    """A running bot process, and the KEKs it holds: a rotation waits until every live
    process holds the new KEK before anything is wrapped under it."""

    __tablename__ = "replicas"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    kek_ids: Mapped[str] = mapped_column(String(200))
    wraps_under: Mapped[int] = mapped_column(Integer)
    seen_at: Mapped[datetime] = mapped_column(Timestamp())


class ExpiringMessage(Base):
    """A message showing case content in a responder's Telegram chat, to be deleted from it
    at `delete_at` (Telegram lets a bot delete its messages for 48 hours)."""

    __tablename__ = "expiring_messages"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    responder_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("responders.id", ondelete="CASCADE")
    )
    message_id: Mapped[int] = mapped_column(BigInteger)
    delete_at: Mapped[datetime] = mapped_column(Timestamp(), index=True)


class InboxUpdate(Base):
    """An update from Telegram, stored (sealed, under a key of its own, without names)
    before the bot confirms it: a process killed while handling it finds it here again. Once
    handled, in the same transaction as its effect, its content and key are deleted; the row
    stays for a day, so that a redelivery of the same update id is recognised and dropped.
    The id is Telegram's update id: duplicates are found by the ids seen, never by order.

    On PostgreSQL a pending update also carries its chat's lookup (the keyed hash the
    `chats` row is found by, never the Telegram id), cleared with its content when it is
    handled: a replica handles a chat's pending updates in order, whoever stored them
    (bot.services.inbox)."""

    __tablename__ = "inbox"
    __table_args__ = (
        Index(
            "ix_inbox_chat_lookup",
            "chat_lookup",
            postgresql_where=text("chat_lookup IS NOT NULL"),
            sqlite_where=text("chat_lookup IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    payload: Mapped[bytes | None] = mapped_column(LargeBinary)
    received_at: Mapped[datetime] = mapped_column(Timestamp(), index=True)
    handled_at: Mapped[datetime | None] = mapped_column(Timestamp())
    chat_lookup: Mapped[bytes | None] = mapped_column(LargeBinary)


class CodeGuesses(Base):
    """Wrong receipt and enrolment codes, counted per minute across all chats: when many
    are tried, every answer to a code is slowed down (never refused, so that nobody can
    lock every reporter out)."""

    __tablename__ = "code_guesses"

    minute: Mapped[datetime] = mapped_column(Timestamp(MINUTE), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)


class KeyedMigration(Base):
    """A data migration that needed the keys (a change of a sealed format), once applied."""

    __tablename__ = "keyed_migrations"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    applied_at: Mapped[datetime] = mapped_column(Timestamp(MINUTE))


class StatisticsKeyRecord(Base):
    """The data key the statistics are sealed under, wrapped by a KEK (and re-wrapped by a
    rotation). Normally one; two processes creating it at once make two, which is fine:
    each statistics row names its key."""

    __tablename__ = "statistics_keys"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(Timestamp(MINUTE))


class CaseStatistics(Base):
    """What remains of a case for statistics once its content is gone: coarse figures,
    sealed (bot.cases.retention's Figures). Deliberately no case id and no time column: the
    row cannot be joined back to the case, its audit trail or its chat."""

    __tablename__ = "case_statistics"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    key_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("statistics_keys.id"))
    figures: Mapped[bytes] = mapped_column(LargeBinary)


class AuditEntry(Base):
    """Append-only record of every access and action on a case. Each entry's `link` is a
    keyed hash over the previous entry's link and this entry, so a changed, removed or
    re-ordered entry breaks the chain; `AuditHead` holds the newest link, so a removed
    tail is caught too."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(Timestamp(MINUTE))
    case_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    actor: Mapped[str] = mapped_column(String(40))  # a responder id, "reporter" or "system"
    role: Mapped[str] = mapped_column(String(16))  # responder, admin, reporter, system
    action: Mapped[str] = mapped_column(String(32))
    link: Mapped[bytes] = mapped_column(LargeBinary(32))


class AuditHead(Base):
    """The newest link and the number of entries, authenticated by `mac` (bot.crypto's
    audit_head_mac), so a log cut at its end cannot be passed off as whole."""

    __tablename__ = "audit_head"

    name: Mapped[str] = mapped_column(String(16), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    link: Mapped[bytes] = mapped_column(LargeBinary(32))
    mac: Mapped[bytes | None] = mapped_column(LargeBinary(32))
