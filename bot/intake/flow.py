"""The intake conversation as a pure state machine: (draft, input) -> step.

No Telegram, no database, no clock: the caller passes today's date. Every input a person can
produce (a typed text, a button, a sticker) maps to an `Input`; every result is a `Step` that
says what the draft is now, what to show and whether the report was submitted or discarded.
Rendering the screens into words and buttons is the Telegram shell's job.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from enum import StrEnum
from typing import Any

from bot.i18n import DEFAULT, Text, catalogue
from bot.intake.dates import UNKNOWN, DateError, DateOrder, parse_date_answer
from bot.intake.questionnaire import Choice, Kind, Question, Questionnaire
from bot.intake.text import utf16_length, visible

Answer = str | list[str]
DATE_SHORTCUTS = ("today", "yesterday", UNKNOWN)


class Stage(StrEnum):
    QUESTION = "question"
    REVIEW = "review"
    EDIT_MENU = "edit_menu"
    CONFIRM_DISCARD = "confirm_discard"


@dataclass(frozen=True)
class FileNote:
    """A file added to a files question, as the reporter reads it back: what it is, how big
    and what it was called (never its content). `id` is the stored file's, opaque here."""

    id: str
    question: str
    kind: str  # "photo", "pdf", "voice" ... (bot.evidence's kinds, or Telegram's)
    size: int
    name: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "question": self.question,
            "kind": self.kind,
            "size": self.size,
            "name": self.name,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FileNote:
        name = data.get("name")
        return cls(
            id=str(data["id"]),
            question=str(data["question"]),
            kind=str(data["kind"]),
            size=int(data["size"]),
            name=None if name is None else str(name),
        )


