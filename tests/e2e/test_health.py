"""The health port of a running bot (bot.probes): /healthz, /readyz and /metrics, scraped
over HTTP while real people use the bot through the emulator. The metrics count what
happened and name no one: no Telegram id, name, text, case id or receipt code."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
from demo_run import free_port
from harness import REPO, TOKEN, InProcessBot, SubprocessBot, bot_environment, enrol
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from talk import WAIT, case_id_in, file_report, say
from world import Clock

from bot import metrics
from bot.crypto import Keyring
from bot.devserver import BotApiEmulator

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
ACCOUNT = "Marker-account-Ozymandias: he cornered me by the lifts"
CAPTION = "Marker-caption-Xerxes"
FILE_NAME = "marker-file-Zanzibar.pdf"
CHAT_TEXT = "Marker-text-Belisarius"


def health_env(tmp_path: Path, port: int, config: str) -> dict[str, str]:
    (tmp_path / "config.toml").write_text(config, encoding="utf-8")
    return {"CONFIDE_HEALTH_ENABLED": "true", "CONFIDE_HEALTH_PORT": str(port)}


async def get(port: int, path: str) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as client,
        client.get(f"http://127.0.0.1:{port}{path}") as response,
    ):
        return response.status, await response.text()


async def eventually(port: int, path: str, wanted: Callable[[int, str], bool]) -> str:
    """The body once the answer is as wanted (within WAIT seconds)."""
    status, body = 0, ""
    for _ in range(int(WAIT / 0.1)):
        status, body = await get(port, path)
        if wanted(status, body):
            return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"{path} still answers {status}: {body}")


def samples(body: str) -> Samples:
    found: Samples = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found: Samples, name: str, **labels: str) -> float:
    return found[(name, tuple(sorted(labels.items())))]


def total(found: Samples, name: str) -> float:
    return sum(v for (n, _), v in found.items() if n == name)


async def test_metrics_count_what_happened_and_name_no_one(
    emulator: BotApiEmulator,
    migrated: AsyncEngine,
    keyring: Keyring,
    tmp_path: Path,
    database_url: str,
) -> None:
    port = free_port()
    extra = health_env(
        tmp_path,
        port,
        "[telegram]\npoll_timeout = 1\n[service_levels]\nscan_seconds = 0.1\n"
        "[outbox]\nretry_seconds = 0.1\n[health]\nprobe_seconds = 0.5\n",
    )
    clock = Clock(datetime.now(UTC))
    env = bot_environment(tmp_path, database_url, emulator.base_url, keyring.dump(), **extra)
    bot = InProcessBot(env, clock)
    await bot.start()
    try:
        sam = await enrol(emulator, migrated, keyring, "Quillon", "responder")
        ada = await enrol(emulator, migrated, keyring, "Ysolde", "admin")
        rea = emulator.new_user(
            first_name="Marguerite", last_name="Vandersloot", username="marguerite_secret"
        )
        emulator.fail("sendMessage", retry_after=1)  # one 429, waited out
        receipt = await file_report(rea, account=ACCOUNT)
        await sam.wait_until(lambda: any("New case" in m.text for m in sam.messages), WAIT)
        case = case_id_in(next(m.text for m in sam.messages if "New case" in m.text))
        await rea.send(CHAT_TEXT)
        await rea.send_document(file_name=FILE_NAME, caption=CAPTION)
        clock.now += timedelta(hours=12, minutes=1)  # half the time to claim: a reminder
        await sam.wait_until(lambda: any("still unclaimed" in m.text for m in sam.messages), WAIT)
        clock.now += timedelta(hours=12)  # the deadline: escalated to the admins
        await ada.wait_until(lambda: any("Escalated" in m.text for m in ada.messages), WAIT)

        file_counted = 'confide_updates_handled_total{kind="file"} 1.0'
        unclaimed = await eventually(port, "/metrics", lambda _, body: file_counted in body)
        sam.skip_pending()
        assert "You claimed case" in (await say(sam, f"/claim {case}")).text
        claimed = await eventually(
            port,
            "/metrics",
            lambda _, body: "confide_oldest_unacknowledged_case_age_seconds 0.0" in body,
        )
    finally:
        await bot.stop()

    secrets = [
        *(str(person.id) for person in (rea, sam, ada)),
        "Quillon",
        "Ysolde",
        "Marguerite",
        "Vandersloot",
        "marguerite_secret",
        ACCOUNT,
        "Ozymandias",
        CAPTION,
        "Xerxes",
        FILE_NAME,
        "Zanzibar",
        CHAT_TEXT,
        "Belisarius",
        case,
        case.removeprefix("C-"),
        receipt,
        receipt.replace("-", ""),
        TOKEN,
        TOKEN.split(":")[1],
    ]
    for body in (unclaimed, claimed):
        for secret in secrets:
            assert secret.lower() not in body.lower(), f"{secret!r} is in /metrics"
        # Every label value comes from a small fixed set: nothing else can be in one.
        allowed = {
            "kind": set(metrics.UPDATE_KINDS),
            "state": set(metrics.HANDLING_STATES),
            "deadline": set(metrics.DEADLINES),
            "what": set(metrics.TAMPERED),
            "le": {*(str(b) for b in metrics.LATENCY_BUCKETS), "+Inf"},
        }
        for (name, labels), _ in samples(body).items():
            for label, given in labels:
                assert given in allowed[label], (name, label, given)

    found = samples(unclaimed)
    assert value(found, "confide_updates_handled_total", kind="command") >= 3  # /enroll, /start
    assert value(found, "confide_updates_handled_total", kind="button") >= 5
    assert value(found, "confide_updates_handled_total", kind="text") >= 2
    assert value(found, "confide_updates_handled_total", kind="file") == 1
    handled = total(found, "confide_updates_handled_total")
    assert value(found, "confide_update_handling_seconds_count") == handled
    assert 0 < value(found, "confide_update_handling_seconds_sum") < handled * 5
    assert value(found, "confide_telegram_rate_limited_total") >= 1
    assert value(found, "confide_reminders_sent_total", deadline="claim") == 1
    assert value(found, "confide_escalations_sent_total", deadline="claim") == 1
    assert value(found, "confide_open_cases", state="new") == 1
    assert value(found, "confide_open_cases", state="investigating") == 0
    assert value(found, "confide_oldest_unacknowledged_case_age_seconds") >= 24 * 3600
    assert value(found, "confide_outbox_depth") >= 0
    assert value(found, "confide_outbox_oldest_age_seconds") >= 0
    assert value(found, "confide_webhook_requests_rejected_total") == 0
    assert total(found, "confide_tampering_detected_total") == 0
    assert value(found, "confide_ready") == 1

    after = samples(claimed)  # claimed: acknowledged, still new until its state is set
    assert value(after, "confide_open_cases", state="new") == 1
    assert value(after, "confide_updates_handled_total", kind="command") == (
        value(found, "confide_updates_handled_total", kind="command") + 1
    )


async def test_readiness_follows_telegram_and_the_schema_and_the_process_exits_cleanly(
    emulator: BotApiEmulator,
    bot_env: dict[str, str],
    migrated: AsyncEngine,
    tmp_path: Path,
) -> None:
    port = free_port()
    extra = health_env(
        tmp_path, port, "[telegram]\npoll_timeout = 1\n[health]\nprobe_seconds = 0.2\n"
    )
    bot = SubprocessBot({**bot_env, **extra}, tmp_path / "bot.log")
    await bot.start()
    try:
        assert await get(port, "/healthz") == (200, "ok\n")
        assert await get(port, "/readyz") == (200, "ready\n")

        emulator.fail("*", times=10**6, drop_connection=True)  # the network is gone
        said = await eventually(port, "/readyz", lambda status, _: status == 503)
        assert said == "not ready: Telegram does not answer\n"
        assert await get(port, "/healthz") == (200, "ok\n")  # alive all the same
        status, body = await get(port, "/metrics")
        assert status == 200 and value(samples(body), "confide_ready") == 0
        emulator.clear_failures()
        await eventually(port, "/readyz", lambda status, _: status == 200)

        async with migrated.begin() as connection:  # as if a newer version had migrated it
            (head,) = (
                await connection.execute(text("SELECT version_num FROM alembic_version"))
            ).one()
            await connection.execute(text("UPDATE alembic_version SET version_num = 'f00dfeed'"))
        said = await eventually(port, "/readyz", lambda status, _: status == 503)
        assert said == "not ready: the database schema is newer than this version\n"
        async with migrated.begin() as connection:
            await connection.execute(
                text("UPDATE alembic_version SET version_num = :head"), {"head": head}
            )
        await eventually(port, "/readyz", lambda status, _: status == 200)
    finally:
        code = await bot.stop()
    assert code == 0
    log = bot.log
    assert "Traceback" not in log and "Exception ignored" not in log, log
    with socket.socket() as probe:  # the port is given back
        probe.bind(("127.0.0.1", port))


async def test_a_health_port_in_use_is_one_line(
    bot_env: dict[str, str], migrated: AsyncEngine, tmp_path: Path
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        env = {
            **os.environ,
            **bot_env,
            "CONFIDE_HEALTH_ENABLED": "true",
            "CONFIDE_HEALTH_PORT": str(port),
        }
        result = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "bot", "run"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == [
        f"confide: the health port 127.0.0.1:{port} is in use (another Confide?): choose "
        "another [health] port in config.toml, or set [health] enabled = false."
    ], output
    assert "Traceback" not in output
