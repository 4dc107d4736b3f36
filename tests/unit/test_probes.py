"""The health port's parts on their own: its settings, the metrics' fixed labels, the
little server's answers, and what readiness says when."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import socket
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import aiohttp
import pytest
from demo_run import free_port
from telegram.error import NetworkError, RetryAfter

from bot import metrics
from bot.config import ConfigError, Settings, load_settings
from bot.crypto import Keyring
from bot.probes import ProbePortUnavailable, ProbeServer
from bot.services import people
from bot.services.health import HANDLING
from bot.store.models import Responder
from bot.telegram.connectivity import Connectivity
from bot.telegram.readiness import Readiness


def settings_from(tmp_path: Path, text: str, **env: str) -> Settings:
    config = tmp_path / "config.toml"
    config.write_text(text, encoding="utf-8")
    return load_settings({"CONFIDE_CONFIG": str(config), **env})


def test_the_health_port_is_on_loopback_by_default(tmp_path: Path) -> None:
    settings = settings_from(tmp_path, "")
    assert settings.health_enabled
    assert (settings.health_listen, settings.health_port) == ("127.0.0.1", 9465)
    assert settings.health_probe_seconds == 30


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("[health]\nport = 70000\n", "[health] port must be at most 65535, not 70000"),
        ("[health]\nport = 0\n", "[health] port must be more than 0"),
        ("[health]\nport = '9465'\n", "[health] port must be a whole number"),
        ("[health]\nenabled = 'yes'\n", "[health] enabled must be true or false (no quotes)"),
        ("[health]\nenabled = 1\n", "[health] enabled must be true or false"),
        ("[health]\nlisten = ''\n", "[health] listen must be an address, such as 127.0.0.1"),
        ("[health]\nprobe_seconds = 0\n", "[health] probe_seconds must be more than 0"),
        ("[health]\nprot = 1\n", "unknown key 'prot' in [health]: did you mean 'port'?"),
        ("[helth]\nport = 1\n", "did you mean [health]?"),
    ],
)
def test_health_settings_are_checked(tmp_path: Path, text: str, said: str) -> None:
    with pytest.raises(ConfigError) as raised:
        settings_from(tmp_path, text)
    assert said in str(raised.value), raised.value
    assert "\n" not in str(raised.value)


def test_the_environment_overrides_the_health_section(tmp_path: Path) -> None:
    config = "[health]\nenabled = false\nport = 1234\n"
    settings = settings_from(
        tmp_path,
        config,
        CONFIDE_HEALTH_ENABLED="true",
        CONFIDE_HEALTH_LISTEN="10.0.0.5",
        CONFIDE_HEALTH_PORT="9000",
    )
    assert settings.health_enabled
    assert (settings.health_listen, settings.health_port) == ("10.0.0.5", 9000)
    assert not settings_from(tmp_path, "", CONFIDE_HEALTH_ENABLED="0").health_enabled
    with pytest.raises(ConfigError, match="CONFIDE_HEALTH_PORT must be a port from 1 to 65535"):
        settings_from(tmp_path, "", CONFIDE_HEALTH_PORT="99999")
    with pytest.raises(ConfigError, match="CONFIDE_HEALTH_ENABLED must be true or false"):
        settings_from(tmp_path, "", CONFIDE_HEALTH_ENABLED="maybe")


def test_labels_take_only_their_fixed_values() -> None:
    counting = metrics.Metrics()
    counting.update_handled("/enroll ABCD-EFGH", 0.01)  # never a command's argument
    counting.tampering_detected("C-7F3K")
    counting.reminder_sent("claim")
    assert counting.updates.labels("other")._value.get() == 1
    assert counting.tampering.labels("other")._value.get() == 1
    assert counting.reminders.labels("claim")._value.get() == 1
    assert HANDLING == metrics.HANDLING_STATES  # the gauge's states are the health line's


async def test_each_bot_counts_into_its_own_registry() -> None:
    first, second = metrics.Metrics(), metrics.Metrics()

    async def bot(mine: metrics.Metrics, times: int) -> None:
        metrics.attach(mine)  # what serve does, in its own task
        for _ in range(times):
            metrics.rate_limited()

    await asyncio.gather(asyncio.create_task(bot(first, 1)), asyncio.create_task(bot(second, 2)))
    assert first.rate_limited._value.get() == 1
    assert second.rate_limited._value.get() == 2
    assert metrics.current() is not first and metrics.current() is not second  # not leaked


async def get(port: int, path: str) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as client,
        client.get(f"http://127.0.0.1:{port}{path}") as response,
    ):
        return response.status, await response.text()


async def test_the_server_says_why_it_is_not_ready_and_serves_metrics_without_the_database(
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = free_port()
    server = ProbeServer("127.0.0.1", port, metrics.Metrics())

    async def refresh() -> None:
        raise ConnectionRefusedError("postgresql://secret-user@db-host")

    server.refresh = refresh
    await server.start()
    try:
        assert await get(port, "/healthz") == (200, "ok\n")
        assert await get(port, "/readyz") == (503, "not ready: starting\n")
        server.ready = lambda: "the database does not answer"
        assert await get(port, "/readyz") == (503, "not ready: the database does not answer\n")
        with caplog.at_level(logging.WARNING):
            status, body = await get(port, "/metrics")
        assert status == 200 and "confide_ready 0.0" in body
        assert "event=metrics_refresh_failed error=ConnectionRefusedError" in caplog.text
        assert "secret-user" not in caplog.text and "db-host" not in caplog.text
        server.ready = lambda: None
        assert await get(port, "/readyz") == (200, "ready\n")
        assert (await get(port, "/nothing"))[0] == 404
    finally:
        await server.stop()


async def test_a_port_in_use_is_one_line_and_a_disabled_port_is_not_opened() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(ProbePortUnavailable) as raised:
            await ProbeServer("127.0.0.1", port, metrics.Metrics()).start()
        disabled = ProbeServer("127.0.0.1", port, metrics.Metrics(), enabled=False)
        await disabled.start()  # does not try
        await disabled.stop()
    assert str(raised.value) == (
        f"the health port 127.0.0.1:{port} is in use (another Confide?): choose another "
        "[health] port in config.toml, or set [health] enabled = false."
    )
    with pytest.raises(ProbePortUnavailable) as raised:  # TEST-NET-1: nobody's address
        await ProbeServer("192.0.2.1", free_port(), metrics.Metrics()).start()
    assert "192.0.2.1 is not an address of this machine; check [health] listen" in str(raised.value)


class FakeBot:
    def __init__(self) -> None:
        self.error: Exception | None = None

    async def get_me(self, **_: Any) -> None:
        if self.error is not None:
            raise self.error


async def test_readiness_names_the_first_problem_and_follows_telegram() -> None:
    bot, connectivity = FakeBot(), Connectivity()
    database: list[str | None] = [None]
    missing = [False]

    async def database_problem() -> str | None:
        return database[0]

    ready = Readiness(cast(Any, bot), connectivity, database_problem, lambda: missing[0])
    await ready.probe()
    assert ready.problem() is None
    bot.error = NetworkError("connection reset")
    await ready.probe()
    assert ready.problem() == "Telegram does not answer"
    missing[0] = True
    assert ready.problem() == "a key the database uses is not loaded (see the log)"
    database[0] = "the database does not answer"
    await ready.probe()
    assert ready.problem() == "the database does not answer"
    database[0], missing[0] = None, False
    bot.error = RetryAfter(3)  # busy, but there
    await ready.probe()
    assert ready.problem() is None


def test_a_forged_responder_row_is_counted_where_it_is_caught() -> None:
    keyring = Keyring.generate()
    person = Responder(
        id=uuid.uuid4(),
        lookup=bytes(32),
        wrapped_key=b"",
        chat=b"sealed",
        display_name="Ann",
        role="responder",
        language="en",
        active=True,
        enrolled_at=datetime.now(UTC),
        revoked_at=None,
    )
    people.seal_responder(keyring, person)
    counting = metrics.Metrics()

    def in_a_bot() -> None:
        metrics.attach(counting)  # as serve does, in a context of its own
        assert people.responder_intact(keyring, person)
        person.role = "admin"  # raised in the database, without the keys
        assert not people.responder_intact(keyring, person)

    contextvars.copy_context().run(in_a_bot)
    assert counting.tampering.labels("responder_row")._value.get() == 1
