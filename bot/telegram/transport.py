"""The bot's one seam to the network: python-telegram-bot's BaseRequest, on aiohttp.

python-telegram-bot's own HTTPXRequest spends more of the bot's CPU than anything Confide
does itself: httpx, httpcore, h11 and anyio together were 40% of the bot process's CPU per
user action in bench/run.py (py-spy), the same calls costing about half as much on aiohttp,
which the bot already carries for its webhook server. Behaviour is HTTPXRequest's: the same
defaults, form-encoded parameters (multipart when a file goes up), TimedOut for any timeout
and NetworkError for any other failure, with the library's class name in its text; and,
as httpx does, the environment's proxy (HTTPS_PROXY, HTTP_PROXY, NO_PROXY) and certificate
authorities (SSL_CERT_FILE, SSL_CERT_DIR; otherwise certifi's).
"""

from __future__ import annotations

import os
import re
import ssl

import aiohttp
import certifi
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

_TOKEN_IN_URL = re.compile(r"/bot[^/\s]*")  # /bot<token>/method, /file/bot<token>/path

# HTTPXRequest's defaults, in seconds.
READ_TIMEOUT = WRITE_TIMEOUT = CONNECT_TIMEOUT = 5.0
POOL_TIMEOUT = 1.0
MEDIA_WRITE_TIMEOUT = 20.0


class AiohttpRequest(BaseRequest):
    """At most `connections` open connections to the Bot API, kept alive between calls;
    `read_timeout`: for a call that names none."""

    def __init__(self, connections: int, read_timeout: float = READ_TIMEOUT) -> None:
        self.connections = connections
        self._read_timeout = read_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.connections, ssl=_trusted()),
                headers={"User-Agent": self.USER_AGENT},
                trust_env=True,  # a machine that reaches Telegram through a proxy says so
                # Telegram's answers are JSON, and the bot never needs cookies.
                cookie_jar=aiohttp.DummyCookieJar(),
            )

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        files = request_data.multipart_data if request_data else None
        read = _given(read_timeout, self._read_timeout)
        write = _given(write_timeout, MEDIA_WRITE_TIMEOUT if files else WRITE_TIMEOUT)
        connect = _given(connect_timeout, CONNECT_TIMEOUT)
        pool = _given(pool_timeout, POOL_TIMEOUT)
        timeout = aiohttp.ClientTimeout(
            # aiohttp has no write timeout: the whole call is bounded by every phase's sum.
            total=_sum(read, write, connect, pool),
            connect=_sum(pool, connect),  # waiting for a pooled connection, or making one
            sock_connect=connect,
            sock_read=read,
        )
        try:
            async with self._session.request(
                method,
                url,
                data=_body(request_data),
                timeout=timeout,
                allow_redirects=False,  # as httpx: the Bot API never redirects
            ) as response:
                return response.status, await response.read()
        except TimeoutError as error:
            raise TimedOut from error
        except aiohttp.ClientError as error:
            # Some of aiohttp's errors quote the URL, and the URL holds the bot's token.
            said = _TOKEN_IN_URL.sub("/bot(token withheld)", str(error))
            raise NetworkError(f"aiohttp.{error.__class__.__name__}: {said}") from None


def _trusted() -> ssl.SSLContext:
    """The certificate authorities httpx trusted: the environment's if it names some, else
    certifi's (not the system's), so that the same Telegram is trusted as before, on a
    machine with no CA bundle of its own too."""
    if os.environ.get("SSL_CERT_FILE"):
        return ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
    if os.environ.get("SSL_CERT_DIR"):
        return ssl.create_default_context(capath=os.environ["SSL_CERT_DIR"])
    return ssl.create_default_context(cafile=certifi.where())


def _given(value: ODVInput[float], default: float) -> float | None:
    return default if isinstance(value, DefaultValue) else value


def _sum(*parts: float | None) -> float | None:
    """None (no limit) if any part has none."""
    return None if any(p is None for p in parts) else sum(p for p in parts if p is not None)


def _body(request_data: RequestData | None) -> aiohttp.FormData | dict[str, str] | None:
    if request_data is None:
        return None
    parameters = request_data.json_parameters
    files = request_data.multipart_data
    if not files:
        return parameters
    form = aiohttp.FormData()
    for name, value in parameters.items():
        form.add_field(name, value)
    for name, (filename, content, mime_type) in files.items():
        form.add_field(name, content, filename=filename, content_type=mime_type)
    return form
