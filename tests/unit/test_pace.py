"""The outbox's pace (bot.cases.pace): rates with bursts as stored times, and a lease's plan."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.cases.pace import Pace, Rate, plan
from bot.config import ConfigError, load_settings

T0 = datetime(2026, 1, 1, tzinfo=UTC)
S = timedelta(seconds=1)


def test_a_rate_allows_its_burst_at_once_then_one_per_interval() -> None:
    rate = Rate(per_second=2, burst=3)
    tat = None
    times = []
    for _ in range(6):
        at = rate.earliest(tat, T0)
        times.append(at)
        tat = rate.after(tat, at)
    assert times == [T0, T0, T0, T0 + S / 2, T0 + S, T0 + 1.5 * S]


def test_a_past_time_is_the_same_as_none() -> None:
    rate = Rate(per_second=1, burst=2)
    assert rate.earliest(T0 - 5 * S, T0) == rate.earliest(None, T0) == T0
    assert rate.after(T0 - 5 * S, T0) == rate.after(None, T0) == T0 + S


def test_held_means_nothing_before_until_then_the_rate() -> None:
    rate = Rate(per_second=1, burst=3)
    tat = rate.held(None, T0 + 7 * S)
    assert rate.earliest(tat, T0) == T0 + 7 * S
    assert rate.earliest(rate.after(tat, T0 + 7 * S), T0 + 7 * S) == T0 + 8 * S
    assert rate.held(T0 + 20 * S, T0 + 7 * S) == T0 + 20 * S  # never shortens a hold


def test_rates_need_a_speed_and_a_burst() -> None:
    with pytest.raises(ValueError, match="rate"):
        Rate(0, 1)
    with pytest.raises(ValueError, match="rate"):
        Rate(1, 0)


def test_plan_takes_no_more_than_the_bots_rate_allows_within_the_lookahead() -> None:
    pace = Pace(Rate(10, 3), Rate(100, 100), lookahead=S)
    lease = plan(pace, T0, None, [(n, None) for n in range(40)], limit=100)
    slots = [at for _, at in lease.slots]
    assert slots[:3] == [T0] * 3  # the burst
    assert slots[3:] == [T0 + n * S / 10 for n in range(1, 11)]  # then 10 a second
    assert lease.retry_at == T0 + 11 * S / 10
    # The next lease, at once, takes nothing more before that time.
    again = plan(pace, T0, lease.bot_tat, [(n, None) for n in range(40)], limit=100)
    assert again.slots == () and again.retry_at == T0 + 11 * S / 10


def test_plan_keeps_each_chat_to_its_rate_and_lets_others_pass() -> None:
    pace = Pace(Rate(100, 100), Rate(1, 2), lookahead=S)
    candidates = [("ann", None)] * 4 + [("ben", None)] * 2
    lease = plan(pace, T0, None, candidates, limit=20)
    assert [index for index, _ in lease.slots] == [0, 1, 4, 5]
    assert lease.retry_at == T0 + S  # Ann's third
    assert lease.chat_tats == {"ann": T0 + 2 * S, "ben": T0 + 2 * S}
    # A chat's stored time, from another replica's lease, counts too.
    held = plan(pace, T0, None, [("ann", T0 + 2 * S), ("ben", None)], limit=20)
    assert [index for index, _ in held.slots] == [1]


def test_plan_stops_at_the_batch_and_when_the_bot_is_held() -> None:
    pace = Pace(Rate(100, 100), Rate(100, 100))
    assert len(plan(pace, T0, None, [(n, None) for n in range(30)], limit=20).slots) == 20
    held = Rate(100, 100).held(None, T0 + 5 * S)
    lease = plan(pace, T0, held, [(1, None)], limit=20)
    assert lease.slots == () and lease.retry_at == T0 + 5 * S


def test_over_any_span_no_more_than_burst_plus_rate() -> None:
    pace = Pace(Rate(20, 4), Rate(2, 2), lookahead=S)
    bot_tat: datetime | None = None
    chats: dict[int, datetime] = {}
    sent: list[tuple[datetime, int]] = []
    for step in range(100):  # leases every 50 ms, 8 chats with plenty waiting
        now = T0 + step * S / 20
        lease = plan(pace, now, bot_tat, [(n % 8, chats.get(n % 8)) for n in range(64)], 20)
        bot_tat = lease.bot_tat
        chats.update(lease.chat_tats)
        sent += [(at, index % 8) for index, at in lease.slots]
    for start, _ in sent:
        window = [chat for at, chat in sent if start <= at < start + S]
        assert len(window) <= 4 + 20
        for chat in range(8):
            assert window.count(chat) <= 2 + 2


def test_the_limits_are_read_from_outbox_in_config(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        "[outbox]\nmessages_per_second = 12\nburst = 2\nchat_messages_per_second = 0.5\n",
        encoding="utf-8",
    )
    pace = load_settings({"CONFIDE_CONFIG": str(config)}).outbox_pace
    assert pace.bot == Rate(12, 2) and pace.chat == Rate(0.5, 3)
    config.write_text("[outbox]\nchat_burst = 0\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="chat_burst must be more than 0"):
        load_settings({"CONFIDE_CONFIG": str(config)})
