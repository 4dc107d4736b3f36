"""Concurrency across chats, order within a chat, and fairness between them.

Each chat's updates wait in the chat's own queue; one worker per chat takes them in order
and holds one of the slots only while it handles one. So a chat that sends ten thousand
updates holds at most one slot, and every other chat still gets one at its turn (slots are
handed out first come, first served)."""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

Item = TypeVar("Item")


class Dispatcher(Generic[Item]):
    def __init__(self, handle: Callable[[Item], Awaitable[None]], slots: int) -> None:
        self.handle = handle
        self._slots = asyncio.Semaphore(slots)
        self._queues: dict[Hashable, collections.deque[Item]] = {}
        self._workers: set[asyncio.Task[None]] = set()
        self._current: dict[Hashable, Item] = {}  # what each chat's worker is handling
        self.handled = 0  # items handled so far (the health line's count)

    def submit(self, chat: Hashable, item: Item) -> None:
        queue = self._queues.get(chat)
        if queue is not None:
            queue.append(item)  # its worker is running and will get to it
            return
        self._queues[chat] = collections.deque([item])
        worker = asyncio.create_task(self._work(chat))
        self._workers.add(worker)
        worker.add_done_callback(self._workers.discard)

    def holds(self, chat: Hashable, item: Item) -> bool:
        """Whether `item` waits in `chat`'s queue or is being handled."""
        queue = self._queues.get(chat)
        if queue is None:
            return False
        return (chat in self._current and self._current[chat] == item) or item in queue

    @property
    def waiting(self) -> int:
        return sum(len(q) for q in self._queues.values())

    async def _work(self, chat: Hashable) -> None:
        queue = self._queues[chat]
        try:
            while queue:
                item = queue.popleft()
                self._current[chat] = item
                async with self._slots:
                    await self.handle(item)
                self.handled += 1
        finally:
            self._current.pop(chat, None)
            del self._queues[chat]

    async def stop(self, grace_seconds: float) -> None:
        """Let what is being handled finish; what has not started stays where it was stored
        (the inbox), to be handled at the next start."""
        for queue in self._queues.values():
            queue.clear()
        if self._workers:
            _, late = await asyncio.wait(set(self._workers), timeout=grace_seconds)
            for worker in late:
                worker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker
