"""Replicas that act as one bot: two `confide run --webhook` processes on one PostgreSQL, the
emulator spreading webhooks over them round-robin (as a load balancer would), while 200
reporters file reports and three responders claim them (/claim) and reply (/reply); one
replica is killed (SIGKILL) in the middle and started again.

At the end every report is filed exactly once, every reply reached its reporter, each
chat's messages came in the order of its conversation, and messages sent twice (possible
only for an outbox message in flight at the kill: sendMessage has no idempotency key) are
no more than the bots counted.

Half the reporters are hasty: they choose the category and send their account at once,
without waiting for the next question. The emulator delivers a chat's next update as soon as
the previous one is stored, so the two often reach different replicas together: only each
chat's turn across replicas (bot.services.inbox) makes the account the answer to the second
question, as the reporter meant.

A person whose answer got no reply (the replica was killed after storing its effect, before
sending the reply) does what a person does: asks for /help, which shows where they are."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import socket
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from databases import POSTGRES_URL
from harness import SubprocessBot, bot_environment, enrol
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from talk import CASE, RECEIPT
from telegram import Bot

from bot.crypto import Keyring
from bot.devserver import BotApiEmulator, BotMessage, ChatView, UserClient
from bot.store.models import Case, InboxUpdate
from bot.telegram.app import ALLOWED_UPDATES

pytestmark = pytest.mark.skipif(
    not POSTGRES_URL,
    reason="replicas share one PostgreSQL (SQLite serves one process): "
    "set CONFIDE_TEST_DATABASE_URL",
)

REPORTERS = 200
REPLICAS = 2
RESPONDERS = ("Ann", "Ben", "Cai")  # each takes the cases whose id ends in their share
KILL_AFTER = REPORTERS // 2  # receipts seen when a replica is killed
PATIENCE = 20.0  # seconds without the reply a step expects before a person asks for /help
GIVE_UP = 120.0  # a step that never gets its reply fails the test (a loaded machine is slow)
QUESTIONNAIRE = """version = 1

[[questions]]
id = "category"
kind = "single"
required = true
text = { en = "What happened?", zh = "发生了什么？" }
short = { en = "What happened", zh = "事件类型" }

[[questions.choices]]
id = "verbal"
label = { en = "Verbal harassment", zh = "言语骚扰" }

[[questions.choices]]
id = "other"
label = { en = "Something else", zh = "其他" }

[[questions]]
id = "account"
kind = "text"
required = true
text = { en = "In your own words, what happened?", zh = "请用您自己的话，说说发生了什么。" }
short = { en = "Your account", zh = "事情经过" }
"""
# Where a reporter's conversation is, by what the bot said (None: no step of its own).
STAGES = (
    ("Question 1/", 1),
    ("Question 2/", 2),
    ("Please check your report", 3),
    ("Your receipt code", 4),  # the receipt, or the receipt again
)
RELAYED = "A responder wrote about your case"


@dataclass
class Tally:
    receipts: int = 0
    nudges: int = 0
    killed: asyncio.Event = field(default_factory=asyncio.Event)
    half_way: asyncio.Event = field(default_factory=asyncio.Event)


def share(k: int) -> Callable[[str], bool]:
    """Responder k's cases: those whose id ends in a character that falls to k."""
    return lambda case: int(case[-1], 36) % len(RESPONDERS) == k


def says(*marks: str) -> Callable[[BotMessage], bool]:
    return lambda message: any(mark in message.text for mark in marks)


def stage(text: str) -> int | None:
    return next((number for mark, number in STAGES if mark in text), None)


async def exchange(
    user: UserClient,
    act: Callable[[], Awaitable[object]],
    wanted: Callable[[BotMessage], bool],
    nudge: Callable[[], Awaitable[object]],
    tally: Tally,
) -> BotMessage:
    """Do `act` and wait, like a person, for the bot's message that `wanted` recognises;
    without it for a while, `nudge` (once) and wait again."""
    await act()
    loop = asyncio.get_running_loop()
    nudge_at, give_up_at = loop.time() + PATIENCE, loop.time() + GIVE_UP
    nudged = False
    while True:
        wait = (give_up_at if nudged else nudge_at) - loop.time()
        try:
            message = await user.next_message(max(0.01, wait))
        except AssertionError:
            if nudged:
                raise
            nudged = True
            tally.nudges += 1
            await nudge()
            continue
        if wanted(message):
            return message


