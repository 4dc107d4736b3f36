"""Receipt codes and short case ids, in Crockford base32 (no I, L, O, U: easy to read aloud)."""

from __future__ import annotations

import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
RECEIPT_LENGTH = 16  # 16 symbols x 5 bits = 80 bits: unguessable, even without rate limits
RECEIPT_GROUP = 4
SHORT_ID_LENGTH = 4  # only a handle for responders; never a secret
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
    cleaned = "".join(ch for ch in text.upper() if ch not in " -_.\u2010\u2011\u2012\u2013\u2014")
    cleaned = cleaned.translate(_READ_AS)
    if len(cleaned) != RECEIPT_LENGTH or any(ch not in ALPHABET for ch in cleaned):
        return None
    return format_receipt_code(cleaned)


def new_short_id() -> str:
    return "C-" + "".join(secrets.choice(ALPHABET) for _ in range(SHORT_ID_LENGTH))
