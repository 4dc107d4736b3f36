"""The durable outbox: messages that must reach a person.

A notification is written in the same transaction as the change that causes it and delivered
by the background sender (bot.telegram.sender), which leases a batch, sends, and deletes
each one — or schedules a retry with exponential back-off, honouring Telegram's RetryAfter.
A restart loses nothing: the table is the queue.

Nothing in it has a key of its own. A message for a reporter is sealed under its case's key
and goes to the chat sealed in the case: once the case is shredded it can no longer be
opened, and it is dropped, never sent. A message for a responder is sealed under the
responder's key and goes to the chat sealed in their (authenticated) row."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from bot import metrics
from bot.cases import pace as pacing
from bot.cases.pace import Pace
from bot.crypto import CryptoError, Keyring
from bot.services import people
from bot.services.protocol import CaseButton, ResponderButton
from bot.store import outbox as queue
from bot.store.models import Case, OutboxMessage, Responder
from bot.store.session import Session, Sessions

log = logging.getLogger(__name__)
# A batch being sent is not picked up by another sender for this long; a sender killed with
# a batch in hand holds it no longer than that.
LEASE = timedelta(seconds=10)
BATCH = 20
MAX_DELAY = timedelta(minutes=10)
MAX_ATTEMPTS = 50  # then give up and say so in the log; about a week of retrying
URGENT = 10  # priority of alerts about someone in danger: sent before anything else


@dataclass(frozen=True)
class NoticeButton:
    """A button under a notification: its label's catalogue key, and what pressing it means
    (how that travels as callback data is the Telegram shell's business). A message queued
    by an older version holds its callback data as it was written: a string, passed on."""

    label: str
    press: ResponderButton | CaseButton | str

    def to_json(self) -> dict[str, str] | list[str]:
        if isinstance(self.press, str):
            return [self.label, self.press]
        audience = "responder" if isinstance(self.press, ResponderButton) else "case"
        argument = (
            self.press.argument if isinstance(self.press, ResponderButton) else self.press.case
        )
        return {
            "label": self.label,
            "for": audience,
            "action": self.press.action,
            "argument": argument,
        }

    @classmethod
    def from_json(cls, data: Any) -> NoticeButton:
        if isinstance(data, list):  # stored before buttons had meanings: [label, data]
            return cls(str(data[0]), str(data[1]))
        press: ResponderButton | CaseButton = (
            ResponderButton(data["action"], data["argument"])
            if data["for"] == "responder"
            else CaseButton(data["action"], data["argument"])
        )
        return cls(str(data["label"]), press)


@dataclass(frozen=True)
class Notification:
    """What to say, still without words: a catalogue key, plain-text parameters (escaped when
    rendered), buttons, and the recipient's language. A kind of "commands" asks the sender
    to set the recipient's command menu instead: their role's (params["role"], filled in
    when it is sent), or a reporter's when there is none."""

    key: str
    language: str
    params: dict[str, str] = field(default_factory=dict)
    buttons: tuple[NoticeButton, ...] = ()
    kind: str = "message"

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "language": self.language,
            "params": self.params,
            "buttons": [b.to_json() for b in self.buttons],
            "kind": self.kind,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Notification:
        return cls(
            key=data["key"],
            language=data["language"],
            params=dict(data.get("params", {})),
            buttons=tuple(NoticeButton.from_json(b) for b in data.get("buttons", [])),
            kind=data.get("kind", "message"),
        )


@dataclass(frozen=True)
class Delivery:
    """One leased outbox row, opened for sending."""

    id: uuid.UUID
    chat_id: int
    notification: Notification
    attempts: int
    recipient: uuid.UUID | None = None  # whose pace it counts against (bot.cases.pace)
    send_at: datetime | None = None  # not before, by the pace clock; None: at once
    # An earlier attempt may have reached Telegram (its sender died or timed out mid-send):
    # sending it now may show it twice.
    maybe_sent: bool = False


@dataclass(frozen=True)
class Lease:
    """What a sender took, and when (pace clock) leasing again could bring more: set when
    messages are due but held back by a limit, None when it need not look before woken."""

    deliveries: list[Delivery]
    retry_at: datetime | None = None


def take_it_on(case: Case) -> tuple[NoticeButton, ...]:
    """Claim and Open: the buttons under every alert about a case."""
    return (
        NoticeButton("btn_claim", ResponderButton("claim", case.short_id)),
        NoticeButton("btn_open", ResponderButton("open", case.short_id)),
    )


def new_case_alert(case: Case, language: str) -> Notification:
    """A case for responders to take on: its id and two buttons, never its content."""
    return Notification(
        "alert_urgent_case" if case.urgent else "alert_new_case",
        language,
        {"case": case.short_id},
        take_it_on(case),
    )


def retry_delay(attempts: int, base: float, retry_after: float | None = None) -> timedelta:
    """Exponential back-off from `base` seconds, capped; Telegram's RetryAfter wins if longer."""
    delay = timedelta(seconds=base * 2 ** max(0, attempts - 1))
    delay = min(delay, MAX_DELAY)
    if retry_after is not None:
        delay = max(delay, timedelta(seconds=retry_after))
    return delay


def to_responder(
    session: Session,
    keyring: Keyring,
    person: Responder,
    notification: Notification,
    now: datetime,
    *,
    about: Case | None = None,
    priority: int = 0,
) -> None:
    """Queue a message for a responder. `about`: the case it concerns; if that case is
    shredded before the message goes out, the message is dropped."""
    row = OutboxMessage(
        id=uuid.uuid4(),
        audience="responder",
        responder_id=person.id,
        case_id=about.id if about is not None else None,
        priority=priority,
        created_at=now,
        due_at=now,
        attempts=0,
    )
    key = keyring.responder_key(person.id, person.wrapped_key)
    row.payload = key.seal_notice(row.id, row.case_id, notification.to_json())
    session.add(row)


def to_reporter(
    session: Session,
    keyring: Keyring,
    case: Case,
    notification: Notification,
    now: datetime,
    *,
    priority: int = 0,
) -> None:
    """Queue a message for a case's reporter (the case must be linked to a chat)."""
    if case.wrapped_key is None:
        return
    row = OutboxMessage(
        id=uuid.uuid4(),
        audience="reporter",
        case_id=case.id,
        priority=priority,
        created_at=now,
        due_at=now,
        attempts=0,
    )
    key = keyring.case_key(case.id, case.wrapped_key)
    row.payload = key.seal_notice(row.id, notification.to_json())
    session.add(row)


def _real_time() -> datetime:
    return datetime.now(UTC)


class Outbox:
    """`pace`: Telegram's limits, kept together by every sender sharing the database; None
    sends as fast as it can (for tests of other things). Pacing runs on `pace_clock`, real
    time: Telegram counts real seconds, whatever the bot's clock says (a demo skips days)."""

    def __init__(
        self,
        sessions: Sessions,
        keyring: Keyring,
        *,
        pace: Pace | None = None,
        pace_clock: Callable[[], datetime] = _real_time,
    ) -> None:
        self.sessions = sessions
        self.keyring = keyring
        self.pace = pace
        self.pace_clock = pace_clock

    async def lease_due(self, now: datetime) -> list[Delivery]:
        return (await self.lease(now)).deliveries

    async def lease(self, now: datetime) -> Lease:
        """Take up to a batch of due messages for LEASE, most urgent first; several senders
        never take the same row (row locks on PostgreSQL with SKIP LOCKED; SQLite has a
        single writer). With a pace, only as many as the limits allow within its lookahead,
        each with the time it may be sent. Messages that can no longer be opened (their
        case was shredded, or the row was forged) are deleted here, unsent."""
        async with self.sessions.begin() as session:
            if self.pace is None:
                rows = await queue.lease_due(session, now, now + LEASE, BATCH)
                return Lease(await self._opened(session, [(row, None) for row in rows]))
            return await self._paced(session, self.pace, now)

    async def _paced(self, session: Session, pace: Pace, now: datetime) -> Lease:
        moment = self.pace_clock()
        bot_tat = await queue.lock_pace(session, moment)  # replicas wait here for their turn
        ready = pace.bot.earliest(bot_tat, moment)
        if ready > moment + pace.lookahead:  # a 429 holds the whole bot back
            return Lease([], ready)
        # Rows whose recipient cannot send within the lookahead are not even read.
        held_after = moment + pace.lookahead + pace.chat.tolerance
        found = await queue.due_with_pace(session, now, held_after, BATCH * 3)
        plan = pacing.plan(pace, moment, bot_tat, [(who, tat) for _, who, tat in found], BATCH)
        chosen = [(found[index][0], at) for index, at in plan.slots]
        queue.take([row for row, _ in chosen], now + LEASE)
        tats = {who: tat for who, tat in plan.chat_tats.items() if who is not None}
        if plan.bot_tat is not None:
            tats[queue.BOT] = plan.bot_tat
        await queue.save_pace(session, tats)
        retry_at = plan.retry_at
        if not found:
            held = await queue.held_until(session, now)
            retry_at = None if held is None else pace.chat.earliest(held, moment)
        return Lease(await self._opened(session, chosen), retry_at)

    async def _opened(
        self, session: Session, rows: Sequence[tuple[OutboxMessage, datetime | None]]
    ) -> list[Delivery]:
        deliveries = []
        for row, send_at in rows:
            row.attempts += 1
            opened = await self._open(session, row)
            if opened is None:
                await session.delete(row)
                continue
            chat_id, notification = opened
            recipient = row.responder_id if row.audience == "responder" else row.case_id
            deliveries.append(
                Delivery(
                    row.id, chat_id, notification, row.attempts, recipient, send_at, row.maybe_sent
                )
            )
        return deliveries

    async def hold(self, delivery: Delivery, seconds: float) -> None:
        """Telegram said "retry after": neither that chat nor the whole bot (every replica)
        sends before then. Telegram does not say which limit was hit, so both wait."""
        if self.pace is None:
            return
        async with self.sessions.begin() as session:
            moment = self.pace_clock()
            until = moment + timedelta(seconds=seconds)
            bot_tat = await queue.lock_pace(session, moment)
            tats = {queue.BOT: self.pace.bot.held(bot_tat, until)}
            if delivery.recipient is not None:
                chat_tat = await queue.pace_of(session, delivery.recipient)
                tats[delivery.recipient] = self.pace.chat.held(chat_tat, until)
            await queue.save_pace(session, tats)

    async def _open(self, session: Session, row: OutboxMessage) -> tuple[int, Notification] | None:
        try:
            if row.audience == "reporter":
                case = await session.get(Case, row.case_id) if row.case_id else None
                if case is None or case.wrapped_key is None:
                    log.info("event=outbox_dropped reason=case_shredded id=%s", row.id)
                    return None
                key = self.keyring.case_key(case.id, case.wrapped_key)
                link = key.open_link(case.reporter)
                if link is None:
                    return None
                return link.chat_id, Notification.from_json(key.open_notice(row.id, row.payload))
            person = await people.responder_by_id(session, self.keyring, row.responder_id)
            if person is None:
                log.info("event=outbox_dropped reason=no_recipient id=%s", row.id)
                return None
            payload = self.keyring.responder_key(person.id, person.wrapped_key).open_notice(
                row.id, row.case_id, row.payload
            )
            notification = Notification.from_json(payload)
            if notification.kind == "commands":
                # The menu the person's row calls for now: their role's if active (set by
                # `confide responders role`), a reporter's if revoked. Queued before either
                # change, it still brings the newest one.
                role = {"role": person.role} if person.active else {}
                notification = replace(notification, params=role)
            return people.chat_of(self.keyring, person), notification
        except CryptoError as error:
            metrics.tampering_detected("outbox_row")
            log.warning("event=tampering_detected what=outbox_row error=%s", type(error).__name__)
            return None

    async def sending(self, delivery: Delivery) -> None:
        """Stored before the message goes to Telegram: if the sender dies before it stores an
        outcome, whoever sends it again knows it may be a second copy (sendMessage has no
        idempotency key) and counts it. A message already marked needs no second write."""
        if delivery.maybe_sent:
            return
        async with self.sessions.begin() as session:
            await queue.mark_maybe_sent(session, delivery.id)

    async def delivered(self, delivery: Delivery) -> None:
        """Sent: nothing of it is kept."""
        async with self.sessions.begin() as session:
            await queue.delete(session, delivery.id)

    async def retry_later(
        self,
        delivery: Delivery,
        now: datetime,
        delay: timedelta,
        error: str,
        *,
        maybe_sent: bool = False,
    ) -> bool:
        """Schedule another attempt; False (and the message deleted) when out of attempts.
        `maybe_sent`: the failed attempt may have reached Telegram all the same (it timed
        out); an earlier attempt that may have is remembered anyway."""
        async with self.sessions.begin() as session:
            if delivery.attempts >= MAX_ATTEMPTS:
                await queue.delete(session, delivery.id)
                return False
            await queue.reschedule(
                session, delivery.id, now + delay, error[:64], maybe_sent or delivery.maybe_sent
            )
            return True

    async def release(self, deliveries: list[Delivery], now: datetime) -> None:
        """Leased but not sent (the process is stopping): back in the queue at once, for
        this process's next start or another replica, rather than when the lease runs out."""
        if deliveries:
            async with self.sessions.begin() as session:
                await queue.release(session, [d.id for d in deliveries], now)

    async def give_up(self, delivery: Delivery, error: str) -> None:
        """Undeliverable (the person blocked the bot, or the chat is gone): deleted."""
        async with self.sessions.begin() as session:
            await queue.delete(session, delivery.id)

    async def pending(self) -> int:
        async with self.sessions.begin() as session:
            return await queue.depth(session)
