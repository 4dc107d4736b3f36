"""Every text a person sees, in English and Simplified Chinese, from one catalogue."""

from __future__ import annotations

import string
import tomllib
from functools import cache
from importlib import resources
from typing import Literal

Language = Literal["en", "zh"]
LANGUAGES: tuple[Language, ...] = ("en", "zh")
LANGUAGE_NAMES: dict[Language, str] = {"en": "English", "zh": "简体中文"}


class Catalogue:
    def __init__(self, messages: dict[str, dict[str, str]]) -> None:
        self.messages = messages

    @classmethod
    def from_toml(cls, text: str) -> Catalogue:
        data = tomllib.loads(text)
        messages: dict[str, dict[str, str]] = {}
        for key, value in data.items():
            if not isinstance(value, dict) or set(value) != set(LANGUAGES):
                raise ValueError(f"message {key!r} must have exactly {LANGUAGES}")
            messages[key] = {lang: str(value[lang]) for lang in LANGUAGES}
        return cls(messages)

    def text(self, language: str, key: str, **params: object) -> str:
        """The message in `language`; placeholders are filled with str(value).
        Callers escape user-supplied values for HTML before passing them."""
        entry = self.messages[key]
        template = entry.get(language, entry["en"])
        return template.format(**params) if params else template

    def placeholders(self, key: str, language: str) -> set[str]:
        return {
            name for _, name, _, _ in string.Formatter().parse(self.messages[key][language]) if name
        }


@cache
def catalogue() -> Catalogue:
    text = resources.files("bot.i18n").joinpath("messages.toml").read_text(encoding="utf-8")
    return Catalogue.from_toml(text)


def pick_language(stored: str | None, client: str | None, default: str) -> Language:
    """An explicit /language choice wins; else the Telegram client's language; else default."""
    for candidate in (stored, (client or "").split("-")[0].lower() or None, default):
        if candidate in LANGUAGES:
            return candidate
    return "en"
