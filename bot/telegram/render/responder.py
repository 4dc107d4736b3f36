"""Responders' screens: the queue and a case in full. Case content is sent confidential
(no forwarding or saving; deleted from the chat after a while)."""

from __future__ import annotations

import html

from bot.services.protocol import ShowCaseFile, ShowFile, ShowQueue
from bot.telegram import callbacks
from bot.telegram.render import widgets
from bot.telegram.render.outgoing import Outgoing, Send, SendFile
from bot.telegram.render.packing import pack
from bot.telegram.render.page import Page


def queue(page: Page, view: ShowQueue) -> list[Outgoing]:
    if not view.items:
        return [Send(page.t(f"{view.kind}_empty"))]
    lines = [page.t(f"{view.kind}_title", page=view.page)]
    opens = []
    for item in view.items:
        flags = " ⚠️" if item.urgent else ""
        who = (
            page.t("claimed_by", name=html.escape(item.claimed_by))
            if item.claimed_by
            else page.t("unclaimed")
        )
        lines.append(
            f"<b>{item.short_id}</b>{flags} · {page.age(item.age)} · "
            f"{page.t(f'status_{item.status}')} · {who}"
        )
        opens.append((f"{item.short_id}{flags}", callbacks.responder("open", item.short_id)))
    rows = widgets.column(opens)
    nav = []
    if view.previous is not None:
        nav.append((page.t("btn_prev"), callbacks.responder(view.kind, view.previous)))
    if view.next is not None:
        nav.append((page.t("btn_next"), callbacks.responder(view.kind, view.next)))
    if nav:
        rows.append(nav)
    return [Send("\n".join(lines), widgets.keyboard(rows))]


def case_file(page: Page, view: ShowCaseFile) -> list[Outgoing]:
    status = page.t(f"status_{view.status}") + (
        " · ⚠️ " + page.t("urgent_flag") if view.urgent else ""
    )
    who = (
        page.t("claimed_by", name=html.escape(view.claimed_by))
        if view.claimed_by
        else page.t("unclaimed")
    )
    blocks = [
        page.t(
            "case_file_title",
            case=view.short_id,
            submitted=page.when(view.submitted_at),
            status=status,
            claimed=who,
        )
    ]
    for question in page.questionnaire.questions:
        if question.id in view.answers:
            blocks.append(
                f"<b>{html.escape(question.short.get(page.language))}</b>\n"
                + page.answer_text(question, view.answers[question.id])
            )
    if view.thread:
        blocks.append(page.t("thread_title"))
        blocks.extend(page.thread_item(i) for i in view.thread)
    if view.notes:
        blocks.append(page.t("notes_title"))
        blocks.extend(page.thread_item(i) for i in view.notes)
    messages = pack(blocks)
    short_id = view.short_id
    actions = [
        [("btn_release", callbacks.responder("release", short_id))]
        if view.mine
        else [("btn_claim", callbacks.responder("claim", short_id))],
        [
            ("btn_reply", callbacks.responder("reply", short_id)),
            ("btn_note", callbacks.responder("note", short_id)),
        ],
    ]
    if view.files:
        actions.append([("btn_file_names", callbacks.responder("filenames", short_id))])
    states = [
        ("→ " + page.t(f"state_name_{s}"), callbacks.responder("state", f"{short_id}:{s}"))
        for s in view.next_states
    ]
    keyboard = widgets.keyboard(
        [[(page.t(k), d) for k, d in row] for row in actions] + widgets.rows_of(states, 2)
    )
    out: list[Outgoing] = [Send(m, confidential=True) for m in messages[:-1]]
    out.append(Send(messages[-1], keyboard, confidential=True))
    return out


def evidence_file(page: Page, view: ShowFile) -> list[Outgoing]:
    """A case's file, uploaded anew under its neutral name, captioned with the case and
    the question it answers (and what its sender wrote with it)."""
    question = (
        page.questionnaire.get(view.question).short.get(page.language)
        if view.question and view.question in page.questionnaire
        else None
    )
    key = "file_caption_question" if question else "file_caption"
    who = page.t("the_reporter") if view.from_reporter else page.t("a_responder")
    caption = page.t(
        key, case=view.short_id, name=view.name, question=html.escape(question or ""), who=who
    )
    if view.caption:
        caption += "\n" + html.escape(view.caption[:700])
    return [SendFile(view.send_as, view.name, caption, view.load, view.confidential)]
