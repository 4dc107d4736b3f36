"""Views -> Telegram messages: each view goes to the screen of its audience (intake,
reporter, responder, admin); words come from the catalogue in the reader's language.

Everything a person typed passes through `html.escape` in the screens, so an answer
containing `<b>`, `&` or Markdown cannot break a message or inject formatting."""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import UTC, tzinfo
from typing import Any

from telegram import InlineKeyboardMarkup

from bot.i18n import DEFAULT, Catalogue, Language
from bot.i18n.organisation import OrganisationWords
from bot.intake.questionnaire import Questionnaire
from bot.services.outbox import Notification
from bot.services.protocol import (
    AskKeepFile,
    ConfirmWithdraw,
    Say,
    SetCommands,
    ShowAudit,
    ShowCase,
    ShowCaseFile,
    ShowFile,
    ShowHelp,
    ShowLanguages,
    ShowMenu,
    ShowMyCases,
    ShowQueue,
    ShowReceipt,
    ShowResponders,
    ShowStep,
    View,
    Wipe,
)
from bot.telegram import callbacks
from bot.telegram.render import admin, intake, reporter, responder, widgets
from bot.telegram.render.help import help_for
from bot.telegram.render.outgoing import DeleteRange, Outgoing, Send, SetChatCommands
from bot.telegram.render.page import NO_WORDS, Page

Screen = Callable[[Page, Any], list[Outgoing]]
SCREENS: dict[type, Screen] = {
    Say: lambda page, view: [Send(page.say(view.key, view.params))],
    ShowHelp: help_for,
    ShowStep: intake.step,
    ShowMenu: reporter.menu,
    ShowReceipt: reporter.receipt,
    ShowCase: reporter.case,
    ShowMyCases: reporter.my_cases,
    ConfirmWithdraw: reporter.confirm_withdraw,
    ShowLanguages: reporter.languages,
    Wipe: lambda page, view: [DeleteRange(view.first_message_id, view.last_message_id)],
    ShowQueue: responder.queue,
    ShowCaseFile: responder.case_file,
    SetCommands: lambda page, view: [SetChatCommands(view.role)],
    ShowResponders: admin.responders,
    ShowAudit: admin.audit,
    ShowFile: responder.evidence_file,
    AskKeepFile: reporter.ask_keep_file,
}


class Renderer:
    def __init__(
        self,
        catalogue: Catalogue,
        questionnaire: Questionnaire,
        bot_username: str = "",
        *,
        zone: tzinfo = UTC,
        organisation: OrganisationWords = NO_WORDS,
        max_file_mb: float = 20,
    ) -> None:
        self.max_file_mb = max_file_mb
        self.catalogue = catalogue
        self.questionnaire = questionnaire
        self.bot_username = bot_username
        self.zone = zone  # every time shown is in the organisation's time zone
        self.organisation = organisation

    def page(self, language: Language) -> Page:
        return Page(
            self.catalogue,
            language,
            self.questionnaire,
            self.zone,
            self.organisation,
            max_file_mb=self.max_file_mb,
        )

    def render(self, views: tuple[View, ...] | list[View], language: Language) -> list[Outgoing]:
        page = self.page(language)
        out: list[Outgoing] = []
        for view in views:
            screen = SCREENS.get(type(view))
            if screen is None:
                raise TypeError(f"cannot render {type(view).__name__}")
            out.extend(screen(page, view))
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
        if not note.buttons:
            return text, None
        row = [
            (self.catalogue.text(language, b.label), callbacks.pressing(b.press))
            for b in note.buttons
        ]
        return text, widgets.keyboard([row])
