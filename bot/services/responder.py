"""The responders' side: enrolment, the queue, claiming, reading a case, writing to the
reporter (relayed, anonymous both ways), internal notes and the case lifecycle.

Every entry here runs only after the conversation service found an active responder for
this chat (admins for admin commands); to anyone else these commands do not exist."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from bot.cases.ids import normalize_receipt_code
from bot.cases.lifecycle import (
    OPEN_STATES,
    TRANSITIONS,
    State,
    TransitionError,
    check_transition,
    parse_state,
)
from bot.cases.readers import Occasion
from bot.cases.sla import Timers, after_claim, after_first_reply, timers_at_submission
from bot.crypto import CryptoError, Keyring
from bot.services import audit, people
from bot.services.cases import CaseDestroyed
from bot.services.deadlines import pause as pause_timers
from bot.services.deadlines import resume as resume_timers
from bot.services.deadlines import set_timers, timers_of
from bot.services.deadlines import stop as stop_timers
from bot.services.outbox import URGENT, Notification, new_case_alert
from bot.services.protocol import (
    AuditLine,
    Command,
    QueueItem,
    ResponderButton,
    Say,
    SetCommands,
    ShowAudit,
    ShowCaseFile,
    ShowQueue,
    ShowResponders,
    Text,
    View,
)
from bot.services.turn import Turn
from bot.store import queries
from bot.store.models import Case, Invite, Responder
from bot.store.session import Session

log = logging.getLogger(__name__)
PAGE_SIZE = 8
WAITING_ALERTS = 20  # a new responder is alerted to this many waiting cases; /queue has all
MAX_MESSAGE = 3500
ROLES = ("responder", "admin")


class ResponderTurn:
    def __init__(self, turn: Turn) -> None:
        assert turn.responder is not None
        self.turn = turn
        self.me: Responder = turn.responder

    async def run(self) -> list[View]:
        event = self.turn.incoming.event
        match event:
            case Command("cancel"):
                self.turn.state.compose = None
                return [Say("compose_cancelled")]
            case Command(name, argument):
                self.turn.state.compose = None
                return await self._command(name, argument.strip())
            case Text(text):
                return await self._composed(text)
            case ResponderButton(action, argument):
                return await self._button(action, argument)
        return [Say("notice_stale_button")]

    async def _command(self, name: str, argument: str) -> list[View]:
        if name in ("queue", "mine"):
            return [await self._queue(name, _page(argument))]
        if name == "responders":
            staff = await people.everyone(self.turn.session, self.turn.keyring)
            return [ShowResponders(tuple((p.display_name, p.role, p.active) for p in staff))]
        if name == "revoke":
            return await self._revoke(argument)
        if name == "overdue":
            return [await self._overdue()]
        case_id, _, rest = argument.partition(" ")
        if not case_id:
            return [Say(f"usage_{name}")]
        case = await self._case(case_id)
        if case is None:
            return [Say("no_such_case", {"case": _short(case_id)})]
        if name == "open":
            return await self._open(case)
        if name == "audit":
            return await self._audit(case)
        if name == "claim":
            return await self._claim(case)
        if name == "release":
            return await self._release(case)
        if name in ("reply", "note"):
            if not rest.strip():
                return self._start_compose(name, case)
            return await self._write(name, case, rest)
        if name == "state":
            wanted = parse_state(rest)
            if wanted is None:
                return [Say("usage_state")]
            return await self._set_state(case, wanted)
        return [Say("unknown_command")]

    async def _button(self, action: str, argument: str) -> list[View]:
        if action in ("queue", "mine"):
            return [await self._queue(action, _page(argument))]
        short_id, _, extra = argument.partition(":")
        case = await self._case(short_id)
        if case is None:
            return [Say("no_such_case", {"case": short_id})]
        if action == "open":
            return await self._open(case)
        if action == "claim":
            return await self._claim(case)
        if action == "release":
            return await self._release(case)
        if action in ("reply", "note"):
            return self._start_compose(action, case)
        if action == "state":
            wanted = parse_state(extra)
            return await self._set_state(case, wanted) if wanted else [Say("usage_state")]
        return [Say("notice_stale_button")]

    # -- reading ---------------------------------------------------------------------------

    async def _queue(self, kind: str, page: int) -> ShowQueue:
        session = self.turn.session
        mine = self.me.id if kind == "mine" else None
        cases = [
            c
            for c in await queries.open_cases(session, [s.value for s in OPEN_STATES], mine)
            if not self.turn.vault.hidden_from(c, self.me)
        ]
        names = await self._names()
        pages = max(1, -(-len(cases) // PAGE_SIZE))
        page = min(max(1, page), pages)
        chunk = cases[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        return ShowQueue(
            kind,
            tuple(
                QueueItem(
                    c.short_id,
                    self.turn.now - c.submitted_at,
                    c.status,
                    c.urgent,
                    names.get(c.claimed_by) if c.claimed_by else None,
                )
                for c in chunk
            ),
            page,
            pages,
        )

    async def _open(self, case: Case) -> list[View]:
        session, vault = self.turn.session, self.turn.vault
        names = await self._names()
        try:
            document = vault.answers(case)
            thread = await vault.thread(
                session, case, names, mark_read_by="responder", now=self.turn.now
            )
            notes = await vault.notes(session, case, names)
        except CaseDestroyed:
            return [Say("case_withdrawn_gone", {"case": case.short_id})]
        except CryptoError as error:
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
            )
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
        levels, now = self.turn.service.levels, self.turn.now
        fresh = timers_at_submission(now, case.urgent, levels)
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
        case = await self._case(compose.get("case", ""))
        if case is None:
            return [Say("notice_stale_button")]
        return await self._write(compose.get("kind", "note"), case, text)

    async def _write(self, kind: str, case: Case, text: str) -> list[View]:
        turn = self.turn
        text = text.strip()
        if len(text) > MAX_MESSAGE:
            return [Say("notice_too_long", {"limit": MAX_MESSAGE, "length": len(text)})]
        if State(case.status) not in OPEN_STATES:
            return [Say("case_not_open", {"case": case.short_id})]
        try:
            if kind == "note":
                await turn.vault.add_note(turn.session, case, self.me.id, text, turn.now)
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
                (("btn_reply", f"c|reply|{case.short_id}"),),
            ),
        )
        return [Say("reply_relayed", {"case": case.short_id})]

    async def _set_state(self, case: Case, wanted: State) -> list[View]:
        turn = self.turn
        try:
            check_transition(State(case.status), wanted)
        except TransitionError:
            return [
                Say(
                    "bad_transition",
                    {"case": case.short_id, "from": case.status, "to": wanted.value},
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
        return [Say("state_set", {"case": case.short_id, "state": wanted.value})]

    async def _revoke(self, name: str) -> list[View]:
        if not name:
            return [Say("usage_revoke")]
        turn = self.turn
        found = [
            p
            for p in await people.active_responders(turn.session, turn.keyring)
            if p.display_name.casefold() == name.casefold()
        ]
        if not found:
            return [Say("no_such_responder", {"name": name})]
        person = found[0]
        person.active, person.revoked_at = False, turn.now
        people.seal_responder(turn.keyring, person)
        for case in await queries.open_cases(
            turn.session, [s.value for s in OPEN_STATES], person.id
        ):
            case.claimed_by, case.claimed_at = None, None  # back to the queue
        turn.notify_responder(person, Notification("you_were_revoked", person.language))
        turn.notify_responder(person, Notification("", person.language, kind="commands"))
        log.info("event=responder_revoked")
        return [Say("revoked", {"name": person.display_name})]

    async def _overdue(self) -> ShowQueue:
        """Open cases past a deadline: escalated, or due and not yet scanned."""
        now = self.turn.now
        names = await self._names()
        late = [
            c
            for c in await queries.open_cases(self.turn.session, [s.value for s in OPEN_STATES])
            if (
                c.escalated_at is not None
                or any(t is not None and t <= now for t in (c.claim_due_at, c.reply_due_at))
            )
            and not self.turn.vault.hidden_from(c, self.me)  # an excluded admin sees nothing
        ]
        return ShowQueue(
            "overdue",
            tuple(
                QueueItem(
                    c.short_id,
                    now - c.submitted_at,
                    c.status,
                    c.urgent,
                    names.get(c.claimed_by) if c.claimed_by else None,
                )
                for c in late
            ),
            1,
            1,
        )

    async def _audit(self, case: Case) -> list[View]:
        names = {str(k): v for k, v in (await self._names()).items()}
        entries = await audit.trail(self.turn.session, case.id)
        await self.turn.audit(case, "export")  # reading the trail is itself recorded
        return [
            ShowAudit(
                case.short_id,
                tuple(
                    AuditLine(e.at, names.get(e.actor, e.actor), e.role, e.action) for e in entries
                ),
            )
        ]

    # -- helpers ---------------------------------------------------------------------------

    async def _case(self, text: str) -> Case | None:
        """The case, unless the reporter excluded me from it: then it does not exist for me."""
        case = await queries.case_by_short_id(self.turn.session, _short(text))
        if case is None or self.turn.vault.hidden_from(case, self.me):
            return None
        return case

    async def _names(self) -> dict[uuid.UUID, str]:
        return {
            p.id: p.display_name
            for p in await people.everyone(self.turn.session, self.turn.keyring)
        }


def _short(text: str) -> str:
    """Accept C-7F3K, c-7f3k or 7F3K."""
    cleaned = text.strip().upper()
    return cleaned if cleaned.startswith("C-") else f"C-{cleaned}"


def _page(text: str) -> int:
    return int(text) if text.strip().isdigit() else 1


# ---- enrolment ------------------------------------------------------------------------------


async def enrol(turn: Turn, code_text: str) -> list[View]:
    """`/enroll CODE` from anyone, in a private chat."""
    if (paused := turn.code_pause()) is not None:
        return [paused]
    code = normalize_receipt_code(code_text)
    invite = None
    await turn.code_checked()
    if code is not None:
        invite = await queries.invite_by_lookup(turn.session, turn.keyring.invite_lookup(code))
        if invite is not None and not people.invite_intact(turn.keyring, invite):
            invite = None
    if invite is None:
        await turn.code_failed()
        log.info("event=enrol_refused reason=unknown")
        return [Say("enrol_bad_code")]
    if invite.used_at is not None:
        await turn.code_failed()
        log.info("event=enrol_refused reason=used")
        return [Say("enrol_used_code")]
    if invite.expires_at <= turn.now:
        log.info("event=enrol_refused reason=expired")
        return [Say("enrol_expired_code")]
    invite.used_at = turn.now
    people.seal_invite(turn.keyring, invite)
    chat_id = turn.incoming.chat_id
    person = await people.enrolled(turn.session, turn.keyring, chat_id)
    if person is None:
        person = people.new_responder(
            turn.keyring, chat_id, invite.display_name, invite.role, turn.language, turn.now
        )
        turn.session.add(person)
    else:
        person.display_name, person.role, person.active = invite.display_name, invite.role, True
        person.language, person.enrolled_at, person.revoked_at = turn.language, turn.now, None
        people.seal_responder(turn.keyring, person)
    await turn.session.flush()
    waiting = await _alert_waiting_cases(turn, person)
    log.info("event=responder_enrolled role=%s waiting=%d", invite.role, waiting)
    return [
        Say("enrolled", {"name": invite.display_name, "role": invite.role}),
        SetCommands(invite.role),
    ]


async def _alert_waiting_cases(turn: Turn, person: Responder) -> int:
    """Someone new can read reports: every report still waiting for a responder that they
    may read is brought to them at once, urgent ones first. Returns how many."""
    staff = await people.active_responders(turn.session, turn.keyring)
    unclaimed = [
        c for c in await queries.open_cases(turn.session, [State.NEW.value]) if not c.claimed_by
    ]
    theirs = [
        c
        for c in sorted(unclaimed, key=lambda c: (not c.urgent, c.submitted_at))
        if person in people.told(Occasion.NEW_CASE, staff, turn.vault.excluded(c, staff), None)
    ]
    for case in theirs[:WAITING_ALERTS]:
        turn.notify_responder(
            person, new_case_alert(case, person.language), case, URGENT if case.urgent else 0
        )
    if len(theirs) > WAITING_ALERTS:
        turn.notify_responder(
            person,
            Notification(
                "more_cases_waiting", person.language, {"count": str(len(theirs) - WAITING_ALERTS)}
            ),
        )
    return len(theirs)


async def create_invite(
    session: Session,
    keyring: Keyring,
    role: str,
    display_name: str,
    now: datetime,
    valid_for: timedelta,
) -> str:
    """A one-time enrolment code; only its keyed hash is stored."""
    from bot.cases.ids import new_receipt_code

    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    name = " ".join(display_name.split())
    if not name or len(name) > 64:
        raise ValueError("the display name must be 1 to 64 characters")
    code = new_receipt_code()
    invite = Invite(
        id=uuid.uuid4(),
        code_lookup=keyring.invite_lookup(code),
        role=role,
        display_name=name,
        created_at=now,
        expires_at=now + valid_for,
    )
    people.seal_invite(keyring, invite)
    session.add(invite)
    return code
