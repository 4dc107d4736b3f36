"""The responders' side: the queue, claiming, reading a case, writing to the reporter
(relayed, anonymous both ways), internal notes and the case lifecycle. Admins' commands are
bot.services.admin.

A command (`/claim C-7F3-K9Q`) and a button (Claim under an alert) are the same act, and go
through one dispatch. Every entry here runs only after the conversation service found an
active responder for this chat (admins for admin commands); to anyone else these commands
do not exist."""

from __future__ import annotations

import logging
import uuid

from bot import metrics
from bot.cases.ids import normalize_short_id
from bot.cases.lifecycle import (
    OPEN_STATES,
    TRANSITIONS,
    State,
    TransitionError,
    check_transition,
    parse_state,
)
from bot.cases.sla import Timers, after_claim, after_first_reply, timers_at_submission
from bot.crypto import CryptoError
from bot.intake.text import utf16_length, visible
from bot.services import admin, delivery, listing, people, receiving
from bot.services.cases import CaseDestroyed
from bot.services.deadlines import pause as pause_timers
from bot.services.deadlines import resume as resume_timers
from bot.services.deadlines import set_timers, timers_of
from bot.services.deadlines import stop as stop_timers
from bot.services.evidence import Holder
from bot.services.outbox import NoticeButton, Notification
from bot.services.protocol import (
    CaseButton,
    Command,
    FileSent,
    ResponderButton,
    Say,
    ShowCaseFile,
    ShowHelp,
    Term,
    Text,
    View,
)
from bot.services.turn import Turn
from bot.store import queries
from bot.store.models import Case, Responder

log = logging.getLogger(__name__)
MAX_MESSAGE = 3500  # UTF-16 units, as Telegram counts: it must fit in the relayed message
LISTS = listing.KINDS  # /queue, /mine and (admins) /overdue
CASE_ACTS = ("open", "claim", "release", "reply", "note", "state", "audit", "filenames")


