"""The outbox's sender: deliver what the services queued, whatever Telegram's mood.

Runs beside polling. Wakes when something was queued (or every few seconds), leases due
messages, sends each at the time the outbox's pace gave it (Telegram's limits, kept with
every other replica through the database), and marks it sent; on failure it schedules a
retry with back-off, taking Telegram's RetryAfter as the minimum wait and holding back the
chat and the whole bot that long. Blocked users and chats that no longer exist are given
up on (and logged), since retrying cannot help."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from telegram import Bot, BotCommandScopeChat
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)

from bot import metrics
from bot.i18n import DEFAULT
from bot.services.outbox import LEASE, Delivery, Outbox, retry_delay
from bot.telegram.commands import set_chat_commands
from bot.telegram.connectivity import Connectivity
from bot.telegram.render import Renderer

log = logging.getLogger(__name__)
IDLE_POLL_SECONDS = 2.0
MIN_POLL_SECONDS = 0.02


class OutboxSender:
    def __init__(
        self,
        outbox: Outbox,
        bot: Bot,
        renderer: Renderer,
        *,
        retry_base_seconds: float = 2.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        wake: asyncio.Event | None = None,
        connectivity: Connectivity | None = None,
    ) -> None:
        self.outbox = outbox
        self.bot = bot
        self.renderer = renderer
        self.retry_base_seconds = retry_base_seconds
        self.clock = clock
        self.wake = wake or asyncio.Event()  # set by whoever queues a message
        self.connectivity = connectivity or Connectivity()
        self.retry_at: datetime | None = None  # pace clock: when held-back messages may go
        # The pace again, over this sender's actual sends: a send that left late (a slow
        # round trip) must not let the next ones catch up and bunch beyond the burst.
        self._sent_tat: datetime | None = None
        self._chat_tats: dict[object, datetime] = {}

    def poke(self) -> None:
        """Something was queued: send now rather than at the next poll."""
        self.wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            # Cleared before the round, not after: a message queued (or a stop) while the
            # round runs leaves the wake set, so it is not left waiting for the next poll.
            self.wake.clear()
            try:
                sent = await self.send_due(stop)
            except Exception as error:  # the database may be briefly away; keep going
                log.error("event=outbox_round_failed error=%s", type(error).__name__)
                sent = 0
            if sent or stop.is_set():
                continue  # there may be more
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), self._idle_seconds())

    def _idle_seconds(self) -> float:
        """Until the next poll: sooner when a limit holds messages back until a known time."""
        if self.retry_at is None:
            return IDLE_POLL_SECONDS
        wait = (self.retry_at - self.outbox.pace_clock()).total_seconds()
        return min(IDLE_POLL_SECONDS, max(MIN_POLL_SECONDS, wait))

    async def send_due(self, stop: asyncio.Event | None = None) -> int:
        leased_at = self.clock()
        lease = await self.outbox.lease(leased_at)
        self.retry_at = lease.retry_at
        left = list(lease.deliveries)
        try:
            while left:
                if self.clock() - leased_at > LEASE * 0.8 or (stop is not None and stop.is_set()):
                    # The lease is running out, or the process is stopping: what is left goes
                    # back to the queue rather than wait for its lease to run out.
                    break
                await self._wait_for(left[0], stop)
                if stop is not None and stop.is_set():
                    break
                flooded = await self._send(left[0])
                left.pop(0)
                if flooded:
                    # The times the rest were given no longer hold: back to the queue, to be
                    # paced again once Telegram's wait is over.
                    break
        finally:
            # Also when a stop cancels a send in flight: that one may have reached Telegram
            # (sendMessage has no idempotency key), so it may be sent twice, never lost.
            await self.outbox.release(left, self.clock())
        return len(lease.deliveries)

    async def _wait_for(self, delivery: Delivery, stop: asyncio.Event | None) -> None:
        """Until the time the pace gave this message (at most its lookahead away), and no
        sooner after this sender's previous sends than the pace allows."""
        pace = self.outbox.pace
        if delivery.send_at is None or pace is None:
            return
        now = self.outbox.pace_clock()
        chat_tat = self._chat_tats.get(delivery.recipient)
        at = max(
            delivery.send_at,
            pace.bot.earliest(self._sent_tat, now),
            pace.chat.earliest(chat_tat, now),
        )
        self._sent_tat = pace.bot.after(self._sent_tat, at)
        self._chat_tats = {k: t for k, t in self._chat_tats.items() if t > now}
        self._chat_tats[delivery.recipient] = pace.chat.after(chat_tat, at)
        wait = (at - now).total_seconds()
        if wait <= 0:
            return
        if stop is None:
            await asyncio.sleep(wait)
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), wait)

    async def _send(self, delivery: Delivery) -> bool:
        """Send one; True when Telegram said to slow down."""
        notification = delivery.notification
        started = self.connectivity.attempt()
        try:
            if notification.kind == "commands" and notification.params.get("role"):
                await set_chat_commands(
                    self.bot,
                    self.renderer.catalogue,
                    delivery.chat_id,
                    notification.params["role"],
                )
            elif notification.kind == "commands":
                for language in self.renderer.catalogue.languages:
                    await self.bot.delete_my_commands(
                        scope=BotCommandScopeChat(delivery.chat_id),
                        language_code=None if language == DEFAULT else language,
                    )
            else:
                text, keyboard = self.renderer.notification(notification)
                await self.outbox.sending(delivery)
                await self.bot.send_message(
                    delivery.chat_id, text, parse_mode=ParseMode.HTML, reply_markup=keyboard
                )
        except RetryAfter as error:
            metrics.rate_limited()
            wait = error.retry_after
            seconds = float(wait if isinstance(wait, int | float) else wait.total_seconds())
            await self.outbox.hold(delivery, seconds)
            log.warning("event=outbox_flood_wait seconds=%.1f", seconds)
            await self._retry(delivery, "RetryAfter", seconds)
            return True
        except (Forbidden, BadRequest) as error:
            # Blocked by the user, or a chat that is gone: retrying cannot help.
            log.warning(
                "event=outbox_undeliverable id=%s error=%s", delivery.id, type(error).__name__
            )
            await self.outbox.give_up(delivery, type(error).__name__)
        except NetworkError as error:  # network trouble, 5xx, timeouts: an outage, said once
            self.connectivity.failed(error)
            # A timeout may come after Telegram sent the message: the next copy may be a second.
            timed_out = isinstance(error, TimedOut)
            await self._retry(delivery, type(error).__name__, None, maybe_sent=timed_out)
        except TelegramError as error:
            await self._retry(delivery, type(error).__name__, None)
        else:
            self.connectivity.succeeded(started)
            await self.outbox.delivered(delivery)
            log.info("event=outbox_sent id=%s attempts=%d", delivery.id, delivery.attempts)
            if delivery.maybe_sent and notification.kind == "message":
                # No id: the count is what an operator needs (how many people may have seen
                # a message twice), and the line must not say which message it was.
                metrics.current().outbox_sent_again.inc()
                log.warning("event=outbox_sent_again")
        return False

    async def _retry(
        self, delivery: Delivery, error: str, retry_after: float | None, *, maybe_sent: bool = False
    ) -> None:
        delay = retry_delay(delivery.attempts, self.retry_base_seconds, retry_after)
        if await self.outbox.retry_later(
            delivery, self.clock(), delay, error, maybe_sent=maybe_sent
        ):
            log.log(
                logging.DEBUG if self.connectivity.down else logging.INFO,
                "event=outbox_retry id=%s error=%s in=%.1fs",
                delivery.id,
                error,
                delay.total_seconds(),
            )
        else:
            log.error("event=outbox_gave_up id=%s error=%s", delivery.id, error)