async def report(user: UserClient, number: int, tally: Tally) -> str:
    """One reporter's report; returns its case id."""
    account = f"Report {number}: my lead shouts at me in front of clients."
    hasty = number % 2 == 0

    async def help_() -> None:
        await user.send("/help")

    await asyncio.sleep(number % 50 * 0.04)  # people do not all start in the same instant
    menu = await exchange(
        user,
        lambda: user.send("/start"),
        lambda m: "Make a report" in " ".join(m.button_texts),
        lambda: user.send("/start"),
        tally,
    )
    first = await exchange(
        user, lambda: user.click("Make a report", message=menu), says("Question 1/"), help_, tally
    )
    if hasty:

        async def both() -> None:
            await user.click("Verbal harassment", message=first)
            await user.send(account)

        review = await exchange(user, both, says("Please check your report"), help_, tally)
    else:
        second = await exchange(
            user,
            lambda: user.click("Verbal harassment", message=first),
            says("Question 2/"),
            help_,
            tally,
        )
        assert "In your own words" in second.text
        review = await exchange(
            user, lambda: user.send(account), says("Please check your report"), help_, tally
        )
    assert account in review.text, user.transcript()  # the account answered question 2
    receipt = await exchange(
        user,
        lambda: user.click("Send report", message=review),
        lambda m: RECEIPT.search(m.text) is not None,
        help_,
        tally,
    )
    found = CASE.search(receipt.text)
    assert found, receipt.text
    case = str(found.group())
    tally.receipts += 1
    if tally.receipts >= KILL_AFTER:
        tally.half_way.set()
    # The responder's reply, relayed (it may have come while the reporter was busy).
    give_up_at = asyncio.get_running_loop().time() + GIVE_UP
    while not any(RELAYED in m.text and case in m.text for m in user.messages):
        left = give_up_at - asyncio.get_running_loop().time()
        assert left > 0, f"no reply relayed to {case}:\n{user.transcript()}"
        await user.wait_for_change(left)
    return case


async def respond(
    emulator: BotApiEmulator,
    responder: UserClient,
    mine: Callable[[str], bool],
    done: set[str],
    tally: Tally,
) -> None:
    """Claim and answer, one at a time, each case alerted that is this responder's share.
    Alerts are read on a view of the chat of their own: the replies to the responder's
    commands come in between."""
    alerts = ChatView(emulator, responder.chat_id)
    alerts.skip_pending()
    while True:
        alert = await alerts.next_message(GIVE_UP * 2)
        found = CASE.search(alert.text) if "New case" in alert.text else None
        if found is None or found.group() in done or not mine(found.group()):
            continue
        case_id = found.group()
        claim = partial(responder.send, f"/claim {case_id}")
        claimed = says(f"claimed case {case_id}", f"{case_id} is already yours")
        await exchange(responder, claim, claimed, claim, tally)
        reply = partial(responder.send, f"/reply {case_id} This is the reply to case {case_id}.")
        relayed = says(f"relayed to the reporter of case {case_id}", f"reply to case {case_id}")
        await exchange(
            responder, reply, relayed, partial(responder.send, f"/open {case_id}"), tally
        )
        done.add(case_id)


async def scrape(port: int) -> float:
    """The bot's count of messages sent again after a send that may have reached Telegram."""
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/metrics") as r:
        text = await r.text()
    found = re.search(r"^confide_outbox_sent_again_total (\S+)$", text, re.MULTILINE)
    assert found, text
    return float(found.group(1))


def free_ports(count: int) -> list[int]:
    """Ports free now, all different (each held until all are found)."""
    with contextlib.ExitStack() as held:
        sockets = [held.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]


def replica_env(
    tmp_path: Path,
    ports: tuple[int, int],
    index: int,
    database_url: str,
    emulator: BotApiEmulator,
    keyring: Keyring,
) -> tuple[dict[str, str], str, int]:
    port, health = ports
    url = f"http://127.0.0.1:{port}/telegram"
    questionnaire = tmp_path / "questionnaire.toml"
    questionnaire.write_text(QUESTIONNAIRE, encoding="utf-8")
    config = tmp_path / f"replica-{index}.toml"
    config.write_text(
        f"""[telegram]
mode = "webhook"
concurrent_updates = 8
take_over_seconds = 15
[webhook]
url = "{url}"
port = {port}
[intake]
questionnaire = "{questionnaire}"
exclusion = "off"
[service_levels]
scan_seconds = 5
[outbox]
retry_seconds = 0.2
messages_per_second = 1000
burst = 100
chat_messages_per_second = 1000
chat_burst = 100
""",
        encoding="utf-8",
    )
    env = bot_environment(
        tmp_path,
        database_url,
        emulator.base_url,
        keyring.dump(),
        CONFIDE_CONFIG=str(config),
        CONFIDE_HEALTH_ENABLED="true",
        CONFIDE_HEALTH_PORT=str(health),
    )
    return {**os.environ, **env}, url, health


