"""Rendering in one language: the catalogue's words, and what several screens share
(times, ages, answers read back, a thread's messages)."""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from telegram import InlineKeyboardMarkup

from bot.i18n import Catalogue, Language, Text
from bot.i18n.organisation import OrganisationWords
from bot.intake.dates import UNKNOWN
from bot.intake.flow import Answer, FileNote
from bot.intake.questionnaire import CHOICE_KINDS, Kind, Question, Questionnaire
from bot.services.protocol import Term, ThreadItem
from bot.telegram.render import widgets

NO_WORDS = OrganisationWords()


class Page:
    def __init__(
        self,
        catalogue: Catalogue,
        language: Language,
        questionnaire: Questionnaire,
        zone: tzinfo = UTC,
        organisation: OrganisationWords = NO_WORDS,
        max_file_mb: float = 20,
    ) -> None:
        self.max_file_mb = f"{max_file_mb:g}"  # stated before a file is refused for its size
        self.catalogue = catalogue
        self.language = language
        self.questionnaire = questionnaire
        self.zone = zone
        self.organisation = organisation

    def t(self, key: str, **params: object) -> str:
        text = self.catalogue.text(self.language, key, **params)
        return self._with_organisation(key, text)

    def _with_organisation(self, key: str, text: str) -> str:
        """The organisation's own words where they belong (bot.i18n.organisation)."""
        words = self.organisation
        if key == "welcome" and words.welcome is not None:
            text = self.words(words.welcome)
        if key in ("welcome", "privacy_full") and words.name is not None:
            text = f"<b>{self.words(words.name)}</b>\n\n{text}"
        if key == "privacy_full" and words.privacy is not None:
            text += "\n\n" + self.words(words.privacy)
        if key == "urgent_submitted":
            text += self.emergency()
        return text

    def emergency(self) -> str:
        """The organisation's emergency contact line, if it set one (else nothing)."""
        if self.organisation.emergency is None:
            return ""
        return "\n\n🆘 " + self.words(self.organisation.emergency)

    def words(self, text: Text) -> str:
        """An operator's plain text, in this language, escaped."""
        return html.escape(text.get(self.language))

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

    def when(self, moment: datetime) -> str:
        """A stored time (UTC) as a person reads it: in the organisation's time zone, with
        its offset, so that nobody has to guess which clock it is."""
        local = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(self.zone)
        offset = local.utcoffset() or timedelta(0)
        minutes = int(offset.total_seconds() // 60)
        sign = "+" if minutes >= 0 else "-"
        hours, rest = divmod(abs(minutes), 60)
        label = "UTC" if not minutes else f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")
        return f"{local:%Y-%m-%d %H:%M} {label}"

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
        if question.kind is Kind.FILES:
            count = len(answer) if isinstance(answer, list) else 1
            return self.t("files_count", count=count)
        if question.kind is Kind.DATE and answer == UNKNOWN:
            return self.t("date_unknown")
        return html.escape(answer if isinstance(answer, str) else ", ".join(answer))

    def file_line(self, number: int, note: FileNote) -> str:
        """A file as a person reads it back: its type, size and name; never its content."""
        name = f" · {html.escape(note.name)}" if note.name else ""
        return f"{number}. {self.file_kind(note.kind)} · {self.size(note.size)}{name}"

    def file_kind(self, kind: str) -> str:
        key = f"file_kind_{kind}"
        return self.t(key) if self.catalogue.has(key) else html.escape(kind.upper())

    def size(self, size: int) -> str:
        if size >= 1024 * 1024:
            return self.t("size_mb", n=f"{size / (1024 * 1024):.1f}")
        return self.t("size_kb", n=max(1, round(size / 1024)))

    def thread_item(self, item: ThreadItem, for_reporter: bool = False) -> str:
        if item.author == "reporter":
            who = self.t("you") if for_reporter else self.t("the_reporter")
        elif item.author == "note":
            who = self.t("note_by", name=html.escape(item.by or "?"))
        else:
            who = self.t("a_responder") if for_reporter or not item.by else html.escape(item.by)
        return f"<b>{who}</b> · <i>{self.when(item.at)}</i>\n{html.escape(item.text)}"
