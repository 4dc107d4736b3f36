"""What reporters really type, read as they meant it: dates in Chinese and with full-width
digits, day/month order by the organisation's setting, "empty" answers made of invisible
characters, lengths as Telegram counts them; and a progress counter that never grows."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings
from bot.i18n import catalogue
from bot.intake.dates import UNKNOWN, DateOrder
from bot.intake.flow import (
    Action,
    ActionName,
    Ask,
    Input,
    Intake,
    NoticeKind,
    Pick,
    Step,
    Toggle,
    TypedText,
)
from bot.intake.questionnaire import Kind, load_questionnaire
from bot.intake.text import utf16_length

TODAY = date(2026, 11, 29)


def at_question(question_id: str, order: DateOrder = "ymd") -> tuple[Intake, Step]:
    """An intake at `question_id`, reached the way a reporter would."""
    intake = Intake(load_questionnaire(), order)
    step = intake.start()
    step = intake.advance(step.draft, Pick("verbal"), TODAY)
    while isinstance(step.screen, Ask) and step.screen.question.id != question_id:
        step = intake.advance(step.draft, Action(ActionName.SKIP), TODAY)
    return intake, step


def answer(question_id: str, text: str, order: DateOrder = "ymd") -> Step:
    intake, step = at_question(question_id, order)
    return intake.advance(step.draft, TypedText(text), TODAY)


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("11月20日", "2026-11-20"),
        ("2025年11月20日", "2025-11-20"),
        ("２０２５－１１－２０", "2025-11-20"),
        ("２０２５年１１月２０日", "2025-11-20"),
        ("昨天", "2026-11-28"),
        ("不记得了", UNKNOWN),
    ],
)
def test_dates_typed_the_way_people_write_them(typed: str, meant: str) -> None:
    step = answer("when", typed)
    assert step.draft.answers["when"] == meant
    assert not step.notices


@pytest.mark.parametrize(
    ("order", "typed", "meant"),
    [
        ("dmy", "03/04/2025", "2025-04-03"),
        ("mdy", "03/04/2025", "2025-03-04"),
        ("dmy", "20/11/2025", "2025-11-20"),
        ("mdy", "11/20/2025", "2025-11-20"),
    ],
)
def test_the_date_order_setting_decides_slashed_dates(
    order: DateOrder, typed: str, meant: str
) -> None:
    assert answer("when", typed, order).draft.answers["when"] == meant


def test_a_date_impossible_in_the_set_order_is_refused_not_guessed() -> None:
    step = answer("when", "20/11/2025", "mdy")
    assert "when" not in step.draft.answers
    assert [n.kind for n in step.notices] == [NoticeKind.BAD_DATE]


@pytest.mark.parametrize("typed", ["\u200b", " \u200b\u200c ", "\u3164", "\u2800\u2800", "\ufeff"])
def test_an_answer_of_invisible_characters_is_empty(typed: str) -> None:
    step = answer("account", typed)
    assert "account" not in step.draft.answers
    assert [n.kind for n in step.notices] == [NoticeKind.EMPTY_TEXT]


def test_text_limits_count_what_telegram_counts() -> None:
    intake, step = at_question("account")
    assert isinstance(step.screen, Ask)
    limit = step.screen.question.max_length
    assert limit is not None and limit % 2 == 0
    emoji = "😢" * (limit // 2 + 1)  # fewer characters than the limit, more UTF-16 units
    assert len(emoji) <= limit < utf16_length(emoji)
    refused = intake.advance(step.draft, TypedText(emoji), TODAY)
    assert "account" not in refused.draft.answers
    (notice,) = refused.notices
    assert (notice.kind, notice.limit, notice.length) == (NoticeKind.TOO_LONG, limit, limit + 2)
    accepted = intake.advance(step.draft, TypedText(emoji[:-1]), TODAY)
    assert accepted.draft.answers["account"] == emoji[:-1]


def test_the_progress_total_never_grows_and_follow_ups_continue() -> None:
    """Every follow-up triggered: the reporter still sees one total from start to end."""
    intake = Intake(load_questionnaire())
    step = intake.start()
    seen: list[tuple[int, int, bool]] = []
    answers: dict[str, Input] = {
        "category": Pick("verbal"),
        "witnesses": Pick("yes"),
        "reported_before": Pick("yes"),
    }
    answers |= {"contact": Pick("named"), "safe_now": Pick("safe"), "frequency": Pick("once")}
    answers |= {"where": Pick("workplace")}
    while isinstance(step.screen, Ask):
        ask = step.screen
        seen.append((ask.number, ask.total, ask.continued))
        question = ask.question
        if question.id in answers:
            step = intake.advance(step.draft, answers[question.id], TODAY)
        elif question.kind is Kind.MULTI:
            step = intake.advance(step.draft, Toggle(question.choices[0].id), TODAY)
            step = intake.advance(step.draft, Action(ActionName.DONE), TODAY)
        elif question.kind is Kind.DATE:
            step = intake.advance(step.draft, TypedText("2026-11-01"), TODAY)
        elif question.kind is Kind.FILES:
            step = intake.advance(step.draft, Action(ActionName.SKIP), TODAY)
        else:
            step = intake.advance(step.draft, TypedText("some words"), TODAY)
    assert {total for _, total, _ in seen} == {13}
    numbers = [number for number, _, _ in seen]
    assert numbers == sorted(numbers) and numbers[0] == 1 and numbers[-1] == 13
    assert sum(continued for _, _, continued in seen) == 3  # the three follow-ups
    for (number, _, continued), (previous, _, _) in zip(seen[1:], seen, strict=False):
        assert number == (previous if continued else previous + 1)


@pytest.mark.parametrize("language", catalogue().builtin)
def test_hints_name_the_buttons_as_they_are_labelled(language: str) -> None:
    texts = catalogue()
    labels = [
        texts.text(language, key).strip(" ⏭")
        for key in ("btn_today", "btn_yesterday", "btn_dont_remember")
    ]
    (date_question,) = [q for q in load_questionnaire().questions if q.kind is Kind.DATE]
    assert date_question.hint is not None
    for hint in (date_question.hint.get(language), texts.text(language, "notice_bad_date")):
        for label in labels:
            assert label in hint, (label, hint)


def test_the_date_order_is_an_organisation_setting(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[organisation]\ndate_order = "mdy"\n')
    assert load_settings({"CONFIDE_CONFIG": str(config)}).date_order == "mdy"
    assert load_settings({}).date_order == "ymd"
    config.write_text('[organisation]\ndate_order = "dd/mm"\n')
    with pytest.raises(ConfigError, match="date_order must be one of dmy, mdy, ymd"):
        load_settings({"CONFIDE_CONFIG": str(config)})
