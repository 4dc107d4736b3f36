"""Nothing a person must receive is lost when Telegram fails, and nothing arrives twice."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from harness import TOKEN, InProcessBot, bot_environment, enrol
from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import Bot

from bot.crypto import Keyring
from bot.devserver import BotApiEmulator, UserClient
from bot.i18n import catalogue
from bot.intake.questionnaire import load_questionnaire
from bot.services import people
from bot.services.outbox import Notification, Outbox, to_responder
from bot.store.database import session_factory
from bot.telegram.render import Renderer
from bot.telegram.sender import OutboxSender

WAIT = 30.0


def received(user: UserClient, pattern: str) -> list[str]:
    return [m.text for m in user.messages if re.search(pattern, m.text)]


async def queue(engine: AsyncEngine, keyring: Keyring, users: list[UserClient], tag: str) -> None:
    """A new-case alert for each user, enrolled as a responder if they were not yet."""
    now = datetime.now(UTC)
    async with session_factory(engine).begin() as session:
        for n, user in enumerate(users):
            person = await people.enrolled(session, keyring, user.chat_id)
            if person is None:
                person = people.new_responder(
                    keyring, user.chat_id, f"R{n}", "responder", "en", now
                )
                session.add(person)
                await session.flush()
            to_responder(
                session,
                keyring,
                person,
                Notification("alert_new_case", "en", {"case": f"C-{tag}{n}"}),
                now,
            )


async def run_sender_until(sender: OutboxSender, done: Callable[[], bool], within: float) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(sender.run(stop))
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while not done():
            assert loop.time() < deadline, "outbox not delivered in time"
            sender.poke()
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        sender.poke()
        await asyncio.wait_for(task, 10)


@pytest.mark.usefixtures("migrated")
async def test_every_message_is_delivered_once_through_500s_429s_and_dropped_connections(
    emulator: BotApiEmulator, engine: AsyncEngine, keyring: Keyring
) -> None:
    users = [emulator.new_user(first_name=f"R{i}", started=True) for i in range(6)]
    await queue(engine, keyring, users, "A")
    emulator.fail("sendMessage", status=500, times=3)
    emulator.fail("sendMessage", retry_after=1, times=1)
    emulator.fail("sendMessage", drop_connection=True, times=2)
    async with Bot(TOKEN, base_url=emulator.base_url) as bot:
        renderer = Renderer(catalogue(), load_questionnaire(), "confide_test_bot")
        outbox = Outbox(session_factory(engine), keyring)
        sender = OutboxSender(outbox, bot, renderer, retry_base_seconds=0.05)
        await run_sender_until(sender, lambda: all(received(u, "New case") for u in users), WAIT)
        assert emulator.failures_served == 6
        for n, user in enumerate(users):
            assert received(user, "New case") == [f"📥 New case C-A{n}. Claim it to take it on."]
        assert await outbox.pending() == 0

        # A sender that stops while Telegram is down; the next one (a restart) finishes the job.
        await queue(engine, keyring, users[:3], "B")
        emulator.fail("sendMessage", status=502, times=1000)
        first = OutboxSender(outbox, bot, renderer, retry_base_seconds=0.05)
        await run_sender_until(first, lambda: emulator.failures_served >= 12, WAIT)
        assert await outbox.pending() == 3
        emulator.clear_failures()
        second = OutboxSender(
            Outbox(session_factory(engine), keyring), bot, renderer, retry_base_seconds=0.05
        )
        await run_sender_until(second, lambda: all(received(u, "C-B") for u in users[:3]), WAIT)
        await asyncio.sleep(0.3)  # anything extra would show up now
        for user in users[:3]:
            assert len(received(user, "C-B")) == 1
        assert await outbox.pending() == 0


async def test_alerts_survive_telegram_outage_and_a_bot_restart(
    emulator: BotApiEmulator,
    migrated: AsyncEngine,
    keyring: Keyring,
    tmp_path: Path,
    database_url: str,
) -> None:
    engine = migrated

    env = bot_environment(tmp_path, database_url, emulator.base_url, keyring.dump())
    (tmp_path / "config.toml").write_text(
        "[telegram]\npoll_timeout = 1\n[outbox]\nretry_seconds = 0.1\n", encoding="utf-8"
    )
    bot = InProcessBot(env)
    await bot.start()
    people = [await enrol(emulator, engine, keyring, name) for name in ("Kim", "Lou")]

    # Telegram fails every sendMessage for a while; the reporter's own replies are retried
    # in place, the alerts wait in the outbox. Then the bot is restarted mid-outage.
    reporter = emulator.new_user(first_name="Mo", language_code="en")
    await reporter.send("/start")
    await reporter.next_message(WAIT)
    await reporter.click("Make a report")
    await reporter.next_message(WAIT)
    emulator.fail("sendMessage", status=500, times=2)
    await reporter.click("Verbal harassment")
    await reporter.next_message(WAIT)
    shown = reporter.last_message
    while shown is not None and "Please check your report" not in shown.text:
        await reporter.click("Skip")
        shown = await reporter.next_message(WAIT)
    emulator.fail("sendMessage", status=503, times=10_000, description="Service Unavailable")
    await reporter.click("Send report")
    await emulator.wait_until(lambda: emulator.failures_served > 6, timeout=WAIT)
    await bot.stop()
    emulator.clear_failures()
    await bot.start()
    await emulator.wait_until(lambda: all(received(p, "New case") for p in people), timeout=WAIT)
    await asyncio.sleep(0.5)
    for person in people:
        assert len(received(person, "New case")) == 1
    await bot.stop()
