"""Matching names a reporter typed against the responders' names. Pure."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

# Commas (Latin and CJK), semicolons, the Chinese enumeration comma, slashes, new lines, "and".
_SEPARATORS = re.compile(r"[,;，；、/\n]+|\s+and\s+|\s*和\s*", re.IGNORECASE)


def _fold(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def typed_names(text: str) -> list[str]:
    """The names in what the reporter typed, folded for comparison."""
    return [name for part in _SEPARATORS.split(text) if (name := _fold(part))]


def matching(text: str, people: Iterable[tuple[str, str]]) -> set[str]:
    """The ids of everyone whose name the reporter typed: the whole name, or any word of it
    (a first or a last name). Every match counts: excluding one person too many is safe,
    letting the wrong one read the report is not."""
    wanted = set(typed_names(text))
    found = set()
    for person_id, name in people:
        folded = _fold(name)
        if folded in wanted or any(word in wanted for word in folded.split() if len(word) > 1):
            found.add(person_id)
    return found
