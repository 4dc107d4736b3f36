"""The durable outbox: messages that must reach a person.

A notification is written in the same transaction as the change that causes it, sealed like
everything else, and delivered by the background sender (bot.telegram.sender), which leases
a batch, sends, and marks each one sent — or schedules a retry with exponential back-off,
honouring Telegram's RetryAfter. A restart loses nothing: the table is the queue."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.crypto import DataKey, FieldRef, Keyring
from bot.store.models import OutboxMessage

LEASE = timedelta(seconds=60)  # a batch being sent is not picked up by another sender
BATCH = 20
MAX_DELAY = timedelta(minutes=10)
MAX_ATTEMPTS = 50  # then give up and say so in the log; about a week of retrying


@dataclass(frozen=True)
class Notification:
    """What to say, still without words: a catalogue key, plain-text parameters (escaped when
    rendered), buttons as (label key, callback data), and the recipient's language. A kind
    of "commands" asks the sender to reset the recipient's command menu instead."""

    key: str
    language: str
    params: dict[str, str] = field(default_factory=dict)
    buttons: tuple[tuple[str, str], ...] = ()
    kind: str = "message"

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "language": self.language,
            "params": self.params,
            "buttons": [list(b) for b in self.buttons],
            "kind": self.kind,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Notification:
        return cls(
            key=data["key"],
            language=data["language"],
            params=dict(data.get("params", {})),
            buttons=tuple((str(a), str(b)) for a, b in data.get("buttons", [])),
            kind=data.get("kind", "message"),
        )


@dataclass(frozen=True)
class Delivery:
    """One leased outbox row, opened for sending."""

    id: uuid.UUID
    chat_id: int
    notification: Notification
    attempts: int


def retry_delay(attempts: int, base: float, retry_after: float | None = None) -> timedelta:
    """Exponential back-off from `base` seconds, capped; Telegram's RetryAfter wins if longer."""
    delay = timedelta(seconds=base * 2 ** max(0, attempts - 1))
    delay = min(delay, MAX_DELAY)
    if retry_after is not None:
        delay = max(delay, timedelta(seconds=retry_after))
    return delay


def enqueue(
    session: AsyncSession,
    keyring: Keyring,
    chat_id: int,
    notification: Notification,
    now: datetime,
) -> None:
    row = OutboxMessage(id=uuid.uuid4(), created_at=now, due_at=now, attempts=0)
    key = DataKey.generate()
    row.wrapped_key = keyring.wrap(key, f"outbox:{row.id}")
    row.recipient = key.seal_text(str(chat_id), FieldRef("outbox", str(row.id), "recipient"))
    row.payload = key.seal_json(notification.to_json(), FieldRef("outbox", str(row.id), "payload"))
    session.add(row)


class Outbox:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], keyring: Keyring) -> None:
        self.sessions = sessions
        self.keyring = keyring

    async def lease_due(self, now: datetime) -> list[Delivery]:
        """Take up to a batch of due messages for LEASE; several senders never take the same
        row (row locks on PostgreSQL with SKIP LOCKED; SQLite has a single writer)."""
        async with self.sessions.begin() as session:
            query = (
                select(OutboxMessage)
                .where(
                    OutboxMessage.sent_at.is_(None),
                    OutboxMessage.failed_at.is_(None),
                    OutboxMessage.due_at <= now,
                )
                .order_by(OutboxMessage.due_at)
                .limit(BATCH)
            )
            if session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            rows = list(await session.scalars(query))
            deliveries = []
            for row in rows:
                row.due_at = now + LEASE
                row.attempts += 1
                key = self.keyring.unwrap(row.wrapped_key, f"outbox:{row.id}")
                chat_id = int(
                    key.open_text(row.recipient, FieldRef("outbox", str(row.id), "recipient"))
                )
                payload = key.open_json(row.payload, FieldRef("outbox", str(row.id), "payload"))
                deliveries.append(
                    Delivery(row.id, chat_id, Notification.from_json(payload), row.attempts)
                )
        return deliveries

    async def mark_sent(self, delivery: Delivery, now: datetime) -> None:
        async with self.sessions.begin() as session:
            row = await session.get(OutboxMessage, delivery.id)
            if row is not None:
                row.sent_at = now
                row.last_error = None

    async def retry_later(
        self, delivery: Delivery, now: datetime, delay: timedelta, error: str
    ) -> bool:
        """Schedule another attempt; False (and the row marked failed) when out of attempts."""
        async with self.sessions.begin() as session:
            row = await session.get(OutboxMessage, delivery.id)
            if row is None:
                return False
            row.last_error = error[:64]
            if row.attempts >= MAX_ATTEMPTS:
                row.failed_at = now
                return False
            row.due_at = now + delay
            return True

    async def give_up(self, delivery: Delivery, now: datetime, error: str) -> None:
        async with self.sessions.begin() as session:
            row = await session.get(OutboxMessage, delivery.id)
            if row is not None:
                row.failed_at = now
                row.last_error = error[:64]

    async def pending(self) -> int:
        async with self.sessions.begin() as session:
            rows = await session.scalars(
                select(OutboxMessage.id).where(
                    OutboxMessage.sent_at.is_(None), OutboxMessage.failed_at.is_(None)
                )
            )
            return len(list(rows))
