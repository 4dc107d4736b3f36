"""One call per Telegram update, one transaction per call.

Loads the chat's encrypted state (de-duplicating redelivered updates on the same row),
decides whose turn it is — a reporter's, or an enrolled responder's for responder commands —
lets that turn apply the rules, stores the result, and returns what to show as views. It
never sees Telegram objects and never renders text."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from bot.cases.sla import ServiceLevels
from bot.crypto import DataKey, FieldRef, Keyring
from bot.i18n import Language, pick_language
from bot.intake.flow import Intake
from bot.services.cases import CaseVault
from bot.services.protocol import Command, Incoming, Reply, ResponderButton, Text, View
from bot.services.reporter import ReporterTurn
from bot.services.responder import ResponderTurn, enrol
from bot.services.turn import ChatState, Turn
from bot.store import queries
from bot.store.models import Chat, Responder

log = logging.getLogger(__name__)
CONFLICT_RETRIES = 5
ADMIN_COMMANDS = frozenset({"responders", "revoke", "overdue", "audit"})
RESPONDER_COMMANDS = frozenset(
    {"queue", "mine", "claim", "release", "open", "reply", "note", "state"} | ADMIN_COMMANDS
)


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
