"""One call per Telegram update, one transaction per call.

Loads the chat's encrypted state (de-duplicating redelivered updates on the same row),
decides whose turn it is — a reporter's, or an enrolled responder's for responder commands —
lets that turn apply the rules, stores the result, and returns what to show as views. It
never sees Telegram objects and never renders text."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from bot.cases.sla import ServiceLevels
from bot.crypto import DataKey, FieldRef, Keyring
from bot.i18n import Language, pick_language
from bot.intake.flow import Draft, Intake
from bot.services import audit
from bot.services.cases import CaseVault, responder_chat
from bot.services.outbox import Notification, enqueue
from bot.services.protocol import Command, Incoming, Reply, ResponderButton, Say, Text, View
from bot.store import queries
from bot.store.models import Case, Chat, Responder

log = logging.getLogger(__name__)
CONFLICT_RETRIES = 5
ADMIN_COMMANDS = frozenset({"responders", "revoke", "overdue", "audit"})
RESPONDER_COMMANDS = frozenset(
    {"queue", "mine", "claim", "release", "open", "reply", "note", "state"} | ADMIN_COMMANDS
)
CODE_ATTEMPTS = 5  # wrong receipt or enrolment codes before a pause
CODE_PAUSE = timedelta(minutes=15)


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

    def worth_keeping(self) -> bool:
        return bool(
            self.mode is not Mode.IDLE
            or self.wipe_allowed
            or self.compose
            or self.case_session
            or self.code_failures
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode.value,
            "draft": self.draft.to_json() if self.draft else None,
            "first": self.first_message_id,
            "wipe": self.wipe_allowed,
            "compose": self.compose,
            "session": self.case_session,
            "failures": self.code_failures,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ChatState:
        draft = data.get("draft")
        return cls(
            mode=Mode(data.get("mode", Mode.IDLE)),
            draft=Draft.from_json(draft) if draft else None,
            first_message_id=data.get("first"),
            wipe_allowed=bool(data.get("wipe", False)),
            compose=data.get("compose"),
            case_session=data.get("session"),
            code_failures=list(data.get("failures", [])),
        )


@dataclass
class Turn:
    """Everything one update's logic needs, and what it asks to be sent to others."""

    service: ConversationService
    session: AsyncSession
    chat: Chat
    state: ChatState
    incoming: Incoming
    now: datetime
    responder: Responder | None
    notified: bool = False

    @property
    def language(self) -> Language:
        return pick_language(
            self.chat.language, self.incoming.client_language, self.service.default_language
        )

    @property
    def keyring(self) -> Keyring:
        return self.service.keyring

    @property
    def vault(self) -> CaseVault:
        return self.service.vault

    def notify(self, chat_id: int, notification: Notification) -> None:
        enqueue(self.session, self.keyring, chat_id, notification, self.now)
        self.notified = True

    def responder_chat(self, responder: Responder) -> int:
        return responder_chat(self.keyring, responder)

    async def notify_responders(
        self,
        notification_for: Callable[[str], Notification],
        only: Responder | None = None,
        excluded: frozenset[uuid.UUID] = frozenset(),
    ) -> int:
        """Alert `only`, or every active responder the reporter did not exclude; if that
        leaves nobody, the admins (a report is never left without a reader)."""
        if only is not None and only.active:
            people = [only]
        else:
            everyone = await queries.responders(self.session)
            people = [p for p in everyone if p.id not in excluded]
            if not people:
                people = [p for p in everyone if p.role == "admin"]
        for person in people:
            self.notify(self.responder_chat(person), notification_for(person.language))
        return len(people)

    async def audit(self, case: Case, action: str) -> None:
        actor = self.responder
        await audit.record(
            self.session,
            self.keyring,
            case.id,
            str(actor.id) if actor else "reporter",
            actor.role if actor else "reporter",
            action,
            self.now,
        )

    # -- wrong codes are rate-limited per chat ---------------------------------------------

    def code_pause(self) -> Say | None:
        """After too many wrong codes, the message to show instead of checking another."""
        recent = [
            t
            for t in (datetime.fromisoformat(s) for s in self.state.code_failures)
            if self.now - t < CODE_PAUSE
        ]
        self.state.code_failures = [t.isoformat() for t in recent]
        if len(recent) < CODE_ATTEMPTS:
            return None
        left = CODE_PAUSE - (self.now - min(recent))
        return Say("too_many_codes", {"minutes": max(1, round(left.total_seconds() / 60))})

    def code_failed(self) -> None:
        self.state.code_failures.append(self.now.isoformat())

    def code_succeeded(self) -> None:
        self.state.code_failures = []


