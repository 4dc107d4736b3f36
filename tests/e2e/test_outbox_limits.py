"""Telegram's limits: the outbox keeps about 30 messages a second per bot and one a second
per chat (with bursts), honours "retry after", sends urgent alerts first, and several
senders on one database keep the limits together. Measured at the emulator, which plays
Telegram's flood control and answers 429 beyond it."""

from __future__ import annotations

import asyncio
import math
import re
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

from harness import TOKEN, InProcessBot, bot_environment
from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import Bot

from bot.cases.pace import Pace, Rate
from bot.crypto import Keyring
from bot.devserver import BotApiEmulator, RateLimits, Send, UserClient
from bot.i18n import catalogue
from bot.intake.questionnaire import load_questionnaire
from bot.services import people
from bot.services.outbox import URGENT, Delivery, Notification, Outbox, to_responder
from bot.store.database import create_engine, session_factory
from bot.telegram.render import Renderer
from bot.telegram.sender import OutboxSender

WAIT = 60.0
RATE, BURST, CHAT_RATE, CHAT_BURST = 10.0, 3, 1.0, 2
CONFIG = f"""[telegram]
poll_timeout = 1
[outbox]
retry_seconds = 0.1
messages_per_second = {RATE}
burst = {BURST}
chat_messages_per_second = {CHAT_RATE}
chat_burst = {CHAT_BURST}
"""
# What reaches the emulator may be closer together than the bot sent it (a slow first
# connection, two processes' scheduling on a loaded machine), and its count starts at the
# first arrival, not at the bot's clock. So it allows, beyond the bot's bursts, what the bot
# sends in half a second of such noise (0.2 s, two messages, was exceeded in 2 runs of 10
# on a loaded 2-core machine: a refusal the bot then waited out, nothing lost). A bot that
# did not pace would still be refused at once: the tests send 30 to 60 messages.
NOISE_SECONDS = 0.5
TELEGRAM = RateLimits(
    RATE,
    BURST + math.ceil(RATE * NOISE_SECONDS),
    CHAT_RATE,
    CHAT_BURST + math.ceil(CHAT_RATE * NOISE_SECONDS),
)
SLACK = 0.1  # seconds of such jitter tolerated when measuring
# Bot-wide, measured with one message more than the burst: the first send of a new sender
# (its first rendering, a new connection) may arrive late and the next ones on time.
JITTER = 1


def alerts(user: UserClient) -> list[str]:
    return [m.text for m in user.messages if re.search(r"case C-", m.text)]


async def queue(
    engine: AsyncEngine,
    keyring: Keyring,
    users: list[UserClient],
    tag: str,
    *,
    each: int = 1,
    priority: int = 0,
) -> None:
    """`each` new-case alerts (or urgent ones) for each user, enrolled if they were not."""
    now = datetime.now(UTC)
    key = "alert_urgent_case" if priority else "alert_new_case"
    async with session_factory(engine).begin() as session:
        for n, user in enumerate(users):
            person = await people.enrolled(session, keyring, user.chat_id)
            if person is None:
                person = people.new_responder(
                    keyring, user.chat_id, f"R{n}", "responder", "en", now
                )
                session.add(person)
                await session.flush()
            for k in range(each):
                notification = Notification(key, "en", {"case": f"C-{tag}{n}x{k}"})
                to_responder(session, keyring, person, notification, now, priority=priority)


def delivered(emulator: BotApiEmulator) -> list[Send]:
    return [s for s in emulator.sends if s.status == 200]


def assert_paced(times: list[float], rate: float, burst: int) -> None:
    """However the sends are taken, the j-th after the i-th waited for all but the burst:
    no span of W seconds holds more than burst + W * rate of them."""
    times = sorted(times)
    for i, earlier in enumerate(times):
        for j in range(i + burst, len(times)):
            owed = (j - i - (burst - 1)) / rate
            assert times[j] - earlier >= owed - SLACK, (i, j, times[j] - earlier, owed)


def timeline(emulator: BotApiEmulator) -> str:
    """The sends as Telegram saw them, for a failing assertion: seconds from the first."""
    first = emulator.sends[0].at if emulator.sends else 0.0
    return " ".join(f"{s.at - first:.3f}:{s.status}" for s in emulator.sends)


def assert_once_each(users: list[UserClient], each: int) -> None:
    for user in users:
        texts = alerts(user)
        assert len(texts) == each and len(set(texts)) == each, texts


async def test_a_burst_of_alerts_is_all_delivered_within_telegrams_limits(
    emulator: BotApiEmulator, migrated: AsyncEngine, keyring: Keyring, tmp_path: Path,
    database_url: str,
) -> None:  # fmt: skip
    emulator.limit_rates(TELEGRAM)
    users = [emulator.new_user(first_name=f"R{i}", started=True) for i in range(20)]
    await queue(migrated, keyring, users, "A", each=3)  # 60 alerts, 3 to each chat
    (tmp_path / "config.toml").write_text(CONFIG, encoding="utf-8")
    bot = InProcessBot(bot_environment(tmp_path, database_url, emulator.base_url, keyring.dump()))
    await bot.start()
    try:
        await emulator.wait_until(lambda: all(len(alerts(u)) >= 3 for u in users), timeout=WAIT)
        await asyncio.sleep(0.5)  # anything extra would show up now
    finally:
        await bot.stop()
    assert_once_each(users, 3)
    assert emulator.rate_refused == 0, timeline(emulator)
    sends = delivered(emulator)
    assert len(sends) == 60
    assert_paced([s.at for s in sends], RATE, BURST + JITTER)
    by_chat: dict[object, list[float]] = defaultdict(list)
    for send in sends:
        by_chat[send.chat_id].append(send.at)
    for times in by_chat.values():
        assert_paced(times, CHAT_RATE, CHAT_BURST)


