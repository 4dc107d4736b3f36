"""Receipt codes and short case ids, in Crockford base32 (no I, L, O, U: easy to read aloud)."""

from __future__ import annotations

import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
RECEIPT_LENGTH = 16  # 16 symbols x 5 bits = 80 bits: unguessable, even without rate limits
RECEIPT_GROUP = 4
# A case id is only a handle for responders, never a secret, but it must not collide: four
# symbols gave about a million values, so at 100,000 cases one new report in ten drew a
# taken id. Six give 32**6 (about a billion): one in ten thousand at 100,000 cases. They
# are read aloud in two groups of three, as a phone number is: C-7F3-K9Q.
SHORT_ID_LENGTH = 6
SHORT_ID_GROUP = 3
LEGACY_SHORT_ID_LENGTH = 4  # cases filed before the ids were widened keep theirs: C-7F3K
_SEPARATORS = " -_.\u2010\u2011\u2012\u2013\u2014"
# Characters people confuse when copying by hand.
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1", "U": "V"})


def new_receipt_code() -> str:
    """A fresh receipt code, grouped for reading: K7QF-3M9X-TA2P-8WDR."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(RECEIPT_LENGTH))
    return format_receipt_code(raw)


def format_receipt_code(raw: str) -> str:
    return "-".join(raw[i : i + RECEIPT_GROUP] for i in range(0, len(raw), RECEIPT_GROUP))


def normalize_receipt_code(text: str) -> str | None:
    """The canonical form of what a person typed, or None if it cannot be a receipt code."""
    cleaned = "".join(ch for ch in text.upper() if ch not in _SEPARATORS)
    cleaned = cleaned.translate(_READ_AS)
    if len(cleaned) != RECEIPT_LENGTH or any(ch not in ALPHABET for ch in cleaned):
        return None
    return format_receipt_code(cleaned)


def new_short_id() -> str:
    """A fresh case id: C-7F3-K9Q."""
    return _format_short_id("".join(secrets.choice(ALPHABET) for _ in range(SHORT_ID_LENGTH)))


def _format_short_id(symbols: str) -> str:
    if len(symbols) == LEGACY_SHORT_ID_LENGTH:
        return "C-" + symbols
    return "C-" + symbols[:SHORT_ID_GROUP] + "-" + symbols[SHORT_ID_GROUP:]


def normalize_short_id(text: str) -> str | None:
    """The canonical form of a case id as a person typed it (`c-7f3-k9q`, `7F3K9Q`,
    `C 7F3 K9O`, an old `C-7F3K` or `7f3k`), or None if it cannot be one."""
    typed = text.strip().upper()
    # The "C" of "C-" is also a symbol: it is the prefix when a dash follows it, or when
    # without it the symbols are one too many.
    prefixed = typed[:1] == "C" and typed[1:2] in tuple(_SEPARATORS)
    cleaned = "".join(ch for ch in typed[prefixed:] if ch not in _SEPARATORS).translate(_READ_AS)
    lengths = (SHORT_ID_LENGTH + 1, LEGACY_SHORT_ID_LENGTH + 1)
    if not prefixed and len(cleaned) in lengths and cleaned[0] == "C":
        cleaned = cleaned[1:]
    if len(cleaned) not in (SHORT_ID_LENGTH, LEGACY_SHORT_ID_LENGTH):
        return None
    if any(ch not in ALPHABET for ch in cleaned):
        return None
    return _format_short_id(cleaned)
