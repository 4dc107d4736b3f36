"""Retention, with crypto-shredding: a resolved or closed case keeps its content for
`[retention] closed_days` after its last change, then it is shredded exactly as a withdrawal
shreds (CaseVault.destroy: the data key and every sealed field go, with the thread, the
notes and every message waiting about it; then SQLite's log is purged). Its responders are
warned a week before. Coarse figures are kept for statistics (bot.services.statistics);
`[retention] metadata_days` after the content went, the row that remains of a withdrawn or
shredded case is deleted too.

What stays for good is the audit trail: its entries (time, role, action, case id) outlive
the case, because each entry's link covers the one before it; deleting a case's entries
would break the chain that proves nobody erased the record of who read what.

Driven by times stored on each case, never by in-memory timers, and safe to run from
several processes at once: each act is a compare-and-set on the case's version
(bot.store.retention), so a case is warned once and shredded once."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from bot import metrics
from bot.cases import retention as rules
from bot.cases.lifecycle import State
from bot.cases.readers import Occasion
from bot.cases.retention import Retention
from bot.crypto import CryptoError, Keyring
from bot.services import audit, outbox, people
from bot.services.cases import CaseVault
from bot.services.outbox import NoticeButton, Notification
from bot.services.protocol import ResponderButton
from bot.services.statistics import Statistics
from bot.store import retention as stored
from bot.store.models import Case
from bot.store.session import Session, Sessions

log = logging.getLogger(__name__)
BATCH = 50  # cases per transaction: short transactions, so turns never wait long
KEPT = [s.value for s in rules.KEPT_STATES]
ACTOR = "system"


@dataclass(frozen=True)
class RetentionResult:
    """What one run did."""

    warned: int = 0  # cases whose responders were warned
    shredded: int = 0  # cases whose content was shredded
    deleted: int = 0  # rows of withdrawn or shredded cases deleted
    recorded: int = 0  # statistics rows written (shredded and withdrawn cases)

    @property
    def anything(self) -> bool:
        return bool(self.warned or self.shredded or self.deleted or self.recorded)


Step = Callable[[Session, datetime], Awaitable[tuple[int, int]]]


class RetentionWatch:
    def __init__(
        self,
        sessions: Sessions,
        keyring: Keyring,
        retention: Retention,
        clock: Callable[[], datetime],
        on_notify: Callable[[], None] = lambda: None,
    ) -> None:
        self.sessions = sessions
        self.keyring = keyring
        self.vault = CaseVault(keyring)
        self.statistics = Statistics(keyring)
        self.retention = retention
        self.clock = clock
        self.on_notify = on_notify  # wakes the outbox's sender: warnings were queued

    async def run(self) -> RetentionResult:
        """Everything retention has to do now; idempotent."""
        now = self.clock()
        withdrawn = await self._in_batches(self._record_withdrawn, now)
        warned = await self._in_batches(self._warn, now)
        shredded = await self._in_batches(self._shred, now)
        deleted = await self._in_batches(self._delete, now)
        result = RetentionResult(warned, shredded, deleted, withdrawn + shredded)
        if warned:
            self.on_notify()
        if shredded or deleted:
            await stored.purge_after_shredding(self.sessions)
        if result.anything:
            async with self.sessions.begin() as session:
                await audit.record(session, self.keyring, None, ACTOR, ACTOR, "retention_run", now)
            log.info(
                "event=retention warned=%d shredded=%d deleted=%d recorded=%d",
                result.warned,
                result.shredded,
                result.deleted,
                result.recorded,
            )
        return result

    async def _in_batches(self, step: Step, now: datetime) -> int:
        """A step, one transaction per batch, until a batch finds less than a full batch
        or wins none (what is left is another process's, or changed under us)."""
        total = 0
        while True:
            async with self.sessions.begin() as session:
                seen, done = await step(session, now)
            total += done
            if seen < BATCH or not done:
                return total

    # -- the steps: each returns (cases looked at, cases acted on) -----------------------

    async def _record_withdrawn(self, session: Session, now: datetime) -> tuple[int, int]:
        """A withdrawn case's figures, without its category: the reporter was promised that
        everything they wrote is deleted. Its `shredded_at` (the withdrawal) starts the
        clock for deleting its row."""
        cases = await stored.withdrawn_without_statistics(session, BATCH)
        done = 0
        for case in cases:
            if not await stored.take_case(session, case, shredded_at=min(case.updated_at, now)):
                continue
            await self.statistics.record(session, await self._figures(session, case, None), now)
            done += 1
        return len(cases), done

    async def _warn(self, session: Session, now: datetime) -> tuple[int, int]:
        limits = rules.cutoffs(now, self.retention)
        cases = await stored.cases_to_warn(session, KEPT, limits.warn_changed_before, BATCH)
        if not cases:
            return 0, 0
        staff = await people.active_responders(session, self.keyring)
        done = 0
        for case in cases:
            if not rules.due_for_warning(
                State(case.status), case.updated_at, case.retention_warned_at, now, self.retention
            ) or not await stored.take_case(session, case, retention_warned_at=now):
                continue
            await audit.record(
                session, self.keyring, case.id, ACTOR, ACTOR, "retention_warning", now
            )
            excluded = self.vault.excluded(case, staff)
            for person in people.told(Occasion.RETENTION, staff, excluded, case.claimed_by):
                outbox.to_responder(
                    session, self.keyring, person, _warning(case, person.language), now, about=case
                )
            log.info("event=retention_warning case=%s", case.short_id)
            done += 1
        return len(cases), done

    async def _shred(self, session: Session, now: datetime) -> tuple[int, int]:
        limits = rules.cutoffs(now, self.retention)
        cases = await stored.cases_to_shred(
            session, KEPT, limits.shred_changed_before, limits.shred_warned_before, BATCH
        )
        done = 0
        for case in cases:
            if not rules.due_for_shredding(
                State(case.status), case.updated_at, case.retention_warned_at, now, self.retention
            ) or not await stored.take_case(session, case):
                continue
            # The category is read before the key goes: afterwards nothing can read it.
            figures = await self._figures(session, case, self._answers(case))
            await self.statistics.record(session, figures, now)
            await self.vault.destroy(session, case)
            # Closed for good: a resolved case without content cannot be reopened.
            case.status, case.shredded_at, case.updated_at = State.CLOSED.value, now, now
            await audit.record(session, self.keyring, case.id, ACTOR, ACTOR, "retention_shred", now)
            log.info("event=retention_shred case=%s", case.short_id)
            done += 1
        return len(cases), done

    async def _delete(self, session: Session, now: datetime) -> tuple[int, int]:
        limits = rules.cutoffs(now, self.retention)
        cases = await stored.remains_to_delete(session, limits.delete_gone_before, BATCH)
        done = 0
        for case in cases:
            if not rules.due_for_deletion(case.shredded_at, now, self.retention):
                continue
            case_id, short_id = case.id, case.short_id
            if not await stored.delete_remains(session, case):
                continue
            # The entry names a case that no longer exists: the trail says where it went.
            await audit.record(
                session, self.keyring, case_id, ACTOR, ACTOR, "retention_delete", now
            )
            log.info("event=retention_delete case=%s", short_id)
            done += 1
        return len(cases), done

    # -- helpers ---------------------------------------------------------------------------

    def _answers(self, case: Case) -> dict[str, object] | None:
        try:
            document = self.vault.answers(case)
        except CryptoError as error:
            # Tampered content keeps no category; the shred goes ahead all the same.
            metrics.tampering_detected("case_answers")
            log.warning(
                "event=tampering_detected what=case_answers case=%s error=%s",
                case.short_id,
                type(error).__name__,
            )
            return None
        answers = document.get("answers")
        return answers if isinstance(answers, dict) else None

    async def _figures(
        self, session: Session, case: Case, answers: dict[str, object] | None
    ) -> rules.Figures:
        trail = [(entry.at, entry.action) for entry in await audit.trail(session, case.id)]
        return rules.figures(State(case.status), case.submitted_at, trail, answers)


def _warning(case: Case, language: str) -> Notification:
    """The case's id, when, and a button to open it; never its content."""
    return Notification(
        "retention_warning",
        language,
        {"case": case.short_id, "days": str(rules.WARNING_AHEAD.days)},
        (NoticeButton("btn_open", ResponderButton("open", case.short_id)),),
    )