async def test_retry_after_holds_every_send_that_long_and_nothing_is_lost(
    emulator: BotApiEmulator, migrated: AsyncEngine, keyring: Keyring, tmp_path: Path,
    database_url: str,
) -> None:  # fmt: skip
    users = [emulator.new_user(first_name=f"R{i}", started=True) for i in range(8)]
    await queue(migrated, keyring, users, "B")
    emulator.fail("sendMessage", retry_after=2, times=1)  # the very first send
    (tmp_path / "config.toml").write_text(CONFIG, encoding="utf-8")
    bot = InProcessBot(bot_environment(tmp_path, database_url, emulator.base_url, keyring.dump()))
    await bot.start()
    try:
        await emulator.wait_until(lambda: all(alerts(u) for u in users), timeout=WAIT)
        await asyncio.sleep(0.5)
    finally:
        await bot.stop()
    assert_once_each(users, 1)
    (refused,) = [s for s in emulator.sends if s.status == 429]
    after = [s.at for s in delivered(emulator)]
    assert len(after) == 8
    assert min(after) >= refused.at + 2 - 0.05  # nobody, not even other chats, before


async def test_urgent_alerts_overtake_a_paced_backlog(
    emulator: BotApiEmulator, migrated: AsyncEngine, keyring: Keyring, tmp_path: Path,
    database_url: str,
) -> None:  # fmt: skip
    emulator.limit_rates(TELEGRAM)
    normal = [emulator.new_user(first_name=f"N{i}", started=True) for i in range(30)]
    urgent = [emulator.new_user(first_name=f"U{i}", started=True) for i in range(3)]
    await queue(migrated, keyring, normal, "N")  # three seconds' worth at 10 a second
    (tmp_path / "config.toml").write_text(CONFIG, encoding="utf-8")
    bot = InProcessBot(bot_environment(tmp_path, database_url, emulator.base_url, keyring.dump()))
    await bot.start()
    try:
        await emulator.wait_until(lambda: len(delivered(emulator)) >= 5, timeout=WAIT)
        queued_after = len(delivered(emulator))
        await queue(migrated, keyring, urgent, "U", priority=URGENT)
        everyone = normal + urgent
        await emulator.wait_until(lambda: all(alerts(u) for u in everyone), timeout=WAIT)
        await asyncio.sleep(0.5)
    finally:
        await bot.stop()
    assert_once_each(normal + urgent, 1)
    order = [s.chat_id for s in delivered(emulator)]
    urgent_at = [order.index(u.chat_id) for u in urgent]
    # At most what was already planned (a lease looks one second ahead) goes before them,
    # not the rest of the backlog.
    assert max(urgent_at) < queued_after + RATE + BURST + len(urgent), (queued_after, urgent_at)
    assert max(urgent_at) < len(order) - 10
    assert emulator.rate_refused == 0, timeline(emulator)


class Counting(Outbox):
    """An outbox that counts what it delivered, to tell two senders apart, and keeps the
    time its lease planned for each (the pace clock's, which the shared budget governs)."""

    delivered_here = 0

    async def delivered(self, delivery: Delivery) -> None:
        await super().delivered(delivery)
        self.delivered_here += 1
        assert delivery.send_at is not None  # paced: every lease plans a time
        planned.append(delivery.send_at.timestamp())


planned: list[float] = []


async def test_two_senders_on_one_database_keep_the_bots_limit_together(
    emulator: BotApiEmulator, migrated: AsyncEngine, keyring: Keyring, database_url: str
) -> None:
    """Two replicas: two engines (two pools of connections), two senders, one database.
    Each alone may send at the bot's rate; together they still do, not twice that. (On
    SQLite, too: both take SQLite's one write lock in turn.)"""
    emulator.limit_rates(TELEGRAM)
    users = [emulator.new_user(first_name=f"R{i}", started=True) for i in range(50)]
    await queue(migrated, keyring, users, "C")  # one each: the bot's limit alone counts
    pace = Pace(Rate(RATE, BURST), Rate(CHAT_RATE, CHAT_BURST))
    renderer = Renderer(catalogue(), load_questionnaire(), "confide_test_bot")
    engines = [create_engine(database_url) for _ in range(2)]
    outboxes = [Counting(session_factory(e), keyring, pace=pace) for e in engines]
    planned.clear()
    stop = asyncio.Event()
    try:
        async with Bot(TOKEN, base_url=emulator.base_url) as bot:
            senders = [OutboxSender(o, bot, renderer, retry_base_seconds=0.1) for o in outboxes]
            tasks = [asyncio.create_task(s.run(stop)) for s in senders]
            await emulator.wait_until(lambda: all(alerts(u) for u in users), timeout=WAIT)
            await asyncio.sleep(0.5)
            stop.set()
            for sender in senders:
                sender.poke()
            await asyncio.wait_for(asyncio.gather(*tasks), 15)
    finally:
        stop.set()
        for engine in engines:
            await engine.dispose()
    assert_once_each(users, 1)
    # Both took part (on SQLite, whoever waits for the write lock is often outrun).
    assert all(o.delivered_here > 0 for o in outboxes), [o.delivered_here for o in outboxes]
    assert emulator.rate_refused == 0, timeline(emulator)
    # The two senders' plans together keep the bot's budget exactly: the database holds
    # it. (Arrival times at the emulator, on this test's own loaded event loop, can bunch
    # sends the senders spaced: its limits above allow for that, this does not need to.)
    assert len(planned) == len(users)
    assert_paced(planned, RATE, BURST)