class ConversationService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        keyring: Keyring,
        intake: Intake,
        *,
        default_language: str = "en",
        draft_max_age_hours: float = 72,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_notify: Callable[[], None] = lambda: None,
        levels: ServiceLevels | None = None,
    ) -> None:
        self.levels = levels or ServiceLevels()
        self.sessions = sessions
        self.keyring = keyring
        self.intake = intake
        self.vault = CaseVault(keyring)
        self.default_language = default_language
        self.draft_max_age_hours = draft_max_age_hours
        self.clock = clock
        self.on_notify = on_notify

    async def handle(self, incoming: Incoming) -> Reply | None:
        """Handle one update from a private chat; None if it was already handled."""
        for _ in range(CONFLICT_RETRIES):
            try:
                return await self._handle_once(incoming)
            except (StaleDataError, IntegrityError):
                # Another process wrote this chat meanwhile (or created it): start over from
                # what it wrote; a duplicate of its update is then recognised and skipped.
                log.info("event=chat_write_conflict")
        raise RuntimeError("chat kept changing under us")

    async def _handle_once(self, incoming: Incoming) -> Reply | None:
        from bot.services.reporter import ReporterTurn
        from bot.services.responder import ResponderTurn, enrol

        now = self.clock()
        async with self.sessions.begin() as session:
            lookup = self.keyring.blind_index("chat", str(incoming.chat_id))
            chat = await queries.chat_by_lookup(session, lookup)
            if chat is None:
                chat = self._new_chat(lookup, now)
                session.add(chat)
            elif chat.last_update_id is not None and incoming.update_id <= chat.last_update_id:
                log.info("event=update_duplicate")
                return None
            key = self.keyring.unwrap(chat.wrapped_key, _owner(chat))
            state = self._load_state(chat, key)
            responder = None
            if _may_be_responder_business(incoming, state):
                found = await queries.responder_by_lookup(session, lookup)
                responder = found if found is not None and found.active else None
            turn = Turn(self, session, chat, state, incoming, now, responder)
            views: list[View]
            if isinstance(incoming.event, Command) and incoming.event.name == "enroll":
                views = await enrol(turn, incoming.event.argument)
            elif responder is not None and _is_responder_business(incoming, state, responder):
                views = await ResponderTurn(turn).run()
            else:
                views = await ReporterTurn(turn).run()
            self._save_state(chat, key, turn.state)
            chat.last_update_id = incoming.update_id
            chat.updated_at = now
            language = turn.language
        if turn.notified:
            self.on_notify()
        return Reply(language=language, views=tuple(views))

    def language_for(self, client_language: str | None) -> Language:
        return pick_language(None, client_language, self.default_language)

    def _new_chat(self, lookup: bytes, now: datetime) -> Chat:
        chat = Chat(id=queries.new_id(), lookup=lookup, created_at=now, updated_at=now)
        chat.wrapped_key = self.keyring.wrap(DataKey.generate(), _owner(chat))
        return chat

    def _load_state(self, chat: Chat, key: DataKey) -> ChatState:
        if chat.state is None:
            return ChatState()
        return ChatState.from_json(key.open_json(chat.state, _state_ref(chat)))

    def _save_state(self, chat: Chat, key: DataKey, state: ChatState) -> None:
        # Nothing worth keeping: keep nothing.
        chat.state = (
            key.seal_json(state.to_json(), _state_ref(chat)) if state.worth_keeping() else None
        )

    async def forget_stale_drafts(self, max_age: timedelta) -> int:
        async with self.sessions.begin() as session:
            count = await queries.forget_stale_drafts(session, self.clock() - max_age)
        if count:
            log.info("event=drafts_expired count=%d", count)
        return count


def _may_be_responder_business(incoming: Incoming, state: ChatState) -> bool:
    event = incoming.event
    return (
        isinstance(event, ResponderButton)
        or (
            isinstance(event, Command)
            and (
                event.name in RESPONDER_COMMANDS
                or (event.name == "cancel" and state.compose is not None)
            )
        )
        or (
            isinstance(event, Text)
            and state.compose is not None
            and state.compose.get("kind") in ("reply", "note")
        )
    )


def _is_responder_business(incoming: Incoming, state: ChatState, responder: Responder) -> bool:
    event = incoming.event
    if isinstance(event, Command) and event.name in ADMIN_COMMANDS:
        return responder.role == "admin"
    return _may_be_responder_business(incoming, state)


def _owner(chat: Chat) -> str:
    return f"chats:{chat.id}"


def _state_ref(chat: Chat) -> FieldRef:
    return FieldRef("chats", str(chat.id), "state")
