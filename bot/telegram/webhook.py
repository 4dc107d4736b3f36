"""Webhook mode: Telegram posts each update to us. An update is answered 200 only once it is
stored in the durable inbox (bot.services.inbox): Telegram forgets an update it got a 200
for, so that 200 is this mode's equivalent of the poller's next offset. Then it is handed to
the dispatcher. A duplicate (the id is in the inbox) is answered 200 and dropped; a request
without our secret is refused (403); a body that is not an update is refused (400); a
failure to store answers 500, so that Telegram delivers the update again later.

python-telegram-bot's own webhook server answers 200 as soon as an update is queued in
memory (lost with the process), hence this small aiohttp server."""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot import metrics
from bot.services.inbox import Inbox, StoredUpdate
from bot.telegram.updates import chat_of, without_names

log = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
MAX_BODY_BYTES = 1024 * 1024  # an update is a few kilobytes; files come by getFile
STOP_SECONDS = 2.0
REJECTED_LOG_EVERY = 10.0  # seconds: a flood of refused requests is not a flood of lines


@dataclass
class WebhookCounts:
    """What the receiver did since the process started (for the health line and metrics)."""

    accepted: int = 0  # stored, answered 200 and handed on
    duplicates: int = 0  # seen before: answered 200, not handled again
    rejected: int = 0  # no secret or a wrong one: 403
    malformed: int = 0  # not a JSON update: 400
    failed: int = 0  # could not be stored: 500, Telegram retries


class WebhookReceiver:
    def __init__(
        self,
        inbox: Inbox,
        submit: Callable[[int | None, StoredUpdate], None],
        secret_matches: Callable[[str | None], bool],
        *,
        listen: str,
        port: int,
        path: str,
    ) -> None:
        self.inbox = inbox
        self.submit = submit
        self.secret_matches = secret_matches
        self.listen, self.port, self.path = listen, port, path
        self.counts = WebhookCounts()
        self._runner: web.AppRunner | None = None
        self._rejected_logged_at: float | None = None

    async def start(self) -> None:
        app = web.Application(client_max_size=MAX_BODY_BYTES)
        app.router.add_post(self.path, self._receive)
        # No access log: it would record who called, and when, for every update. A request
        # still being stored at a stop gets a moment to finish (the stop has 10 s in all).
        self._runner = web.AppRunner(
            app, handle_signals=False, access_log=None, shutdown_timeout=STOP_SECONDS
        )
        await self._runner.setup()
        await web.TCPSite(self._runner, self.listen, self.port).start()
        log.info("event=webhook_listening port=%d", self.port)

    async def stop(self) -> None:
        """Stop taking updates: Telegram keeps (and retries) whatever it could not deliver."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _receive(self, request: web.Request) -> web.StreamResponse:
        # The secret first, before reading anything a stranger sent.
        if not self.secret_matches(request.headers.get(SECRET_HEADER)):
            self.counts.rejected += 1
            metrics.current().webhook_rejected.inc()
            self._log_rejected()
            return web.Response(status=403)
        data = await _update_in(request)
        if data is None:
            self.counts.malformed += 1
            log.warning("event=webhook_malformed")
            return web.Response(status=400)
        try:
            stored = await self.inbox.store([without_names(data)])
        except Exception as error:  # the database: Telegram must try again, never get a 200
            self.counts.failed += 1
            log.error("event=webhook_store_failed error=%s", type(error).__name__)
            return web.Response(status=500)
        if not stored:
            self.counts.duplicates += 1
            return web.Response(status=200)
        self.counts.accepted += 1
        # The 200 goes out before the update is handled: Telegram need not wait for the
        # handling (and the next update may arrive meanwhile); what was stored is not lost.
        response = web.Response(status=200)
        with contextlib.suppress(ConnectionError):
            await response.prepare(request)
            await response.write_eof()
        for item in stored:
            self.submit(chat_of(item.data), item)
        return response

    def _log_rejected(self) -> None:
        now = time.monotonic()
        last = self._rejected_logged_at
        if last is None or now - last >= REJECTED_LOG_EVERY:
            self._rejected_logged_at = now
            # Nothing of the request: not its header (it may be a near-miss of the secret).
            log.warning("event=webhook_rejected total=%d", self.counts.rejected)


async def _update_in(request: web.Request) -> dict[str, Any] | None:
    """The request's body as an update (an object with an integer update_id), or None."""
    try:
        data = json.loads(await request.read())
    except (ValueError, RecursionError, web.HTTPRequestEntityTooLarge):
        return None
    if not isinstance(data, dict):
        return None
    update_id = data.get("update_id")
    if not isinstance(update_id, int) or isinstance(update_id, bool):
        return None
    return data
