"""Enrolment: one-time codes made by the operator (`confide invite`), and `/enroll CODE`
from the person they were given to. A new responder is brought every report still waiting
for someone who may read it."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from bot.cases.ids import new_receipt_code, normalize_receipt_code
from bot.cases.lifecycle import State
from bot.cases.readers import Occasion
from bot.crypto import Keyring
from bot.services import access, people
from bot.services.outbox import URGENT, Notification, new_case_alert
from bot.services.protocol import Say, SetCommands, Term, View
from bot.services.turn import Turn
from bot.store import queries
from bot.store.models import Invite, Responder
from bot.store.session import Session

log = logging.getLogger(__name__)
ROLES = access.ROLES
WAITING_ALERTS = 20  # a new responder is alerted to this many waiting cases; /queue has all


async def enrol(turn: Turn, code_text: str) -> list[View]:
    """`/enroll CODE` from anyone, in a private chat."""
    if (paused := turn.code_pause()) is not None:
        return [paused]
    code = normalize_receipt_code(code_text)
    invite = None
    await turn.code_checked()
    if code is not None:
        invite = await queries.invite_by_lookup(turn.session, turn.keyring.invite_lookup(code))
    state = (
        access.TAMPERED if invite is None else access.invite_state(turn.keyring, invite, turn.now)
    )
    if invite is None or state == access.TAMPERED:
        await turn.code_failed()
        log.info("event=enrol_refused reason=unknown")
        return [Say("enrol_bad_code")]
    if state in (access.USED, access.REVOKED):  # someone holds a code they should not use
        await turn.code_failed()
        log.info("event=enrol_refused reason=%s", state)
        return [Say(f"enrol_{state}_code")]
    if state == access.EXPIRED:
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
    await access.enrolled(turn.session, turn.keyring, person, turn.now)
    waiting = await alert_waiting_cases(turn, person)
    log.info("event=responder_enrolled role=%s waiting=%d", invite.role, waiting)
    return [
        Say("enrolled", {"name": invite.display_name, "role": Term(f"staff_role_{invite.role}")}),
        SetCommands(invite.role),
    ]


async def alert_waiting_cases(turn: Turn, person: Responder) -> int:
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
    *,
    actor: access.Actor = access.OPERATOR,
) -> str:
    """A one-time enrolment code; only its keyed hash is stored. Refused (ValueError, saying
    what to do) for a name an active responder or a pending invite already has, so that a
    name keeps naming one person. Recorded in the audit log."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    name = access.normal_name(display_name)
    if not name or len(name) > 64:
        raise ValueError("the display name must be 1 to 64 characters")
    if (taken := await access.name_in_use(session, keyring, name, now)) is not None:
        raise ValueError(taken)
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
    await access.invite_made(session, keyring, role, actor, now)
    return code
