"""Rendering in one language: the catalogue's words, and what several screens share
(times, ages, answers read back, a thread's messages)."""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from telegram import InlineKeyboardMarkup

from bot.i18n import Catalogue, Language
from bot.intake.dates import UNKNOWN
from bot.intake.flow import Answer
from bot.intake.questionnaire import CHOICE_KINDS, Kind, Question, Questionnaire
from bot.services.protocol import Term, ThreadItem
from bot.telegram.render import widgets


class Page:
    def __init__(
        self, catalogue: Catalogue, language: Language, questionnaire: Questionnaire
    ) -> None:
        self.catalogue = catalogue
        self.language = language
        self.questionnaire = questionnaire

    def t(self, key: str, **params: object) -> str:
        return self.catalogue.text(self.language, key, **params)

    def say(self, key: str, params: Mapping[str, Any]) -> str:
        """A message whose parameters are plain text (possibly typed by someone, so escaped
        here) or Terms (words of the catalogue, said in this language)."""
        return self.t(
            key,
            **{
                name: self.t(value.key) if isinstance(value, Term) else html.escape(str(value))
                for name, value in params.items()
            },
        )

    def keyboard(self, rows: Iterable[Sequence[tuple[str, str]]]) -> InlineKeyboardMarkup:
        """Buttons as rows of (label's catalogue key, callback data)."""
        return widgets.keyboard([[(self.t(key), data) for key, data in row] for row in rows])

    @staticmethod
    def when(moment: datetime) -> str:
        return moment.strftime("%Y-%m-%d %H:%M UTC")

    def age(self, age: timedelta) -> str:
        hours = int(age.total_seconds() // 3600)
        if hours >= 48:
            return self.t("age_days", n=hours // 24)
        if hours >= 1:
            return self.t("age_hours", n=hours)
        return self.t("age_minutes", n=max(0, int(age.total_seconds() // 60)))

    def answer_text(self, question: Question, answer: Answer) -> str:
        """An answer as a person should read it back: labels for choices, escaped text."""
        if question.kind in CHOICE_KINDS:
            ids = answer if isinstance(answer, list) else [answer]
            labels = [
                c.label.get(self.language) if (c := question.choice(i)) is not None else i
                for i in ids
            ]
            return html.escape(", ".join(labels))
        if question.kind is Kind.DATE and answer == UNKNOWN:
            return self.t("date_unknown")
        return html.escape(answer if isinstance(answer, str) else ", ".join(answer))

    def thread_item(self, item: ThreadItem, for_reporter: bool = False) -> str:
        if item.author == "reporter":
            who = self.t("you") if for_reporter else self.t("the_reporter")
        elif item.author == "note":
            who = self.t("note_by", name=html.escape(item.by or "?"))
        else:
            who = self.t("a_responder") if for_reporter or not item.by else html.escape(item.by)
        return f"<b>{who}</b> · <i>{self.when(item.at)}</i>\n{html.escape(item.text)}"
