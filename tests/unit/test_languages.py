"""One definition of the languages: each is a file. A third language is added by adding a
file (here a fixture made from en.toml), with no change to the code."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import i18n
from bot.i18n import DEFAULT, Text, catalogue, pick_language
from bot.intake.questionnaire import load_questionnaire
from bot.services.protocol import Say, ShowLanguages
from bot.services.responder import CASE_ACTS
from bot.telegram.commands import commands_for
from bot.telegram.render import Renderer

PACKAGE = Path(i18n.__file__).parent / "languages"


def german_from_english(folder: Path) -> Path:
    """A complete third language, as a translator would deliver it: every message."""
    english = tomllib.loads((PACKAGE / "en.toml").read_text(encoding="utf-8"))["messages"]
    lines = ["[language]", 'name = "Deutsch"', 'telegram = ["de"]', "", "[messages]"]
    for key, text in english.items():
        escaped = ("[DE] " + text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        lines.append(f'{key} = "{escaped}"')
    path = folder / "de.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


@pytest.fixture
def with_german(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(i18n, "_extra", [])
    i18n.add_languages(german_from_english(tmp_path))
    yield
    catalogue.cache_clear()


def test_the_shipped_languages_are_the_files() -> None:
    assert catalogue().languages == tuple(
        sorted((p.stem for p in PACKAGE.glob("*.toml")), key=lambda c: (c != DEFAULT, c))
    )
    assert catalogue().name("zh") == "简体中文"


def test_every_language_has_every_message_with_the_same_placeholders() -> None:
    messages = catalogue()
    for key in messages.messages:
        expected = messages.placeholders(key, DEFAULT)
        for language in messages.languages:
            assert messages.placeholders(key, language) == expected, (key, language)


def test_a_third_language_is_a_file(with_german: None) -> None:
    texts = catalogue()
    assert texts.languages == ("en", "de", "zh")
    assert pick_language(None, "de-AT", "en") == "de"
    assert pick_language(None, "zh-hans", "en") == "zh"
    renderer = Renderer(texts, load_questionnaire(), "confide_bot")
    (sent,) = renderer.render([Say("help")], "de")
    assert sent.text.startswith("[DE] ")  # type: ignore[union-attr]
    (menu,) = renderer.render([ShowLanguages()], "de")
    labels = [b.text for row in menu.keyboard.inline_keyboard for b in row]  # type: ignore[union-attr]
    assert labels == ["English", "Deutsch", "简体中文"]
    # The questionnaire has no German yet: its texts fall back to the default language.
    first = load_questionnaire().questions[0]
    assert first.text.get("de") == first.text.get("en")


def test_a_broken_language_file_is_refused_with_its_name(tmp_path: Path) -> None:
    (tmp_path / "xx.toml").write_text('[language]\nname = "X"\n[messages]\nhelp = "?"\n')
    with pytest.raises(ValueError, match="language 'xx': missing"):
        i18n.Catalogue.load([PACKAGE, tmp_path], ["en", "zh"])


def test_a_text_falls_back_to_the_default_language() -> None:
    text = Text({"en": "Hello", "zh": "你好"})
    assert text.get("zh-Hans") == "你好" and text.get("fr") == "Hello"
    with pytest.raises(ValueError, match="needs its 'en' version"):
        Text({"zh": "你好"})


def test_every_case_command_and_menu_entry_has_its_words() -> None:
    """A command typed without its case answers with its usage line, and the menu describes
    each command: a missing text would be a traceback for the responder, not a line."""
    words = catalogue()
    for action in CASE_ACTS:
        assert words.has(f"usage_{action}"), action
    for role in ("reporter", "responder", "admin"):
        for command in commands_for(role):
            assert words.has(f"cmd_{command}"), command
