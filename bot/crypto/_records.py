"""Record keys: a record's own data key, bound to the record it belongs to, speaking that
record's verbs. Each sealed value is bound (as associated data) to its table, row and field
and to the fields that give it its meaning, so that it cannot be moved, swapped or
relabelled without refusing to open; a value that must exist and is missing is tampering."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from bot.crypto._aead import MIN_BUCKET, DataKey, DecryptionError, FieldRef, TamperedError
from bot.crypto._files import FileKey, new_file_key, open_file_key

# Smallest sizes, so that typical values all look alike: a report's answers (a few
# paragraphs), a list of excluded people (up to about 25), a draft, a chat's state, a message.
ANSWERS_MIN = 4096
EXCLUSIONS_MIN = 1024
DRAFT_MIN = 4096
STATE_MIN = 512
MESSAGE_MIN = 1024
FIGURES_MIN = 256  # a statistics row, with or without a category, is one size


class KeyOwner(StrEnum):
    """What a wrapped data key belongs to (for rotation, which re-wraps them all)."""

    CHAT = "chats"
    DRAFT = "drafts"
    CASE = "cases"
    RESPONDER = "responders"
    INBOX = "inbox"
    STATISTICS = "statistics"

    def owner(self, record_id: uuid.UUID | int | str) -> str:
        return f"{self.value}:{record_id}"


@dataclass(frozen=True)
class ReporterLink:
    """Where a reporter who chose to be told of replies can be reached."""

    chat_id: int
    language: str


class _RecordKey:
    __slots__ = ("_id", "_key")

    def __init__(self, key: DataKey, record_id: uuid.UUID | int | str) -> None:
        self._key = key
        self._id = str(record_id)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(<secret>)"

    def __reduce__(self) -> Any:
        raise TypeError("record keys cannot be pickled; store them wrapped")

    def _seal(self, value: object, ref: FieldRef, minimum: int = MIN_BUCKET) -> bytes:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        return self._key.seal(text.encode("utf-8"), ref, minimum)

    def _open(self, sealed: bytes | None, ref: FieldRef) -> Any:
        if sealed is None:
            raise TamperedError(f"{ref} is missing: the row was changed without the keys")
        raw = self._key.open(sealed, ref)
        try:
            return json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise DecryptionError(f"{ref}: decrypted value is not JSON") from exc


class ChatKey(_RecordKey):
    """A chat's conversation state (where the person is, what they are typing)."""

    __slots__ = ()

    def seal_state(self, state: dict[str, Any]) -> bytes:
        return self._seal(state, FieldRef("chats", self._id, "state"), STATE_MIN)

    def open_state(self, sealed: bytes) -> dict[str, Any]:
        data: dict[str, Any] = self._open(sealed, FieldRef("chats", self._id, "state"))
        return data


class DraftKey(_RecordKey):
    """A report being written. At submission it becomes the case's key (`Keyring.
    case_key_from_draft`), so every copy of the draft dies with the case."""

    __slots__ = ()

    def seal_draft(self, draft: dict[str, Any]) -> bytes:
        return self._seal(draft, FieldRef("drafts", self._id, "draft"), DRAFT_MIN)

    def open_draft(self, sealed: bytes) -> dict[str, Any]:
        data: dict[str, Any] = self._open(sealed, FieldRef("drafts", self._id, "draft"))
        return data

    def new_file(self, file_id: uuid.UUID) -> tuple[FileKey, bytes]:
        """An evidence file attached to the draft: its own key, and that key wrapped under
        the draft's. The case inherits the draft's key, so the wrap stays valid after
        submission (`CaseKey.file_key` opens it) and nothing is re-wrapped."""
        return new_file_key(self._key, file_id)

    def file_key(self, file_id: uuid.UUID, wrapped: bytes | None) -> FileKey:
        return open_file_key(self._key, file_id, wrapped)


