"""What a person can see in a message, and how Telegram measures and splits it.

Reporters sometimes send "empty" answers made of zero-width or filler characters,
and Telegram limits message length in UTF-16 code units, not Python characters.
"""

from __future__ import annotations

import unicodedata

_ZWJ = "\u200d"
# Not format characters, but drawn as nothing; often used to send "empty" messages.
_FILLERS = frozenset("\u034f\u115f\u1160\u3164\uffa0\u2800")


def _is_variation_selector(char: str) -> bool:
    code = ord(char)
    return 0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF


def _is_tag(char: str) -> bool:
    # Tag characters end subdivision flags such as England's 🏴󠁧󠁢󠁥󠁮󠁧󠁿.
    return 0xE0020 <= ord(char) <= 0xE007F


def _invisible(char: str) -> bool:
    return (
        char.isspace()
        or unicodedata.category(char) == "Cf"
        or char in _FILLERS
        or _is_variation_selector(char)
    )


def _attaches(char: str) -> bool:
    """Invisible on its own, but part of the character before it (❤️, flag tags)."""
    return _is_variation_selector(char) or _is_tag(char)


def is_blank(text: str) -> bool:
    """True when nothing in `text` would be drawn: whitespace and invisible characters only."""
    return all(_invisible(char) for char in text)


def visible(text: str) -> str:
    """`text` without leading or trailing whitespace and invisible characters.

    Inner ones stay, so emoji joined by U+200D survive; trailing variation selectors
    and tags stay when they belong to the last visible character.
    """
    start = 0
    while start < len(text) and _invisible(text[start]):
        start += 1
    end = len(text)
    while end > start and _invisible(text[end - 1]):
        end -= 1
    if end > start:
        while end < len(text) and _attaches(text[end]):
            end += 1
    return text[start:end]


def _units(char: str) -> int:
    # Counted by code point rather than by encoding, so a stray lone surrogate cannot raise.
    return 2 if ord(char) > 0xFFFF else 1


def utf16_length(text: str) -> int:
    """Length as Telegram counts it: characters outside the BMP count 2."""
    # "surrogatepass": a stray lone surrogate counts 1 (as `_units` does) instead of raising;
    # encoding is C speed, where a loop over the characters cost a rendered screen ~1 ms.
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def fits_utf16(text: str, limit: int) -> bool:
    return utf16_length(text) <= limit


def _is_regional_indicator(char: str) -> bool:
    return 0x1F1E6 <= ord(char) <= 0x1F1FF


def _can_cut(text: str, at: int) -> bool:
    """Whether cutting before text[at] keeps cheap-to-spot clusters whole."""
    before, after = text[at - 1], text[at]
    if before == _ZWJ or after == _ZWJ or (before == "\r" and after == "\n"):
        return False
    if unicodedata.category(after) in ("Mn", "Mc", "Me") or _attaches(after):
        return False
    if 0x1F3FB <= ord(after) <= 0x1F3FF:  # skin tone modifier
        return False
    if _is_regional_indicator(before) and _is_regional_indicator(after):
        # Flags are pairs of regional indicators: cut only after an even run.
        run = 0
        while at - run - 1 >= 0 and _is_regional_indicator(text[at - run - 1]):
            run += 1
        return run % 2 == 0
    return True


def _cut(text: str, start: int, end: int) -> int:
    """Where to end the piece text[start:end]: after a newline, else a space, else anywhere."""
    cuts = [at for at in range(end, start, -1) if _can_cut(text, at)]
    for at in cuts:
        if text[at - 1] == "\n":
            return at
    for at in cuts:
        if text[at - 1].isspace():
            return at
    # A cluster longer than the limit gets cut anyway, but never inside a character.
    return cuts[0] if cuts else end


def split_utf16(text: str, limit: int) -> list[str]:
    """Split `text` into pieces of at most `limit` UTF-16 units that join back to `text`.

    An empty text gives no pieces.
    """
    if limit < 2:
        # A character outside the BMP needs two units, so a smaller limit cannot always fit.
        raise ValueError("limit must be at least 2")
    pieces: list[str] = []
    start = 0
    while start < len(text):
        end, used = start, 0
        while end < len(text) and used + _units(text[end]) <= limit:
            used += _units(text[end])
            end += 1
        if end < len(text):
            end = _cut(text, start, end)
        pieces.append(text[start:end])
        start = end
    return pieces
