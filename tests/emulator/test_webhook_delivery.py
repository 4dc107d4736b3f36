"""The emulator delivers updates to a webhook as Telegram does: POSTed with the secret header,
one chat's in order, again after a non-2xx answer or no answer, round-robin over extra URLs."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from telegram import Bot
from telegram.error import BadRequest, Conflict

from bot.devserver import BotApiEmulator

TOKEN = "123456:TEST-TOKEN"
SECRET = "s3cret_-TOKEN"


@dataclass
class Hook:
    """A webhook endpoint: records what it gets, answers from a script (then 200)."""

    name: str
    answers: list[int] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)
    secrets: list[str | None] = field(default_factory=list)
    runner: web.AppRunner | None = None
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append(await request.json())
        self.secrets.append(request.headers.get("X-Telegram-Bot-Api-Secret-Token"))
        return web.Response(status=self.answers.pop(0) if self.answers else 200)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}/hook"
        await web.SockSite(self.runner, sock).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    def texts(self) -> list[str]:
        return [u["message"]["text"] for u in self.received if "message" in u]


@pytest_asyncio.fixture
async def hooks() -> AsyncIterator[list[Hook]]:
    made = [Hook("a"), Hook("b")]
    for hook in made:
        await hook.start()
    yield made
    for hook in made:
        await hook.stop()


@pytest_asyncio.fixture
async def emu() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator(token=TOKEN, seed=3) as emulator:
        yield emulator


async def test_updates_are_posted_with_the_secret_in_order_and_getupdates_is_refused(
    emu: BotApiEmulator, hooks: list[Hook]
) -> None:
    hook = hooks[0]
    async with Bot(TOKEN, base_url=emu.base_url) as bot:
        assert await bot.set_webhook(hook.url, secret_token=SECRET, allowed_updates=["message"])
        with pytest.raises(Conflict):
            await bot.get_updates()
    ann, bob = emu.new_user("Ann"), emu.new_user("Bob")
    for n in range(5):
        await ann.send(f"ann {n}")
        await bob.send(f"bob {n}")
    await emu.wait_until(lambda: len(hook.received) == 10, timeout=10)
    assert hook.secrets == [SECRET] * 10
    texts = hook.texts()
    assert [t for t in texts if t.startswith("ann")] == [f"ann {n}" for n in range(5)]
    assert [t for t in texts if t.startswith("bob")] == [f"bob {n}" for n in range(5)]
    assert emu.pending_updates == []
    assert all(d.acknowledged and d.secret_sent for d in emu.webhook_deliveries)


async def test_a_failed_delivery_is_retried_and_holds_back_the_chat_s_next_update(
    emu: BotApiEmulator, hooks: list[Hook]
) -> None:
    hook = hooks[0]
    hook.answers = [500, 403]  # the first update fails twice
    async with Bot(TOKEN, base_url=emu.base_url) as bot:
        await bot.set_webhook(hook.url, secret_token=SECRET)
        ann = emu.new_user("Ann")
        await ann.send("first")
        await ann.send("second")
        await emu.wait_until(lambda: len(emu.pending_updates) == 0, timeout=10)
        assert hook.texts() == ["first", "first", "first", "second"]
        assert [d.status for d in emu.webhook_deliveries] == [500, 403, 200, 200]
        info = await bot.get_webhook_info()
        assert info.last_error_message == "Wrong response from the webhook: 403 Forbidden"

        # Nothing listens: a connection error, retried until something answers.
        await hooks[1].stop()
        await bot.set_webhook(hooks[1].url, secret_token=SECRET)
        await ann.send("third")
        await emu.wait_until(
            lambda: sum(d.status is None for d in emu.webhook_deliveries) >= 2, timeout=10
        )
        assert len(emu.pending_updates) == 1
        await bot.set_webhook(hook.url, secret_token=SECRET)
        await emu.wait_until(lambda: "third" in hook.texts(), timeout=10)


async def test_a_lost_answer_means_the_same_update_again(
    emu: BotApiEmulator, hooks: list[Hook]
) -> None:
    hook = hooks[0]
    async with Bot(TOKEN, base_url=emu.base_url) as bot:
        await bot.set_webhook(hook.url)
    emu.lose_webhook_answers(1)
    await emu.new_user("Ann").send("hello")
    await emu.wait_until(lambda: len(emu.pending_updates) == 0, timeout=10)
    first, second = hook.received
    assert first == second
    assert [d.lost for d in emu.webhook_deliveries] == [True, False]
    assert hook.secrets == [None, None]  # no secret_token given, no header


async def test_deliveries_spread_round_robin_over_extra_urls(hooks: list[Hook]) -> None:
    async with BotApiEmulator(token=TOKEN, webhook_extra_urls=[hooks[1].url]) as emu:
        async with Bot(TOKEN, base_url=emu.base_url) as bot:
            await bot.set_webhook(hooks[0].url, secret_token=SECRET)
        for n in range(6):
            await emu.new_user(f"U{n}").send("hi")
        await emu.wait_until(lambda: len(emu.webhook_deliveries) == 6, timeout=10)
    assert len(hooks[0].received) == len(hooks[1].received) == 3
    assert hooks[1].secrets == [SECRET] * 3


async def test_setwebhook_refuses_a_secret_telegram_would_refuse(emu: BotApiEmulator) -> None:
    async with Bot(TOKEN, base_url=emu.base_url) as bot:
        with pytest.raises(BadRequest, match="unallowed characters"):
            await bot.set_webhook("https://example.org/hook", secret_token="no spaces")
        with pytest.raises(BadRequest, match="max_connections"):
            await bot.set_webhook("https://example.org/hook", max_connections=101)
        assert (await bot.get_webhook_info()).url == ""
