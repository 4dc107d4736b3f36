"""One call per Telegram update, one transaction per call.

Loads the chat's encrypted state (de-duplicating redelivered updates on the same row),
decides whose turn it is — a reporter's, or an enrolled responder's for responder commands —
lets that turn apply the rules, stores the result, and returns what to show as views. It
never sees Telegram objects and never renders text.

A turn that touches nothing but its chat (most intake steps) opens no session: its chat row
is written by bot.store.chats, committed together with other chats' rows. A turn that reads
or writes other rows gets a session, and its chat row is written in that transaction."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

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
from bot.store.chats import ChatRow, ChatStore, StaleChat
from bot.store.models import Responder

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
        self.chats = ChatStore(sessions.kw["bind"])
        self.keyring = keyring
        self.intake = intake
        self.vault = CaseVault(keyring)
        self.default_language = default_language
        self.draft_max_age_hours = draft_max_age_hours
        self.clock = clock
        self.on_notify = on_notify

    async def handle(self, incoming: Incoming) -> Reply | None:
        """Handle one update from a private chat; None if it was already handled."""
        lookup = self.keyring.blind_index("chat", str(incoming.chat_id))
        for _ in range(CONFLICT_RETRIES):
            try:
                return await self._handle_once(incoming, lookup)
            except (StaleChat, IntegrityError):
                # Another process wrote this chat meanwhile (or created it), or a new case
                # drew a short id already taken: start over from what is stored; a duplicate
                # of the other process's update is then recognised and skipped.
                log.info("event=write_conflict")
                self.chats.forget(lookup)
        raise RuntimeError("chat kept changing under us")

    async def _handle_once(self, incoming: Incoming, lookup: bytes) -> Reply | None:
        now = self.clock()
        stored = await self.chats.find(lookup)
        if stored is None:
            stored = self._new_chat(lookup, now)
        elif stored.last_update_id is not None and incoming.update_id <= stored.last_update_id:
            log.info("event=update_duplicate")
            return None
        key = self.keyring.unwrap(stored.wrapped_key, _owner(stored.id))
        state = self._load_state(stored, key)
        turn = Turn(self, lookup, stored.language, state, incoming, now)
        try:
            if _may_be_responder_business(incoming, state):
                found = await queries.responder_by_lookup(turn.session, lookup)
                turn.responder = found if found is not None and found.active else None
            views: list[View]
            if isinstance(incoming.event, Command) and incoming.event.name == "enroll":
                views = await enrol(turn, incoming.event.argument)
            elif turn.responder is not None and _is_responder_business(
                incoming, state, turn.responder
            ):
                views = await ResponderTurn(turn).run()
            else:
                views = await ReporterTurn(turn).run()
            row = replace(
                stored,
                state=self._seal_state(stored.id, key, turn.state),
                language=turn.chosen_language,
                last_update_id=incoming.update_id,
                updated_at=now,
                version=stored.version + 1,
            )
            session = turn.opened_session
            if session is not None and session.in_transaction():
                # The turn read or wrote other rows: the chat is written in that transaction.
                await self.chats.write(row, stored.version, await session.connection())
                await session.commit()
                self.chats.written(row)
            else:
                # Only the chat's own row changes (most updates): committed with others'.
                await self.chats.write(row, stored.version, None)
        finally:
            await turn.close()
        if turn.notified:
            self.on_notify()
        return Reply(language=turn.language, views=tuple(views))

    def language_for(self, client_language: str | None) -> Language:
        return pick_language(None, client_language, self.default_language)

    def _new_chat(self, lookup: bytes, now: datetime) -> ChatRow:
        chat_id = queries.new_id()
        wrapped = self.keyring.wrap(DataKey.generate(), _owner(chat_id))
        return ChatRow(chat_id, lookup, wrapped, None, None, None, 0, now, now)

    def _load_state(self, chat: ChatRow, key: DataKey) -> ChatState:
        if chat.state is None:
            return ChatState()
        return ChatState.from_json(key.open_json(chat.state, _state_ref(chat.id)))

    def _seal_state(self, chat_id: uuid.UUID, key: DataKey, state: ChatState) -> bytes | None:
        # Nothing worth keeping: keep nothing.
        if not state.worth_keeping():
            return None
        return key.seal_json(state.to_json(), _state_ref(chat_id))

    async def forget_stale_drafts(self, max_age: timedelta) -> int:
        async with self.sessions.begin() as session:
            count = await queries.forget_stale_drafts(session, self.clock() - max_age)
        self.chats.forget()
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


def _owner(chat_id: uuid.UUID) -> str:
    return f"chats:{chat_id}"


def _state_ref(chat_id: uuid.UUID) -> FieldRef:
    return FieldRef("chats", str(chat_id), "state")
