"""The reporter's screens around the questions: the menu, the receipt, their cases, the
choice of language. Everything here speaks of responders by role, never by name."""

from __future__ import annotations

from bot.services.protocol import (
    AskKeepFile,
    ConfirmWithdraw,
    Menu,
    ShowCase,
    ShowLanguages,
    ShowMenu,
    ShowMyCases,
    ShowReceipt,
)
from bot.telegram import callbacks
from bot.telegram.render import widgets
from bot.telegram.render.outgoing import Outgoing, Send
from bot.telegram.render.packing import pack
from bot.telegram.render.page import Page

TIMELINE_SHOWN = 12  # the newest steps of a case's history
THREAD_SHOWN = 10  # and of its conversation


def menu(page: Page, view: ShowMenu) -> list[Outgoing]:
    if view.resume:
        buttons = [
            [
                ("btn_continue", callbacks.menu(Menu.CONTINUE)),
                ("btn_start_over", callbacks.menu(Menu.START_OVER)),
            ]
        ]
        return [Send(page.t("resume"), page.keyboard(buttons))]
    buttons = [
        [("btn_start_report", callbacks.menu(Menu.REPORT))],
        [
            ("btn_check_case", callbacks.menu(Menu.CHECK)),
            ("btn_privacy", callbacks.menu(Menu.PRIVACY)),
        ],
    ]
    return [Send(page.t("welcome") + "\n\n" + page.t("privacy_short"), page.keyboard(buttons))]


def receipt(page: Page, view: ShowReceipt) -> list[Outgoing]:
    saved = page.keyboard([[("btn_saved_code", callbacks.menu(Menu.SAVED))]])
    if view.again:
        return [Send(page.t("receipt_again", code=view.code, case=view.short_id), saved)]
    text = page.t("submitted", code=view.code, case=view.short_id)
    if not view.readers:  # never "responders were alerted" when none was
        text += "\n\n" + page.t("nobody_to_read_yet")
    if view.kept_days:
        text += "\n\n" + page.t("kept_for", days=view.kept_days)
    out: list[Outgoing] = [Send(text, saved)]
    if view.urgent:
        out.append(Send(page.t("urgent_submitted")))
    out.append(
        Send(page.t("offer_wipe"), page.keyboard([[("btn_wipe", callbacks.menu(Menu.WIPE))]]))
    )
    return out


def case(page: Page, view: ShowCase) -> list[Outgoing]:
    status = page.t(f"status_{view.status}")
    if view.urgent:
        status += " · " + page.t("urgent_flag")
    blocks = [
        page.t(
            "case_status", case=view.short_id, submitted=page.when(view.submitted_at), status=status
        )
    ]
    if view.timeline:
        blocks.append(
            page.t("timeline_title")
            + "\n"
            + "\n".join(
                f"{page.when(at)} · "
                + page.t("tl_" + action.replace(":", "_"), role=page.t(f"role_{role}"))
                for at, action, role in view.timeline[-TIMELINE_SHOWN:]
            )
        )
    blocks.extend(page.thread_item(i, for_reporter=True) for i in view.thread[-THREAD_SHOWN:])
    messages = pack(blocks)
    out: list[Outgoing] = [Send(text) for text in messages[:-1]]
    if not view.can_act:
        return [*out, Send(messages[-1])]
    buttons = [
        [
            ("btn_reply", callbacks.case("reply", view.short_id)),
            ("btn_withdraw", callbacks.case("withdraw", view.short_id)),
        ]
    ]
    return [*out, Send(messages[-1], page.keyboard(buttons))]


def my_cases(page: Page, view: ShowMyCases) -> list[Outgoing]:
    lines = [page.t("my_cases_title")]
    if view.pages > 1:
        lines.append(page.t("my_cases_page", page=view.page, pages=view.pages))
    for c in view.cases:
        unread = " · " + page.t("unread", count=c.unread) if c.unread else ""
        lines.append(f"<b>{c.short_id}</b> · {page.t(f'status_{c.status}')}{unread}")
    buttons = widgets.column((c.short_id, callbacks.case("open", c.short_id)) for c in view.cases)
    nav = []
    if view.page > 1:
        nav.append((page.t("btn_prev"), callbacks.case("status", str(view.page - 1))))
    if view.page < view.pages:
        nav.append((page.t("btn_next"), callbacks.case("status", str(view.page + 1))))
    if nav:
        buttons.append(nav)
    return [Send("\n".join(lines), widgets.keyboard(buttons))]


def confirm_withdraw(page: Page, view: ConfirmWithdraw) -> list[Outgoing]:
    buttons = [
        [
            ("btn_withdraw_yes", callbacks.case("withdraw_yes", view.short_id)),
            ("btn_keep_case", callbacks.case("keep", view.short_id)),
        ]
    ]
    return [Send(page.t("confirm_withdraw", case=view.short_id), page.keyboard(buttons))]


def languages(page: Page, view: ShowLanguages) -> list[Outgoing]:
    catalogue = page.catalogue
    buttons = [[(catalogue.name(code), callbacks.language(code)) for code in catalogue.languages]]
    return [Send(page.t("language_prompt"), widgets.keyboard(buttons))]


def ask_keep_file(page: Page, view: AskKeepFile) -> list[Outgoing]:
    """A file whose metadata cannot be removed: keep it as it is, or not?"""
    buttons = [
        [("btn_file_send_anyway", callbacks.menu(Menu.FILE_SEND))],
        [("btn_file_skip", callbacks.menu(Menu.FILE_SKIP))],
    ]
    text = page.t("file_uncleanable_ask", kind=page.file_kind(view.kind))
    return [Send(text, page.keyboard(buttons))]
