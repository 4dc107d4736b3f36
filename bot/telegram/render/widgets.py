"""Keyboards from rows of (label, callback data): the one way screens make buttons."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

Press = tuple[str, str]  # (label as shown, callback data)


def keyboard(rows: Iterable[Sequence[Press]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=data) for label, data in row] for row in rows]
    )


def column(presses: Iterable[Press]) -> list[list[Press]]:
    """One button per row: long labels stay readable."""
    return [[press] for press in presses]


def rows_of(presses: Sequence[Press], width: int) -> list[list[Press]]:
    return [list(presses[start : start + width]) for start in range(0, len(presses), width)]
