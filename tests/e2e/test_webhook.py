"""Webhook mode: Telegram (the emulator) posts updates to the bot, registered once by
`confide webhook set`. An update is answered 200 only once it is in the durable inbox; a
request without our secret is refused and counted; a redelivery is handled once; the bot
itself never calls setWebhook or getUpdates."""

from __future__ import annotations

import asyncio
import json
import os
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from harness import InProcessBot, SubprocessBot, bot_environment, confide, enrol
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from talk import file_report

from bot.crypto import Keyring
from bot.devserver import BotApiEmulator
from bot.services.inbox import Inbox, StoredUpdate
from bot.store.database import session_factory
from bot.telegram.app import ALLOWED_UPDATES
from bot.telegram.webhook import SECRET_HEADER, WebhookReceiver

WAIT = 20.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def webhook_env(
    tmp_path: Path, database_url: str, emulator: BotApiEmulator, keyring: Keyring, *, mode: str
) -> tuple[dict[str, str], str]:
    """The environment of a bot (and of `confide`) whose [webhook] is a port of this machine."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram"
    (tmp_path / "config.toml").write_text(
        f'[telegram]\npoll_timeout = 1\nmode = "{mode}"\n[webhook]\nurl = "{url}"\nport = {port}\n',
        encoding="utf-8",
    )
    env = bot_environment(tmp_path, database_url, emulator.base_url, keyring.dump())
    return {**os.environ, **env}, url


async def webhook_set(env: dict[str, str]) -> None:
    done = await confide("webhook", "set", env=env)
    assert done.returncode == 0, done.stderr
    assert "Webhook set" in done.stdout


def update(update_id: int, chat_id: int, text_: str = "/start") -> dict[str, Any]:
    person = {"id": chat_id, "is_bot": False, "first_name": "Eve", "language_code": "en"}
    return {
        "update_id": update_id,
        "message": {
            "message_id": 1,
            "date": int(datetime.now(UTC).timestamp()),
            "chat": {"id": chat_id, "type": "private", "first_name": "Eve"},
            "from": person,
            "text": text_,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(text_)}],
        },
    }


async def post(url: str, body: bytes, secret: str | None) -> int:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers[SECRET_HEADER] = secret
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=body, headers=headers) as r,
    ):
        return r.status


async def inbox_ids(engine: AsyncEngine) -> set[int]:
    async with engine.connect() as connection:
        return set((await connection.execute(text("SELECT id FROM inbox"))).scalars())


@pytest.fixture
async def webhook_bot(
    emulator: BotApiEmulator,
    migrated: AsyncEngine,
    keyring: Keyring,
    tmp_path: Path,
    database_url: str,
) -> AsyncIterator[tuple[InProcessBot, str]]:
    """The bot in webhook mode ([telegram] mode), registered by `confide webhook set`."""
    env, url = webhook_env(tmp_path, database_url, emulator, keyring, mode="webhook")
    await webhook_set(env)
    bot = InProcessBot(env)
    await bot.start()
    yield bot, url
    await bot.stop()


async def test_a_whole_report_arrives_through_the_webhook(
    emulator: BotApiEmulator,
    migrated: AsyncEngine,
    keyring: Keyring,
    webhook_bot: tuple[InProcessBot, str],
) -> None:
    bot, url = webhook_bot
    kim = await enrol(emulator, migrated, keyring, "Kim")
    reporter = emulator.new_user(first_name="Mo", language_code="en")
    await file_report(reporter)
    await emulator.wait_until(lambda: any("New case" in m.text for m in kim.messages), WAIT)

    assert emulator.calls_to("getUpdates") == []
    (registered,) = emulator.calls_to("setWebhook")  # `confide webhook set`'s, nobody else's
    assert registered["url"] == url
    assert registered["secret_token"] == keyring.webhook_secret()
    assert registered["allowed_updates"] == ALLOWED_UPDATES
    assert registered["max_connections"] == 40
    deliveries = emulator.webhook_deliveries
    assert len(deliveries) > 10
    assert all(d.secret_sent and d.status == 200 for d in deliveries)
    assert emulator.pending_updates == []

    info = await confide("webhook", "info", env=bot.env)
    assert info.returncode == 0, info.stderr
    assert url in info.stdout and "waiting updates  0" in info.stdout
    await bot.stop()
    deleted = await confide("webhook", "delete", env=bot.env)
    assert deleted.returncode == 0, deleted.stderr
    assert emulator.webhook is None


async def test_requests_without_the_secret_are_refused_and_change_nothing(
    emulator: BotApiEmulator, migrated: AsyncEngine, webhook_bot: tuple[InProcessBot, str]
) -> None:
    _, url = webhook_bot
    eve = emulator.new_user(first_name="Eve")
    body = json.dumps(update(777_000_001, eve.id)).encode()
    assert await post(url, body, None) == 403
    assert await post(url, body, "not-the-secret") == 403
    assert await post(url, body, "") == 403
    await eve.assert_no_message(0.5)
    assert 777_000_001 not in await inbox_ids(migrated)


async def test_a_database_failure_answers_500_and_telegram_delivers_again(
    emulator: BotApiEmulator, migrated: AsyncEngine, webhook_bot: tuple[InProcessBot, str]
) -> None:
    async with migrated.begin() as connection:
        await connection.execute(text("ALTER TABLE inbox RENAME TO inbox_away"))
    zoe = emulator.new_user(first_name="Zoe")
    await zoe.send("/start")
    await emulator.wait_until(
        lambda: sum(d.status == 500 for d in emulator.webhook_deliveries) >= 2, WAIT
    )
    await zoe.assert_no_message(0.2)
    assert len(emulator.pending_updates) == 1  # Telegram still holds it
    async with migrated.begin() as connection:
        await connection.execute(text("ALTER TABLE inbox_away RENAME TO inbox"))
    await zoe.next_message(WAIT)
    statuses = [d.status for d in emulator.webhook_deliveries]
    assert statuses[-1] == 200 and set(statuses[:-1]) <= {500}
    assert emulator.pending_updates == []


async def test_a_redelivered_update_is_handled_once(
    emulator: BotApiEmulator, webhook_bot: tuple[InProcessBot, str]
) -> None:
    emulator.lose_webhook_answers(1)  # the bot's first 200 never reaches Telegram
    ida = emulator.new_user(first_name="Ida")
    await ida.send("/start")
    await ida.next_message(WAIT)
    await emulator.wait_until(lambda: emulator.pending_updates == [], WAIT)
    first, second = emulator.webhook_deliveries
    assert first.update_id == second.update_id
    assert (first.status, first.lost, second.status, second.lost) == (200, True, 200, False)
    await ida.assert_no_message(1.0)
    assert len(ida.messages) == 1


async def test_the_answer_comes_only_after_the_update_is_stored(
    migrated: AsyncEngine, keyring: Keyring
) -> None:
    """The receiver alone: each 200 finds its row already in the inbox; a duplicate is 200
    and not handed on; what is not an update is 400; everything refused is counted."""
    inbox = Inbox(session_factory(migrated), keyring, lambda: datetime.now(UTC))
    handed: list[StoredUpdate] = []
    rows_at_handover: list[bool] = []
    port = free_port()
    url = f"http://127.0.0.1:{port}/hook"
    secret = keyring.webhook_secret()

    def submit(chat: int | None, item: StoredUpdate) -> None:
        handed.append(item)

    receiver = WebhookReceiver(
        inbox, submit, keyring.webhook_secret_matches, listen="127.0.0.1", port=port, path="/hook"
    )
    await receiver.start()
    try:
        for n in range(5):
            body = json.dumps(update(900 + n, 4242, f"/start {n}")).encode()
            assert await post(url, body, secret) == 200
            rows_at_handover.append(900 + n in await inbox_ids(migrated))
        assert rows_at_handover == [True] * 5
        assert [item.update_id for item in handed] == [900, 901, 902, 903, 904]
        assert "Eve" not in json.dumps(handed[0].data)  # stored and handed on without names

        assert await post(url, json.dumps(update(902, 4242)).encode(), secret) == 200
        assert len(handed) == 5  # a duplicate: acknowledged, not handled again

        for bad in (b"", b"not json", b"[1, 2]", b'{"update_id": "7"}', b'{"update_id": true}'):
            assert await post(url, bad, secret) == 400
        assert await post(url, json.dumps(update(950, 4242)).encode(), "wrong") == 403
        assert await post(url, json.dumps(update(951, 4242)).encode(), None) == 403
        assert 950 not in await inbox_ids(migrated)
        counts = receiver.counts
        assert (counts.accepted, counts.duplicates, counts.malformed, counts.rejected) == (
            5,
            1,
            5,
            2,
        )

        async with migrated.begin() as connection:
            await connection.execute(text("ALTER TABLE inbox RENAME TO inbox_away"))
        assert await post(url, json.dumps(update(960, 4242)).encode(), secret) == 500
        assert receiver.counts.failed == 1
        async with migrated.begin() as connection:
            await connection.execute(text("ALTER TABLE inbox_away RENAME TO inbox"))
        # Telegram tries again; a cached statement may need one more go after the rename.
        for _ in range(3):
            status = await post(url, json.dumps(update(960, 4242)).encode(), secret)
            if status == 200:
                break
        assert status == 200
        assert handed[-1].update_id == 960
    finally:
        await receiver.stop()


async def test_confide_run_in_webhook_mode_never_registers_or_polls(
    emulator: BotApiEmulator,
    migrated: AsyncEngine,
    keyring: Keyring,
    tmp_path: Path,
    database_url: str,
) -> None:
    env, url = webhook_env(tmp_path, database_url, emulator, keyring, mode="polling")
    await webhook_set(env)
    health = free_port()
    env = {**env, "CONFIDE_HEALTH_ENABLED": "true", "CONFIDE_HEALTH_PORT": str(health)}
    bot = SubprocessBot(env, tmp_path / "bot.log", args=("run", "--webhook"))
    await bot.start()
    try:
        ned = emulator.new_user(first_name="Ned", username="ned_private")
        await ned.send("/start")
        await ned.next_message(WAIT)
        secret = keyring.webhook_secret()
        near_miss = secret[:-1] + ("Q" if secret[-1] != "Q" else "R")  # one character off
        assert await post(url, json.dumps(update(5, ned.id)).encode(), near_miss) == 403
        async with aiohttp.ClientSession() as http:
            scraped = await (await http.get(f"http://127.0.0.1:{health}/metrics")).text()
        assert "confide_webhook_requests_rejected_total 1.0" in scraped
        await asyncio.sleep(0.3)
    finally:
        assert await bot.stop() == 0
    assert emulator.calls_to("getUpdates") == []
    assert len(emulator.calls_to("setWebhook")) == 1  # `confide webhook set`'s
    log = bot.log
    assert "event=started" in log and "event=webhook_rejected" in log
    for secret in (keyring.webhook_secret(), near_miss, "TEST-TOKEN", str(ned.id), "ned_private"):
        assert secret not in log, f"{secret!r} leaked into the log"


async def test_webhook_commands_without_a_url_say_so_in_one_line(
    emulator: BotApiEmulator,
    migrated: AsyncEngine,
    keyring: Keyring,
    tmp_path: Path,
    database_url: str,
) -> None:
    env = {
        **os.environ,
        **bot_environment(tmp_path, database_url, emulator.base_url, keyring.dump()),
    }
    for args in (("webhook", "set"), ("run", "--webhook")):
        done = await confide(*args, env=env)
        assert done.returncode == 2, done.stderr
        (line,) = done.stderr.splitlines()
        assert line.startswith("confide: webhook mode needs the public HTTPS address"), line
        assert "[webhook] url" in line
    assert emulator.calls_to("setWebhook") == []
    assert emulator.calls_to("getUpdates") == []