class CaseKey(_RecordKey):
    """A submitted report: its answers, its reporter's link, exclusions, thread and notes,
    and the notices addressed to its reporter. Shredding this key destroys all of them."""

    __slots__ = ()

    def seal_answers(self, document: dict[str, Any]) -> bytes:
        return self._seal(document, self._ref("answers"), ANSWERS_MIN)

    def open_answers(self, sealed: bytes | None) -> dict[str, Any]:
        data: dict[str, Any] = self._open(sealed, self._ref("answers"))
        return data

    def seal_link(self, link: ReporterLink | None) -> bytes:
        """Always present: `None` (sealed) says the reporter chose not to be reachable."""
        value = None if link is None else {"chat": link.chat_id, "language": link.language}
        return self._seal(value, self._ref("reporter"))

    def open_link(self, sealed: bytes | None) -> ReporterLink | None:
        value = self._open(sealed, self._ref("reporter"))
        if value is None:
            return None
        return ReporterLink(int(value["chat"]), str(value["language"]))

    def seal_exclusions(self, responder_ids: list[uuid.UUID]) -> bytes:
        return self._seal(
            sorted(str(i) for i in responder_ids), self._ref("excluded"), EXCLUSIONS_MIN
        )

    def open_exclusions(self, sealed: bytes | None) -> frozenset[uuid.UUID]:
        return frozenset(uuid.UUID(i) for i in self._open(sealed, self._ref("excluded")))

    def seal_message(
        self, message_id: uuid.UUID, author: str, responder_id: uuid.UUID | None, text: str
    ) -> bytes:
        return self._seal(text, self._message_ref(message_id, author, responder_id), MESSAGE_MIN)

    def open_message(
        self,
        message_id: uuid.UUID,
        author: str,
        responder_id: uuid.UUID | None,
        sealed: bytes | None,
    ) -> str:
        return str(self._open(sealed, self._message_ref(message_id, author, responder_id)))

    def seal_note(self, note_id: uuid.UUID, responder_id: uuid.UUID | None, text: str) -> bytes:
        return self._seal(text, self._note_ref(note_id, responder_id), MESSAGE_MIN)

    def open_note(
        self, note_id: uuid.UUID, responder_id: uuid.UUID | None, sealed: bytes | None
    ) -> str:
        return str(self._open(sealed, self._note_ref(note_id, responder_id)))

    def seal_notice(self, outbox_id: uuid.UUID, notice: dict[str, Any]) -> bytes:
        """A message for this case's reporter, waiting in the outbox."""
        return self._seal(notice, self._notice_ref(outbox_id))

    def open_notice(self, outbox_id: uuid.UUID, sealed: bytes | None) -> dict[str, Any]:
        data: dict[str, Any] = self._open(sealed, self._notice_ref(outbox_id))
        return data

    def new_file(self, file_id: uuid.UUID) -> tuple[FileKey, bytes]:
        """An evidence file of the case (one sent in its thread): its own key, wrapped
        under the case's, so shredding the case's key destroys the file too."""
        return new_file_key(self._key, file_id)

    def file_key(self, file_id: uuid.UUID, wrapped: bytes | None) -> FileKey:
        """A file's key, whether it was wrapped under this case or under its draft."""
        return open_file_key(self._key, file_id, wrapped)

    def _ref(self, field: str) -> FieldRef:
        return FieldRef("cases", self._id, field)

    def _message_ref(
        self, message_id: uuid.UUID, author: str, responder_id: uuid.UUID | None
    ) -> FieldRef:
        return FieldRef(
            "case_messages",
            str(message_id),
            "body",
            (self._id, author, str(responder_id or "")),
        )

    def _note_ref(self, note_id: uuid.UUID, responder_id: uuid.UUID | None) -> FieldRef:
        return FieldRef("case_notes", str(note_id), "body", (self._id, str(responder_id or "")))

    def _notice_ref(self, outbox_id: uuid.UUID) -> FieldRef:
        return FieldRef("outbox", str(outbox_id), "payload", ("reporter", self._id))


class ResponderKey(_RecordKey):
    """A responder's Telegram chat, and the notices waiting for them."""

    __slots__ = ()

    def seal_chat(self, chat_id: int) -> bytes:
        return self._seal(chat_id, FieldRef("responders", self._id, "chat"))

    def open_chat(self, sealed: bytes | None) -> int:
        return int(self._open(sealed, FieldRef("responders", self._id, "chat")))

    def seal_notice(
        self, outbox_id: uuid.UUID, about_case: uuid.UUID | None, notice: dict[str, Any]
    ) -> bytes:
        return self._seal(notice, self._notice_ref(outbox_id, about_case))

    def open_notice(
        self, outbox_id: uuid.UUID, about_case: uuid.UUID | None, sealed: bytes | None
    ) -> dict[str, Any]:
        data: dict[str, Any] = self._open(sealed, self._notice_ref(outbox_id, about_case))
        return data

    def _notice_ref(self, outbox_id: uuid.UUID, about_case: uuid.UUID | None) -> FieldRef:
        return FieldRef(
            "outbox", str(outbox_id), "payload", ("responder", self._id, str(about_case or ""))
        )


class StatisticsKey(_RecordKey):
    """What statistics keep of cases whose content is gone (coarse figures, no case id).
    A key of their own: they outlive every case key, and a copy of the database without
    the key file reads none of them; it is re-wrapped by KEK rotation like any other."""

    __slots__ = ()

    def seal_figures(self, row_id: uuid.UUID, figures: dict[str, Any]) -> bytes:
        return self._seal(figures, self._figures_ref(row_id), FIGURES_MIN)

    def open_figures(self, row_id: uuid.UUID, sealed: bytes | None) -> dict[str, Any]:
        data: dict[str, Any] = self._open(sealed, self._figures_ref(row_id))
        return data

    def _figures_ref(self, row_id: uuid.UUID) -> FieldRef:
        return FieldRef("case_statistics", str(row_id), "figures", (self._id,))


class InboxKey(_RecordKey):
    """An update from Telegram waiting to be handled (its content is deleted once it is)."""

    __slots__ = ()

    def seal_update(self, update: dict[str, Any]) -> bytes:
        return self._seal(update, FieldRef("inbox", self._id, "payload"), MESSAGE_MIN)

    def open_update(self, sealed: bytes | None) -> dict[str, Any]:
        data: dict[str, Any] = self._open(sealed, FieldRef("inbox", self._id, "payload"))
        return data
