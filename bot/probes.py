"""The health port: /healthz, /readyz and /metrics, for a supervisor and for Prometheus.

It listens on 127.0.0.1 by default ([health] listen, port): nothing on it is secret, but
neither is it anybody else's business how many reports are open. It runs on the bot's
event loop (aiohttp), with no thread of its own. Answers are short plain text, built from
fixed words: never an id, a name, a path or an error's message.

Like bot.metrics, it imports nothing of Confide: the runtime hands it what to say."""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bot.metrics import Metrics

log = logging.getLogger(__name__)
REFRESH_TIMEOUT = 5.0  # seconds a scrape waits for the database's figures
REFRESH_AT_MOST_EVERY = 1.0  # seconds: scrapes in a burst share one round of queries


class ProbePortUnavailable(Exception):
    """The health port cannot be opened; the message says what to change."""


class ProbeServer:
    """`ready` says what keeps the bot from being ready (a few words), or None; `refresh`
    reads the figures that live in the database into the gauges, at scrape time."""

    def __init__(self, listen: str, port: int, metrics: Metrics, *, enabled: bool = True) -> None:
        self.enabled = enabled
        self.listen = listen
        self.port = port
        self.metrics = metrics
        self.ready: Callable[[], str | None] = lambda: "starting"
        self.refresh: Callable[[], Awaitable[None]] | None = None
        self._runner: web.AppRunner | None = None
        self._refreshed_at = -REFRESH_AT_MOST_EVERY
        self._refreshing = asyncio.Lock()

    async def start(self) -> None:
        if not self.enabled:
            return
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics)
        # No access log: a scrape every few seconds is not news. A short shutdown: a stop
        # must not wait for a scraper's idle connection.
        self._runner = web.AppRunner(
            app, handle_signals=False, access_log=None, shutdown_timeout=0.5
        )
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, self.listen, self.port).start()
        except OSError as error:
            await self.stop()
            raise ProbePortUnavailable(self._unavailable(error)) from None
        log.info("event=health_port_listening port=%d", self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    def _unavailable(self, error: OSError) -> str:
        where = f"{self.listen}:{self.port}"
        fix = "choose another [health] port in config.toml, or set [health] enabled = false."
        if error.errno == errno.EADDRINUSE:
            return f"the health port {where} is in use (another Confide?): {fix}"
        if error.errno == errno.EACCES:
            return f"not allowed to listen on the health port {where} (below 1024?): {fix}"
        if isinstance(error, socket.gaierror) or error.errno == errno.EADDRNOTAVAIL:
            return (
                f"cannot listen on {where}: {self.listen} is not an address of this machine; "
                "check [health] listen in config.toml."
            )
        name = errno.errorcode.get(error.errno or 0, "error")
        return f"cannot listen on the health port {where} ({name}): {fix}"

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def _readyz(self, request: web.Request) -> web.Response:
        problem = self.ready()
        if problem is None:
            return web.Response(text="ready\n")
        return web.Response(status=503, text=f"not ready: {problem}\n")

    async def _metrics(self, request: web.Request) -> web.Response:
        await self._refresh()
        self.metrics.ready.set(1 if self.ready() is None else 0)
        body = generate_latest(self.metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _refresh(self) -> None:
        if self.refresh is None:
            return
        async with self._refreshing:
            if time.monotonic() - self._refreshed_at < REFRESH_AT_MOST_EVERY:
                return
            try:
                await asyncio.wait_for(self.refresh(), REFRESH_TIMEOUT)
            except Exception as error:  # the database is away: the last figures stay
                log.warning("event=metrics_refresh_failed error=%s", type(error).__name__)
            else:
                self._refreshed_at = time.monotonic()
