"""Reading and writing a case's sealed content: the report, the reporter's link, the thread
with responders, internal notes — and destroying it all on withdrawal."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.crypto import DataKey, FieldRef, Keyring
from bot.services.protocol import ThreadItem
from bot.store import queries
from bot.store.models import Case, CaseMessage, CaseNote, Responder


class CaseDestroyed(Exception):
    """The case was withdrawn: its data key, and with it its content, is gone."""


class CaseVault:
    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring

    def key(self, case: Case) -> DataKey:
        if case.wrapped_key is None:
            raise CaseDestroyed(case.short_id)
        return self.keyring.unwrap(case.wrapped_key, f"cases:{case.id}")

    def new_key(self, case: Case) -> DataKey:
        key = DataKey.generate()
        case.wrapped_key = self.keyring.wrap(key, f"cases:{case.id}")
        return key

    def answers(self, case: Case) -> dict[str, Any]:
        if case.answers is None:
            raise CaseDestroyed(case.short_id)
        data: dict[str, Any] = self.key(case).open_json(case.answers, _ref(case, "answers"))
        return data

    def seal_answers(self, case: Case, key: DataKey, document: dict[str, Any]) -> None:
        case.answers = key.seal_json(document, _ref(case, "answers"))

    def link_reporter(
        self, case: Case, key: DataKey, chat_id: int, language: str, lookup: bytes
    ) -> None:
        case.reporter_lookup = lookup
        case.reporter = key.seal_json(
            {"chat": chat_id, "language": language}, _ref(case, "reporter")
        )

    def reporter(self, case: Case) -> tuple[int, str] | None:
        """The linked reporter's chat and language, if they chose to be notified."""
        if case.reporter is None or case.wrapped_key is None:
            return None
        data = self.key(case).open_json(case.reporter, _ref(case, "reporter"))
        return int(data["chat"]), str(data["language"])

    def seal_excluded(self, case: Case, key: DataKey, responder_ids: list[uuid.UUID]) -> None:
        case.excluded = key.seal_json([str(i) for i in responder_ids], _ref(case, "excluded"))

    def excluded(self, case: Case) -> frozenset[uuid.UUID]:
        """Responders the reporter excluded from this case (conflict of interest)."""
        if case.excluded is None or case.wrapped_key is None:
            return frozenset()
        ids = self.key(case).open_json(case.excluded, _ref(case, "excluded"))
        return frozenset(uuid.UUID(i) for i in ids)

    async def add_message(
        self,
        session: AsyncSession,
        case: Case,
        author: str,
        responder: Responder | None,
        text: str,
        now: datetime,
    ) -> None:
        row = CaseMessage(
            id=uuid.uuid4(),
            case_id=case.id,
            author=author,
            responder_id=responder.id if responder else None,
            created_at=now,
        )
        row.body = self.key(case).seal_text(text, FieldRef("case_messages", str(row.id), "body"))
        session.add(row)

    async def add_note(
        self, session: AsyncSession, case: Case, responder: Responder, text: str, now: datetime
    ) -> None:
        row = CaseNote(id=uuid.uuid4(), case_id=case.id, responder_id=responder.id, created_at=now)
        row.body = self.key(case).seal_text(text, FieldRef("case_notes", str(row.id), "body"))
        session.add(row)

    async def thread(
        self,
        session: AsyncSession,
        case: Case,
        names: dict[uuid.UUID, str] | None = None,
        mark_read_by: str | None = None,
        now: datetime | None = None,
    ) -> tuple[ThreadItem, ...]:
        """The messages, oldest first. `mark_read_by` ("reporter"/"responder") marks the other
        side's messages as read. `names` shows responders' names (responders' eyes only)."""
        key = self.key(case)
        items = []
        for row in await queries.thread_of(session, case.id):
            text = key.open_text(row.body, FieldRef("case_messages", str(row.id), "body"))
            by = names.get(row.responder_id) if names and row.responder_id else None
            items.append(ThreadItem(row.author, text, row.created_at, by))
            if mark_read_by and row.author != mark_read_by and row.read_at is None:
                row.read_at = now
        return tuple(items)

    async def notes(
        self, session: AsyncSession, case: Case, names: dict[uuid.UUID, str]
    ) -> tuple[ThreadItem, ...]:
        key = self.key(case)
        return tuple(
            ThreadItem(
                "note",
                key.open_text(row.body, FieldRef("case_notes", str(row.id), "body")),
                row.created_at,
                names.get(row.responder_id) if row.responder_id else None,
            )
            for row in await queries.notes_of(session, case.id)
        )

    async def unread_for_reporter(self, session: AsyncSession, case: Case) -> int:
        return sum(
            1
            for row in await queries.thread_of(session, case.id)
            if row.author == "responder" and row.read_at is None
        )

    async def destroy(self, session: AsyncSession, case: Case) -> None:
        """Crypto-shredding: drop the data key and every sealed field; delete the thread."""
        await queries.delete_case_content(session, case.id)
        case.wrapped_key = None
        case.answers = None
        case.reporter = None
        case.reporter_lookup = None
        case.excluded = None


def responder_chat(keyring: Keyring, responder: Responder) -> int:
    """A responder's Telegram chat id, to reach them."""
    key = keyring.unwrap(responder.wrapped_key, f"responders:{responder.id}")
    return int(key.open_text(responder.chat, FieldRef("responders", str(responder.id), "chat")))


def _ref(case: Case, field: str) -> FieldRef:
    return FieldRef("cases", str(case.id), field)
