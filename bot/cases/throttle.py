"""How much to slow down an answer to a code when many wrong codes are being tried. Pure."""

from __future__ import annotations

from datetime import timedelta

WINDOW = timedelta(minutes=10)
FREE = 30  # wrong codes in the window, across all chats, before anyone waits
STEP_SECONDS = 0.1  # each wrong code beyond that adds this much
MOST_SECONDS = 5.0  # and never more: slowed, never locked out


def slowdown(wrong_in_window: int) -> float:
    return min(MOST_SECONDS, max(0, wrong_in_window - FREE) * STEP_SECONDS)
