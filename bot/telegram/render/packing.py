"""Fitting text into Telegram messages, measured as Telegram measures: in UTF-16 units of
the text without its HTML tags. Whatever the bot accepted must be deliverable, so a block
too long for one message is split over several, never cut off."""

from __future__ import annotations

import html
import re

from bot.intake.text import split_utf16, utf16_length

# Telegram allows 4096 units of text; leave room for headers.
MESSAGE_BUDGET = 3800
_TAG = re.compile(r"<(/?)([a-z]+)[^>]*>")


def pack(blocks: list[str], budget: int = MESSAGE_BUDGET) -> list[str]:
    """Join blocks into as few messages as fit, splitting any block longer than one."""
    messages: list[str] = []
    for block in blocks:
        for piece in _pieces(block, budget):
            if messages and length(messages[-1]) + length(piece) + 2 <= budget:
                messages[-1] += "\n\n" + piece
            else:
                messages.append(piece)
    return messages


def length(text_html: str) -> int:
    """What Telegram counts: the text without tags, an entity as one character, in UTF-16."""
    return utf16_length(html.unescape(strip_tags(text_html)))


def shorten(text_html: str, limit: int) -> str:
    """A preview: the text's start, with an ellipsis if there was more."""
    plain = html.unescape(text_html)
    if utf16_length(plain) <= limit:
        return text_html
    return html.escape(split_utf16(plain, limit - 1)[0]) + "…"


def strip_tags(text: str) -> str:
    return _TAG.sub("", text)


def _pieces(block: str, budget: int) -> list[str]:
    """The block as pieces that each fit: split between lines (never inside a tag's
    span), and a line longer than a message split as plain text."""
    if length(block) <= budget:
        return [block]
    pieces: list[str] = []
    current = ""
    for unit in _units(block):
        for part in [unit] if length(unit) <= budget else _plain_parts(unit, budget):
            if current and length(current) + 1 + length(part) <= budget:
                current += "\n" + part
            else:
                if current:
                    pieces.append(current)
                current = part
    if current:
        pieces.append(current)
    return pieces


def _units(block: str) -> list[str]:
    """Lines, joined where a tag opened on one line closes on a later one."""
    units: list[str] = []
    pending: list[str] = []
    for line in block.split("\n"):
        pending.append(line)
        joined = "\n".join(pending)
        if _balanced(joined):
            units.append(joined)
            pending = []
    if pending:
        units.append("\n".join(pending))
    return units


def _balanced(text: str) -> bool:
    depth = 0
    for closing, _name in _TAG.findall(text):
        depth += -1 if closing else 1
    return depth == 0


def _plain_parts(text_html: str, budget: int) -> list[str]:
    plain = html.unescape(strip_tags(text_html))
    return [html.escape(part) for part in split_utf16(plain, budget)]
