"""Webhook delivery, as Telegram does it: while a webhook is set, each update is POSTed to its
URL as JSON with the secret header, and is forgotten only when the answer is a 2xx; any other
answer, or no answer, and it is delivered again after a back-off. One chat's updates go one
at a time, in order (a later one waits until the earlier one is acknowledged); different
chats' go in parallel, up to the webhook's max_connections.

For tests of replicas, deliveries can be spread round-robin over extra URLs
(`BotApiEmulator(webhook_extra_urls=[...])`), as a load balancer in front of several bots
would (a delivery that failed at one URL goes to another next time); and
`lose_webhook_answers(n)` makes the next n acknowledgements get lost on the way back (the
bot handled the request, Telegram never heard), so the update comes again."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Hashable
from dataclasses import dataclass

import aiohttp

from .api import BotApi
from .models import JSON

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
MAX_BACKOFF_SECONDS = 1.0  # short: the emulator serves tests, not a week-long outage


@dataclass(frozen=True)
class WebhookDelivery:
    """One POST of an update: where, what came back (None: no answer), and whether that
    answer was lost on purpose (`lose_webhook_answers`)."""

    update_id: int
    url: str
    status: int | None
    secret_sent: bool
    lost: bool = False

    @property
    def acknowledged(self) -> bool:
        return self.status is not None and 200 <= self.status < 300 and not self.lost


class WebhookDeliverer:
    def __init__(
        self,
        api: BotApi,
        extra_urls: list[str],
        *,
        retry_seconds: float,
        timeout_seconds: float,
    ) -> None:
        self.api = api
        self.extra_urls = extra_urls  # the caller's list: it may add URLs later
        self.retry_seconds = retry_seconds
        self.timeout_seconds = timeout_seconds
        self.deliveries: list[WebhookDelivery] = []
        self.lose_answers = 0
        self._in_flight: set[int] = set()
        self._failures: dict[int, int] = {}  # update id -> failed attempts so far
        self._failed_at: dict[int, str] = {}  # update id -> the URL its last attempt failed at
        self._retry_at: dict[int, float] = {}
        self._turn = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None
        self._loop_task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._session = aiohttp.ClientSession()
        self._loop_task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        for task in [self._loop_task, *self._tasks]:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._loop_task = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self.api.webhook_wake.clear()
            now = loop.time()
            self._start_ready(now)
            # Sleep until the next retry falls due; anything else (a new update, a delivery
            # finished, the webhook set) sets the wake event.
            waits = [at - now for at in self._retry_at.values() if at > now]
            timeout = min(waits) if waits and self.api.webhook is not None else None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.api.webhook_wake.wait(), timeout)

    def _start_ready(self, now: float) -> None:
        hook = self.api.webhook
        if hook is None:
            return
        limit = int(hook.get("max_connections") or 40)
        pending = self.api.pending_updates
        known = {int(u["update_id"]) for u in pending}
        self._retry_at = {i: at for i, at in self._retry_at.items() if i in known}
        waiting_chats: set[Hashable] = set()  # chats with an earlier update not yet confirmed
        for update in pending:
            update_id = int(update["update_id"])
            chat = chat_key(update)
            blocked = chat is not None and chat in waiting_chats
            if chat is not None:
                waiting_chats.add(chat)
            if blocked or update_id in self._in_flight or self._retry_at.get(update_id, 0) > now:
                continue
            if len(self._in_flight) >= limit:
                return
            self._retry_at.pop(update_id, None)
            self._in_flight.add(update_id)
            urls = [str(hook["url"]), *self.extra_urls]
            url = urls[self._turn % len(urls)]
            self._turn += 1
            if url == self._failed_at.get(update_id) and len(urls) > 1:
                # As a load balancer does: what failed at one bot is tried at the next.
                url = urls[self._turn % len(urls)]
                self._turn += 1
            secret = hook.get("secret_token") or None
            task = asyncio.create_task(self._deliver(update, url, secret))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _deliver(self, update: JSON, url: str, secret: str | None) -> None:
        assert self._session is not None
        update_id = int(update["update_id"])
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers[SECRET_HEADER] = str(secret)
        status: int | None = None
        problem = "Connection refused"
        try:
            async with self._session.post(
                url,
                data=json.dumps(update),
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.timeout_seconds),
            ) as response:
                status = response.status
                problem = f"Wrong response from the webhook: {status} {response.reason}"
        except TimeoutError:
            problem = "Read timeout expired"
        except aiohttp.ClientError:
            pass
        lost = status is not None and 200 <= status < 300 and self.lose_answers > 0
        if lost:
            self.lose_answers -= 1
            problem = "Connection reset by peer"
        delivery = WebhookDelivery(update_id, url, status, secret is not None, lost)
        self.deliveries.append(delivery)
        self._in_flight.discard(update_id)
        if delivery.acknowledged:
            self._failures.pop(update_id, None)
            self._failed_at.pop(update_id, None)
            self.api.confirm_update(update_id)
        else:
            failed = self._failures.get(update_id, 0) + 1
            self._failures[update_id] = failed
            self._failed_at[update_id] = url
            delay = min(MAX_BACKOFF_SECONDS, self.retry_seconds * 2 ** (failed - 1))
            self._retry_at[update_id] = asyncio.get_running_loop().time() + delay
            self.api.webhook_last_error = (self.api.now(), problem)
        self.api.webhook_wake.set()
        self.api.notify()


def chat_key(update: JSON) -> Hashable | None:
    """The chat whose order an update is part of (None: it is in no chat's order)."""
    for kind, body in update.items():
        if not isinstance(body, dict):
            continue
        message = body.get("message") if kind == "callback_query" else body
        chat = message.get("chat") if isinstance(message, dict) else None
        if isinstance(chat, dict) and "id" in chat:
            chat_id: Hashable = chat["id"]
            return chat_id
        sender = body.get("from")
        if isinstance(sender, dict) and "id" in sender:
            return ("user", sender["id"])
    return None
