"""Every text a person sees, in every language Confide speaks.

A language is a file: `bot/i18n/languages/<code>.toml`, with its name, the Telegram client
language codes that choose it, and every message of the catalogue. Nothing in the code
lists languages; adding one means adding a file (shipped here, or in a folder named by
`[i18n] languages_dir`)."""

from __future__ import annotations

import string
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import Any

Language = str  # a language's code: the name of its file
DEFAULT: Language = "en"  # every text exists in it; other languages fall back to it


@dataclass(frozen=True, init=False)
class Text:
    """One string per language; a language without its own falls back to the default."""

    pairs: tuple[tuple[str, str], ...]  # (language, string), sorted: hashable and comparable

    def __init__(self, values: Mapping[str, str]) -> None:
        if DEFAULT not in values:
            raise ValueError(f"a text needs its {DEFAULT!r} version")
        object.__setattr__(self, "pairs", tuple(sorted(values.items())))

    @property
    def values(self) -> Mapping[str, str]:
        return dict(self.pairs)

    @classmethod
    def of(cls, **values: str) -> Text:
        return cls(values)

    def get(self, language: str) -> str:
        """In `language` (a code like zh-hans reads as zh), else in the default language."""
        base = language.lower().replace("_", "-").split("-")[0]
        return self.values.get(language) or self.values.get(base) or self.values[DEFAULT]

    def forms(self) -> Iterable[str]:
        """Every language's version (to recognise what a person typed)."""
        return self.values.values()


@dataclass(frozen=True)
class LanguageFile:
    code: Language
    name: str
    telegram: tuple[str, ...]
    messages: Mapping[str, str]


class Catalogue:
    def __init__(self, files: Iterable[LanguageFile], builtin: Iterable[Language]) -> None:
        ordered = sorted(files, key=lambda f: (f.code != DEFAULT, f.code))
        self._files = {f.code: f for f in ordered}
        if DEFAULT not in self._files:
            raise ValueError(f"no {DEFAULT}.toml among the languages")
        self.builtin = tuple(code for code in self._files if code in set(builtin))
        keys = set(self._files[DEFAULT].messages)
        for language in self._files.values():
            missing = keys - set(language.messages)
            extra = set(language.messages) - keys
            if missing or extra:
                raise ValueError(
                    f"language {language.code!r}: missing {sorted(missing)[:5]}, "
                    f"unknown {sorted(extra)[:5]}"
                )

    @property
    def languages(self) -> tuple[Language, ...]:
        return tuple(self._files)

    @property
    def messages(self) -> Mapping[str, Mapping[Language, str]]:
        """Every message, by key, in every language."""
        return {
            key: {code: f.messages[key] for code, f in self._files.items()}
            for key in self._files[DEFAULT].messages
        }

    def name(self, language: Language) -> str:
        return self._files[language].name

    def text(self, language: str, key: str, **params: object) -> str:
        """The message in `language`; placeholders are filled with str(value).
        Callers escape user-supplied values for HTML before passing them."""
        chosen = self._files.get(language) or self._files[DEFAULT]
        template = chosen.messages[key]
        return template.format(**params) if params else template

    def has(self, key: str) -> bool:
        return key in self._files[DEFAULT].messages

    def text_of(self, key: str) -> Text:
        return Text({code: f.messages[key] for code, f in self._files.items()})

    def placeholders(self, key: str, language: Language) -> set[str]:
        template = self._files[language].messages[key]
        return {name for _, name, _, _ in string.Formatter().parse(template) if name}

    def pick(self, stored: str | None, client: str | None, default: str) -> Language:
        """An explicit /language choice wins; else the Telegram client's language; else the
        default."""
        if stored in self._files:
            return stored
        if client:
            wanted = client.lower().replace("_", "-")
            for code, language in self._files.items():
                if wanted in language.telegram or wanted.split("-")[0] in language.telegram:
                    return code
        return default if default in self._files else DEFAULT

    @classmethod
    def load(cls, folders: Iterable[Traversable | Path], builtin: Iterable[Language]) -> Catalogue:
        files = []
        for folder in folders:
            for entry in sorted(folder.iterdir(), key=lambda e: e.name):
                if entry.name.endswith(".toml"):
                    files.append(_read(entry))
        return cls(files, builtin)


def _read(entry: Traversable | Path) -> LanguageFile:
    code = entry.name.removesuffix(".toml")
    try:
        data: dict[str, Any] = tomllib.loads(entry.read_text(encoding="utf-8"))
        language, messages = data["language"], data["messages"]
        return LanguageFile(
            code,
            str(language["name"]),
            tuple(str(c).lower() for c in language.get("telegram", [code])),
            {str(k): str(v) for k, v in messages.items()},
        )
    except (tomllib.TOMLDecodeError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise ValueError(f"language file {entry.name}: {exc}") from exc


def _builtin_folder() -> Traversable:
    return resources.files("bot.i18n").joinpath("languages")


def _builtin_codes() -> tuple[Language, ...]:
    return tuple(
        e.name.removesuffix(".toml")
        for e in _builtin_folder().iterdir()
        if e.name.endswith(".toml")
    )


_extra: list[Path] = []


def add_languages(folder: Path) -> None:
    """Languages beyond those shipped (a folder of <code>.toml files), for this process."""
    _extra.append(folder)
    catalogue.cache_clear()


@cache
def catalogue() -> Catalogue:
    return Catalogue.load([_builtin_folder(), *_extra], _builtin_codes())


def pick_language(stored: str | None, client: str | None, default: str) -> Language:
    return catalogue().pick(stored, client, default)
