"""A files question in the pure flow: the service stores a file, then says so (FileAdded)."""

from __future__ import annotations

from datetime import date

import pytest

from bot.intake.flow import (
    Action,
    ActionName,
    Ask,
    Draft,
    FileAdded,
    FileNote,
    Intake,
    NoticeKind,
    Review,
    Step,
    Submitted,
    TypedText,
)
from bot.intake.questionnaire import QuestionnaireError, parse_questionnaire

TODAY = date(2026, 11, 20)
QUESTIONS = """
version = 1
[[questions]]
id = "account"
kind = "text"
text = { en = "What happened?", zh = "发生了什么？" }
short = { en = "Account", zh = "经过" }

[[questions]]
id = "proof"
kind = "files"
max_files = 2
text = { en = "Any files?", zh = "有文件吗？" }
short = { en = "Files", zh = "文件" }

[[questions]]
id = "last"
kind = "text"
text = { en = "Anything else?", zh = "还有吗？" }
short = { en = "Else", zh = "其他" }
"""


def note(n: int) -> FileNote:
    return FileNote(id=f"{n:032x}", question="", kind="pdf", size=1000 * n, name=f"f{n}.pdf")


@pytest.fixture
def at_files() -> tuple[Intake, Step]:
    intake = Intake(parse_questionnaire(QUESTIONS))
    step = intake.advance(intake.start().draft, TypedText("words"), TODAY)
    assert step.draft.question == "proof"
    return intake, step


def test_files_are_added_up_to_the_maximum(at_files: tuple[Intake, Step]) -> None:
    intake, step = at_files
    assert intake.wants_files(step.draft) is not None and intake.room_for_files(step.draft) == 2
    step = intake.advance(step.draft, FileAdded(note(1)), TODAY)
    step = intake.advance(step.draft, FileAdded(note(2)), TODAY)
    assert [n.kind for n in step.notices] == [NoticeKind.FILE_ADDED]
    assert isinstance(step.screen, Ask) and [f.name for f in step.screen.files] == [
        "f1.pdf",
        "f2.pdf",
    ]
    assert intake.room_for_files(step.draft) == 0
    full = intake.advance(step.draft, FileAdded(note(3)), TODAY)
    assert [(n.kind, n.limit) for n in full.notices] == [(NoticeKind.TOO_MANY_FILES, 2)]
    assert full.draft == step.draft
    assert Draft.from_json(step.draft.to_json()) == step.draft


def test_done_moves_on_and_the_review_lists_the_files(at_files: tuple[Intake, Step]) -> None:
    intake, step = at_files
    step = intake.advance(step.draft, FileAdded(note(1)), TODAY)
    step = intake.advance(step.draft, Action(ActionName.DONE), TODAY)
    assert step.draft.question == "last"
    step = intake.advance(step.draft, Action(ActionName.SKIP), TODAY)
    assert isinstance(step.screen, Review)
    (item,) = [i for i in step.screen.items if i.question.id == "proof"]
    assert [f.name for f in item.files] == ["f1.pdf"]
    done = intake.advance(step.draft, Action(ActionName.SUBMIT), TODAY)
    assert isinstance(done.outcome, Submitted)
    assert done.outcome.answers["proof"] == [note(1).id]


def test_done_without_files_skips_and_skip_drops_them(at_files: tuple[Intake, Step]) -> None:
    intake, step = at_files
    skipped = intake.advance(step.draft, Action(ActionName.DONE), TODAY)
    assert skipped.draft.question == "last" and "proof" in skipped.draft.skipped
    added = intake.advance(step.draft, FileAdded(note(1)), TODAY)
    dropped = intake.advance(added.draft, Action(ActionName.SKIP), TODAY)
    assert "proof" not in dropped.draft.answers


def test_text_and_files_in_the_wrong_place_are_explained(at_files: tuple[Intake, Step]) -> None:
    intake, step = at_files
    typed = intake.advance(step.draft, TypedText("here you go"), TODAY)
    assert [n.kind for n in typed.notices] == [NoticeKind.SEND_FILES]
    first = intake.start()
    assert intake.wants_files(first.draft) is None
    elsewhere = intake.advance(first.draft, FileAdded(note(1)), TODAY)
    assert [n.kind for n in elsewhere.notices] == [NoticeKind.FILE_NOT_HERE]


def test_max_files_is_checked() -> None:
    with pytest.raises(QuestionnaireError, match="max_files"):
        parse_questionnaire(QUESTIONS.replace("max_files = 2", "max_files = 0"))
    with pytest.raises(QuestionnaireError, match="only files questions take max_files"):
        parse_questionnaire(
            QUESTIONS.replace('kind = "text"\n', 'kind = "text"\nmax_files = 3\n', 1)
        )
