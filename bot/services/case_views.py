"""Case content in responders' Telegram chats: sent protected (no forwarding, no saving),
and deleted from the chat after a while. Telegram lets a bot delete its own messages for
48 hours; after that a copy stays in the responder's chat for as long as they keep it."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.crypto import Keyring
from bot.services import people
from bot.store import queries
from bot.store.session import Sessions

DELETE_BATCH = 100  # deleteMessages takes at most 100 ids
TELEGRAM_DELETE_WINDOW = timedelta(hours=48)


@dataclass(frozen=True)
class DueDeletion:
    chat_id: int
    message_ids: tuple[int, ...]
    rows: tuple[uuid.UUID, ...]


class CaseViews:
    def __init__(
        self,
        sessions: Sessions,
        keyring: Keyring,
        keep_for: timedelta,
        clock: Callable[[], datetime],
    ) -> None:
        if not timedelta(0) < keep_for < TELEGRAM_DELETE_WINDOW:
            raise ValueError("case content can be deleted from a chat within 48 hours only")
        self.sessions = sessions
        self.keyring = keyring
        self.keep_for = keep_for
        self.clock = clock

    async def shown(self, chat_id: int, message_ids: list[int]) -> None:
        """These messages, sent to a responder's chat, show case content."""
        if not message_ids:
            return
        async with self.sessions.begin() as session:
            person = await people.enrolled(session, self.keyring, chat_id)
            if person is not None:
                await queries.add_expiring_messages(
                    session, person.id, message_ids, self.clock() + self.keep_for
                )

    async def due(self) -> list[DueDeletion]:
        async with self.sessions.begin() as session:
            rows = await queries.expiring_messages_due(session, self.clock(), DELETE_BATCH)
            by_responder: dict[uuid.UUID, list[tuple[uuid.UUID, int]]] = {}
            for row in rows:
                by_responder.setdefault(row.responder_id, []).append((row.id, row.message_id))
            due = []
            for responder_id, items in by_responder.items():
                person = await people.responder_by_id(session, self.keyring, responder_id)
                if person is None:  # a forged row: nothing to delete, nowhere to send
                    await queries.forget_expiring_messages(session, [i for i, _ in items])
                    continue
                due.append(
                    DueDeletion(
                        people.chat_of(self.keyring, person),
                        tuple(m for _, m in items),
                        tuple(i for i, _ in items),
                    )
                )
        return due

    async def deleted(self, deletion: DueDeletion) -> None:
        async with self.sessions.begin() as session:
            await queries.forget_expiring_messages(session, deletion.rows)
