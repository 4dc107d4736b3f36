"""The demo page's own words (static/strings.json): every language has every key, none is
empty, each says the same {placeholders}, and every key the page uses exists. The page's
keys are found by reading app.js and index.html, as they are shipped."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from bot.devserver.web import ASSETS, STATIC

STRINGS: dict[str, dict[str, str]] = json.loads(
    (STATIC / "strings.json").read_text(encoding="utf-8")
)
LANGUAGES = ("en", "zh-Hans")  # every shipped language (bot/i18n/languages: en, zh)
# app.js writes every key out whole, as a string literal: dotted lowerCamel words.
KEY_LITERAL = re.compile(r"""["']([a-z][a-zA-Z]*(?:\.[a-zA-Z]+)+)["']""")
PLACEHOLDER = re.compile(r"\{(\w+)\}")


class _Keys(HTMLParser):
    """The keys of data-i18n (text) and data-i18n-* (an attribute) in a page."""

    def __init__(self) -> None:
        super().__init__()
        self.keys: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name == "data-i18n" or name.startswith("data-i18n-"):
                assert value, f"<{tag} {name}> names no key"
                self.keys.add(value)


def html_keys() -> set[str]:
    parser = _Keys()
    parser.feed((STATIC / "index.html").read_text(encoding="utf-8"))
    return parser.keys


def script() -> str:
    return (STATIC / "app.js").read_text(encoding="utf-8")


def script_keys() -> set[str]:
    return set(KEY_LITERAL.findall(script()))


def test_the_table_is_served_and_has_exactly_the_shipped_languages() -> None:
    assert ASSETS["strings.json"] == "application/json"
    assert tuple(STRINGS) == LANGUAGES


@pytest.mark.parametrize("language", LANGUAGES[1:])
def test_every_language_has_the_same_keys_as_english(language: str) -> None:
    english, other = set(STRINGS["en"]), set(STRINGS[language])
    assert not english - other, f"{language} lacks {sorted(english - other)}"
    assert not other - english, f"{language} has keys English lacks: {sorted(other - english)}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_text_is_empty(language: str) -> None:
    empty = [key for key, text in STRINGS[language].items() if not text.strip()]
    assert not empty, f"{language}: empty {empty}"


@pytest.mark.parametrize("language", LANGUAGES[1:])
def test_every_language_fills_in_the_same_placeholders(language: str) -> None:
    differing = {
        key: (text, STRINGS[language][key])
        for key, text in STRINGS["en"].items()
        if set(PLACEHOLDER.findall(text)) != set(PLACEHOLDER.findall(STRINGS[language][key]))
    }
    assert not differing, differing


def test_chinese_is_chinese() -> None:
    """A key copied over untranslated would pass the checks above: only names, codes and
    numbers may read the same in both."""
    same = {key for key, text in STRINGS["en"].items() if STRINGS["zh-Hans"][key] == text} - {
        "meta.locale",
        "meta.telegram",
    }
    assert not same, f"the same in English and Chinese: {sorted(same)}"
    assert STRINGS["zh-Hans"]["meta.telegram"] == "zh-hans"


def test_every_key_the_page_uses_exists() -> None:
    used = html_keys() | script_keys()
    assert {"page.title", "clock.skip", "chat.send", "tab.reporter"} <= used  # the parsing
    missing = used - set(STRINGS["en"])
    assert not missing, f"used but not in strings.json: {sorted(missing)}"


def test_every_key_in_the_table_is_used() -> None:
    unused = set(STRINGS["en"]) - html_keys() - script_keys()
    assert not unused, f"in strings.json but used nowhere: {sorted(unused)}"


def test_the_script_looks_keys_up_by_their_whole_names() -> None:
    """A key built from pieces (t(`role.${x}`)) could not be checked above."""
    assert not re.search(r"\bt\(\s*`", script())
    assert not re.search(r"""\bt\(\s*["'][^"']*["']\s*\+""", script())


def test_the_page_has_no_words_of_its_own_outside_the_table() -> None:
    """index.html's elements are filled from the table; only the product's name and the
    clock's placeholder stand in the markup."""

    class Text(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.words: list[str] = []

        def handle_data(self, data: str) -> None:
            if data.strip():
                self.words.append(data.strip())

    page = Text()
    page.feed((STATIC / "index.html").read_text(encoding="utf-8"))
    assert page.words == ["Confide", "…"]


def test_the_static_folder_is_what_is_served() -> None:
    assert {p.name for p in Path(STATIC).iterdir() if p.is_file()} == set(ASSETS)