async def test_replicas_killed_and_restarted_act_as_one_bot(
    emulator: BotApiEmulator,
    migrated: AsyncEngine,
    keyring: Keyring,
    tmp_path: Path,
    database_url: str,
) -> None:
    started = time.monotonic()
    replicas, urls, health = [], [], []
    ports = free_ports(2 * REPLICAS)
    for index in range(REPLICAS):
        pair = (ports[2 * index], ports[2 * index + 1])
        env, url, port = replica_env(tmp_path, pair, index, database_url, emulator, keyring)
        replicas.append(SubprocessBot(env, tmp_path / f"replica-{index}.log", ("run",)))
        urls.append(url)
        health.append(port)
    async with Bot("123456:TEST-TOKEN", base_url=emulator.base_url) as bot:
        # What `confide webhook set` does; the other replicas stand behind the same name.
        await bot.set_webhook(
            urls[0], secret_token=keyring.webhook_secret(), allowed_updates=ALLOWED_UPDATES
        )
    emulator.webhook_extra_urls.extend(urls[1:])
    await asyncio.gather(*(replica.start() for replica in replicas))
    tally = Tally()
    try:
        responders = [await enrol(emulator, migrated, keyring, name) for name in RESPONDERS]
        for responder in responders:
            responder.skip_pending()
        reporters = [
            emulator.new_user(first_name=f"R{n}", language_code="en") for n in range(REPORTERS)
        ]
        answered: set[str] = set()
        working = [
            asyncio.create_task(respond(emulator, responder, share(k), answered, tally))
            for k, responder in enumerate(responders)
        ]

        async def kill_and_restart() -> None:
            await tally.half_way.wait()
            await replicas[1].kill()
            tally.killed.set()
            await asyncio.sleep(1.0)
            replicas[1].log_path = tmp_path / "replica-1-again.log"
            await replicas[1].start()

        chaos = asyncio.create_task(kill_and_restart())

        # Each reporter's part ends with the responder's reply, relayed to them (a reply
        # leased by the killed replica goes out once its lease runs out).
        filing = asyncio.gather(*(report(user, n, tally) for n, user in enumerate(reporters)))
        watched: list[asyncio.Future[Any]] = [filing, *working]
        await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
        for task in working:
            if task.done():
                task.result()  # a responder who failed says why
        cases = await filing
        await asyncio.wait_for(chaos, GIVE_UP)
        assert tally.killed.is_set()
        await asyncio.sleep(1.0)  # anything still on its way (a second copy) arrives
        sent_again = sum([await scrape(port) for port in health])
        for task in working:
            task.cancel()
        await asyncio.gather(*working, return_exceptions=True)
    finally:
        for replica in replicas:
            await replica.stop()
    elapsed = time.monotonic() - started

    # Every report filed exactly once.
    assert len(set(cases)) == REPORTERS
    async with migrated.connect() as connection:
        assert await connection.scalar(select(func.count()).select_from(Case)) == REPORTERS
        pending = select(func.count()).select_from(InboxUpdate)
        assert await connection.scalar(pending.where(InboxUpdate.payload.is_not(None))) == 0
    assert answered == set(cases)

    # Messages shown twice: only outbox messages may be, and no more than the bots counted.
    sends = [(int(str(c["chat_id"])), str(c.get("text", ""))) for c in _send_messages(emulator)]
    copies = Counter(s for s in sends if "New case" in s[1] or RELAYED in s[1])
    twice = sum(n - 1 for n in copies.values())
    assert twice <= sent_again, (twice, sent_again)

    # Each reporter's conversation in order: its steps never go back, and the reply came
    # after the receipt.
    for user in reporters:
        said = [text for chat, text in sends if chat == user.id]
        steps = [s for s in map(stage, said) if s is not None]
        assert steps == sorted(steps), user.transcript()
        assert {1, 3, 4} <= set(steps), user.transcript()
        first_receipt = next(i for i, t in enumerate(said) if stage(t) == 4)
        relayed = [i for i, t in enumerate(said) if RELAYED in t]
        assert relayed and relayed[0] > first_receipt, user.transcript()

    for log in tmp_path.glob("replica-*.log"):
        assert "Traceback" not in log.read_text(encoding="utf-8"), log
    print(
        f"\n{REPORTERS} reports through {REPLICAS} replicas, one killed: {elapsed:.1f} s; "
        f"asked for /help after a lost reply: {tally.nudges}; "
        f"shown twice: {twice}; counted by the bots: {sent_again:.0f}"
    )


def _send_messages(emulator: BotApiEmulator) -> list[dict[str, object]]:
    return [call for call in emulator.calls_to("sendMessage") if "chat_id" in call]
