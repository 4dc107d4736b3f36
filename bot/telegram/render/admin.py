"""Admins' screens: the responders, and a case's audit trail."""

from __future__ import annotations

import html

from bot.services.protocol import AuditLine, ShowAudit, ShowResponders
from bot.telegram.render.outgoing import Outgoing, Send
from bot.telegram.render.packing import pack
from bot.telegram.render.page import Page


def responders(page: Page, view: ShowResponders) -> list[Outgoing]:
    if not view.people:
        return [Send(page.t("no_responders"))]
    lines = [page.t("responders_title")] + [
        f"• {html.escape(name)} — {page.t(f'staff_role_{role}')}"
        + ("" if active else " " + page.t("revoked_mark"))
        for name, role, active in view.people
    ]
    return [Send("\n".join(lines))]


def audit(page: Page, view: ShowAudit) -> list[Outgoing]:
    """The whole trail, over several messages if it is long: nothing is left out."""
    lines = "\n".join(_line(page, line) for line in view.lines)
    return [Send(m) for m in pack([page.t("audit_title", case=view.short_id) + "\n" + lines])]


def _line(page: Page, line: AuditLine) -> str:
    role = page.t(f"staff_role_{line.role}")
    who = f"{html.escape(line.who)} ({role})" if line.who else role
    action = "audit_" + line.action.replace(":", "_")
    words = page.t(action) if page.catalogue.has(action) else html.escape(line.action)
    return f"{page.when(line.at)} · {who} · {words}"
