"""The intake state machine, driven directly: no Telegram, no database."""

from __future__ import annotations

from datetime import date

import pytest

from bot.intake.flow import (
    Action,
    ActionName,
    Ask,
    ConfirmDiscard,
    Discarded,
    Draft,
    EditMenu,
    EditQuestion,
    Input,
    Intake,
    NoticeKind,
    Pick,
    Review,
    Stage,
    Step,
    Submitted,
    Toggle,
    TypedText,
    Unsupported,
)
from bot.intake.questionnaire import load_questionnaire

TODAY = date(2026, 11, 28)


@pytest.fixture(scope="module")
def intake() -> Intake:
    return Intake(load_questionnaire())


def act(name: ActionName) -> Action:
    return Action(name)


class Script:
    """Feed inputs one by one, keeping the draft, like a reporter would."""

    def __init__(self, intake: Intake) -> None:
        self.intake = intake
        self.step = intake.start()

    def __call__(self, event: Input, rev: int | None = None) -> Step:
        self.step = self.intake.advance(self.step.draft, event, TODAY, rev=rev)
        return self.step

    @property
    def question(self) -> str:
        assert isinstance(self.step.screen, Ask), self.step.screen
        return self.step.screen.question.id

    @property
    def notices(self) -> list[NoticeKind]:
        return [n.kind for n in self.step.notices]


def fill_minimal(s: Script) -> None:
    """Category, then skip everything else."""
    s(Pick("verbal"))
    while isinstance(s.step.screen, Ask):
        s(act(ActionName.SKIP))


def test_starts_at_the_first_question_with_progress(intake: Intake) -> None:
    step = intake.start()
    assert isinstance(step.screen, Ask)
    assert step.screen.question.id == "category"
    assert (step.screen.number, step.screen.total) == (1, 13)  # 3 follow-ups not yet triggered


def test_full_report_with_follow_ups_reaches_review_and_submits(intake: Intake) -> None:
    s = Script(intake)
    s(Pick("sexual_harassment"))
    assert s.question == "when"
    s(TypedText("2026-08-02"))
    s(Pick("several"))
    s(Pick("workplace"))
    s(TypedText("  He cornered me after the meeting.  "))
    s(Toggle("manager"))
    s(Toggle("colleague"))
    s(act(ActionName.DONE))
    s(TypedText("A. Person"))
    s(Pick("yes"))
    assert s.question == "witnesses_who"
    # A follow-up continues its main question: the total does not grow mid-way (1/13 → 13/13).
    assert isinstance(s.step.screen, Ask)
    assert (s.step.screen.number, s.step.screen.total, s.step.screen.continued) == (8, 13, True)
    s(TypedText("B. Witness"))
    assert s.question == "evidence"
    s(act(ActionName.SKIP))
    s(Pick("no"))
    assert s.question == "safe_now"
    s(Pick("danger"))
    assert NoticeKind.CHOICE_NOTE in s.notices
    s(Toggle("stop"))
    s(act(ActionName.DONE))
    s(Pick("bot_only"))
    assert isinstance(s.step.screen, Review)
    step = s(act(ActionName.SUBMIT))
    assert isinstance(step.outcome, Submitted)
    answers = step.outcome.answers
    assert answers["account"] == "He cornered me after the meeting."
    assert answers["when"] == "2026-08-02"
    assert answers["involved_role"] == ["manager", "colleague"]
    assert "reported_to" not in answers and "contact_details" not in answers
    assert step.outcome.urgent is True


def test_required_question_cannot_be_skipped(intake: Intake) -> None:
    s = Script(intake)
    s(act(ActionName.SKIP))
    assert s.question == "category"
    assert s.notices == [NoticeKind.REQUIRED]


def test_text_where_a_button_is_expected_reasks(intake: Intake) -> None:
    s = Script(intake)
    before = s.step.draft
    s(TypedText("something"))
    assert s.notices == [NoticeKind.USE_BUTTONS]
    assert s.step.draft == before


def test_typing_a_choice_label_counts_as_pressing_it(intake: Intake) -> None:
    s = Script(intake)
    s(TypedText("Verbal harassment"))
    assert s.question == "when"


def test_dates(intake: Intake) -> None:
    s = Script(intake)
    s(Pick("verbal"))
    s(TypedText("last tuesday-ish"))
    assert s.notices == [NoticeKind.BAD_DATE]
    s(TypedText("2027-01-01"))
    assert s.notices == [NoticeKind.FUTURE_DATE]
    s(TypedText("yesterday"))
    assert s.step.draft.answers["when"] == "2026-11-27"
    s(act(ActionName.BACK))
    s(Pick("unknown"))
    assert s.step.draft.answers["when"] == "unknown"


def test_over_long_text_says_the_limit_and_keeps_nothing(intake: Intake) -> None:
    s = Script(intake)
    for event in (Pick("verbal"), act(ActionName.SKIP), act(ActionName.SKIP), act(ActionName.SKIP)):
        s(event)
    assert s.question == "account"
    before = s.step.draft
    s(TypedText("x" * 3001))
    assert s.step.notices[0].kind is NoticeKind.TOO_LONG
    assert (s.step.notices[0].limit, s.step.notices[0].length) == (3000, 3001)
    assert s.step.draft == before
    s(TypedText("   "))
    assert s.notices == [NoticeKind.EMPTY_TEXT]


