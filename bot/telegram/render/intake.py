"""The reporter's questions: one screen per step of bot.intake.flow, one keyboard widget
per kind of question."""

from __future__ import annotations

import html
from collections.abc import Callable

from telegram import InlineKeyboardMarkup

from bot.intake.flow import (
    DATE_SHORTCUTS,
    Action,
    ActionName,
    Ask,
    ConfirmDiscard,
    EditMenu,
    EditQuestion,
    Notice,
    NoticeKind,
    Pick,
    Review,
    Toggle,
)
from bot.intake.questionnaire import Kind
from bot.services.protocol import ShowStep
from bot.telegram import callbacks
from bot.telegram.render import widgets
from bot.telegram.render.outgoing import EditKeyboard, Outgoing, Send
from bot.telegram.render.packing import pack, shorten
from bot.telegram.render.page import Page

Rows = list[list[widgets.Press]]


def step(page: Page, view: ShowStep) -> list[Outgoing]:
    step, rev = view.step, view.rev
    screen = step.screen
    if step.in_place and view.message_id is not None and isinstance(screen, Ask):
        return [EditKeyboard(view.message_id, question_keyboard(page, screen, rev))]
    notices = "".join(notice(page, n) + "\n\n" for n in step.notices)
    match screen:
        case Ask():
            return [Send(notices + ask_text(page, screen), question_keyboard(page, screen, rev))]
        case Review():
            return review(page, screen, rev, notices)
        case EditMenu(questions):
            rows = widgets.column(
                (f"{n}. {q.short.get(page.language)}", callbacks.flow(rev, EditQuestion(q.id)))
                for n, q in enumerate(questions, start=1)
            )
            rows.append([(page.t("btn_back"), _act(rev, ActionName.BACK))])
            return [Send(notices + page.t("edit_menu_title"), widgets.keyboard(rows))]
        case ConfirmDiscard():
            buttons = [
                [
                    ("btn_confirm_discard", _act(rev, ActionName.CONFIRM_DISCARD)),
                    ("btn_keep_going", _act(rev, ActionName.KEEP_GOING)),
                ]
            ]
            return [Send(notices + page.t("confirm_discard"), page.keyboard(buttons))]
    raise TypeError(f"cannot render {type(screen).__name__}")


def notice(page: Page, notice: Notice) -> str:
    if notice.kind is NoticeKind.CHOICE_NOTE and notice.note is not None:
        # With the urgent choice, the organisation's emergency contact (if it set one).
        emergency = page.emergency() if notice.urgent else ""
        return "ℹ️ " + html.escape(notice.note.get(page.language)) + emergency
    if notice.kind is NoticeKind.TOO_MANY_FILES:
        return "⚠️ " + page.t("notice_too_many_files", limit=notice.limit)
    if notice.kind is NoticeKind.FILE_ADDED:
        return "📎 " + page.t("notice_file_added")
    if notice.kind is NoticeKind.TOO_LONG:
        return "⚠️ " + page.t("notice_too_long", limit=notice.limit, length=notice.length)
    return "⚠️ " + page.t(f"notice_{notice.kind.value}")


def ask_text(page: Page, ask: Ask) -> str:
    question = ask.question
    if ask.editing:
        header = page.t("editing_header")
    else:
        key = "question_header_continued" if ask.continued else "question_header"
        header = page.t(key, number=ask.number, total=ask.total)
    lines = [header, html.escape(question.text.get(page.language))]
    if question.hint is not None:
        lines.append(f"<i>{html.escape(question.hint.get(page.language))}</i>")
    hints = []
    if not question.required:
        hints.append(page.t("optional_hint"))
    if question.kind is Kind.TEXT:
        hints.append(page.t("hint_text", limit=question.max_length))
    elif question.kind is Kind.MULTI:
        hints.append(page.t("hint_multi"))
    elif question.kind is Kind.FILES:
        hints.append(page.t("hint_files", limit=question.max_files, mb=page.max_file_mb))
    elif question.kind is Kind.DATE and question.hint is None:
        hints.append(page.t("hint_date"))
    if hints:
        lines.append(f"<i>{' '.join(hints)}</i>")
    if question.kind is Kind.FILES:
        if ask.files:
            lines.append(page.t("files_so_far", count=len(ask.files)))
            lines.extend(page.file_line(n, f) for n, f in enumerate(ask.files, start=1))
    elif ask.current is not None:
        answer = page.answer_text(question, ask.current)
        lines.append(page.t("current_answer", answer=shorten(answer, 300)))
    return "\n".join(lines)


