"""Reading typed dates: every accepted form, in each day/month order setting."""

from __future__ import annotations

from datetime import date

import pytest

from bot.intake.dates import DATE_ORDERS, UNKNOWN, DateError, DateOrder, parse_date_answer

TODAY = date(2026, 11, 28)
JANUARY = date(2026, 1, 10)


def test_date_orders() -> None:
    assert DATE_ORDERS == ("dmy", "mdy", "ymd")


def test_two_positional_arguments_still_work() -> None:
    assert parse_date_answer("2026-08-02", TODAY) == "2026-08-02"


@pytest.mark.parametrize("order", DATE_ORDERS)
@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("today", "2026-11-28"),
        ("今天", "2026-11-28"),
        ("今日", "2026-11-28"),
        ("Yesterday", "2026-11-27"),
        ("昨天", "2026-11-27"),
        ("昨日", "2026-11-27"),
        ("don't remember", UNKNOWN),
        ("I don’t remember", UNKNOWN),
        ("  Not   sure ", UNKNOWN),
        ("?", UNKNOWN),
        ("不记得", UNKNOWN),
        ("不知道", UNKNOWN),
    ],
)
def test_words(typed: str, expected: str, order: DateOrder) -> None:
    assert parse_date_answer(typed, TODAY, order) == expected


@pytest.mark.parametrize("order", DATE_ORDERS)
@pytest.mark.parametrize(
    "typed",
    [
        "2025-11-20",
        "2025/11/20",
        "2025.11.20",
        "2025-11-20日",
        "2025 - 11 - 20",
        "2025年11月20日",
        "2025年11月20号",
        "2025 年 11 月 20 日",
        "2025年11月20",
        "２０２５年１１月２０日",
        "２０２５－１１－２０",
        "２０２５／１１／２０",
    ],
)
def test_year_first_is_always_year_month_day(typed: str, order: DateOrder) -> None:
    assert parse_date_answer(typed, TODAY, order) == "2025-11-20"


@pytest.mark.parametrize("order", DATE_ORDERS)
def test_year_first_short_numbers(order: DateOrder) -> None:
    assert parse_date_answer("2026/8/2", TODAY, order) == "2026-08-02"
    # Day 8 month 2 would be the dmy reading; year-first ignores the order.
    assert parse_date_answer("2026.2.8", TODAY, order) == "2026-02-08"


@pytest.mark.parametrize("order", DATE_ORDERS)
@pytest.mark.parametrize(
    ("typed", "today", "expected"),
    [
        ("11月20日", TODAY, "2026-11-20"),
        ("11月20号", TODAY, "2026-11-20"),
        ("11 月 20 日", TODAY, "2026-11-20"),
        ("１１月２０日", TODAY, "2026-11-20"),
        ("3月5日", TODAY, "2026-03-05"),
        ("11月28日", TODAY, "2026-11-28"),
        # Not yet reached this year, so it was last year.
        ("11月29日", TODAY, "2025-11-29"),
        ("11月20日", JANUARY, "2025-11-20"),
        ("1月10日", JANUARY, "2026-01-10"),
        ("1月11日", JANUARY, "2025-01-11"),
        # No 29 February in 2026: the most recent one a year back.
        ("2月29日", date(2025, 1, 10), "2024-02-29"),
    ],
)
def test_chinese_month_day_is_the_most_recent(
    typed: str, today: date, expected: str, order: DateOrder
) -> None:
    assert parse_date_answer(typed, today, order) == expected


@pytest.mark.parametrize(
    ("typed", "order", "expected"),
    [
        ("20/11/2025", "dmy", "2025-11-20"),
        ("20.11.2025", "dmy", "2025-11-20"),
        ("20-11-2025", "dmy", "2025-11-20"),
        ("2/8/2026", "dmy", "2026-08-02"),
        ("２０/１１/２０２５", "dmy", "2025-11-20"),
        ("20 / 11 / 2025", "dmy", "2025-11-20"),
        ("11/20/2025", "mdy", "2025-11-20"),
        ("11.20.2025", "mdy", "2025-11-20"),
        ("11-20-2025", "mdy", "2025-11-20"),
        ("2/8/2026", "mdy", "2026-02-08"),
        ("１１／２０／２０２５", "mdy", "2025-11-20"),
        # The default reads day first...
        ("20/11/2025", "ymd", "2025-11-20"),
        ("2/8/2026", "ymd", "2026-08-02"),
        ("20.11.2025", "ymd", "2025-11-20"),
        # ...unless only month first is a date.
        ("11/20/2025", "ymd", "2025-11-20"),
        ("11-20-2025", "ymd", "2025-11-20"),
    ],
)
def test_year_last(typed: str, order: DateOrder, expected: str) -> None:
    assert parse_date_answer(typed, TODAY, order) == expected


def test_default_order_is_ymd() -> None:
    assert parse_date_answer("2/8/2026", TODAY) == "2026-08-02"
    assert parse_date_answer("11/20/2025", TODAY) == "2025-11-20"


@pytest.mark.parametrize(
    ("typed", "order"),
    [
        # Strict orders do not swap an impossible reading.
        ("11/20/2025", "dmy"),
        ("20/11/2025", "mdy"),
        ("32/13/2026", "ymd"),
        ("29/2/2026", "ymd"),
        ("31/4/2026", "dmy"),
        ("4/31/2026", "mdy"),
    ],
)
def test_impossible_year_last(typed: str, order: DateOrder) -> None:
    with pytest.raises(DateError) as caught:
        parse_date_answer(typed, TODAY, order)
    assert not caught.value.future


@pytest.mark.parametrize("order", DATE_ORDERS)
@pytest.mark.parametrize(
    "typed",
    [
        "",
        "   ",
        "soon",
        "last week",
        "2026-02-30",
        "2026-13-01",
        "0000-01-01",
        "32/13/2026",
        "13月1日",
        "2月30日",
        "2月29日",
        "0月1日",
        # Two-digit years, and years that are not four digits.
        "20/11/25",
        "11/20/25",
        "25-11-20",
        "25年11月20日",
        "20/11/02025",
        # Mixed separators, missing parts, and year-less numbers.
        "20/11-2025",
        "2025-11",
        "20/11",
        "11-20",
        "2025年11月20日 maybe",
        "١١/٢٠/٢٠٢٥",
    ],
)
def test_unreadable(typed: str, order: DateOrder) -> None:
    with pytest.raises(DateError) as caught:
        parse_date_answer(typed, TODAY, order)
    assert not caught.value.future


@pytest.mark.parametrize(
    ("typed", "order"),
    [
        ("2026-11-29", "ymd"),
        ("2027-01-01", "dmy"),
        ("２０２６年１２月１日", "mdy"),
        ("29/11/2026", "dmy"),
        ("11/29/2026", "mdy"),
        ("29/11/2026", "ymd"),
        # Day first is a valid date, so the default does not fall back to month first.
        ("1/12/2026", "ymd"),
    ],
)
def test_future(typed: str, order: DateOrder) -> None:
    with pytest.raises(DateError) as caught:
        parse_date_answer(typed, TODAY, order)
    assert caught.value.future


def test_bad_order_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="date order") as caught:
        parse_date_answer("today", TODAY, "ydm")  # type: ignore[arg-type]
    assert not isinstance(caught.value, DateError)
