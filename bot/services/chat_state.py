"""A chat's conversation state: where the person is, what they are typing, what the chat
must remember between updates. Stored sealed in the chat's row (bot.store.chats)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from bot.intake.flow import Draft


class Mode(StrEnum):
    IDLE = "idle"
    INTAKE = "intake"
    AWAIT_RECEIPT = "await_receipt"


@dataclass
class ChatState:
    """A chat's conversation state, stored sealed in its `chats` row."""

    mode: Mode = Mode.IDLE
    draft: Draft | None = None
    # First message of the report conversation, so it can be wiped from the phone afterwards.
    first_message_id: int | None = None
    wipe_allowed: bool = False
    # The next text is a message for a case: {"kind": "reply"|"note"|"reporter_reply", "case"}.
    compose: dict[str, str] | None = None
    # A case this chat opened with its receipt code (unlinked reporters act through this).
    case_session: str | None = None
    code_failures: list[str] = field(default_factory=list)  # ISO times of wrong codes
    # Cases sent from this chat that tell it of replies: the row is kept while one is open.
    linked: list[str] = field(default_factory=list)
    # The receipt of the report just sent, shown again until the reporter says they saved
    # it: {"code", "case", "urgent", "readers"}. Then it is forgotten.
    pending_receipt: dict[str, Any] | None = None
    # How many reports this chat started today and messages it sent this hour (limits).
    counters: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The draft's files are filed under this random id (hex), never under the chat row's:
    # two copies of the database must not link a chat to the case its draft became.
    draft_files: str | None = None
    # A file that could not be cleaned, stored, waiting for the sender to say whether to
    # keep it as it is: {"id", "kind", "size", "name", "case"? (in a thread)}.
    pending_file: dict[str, Any] | None = None

    def worth_keeping(self) -> bool:
        return bool(
            self.mode is not Mode.IDLE
            or self.wipe_allowed
            or self.compose
            or self.case_session
            or self.code_failures
            or self.linked
            or self.pending_receipt
            or self.counters
            or self.draft_files
            or self.pending_file
        )

    def to_json(self) -> dict[str, Any]:
        """The state without the draft, which is sealed apart under a key of its own."""
        return {
            "mode": self.mode.value,
            "first": self.first_message_id,
            "wipe": self.wipe_allowed,
            "compose": self.compose,
            "session": self.case_session,
            "failures": self.code_failures,
            "linked": self.linked,
            "receipt": self.pending_receipt,
            "counters": self.counters,
            "files": self.draft_files,
            "pending": self.pending_file,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], draft: Draft | None = None) -> ChatState:
        return cls(
            mode=Mode(data.get("mode", Mode.IDLE)),
            draft=draft,
            first_message_id=data.get("first"),
            wipe_allowed=bool(data.get("wipe", False)),
            compose=data.get("compose"),
            case_session=data.get("session"),
            code_failures=list(data.get("failures", [])),
            linked=list(data.get("linked", [])),
            pending_receipt=data.get("receipt"),
            counters=dict(data.get("counters", {})),
            draft_files=data.get("files"),
            pending_file=data.get("pending"),
        )
