"""The durable inbox: every update from Telegram is stored, sealed, before the bot tells
Telegram it has it (the next getUpdates offset, or a webhook's 200). A process killed while
handling updates finds them here when it starts again; an update is marked handled in the
same transaction as its effect (bot.store.chats), so it takes effect exactly once.

The table is also the set of update ids seen: an id stored before is a duplicate (a
redelivery, or the same update sent to two replicas), whatever its order. Telegram numbers
updates from a random value again after a week without any, and webhooks deliver out of
order: only the ids themselves can tell a duplicate."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot import metrics
from bot.crypto import CryptoError, Keyring
from bot.store import inbox as table
from bot.store.session import Sessions

log = logging.getLogger(__name__)
# Telegram keeps an unconfirmed update for 24 hours; its id is remembered a little longer.
REMEMBER_IDS = timedelta(hours=25)


@dataclass(frozen=True)
class StoredUpdate:
    update_id: int
    data: dict[str, Any]  # the update as Telegram sent it, less people's names


class Inbox:
    def __init__(self, sessions: Sessions, keyring: Keyring, clock: Callable[[], datetime]) -> None:
        self.sessions = sessions
        self.keyring = keyring
        self.clock = clock

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
            try:
                assert row.wrapped_key is not None
                data = self.keyring.inbox_key(row.id, row.wrapped_key).open_update(row.payload)
            except (CryptoError, AssertionError):
                metrics.tampering_detected("inbox_row")
                log.warning("event=tampering_detected what=inbox_row")
                await self.done(row.id)
                continue
            found.append(StoredUpdate(row.id, data))
        return found

    async def done(self, update_id: int) -> None:
        """Handled without a chat's effect to go with it (a group, a failure, a bad update)."""
        async with self.sessions.begin() as session:
            await table.mark_handled(session, update_id, self.clock())

    async def forget_old_ids(self) -> int:
        async with self.sessions.begin() as session:
            return await table.forget_seen(session, self.clock() - REMEMBER_IDS)
