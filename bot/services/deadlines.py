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

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cases.lifecycle import OPEN_STATES, State
from bot.cases.sla import Due, ServiceLevels, Timers, due
from bot.crypto import Keyring
from bot.services import audit
from bot.services.cases import CaseVault, responder_chat
from bot.services.outbox import Notification, enqueue
from bot.store import queries
from bot.store.models import Case, Responder

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


class DeadlineWatch:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
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
        fired_total = 0
        async with self.sessions.begin() as session:
            query = (
                select(Case)
                .where(
                    Case.next_timer_at <= now,
                    Case.status.in_([s.value for s in OPEN_STATES if s is not State.WAITING]),
                )
                .order_by(Case.next_timer_at)
                .limit(BATCH)
            )
            if session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            for case in list(await session.scalars(query)):
                fired, after = due(timers_of(case), now, self.levels)
                won = await session.execute(
                    update(Case)
                    .where(Case.id == case.id, Case.next_timer_at == case.next_timer_at)
                    .values(
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
                    .execution_options(synchronize_session=False)
                )
                if getattr(won, "rowcount", 0) != 1:
                    continue  # another process fired it
                for what in fired:
                    await self._fire(session, case, what, now)
                    fired_total += 1
        if fired_total:
            self.on_notify()
        return fired_total

    async def _fire(self, session: AsyncSession, case: Case, what: Due, now: datetime) -> None:
        await audit.record(session, self.keyring, case.id, "system", "system", what.value, now)
        excluded = self.vault.excluded(case)
        people = [p for p in await queries.responders(session)]
        admins = [p for p in people if p.role == "admin"]
        handlers = [p for p in people if p.id not in excluded]
        buttons = (
            ("btn_claim", f"R|claim|{case.short_id}"),
            ("btn_open", f"R|open|{case.short_id}"),
        )
        params = {"case": case.short_id}
        if what is Due.REPEAT_URGENT:
            self._tell(session, {*handlers, *admins}, "alert_urgent_repeat", params, buttons, now)
        elif what in (Due.REMIND_CLAIM, Due.REMIND_REPLY):
            claimer = [p for p in handlers if p.id == case.claimed_by]
            self._tell(
                session,
                claimer or handlers or admins,
                f"reminder_{what.value[7:]}",
                params,
                buttons,
                now,
            )
        else:
            self._tell(
                session, admins or handlers, f"escalated_{what.value[9:]}", params, buttons, now
            )
            reporter = self.vault.reporter(case)
            if reporter is not None:
                chat_id, language = reporter
                enqueue(
                    session,
                    self.keyring,
                    chat_id,
                    Notification("notify_escalated", language, params),
                    now,
                )
        log.info("event=deadline case=%s what=%s", case.short_id, what.value)

    def _tell(
        self,
        session: AsyncSession,
        people: Iterable[Responder],
        key: str,
        params: dict[str, str],
        buttons: tuple[tuple[str, str], ...],
        now: datetime,
    ) -> None:
        for person in people:
            enqueue(
                session,
                self.keyring,
                responder_chat(self.keyring, person),
                Notification(key, person.language, params, buttons),
                now,
            )
