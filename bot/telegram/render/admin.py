"""Admins' screens: the responders, and a case's audit trail."""

from __future__ import annotations

import html

from bot.services.protocol import AuditLine, ShowAudit, ShowResponders
from bot.telegram import callbacks
from bot.telegram.render import widgets
from bot.telegram.render.outgoing import Outgoing, Send
from bot.telegram.render.packing import pack
from bot.telegram.render.page import Page


def responders(page: Page, view: ShowResponders) -> list[Outgoing]:
    if not view.people and view.pages == 1:
        return [Send(page.t("no_responders"))]
    lines = [page.t("responders_title", page=view.page, pages=view.pages)] + [
        f"• {html.escape(name)} — {page.t(f'staff_role_{role}')}"
        + ("" if active else " " + page.t("revoked_mark"))
        for name, role, active in view.people
    ]
    return _paged(page, "\n".join(lines), view.page, view.pages, "responders", "")


def audit(page: Page, view: ShowAudit) -> list[Outgoing]:
    """A page of the trail (long names may take it over several messages: nothing is cut)."""
    title = page.t("audit_title", case=view.short_id, page=view.page, pages=view.pages)
    lines = "\n".join(_line(page, line) for line in view.lines)
    return _paged(page, f"{title}\n{lines}", view.page, view.pages, "audit", f"{view.short_id}:")


def _paged(
    page: Page, text: str, number: int, pages: int, action: str, prefix: str
) -> list[Outgoing]:
    """The text in as many messages as it takes; Previous/Next under the last."""
    nav = []
    if number > 1:
        nav.append((page.t("btn_prev"), callbacks.responder(action, f"{prefix}{number - 1}")))
    if number < pages:
        nav.append((page.t("btn_next"), callbacks.responder(action, f"{prefix}{number + 1}")))
    messages = pack([text])
    last = Send(messages[-1], widgets.keyboard([nav]) if nav else None)
    return [*(Send(m) for m in messages[:-1]), last]


def _line(page: Page, line: AuditLine) -> str:
    role = page.t(f"staff_role_{line.role}")
    who = f"{html.escape(line.who)} ({role})" if line.who else role
    action = "audit_" + line.action.replace(":", "_")
    words = page.t(action) if page.catalogue.has(action) else html.escape(line.action)
    return f"{page.when(line.at)} · {who} · {words}"