def test_back_returns_to_the_previous_question_with_the_answer_kept(intake: Intake) -> None:
    s = Script(intake)
    s(Pick("verbal"))
    s(act(ActionName.BACK))
    assert s.question == "category"
    assert isinstance(s.step.screen, Ask) and s.step.screen.current == "verbal"
    s(act(ActionName.BACK))
    assert s.notices == [NoticeKind.FIRST_QUESTION]


def test_multi_choice_toggles_in_place_and_needs_one_tick(intake: Intake) -> None:
    s = Script(intake)
    s(Pick("verbal"))
    for _ in range(4):
        s(act(ActionName.SKIP))
    assert s.question == "involved_role"
    s(act(ActionName.DONE))
    assert s.notices == [NoticeKind.PICK_ONE]
    step = s(Toggle("client"))
    assert step.in_place
    assert isinstance(step.screen, Ask) and step.screen.selection == ("client",)
    s(Toggle("client"))
    assert isinstance(s.step.screen, Ask) and s.step.screen.selection == ()


def test_stale_and_forged_buttons_change_nothing(intake: Intake) -> None:
    s = Script(intake)
    old_rev = s.step.draft.rev
    s(Pick("verbal"), rev=old_rev)
    after = s.step.draft
    s(Pick("physical"), rev=old_rev)  # the same keyboard pressed again later
    assert s.notices == [NoticeKind.STALE_BUTTON]
    assert s.step.draft == after
    s(Pick("no-such-choice"), rev=after.rev)
    assert s.notices == [NoticeKind.STALE_BUTTON]
    s(EditQuestion("category"), rev=after.rev)  # not on the edit menu
    assert s.notices == [NoticeKind.STALE_BUTTON]
    assert s.step.draft == after


def test_unsupported_message_changes_nothing(intake: Intake) -> None:
    s = Script(intake)
    before = s.step.draft
    s(Unsupported())
    assert s.notices == [NoticeKind.UNSUPPORTED]
    assert s.step.draft == before


def test_edit_from_review_returns_to_review(intake: Intake) -> None:
    s = Script(intake)
    fill_minimal(s)
    assert isinstance(s.step.screen, Review)
    s(act(ActionName.EDIT_MENU))
    assert isinstance(s.step.screen, EditMenu)
    s(EditQuestion("account"))
    assert isinstance(s.step.screen, Ask) and s.step.screen.editing
    s(TypedText("Changed account"))
    assert isinstance(s.step.screen, Review)
    item = next(i for i in s.step.screen.items if i.question.id == "account")
    assert item.answer == "Changed account"


def test_editing_a_trigger_asks_only_the_new_follow_up(intake: Intake) -> None:
    s = Script(intake)
    fill_minimal(s)
    s(act(ActionName.EDIT_MENU))
    s(EditQuestion("witnesses"))
    s(Pick("yes"))
    assert s.question == "witnesses_who"
    s(TypedText("C. Colleague"))
    assert isinstance(s.step.screen, Review)
    # Changing the trigger back drops the follow-up from what is sent.
    s(act(ActionName.EDIT_MENU))
    s(EditQuestion("witnesses"))
    s(Pick("no"))
    assert isinstance(s.step.screen, Review)
    assert "witnesses_who" not in [i.question.id for i in s.step.screen.items]
    step = s(act(ActionName.SUBMIT))
    assert isinstance(step.outcome, Submitted)
    assert "witnesses_who" not in step.outcome.answers
    assert step.outcome.urgent is False


def test_back_while_editing_returns_to_review_unchanged(intake: Intake) -> None:
    s = Script(intake)
    fill_minimal(s)
    s(act(ActionName.EDIT_MENU))
    s(EditQuestion("category"))
    s(act(ActionName.BACK))
    assert isinstance(s.step.screen, Review)
    assert s.step.draft.answers["category"] == "verbal"


def test_cancel_asks_first_then_discards(intake: Intake) -> None:
    s = Script(intake)
    s(Pick("verbal"))
    s(act(ActionName.CANCEL))
    assert isinstance(s.step.screen, ConfirmDiscard)
    s(act(ActionName.KEEP_GOING))
    assert s.question == "when"
    s(act(ActionName.CANCEL))
    step = s(act(ActionName.CONFIRM_DISCARD))
    assert isinstance(step.outcome, Discarded)


def test_discard_from_review_can_be_taken_back(intake: Intake) -> None:
    s = Script(intake)
    fill_minimal(s)
    s(act(ActionName.CANCEL))
    s(act(ActionName.KEEP_GOING))
    assert isinstance(s.step.screen, Review)


def test_draft_survives_json_round_trip(intake: Intake) -> None:
    s = Script(intake)
    s(Pick("verbal"))
    s(TypedText("today"))
    draft = s.step.draft
    assert Draft.from_json(draft.to_json()) == draft
    assert draft.stage is Stage.QUESTION


def test_every_rev_change_is_monotonic(intake: Intake) -> None:
    s = Script(intake)
    revs = [s.step.draft.rev]
    for event in (Pick("verbal"), act(ActionName.BACK), Pick("physical"), TypedText("today")):
        s(event)
        revs.append(s.step.draft.rev)
    assert revs == sorted(revs) and len(set(revs)) == len(revs)
