"""The service-level rules, by the clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.cases.sla import (
    Due,
    ServiceLevels,
    after_claim,
    after_first_reply,
    due,
    timers_at_submission,
)

T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
LEVELS = ServiceLevels()
H = timedelta(hours=1)


def test_reminder_at_half_time_then_escalation_at_the_deadline() -> None:
    timers = timers_at_submission(T0, urgent=False, levels=LEVELS)
    assert due(timers, T0 + 11 * H, LEVELS)[0] == []
    fired, timers = due(timers, T0 + 12 * H, LEVELS)
    assert fired == [Due.REMIND_CLAIM]
    assert due(timers, T0 + 12 * H, LEVELS)[0] == []  # fired once
    fired, timers = due(timers, T0 + 24 * H, LEVELS)
    assert fired == [Due.ESCALATE_CLAIM]
    fired, timers = due(timers, T0 + 36 * H, LEVELS)
    assert fired == [Due.REMIND_REPLY]
    fired, timers = due(timers, T0 + 72 * H, LEVELS)
    assert fired == [Due.ESCALATE_REPLY]
    assert timers.next_at() is None


def test_a_late_scan_escalates_without_a_stale_reminder_first() -> None:
    timers = timers_at_submission(T0, urgent=False, levels=LEVELS)
    fired, _ = due(timers, T0 + 25 * H, LEVELS)
    assert fired == [Due.ESCALATE_CLAIM]


def test_urgent_cases_have_an_hour_and_repeat_until_claimed() -> None:
    timers = timers_at_submission(T0, urgent=True, levels=LEVELS)
    fired, timers = due(timers, T0 + timedelta(minutes=15), LEVELS)
    assert fired == [Due.REPEAT_URGENT]
    fired, timers = due(timers, T0 + timedelta(minutes=30), LEVELS)
    assert fired == [Due.REMIND_CLAIM, Due.REPEAT_URGENT]
    # After two hours of downtime: one escalation and one repeat, not a burst of repeats.
    fired, timers = due(timers, T0 + timedelta(hours=3), LEVELS)
    assert fired == [Due.ESCALATE_CLAIM, Due.REPEAT_URGENT]
    assert timers.urgent_repeat_at == T0 + timedelta(hours=3, minutes=15)
    claimed = after_claim(timers)
    assert claimed.urgent_repeat_at is None and claimed.claim_due_at is None
    assert claimed.reply_due_at == T0 + 72 * H


def test_first_reply_stops_the_reply_clock_and_a_pause_shifts_everything() -> None:
    timers = after_first_reply(timers_at_submission(T0, urgent=False, levels=LEVELS))
    assert timers.reply_due_at is None and timers.claim_due_at == T0 + 24 * H
    assert timers.shifted(5 * H).claim_due_at == T0 + 29 * H
