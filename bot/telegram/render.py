"""Views -> Telegram messages: words from the catalogue, buttons, and escaping.

Everything a person typed passes through `html.escape` here, so an answer containing `<b>`,
`&` or Markdown cannot break a message or inject formatting."""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime, timedelta

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.i18n import DEFAULT, Catalogue, Language
from bot.intake.dates import UNKNOWN
from bot.intake.flow import (
    DATE_SHORTCUTS,
    Action,
    ActionName,
    Answer,
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
from bot.intake.questionnaire import Kind, Question, Questionnaire
from bot.services.outbox import Notification
from bot.services.protocol import (
    ConfirmWithdraw,
    Menu,
    Say,
    SetCommands,
    ShowAudit,
    ShowCase,
    ShowCaseFile,
    ShowLanguages,
    ShowMenu,
    ShowMyCases,
    ShowQueue,
    ShowReceipt,
    ShowResponders,
    ShowStep,
    ThreadItem,
    View,
    Wipe,
)
from bot.telegram import callbacks

# Telegram allows 4096 characters of text; leave room for headers and escaping slack.
MESSAGE_BUDGET = 3800


@dataclass(frozen=True)
class Send:
    text: str  # HTML
    keyboard: InlineKeyboardMarkup | None = None
    # Case content for a responder: cannot be forwarded or saved, and is deleted from the
    # chat after a while (bot.services.case_views).
    confidential: bool = False


@dataclass(frozen=True)
class EditKeyboard:
    message_id: int
    keyboard: InlineKeyboardMarkup


@dataclass(frozen=True)
class DeleteRange:
    first: int
    last: int


@dataclass(frozen=True)
class SetChatCommands:
    role: str


Outgoing = Send | EditKeyboard | DeleteRange | SetChatCommands


class Renderer:
    def __init__(
        self, catalogue: Catalogue, questionnaire: Questionnaire, bot_username: str = ""
    ) -> None:
        self.catalogue = catalogue
        self.questionnaire = questionnaire
        self.bot_username = bot_username

    def render(self, views: tuple[View, ...] | list[View], language: Language) -> list[Outgoing]:
        page = _Page(self.catalogue, language, self.questionnaire)
        out: list[Outgoing] = []
        for view in views:
            out.extend(page.view(view, self.bot_username))
        return out

    def group_refusal(self, language: Language) -> Send:
        return Send(self.catalogue.text(language, "group_refusal", bot=self.bot_username))

    def error(self, language: Language) -> Send:
        return Send(self.catalogue.text(language, "error_generic"))

    def notification(self, note: Notification) -> tuple[str, InlineKeyboardMarkup | None]:
        """An outbox message; its parameters are plain text, escaped here."""
        language = note.language if note.language in self.catalogue.languages else DEFAULT
        params = {k: html.escape(v) for k, v in note.params.items()}
        text = self.catalogue.text(language, note.key, **params)
        buttons = [
            InlineKeyboardButton(
                self.catalogue.text(language, b.label), callback_data=callbacks.pressing(b.press)
            )
            for b in note.buttons
        ]
        return text, InlineKeyboardMarkup([buttons]) if buttons else None


class _Page:
    """Rendering in one language."""

    def __init__(
        self, catalogue: Catalogue, language: Language, questionnaire: Questionnaire
    ) -> None:
        self.catalogue = catalogue
        self.language = language
        self.questionnaire = questionnaire

    def t(self, key: str, **params: object) -> str:
        return self.catalogue.text(self.language, key, **params)

    def button(self, key: str, data: str) -> InlineKeyboardButton:
        return InlineKeyboardButton(self.t(key), callback_data=data)

    def view(self, view: View, bot_username: str) -> list[Outgoing]:
        match view:
            case Say(key, params):
                # Parameters are plain text (possibly typed by someone): escaped here.
                return [Send(self.t(key, **{k: html.escape(str(v)) for k, v in params.items()}))]
            case ShowMenu(resume):
                return [self.menu(resume)]
            case ShowStep():
                return self.step(view)
            case ShowReceipt():
                return self.receipt(view)
            case ShowCase():
                return [self.case(view)]
            case ShowLanguages():
                buttons = [
                    InlineKeyboardButton(
                        self.catalogue.name(code), callback_data=callbacks.language(code)
                    )
                    for code in self.catalogue.languages
                ]
                return [Send(self.t("language_prompt"), InlineKeyboardMarkup([buttons]))]
            case Wipe(first, last):
                return [DeleteRange(first, last)]
            case ShowMyCases():
                return [self.my_cases(view)]
            case ConfirmWithdraw(short_id):
                return [
                    Send(
                        self.t("confirm_withdraw", case=short_id),
                        InlineKeyboardMarkup(
                            [
                                [
                                    self.button(
                                        "btn_withdraw_yes", callbacks.case("withdraw_yes", short_id)
                                    ),
                                    self.button("btn_keep_case", callbacks.case("keep", short_id)),
                                ]
                            ]
                        ),
                    )
                ]
            case ShowQueue():
                return [self.queue(view)]
            case ShowCaseFile():
                return self.case_file(view)
            case ShowResponders(people):
                lines = [self.t("responders_title")] + [
                    f"• {html.escape(name)} — {role}"
                    + ("" if active else " " + self.t("revoked_mark"))
                    for name, role, active in people
                ]
                return [Send("\n".join(lines) if people else self.t("no_responders"))]
            case SetCommands(role):
                return [SetChatCommands(role)]
            case ShowAudit(short_id, lines):
                rows = [
                    f"{_when(line.at)} · {html.escape(line.who)} ({line.role}) · {line.action}"
                    for line in lines
                ]
                return [Send(_fit(self.t("audit_title", case=short_id) + "\n" + "\n".join(rows)))]
        raise TypeError(f"cannot render {type(view).__name__}")

    def menu(self, resume: bool) -> Send:
        if resume:
            return Send(
                self.t("resume"),
                InlineKeyboardMarkup(
                    [
                        [
                            self.button("btn_continue", callbacks.menu(Menu.CONTINUE)),
                            self.button("btn_start_over", callbacks.menu(Menu.START_OVER)),
                        ]
                    ]
                ),
            )
        return Send(
            self.t("welcome") + "\n\n" + self.t("privacy_short"),
            InlineKeyboardMarkup(
                [
                    [self.button("btn_start_report", callbacks.menu(Menu.REPORT))],
                    [
                        self.button("btn_check_case", callbacks.menu(Menu.CHECK)),
                        self.button("btn_privacy", callbacks.menu(Menu.PRIVACY)),
                    ],
                ]
            ),
        )

    def receipt(self, view: ShowReceipt) -> list[Outgoing]:
        saved = InlineKeyboardMarkup([[self.button("btn_saved_code", callbacks.menu(Menu.SAVED))]])
        if view.again:
            return [Send(self.t("receipt_again", code=view.code, case=view.short_id), saved)]
        text = self.t("submitted", code=view.code, case=view.short_id)
        if not view.readers:  # never "responders were alerted" when none was
            text += "\n\n" + self.t("nobody_to_read_yet")
        out: list[Outgoing] = [Send(text, saved)]
        if view.urgent:
            out.append(Send(self.t("urgent_submitted")))
        out.append(
            Send(
                self.t("offer_wipe"),
                InlineKeyboardMarkup([[self.button("btn_wipe", callbacks.menu(Menu.WIPE))]]),
            )
        )
        return out

    def case(self, view: ShowCase) -> Send:
        status = self.t(f"status_{view.status}")
        if view.urgent:
            status += " · " + self.t("urgent_flag")
        text = self.t(
            "case_status", case=view.short_id, submitted=_when(view.submitted_at), status=status
        )
        if view.timeline:
            text += (
                "\n\n"
                + self.t("timeline_title")
                + "\n"
                + "\n".join(
                    f"{_when(at)} · " + self.t(_timeline_key(action), role=self.t(f"role_{role}"))
                    for at, action, role in view.timeline[-12:]
                )
            )
        if view.thread:
            text += "\n\n" + "\n\n".join(
                self.thread_item(i, for_reporter=True) for i in view.thread[-10:]
            )
        text = _fit(text)
        if not view.can_act:
            return Send(text)
        return Send(
            text,
            InlineKeyboardMarkup(
                [
                    [
                        self.button("btn_reply", callbacks.case("reply", view.short_id)),
                        self.button("btn_withdraw", callbacks.case("withdraw", view.short_id)),
                    ]
                ]
            ),
        )

    def thread_item(self, item: ThreadItem, for_reporter: bool = False) -> str:
        if item.author == "reporter":
            who = self.t("you") if for_reporter else self.t("the_reporter")
        elif item.author == "note":
            who = self.t("note_by", name=html.escape(item.by or "?"))
        else:
            who = self.t("a_responder") if for_reporter or not item.by else html.escape(item.by)
        return f"<b>{who}</b> · <i>{_when(item.at)}</i>\n{html.escape(item.text)}"

    def my_cases(self, view: ShowMyCases) -> Send:
        lines = [self.t("my_cases_title")]
        rows = []
        for c in view.cases:
            unread = " · " + self.t("unread", count=c.unread) if c.unread else ""
            lines.append(f"<b>{c.short_id}</b> · {self.t(f'status_{c.status}')}{unread}")
            rows.append(
                [InlineKeyboardButton(c.short_id, callback_data=callbacks.case("open", c.short_id))]
            )
        return Send("\n".join(lines), InlineKeyboardMarkup(rows))

    def queue(self, view: ShowQueue) -> Send:
        if not view.items:
            return Send(self.t(f"{view.kind}_empty"))
        lines = [self.t(f"{view.kind}_title", page=view.page, pages=view.pages)]
        rows = []
        for item in view.items:
            flags = " ⚠️" if item.urgent else ""
            who = (
                self.t("claimed_by", name=html.escape(item.claimed_by))
                if item.claimed_by
                else self.t("unclaimed")
            )
            lines.append(
                f"<b>{item.short_id}</b>{flags} · {_age(item.age)} · "
                f"{self.t(f'status_{item.status}')} · {who}"
            )
            rows.append(
                [
                    InlineKeyboardButton(
                        f"{item.short_id}{flags}",
                        callback_data=callbacks.responder("open", item.short_id),
                    )
                ]
            )
        nav = []
        if view.page > 1:
            nav.append(self.button("btn_prev", callbacks.responder(view.kind, str(view.page - 1))))
        if view.page < view.pages:
            nav.append(self.button("btn_next", callbacks.responder(view.kind, str(view.page + 1))))
        if nav:
            rows.append(nav)
        return Send("\n".join(lines), InlineKeyboardMarkup(rows))

    def case_file(self, view: ShowCaseFile) -> list[Outgoing]:
        status = self.t(f"status_{view.status}") + (
            " · ⚠️ " + self.t("urgent_flag") if view.urgent else ""
        )
        who = (
            self.t("claimed_by", name=html.escape(view.claimed_by))
            if view.claimed_by
            else self.t("unclaimed")
        )
        blocks = [
            self.t(
                "case_file_title",
                case=view.short_id,
                submitted=_when(view.submitted_at),
                status=status,
                claimed=who,
            )
        ]
        for question in self.questionnaire.questions:
            if question.id in view.answers:
                blocks.append(
                    f"<b>{html.escape(question.short.get(self.language))}</b>\n"
                    + self.answer_text(question, view.answers[question.id])
                )
        if view.thread:
            blocks.append(
                self.t("thread_title")
                + "\n"
                + "\n\n".join(self.thread_item(i) for i in view.thread)
            )
        if view.notes:
            blocks.append(
                self.t("notes_title") + "\n" + "\n\n".join(self.thread_item(i) for i in view.notes)
            )
        messages = _pack(blocks)
        actions = [
            [
                self.button("btn_release", callbacks.responder("release", view.short_id))
                if view.mine
                else self.button("btn_claim", callbacks.responder("claim", view.short_id))
            ],
            [
                self.button("btn_reply", callbacks.responder("reply", view.short_id)),
                self.button("btn_note", callbacks.responder("note", view.short_id)),
            ],
        ]
        states = [
            InlineKeyboardButton(
                "→ " + self.t(f"state_name_{s}"),
                callback_data=callbacks.responder("state", f"{view.short_id}:{s}"),
            )
            for s in view.next_states
        ]
        for start in range(0, len(states), 2):
            actions.append(states[start : start + 2])
        out: list[Outgoing] = [Send(m, confidential=True) for m in messages[:-1]]
        out.append(Send(messages[-1], InlineKeyboardMarkup(actions), confidential=True))
        return out

    # -- the intake flow -------------------------------------------------------------------

    def step(self, view: ShowStep) -> list[Outgoing]:
        step, rev = view.step, view.rev
        screen = step.screen
        if step.in_place and view.message_id is not None and isinstance(screen, Ask):
            return [EditKeyboard(view.message_id, self.ask_keyboard(screen, rev))]
        notices = "".join(self.notice(n) + "\n\n" for n in step.notices)
        match screen:
            case Ask():
                return [Send(notices + self.ask_text(screen), self.ask_keyboard(screen, rev))]
            case Review():
                return self.review(screen, rev, notices)
            case EditMenu(questions):
                rows = [
                    [
                        InlineKeyboardButton(
                            f"{n}. {q.short.get(self.language)}",
                            callback_data=callbacks.flow(rev, EditQuestion(q.id)),
                        )
                    ]
                    for n, q in enumerate(questions, start=1)
                ]
                rows.append([self.button("btn_back", callbacks.flow(rev, Action(ActionName.BACK)))])
                return [Send(notices + self.t("edit_menu_title"), InlineKeyboardMarkup(rows))]
            case ConfirmDiscard():
                return [
                    Send(
                        notices + self.t("confirm_discard"),
                        InlineKeyboardMarkup(
                            [
                                [
                                    self.button(
                                        "btn_confirm_discard",
                                        callbacks.flow(rev, Action(ActionName.CONFIRM_DISCARD)),
                                    ),
                                    self.button(
                                        "btn_keep_going",
                                        callbacks.flow(rev, Action(ActionName.KEEP_GOING)),
                                    ),
                                ]
                            ]
                        ),
                    )
                ]
        raise TypeError(f"cannot render {type(screen).__name__}")

    def notice(self, notice: Notice) -> str:
        if notice.kind is NoticeKind.CHOICE_NOTE and notice.note is not None:
            return "ℹ️ " + html.escape(notice.note.get(self.language))
        if notice.kind is NoticeKind.TOO_LONG:
            return "⚠️ " + self.t("notice_too_long", limit=notice.limit, length=notice.length)
        return "⚠️ " + self.t(f"notice_{notice.kind.value}")

    def ask_text(self, ask: Ask) -> str:
        question = ask.question
        header = (
            self.t("editing_header")
            if ask.editing
            else self.t("question_header", number=ask.number, total=ask.total)
        )
        lines = [header, html.escape(question.text.get(self.language))]
        if question.hint is not None:
            lines.append(f"<i>{html.escape(question.hint.get(self.language))}</i>")
        hints = []
        if not question.required:
            hints.append(self.t("optional_hint"))
        if question.kind is Kind.TEXT:
            hints.append(self.t("hint_text", limit=question.max_length))
        elif question.kind is Kind.MULTI:
            hints.append(self.t("hint_multi"))
        elif question.kind is Kind.DATE and question.hint is None:
            hints.append(self.t("hint_date"))
        if hints:
            lines.append(f"<i>{' '.join(hints)}</i>")
        if ask.current is not None:
            answer = self.answer_text(question, ask.current)
            lines.append(self.t("current_answer", answer=_shorten(answer, 300)))
        return "\n".join(lines)

    def ask_keyboard(self, ask: Ask, rev: int) -> InlineKeyboardMarkup:
        question = ask.question
        rows: list[list[InlineKeyboardButton]] = []
        if question.kind is Kind.MULTI:
            for choice in question.choices:
                mark = "☑️ " if choice.id in ask.selection else "⬜️ "
                rows.append(
                    [
                        InlineKeyboardButton(
                            mark + choice.label.get(self.language),
                            callback_data=callbacks.flow(rev, Toggle(choice.id)),
                        )
                    ]
                )
            rows.append([self.button("btn_done", callbacks.flow(rev, Action(ActionName.DONE)))])
        elif question.kind is Kind.YESNO:
            rows.append(
                [
                    InlineKeyboardButton(
                        c.label.get(self.language), callback_data=callbacks.flow(rev, Pick(c.id))
                    )
                    for c in question.choices
                ]
            )
        elif question.kind is Kind.SINGLE:
            rows.extend(
                [
                    InlineKeyboardButton(
                        c.label.get(self.language), callback_data=callbacks.flow(rev, Pick(c.id))
                    )
                ]
                for c in question.choices
            )
        elif question.kind is Kind.DATE:
            today, yesterday, unknown = (
                InlineKeyboardButton(self.t(key), callback_data=callbacks.flow(rev, Pick(value)))
                for key, value in zip(
                    ("btn_today", "btn_yesterday", "btn_dont_remember"), DATE_SHORTCUTS, strict=True
                )
            )
            rows.extend([[today, yesterday], [unknown]])
        nav = [self.button("btn_back", callbacks.flow(rev, Action(ActionName.BACK)))]
        if not question.required:
            nav.append(self.button("btn_skip", callbacks.flow(rev, Action(ActionName.SKIP))))
        nav.append(self.button("btn_cancel", callbacks.flow(rev, Action(ActionName.CANCEL))))
        rows.append(nav)
        return InlineKeyboardMarkup(rows)

    def review(self, review: Review, rev: int, notices: str) -> list[Outgoing]:
        """The summary, split over several messages when long answers need the room."""
        blocks = [notices + self.t("review_title") + "\n" + self.t("review_link_choice")]
        for item in review.items:
            label = f"<b>{html.escape(item.question.short.get(self.language))}</b>"
            value = (
                self.answer_text(item.question, item.answer)
                if item.answer is not None
                else self.t("review_skipped")
            )
            blocks.append(f"{label}\n{value}")
        keyboard = InlineKeyboardMarkup(
            [
                [self.button("btn_submit", callbacks.flow(rev, Action(ActionName.SUBMIT)))],
                [
                    self.button(
                        "btn_submit_unlinked",
                        callbacks.flow(rev, Action(ActionName.SUBMIT_UNLINKED)),
                    )
                ],
                [
                    self.button("btn_edit", callbacks.flow(rev, Action(ActionName.EDIT_MENU))),
                    self.button("btn_discard", callbacks.flow(rev, Action(ActionName.CANCEL))),
                ],
            ]
        )
        messages = _pack(blocks)
        out: list[Outgoing] = [Send(text) for text in messages[:-1]]
        out.append(Send(messages[-1], keyboard))
        return out

    def answer_text(self, question: Question, answer: Answer) -> str:
        """An answer as the reporter should read it back: labels for choices, escaped text."""
        if question.kind in (Kind.SINGLE, Kind.MULTI, Kind.YESNO):
            ids = answer if isinstance(answer, list) else [answer]
            labels = [
                c.label.get(self.language) if (c := question.choice(i)) is not None else i
                for i in ids
            ]
            return html.escape(", ".join(labels))
        if question.kind is Kind.DATE and answer == UNKNOWN:
            return self.t("date_unknown")
        return html.escape(answer if isinstance(answer, str) else ", ".join(answer))


def _timeline_key(action: str) -> str:
    return "tl_" + action.replace(":", "_")


def _pack(blocks: list[str]) -> list[str]:
    """Join blocks into as few messages as fit Telegram's limit."""
    messages: list[str] = []
    for block in blocks:
        block = _fit(block)
        if (
            messages
            and _visible_length(messages[-1]) + _visible_length(block) + 2 <= MESSAGE_BUDGET
        ):
            messages[-1] += "\n\n" + block
        else:
            messages.append(block)
    return messages


def _fit(text_html: str) -> str:
    """A single block longer than a message (a long thread) keeps its end, which is newest."""
    if _visible_length(text_html) <= MESSAGE_BUDGET:
        return text_html
    plain = html.unescape(_strip_tags(text_html))
    return "…" + html.escape(plain[-(MESSAGE_BUDGET - 1) :])


def _strip_tags(text: str) -> str:
    out, inside = [], False
    for ch in text:
        if ch == "<":
            inside = True
        elif ch == ">" and inside:
            inside = False
        elif not inside:
            out.append(ch)
    return "".join(out)


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _age(age: timedelta) -> str:
    hours = int(age.total_seconds() // 3600)
    if hours >= 48:
        return f"{hours // 24}d"
    if hours >= 1:
        return f"{hours}h"
    return f"{max(0, int(age.total_seconds() // 60))}m"


def _visible_length(text: str) -> int:
    """Roughly what Telegram counts: text without tags, entities as one character."""
    return len(html.unescape(_strip_tags(text)))


def _shorten(text_html: str, limit: int) -> str:
    plain = html.unescape(text_html)
    return text_html if len(plain) <= limit else html.escape(plain[: limit - 1]) + "…"
