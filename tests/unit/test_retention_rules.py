"""Retention's pure rules: when a done case is warned and shredded, when what remains of it
goes, who is warned, and what its statistics keep."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from bot.cases import retention as rules
from bot.cases.lifecycle import State
from bot.cases.readers import Occasion, Staff, recipients
from bot.cases.retention import Figures, Retention

CHANGED = datetime(2026, 3, 10, 14, 30, tzinfo=UTC)
DAY = timedelta(days=1)
SETTINGS = Retention()


def test_the_defaults_and_settings_that_make_no_sense() -> None:
    assert (SETTINGS.closed_days, SETTINGS.metadata_days) == (365, 730)
    for wrong in (0, -1, True, 1.5):
        with pytest.raises(ValueError, match=r"\[retention\] closed_days"):
            Retention(closed_days=wrong)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="metadata_days"):
        Retention(metadata_days=0)


@pytest.mark.parametrize("state", [State.RESOLVED, State.CLOSED])
def test_a_done_case_is_warned_a_week_before_and_shredded_when_its_time_is_up(
    state: State,
) -> None:
    warn = CHANGED + 358 * DAY
    assert rules.warn_at(CHANGED, SETTINGS) == warn
    assert not rules.due_for_warning(state, CHANGED, None, warn - timedelta(minutes=1), SETTINGS)
    assert rules.due_for_warning(state, CHANGED, None, warn, SETTINGS)
    assert not rules.due_for_warning(state, CHANGED, warn, warn + DAY, SETTINGS)  # once
    up = rules.shred_at(CHANGED, SETTINGS)
    assert up == CHANGED + 365 * DAY
    assert not rules.due_for_shredding(state, CHANGED, warn, up - timedelta(minutes=1), SETTINGS)
    assert rules.due_for_shredding(state, CHANGED, warn, up, SETTINGS)


def test_nothing_is_shredded_without_a_full_week_of_warning() -> None:
    """Cases already past their time when retention starts (an upgrade, a long downtime)."""
    late = CHANGED + 500 * DAY
    assert not rules.due_for_shredding(State.CLOSED, CHANGED, None, late, SETTINGS)
    assert rules.due_for_warning(State.CLOSED, CHANGED, None, late, SETTINGS)
    assert not rules.due_for_shredding(State.CLOSED, CHANGED, late, late + 6 * DAY, SETTINGS)
    assert rules.due_for_shredding(State.CLOSED, CHANGED, late, late + 7 * DAY, SETTINGS)


def test_a_case_reopened_after_its_warning_starts_over() -> None:
    warned = CHANGED + 358 * DAY
    settled_again = warned + 2 * DAY
    later = settled_again + 365 * DAY
    assert not rules.due_for_shredding(State.RESOLVED, settled_again, warned, later, SETTINGS)
    assert rules.due_for_warning(State.RESOLVED, settled_again, warned, later, SETTINGS)


@pytest.mark.parametrize("state", [State.NEW, State.INVESTIGATING, State.WAITING, State.WITHDRAWN])
def test_open_and_withdrawn_cases_are_never_warned_or_shredded(state: State) -> None:
    forever = CHANGED + 3650 * DAY
    assert not rules.due_for_warning(state, CHANGED, None, forever, SETTINGS)
    assert not rules.due_for_shredding(state, CHANGED, CHANGED, forever, SETTINGS)


def test_what_remains_goes_after_metadata_days() -> None:
    assert not rules.due_for_deletion(None, CHANGED + 9999 * DAY, SETTINGS)
    gone = CHANGED
    assert not rules.due_for_deletion(gone, gone + 730 * DAY - timedelta(minutes=1), SETTINGS)
    assert rules.due_for_deletion(gone, gone + 730 * DAY, SETTINGS)
    short = Retention(closed_days=30, metadata_days=10)
    assert rules.due_for_deletion(gone, gone + 10 * DAY, short)


def test_the_cutoffs_are_the_rules_as_bounds() -> None:
    now = CHANGED + 400 * DAY
    bounds = rules.cutoffs(now, SETTINGS)
    assert bounds.warn_changed_before == now - 358 * DAY
    assert bounds.shred_changed_before == now - 365 * DAY
    assert bounds.shred_warned_before == now - 7 * DAY
    assert bounds.delete_gone_before == now - 730 * DAY


def test_the_one_holding_the_case_is_warned_and_its_readers_while_nobody_holds_it() -> None:
    ann, ben, ada = (Staff(uuid.uuid4(), admin) for admin in (False, False, True))
    team = [ann, ben, ada]
    assert recipients(Occasion.RETENTION, team, frozenset(), claimer=ben.id) == [ben]
    assert recipients(Occasion.RETENTION, team, frozenset({ben.id})) == [ann, ada]


def test_figures_are_coarse_and_keep_no_free_text() -> None:
    submitted = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
    trail = [
        (submitted, "submit"),
        (submitted + timedelta(minutes=10), "open"),
        (submitted + timedelta(minutes=50), "claim"),
        (submitted + timedelta(hours=30), "state:resolved"),
        (submitted + timedelta(days=3), "state:investigating"),  # reopened
        (submitted + timedelta(days=9, hours=1), "state:resolved"),
        (submitted + timedelta(days=20), "state:closed"),
        (submitted + timedelta(days=21), "claim"),  # a later claim is not the first
    ]
    kept = rules.figures(State.CLOSED, submitted, trail, {"category": "verbal", "account": "x"})
    assert kept == Figures("closed", "2026-11", "verbal", 1, 10)
    assert Figures.from_json(kept.to_json()) == kept
    assert set(kept.to_json()) == {
        "outcome",
        "month",
        "category",
        "hours_to_acknowledge",
        "days_to_resolve",
    }
    for typed in ("Someone in accounts", "Verbal", "x" * 25, ["verbal"], None):
        assert rules.figures(State.CLOSED, submitted, [], {"category": typed}).category is None
    assert rules.figures(State.RESOLVED, submitted, [], None) == Figures(
        "resolved", "2026-11", None, None, None
    )


def test_a_withdrawn_case_keeps_no_category() -> None:
    submitted = datetime(2026, 1, 31, 23, 59, tzinfo=UTC)
    trail = [(submitted + timedelta(hours=5, minutes=1), "claim")]
    kept = rules.figures(State.WITHDRAWN, submitted, trail, {"category": "verbal"})
    assert kept == Figures("withdrawn", "2026-01", None, 6, None)
