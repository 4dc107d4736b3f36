"""One outage, one warning: a call that was already under way when the outage began and
then worked does not end it."""

from __future__ import annotations

import logging

import pytest

from bot.telegram.connectivity import Connectivity


def lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage().split(" ")[0] for record in caplog.records]


def test_a_call_in_flight_when_the_outage_began_does_not_end_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="bot.telegram.connectivity")
    seen = Connectivity()
    in_flight = seen.attempt()  # e.g. a long poll started before the network went
    seen.failed(ConnectionError())  # another call fails: the outage begins
    seen.succeeded(in_flight)  # the older call's answer arrives after all
    seen.failed(ConnectionError())
    assert seen.down
    assert lines(caplog) == ["event=telegram_unreachable"]
    seen.succeeded(seen.attempt())  # a call started during the outage works: it is over
    assert not seen.down
    assert lines(caplog) == ["event=telegram_unreachable", "event=telegram_reachable_again"]
