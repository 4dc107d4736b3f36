"""Admins' commands: who the responders are, revoking one, the overdue list, and a case's
audit trail. The conversation service lets only admins reach these."""

from __future__ import annotations

import logging
import uuid

from bot.services import access, audit, people
from bot.services.protocol import (
    AuditLine,
    Say,
    ShowAudit,
    ShowResponders,
    View,
)
from bot.services.turn import Turn
from bot.store import queries
from bot.store.models import AuditEntry, Case, Responder

log = logging.getLogger(__name__)
ADMIN_ONLY = frozenset({"responders", "revoke", "overdue", "audit"})


# A page's lines; the screen still splits a page into several messages if its names are
# long (bot.telegram.render.packing), so a page is always delivered.
RESPONDERS_PAGE = 20
AUDIT_PAGE = 30


async def command(turn: Turn, me: Responder, name: str, argument: str) -> list[View]:
    if name == "responders":
        return [await _responders(turn, _page(argument))]
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


async def _responders(turn: Turn, page: int) -> ShowResponders:
    """Everyone, revoked included, a page at a time (read at the database). A row whose MAC
    does not match is not shown: its page is one shorter, and no one is on two pages."""
    pages = _pages(await queries.responder_count(turn.session), RESPONDERS_PAGE)
    page = min(page, pages)
    rows = await queries.responders_page(
        turn.session, (page - 1) * RESPONDERS_PAGE, RESPONDERS_PAGE
    )
    staff = [p for p in rows if people.responder_intact(turn.keyring, p)]
    return ShowResponders(tuple((p.display_name, p.role, p.active) for p in staff), page, pages)


async def audit_trail(turn: Turn, case: Case, page: int = 1) -> list[View]:
    """A page of a case's trail, oldest first (read at the database)."""
    offset = (max(1, page) - 1) * AUDIT_PAGE
    entries, length = await audit.trail_page(turn.session, case.id, offset, AUDIT_PAGE)
    pages = _pages(length, AUDIT_PAGE)
    if page > pages:  # past the end: the last page
        page = pages
        entries, length = await audit.trail_page(
            turn.session, case.id, (page - 1) * AUDIT_PAGE, AUDIT_PAGE
        )
    # The reporter and the system are named by their role only.
    names = await people.names_of(turn.session, turn.keyring, _responder_ids(entries))
    by_id = {str(k): v for k, v in names.items()}
    await turn.audit(case, "export")  # reading the trail is itself recorded
    return [
        ShowAudit(
            case.short_id,
            tuple(AuditLine(e.at, by_id.get(e.actor), e.role, e.action) for e in entries),
            page,
            pages,
        )
    ]


def _responder_ids(entries: list[AuditEntry]) -> set[uuid.UUID]:
    found = set()
    for entry in entries:
        try:
            found.add(uuid.UUID(entry.actor))
        except ValueError:
            continue  # "reporter", "system", "operator"
    return found


def _page(text: str) -> int:
    return max(1, int(text)) if text.strip().isdigit() else 1


def _pages(count: int, size: int) -> int:
    return max(1, -(-count // size))