class ResponderTurn:
    def __init__(self, turn: Turn) -> None:
        assert turn.responder is not None
        self.turn = turn
        self.me: Responder = turn.responder

    async def run(self) -> list[View]:
        event = self.turn.incoming.event
        match event:
            case Command("help"):
                return [ShowHelp(self.me.role)]
            case Command("cancel"):
                self.turn.state.compose = None
                return [Say("compose_cancelled")]
            case Command(name, argument):
                self.turn.state.compose = None
                case_text, _, rest = argument.strip().partition(" ")
                return await self.act(name, case_text, rest.strip(), typed=True)
            case ResponderButton(action, argument):
                case_text, _, extra = argument.partition(":")
                return await self.act(action, case_text, extra, typed=False)
            case Text(text):
                return await self._composed(text)
            case FileSent():
                return await self._file(event)
        return [Say("notice_stale_button")]

    async def act(self, action: str, case_text: str, rest: str, *, typed: bool) -> list[View]:
        """One act of a responder, whether typed as a command or pressed as a button."""
        unknown: list[View] = [Say("unknown_command" if typed else "notice_stale_button")]
        if action in admin.ADMIN_ONLY and self.me.role != "admin":
            return unknown  # a forged button must not reach an admin's power
        if action in LISTS:
            # A button carries the page number and where the page starts (`2:>...`).
            return [await listing.page(self.turn, self.me, action, _page(case_text), rest)]
        if action in admin.ADMIN_ONLY and action not in CASE_ACTS:
            return await admin.command(self.turn, self.me, action, f"{case_text} {rest}".strip())
        if action not in CASE_ACTS:
            return unknown
        if not case_text:
            return [Say(f"usage_{action}")]
        case = await self.case(case_text)
        if case is None:
            return [Say("no_such_case", {"case": _short(case_text)})]
        if action == "open":
            return await self._open(case)
        if action == "audit":
            return await admin.audit_trail(self.turn, case, _page(rest))
        if action == "filenames":
            try:
                return await delivery.original_names(self.turn, case, self.turn.vault.key(case))
            except CaseDestroyed:
                return [Say("no_such_case", {"case": case.short_id})]
        if action == "claim":
            return await self._claim(case)
        if action == "release":
            return await self._release(case)
        if action in ("reply", "note"):
            if not rest:
                return self._start_compose(action, case)
            return await self._write(action, case, rest)
        wanted = parse_state(rest)
        if wanted is None:
            return [Say("usage_state")]
        return await self._set_state(case, wanted)

    # -- reading ---------------------------------------------------------------------------

    async def _open(self, case: Case) -> list[View]:
        session, vault = self.turn.session, self.turn.vault
        try:
            document = vault.answers(case)
            thread, notes, names = await vault.history(session, case, self.names, self.turn.now)
            files = await delivery.deliver(self.turn, case, vault.key(case))
        except CaseDestroyed:
            # Withdrawn by the reporter, or shredded at the end of its retention period.
            gone = "withdrawn" if case.status == State.WITHDRAWN.value else "expired"
            return [Say(f"case_{gone}_gone", {"case": case.short_id})]
        except CryptoError as error:
            metrics.tampering_detected("case_content")
            log.warning(
                "event=tampering_detected what=case_content case=%s error=%s",
                case.short_id,
                type(error).__name__,
            )
            return [Say("case_tampered", {"case": case.short_id})]
        await self.turn.audit(case, "open")
        log.info("event=case_opened case=%s", case.short_id)
        return [
            ShowCaseFile(
                short_id=case.short_id,
                status=case.status,
                urgent=case.urgent,
                submitted_at=case.submitted_at,
                claimed_by=names.get(case.claimed_by) if case.claimed_by else None,
                mine=case.claimed_by == self.me.id,
                answers=dict(document.get("answers", {})),
                language=str(document.get("language", "en")),
                thread=thread,
                notes=notes,
                next_states=tuple(s.value for s in sorted(TRANSITIONS[State(case.status)])),
                files=len(files),
            ),
            *files,
        ]

    # -- acting ----------------------------------------------------------------------------

    async def _claim(self, case: Case) -> list[View]:
        if State(case.status) not in OPEN_STATES:
            return [Say("case_not_open", {"case": case.short_id})]
        if case.claimed_by == self.me.id:
            return [Say("already_yours", {"case": case.short_id})]
        if case.claimed_by is not None:
            other = await people.responder_by_id(
                self.turn.session, self.turn.keyring, case.claimed_by
            )
            if other is not None and other.active:
                return [
                    Say("claimed_by_other", {"case": case.short_id, "name": other.display_name})
                ]
        case.claimed_by, case.claimed_at, case.updated_at = self.me.id, self.turn.now, self.turn.now
        set_timers(case, after_claim(timers_of(case)))
        await self.turn.audit(case, "claim")
        log.info("event=case_claimed case=%s", case.short_id)
        return [Say("claimed", {"case": case.short_id}), *await self._open(case)]

    async def _release(self, case: Case) -> list[View]:
        if case.claimed_by != self.me.id and self.me.role != "admin":
            return [Say("not_yours", {"case": case.short_id})]
        case.claimed_by, case.claimed_at, case.updated_at = None, None, self.turn.now
        now = self.turn.now
        fresh = timers_at_submission(now, case.urgent, self.turn.context.levels)
        current = timers_of(case)
        set_timers(
            case,
            Timers(
                fresh.claim_remind_at,
                fresh.claim_due_at,
                current.reply_remind_at,
                current.reply_due_at,
                fresh.urgent_repeat_at,
            ),
        )
        await self.turn.audit(case, "release")
        log.info("event=case_released case=%s", case.short_id)
        return [Say("released", {"case": case.short_id})]

    def _start_compose(self, kind: str, case: Case) -> list[View]:
        self.turn.state.compose = {"kind": kind, "case": case.short_id}
        return [Say(f"compose_{kind}", {"case": case.short_id})]

    async def _composed(self, text: str) -> list[View]:
        compose = self.turn.state.compose or {}
        self.turn.state.compose = None
        case = await self.case(compose.get("case", ""))
        if case is None:
            return [Say("notice_stale_button")]
        return await self._write(compose.get("kind", "note"), case, text)

    async def _write(self, kind: str, case: Case, text: str) -> list[View]:
        turn = self.turn
        text = visible(text)
        if not text:
            return [Say("message_empty")]
        if utf16_length(text) > MAX_MESSAGE:
            return [Say("notice_too_long", {"limit": MAX_MESSAGE, "length": utf16_length(text)})]
        if State(case.status) not in OPEN_STATES:
            return [Say("case_not_open", {"case": case.short_id})]
        try:
            if kind == "note":
                await turn.vault.add_note(turn.session, case, self.me.id, text, turn.now)
                case.updated_at = turn.now  # a change of the case: it must not be withdrawn
                await turn.audit(case, "note")
                log.info("event=note_added case=%s", case.short_id)
                return [Say("note_saved", {"case": case.short_id})]
            await turn.vault.add_message(
                turn.session, case, "responder", self.me.id, text, turn.now
            )
        except CaseDestroyed:
            return [Say("case_withdrawn_gone", {"case": case.short_id})]
        case.updated_at = turn.now
        await turn.audit(case, "reply")
        if case.first_reply_at is None:
            case.first_reply_at = turn.now
            set_timers(case, after_first_reply(timers_of(case)))
            await turn.audit(case, "first_reply")
        reporter = turn.vault.reporter(case)
        log.info("event=reply_sent case=%s linked=%s", case.short_id, reporter is not None)
        if reporter is None:
            return [Say("reply_saved_unlinked", {"case": case.short_id})]
        turn.notify_reporter(
            case,
            Notification(
                "notify_reporter_message",
                reporter.language,
                {"case": case.short_id, "text": text},
                (NoticeButton("btn_reply", CaseButton("reply", case.short_id)),),
            ),
        )
        return [Say("reply_relayed", {"case": case.short_id})]

    async def _file(self, event: FileSent) -> list[View]:
        """A file sent while writing a reply: stored under the case, cleaned where it can
        be (a responder is not asked about the rest), and the reporter told; it reaches
        them as a new upload when they open their case."""
        turn = self.turn
        compose = turn.state.compose or {}
        case = await self.case(compose.get("case", ""))
        if case is None:
            return [Say("notice_stale_button")]
        if State(case.status) not in OPEN_STATES:
            return [Say("case_not_open", {"case": case.short_id})]
        try:
            key = turn.vault.key(case)
        except CaseDestroyed:
            return [Say("case_withdrawn_gone", {"case": case.short_id})]
        received = await receiving.receive(
            turn, event, key, Holder.of_case(case.id), sender=str(self.me.id), ask=False
        )
        if isinstance(received, Say):
            return [received]
        case.updated_at = turn.now
        await turn.audit(case, "responder_file")
        reporter = turn.vault.reporter(case)
        log.info("event=responder_file case=%s linked=%s", case.short_id, reporter is not None)
        if reporter is None:
            return [Say("reply_saved_unlinked", {"case": case.short_id})]
        turn.notify_reporter(
            case,
            Notification(
                "notify_reporter_file",
                reporter.language,
                {"case": case.short_id},
                (NoticeButton("btn_open", CaseButton("open", case.short_id)),),
            ),
        )
        return [Say("responder_file_sent", {"case": case.short_id})]

    async def _set_state(self, case: Case, wanted: State) -> list[View]:
        turn = self.turn
        try:
            check_transition(State(case.status), wanted)
        except TransitionError:
            return [
                Say(
                    "bad_transition",
                    {
                        "case": case.short_id,
                        "from": Term(f"state_word_{case.status}"),
                        "to": Term(f"state_word_{wanted.value}"),
                    },
                )
            ]
        previous = State(case.status)
        case.status, case.updated_at = wanted.value, turn.now
        if wanted is State.WAITING:
            pause_timers(case, turn.now)
        elif wanted in (State.RESOLVED, State.CLOSED):
            stop_timers(case)
        elif previous is State.WAITING:
            resume_timers(case, turn.now)
        await turn.audit(case, f"state:{wanted.value}")
        reporter = turn.vault.reporter(case)
        if reporter is not None:
            turn.notify_reporter(
                case,
                Notification(
                    f"notify_state_{wanted.value}", reporter.language, {"case": case.short_id}
                ),
            )
        log.info("event=state_changed case=%s state=%s", case.short_id, wanted.value)
        state = Term(f"state_word_{wanted.value}")
        return [Say("state_set", {"case": case.short_id, "state": state})]

    # -- helpers ---------------------------------------------------------------------------

    async def case(self, text: str) -> Case | None:
        """The case, unless the reporter excluded me from it: then it does not exist for me."""
        short_id = normalize_short_id(text)
        if short_id is None:
            return None
        case = await queries.case_by_short_id(self.turn.session, short_id)
        if case is None or self.turn.vault.hidden_from(case, self.me):
            return None
        return case

    async def names(self, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
        """These responders' names; mine is known (my row was checked when the turn began)."""
        names = {self.me.id: self.me.display_name} if self.me.id in ids else {}
        others = ids - {self.me.id}
        return names | await people.names_of(self.turn.session, self.turn.keyring, others)


def _short(text: str) -> str:
    """A case id as typed, shown back in its canonical form if it can be one."""
    return normalize_short_id(text) or text.strip()[:20]


def _page(text: str) -> int:
    return int(text) if text.strip().isdigit() else 1
