"""Long polling that never loses an update: each batch from getUpdates is stored in the
inbox (bot.services.inbox) before the next call's offset confirms it to Telegram, and what
a previous run stored but did not handle is handled first.

python-telegram-bot's Updater confirms a batch as soon as it has fetched it, so whatever is
in flight when the process is killed would be gone; hence this loop, on PTB's Bot."""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from telegram import Bot
from telegram.error import InvalidToken, RetryAfter, TelegramError
from telegram.warnings import PTBUserWarning

from bot import metrics
from bot.services.inbox import Inbox, StoredUpdate
from bot.telegram.connectivity import Connectivity
from bot.telegram.updates import chat_of, without_names

log = logging.getLogger(__name__)
# The raw updates are needed (to store each before parsing it: one that does not parse must
# not block the rest), so getUpdates goes through do_api_request, which PTB discourages.
warnings.filterwarnings("ignore", message=r".*Bot\.getUpdates.*", category=PTBUserWarning)


async def resume(
    inbox: Inbox,
    submit: Callable[[int | None, StoredUpdate], None],
    older_than: timedelta | None = None,
) -> int:
    """Hand over what was stored before and not handled (in either mode; with `older_than`,
    only what has waited that long); returns how many. Handing over an update that is being
    handled after all is safe: its effect and its "handled" mark are one transaction, so the
    second attempt finds it handled (bot.services.conversation)."""
    pending = await inbox.unhandled(older_than)
    for stored in pending:
        submit(chat_of(stored.data), stored)
    if pending:
        log.info("event=inbox_resumed count=%d", len(pending))
    return len(pending)


class Poller:
    def __init__(
        self,
        bot: Bot,
        inbox: Inbox,
        submit: Callable[[int | None, StoredUpdate], None],
        *,
        timeout: int,
        allowed_updates: list[str],
        connectivity: Connectivity | None = None,
    ) -> None:
        self.bot = bot
        self.inbox = inbox
        self.submit = submit
        self.timeout = timeout
        self.allowed_updates = allowed_updates
        self.offset: int | None = None
        self.connectivity = connectivity or Connectivity()

    async def resume(self) -> int:
        return await resume(self.inbox, self.submit)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            started = self.connectivity.attempt()
            fetch = asyncio.create_task(self._fetch())
            stopping = asyncio.create_task(stop.wait())
            done, _ = await asyncio.wait({fetch, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if fetch not in done:
                fetch.cancel()  # nothing fetched yet: Telegram still holds it
                break
            try:
                updates = fetch.result()
            except InvalidToken:
                raise
            except TelegramError as error:
                if isinstance(error, RetryAfter):
                    metrics.rate_limited()
                await self.connectivity.pause(error, stop)
                continue
            self.connectivity.succeeded(started)
            if updates:
                await self._take(updates)

    async def _fetch(self) -> list[dict[str, Any]]:
        result = await self.bot.do_api_request(
            "getUpdates",
            api_kwargs={
                "offset": self.offset,
                "timeout": self.timeout,
                "allowed_updates": self.allowed_updates,
            },
            read_timeout=self.timeout + 10,
        )
        return list(result) if isinstance(result, list) else []

    async def _take(self, updates: list[dict[str, Any]]) -> None:
        stored = await self.inbox.store([without_names(u) for u in updates])
        # Only now may the next call confirm them (its offset is past them).
        self.offset = max(int(u["update_id"]) for u in updates) + 1
        for item in stored:
            self.submit(chat_of(item.data), item)
