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
from datetime import UTC, datetime, timedelta, tzinfo

from bot import metrics
from bot.cases.lifecycle import OPEN_STATES
from bot.cases.limits import EvidenceLimits, Limits
from bot.cases.retention import Retention
from bot.cases.sla import ServiceLevels
from bot.crypto import ChatKey, CryptoError, Keyring
from bot.i18n import Language, pick_language
from bot.intake.flow import Draft, Intake
from bot.services import evidence, people
from bot.services.admin import ADMIN_ONLY
from bot.services.case_views import CaseViews
from bot.services.cases import CaseVault
from bot.services.chat_state import ChatState, Mode
from bot.services.context import Context
from bot.services.enrolment import enrol
from bot.services.protocol import (
    Command,
    FileSent,
    Incoming,
    Reply,
    ResponderButton,
    Text,
    View,
)
from bot.services.reporter import ReporterTurn
from bot.services.responder import CASE_ACTS, LISTS, ResponderTurn
from bot.services.turn import Turn
from bot.store import queries
from bot.store.chats import AlreadyHandled, ChatRow, ChatStore, ChatWrite, StaleChat
from bot.store.database import purge_freed_pages
from bot.store.models import Chat, Responder
from bot.store.session import CONFLICTS, Engine, Session, Sessions

log = logging.getLogger(__name__)
CONFLICT_RETRIES = 5
PRUNE_BATCH = 500
# "help" too: a responder's help is theirs, not a reporter's.
RESPONDER_COMMANDS = frozenset(LISTS) | frozenset(CASE_ACTS) | ADMIN_ONLY | {"help"}


