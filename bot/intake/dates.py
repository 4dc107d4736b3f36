"""Reading the date a reporter gives, in the words they would use."""

from __future__ import annotations

import re
import unicodedata
from datetime import date, timedelta
from typing import Literal

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
    "不记得了",  # the button's label, typed
    "记不清",
    "记不清了",
    "不确定",
    "不知道",
}

# How to read "a/b/yyyy": which of the first two numbers is the day.
DateOrder = Literal["dmy", "mdy", "ymd"]
DATE_ORDERS: tuple[DateOrder, ...] = ("dmy", "mdy", "ymd")

# [0-9] rather than \d: \d also matches other scripts' digits, which int() would accept.
# Year first is always year-month-day, whatever the order setting.
_YEAR_FIRST = re.compile(r"([0-9]{4}) ?[-/.年] ?([0-9]{1,2}) ?[-/.月] ?([0-9]{1,2}) ?[日号]?")
_MONTH_DAY_ZH = re.compile(r"([0-9]{1,2}) ?月 ?([0-9]{1,2}) ?[日号]?")
# Year last needs four digits (two-digit years are refused) and one separator throughout.
_YEAR_LAST = re.compile(r"([0-9]{1,2}) ?([-/.]) ?([0-9]{1,2}) ?\2 ?([0-9]{4})")


class DateError(ValueError):
    """Not a date we can read; `future` says it was readable but lies ahead."""

    def __init__(self, future: bool = False) -> None:
        super().__init__("future date" if future else "unreadable date")
        self.future = future


def parse_date_answer(text: str, today: date, order: DateOrder = "ymd") -> str:
    """Return an ISO date or UNKNOWN; raise DateError otherwise.

    `order` says how "a/b/yyyy" is read: "dmy" and "mdy" are strict, while "ymd"
    (where year-last forms are unusual) reads day first unless only month first is a date.
    """
    if order not in DATE_ORDERS:
        # A bad setting is a programming error, not the reporter's typo.
        raise ValueError(f"unknown date order: {order!r}")
    # NFKC turns full-width digits and punctuation (２０２５－１１－２０) into ASCII.
    normalised = unicodedata.normalize("NFKC", text).replace("’", "'")
    cleaned = " ".join(normalised.lower().split())
    if cleaned in _TODAY:
        return today.isoformat()
    if cleaned in _YESTERDAY:
        return (today - timedelta(days=1)).isoformat()
    if cleaned in _UNKNOWN:
        return UNKNOWN
    return _read_date(cleaned, today, order).isoformat()


def _read_date(cleaned: str, today: date, order: DateOrder) -> date:
    if match := _YEAR_FIRST.fullmatch(cleaned):
        value = _make(int(match[1]), int(match[2]), int(match[3]))
    elif match := _MONTH_DAY_ZH.fullmatch(cleaned):
        return _most_recent(int(match[1]), int(match[2]), today)
    elif match := _YEAR_LAST.fullmatch(cleaned):
        value = _year_last(int(match[1]), int(match[3]), int(match[4]), order)
    else:
        raise DateError()
    if value > today:
        raise DateError(future=True)
    return value


def _year_last(first: int, second: int, year: int, order: DateOrder) -> date:
    if order == "mdy":
        return _make(year, first, second)
    if order == "dmy":
        return _make(year, second, first)
    try:
        return _make(year, second, first)
    except DateError:
        return _make(year, first, second)


def _most_recent(month: int, day: int, today: date) -> date:
    """A year-less date: this year's, or last year's if this year's is still ahead.

    Someone answering "20 November" in January means the one just gone. Last year is
    also tried when this year lacks the day (29 February), so this never lies ahead.
    """
    for year in (today.year, today.year - 1):
        try:
            value = date(year, month, day)
        except ValueError:
            continue
        if value <= today:
            return value
    raise DateError()


def _make(year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except ValueError as exc:
        raise DateError() from exc
