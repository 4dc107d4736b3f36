"""Reading the date a reporter gives, in the words they would use."""

from __future__ import annotations

import re
from datetime import date, timedelta

UNKNOWN = "unknown"
_TODAY = {"today", "今天", "今日"}
_YESTERDAY = {"yesterday", "昨天", "昨日"}
_UNKNOWN = {
    "don't remember",
    "dont remember",
    "do not remember",
    "i don't remember",
    "not sure",
    "unknown",
    "?",
    "不记得",
    "记不清",
    "不确定",
    "不知道",
}
_ISO = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")


class DateError(ValueError):
    """Not a date we can read; `future` says it was readable but lies ahead."""

    def __init__(self, future: bool = False) -> None:
        super().__init__("future date" if future else "unreadable date")
        self.future = future


def parse_date_answer(text: str, today: date) -> str:
    """Return an ISO date or UNKNOWN; raise DateError otherwise."""
    cleaned = " ".join(text.strip().lower().replace("’", "'").split())
    if cleaned in _TODAY:
        return today.isoformat()
    if cleaned in _YESTERDAY:
        return (today - timedelta(days=1)).isoformat()
    if cleaned in _UNKNOWN:
        return UNKNOWN
    match = _ISO.fullmatch(cleaned)
    if not match:
        raise DateError()
    try:
        value = date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError as exc:
        raise DateError() from exc
    if value > today:
        raise DateError(future=True)
    return value.isoformat()