def question_keyboard(page: Page, ask: Ask, rev: int) -> InlineKeyboardMarkup:
    rows = WIDGETS[ask.question.kind](page, ask, rev)
    nav = [(page.t("btn_back"), _act(rev, ActionName.BACK))]
    if not ask.question.required and not ask.files:
        nav.append((page.t("btn_skip"), _act(rev, ActionName.SKIP)))
    nav.append((page.t("btn_cancel"), _act(rev, ActionName.CANCEL)))
    return widgets.keyboard([*rows, nav])


def _checklist(page: Page, ask: Ask, rev: int) -> Rows:
    """Multiple choice: tick boxes, then Done."""
    rows = widgets.column(
        (
            ("☑️ " if c.id in ask.selection else "⬜️ ") + c.label.get(page.language),
            callbacks.flow(rev, Toggle(c.id)),
        )
        for c in ask.question.choices
    )
    return [*rows, [(page.t("btn_done"), _act(rev, ActionName.DONE))]]


def _side_by_side(page: Page, ask: Ask, rev: int) -> Rows:
    """Yes / no: short labels on one row."""
    return [
        [
            (c.label.get(page.language), callbacks.flow(rev, Pick(c.id)))
            for c in ask.question.choices
        ]
    ]


def _one_per_row(page: Page, ask: Ask, rev: int) -> Rows:
    """A single choice: one option per row, as options are sentences."""
    return widgets.column(
        (c.label.get(page.language), callbacks.flow(rev, Pick(c.id))) for c in ask.question.choices
    )


def _date_shortcuts(page: Page, ask: Ask, rev: int) -> Rows:
    """A date: typed, or today / yesterday / don't remember."""
    today, yesterday, unknown = (
        (page.t(key), callbacks.flow(rev, Pick(value)))
        for key, value in zip(
            ("btn_today", "btn_yesterday", "btn_dont_remember"), DATE_SHORTCUTS, strict=True
        )
    )
    return [[today, yesterday], [unknown]]


def _files(page: Page, ask: Ask, rev: int) -> Rows:
    """Files are sent as attachments; Done once some were."""
    return [[(page.t("btn_done"), _act(rev, ActionName.DONE))]] if ask.files else []


def _typed_only(page: Page, ask: Ask, rev: int) -> Rows:
    return []


WIDGETS: dict[Kind, Callable[[Page, Ask, int], Rows]] = {
    Kind.MULTI: _checklist,
    Kind.YESNO: _side_by_side,
    Kind.SINGLE: _one_per_row,
    Kind.DATE: _date_shortcuts,
    Kind.TEXT: _typed_only,
    Kind.FILES: _files,
}


def review(page: Page, review: Review, rev: int, notices: str) -> list[Outgoing]:
    """The summary, split over several messages when long answers need the room."""
    blocks = [notices + page.t("review_title") + "\n" + page.t("review_link_choice")]
    for item in review.items:
        label = f"<b>{html.escape(item.question.short.get(page.language))}</b>"
        if item.files:
            value = "\n".join(page.file_line(n, f) for n, f in enumerate(item.files, start=1))
        elif item.answer is not None:
            value = page.answer_text(item.question, item.answer)
        else:
            value = page.t("review_skipped")
        blocks.append(f"{label}\n{value}")
    keyboard = page.keyboard(
        [
            [("btn_submit", _act(rev, ActionName.SUBMIT))],
            [("btn_submit_unlinked", _act(rev, ActionName.SUBMIT_UNLINKED))],
            [
                ("btn_edit", _act(rev, ActionName.EDIT_MENU)),
                ("btn_discard", _act(rev, ActionName.CANCEL)),
            ],
        ]
    )
    messages = pack(blocks)
    out: list[Outgoing] = [Send(text) for text in messages[:-1]]
    out.append(Send(messages[-1], keyboard))
    return out


def _act(rev: int, name: ActionName) -> str:
    return callbacks.flow(rev, Action(name))
