"""The intake questionnaire: the packaged default and the validation of custom files."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from bot.i18n import catalogue
from bot.intake.questionnaire import (
    Choice,
    Condition,
    Kind,
    Question,
    Questionnaire,
    QuestionnaireError,
    Text,
    load_questionnaire,
    parse_questionnaire,
)

EXPECTED_IDS = [
    "category",
    "when",
    "frequency",
    "where",
    "account",
    "involved_role",
    "involved_who",
    "witnesses",
    "witnesses_who",
    "evidence",
    "reported_before",
    "reported_to",
    "safe_now",
    "outcome",
    "contact",
    "contact_details",
]


@pytest.fixture(scope="module")
def default() -> Questionnaire:
    return load_questionnaire()


def all_texts(questionnaire: Questionnaire) -> list[tuple[str, Text]]:
    texts: list[tuple[str, Text]] = []
    for q in questionnaire.questions:
        texts += [(f"{q.id}.text", q.text), (f"{q.id}.short", q.short)]
        if q.hint is not None:
            texts.append((f"{q.id}.hint", q.hint))
        for c in q.choices:
            texts.append((f"{q.id}.{c.id}.label", c.label))
            if c.note is not None:
                texts.append((f"{q.id}.{c.id}.note", c.note))
    return texts


# ------------------------------------------------------------------------- the default


def test_default_loads_with_ids_in_order(default: Questionnaire) -> None:
    assert [q.id for q in default.questions] == EXPECTED_IDS


def test_default_kinds(default: Questionnaire) -> None:
    kinds = {q.id: q.kind for q in default.questions}
    assert kinds == {
        "category": Kind.SINGLE,
        "when": Kind.DATE,
        "frequency": Kind.SINGLE,
        "where": Kind.SINGLE,
        "account": Kind.TEXT,
        "involved_role": Kind.MULTI,
        "involved_who": Kind.TEXT,
        "witnesses": Kind.YESNO,
        "witnesses_who": Kind.TEXT,
        "evidence": Kind.FILES,
        "reported_before": Kind.YESNO,
        "reported_to": Kind.TEXT,
        "safe_now": Kind.SINGLE,
        "outcome": Kind.MULTI,
        "contact": Kind.SINGLE,
        "contact_details": Kind.TEXT,
    }


def test_only_the_first_question_is_required(default: Questionnaire) -> None:
    assert [q.id for q in default.questions if q.required] == ["category"]


def test_default_choice_ids(default: Questionnaire) -> None:
    def ids(qid: str) -> list[str]:
        return [c.id for c in default.get(qid).choices]

    assert ids("category") == [
        "verbal",
        "physical",
        "sexual_harassment",
        "sexual_assault",
        "coercion",
        "discrimination",
        "retaliation",
        "other",
    ]
    assert ids("frequency") == ["once", "several", "ongoing"]
    assert ids("where") == ["workplace", "event", "business_trip", "online", "other"]
    assert ids("involved_role") == ["manager", "colleague", "client", "other"]
    assert ids("safe_now") == ["safe", "unsure", "danger"]
    assert ids("outcome") == [
        "stop",
        "investigation",
        "discipline",
        "change",
        "support",
        "record_only",
        "not_sure",
    ]
    assert ids("contact") == ["bot_only", "named"]


def test_default_max_lengths(default: Questionnaire) -> None:
    lengths = {q.id: q.max_length for q in default.questions if q.kind is Kind.TEXT}
    assert lengths == {
        "account": 3000,
        "involved_who": 300,
        "witnesses_who": 500,
        "reported_to": 1000,
        "contact_details": 300,
    }
    assert all(q.max_length is None for q in default.questions if q.kind is not Kind.TEXT)


def test_default_conditions(default: Questionnaire) -> None:
    conditions = {q.id: q.when for q in default.questions if q.when is not None}
    assert conditions == {
        "witnesses_who": Condition("witnesses", frozenset({"yes"})),
        "reported_to": Condition("reported_before", frozenset({"yes"})),
        "contact_details": Condition("contact", frozenset({"named"})),
    }


def test_danger_is_the_only_urgent_choice_and_says_what_to_do(default: Questionnaire) -> None:
    urgent = [(q.id, c.id) for q in default.questions for c in q.choices if c.urgent]
    assert urgent == [("safe_now", "danger")]
    danger = default.get("safe_now").choice("danger")
    assert danger is not None
    assert danger.note is not None
    assert "emergency number" in danger.note.get("en")
    assert "urgent" in danger.note.get("en")
    assert "110" in danger.note.get("en")
    assert "110" in danger.note.get("zh")
    assert "紧急" in danger.note.get("zh")


def test_every_text_has_english_and_chinese(default: Questionnaire) -> None:
    texts = all_texts(default)
    assert len(texts) > 60
    for where, text in texts:
        assert text.get("en").strip(), where
        assert text.get("zh").strip(), where
        assert text.get("en") != text.get("zh"), where
        # The Chinese really is Chinese (CJK ideographs present).
        assert any("\u4e00" <= ch <= "\u9fff" for ch in text.get("zh")), where


def test_default_labels_fit_on_a_button(default: Questionnaire) -> None:
    for q in default.questions:
        for c in q.choices:
            assert len(c.label.get("en")) <= 40, (q.id, c.id)
            assert len(c.label.get("zh")) <= 40, (q.id, c.id)


def test_callback_data_stays_small(default: Questionnaire) -> None:
    for q in default.questions:
        for c in q.choices:
            assert len(f"{q.id}:{c.id}") <= 48, (q.id, c.id)
            assert len(f"{q.id}:{c.id}".encode()) <= 48, (q.id, c.id)


def test_the_date_hint_mentions_the_format(default: Questionnaire) -> None:
    hint = default.get("when").hint
    assert hint is not None
    assert "2026-08-02" in hint.get("en")
    assert "2026-08-02" in hint.get("zh")


def test_load_with_none_is_the_default(default: Questionnaire) -> None:
    assert load_questionnaire(None) == default


# ------------------------------------------------------------------------- the model


def test_questionnaire_lookup(default: Questionnaire) -> None:
    assert default.get("witnesses").id == "witnesses"
    assert default.index("category") == 0
    assert default.index("contact_details") == len(EXPECTED_IDS) - 1
    assert "outcome" in default
    assert "nope" not in default
    assert 3 not in default
    with pytest.raises(KeyError):
        default.get("nope")
    with pytest.raises(KeyError):
        default.index("nope")


def test_question_choice_lookup(default: Questionnaire) -> None:
    category = default.get("category")
    verbal = category.choice("verbal")
    assert verbal is not None
    assert verbal.label.get("en") == "Verbal harassment"
    assert category.choice("nope") is None
    assert default.get("account").choice("anything") is None


def test_yesno_has_implicit_choices(default: Questionnaire) -> None:
    witnesses = default.get("witnesses")
    assert [c.id for c in witnesses.choices] == ["yes", "no"]
    assert witnesses.choices[0].label == Text.of(en="Yes", zh="是")
    assert witnesses.choices[1].label == Text.of(en="No", zh="否")
    assert not any(c.urgent for c in witnesses.choices)


def test_text_get_falls_back_to_english() -> None:
    text = Text.of(en="Hello", zh="你好")
    assert catalogue().languages == ("en", "zh")
    assert text.get("en") == "Hello"
    assert text.get("zh") == "你好"
    assert text.get("fr") == "Hello"
    assert text.get("") == "Hello"
    assert text.get("zh-hans") == "你好"


def test_condition_holds() -> None:
    condition = Condition(question="q", any_of=frozenset({"a", "b"}))
    assert condition.holds("a")
    assert not condition.holds("c")
    assert condition.holds(["c", "b"])
    assert not condition.holds(["c", "d"])
    assert not condition.holds([])
    assert not condition.holds(None)
    assert not condition.holds(3)


def test_model_is_frozen(default: Questionnaire) -> None:
    question = default.get("category")
    with pytest.raises(dataclasses.FrozenInstanceError):
        question.id = "x"  # type: ignore[misc]
    assert hash(default) == hash(load_questionnaire())


def test_questionnaire_rejects_duplicate_ids_when_built_directly() -> None:
    q = Question(
        id="a",
        kind=Kind.TEXT,
        text=Text.of(en="t", zh="t"),
        short=Text.of(en="s", zh="s"),
        required=False,
        choices=(),
        max_length=10,
        hint=None,
        when=None,
    )
    with pytest.raises(QuestionnaireError, match="duplicate"):
        Questionnaire((q, q))


# ------------------------------------------------------------------------- parsing

T = '{ en = "x", zh = "叉" }'


def q(qid: str, kind: str, extra: str = "", *, choices: int = 0) -> str:
    """One [[questions]] table with valid text/short and `choices` generated choices."""
    parts = [f'[[questions]]\nid = "{qid}"\nkind = "{kind}"\ntext = {T}\nshort = {T}\n{extra}\n']
    for n in range(choices):
        parts.append(f'[[questions.choices]]\nid = "c{n}"\nlabel = {T}\n')
    return "".join(parts)


def when(question: str, any_of: str) -> str:
    """A [questions.when] table; `any_of` is the raw TOML value."""
    return f'[questions.when]\nquestion = "{question}"\nany_of = {any_of}'


def doc(*questions: str) -> str:
    return "version = 1\n" + "\n".join(questions)


def fails(text: str, *fragments: str) -> str:
    with pytest.raises(QuestionnaireError) as info:
        parse_questionnaire(text, "custom.toml")
    message = str(info.value)
    assert message.startswith("custom.toml: "), message
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    return message


def test_parses_each_kind() -> None:
    parsed = parse_questionnaire(
        doc(
            q("s", "single", "required = true", choices=2),
            q("m", "multi", choices=3),
            q("t", "text", "max_length = 5"),
            q("t2", "text"),
            q("d", "date", f"hint = {T}"),
            q("y", "yesno"),
        )
    )
    s, m, t, t2, d, y = parsed.questions
    assert (s.kind, s.required, [c.id for c in s.choices]) == (Kind.SINGLE, True, ["c0", "c1"])
    assert (m.kind, m.required, len(m.choices)) == (Kind.MULTI, False, 3)
    assert (t.kind, t.max_length, t.choices) == (Kind.TEXT, 5, ())
    assert t2.max_length == 2000
    assert (d.kind, d.max_length, d.choices) == (Kind.DATE, None, ())
    assert d.hint == Text.of(en="x", zh="叉")
    assert (y.kind, [c.id for c in y.choices]) == (Kind.YESNO, ["yes", "no"])
    assert s.hint is None
    assert s.when is None


def test_parses_choice_urgent_and_note() -> None:
    parsed = parse_questionnaire(
        doc(
            '[[questions]]\nid = "s"\nkind = "single"\ntext = ' + T + "\nshort = " + T + "\n"
            '[[questions.choices]]\nid = "ok"\nlabel = ' + T + "\n"
            '[[questions.choices]]\nid = "bad"\nlabel = ' + T + "\nurgent = true\n"
            'note = { en = " Call for help. ", zh = "请求助。" }\n'
        )
    )
    ok, bad = parsed.get("s").choices
    assert ok == Choice("ok", Text.of(en="x", zh="叉"))
    assert bad.urgent
    assert bad.note == Text.of(en="Call for help.", zh="请求助。")


def test_when_chains() -> None:
    parsed = parse_questionnaire(
        doc(
            q("a", "yesno"),
            q("b", "multi", when("a", '["yes"]'), choices=3),
            q("c", "single", when("b", '["c0", "c2"]'), choices=2),
            q("d", "text", when("c", '["c1"]')),
        )
    )
    assert parsed.get("b").when == Condition("a", frozenset({"yes"}))
    assert parsed.get("c").when == Condition("b", frozenset({"c0", "c2"}))
    assert parsed.get("d").when == Condition("c", frozenset({"c1"}))
    c_when = parsed.get("c").when
    assert c_when is not None
    assert c_when.holds(["c1", "c2"])


def test_load_custom_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(doc(q("only", "text", "required = true")), encoding="utf-8")
    loaded = load_questionnaire(path)
    assert [x.id for x in loaded.questions] == ["only"]
    assert load_questionnaire(str(path)) == loaded


def test_load_custom_file_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text("version = 2\n" + q("a", "text"), encoding="utf-8")
    with pytest.raises(QuestionnaireError, match=r"mine\.toml: version: unsupported version 2"):
        load_questionnaire(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(QuestionnaireError, match=r"missing\.toml: cannot read"):
        load_questionnaire(tmp_path / "missing.toml")


def test_file_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin.toml"
    path.write_bytes(doc(q("a", "text")).replace("叉", "é").encode("latin-1"))
    with pytest.raises(QuestionnaireError, match="UTF-8"):
        load_questionnaire(path)


# ------------------------------------------------------------------------- validation


def test_toml_syntax() -> None:
    fails('version = 1\n[[questions]\nid = "a"', "invalid TOML", "line 2")


@pytest.mark.parametrize("version", ["2", '"1"', "true", "1.0"])
def test_version_must_be_1(version: str) -> None:
    fails(f"version = {version}\n" + q("a", "text"), "version", "expected version = 1")


def test_version_missing() -> None:
    fails(q("a", "text"), "missing 'version'")


def test_at_least_one_question() -> None:
    fails("version = 1\n", "no questions", "at least one")
    fails("version = 1\nquestions = []\n", "questions: is empty", "at least one")
    fails('version = 1\nquestions = "a"\n', "expected an array of [[questions]]")


def test_unique_question_ids() -> None:
    fails(
        doc(q("a", "text"), q("b", "text"), q("a", "date")),
        "question 'a' (#3)",
        "duplicate question id 'a'",
        "#1",
    )


@pytest.mark.parametrize(
    "bad_id", ["Category", "1abc", "_a", "a-b", "", "a b", "abcdefghijklmnopqrstuvwxy"]
)
def test_question_id_format(bad_id: str) -> None:
    fails(doc(q(bad_id, "text")), "question #1.id", f"invalid id {bad_id!r}", "lowercase letter")


def test_question_id_longest_allowed() -> None:
    longest = "a" * 24
    assert longest in parse_questionnaire(doc(q(longest, "text")))


def test_question_id_missing_or_not_a_string() -> None:
    fails(
        f'version = 1\n[[questions]]\nkind = "text"\ntext = {T}\nshort = {T}\n',
        "question #1",
        "missing 'id'",
    )
    fails(
        doc(q("a", "text").replace('id = "a"', "id = 3")),
        "question #1.id",
        "expected a string, got the number 3",
    )


def test_known_kind() -> None:
    fails(
        doc(q("a", "checkbox")),
        "question 'a' (#1).kind",
        "unknown kind 'checkbox'",
        "single, multi, text, date, yesno",
    )
    fails(doc(q("a", "text").replace('kind = "text"\n', "")), "missing 'kind'")


def test_required_must_be_boolean() -> None:
    fails(doc(q("a", "text", 'required = "yes"')), "'a' (#1).required", "expected true or false")


@pytest.mark.parametrize("field", ["text", "short"])
def test_text_fields_are_required(field: str) -> None:
    fails(doc(q("a", "text").replace(f"{field} = {T}\n", "")), f"missing '{field}'")


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ('{ en = "x" }', "missing the 'zh' text"),
        ('{ zh = "叉" }', "missing the 'en' text"),
        ('{ en = "", zh = "叉" }', "text.en: is empty"),
        ('{ en = "x", zh = "   " }', "text.zh: is empty"),
        ('{ en = 1, zh = "叉" }', "text.en: expected a string"),
        ('"x"', "text: expected a table"),
        ('{ en = "x", zh = "叉", fr = "x" }', "unknown key 'fr'"),
    ],
)
def test_every_text_needs_en_and_zh(value: str, fragment: str) -> None:
    fails(doc(q("a", "text").replace(f"text = {T}", f"text = {value}")), "question 'a'", fragment)


def test_hint_and_label_and_note_texts_are_checked() -> None:
    fails(doc(q("a", "text", 'hint = { en = "x" }')), "'a' (#1).hint", "missing the 'zh' text")
    fails(
        doc(
            q("a", "single", choices=2).replace(
                f'id = "c1"\nlabel = {T}', 'id = "c1"\nlabel = { en = "", zh = "叉" }'
            )
        ),
        "choices 'c1'.label.en: is empty",
    )
    fails(
        doc(q("a", "single", choices=2) + 'note = { zh = "叉" }\n'),
        "choices 'c1'.note",
        "missing the 'en' text",
    )


def test_label_length_limit() -> None:
    long_label = "x" * 41
    text = doc(
        q("a", "single", choices=2).replace(
            f'id = "c0"\nlabel = {T}', f'id = "c0"\nlabel = {{ en = "{long_label}", zh = "叉" }}'
        )
    )
    fails(text, "choices 'c0'.label.en", "41 characters", "at most 40")
    ok = text.replace(long_label, "x" * 40)
    assert parse_questionnaire(ok).get("a").choices[0].label.get("en") == "x" * 40


@pytest.mark.parametrize("kind", ["single", "multi"])
def test_choices_required_for_single_and_multi(kind: str) -> None:
    fails(doc(q("a", kind)), f"a {kind} question needs [[questions.choices]]", "2 to 12")


@pytest.mark.parametrize(("count", "ok"), [(1, False), (2, True), (12, True), (13, False)])
def test_choice_count_limits(count: int, ok: bool) -> None:
    text = doc(q("a", "multi", choices=count))
    if ok:
        assert len(parse_questionnaire(text).get("a").choices) == count
    else:
        fails(text, "'a' (#1).choices", f"has {count} choice", "expected 2 to 12")


@pytest.mark.parametrize("kind", ["text", "date"])
def test_no_choices_for_text_and_date(kind: str) -> None:
    fails(doc(q("a", kind, choices=2)), "'a' (#1).choices", f"{kind} questions take no choices")


def test_no_choices_for_yesno() -> None:
    fails(doc(q("a", "yesno", choices=2)), "'a' (#1).choices", "implicit choices 'yes' and 'no'")


def test_choice_ids_unique_and_well_formed() -> None:
    text = doc(q("a", "single", choices=3).replace('id = "c2"', 'id = "c0"'))
    fails(text, "choices 'c0'", "duplicate choice id 'c0'")
    fails(
        doc(q("a", "single", choices=2).replace('id = "c1"', 'id = "C1"')),
        "choices #2.id",
        "invalid id 'C1'",
    )
    fails(
        doc(q("a", "single", choices=2).replace(f'id = "c1"\nlabel = {T}', f"label = {T}")),
        "choices #2",
        "missing 'id'",
    )
    fails(
        doc(q("a", "single", choices=2).replace(f'id = "c1"\nlabel = {T}', 'id = "c1"')),
        "choices 'c1'",
        "missing 'label'",
    )


def test_choice_urgent_must_be_boolean() -> None:
    fails(
        doc(q("a", "single", choices=2) + 'urgent = "yes"\n'),
        "choices 'c1'.urgent",
        "expected true or false",
    )


@pytest.mark.parametrize("kind", ["single", "multi", "date", "yesno"])
def test_max_length_only_for_text(kind: str) -> None:
    choices = 2 if kind in ("single", "multi") else 0
    fails(
        doc(q("a", kind, "max_length = 100", choices=choices)),
        "'a' (#1).max_length",
        "only text questions take max_length",
    )


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("1", True),
        ("3500", True),
        ("0", False),
        ("3501", False),
        ("-5", False),
    ],
)
def test_max_length_range(value: str, ok: bool) -> None:
    text = doc(q("a", "text", f"max_length = {value}"))
    if ok:
        assert parse_questionnaire(text).get("a").max_length == int(value)
    else:
        fails(text, "'a' (#1).max_length", f"{value} is out of range", "1 to 3500")


@pytest.mark.parametrize("value", ['"100"', "true", "10.5"])
def test_max_length_must_be_integer(value: str) -> None:
    fails(doc(q("a", "text", f"max_length = {value}")), "max_length", "expected an integer")


def test_when_must_reference_an_earlier_question() -> None:
    later = doc(
        q("a", "text", when("b", '["yes"]')),
        q("b", "yesno"),
    )
    fails(later, "'a' (#1).when.question", "'b' is not an earlier question")
    unknown = doc(q("a", "yesno"), q("b", "text", when("zz", '["yes"]')))
    fails(unknown, "'b' (#2).when.question", "'zz' is not an earlier question")
    itself = doc(q("a", "yesno", when("a", '["yes"]')))
    fails(itself, "'a' (#1).when.question", "'a' is not an earlier question")


@pytest.mark.parametrize("kind", ["text", "date"])
def test_when_must_reference_a_choice_question(kind: str) -> None:
    text = doc(q("a", kind), q("b", "text", when("a", '["x"]')))
    fails(text, "'b' (#2).when.question", f"'a' is a {kind} question", "single, multi or yesno")


def test_when_values_must_be_valid_choices() -> None:
    yesno = doc(q("a", "yesno"), q("b", "text", when("a", '["maybe"]')))
    fails(yesno, "'b' (#2).when.any_of", "'maybe' is not a choice of 'a'", "yes, no")
    single = doc(q("a", "single", choices=2), q("b", "text", when("a", '["c0", "c9"]')))
    fails(single, "'c9' is not a choice of 'a'", "c0, c1")
    empty = doc(q("a", "yesno"), q("b", "text", when("a", "[]")))
    fails(empty, "when.any_of", "expected a non-empty list")
    scalar = doc(q("a", "yesno"), q("b", "text", when("a", '"yes"')))
    fails(scalar, "when.any_of", "expected a non-empty list")
    missing = doc(q("a", "yesno"), q("b", "text", '[questions.when]\nquestion = "a"'))
    fails(missing, "when", "missing 'any_of'")
    no_question = doc(q("a", "yesno"), q("b", "text", '[questions.when]\nany_of = ["yes"]'))
    fails(no_question, "when", "missing 'question'")


@pytest.mark.parametrize(
    ("text", "where", "key"),
    [
        ("version = 1\nname = 'x'\n" + q("a", "text"), "top level", "'name'"),
        (doc(q("a", "text", "requried = true")), "question 'a' (#1)", "'requried'"),
        (doc(q("a", "single", choices=2) + "urgnet = true\n"), "choices 'c1'", "'urgnet'"),
        (
            doc(
                q("a", "yesno"),
                q(
                    "b",
                    "text",
                    '[questions.when]\nquestion = "a"\nany_of = ["yes"]\nnone_of = ["no"]',
                ),
            ),
            "'b' (#2).when",
            "'none_of'",
        ),
        (
            doc(q("a", "text", 'hint = { en = "x", zh = "叉", zh_tw = "叉" }')),
            "'a' (#1).hint",
            "'zh_tw'",
        ),
    ],
)
def test_unknown_keys_are_rejected(text: str, where: str, key: str) -> None:
    fails(text, where, f"unknown key {key}", "allowed keys")
