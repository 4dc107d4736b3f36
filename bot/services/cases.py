"""Reading and writing a case's sealed content: the report, the reporter's link, the thread
with responders, internal notes — and destroying it all on withdrawal."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from bot import metrics
from bot.crypto import CaseKey, CryptoError, DraftKey, Keyring, ReporterLink
from bot.services.protocol import ThreadItem
from bot.store import queries
from bot.store.models import Case, CaseMessage, CaseNote, Responder
from bot.store.session import Session

log = logging.getLogger(__name__)
_NOBODY = uuid.UUID(int=0)  # marks an exclusion list that could not be read


class CaseDestroyed(Exception):
    """The case was withdrawn or shredded: its data key, and with it its content, is gone."""


class CaseVault:
    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring

    def key(self, case: Case) -> CaseKey:
        if case.wrapped_key is None:
            raise CaseDestroyed(case.short_id)
        return self.keyring.case_key(case.id, case.wrapped_key)

    def seal_new(
        self,
        case: Case,
        draft_key: DraftKey,
        document: dict[str, Any],
        link: ReporterLink | None,
        excluded: list[uuid.UUID],
    ) -> CaseKey:
        """A new case's content, under the key its draft was written under."""
        key, case.wrapped_key = self.keyring.case_key_from_draft(draft_key, case.id)
        case.answers = key.seal_answers(document)
        case.reporter = key.seal_link(link)
        case.excluded = key.seal_exclusions(excluded)
        case.reporter_lookup = (
            self.keyring.reporter_lookup(link.chat_id) if link is not None else None
        )
        return key

    def answers(self, case: Case) -> dict[str, Any]:
        return self.key(case).open_answers(case.answers)

    def reporter(self, case: Case) -> ReporterLink | None:
        """The linked reporter's chat and language, if they chose to be notified."""
        if case.wrapped_key is None:
            return None
        return self.key(case).open_link(case.reporter)

    def is_reporter_chat(self, case: Case, chat_id: int) -> bool:
        """Whether this chat is the one the reporter linked. The sealed link decides, not
        the look-up column, which someone with write access could copy between cases."""
        link = self.reporter(case)
        return link is not None and link.chat_id == chat_id

    def excluded(self, case: Case, staff: Iterable[Responder] = ()) -> frozenset[uuid.UUID]:
        """Responders the reporter excluded from this case (conflict of interest). If the
        list was tampered with (removed, swapped), nobody but the admins among `staff` may
        read the case: a lifted exclusion must never let the wrong person in."""
        if case.wrapped_key is None:
            return frozenset()
        try:
            return self.key(case).open_exclusions(case.excluded)
        except CryptoError:
            metrics.tampering_detected("case_exclusions")
            log.warning("event=tampering_detected what=case_exclusions case=%s", case.short_id)
            return frozenset(p.id for p in staff if p.role != "admin") | {_NOBODY}

    def hidden_from(self, case: Case, person: Responder) -> bool:
        """Whether the reporter excluded `person` (tampering hides it from all but admins)."""
        return person.id in self.excluded(case, (person,))

    async def add_message(
        self,
        session: Session,
        case: Case,
        author: str,
        responder_id: uuid.UUID | None,
        text: str,
        now: datetime,
    ) -> None:
        row = CaseMessage(
            id=uuid.uuid4(),
            case_id=case.id,
            author=author,
            responder_id=responder_id,
            created_at=now,
        )
        row.body = self.key(case).seal_message(row.id, author, responder_id, text)
        session.add(row)

    async def add_note(
        self,
        session: Session,
        case: Case,
        responder_id: uuid.UUID,
        text: str,
        now: datetime,
    ) -> None:
        row = CaseNote(id=uuid.uuid4(), case_id=case.id, responder_id=responder_id, created_at=now)
        row.body = self.key(case).seal_note(row.id, responder_id, text)
        session.add(row)

    async def thread(
        self,
        session: Session,
        case: Case,
        names: dict[uuid.UUID, str] | None = None,
        mark_read_by: str | None = None,
        now: datetime | None = None,
    ) -> tuple[ThreadItem, ...]:
        """The messages, oldest first. `mark_read_by` ("reporter"/"responder") marks the other
        side's messages as read. `names` shows responders' names (responders' eyes only)."""
        rows = await queries.thread_of(session, case.id)
        return self._thread(case, rows, names, mark_read_by, now)

    async def history(
        self,
        session: Session,
        case: Case,
        names_of: Callable[[set[uuid.UUID]], Awaitable[dict[uuid.UUID, str]]],
        now: datetime,
    ) -> tuple[tuple[ThreadItem, ...], tuple[ThreadItem, ...], dict[uuid.UUID, str]]:
        """What a responder opening the case reads: the thread (marking the reporter's
        messages read) and the internal notes, with the names of the responders in them and
        of the one who claimed the case — those only, not every responder's row."""
        messages = await queries.thread_of(session, case.id)
        notes = await queries.notes_of(session, case.id)
        wanted = {r.responder_id for r in messages if r.responder_id is not None}
        wanted |= {r.responder_id for r in notes if r.responder_id is not None}
        if case.claimed_by is not None:
            wanted.add(case.claimed_by)
        names = await names_of(wanted)
        key = self.key(case)
        return (
            self._thread(case, messages, names, "responder", now),
            tuple(
                ThreadItem(
                    "note",
                    key.open_note(row.id, row.responder_id, row.body),
                    row.created_at,
                    names.get(row.responder_id) if row.responder_id else None,
                )
                for row in notes
            ),
            names,
        )

    def _thread(
        self,
        case: Case,
        rows: Sequence[CaseMessage],
        names: dict[uuid.UUID, str] | None,
        mark_read_by: str | None,
        now: datetime | None,
    ) -> tuple[ThreadItem, ...]:
        key = self.key(case)
        items = []
        for row in rows:
            text = key.open_message(row.id, row.author, row.responder_id, row.body)
            by = names.get(row.responder_id) if names and row.responder_id else None
            items.append(ThreadItem(row.author, text, row.created_at, by))
            if mark_read_by and row.author != mark_read_by and row.read_at is None:
                row.read_at = now
        return tuple(items)

    async def unread_for_reporter(self, session: Session, case: Case) -> int:
        return await queries.unread_by_reporter(session, case.id)

    async def destroy(self, session: Session, case: Case) -> None:
        """Crypto-shredding: drop the data key and every sealed field; delete the thread,
        the notes, every message still waiting to be sent about the case, and its evidence
        files with their chunks (bot.store.queries' `delete_case_content`)."""
        await queries.delete_case_content(session, case.id)
        case.wrapped_key = None
        case.answers = None
        case.reporter = None
        case.reporter_lookup = None
        case.excluded = None
