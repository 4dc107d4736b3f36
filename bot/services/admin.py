"""Admins' commands: who the responders are, revoking one, the overdue list, and a case's
audit trail. The conversation service lets only admins reach these."""

from __future__ import annotations

import logging

from bot.services import access, audit, people
from bot.services.protocol import (
    AuditLine,
    Say,
    ShowAudit,
    ShowResponders,
    View,
)
from bot.services.turn import Turn
from bot.store.models import Case, Responder

log = logging.getLogger(__name__)
ADMIN_ONLY = frozenset({"responders", "revoke", "overdue", "audit"})


async def command(turn: Turn, me: Responder, name: str, argument: str) -> list[View]:
    if name == "responders":
        staff = await people.everyone(turn.session, turn.keyring)
        return [ShowResponders(tuple((p.display_name, p.role, p.active) for p in staff))]
    if name == "revoke":
        return await _revoke(turn, me, argument)
    return [Say("unknown_command")]  # /overdue is a list: bot.services.listing


async def _revoke(turn: Turn, me: Responder, name: str) -> list[View]:
    """The rules are bot.services.access's, shared with `confide responders revoke`."""
    if not name:
        return [Say("usage_revoke")]
    found = await access.find_responder(turn.session, turn.keyring, name)
    if isinstance(found, access.Refusal):
        if found.reason == "ambiguous":
            return [Say("ambiguous_responder", {"name": name, "count": str(len(found.matches))})]
        return [Say("no_such_responder", {"name": name})]
    await access.revoke(turn.session, turn.keyring, found, access.Actor.of(me), turn.now)
    turn.notified = True
    return [Say("revoked", {"name": found.display_name})]


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
