"""What /readyz answers (bot.probes): whether the database answers with this code's schema,
the keys the database uses are loaded, and Telegram answered the last call.

Readiness asks the database and Telegram (getMe) every [health] probe_seconds, so that
it holds the last call's answer even when the bot has nothing to send, and a long poll
hanging on a dead connection is noticed before its timeout. Telegram's answer goes to the
process's one view of it (Connectivity), which the poller, replies and the outbox's
sender report to as well: any failed call turns it "not ready", the next success back.
/readyz itself only reads what was found, so a burst of requests costs nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from telegram import Bot
from telegram.error import InvalidToken, NetworkError, RetryAfter, TelegramError

from bot import metrics
from bot.telegram.connectivity import Connectivity

PROBE_SECONDS = 10.0  # a database or a Telegram slower than this to answer is not ready
NO_DATABASE = "the database does not answer"


class Readiness:
    def __init__(
        self,
        bot: Bot,
        connectivity: Connectivity,
        database: Callable[[], Awaitable[str | None]],
        keys_missing: Callable[[], bool],
    ) -> None:
        self.bot = bot
        self.connectivity = connectivity
        self.database = database  # a problem in a few words, or None
        self.keys_missing = keys_missing
        self._database_problem: str | None = None  # start-up has just checked it

    def problem(self) -> str | None:
        """Why the bot is not ready, in a few fixed words; None when it is."""
        if self._database_problem is not None:
            return self._database_problem
        if self.keys_missing():
            return "a key the database uses is not loaded (see the log)"
        if self.connectivity.down:
            return "Telegram does not answer"
        return None

    async def probe(self) -> None:
        try:
            self._database_problem = await asyncio.wait_for(self.database(), PROBE_SECONDS)
        except TimeoutError:
            self._database_problem = NO_DATABASE
        await self._ask_telegram()

    async def _ask_telegram(self) -> None:
        started = self.connectivity.attempt()
        try:
            await self.bot.get_me(read_timeout=PROBE_SECONDS, connect_timeout=PROBE_SECONDS)
        except RetryAfter:
            metrics.rate_limited()
            self.connectivity.succeeded(started)  # it answered: there, only busy
        except (NetworkError, InvalidToken) as error:  # away, or no longer takes the token
            self.connectivity.failed(error)
        except TelegramError:
            self.connectivity.succeeded(started)  # it answered, if not as hoped
        else:
            self.connectivity.succeeded(started)