class ConversationService:
    def __init__(
        self,
        sessions: Sessions,
        keyring: Keyring,
        intake: Intake,
        *,
        default_language: str = "en",
        draft_max_age_hours: float = 72,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_notify: Callable[[], None] = lambda: None,
        levels: ServiceLevels | None = None,
        case_content_hours: float = 24,
        exclusion: str = "list",
        limits: Limits | None = None,
        zone: tzinfo = UTC,
        retention: Retention | None = None,
        evidence: EvidenceLimits | None = None,
    ) -> None:
        self.context = Context(
            sessions,
            keyring,
            intake,
            levels=levels or ServiceLevels(),
            limits=limits or Limits(),
            exclusion=exclusion,
            default_language=default_language,
            draft_max_age_hours=draft_max_age_hours,
            wake_sender=on_notify,
            zone=zone,
            retention=retention or Retention(),
            evidence=evidence or EvidenceLimits(),
        )
        self.sessions = sessions
        self.keyring = keyring
        self.vault = CaseVault(keyring)
        self.chats = ChatStore(sessions.kw["bind"])
        self.clock = clock
        self.case_views = CaseViews(
            sessions, keyring, timedelta(hours=case_content_hours), self._now
        )

    def _now(self) -> datetime:
        return self.clock()

    # The rules' settings live in the context every turn is given; set here, seen there.
    @property
    def limits(self) -> Limits:
        return self.context.limits

    @limits.setter
    def limits(self, limits: Limits) -> None:
        self.context.limits = limits

    @property
    def exclusion(self) -> str:
        return self.context.exclusion

    @exclusion.setter
    def exclusion(self, exclusion: str) -> None:
        self.context.exclusion = exclusion

    async def handle(self, incoming: Incoming) -> Reply | None:
        """Handle one update from a private chat; None if it was already handled."""
        lookup = self.keyring.chat_lookup(incoming.chat_id)
        for _ in range(CONFLICT_RETRIES):
            try:
                return await self._handle_once(incoming, lookup)
            except AlreadyHandled:
                log.info("event=update_duplicate")
                return None
            except (StaleChat, *CONFLICTS):
                # Another process wrote this chat or its case meanwhile (or created it), or a
                # new case drew a short id already taken: start over from what is stored.
                log.info("event=write_conflict")
                self.chats.forget(lookup)
        raise RuntimeError("chat kept changing under us")

    async def _handle_once(self, incoming: Incoming, lookup: bytes) -> Reply | None:
        now = self.clock()
        stored = await self.chats.find(lookup)
        if stored is None:
            stored = self._new_chat(lookup, now)
        try:
            key = self.keyring.chat_key(stored.id, stored.wrapped_key)
        except CryptoError:
            if stored.version and self.chats.cached(lookup):
                # A rotation gave the chat a new key since this copy was cached.
                raise StaleChat from None
            raise
        turn = Turn(
            self.context, lookup, stored.language, ChatState(), incoming, now, chat_row=stored.id
        )
        turn.state = self._load_state(stored, key, turn)
        state = turn.state
        draft_files = state.draft_files  # where the draft's files are, if it has any
        try:
            if _may_be_responder_business(incoming, state):
                turn.responder = await people.responder_for_chat(
                    turn.session, self.keyring, incoming.chat_id
                )
            views: list[View]
            if isinstance(incoming.event, Command) and incoming.event.name == "enroll":
                views = await enrol(turn, incoming.event.argument)
            elif turn.responder is not None and _is_responder_business(
                incoming, state, turn.responder
            ):
                views = await ResponderTurn(turn).run()
            else:
                views = await ReporterTurn(turn).run()
            draft_key, draft = self._seal_draft(stored, turn)
            if draft_key is None and not turn.draft_sent:
                # A discarded draft: its files go in the transaction that drops it.
                for files in {draft_files, turn.state.draft_files} - {None}:
                    await evidence.forget_draft_files(turn.session, uuid.UUID(files))
                    turn.shredded = True
                turn.state.draft_files = None
                pending = turn.state.pending_file
                if pending is not None and "case" not in pending:  # the draft's: gone with it
                    turn.state.pending_file = None
            row = replace(
                stored,
                state=self._seal_state(key, turn.state),
                draft_key=draft_key,
                draft=draft,
                language=turn.chosen_language,
                updated_at=now,
                version=stored.version + 1,
            )
            write = ChatWrite(row, stored.version, incoming.update_id, now)
            session = turn.opened_session
            if session is not None and session.in_transaction():
                # The turn read or wrote other rows: the chat is written in that transaction.
                await self.chats.write(write, await session.connection())
                await session.commit()
                self.chats.written(row)
            else:
                # Only the chat's own row changes (most updates): committed with others'.
                await self.chats.write(write, None)
        finally:
            await turn.close()
        if turn.shredded:
            await purge_freed_pages(self.engine)
        if turn.notified:
            self.context.wake_sender()
        return Reply(language=turn.language, views=tuple(views), delay=turn.delay)

    def language_for(self, client_language: str | None) -> Language:
        return pick_language(None, client_language, self.context.default_language)

    @property
    def engine(self) -> Engine:
        return self.chats.engine

    def _new_chat(self, lookup: bytes, now: datetime) -> ChatRow:
        chat_id = queries.new_id()
        _, wrapped = self.keyring.new_chat_key(chat_id)
        return ChatRow(chat_id, lookup, wrapped, None, None, 0, now, now)

    def _load_state(self, chat: ChatRow, key: ChatKey, turn: Turn) -> ChatState:
        draft = None
        if chat.draft_key is not None and chat.draft is not None:
            turn.draft_key = self.keyring.draft_key(chat.id, chat.draft_key)
            draft = Draft.from_json(turn.draft_key.open_draft(chat.draft))
        if chat.state is None:
            return ChatState(draft=draft)
        return ChatState.from_json(key.open_state(chat.state), draft)

    def _seal_state(self, key: ChatKey, state: ChatState) -> bytes | None:
        # Nothing worth keeping: keep nothing.
        if not state.worth_keeping():
            return None
        return key.seal_state(state.to_json())

    def _seal_draft(self, chat: ChatRow, turn: Turn) -> tuple[bytes | None, bytes | None]:
        """The draft under its own key: the same key for the life of the draft (so that its
        old copies die with the case it becomes), none once it is sent or discarded."""
        draft = turn.state.draft
        if draft is None or turn.state.mode is not Mode.INTAKE:
            if chat.draft_key is not None and not turn.draft_sent:
                turn.shredded = True  # a discarded draft: its old copies must not linger
            return None, None
        wrapped = chat.draft_key
        if turn.draft_key is None or wrapped is None:
            turn.draft_key, wrapped = self.keyring.new_draft_key(chat.id)
        return wrapped, turn.draft_key.seal_draft(draft.to_json())

    async def prune_chats(self, max_age: timedelta) -> int:
        """Drafts untouched for `max_age` are deleted, and so are chat rows that hold
        nothing more (no draft, no case sent from it still open): a chat's fingerprint does
        not outlive its use. Returns how many drafts and rows went."""
        gone = 0
        cutoff = self.clock() - max_age
        async with self.sessions.begin() as session:
            for chat in await queries.idle_chats(session, cutoff, PRUNE_BATCH):
                gone += await self._prune(session, chat)
            live = await self._live_draft_files(session)
            orphans = await evidence.forget_orphaned_draft_files(session, cutoff, live)
        self.chats.forget()
        if gone:
            log.info("event=chats_pruned count=%d", gone)
        if orphans:
            log.warning("event=orphaned_draft_files_deleted count=%d", orphans)
        if gone or orphans:
            await purge_freed_pages(self.engine)
        return gone

    async def _prune(self, session: Session, chat: Chat) -> int:
        state = ChatState()
        if chat.state is not None:
            try:
                key = self.keyring.chat_key(chat.id, chat.wrapped_key)
                state = ChatState.from_json(key.open_state(chat.state))
            except CryptoError:
                metrics.tampering_detected("chat_row")
                log.warning("event=tampering_detected what=chat_row")
        if state.linked:
            statuses = await queries.statuses_of(session, state.linked)
            if any(status in {s.value for s in OPEN_STATES} for status in statuses.values()):
                if chat.draft_key is None or not await queries.forget_draft(session, chat):
                    return 0
                await self._forget_files(session, state)
                return 1
        if not await queries.delete_chat(session, chat):
            return 0
        await self._forget_files(session, state)  # the draft's, if it had one
        return 1

    async def _forget_files(self, session: Session, state: ChatState) -> None:
        if state.draft_files is not None:
            await evidence.forget_draft_files(session, uuid.UUID(state.draft_files))

    async def _live_draft_files(self, session: Session) -> set[uuid.UUID]:
        """The holders of the drafts that exist (read from their sealed chat states)."""
        live: set[uuid.UUID] = set()
        for chat in await queries.drafting_chats(session):
            if chat.state is None:
                continue
            try:
                key = self.keyring.chat_key(chat.id, chat.wrapped_key)
                files = ChatState.from_json(key.open_state(chat.state)).draft_files
            except CryptoError:
                continue
            if files is not None:
                live.add(uuid.UUID(files))
        return live


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
        or (
            isinstance(event, FileSent)
            and state.compose is not None
            and state.compose.get("kind") == "reply"
        )
    )


def _is_responder_business(incoming: Incoming, state: ChatState, responder: Responder) -> bool:
    event = incoming.event
    if isinstance(event, Command) and event.name in ADMIN_ONLY:
        return responder.role == "admin"
    return _may_be_responder_business(incoming, state)
