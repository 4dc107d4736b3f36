"""The intake questionnaire: a validated, immutable model loaded from TOML.

The default questionnaire ships inside the package (``questionnaire.toml`` next to this
module, read with :mod:`importlib.resources` so it also works from an installed wheel).
An operator may point the configuration at their own file with the same schema.

This module is pure: no Telegram, no database. Every problem in a file is reported as a
:class:`QuestionnaireError` naming the file, the question and the field, what is wrong and
what is expected, so an operator can fix their file without reading this code.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from importlib import resources

from bot.i18n import Text, catalogue

__all__ = [
    "Choice",
    "Condition",
    "Kind",
    "Question",
    "Questionnaire",
    "QuestionnaireError",
    "Text",
    "load_questionnaire",
    "parse_questionnaire",
]


SCHEMA_VERSION = 1
ID_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,23}")
ID_RULE = "1 to 24 characters: a lowercase letter, then lowercase letters, digits or '_'"
DEFAULT_MAX_LENGTH = 2000
MAX_LENGTH_RANGE = (1, 3500)
CHOICES_RANGE = (2, 12)
DEFAULT_MAX_FILES = 10
MAX_FILES_RANGE = (1, 50)
LABEL_MAX_CHARS = 40

_PACKAGE = "bot.intake"
_DEFAULT_FILE = "questionnaire.toml"


def _text_shape() -> str:
    """How a text is written: one string per language, e.g. { en = "...", zh = "..." }."""
    return "{ " + ", ".join(f'{code} = "..."' for code in catalogue().builtin) + " }"


class QuestionnaireError(ValueError):
    """A questionnaire file that cannot be used; the message says where and why."""


class Kind(StrEnum):
    SINGLE = "single"
    MULTI = "multi"
    TEXT = "text"
    DATE = "date"
    YESNO = "yesno"
    FILES = "files"  # evidence: photos, documents, recordings, sent as attachments


CHOICE_KINDS = frozenset({Kind.SINGLE, Kind.MULTI, Kind.YESNO})


@dataclass(frozen=True)
class Choice:
    id: str
    label: Text
    urgent: bool = False  # choosing it marks the case urgent
    note: Text | None = None  # shown to the reporter right after choosing it


YES_NO_CHOICES: tuple[Choice, ...] = (
    Choice("yes", catalogue().text_of("choice_yes")),
    Choice("no", catalogue().text_of("choice_no")),
)


@dataclass(frozen=True)
class Condition:
    """Ask a question only after a given earlier answer."""

    question: str
    any_of: frozenset[str]

    def holds(self, answer: object) -> bool:
        """Whether ``answer`` (None, a choice id / "yes" / "no", or a list of ids) matches."""
        if isinstance(answer, str):
            return answer in self.any_of
        if isinstance(answer, list | tuple | set | frozenset):
            return any(isinstance(item, str) and item in self.any_of for item in answer)
        return False


@dataclass(frozen=True)
class Question:
    id: str
    kind: Kind
    text: Text
    short: Text
    required: bool
    choices: tuple[Choice, ...]
    max_length: int | None
    hint: Text | None
    when: Condition | None
    max_files: int | None = None  # files questions: how many files it takes

    def choice(self, choice_id: str) -> Choice | None:
        for choice in self.choices:
            if choice.id == choice_id:
                return choice
        return None


@dataclass(frozen=True)
class Questionnaire:
    questions: tuple[Question, ...]
    _positions: Mapping[str, int] = field(
        init=False, repr=False, compare=False, hash=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        positions: dict[str, int] = {}
        for position, question in enumerate(self.questions):
            if question.id in positions:
                raise QuestionnaireError(f"duplicate question id {question.id!r}")
            positions[question.id] = position
        object.__setattr__(self, "_positions", positions)

    def get(self, question_id: str) -> Question:
        """The question with this id; KeyError if there is none."""
        return self.questions[self._positions[question_id]]

    def index(self, question_id: str) -> int:
        """Position of the question in asking order; KeyError if there is none."""
        return self._positions[question_id]

    def __contains__(self, question_id: object) -> bool:
        return isinstance(question_id, str) and question_id in self._positions


# --------------------------------------------------------------------------- loading


def load_questionnaire(path: str | os.PathLike[str] | None = None) -> Questionnaire:
    """Load and validate a questionnaire file; ``None`` loads the packaged default."""
    if path is None:
        resource = resources.files(_PACKAGE).joinpath(_DEFAULT_FILE)
        source = f"{_PACKAGE.replace('.', '/')}/{_DEFAULT_FILE} (built-in questionnaire)"
        try:
            text = resource.read_text(encoding="utf-8")
        except OSError as exc:  # pragma: no cover - a broken installation
            raise QuestionnaireError(f"{source}: cannot be read: {exc}") from exc
        return parse_questionnaire(text, source)
    source = os.fspath(path)
    try:
        with open(source, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise QuestionnaireError(
            f"{source}: cannot read the questionnaire file: {reason}. "
            "Expected a readable TOML file (or leave intake.questionnaire empty "
            "to use the built-in questionnaire)."
        ) from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise QuestionnaireError(
            f"{source}: is not valid UTF-8 text (byte {exc.start}); save the file as UTF-8."
        ) from exc
    return parse_questionnaire(text, source)


def parse_questionnaire(text: str, source: str = "<string>") -> Questionnaire:
    """Parse and validate questionnaire TOML; ``source`` names it in error messages."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise QuestionnaireError(f"{source}: invalid TOML: {exc}") from exc
    return _Parser(source).document(document)


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source

    # -- errors

    def fail(self, where: str, problem: str) -> QuestionnaireError:
        return QuestionnaireError(f"{self.source}: {where}: {problem}")

    def check_keys(self, table: Mapping[str, object], allowed: tuple[str, ...], where: str) -> None:
        unknown = sorted(set(table) - set(allowed))
        if unknown:
            names = ", ".join(repr(key) for key in unknown)
            expected = ", ".join(allowed)
            raise self.fail(
                where,
                f"unknown key{'s' if len(unknown) > 1 else ''} {names} (check the spelling); "
                f"allowed keys: {expected}",
            )

    # -- values

    def table(self, value: object, where: str) -> dict[str, object]:
        if not isinstance(value, dict):
            raise self.fail(where, f"expected a table, got {_describe(value)}")
        return value

    def string(self, value: object, where: str) -> str:
        if not isinstance(value, str):
            raise self.fail(where, f"expected a string, got {_describe(value)}")
        return value

    def boolean(self, value: object, where: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(where, f"expected true or false, got {_describe(value)}")
        return value

    def identifier(self, value: object, where: str) -> str:
        ident = self.string(value, where)
        if not ID_PATTERN.fullmatch(ident):
            raise self.fail(where, f"invalid id {ident!r}; expected {ID_RULE}")
        return ident

    def text(self, value: object, where: str, max_chars: int | None = None) -> Text:
        table = self.table(value, where)
        languages = catalogue()
        self.check_keys(table, languages.languages, where)
        strings: dict[str, str] = {}
        for lang in (*languages.builtin, *(k for k in table if k not in languages.builtin)):
            if lang not in table:
                raise self.fail(where, f"missing the {lang!r} text; expected {_text_shape()}")
            string = self.string(table[lang], f"{where}.{lang}").strip()
            if not string:
                raise self.fail(f"{where}.{lang}", "is empty; expected a non-empty string")
            if max_chars is not None and len(string) > max_chars:
                raise self.fail(
                    f"{where}.{lang}",
                    f"is {len(string)} characters long; button labels must be at most "
                    f"{max_chars} characters to fit on a phone",
                )
            strings[lang] = string
        return Text(strings)

    # -- structure

    def document(self, document: dict[str, object]) -> Questionnaire:
        self.check_keys(document, ("version", "questions"), "top level")
        if "version" not in document:
            raise self.fail("top level", f"missing 'version'; expected version = {SCHEMA_VERSION}")
        version = document["version"]
        if type(version) is not int or version != SCHEMA_VERSION:
            raise self.fail(
                "version", f"unsupported version {version!r}; expected version = {SCHEMA_VERSION}"
            )
        entries = document.get("questions")
        if entries is None:
            raise self.fail("top level", "no questions; expected at least one [[questions]] table")
        if not isinstance(entries, list):
            raise self.fail(
                "questions", f"expected an array of [[questions]] tables, got {_describe(entries)}"
            )
        if not entries:
            raise self.fail("questions", "is empty; expected at least one [[questions]] table")
        questions: list[Question] = []
        seen: dict[str, Question] = {}
        for number, entry in enumerate(entries, start=1):
            question = self.question(entry, number, seen)
            seen[question.id] = question
            questions.append(question)
        return Questionnaire(tuple(questions))

    def question(self, entry: object, number: int, earlier: Mapping[str, Question]) -> Question:
        where = f"question #{number}"
        table = self.table(entry, where)
        if "id" not in table:
            raise self.fail(where, "missing 'id'")
        qid = self.identifier(table["id"], f"{where}.id")
        where = f"question {qid!r} (#{number})"
        if qid in earlier:
            raise self.fail(
                where,
                f"duplicate question id {qid!r} (already used by question "
                f"#{list(earlier).index(qid) + 1}); question ids must be unique",
            )
        self.check_keys(
            table,
            (
                "id",
                "kind",
                "required",
                "text",
                "short",
                "hint",
                "max_length",
                "max_files",
                "choices",
                "when",
            ),
            where,
        )

        if "kind" not in table:
            raise self.fail(where, f"missing 'kind'; expected one of: {_kinds()}")
        kind_name = self.string(table["kind"], f"{where}.kind")
        try:
            kind = Kind(kind_name)
        except ValueError:
            raise self.fail(
                f"{where}.kind", f"unknown kind {kind_name!r}; expected one of: {_kinds()}"
            ) from None

        required = self.boolean(table.get("required", False), f"{where}.required")
        for name in ("text", "short"):
            if name not in table:
                raise self.fail(where, f"missing '{name}'; expected {_text_shape()}")
        text = self.text(table["text"], f"{where}.text")
        short = self.text(table["short"], f"{where}.short")
        hint = self.text(table["hint"], f"{where}.hint") if "hint" in table else None

        return Question(
            id=qid,
            kind=kind,
            text=text,
            short=short,
            required=required,
            choices=self.choices(table, kind, where),
            max_length=self.max_length(table, kind, where),
            hint=hint,
            when=self.condition(table["when"], f"{where}.when", earlier)
            if "when" in table
            else None,
            max_files=self.max_files(table, kind, where),
        )

    def choices(self, table: Mapping[str, object], kind: Kind, where: str) -> tuple[Choice, ...]:
        if kind is Kind.YESNO:
            if "choices" in table:
                raise self.fail(
                    f"{where}.choices",
                    "yesno questions have the implicit choices 'yes' and 'no'; "
                    "remove the [[questions.choices]] tables",
                )
            return YES_NO_CHOICES
        if kind not in (Kind.SINGLE, Kind.MULTI):
            if "choices" in table:
                raise self.fail(
                    f"{where}.choices",
                    f"{kind.value} questions take no choices; choices are only for "
                    "single and multi questions",
                )
            return ()
        entries = table.get("choices")
        if entries is None:
            raise self.fail(
                where,
                f"a {kind.value} question needs [[questions.choices]]; expected "
                f"{CHOICES_RANGE[0]} to {CHOICES_RANGE[1]} choices",
            )
        if not isinstance(entries, list):
            raise self.fail(
                f"{where}.choices",
                f"expected an array of [[questions.choices]] tables, got {_describe(entries)}",
            )
        low, high = CHOICES_RANGE
        if not low <= len(entries) <= high:
            raise self.fail(
                f"{where}.choices",
                f"has {len(entries)} choice{'' if len(entries) == 1 else 's'}; "
                f"expected {low} to {high}",
            )
        choices: list[Choice] = []
        for number, entry in enumerate(entries, start=1):
            place = f"{where}.choices #{number}"
            choice_table = self.table(entry, place)
            if "id" not in choice_table:
                raise self.fail(place, "missing 'id'")
            cid = self.identifier(choice_table["id"], f"{place}.id")
            place = f"{where}.choices {cid!r}"
            if any(choice.id == cid for choice in choices):
                raise self.fail(
                    place, f"duplicate choice id {cid!r}; choice ids must be unique in a question"
                )
            self.check_keys(choice_table, ("id", "label", "urgent", "note"), place)
            if "label" not in choice_table:
                raise self.fail(place, f"missing 'label'; expected {_text_shape()}")
            choices.append(
                Choice(
                    id=cid,
                    label=self.text(choice_table["label"], f"{place}.label", LABEL_MAX_CHARS),
                    urgent=self.boolean(choice_table.get("urgent", False), f"{place}.urgent"),
                    note=self.text(choice_table["note"], f"{place}.note")
                    if "note" in choice_table
                    else None,
                )
            )
        return tuple(choices)

    def max_length(self, table: Mapping[str, object], kind: Kind, where: str) -> int | None:
        return self.bound(
            table, "max_length", Kind.TEXT, kind, DEFAULT_MAX_LENGTH, MAX_LENGTH_RANGE, where
        )

    def max_files(self, table: Mapping[str, object], kind: Kind, where: str) -> int | None:
        return self.bound(
            table, "max_files", Kind.FILES, kind, DEFAULT_MAX_FILES, MAX_FILES_RANGE, where
        )

    def bound(
        self,
        table: Mapping[str, object],
        key: str,
        takes_it: Kind,
        kind: Kind,
        default: int,
        bounds: tuple[int, int],
        where: str,
    ) -> int | None:
        """An integer setting only one kind of question takes (max_length, max_files)."""
        if kind is not takes_it:
            if key in table:
                raise self.fail(
                    f"{where}.{key}",
                    f"only {takes_it.value} questions take {key}, this is a {kind.value} question",
                )
            return None
        value = table.get(key, default)
        low, high = bounds
        if isinstance(value, bool) or not isinstance(value, int):
            expected = f"expected an integer from {low} to {high}"
            raise self.fail(f"{where}.{key}", f"{expected}, got {_describe(value)}")
        if not low <= value <= high:
            raise self.fail(f"{where}.{key}", f"{value} is out of range; expected {low} to {high}")
        return value

    def condition(self, value: object, where: str, earlier: Mapping[str, Question]) -> Condition:
        table = self.table(value, where)
        self.check_keys(table, ("question", "any_of"), where)
        if "question" not in table:
            raise self.fail(where, "missing 'question'; expected the id of an earlier question")
        target_id = self.string(table["question"], f"{where}.question")
        target = earlier.get(target_id)
        if target is None:
            raise self.fail(
                f"{where}.question",
                f"{target_id!r} is not an earlier question; `when` must refer to a question "
                "asked before this one",
            )
        if target.kind not in CHOICE_KINDS:
            raise self.fail(
                f"{where}.question",
                f"{target_id!r} is a {target.kind.value} question; `when` must refer to a "
                "single, multi or yesno question",
            )
        if "any_of" not in table:
            raise self.fail(where, "missing 'any_of'; expected a list of choice ids")
        values = table["any_of"]
        valid = [choice.id for choice in target.choices]
        if not isinstance(values, list) or not values:
            raise self.fail(
                f"{where}.any_of",
                f"expected a non-empty list of choice ids of {target_id!r} "
                f"(one or more of: {', '.join(valid)}), got {_describe(values)}",
            )
        any_of: set[str] = set()
        for item in values:
            if not isinstance(item, str) or item not in valid:
                raise self.fail(
                    f"{where}.any_of",
                    f"{item!r} is not a choice of {target_id!r}; expected one or more of: "
                    f"{', '.join(valid)}",
                )
            any_of.add(item)
        return Condition(question=target_id, any_of=frozenset(any_of))


def _kinds() -> str:
    return ", ".join(kind.value for kind in Kind)


def _describe(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    return f"a {type(value).__name__}"
