"""The service-level clock: reminders at half time, escalation to admins at the deadline,
urgent alerts repeated until someone claims the case.

Driven by due times stored on each case, never by in-memory timers: a restart loses
nothing, and a timer is cleared in the same transaction that queues its notifications, so
it fires once. Several bot processes may scan one database: PostgreSQL hands each its own
rows (FOR UPDATE SKIP LOCKED), and the firing itself is a conditional update that only one
process can win, on SQLite too."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime

from bot import metrics
from bot.cases.lifecycle import OPEN_STATES, State
from bot.cases.readers import Occasion
from bot.cases.sla import Due, ServiceLevels, Timers, due
from bot.crypto import Keyring
from bot.services import audit, outbox, people
from bot.services.cases import CaseVault
from bot.services.outbox import URGENT, NoticeButton, Notification, take_it_on
from bot.store import deadlines as clock
from bot.store import queries
from bot.store.models import Case, Responder
from bot.store.session import Session, Sessions

log = logging.getLogger(__name__)
BATCH = 100


def timers_of(case: Case) -> Timers:
    return Timers(
        case.claim_remind_at,
        case.claim_due_at,
        case.reply_remind_at,
        case.reply_due_at,
        case.urgent_repeat_at,
    )


def set_timers(case: Case, timers: Timers) -> None:
    case.claim_remind_at, case.claim_due_at = timers.claim_remind_at, timers.claim_due_at
    case.reply_remind_at, case.reply_due_at = timers.reply_remind_at, timers.reply_due_at
    case.urgent_repeat_at = timers.urgent_repeat_at
    case.next_timer_at = None if case.paused_at is not None else timers.next_at()


def pause(case: Case, now: datetime) -> None:
    """Waiting on the reporter: the responders' clock stops."""
    if case.paused_at is None:
        case.paused_at, case.next_timer_at = now, None


def resume(case: Case, now: datetime) -> None:
    if case.paused_at is not None:
        shifted = timers_of(case).shifted(now - case.paused_at)
        case.paused_at = None
        set_timers(case, shifted)


def stop(case: Case) -> None:
    case.paused_at = None
    set_timers(case, Timers())


def _count(what: Due) -> None:
    if what is Due.REPEAT_URGENT:
        metrics.current().reminder_sent("urgent")
    elif what in (Due.REMIND_CLAIM, Due.REMIND_REPLY):
        metrics.current().reminder_sent(what.value.removeprefix("remind_"))
    else:
        metrics.current().escalation_sent(what.value.removeprefix("escalate_"))


class DeadlineWatch:
    def __init__(
        self,
        sessions: Sessions,
        keyring: Keyring,
        levels: ServiceLevels,
        clock: Callable[[], datetime],
        on_notify: Callable[[], None] = lambda: None,
    ) -> None:
        self.sessions = sessions
        self.keyring = keyring
        self.vault = CaseVault(keyring)
        self.levels = levels
        self.clock = clock
        self.on_notify = on_notify

    async def scan(self) -> int:
        """Fire everything due now; returns how many timers fired."""
        now = self.clock()
        fired_all: list[Due] = []
        running = [s.value for s in OPEN_STATES if s is not State.WAITING]
        async with self.sessions.begin() as session:
            for case in await clock.cases_due(session, now, running, BATCH):
                fired, after = due(timers_of(case), now, self.levels)
                won = await clock.claim_timers(
                    session,
                    case,
                    claim_remind_at=after.claim_remind_at,
                    claim_due_at=after.claim_due_at,
                    reply_remind_at=after.reply_remind_at,
                    reply_due_at=after.reply_due_at,
                    urgent_repeat_at=after.urgent_repeat_at,
                    next_timer_at=after.next_at(),
                    escalated_at=now
                    if any(d in (Due.ESCALATE_CLAIM, Due.ESCALATE_REPLY) for d in fired)
                    else case.escalated_at,
                )
                if not won:
                    continue  # another process fired it
                for what in fired:
                    await self._fire(session, case, what, now)
                    fired_all.append(what)
        # Counted once committed: a scan that failed sent nothing.
        for what in fired_all:
            _count(what)
        if fired_all:
            self.on_notify()
        return len(fired_all)

    async def check_staffing(self) -> int:
        """Warn while nobody can act on reports (no active responder): reports are kept and
        wait, and the operator must know. Returns how many active responders there are."""
        async with self.sessions.begin() as session:
            staff = await people.active_responders(session, self.keyring)
            if staff:
                return len(staff)
            waiting = await queries.open_cases(session, [s.value for s in OPEN_STATES])
        log.warning(
            "event=no_active_responder waiting_cases=%d hint=run `confide invite --role admin`",
            len(waiting),
        )
        return 0

    async def _fire(self, session: Session, case: Case, what: Due, now: datetime) -> None:
        await audit.record(session, self.keyring, case.id, "system", "system", what.value, now)
        staff = await people.active_responders(session, self.keyring)
        excluded = self.vault.excluded(case, staff)

        def told(occasion: Occasion) -> list[Responder]:
            return people.told(occasion, staff, excluded, case.claimed_by)

        buttons = take_it_on(case)
        params = {"case": case.short_id}
        if what is Due.REPEAT_URGENT:
            recipients = told(Occasion.NEW_CASE)
            self._tell(session, case, recipients, "alert_urgent_repeat", buttons, now, URGENT)
        elif what in (Due.REMIND_CLAIM, Due.REMIND_REPLY):
            recipients = told(Occasion.REMINDER)
            self._tell(session, case, recipients, f"reminder_{what.value[7:]}", buttons, now)
        else:
            recipients = told(Occasion.ESCALATION)
            self._tell(session, case, recipients, f"escalated_{what.value[9:]}", buttons, now)
            reporter = self.vault.reporter(case)
            if reporter is not None:
                outbox.to_reporter(
                    session,
                    self.keyring,
                    case,
                    Notification("notify_escalated", reporter.language, params),
                    now,
                )
        log.info("event=deadline case=%s what=%s", case.short_id, what.value)

    def _tell(
        self,
        session: Session,
        case: Case,
        recipients: Iterable[Responder],
        key: str,
        buttons: tuple[NoticeButton, ...],
        now: datetime,
        priority: int = 0,
    ) -> None:
        params = {"case": case.short_id}
        for person in recipients:
            outbox.to_responder(
                session,
                self.keyring,
                person,
                Notification(key, person.language, params, buttons),
                now,
                about=case,
                priority=priority,
            )
