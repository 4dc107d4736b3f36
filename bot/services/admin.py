"""Admins' commands: who the responders are, revoking one, the overdue list, and a case's
audit trail. The conversation service lets only admins reach these."""

from __future__ import annotations

import logging

from bot.cases.lifecycle import OPEN_STATES
from bot.services import audit, people
from bot.services.outbox import Notification
from bot.services.protocol import (
    AuditLine,
    QueueItem,
    Say,
    ShowAudit,
    ShowQueue,
    ShowResponders,
    View,
)
from bot.services.turn import Turn
from bot.store import queries
from bot.store.models import Case, Responder

log = logging.getLogger(__name__)
ADMIN_ONLY = frozenset({"responders", "revoke", "overdue", "audit"})


async def command(turn: Turn, me: Responder, name: str, argument: str) -> list[View]:
    if name == "responders":
        staff = await people.everyone(turn.session, turn.keyring)
        return [ShowResponders(tuple((p.display_name, p.role, p.active) for p in staff))]
    if name == "revoke":
        return await _revoke(turn, argument)
    return [await _overdue(turn, me)]


async def _revoke(turn: Turn, name: str) -> list[View]:
    if not name:
        return [Say("usage_revoke")]
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
    for case in await queries.open_cases(turn.session, [s.value for s in OPEN_STATES], person.id):
        case.claimed_by, case.claimed_at = None, None  # back to the queue
    turn.notify_responder(person, Notification("you_were_revoked", person.language))
    turn.notify_responder(person, Notification("", person.language, kind="commands"))
    log.info("event=responder_revoked")
    return [Say("revoked", {"name": person.display_name})]


async def _overdue(turn: Turn, me: Responder) -> ShowQueue:
    """Open cases past a deadline: escalated, or due and not yet scanned."""
    now = turn.now
    names = await people.names(turn.session, turn.keyring)
    late = [
        c
        for c in await queries.open_cases(turn.session, [s.value for s in OPEN_STATES])
        if (
            c.escalated_at is not None
            or any(t is not None and t <= now for t in (c.claim_due_at, c.reply_due_at))
        )
        and not turn.vault.hidden_from(c, me)  # an excluded admin sees nothing of it
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


async def audit_trail(turn: Turn, case: Case) -> list[View]:
    # The reporter and the system are named by their role only.
    names = {str(k): v for k, v in (await people.names(turn.session, turn.keyring)).items()}
    entries = await audit.trail(turn.session, case.id)
    await turn.audit(case, "export")  # reading the trail is itself recorded
    return [
        ShowAudit(
            case.short_id,
            tuple(AuditLine(e.at, names.get(e.actor), e.role, e.action) for e in entries),
        )
    ]