@dataclass(frozen=True)
class Draft:
    """A report in progress. `rev` changes with every state change, so buttons on an older
    message can be recognised and refused instead of acting on the wrong question."""

    question: str
    stage: Stage = Stage.QUESTION
    answers: dict[str, Answer] = field(default_factory=dict)
    skipped: frozenset[str] = frozenset()
    editing: bool = False
    selection: tuple[str, ...] | None = None  # a multiple-choice answer being ticked
    return_to: Stage = Stage.QUESTION  # where "keep going" leads from the discard prompt
    rev: int = 0
    # The conflict-of-interest question's choices (choice id, responder's name), fixed when
    # the report was started so the question cannot change under the reporter.
    exclusion: tuple[tuple[str, str], ...] = ()
    # Or: the reporter types the names of people to exclude (no names are shown).
    exclusion_typed: bool = False
    # Files added to files questions (their ids are those questions' answers).
    files: tuple[FileNote, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "stage": self.stage.value,
            "answers": self.answers,
            "skipped": sorted(self.skipped),
            "editing": self.editing,
            "selection": list(self.selection) if self.selection is not None else None,
            "return_to": self.return_to.value,
            "rev": self.rev,
            "exclusion": [list(c) for c in self.exclusion],
            "exclusion_typed": self.exclusion_typed,
            "files": [f.to_json() for f in self.files],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Draft:
        selection = data.get("selection")
        return cls(
            question=str(data["question"]),
            stage=Stage(data.get("stage", Stage.QUESTION)),
            answers=dict(data.get("answers", {})),
            skipped=frozenset(data.get("skipped", ())),
            editing=bool(data.get("editing", False)),
            selection=tuple(selection) if selection is not None else None,
            return_to=Stage(data.get("return_to", Stage.QUESTION)),
            rev=int(data.get("rev", 0)),
            exclusion=tuple((str(a), str(b)) for a, b in data.get("exclusion", ())),
            exclusion_typed=bool(data.get("exclusion_typed", False)),
            files=tuple(FileNote.from_json(f) for f in data.get("files", ())),
        )

    def notes_of(self, question: str) -> tuple[FileNote, ...]:
        """The files answering `question`, in the order they were sent."""
        ids = self.answers.get(question)
        if not isinstance(ids, list):
            return ()
        by_id = {f.id: f for f in self.files if f.question == question}
        return tuple(by_id[i] for i in ids if i in by_id)


# ---- inputs -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TypedText:
    text: str


@dataclass(frozen=True)
class Pick:
    """A choice button (single choice, yes/no, or a date shortcut)."""

    choice: str


@dataclass(frozen=True)
class Toggle:
    """Tick or untick one option of a multiple-choice question."""

    choice: str


@dataclass(frozen=True)
class Action:
    name: ActionName


class ActionName(StrEnum):
    DONE = "done"
    BACK = "back"
    SKIP = "skip"
    CANCEL = "cancel"
    CONFIRM_DISCARD = "discard"
    KEEP_GOING = "keep"
    SUBMIT = "submit"  # and be told of replies in this chat
    SUBMIT_UNLINKED = "submit_unlinked"  # and check only with the receipt code
    EDIT_MENU = "edit"


@dataclass(frozen=True)
class EditQuestion:
    question: str


@dataclass(frozen=True)
class FileAdded:
    """A file was received and stored (by the service) for the current question."""

    note: FileNote


@dataclass(frozen=True)
class Unsupported:
    """A sticker, voice note, location or anything else that is not text or a button."""


Input = TypedText | Pick | Toggle | Action | EditQuestion | FileAdded | Unsupported


# ---- outputs ------------------------------------------------------------------------------


class NoticeKind(StrEnum):
    STALE_BUTTON = "stale_button"
    USE_BUTTONS = "use_buttons"
    TOO_LONG = "too_long"
    EMPTY_TEXT = "empty_text"
    BAD_DATE = "bad_date"
    FUTURE_DATE = "future_date"
    REQUIRED = "required"
    PICK_ONE = "pick_one"
    UNSUPPORTED = "unsupported"
    FIRST_QUESTION = "first_question"
    CHOICE_NOTE = "choice_note"
    KEEP_A_READER = "keep_a_reader"  # excluding everyone would leave nobody to read it
    SEND_FILES = "send_files"  # text typed at a files question
    FILE_NOT_HERE = "file_not_here"  # a file sent at a question that takes none
    TOO_MANY_FILES = "too_many_files"  # `limit`: the question's max_files
    FILE_ADDED = "file_added"


@dataclass(frozen=True)
class Notice:
    kind: NoticeKind
    limit: int = 0
    length: int = 0
    note: Text | None = None
    urgent: bool = False  # the note of a choice that marks the case urgent


@dataclass(frozen=True)
class Ask:
    """A question on screen. Progress counts the main questions only, so the total never
    grows mid-way; a follow-up shows its main question's number and is `continued`."""

    question: Question
    number: int
    total: int
    current: Answer | None
    selection: tuple[str, ...]
    editing: bool
    continued: bool = False
    files: tuple[FileNote, ...] = ()  # a files question: those sent so far


@dataclass(frozen=True)
class ReviewItem:
    question: Question
    answer: Answer | None
    files: tuple[FileNote, ...] = ()


@dataclass(frozen=True)
class Review:
    items: tuple[ReviewItem, ...]


@dataclass(frozen=True)
class EditMenu:
    questions: tuple[Question, ...]


@dataclass(frozen=True)
class ConfirmDiscard:
    pass


Screen = Ask | Review | EditMenu | ConfirmDiscard


@dataclass(frozen=True)
class Submitted:
    answers: dict[str, Answer]
    urgent: bool
    link: bool = True  # the reporter wants to be notified in this chat


@dataclass(frozen=True)
class Discarded:
    pass


@dataclass(frozen=True)
class Step:
    draft: Draft
    screen: Screen
    notices: tuple[Notice, ...] = ()
    outcome: Submitted | Discarded | None = None
    # Only the ticks of a multiple-choice keyboard changed: update that message in place.
    in_place: bool = False


# ---- the machine --------------------------------------------------------------------------


class Intake:
    """The rules of one questionnaire."""

    def __init__(self, questionnaire: Questionnaire, date_order: DateOrder = "ymd") -> None:
        self.questionnaire = questionnaire
        self.date_order = date_order  # how 20/11/2025 is read ([organisation] date_order)
        self._variants: dict[tuple[object, ...], Intake] = {}

    def start(self, exclusion: tuple[tuple[str, str], ...] = (), typed: bool = False) -> Step:
        """A new draft; `exclusion` lists the responders the reporter may exclude, or
        `typed` asks them to type the names instead (so that no name is shown)."""
        draft = Draft(question="", exclusion=exclusion, exclusion_typed=typed)
        intake = self.for_draft(draft)
        first = intake.applicable({})[0]
        return intake._show(replace(draft, question=first.id))

    def for_draft(self, draft: Draft) -> Intake:
        if draft.exclusion_typed:
            return self._with_exclusion(("typed",), typed_exclusion_question)
        if not draft.exclusion:
            return self
        return self._with_exclusion(draft.exclusion, lambda: exclusion_question(draft.exclusion))

    def for_exclusion(self, exclusion: tuple[tuple[str, str], ...]) -> Intake:
        return self.for_draft(Draft(question="", exclusion=exclusion))

    def _with_exclusion(self, key: tuple[object, ...], question: Callable[[], Question]) -> Intake:
        """This questionnaire, plus the conflict-of-interest question (asked before how to be
        contacted)."""
        if key not in self._variants:
            questions = list(self.questionnaire.questions)
            at = (
                self.questionnaire.index("contact")
                if "contact" in self.questionnaire
                else len(questions)
            )
            questions.insert(at, question())
            self._variants[key] = Intake(Questionnaire(tuple(questions)), self.date_order)
        return self._variants[key]

    def show(self, draft: Draft) -> Step:
        """The current screen again, e.g. when the reporter comes back later."""
        return self._show(draft)

    def advance(self, draft: Draft, event: Input, today: date, rev: int | None = None) -> Step:
        """Apply one input. `rev` is the revision a button was drawn for (None for typing)."""
        if rev is not None and rev != draft.rev:
            return self._show(draft, Notice(NoticeKind.STALE_BUTTON))
        if isinstance(event, Unsupported):
            return self._show(draft, Notice(NoticeKind.UNSUPPORTED))
        if isinstance(event, FileAdded) and self.wants_files(draft) is None:
            return self._show(draft, Notice(NoticeKind.FILE_NOT_HERE))
        if draft.stage is Stage.QUESTION:
            return self._on_question(draft, event, today)
        if draft.stage is Stage.REVIEW:
            return self._on_review(draft, event)
        if draft.stage is Stage.EDIT_MENU:
            return self._on_edit_menu(draft, event)
        return self._on_confirm_discard(draft, event)

    def wants_files(self, draft: Draft) -> Question | None:
        """The files question the reporter is on, if they are on one (the service stores a
        file only then, and feeds the flow a FileAdded)."""
        if draft.stage is not Stage.QUESTION or not draft.question:
            return None
        question = self.questionnaire.get(draft.question)
        return question if question.kind is Kind.FILES else None

    def room_for_files(self, draft: Draft) -> int:
        """How many more files the current question takes (0 if it takes none)."""
        question = self.wants_files(draft)
        if question is None:
            return 0
        return max(0, (question.max_files or 0) - len(draft.notes_of(question.id)))

    # -- applicability ---------------------------------------------------------------------

    def applicable(self, answers: dict[str, Answer]) -> list[Question]:
        """Questions to ask, given the answers so far (a follow-up needs its trigger answer)."""
        shown: set[str] = set()
        result: list[Question] = []
        for question in self.questionnaire.questions:
            condition = question.when
            if condition is not None and (
                condition.question not in shown
                or not condition.holds(answers.get(condition.question))
            ):
                continue
            shown.add(question.id)
            result.append(question)
        return result

    def final_answers(self, answers: dict[str, Answer]) -> dict[str, Answer]:
        """Answers to questions that still apply (a changed trigger drops its follow-ups)."""
        return {q.id: answers[q.id] for q in self.applicable(answers) if q.id in answers}

    def is_urgent(self, answers: dict[str, Answer]) -> bool:
        for question in self.applicable(answers):
            value = answers.get(question.id)
            values = value if isinstance(value, list) else [value] if value else []
            if any((c := question.choice(v)) is not None and c.urgent for v in values):
                return True
        return False

    # -- stages ----------------------------------------------------------------------------

    def _on_question(self, draft: Draft, event: Input, today: date) -> Step:
        question = self.questionnaire.get(draft.question)
        if question.kind is Kind.FILES:
            files = self._on_files(draft, question, event)
            if files is not None:
                return files
        match event:
            case TypedText(text):
                return self._typed(draft, question, text, today)
            case Pick(choice):
                if question.kind is Kind.DATE and choice in DATE_SHORTCUTS:
                    return self._answer(draft, question, parse_date_answer(choice, today))
                if question.kind in (Kind.SINGLE, Kind.YESNO) and question.choice(choice):
                    return self._answer(draft, question, choice)
            case Toggle(choice) if question.kind is Kind.MULTI and question.choice(choice):
                return self._toggle(draft, question, choice)
            case Action(ActionName.DONE) if question.kind is Kind.MULTI:
                chosen = self._selection(draft, question)
                if not chosen:
                    return self._show(draft, Notice(NoticeKind.PICK_ONE))
                if question.id == EXCLUSION_QUESTION and set(chosen) >= {
                    c.id for c in question.choices
                }:
                    return self._show(draft, Notice(NoticeKind.KEEP_A_READER))
                ordered = [c.id for c in question.choices if c.id in chosen]
                return self._answer(draft, question, ordered)
            case Action(ActionName.SKIP):
                if question.required:
                    return self._show(draft, Notice(NoticeKind.REQUIRED))
                return self._after(
                    draft,
                    question,
                    answers=_without(draft.answers, question.id),
                    skipped=draft.skipped | {question.id},
                )
            case Action(ActionName.BACK):
                return self._back(draft, question)
            case Action(ActionName.CANCEL):
                return self._show(
                    _bump(draft, stage=Stage.CONFIRM_DISCARD, return_to=Stage.QUESTION)
                )
        return self._show(draft, Notice(NoticeKind.STALE_BUTTON))

    def _on_files(self, draft: Draft, question: Question, event: Input) -> Step | None:
        """A files question's own inputs (None: handled as for any question)."""
        ids = list(draft.answers.get(question.id) or [])
        match event:
            case FileAdded(note):
                if len(ids) >= (question.max_files or 0):
                    return self._show(
                        draft, Notice(NoticeKind.TOO_MANY_FILES, limit=question.max_files or 0)
                    )
                note = replace(note, question=question.id)
                added = _bump(
                    draft,
                    answers={**draft.answers, question.id: [*ids, note.id]},
                    skipped=draft.skipped - {question.id},
                    files=(*draft.files, note),
                )
                return self._show(added, Notice(NoticeKind.FILE_ADDED))
            case Action(ActionName.DONE):
                if not ids:
                    if question.required:
                        return self._show(draft, Notice(NoticeKind.REQUIRED))
                    return self._on_question(draft, Action(ActionName.SKIP), date.min)
                return self._after(
                    draft, question, answers=draft.answers, skipped=draft.skipped - {question.id}
                )
            case TypedText():
                return self._show(draft, Notice(NoticeKind.SEND_FILES))
        return None

    def _typed(self, draft: Draft, question: Question, text: str, today: date) -> Step:
        text = visible(text)  # a zero-width space alone is no answer
        if question.kind is Kind.TEXT:
            limit = question.max_length or 0
            if not text:
                return self._show(draft, Notice(NoticeKind.EMPTY_TEXT))
            length = utf16_length(text)  # as Telegram counts, so that it can be delivered
            if length > limit:
                return self._show(draft, Notice(NoticeKind.TOO_LONG, limit=limit, length=length))
            return self._answer(draft, question, text)
        if question.kind is Kind.DATE:
            try:
                answer = parse_date_answer(text, today, self.date_order)
                return self._answer(draft, question, answer)
            except DateError as error:
                kind = NoticeKind.FUTURE_DATE if error.future else NoticeKind.BAD_DATE
                return self._show(draft, Notice(kind))
        if question.kind in (Kind.SINGLE, Kind.YESNO):
            # Typing a button's label ("yes", "是") is as good as pressing it.
            folded = text.casefold()
            for choice in question.choices:
                if folded in {form.casefold() for form in choice.label.forms()}:
                    return self._answer(draft, question, choice.id)
        return self._show(draft, Notice(NoticeKind.USE_BUTTONS))

    def _toggle(self, draft: Draft, question: Question, choice: str) -> Step:
        chosen = list(self._selection(draft, question))
        if choice in chosen:
            chosen.remove(choice)
        else:
            chosen.append(choice)
        step = self._show(_bump(draft, selection=tuple(chosen)))
        return replace(step, in_place=True)

    def _selection(self, draft: Draft, question: Question) -> tuple[str, ...]:
        if draft.selection is not None:
            return draft.selection
        current = draft.answers.get(question.id)
        return tuple(current) if isinstance(current, list) else ()

    def _answer(self, draft: Draft, question: Question, value: Answer) -> Step:
        answers = {**draft.answers, question.id: value}
        notes = tuple(
            Notice(NoticeKind.CHOICE_NOTE, note=choice.note, urgent=choice.urgent)
            for v in (value if isinstance(value, list) else [value])
            if (choice := question.choice(v)) is not None and choice.note is not None
        )
        step = self._after(draft, question, answers=answers, skipped=draft.skipped - {question.id})
        return replace(step, notices=notes + step.notices)

    def _after(
        self,
        draft: Draft,
        question: Question,
        *,
        answers: dict[str, Answer],
        skipped: frozenset[str],
    ) -> Step:
        """Move on after `question` was answered or skipped."""
        later = self._following(answers, question.id)
        if draft.editing:
            # While editing, only visit follow-ups the change has newly opened up.
            later = [q for q in later if q.id not in answers and q.id not in skipped]
        base = _bump(draft, answers=answers, skipped=skipped, selection=None)
        if later:
            return self._show(replace(base, question=later[0].id))
        return self._show(replace(base, stage=Stage.REVIEW, editing=False))

    def _following(self, answers: dict[str, Answer], question_id: str) -> list[Question]:
        questions = self.applicable(answers)
        ids = [q.id for q in questions]
        position = ids.index(question_id) if question_id in ids else -1
        return questions[position + 1 :]

    def _back(self, draft: Draft, question: Question) -> Step:
        if draft.editing:
            return self._show(_bump(draft, stage=Stage.REVIEW, editing=False, selection=None))
        questions = self.applicable(draft.answers)
        ids = [q.id for q in questions]
        position = ids.index(question.id)
        if position == 0:
            return self._show(draft, Notice(NoticeKind.FIRST_QUESTION))
        return self._show(_bump(draft, question=ids[position - 1], selection=None))

    def _on_review(self, draft: Draft, event: Input) -> Step:
        match event:
            case Action(ActionName.SUBMIT) | Action(ActionName.SUBMIT_UNLINKED):
                answers = self.final_answers(draft.answers)
                missing = [
                    q for q in self.applicable(answers) if q.required and q.id not in answers
                ]
                if missing:
                    moved = _bump(draft, stage=Stage.QUESTION, question=missing[0].id, editing=True)
                    return self._show(moved, Notice(NoticeKind.REQUIRED))
                return Step(
                    draft=draft,
                    screen=self._review(draft),
                    outcome=Submitted(
                        answers, self.is_urgent(answers), event.name is ActionName.SUBMIT
                    ),
                )
            case Action(ActionName.EDIT_MENU):
                return self._show(_bump(draft, stage=Stage.EDIT_MENU))
            case Action(ActionName.CANCEL):
                return self._show(_bump(draft, stage=Stage.CONFIRM_DISCARD, return_to=Stage.REVIEW))
            case Action(ActionName.BACK):
                last = self.applicable(draft.answers)[-1]
                return self._show(_bump(draft, stage=Stage.QUESTION, question=last.id))
            case TypedText():
                return self._show(draft, Notice(NoticeKind.USE_BUTTONS))
        return self._show(draft, Notice(NoticeKind.STALE_BUTTON))

    def _on_edit_menu(self, draft: Draft, event: Input) -> Step:
        match event:
            case EditQuestion(question_id) if question_id in {
                q.id for q in self.applicable(draft.answers)
            }:
                return self._show(
                    _bump(
                        draft,
                        stage=Stage.QUESTION,
                        question=question_id,
                        editing=True,
                        selection=None,
                    )
                )
            case Action(ActionName.BACK):
                return self._show(_bump(draft, stage=Stage.REVIEW))
            case Action(ActionName.CANCEL):
                return self._show(_bump(draft, stage=Stage.CONFIRM_DISCARD, return_to=Stage.REVIEW))
            case TypedText():
                return self._show(draft, Notice(NoticeKind.USE_BUTTONS))
        return self._show(draft, Notice(NoticeKind.STALE_BUTTON))

    def _on_confirm_discard(self, draft: Draft, event: Input) -> Step:
        match event:
            case Action(ActionName.CONFIRM_DISCARD):
                return Step(draft=draft, screen=ConfirmDiscard(), outcome=Discarded())
            case Action(ActionName.KEEP_GOING) | Action(ActionName.BACK):
                return self._show(_bump(draft, stage=draft.return_to))
            case TypedText():
                return self._show(draft, Notice(NoticeKind.USE_BUTTONS))
        return self._show(draft, Notice(NoticeKind.STALE_BUTTON))

    # -- screens ---------------------------------------------------------------------------

    def _show(self, draft: Draft, *notices: Notice) -> Step:
        return Step(draft=draft, screen=self._screen(draft), notices=notices)

    def _screen(self, draft: Draft) -> Screen:
        if draft.stage is Stage.REVIEW:
            return self._review(draft)
        if draft.stage is Stage.EDIT_MENU:
            return EditMenu(tuple(self.applicable(draft.answers)))
        if draft.stage is Stage.CONFIRM_DISCARD:
            return ConfirmDiscard()
        question = self.questionnaire.get(draft.question)
        number, total = self._progress(question)
        return Ask(
            question=question,
            number=number,
            total=total,
            current=draft.answers.get(question.id),
            selection=self._selection(draft, question),
            editing=draft.editing,
            continued=question.when is not None,
            files=draft.notes_of(question.id),
        )

    def _progress(self, question: Question) -> tuple[int, int]:
        """(number, total) counting main questions: those asked whatever the answers."""
        number = total = 0
        for candidate in self.questionnaire.questions:
            if candidate.when is None:
                total += 1
                if self.questionnaire.index(candidate.id) <= self.questionnaire.index(question.id):
                    number = total
        return max(1, number), total

    def _review(self, draft: Draft) -> Review:
        return Review(
            tuple(
                ReviewItem(q, draft.answers.get(q.id), draft.notes_of(q.id))
                for q in self.applicable(draft.answers)
            )
        )


def _bump(draft: Draft, **changes: Any) -> Draft:
    return replace(draft, rev=draft.rev + 1, **changes)


def _without(answers: dict[str, Answer], key: str) -> dict[str, Answer]:
    return {k: v for k, v in answers.items() if k != key}


EXCLUSION_QUESTION = "exclude"


TYPED_EXCLUSION_MAX = 300


def exclusion_question(choices: tuple[tuple[str, str], ...]) -> Question:
    texts = catalogue()
    return Question(
        id=EXCLUSION_QUESTION,
        kind=Kind.MULTI,
        text=texts.text_of("exclusion_question"),
        short=texts.text_of("exclusion_short"),
        required=False,
        choices=tuple(Choice(id=cid, label=Text({DEFAULT: name})) for cid, name in choices),
        max_length=None,
        hint=None,
        when=None,
    )


def typed_exclusion_question() -> Question:
    """The same question without showing anyone's name: the reporter types names, which are
    matched against the responders' (bot.intake.names) when the report is sent."""
    texts = catalogue()
    return Question(
        id=EXCLUSION_QUESTION,
        kind=Kind.TEXT,
        text=texts.text_of("exclusion_question_typed"),
        short=texts.text_of("exclusion_short"),
        required=False,
        choices=(),
        max_length=TYPED_EXCLUSION_MAX,
        hint=None,
        when=None,
    )
