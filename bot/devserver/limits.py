"""Telegram's flood control, as the emulator can play it (opt-in): token buckets for the
whole bot and for each chat; a send with no token left is answered 429 with retry_after,
as Telegram does. Every send is logged with its time, so tests can measure the rates."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# Methods that put a message in a chat: what Telegram's message limits count.
SEND_METHODS = frozenset(
    {
        "sendmessage", "sendphoto", "senddocument", "sendaudio", "sendvoice", "sendvideo",
        "sendanimation", "sendvideonote", "sendmediagroup", "sendsticker", "sendlocation",
        "sendvenue", "sendcontact", "sendpoll", "senddice", "copymessage", "forwardmessage",
    }
)  # fmt: skip


@dataclass(frozen=True)
class RateLimits:
    """Telegram's limits as the emulator enforces them: about 30 messages a second per bot
    and one a second per chat, each with a burst."""

    per_second: float = 30.0
    burst: int = 30
    chat_per_second: float = 1.0
    chat_burst: int = 3


@dataclass(frozen=True)
class Send:
    """One attempt at a send method: when (monotonic seconds), to which chat, and whether
    it was accepted (status 200) or refused (429, 5xx …)."""

    at: float
    method: str
    chat_id: Any
    status: int


@dataclass
class _Bucket:
    per_second: float
    burst: int
    tokens: float
    last: float

    def wait(self, now: float) -> float:
        """Seconds until a token is there (0: there is one now)."""
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.per_second)
        self.last = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.per_second


@dataclass
class FloodControl:
    limits: RateLimits
    clock: Callable[[], float] = time.monotonic
    refused: int = 0
    _bot: _Bucket | None = None
    _chats: dict[str, _Bucket] = field(default_factory=dict)

    def retry_after(self, chat_id: Any) -> int | None:
        """None if this send may go now (and it is counted), else whole seconds to wait."""
        now = self.clock()
        if self._bot is None:
            self._bot = _Bucket(self.limits.per_second, self.limits.burst, self.limits.burst, now)
        chat = self._chats.setdefault(
            str(chat_id),
            _Bucket(
                self.limits.chat_per_second, self.limits.chat_burst, self.limits.chat_burst, now
            ),
        )
        wait = max(self._bot.wait(now), chat.wait(now))
        if wait > 0:
            self.refused += 1
            return max(1, math.ceil(wait))
        self._bot.tokens -= 1
        chat.tokens -= 1
        return None
