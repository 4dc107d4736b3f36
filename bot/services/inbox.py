"""The durable inbox: every update from Telegram is stored, sealed, before the bot tells
Telegram it has it (the next getUpdates offset, or a webhook's 200). A process killed while
handling updates finds them here when it starts again; an update is marked handled in the
same transaction as its effect (bot.store.chats), so it takes effect exactly once.

The table is also the set of update ids seen: an id stored before is a duplicate (a
redelivery, or the same update sent to two replicas), whatever its order. Telegram numbers
updates from a random value again after a week without any, and webhooks deliver out of
order: only the ids themselves can tell a duplicate.

Order across replicas (PostgreSQL). Telegram gives one chat's next update only after the
previous one was answered 200 — but that answer comes once the update is stored, not
handled, so two replicas can hold one chat's consecutive updates at once. A replica's
dispatcher keeps one chat's updates in order only among its own. So each pending update
carries its chat's lookup, and a replica handles an update only in the chat's turn
(`in_turn`: a PostgreSQL advisory lock on the lookup, bot.store.inbox.ChatTurns), where it
handles every pending update of that chat, its own and other replicas', in update id
order. The replica that stored a later one then finds it handled and skips it. An update
that arrives after a later one was handled (a late redelivery) is still handled, in the
next turn: nothing is ever dropped for being out of order. Why a database lock and not
queues of our own: the lock dies with the holder's connection (a killed replica holds
nothing), and every replica already shares the database. On SQLite there is one process,
whose dispatcher suffices: no lookup is stored and no turn taken."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot import metrics
from bot.crypto import CryptoError, Keyring
from bot.store import inbox as table
from bot.store.inbox import ChatTurns
from bot.store.session import Sessions

log = logging.getLogger(__name__)
# Telegram keeps an unconfirmed update for 24 hours; its id is remembered a little longer.
REMEMBER_IDS = timedelta(hours=25)


@dataclass(frozen=True)
class StoredUpdate:
    update_id: int
    data: dict[str, Any]  # the update as Telegram sent it, less people's names


class Inbox:
    """`turns`: each chat's turn across processes (PostgreSQL; None: one process);
    `chat_of`: the chat an update belongs to, as the shell reads Telegram's shapes."""

    def __init__(
        self,
        sessions: Sessions,
        keyring: Keyring,
        clock: Callable[[], datetime],
        *,
        turns: ChatTurns | None = None,
        chat_of: Callable[[dict[str, Any]], int | None] = lambda _: None,
    ) -> None:
        self.sessions = sessions
        self.keyring = keyring
        self.clock = clock
        self.turns = turns
        self.chat_of = chat_of

    async def store(self, updates: Sequence[dict[str, Any]]) -> list[StoredUpdate]:
        """Store what was not seen before, durably; returns those, in order, to be handled."""
        now = self.clock()
        rows, by_id = [], {}
        for data in updates:
            update_id = int(data["update_id"])
            key, wrapped = self.keyring.new_inbox_key(update_id)
            rows.append(
                {
                    "id": update_id,
                    "wrapped_key": wrapped,
                    "payload": key.seal_update(data),
                    "received_at": now,
                    "handled_at": None,
                    "chat_lookup": self._lookup(data),
                }
            )
            by_id[update_id] = data
        new = await table.add_new(self.sessions.kw["bind"], rows)
        if len(new) < len(rows):
            log.info("event=update_duplicate count=%d", len(rows) - len(new))
        return [StoredUpdate(i, by_id[i]) for i in by_id if i in new]

    async def unhandled(self, older_than: timedelta | None = None) -> list[StoredUpdate]:
        """What was stored but not handled (for at least `older_than`, if given): a previous
        run's, or a replica's that stopped or died before handling it; in arrival order."""
        before = None if older_than is None else self.clock() - older_than
        async with self.sessions.begin() as session:
            rows = await table.pending(session, before)
        found = []
        for row in rows:
            opened = await self._opened(row.id, row.wrapped_key, row.payload)
            if opened is not None:
                found.append(opened)
        return found

    async def in_turn(
        self, stored: StoredUpdate, handle: Callable[[StoredUpdate], Awaitable[None]]
    ) -> None:
        """Handle `stored` in its chat's turn, with every other pending update of the chat
        before and after it, by update id; without a turn to take (SQLite, or no chat), just
        `stored`. One already handled elsewhere is not handled again."""
        lookup = self._lookup(stored.data)
        if self.turns is None or lookup is None:
            await handle(stored)
            return
        async with self.turns.hold(lookup) as connection:
            for update_id, wrapped_key, payload in await table.pending_of(
                connection, lookup, stored.update_id
            ):
                if update_id == stored.update_id:
                    await handle(stored)
                    continue
                opened = await self._opened(update_id, wrapped_key, payload)
                if opened is not None:
                    await handle(opened)

    def _lookup(self, data: dict[str, Any]) -> bytes | None:
        """The chat's lookup, stored while the update waits (only where turns are taken)."""
        if self.turns is None:
            return None
        chat = self.chat_of(data)
        return None if chat is None else self.keyring.chat_lookup(chat)

    async def _opened(
        self, update_id: int, wrapped_key: bytes | None, payload: bytes | None
    ) -> StoredUpdate | None:
        try:
            assert wrapped_key is not None and payload is not None
            data = self.keyring.inbox_key(update_id, wrapped_key).open_update(payload)
        except (CryptoError, AssertionError):
            metrics.tampering_detected("inbox_row")
            log.warning("event=tampering_detected what=inbox_row")
            await self.done(update_id)
            return None
        return StoredUpdate(update_id, data)

    async def done(self, update_id: int) -> None:
        """Handled without a chat's effect to go with it (a group, a failure, a bad update)."""
        async with self.sessions.begin() as session:
            await table.mark_handled(session, update_id, self.clock())

    async def forget_old_ids(self) -> int:
        async with self.sessions.begin() as session:
            return await table.forget_seen(session, self.clock() - REMEMBER_IDS)
