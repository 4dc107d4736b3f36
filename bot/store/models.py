"""Tables. Anything that could identify a person or tell what happened is a sealed blob
(see bot.crypto); only coarse metadata — states, flags, timestamps — is plaintext."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    TypeDecorator,
    Uuid,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Timestamp(TypeDecorator[datetime]):
    """Always timezone-aware UTC, also on SQLite, which forgets the zone."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware UTC time")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Chat(Base):
    """One private chat with the bot: its preferences and its encrypted conversation state.

    `lookup` is a keyed hash of the Telegram chat id, so the row can be found on each update
    without the chat id ever being stored in the clear. `last_update_id` de-duplicates
    Telegram's updates (a redelivery, or one that reached two replicas) in the same row write
    as their effect; `version` makes two concurrent writers of one chat detect each other
    (the rows are read and written by bot.store.chats)."""

    __tablename__ = "chats"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    lookup: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    language: Mapped[str | None] = mapped_column(String(8))
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    state: Mapped[bytes | None] = mapped_column(LargeBinary)
    last_update_id: Mapped[int | None] = mapped_column(BigInteger)
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(Timestamp())
    updated_at: Mapped[datetime] = mapped_column(Timestamp(), index=True)


class Responder(Base):
    """HR / ethics staff (and admins). `lookup` finds them by chat; `chat` is their Telegram
    chat id, sealed, so alerts can reach them."""

    __tablename__ = "responders"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    lookup: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    chat: Mapped[bytes] = mapped_column(LargeBinary)
    display_name: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(8))
    active: Mapped[bool] = mapped_column(Boolean, index=True)
    enrolled_at: Mapped[datetime] = mapped_column(Timestamp())
    revoked_at: Mapped[datetime | None] = mapped_column(Timestamp())


class Invite(Base):
    """A one-time enrolment code, known only by its keyed hash."""

    __tablename__ = "invites"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    code_lookup: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    display_name: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(Timestamp())
    expires_at: Mapped[datetime] = mapped_column(Timestamp())
    used_at: Mapped[datetime | None] = mapped_column(Timestamp())


class Case(Base):
    """A submitted report. `reporter_lookup`/`reporter` are set only if the reporter chose
    to be notified in their chat; otherwise nothing links the case to a chat."""

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
    claimed_at: Mapped[datetime | None] = mapped_column(Timestamp())
    first_reply_at: Mapped[datetime | None] = mapped_column(Timestamp())
    # Responders the reporter excluded (conflict of interest), sealed: who was excluded is
    # itself a hint at who is involved.
    excluded: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The service-level clock: when the next reminder / escalation / urgent repeat is due.
    # A timer is cleared in the same transaction that fires it, so it fires once.
    claim_remind_at: Mapped[datetime | None] = mapped_column(Timestamp())
    claim_due_at: Mapped[datetime | None] = mapped_column(Timestamp())
    reply_remind_at: Mapped[datetime | None] = mapped_column(Timestamp())
    reply_due_at: Mapped[datetime | None] = mapped_column(Timestamp())
    urgent_repeat_at: Mapped[datetime | None] = mapped_column(Timestamp())
    next_timer_at: Mapped[datetime | None] = mapped_column(Timestamp(), index=True)
    paused_at: Mapped[datetime | None] = mapped_column(Timestamp())  # waiting on the reporter
    escalated_at: Mapped[datetime | None] = mapped_column(Timestamp())
    submitted_at: Mapped[datetime] = mapped_column(Timestamp(), index=True)
    updated_at: Mapped[datetime] = mapped_column(Timestamp())


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
    created_at: Mapped[datetime] = mapped_column(Timestamp())
    read_at: Mapped[datetime | None] = mapped_column(Timestamp())  # by the other side


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
    created_at: Mapped[datetime] = mapped_column(Timestamp())


class OutboxMessage(Base):
    """A message that must reach a person, written in the same transaction as its cause and
    sent by the background sender. Recipient and content are sealed like everything else."""

    __tablename__ = "outbox"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    recipient: Mapped[bytes] = mapped_column(LargeBinary)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(Timestamp())
    due_at: Mapped[datetime] = mapped_column(Timestamp(), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[datetime | None] = mapped_column(Timestamp(), index=True)
    failed_at: Mapped[datetime | None] = mapped_column(Timestamp())
    last_error: Mapped[str | None] = mapped_column(String(64))


class KeyCheck(Base):
    """Sealed canaries that prove at start-up the configured keys are the database's keys."""

    __tablename__ = "key_checks"

    name: Mapped[str] = mapped_column(String(16), primary_key=True)
    value: Mapped[bytes] = mapped_column(LargeBinary)


class AuditEntry(Base):
    """Append-only record of every access and action on a case. Each entry's `link` is a
    keyed hash over the previous entry's link and this entry, so a changed, removed or
    re-ordered entry breaks the chain; `AuditHead` holds the newest link, so a removed
    tail is caught too."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(Timestamp())
    case_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    actor: Mapped[str] = mapped_column(String(40))  # a responder id, "reporter" or "system"
    role: Mapped[str] = mapped_column(String(16))  # responder, admin, reporter, system
    action: Mapped[str] = mapped_column(String(32))
    link: Mapped[bytes] = mapped_column(LargeBinary(32))


class AuditHead(Base):
    __tablename__ = "audit_head"

    name: Mapped[str] = mapped_column(String(16), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    link: Mapped[bytes] = mapped_column(LargeBinary(32))
