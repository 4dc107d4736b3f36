"""One update's working state (a Turn): what the reporter's and responders' logic need while
handling one update, and what it asks to be sent to others. A turn knows its Context, never
the service that runs it."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from bot.cases import throttle
from bot.cases.limits import allowed, counted
from bot.cases.readers import Occasion
from bot.crypto import DraftKey, Keyring
from bot.i18n import Language, pick_language
from bot.services import audit, outbox, people
from bot.services.cases import CaseVault
from bot.services.chat_state import ChatState
from bot.services.context import Context
from bot.services.outbox import Notification
from bot.services.protocol import Incoming, Say
from bot.store import guesses
from bot.store.models import Case, Responder
from bot.store.session import Session

CODE_ATTEMPTS = 5  # wrong receipt or enrolment codes before a pause
CODE_PAUSE = timedelta(minutes=15)


@dataclass
class Turn:
    """Everything one update's logic needs, and what it asks to be sent to others."""

    context: Context
    lookup: bytes  # the chat's keyed hash
    chosen_language: str | None  # set with /language; else the client's
    state: ChatState
    incoming: Incoming
    now: datetime
    responder: Responder | None = None
    notified: bool = False
    opened_session: Session | None = None
    # The key the current draft is sealed under; at submission it becomes the case's key.
    draft_key: DraftKey | None = None
    draft_sent: bool = False  # the draft's key became a case's key
    # The chat row's id: what the draft's key is bound to (its evidence is filed under
    # a random id in the sealed state instead: ChatState.draft_files).
    chat_row: uuid.UUID | None = None
    shredded: bool = False  # something was destroyed: storage must not keep old copies
    delay: float = 0.0  # seconds the answer waits (bot.cases.throttle)

    @property
    def session(self) -> Session:
        """The update's session, opened when the turn first needs more than its chat row."""
        if self.opened_session is None:
            self.opened_session = self.context.sessions()
        return self.opened_session

    async def close(self) -> None:
        if self.opened_session is not None:
            await self.opened_session.close()

    @property
    def today(self) -> date:
        """The date the reporter's "today" and "yesterday" mean."""
        return self.now.astimezone(self.context.zone).date()

    @property
    def language(self) -> Language:
        return pick_language(
            self.chosen_language, self.incoming.client_language, self.context.default_language
        )

    @property
    def keyring(self) -> Keyring:
        return self.context.keyring

    @property
    def vault(self) -> CaseVault:
        return CaseVault(self.context.keyring)

    def notify_responder(
        self,
        person: Responder,
        notification: Notification,
        about: Case | None = None,
        priority: int = 0,
    ) -> None:
        outbox.to_responder(
            self.session,
            self.keyring,
            person,
            notification,
            self.now,
            about=about,
            priority=priority,
        )
        self.notified = True

    def notify_reporter(self, case: Case, notification: Notification) -> None:
        outbox.to_reporter(self.session, self.keyring, case, notification, self.now)
        self.notified = True

    async def exclusions(self, case: Case) -> frozenset[uuid.UUID]:
        staff = await people.active_responders(self.session, self.keyring)
        return self.vault.excluded(case, staff)

    async def notify_responders(
        self,
        occasion: Occasion,
        notification_for: Callable[[str], Notification],
        case: Case,
        excluded: frozenset[uuid.UUID],
        priority: int = 0,
        about: bool = True,
        staff: list[Responder] | None = None,
    ) -> int:
        """Tell those whom the policy (bot.cases.readers) names for this occasion; returns
        how many. `about`: whether the message dies with the case if it is shredded first.
        `staff`: the active responders, if the caller has just read them in this session."""
        if staff is None:
            staff = await people.active_responders(self.session, self.keyring)
        chosen = people.told(occasion, staff, excluded, case.claimed_by)
        for person in chosen:
            self.notify_responder(
                person, notification_for(person.language), case if about else None, priority
            )
        return len(chosen)

    async def audit(self, case: Case, action: str) -> None:
        actor = self.responder
        await audit.record(
            self.session,
            self.keyring,
            case.id,
            str(actor.id) if actor else "reporter",
            actor.role if actor else "reporter",
            action,
            self.now,
        )

    # -- wrong codes are rate-limited per chat ---------------------------------------------

    def code_pause(self) -> Say | None:
        """After too many wrong codes, the message to show instead of checking another."""
        recent = [
            t
            for t in (datetime.fromisoformat(s) for s in self.state.code_failures)
            if self.now - t < CODE_PAUSE
        ]
        self.state.code_failures = [t.isoformat() for t in recent]
        if len(recent) < CODE_ATTEMPTS:
            return None
        left = CODE_PAUSE - (self.now - min(recent))
        return Say("too_many_codes", {"minutes": max(1, round(left.total_seconds() / 60))})

    async def code_checked(self) -> None:
        """A code is being checked: while many wrong ones are tried (anywhere), the answer
        is slowed down — never refused, so that nobody can lock every reporter out."""
        wrong = await guesses.wrong_since(self.session, self.now - throttle.WINDOW)
        self.delay = throttle.slowdown(wrong)

    async def code_failed(self) -> None:
        # A right code does not wipe the wrong ones: guessing between two known codes
        # must not reset the count.
        self.state.code_failures.append(self.now.isoformat())
        await guesses.record_wrong(self.session, self.now)

    def within_limit(self, kind: str) -> bool:
        """Whether this chat may start one more report ("reports", a day) or send one more
        message to responders ("messages", an hour); counted if so."""
        limits = self.context.limits
        per, limit = (
            ("day", limits.reports_per_day)
            if kind == "reports"
            else ("hour", limits.messages_per_hour)
        )
        counter = self.state.counters.get(kind)
        if not allowed(counter, self.now, per, limit):
            return False
        self.state.counters[kind] = counted(counter, self.now, per)
        return True
