"""The reporter's side of the bot: one call per Telegram update, one transaction per call.

It loads the chat's encrypted state, applies the intake rules (bot.intake.flow), stores the
result and says what to show, as views the Telegram shell renders. It never sees Telegram
objects and never renders text.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from bot.cases.ids import new_receipt_code, new_short_id, normalize_receipt_code
from bot.crypto import DataKey, FieldRef, Keyring
from bot.i18n import LANGUAGES, Language, pick_language
from bot.intake.flow import (
    Action,
    ActionName,
    Discarded,
    Draft,
    Input,
    Intake,
    Notice,
    NoticeKind,
    Step,
    Submitted,
    TypedText,
    Unsupported,
)
from bot.store import queries
from bot.store.models import Case, Chat

log = logging.getLogger(__name__)
CASE_STATUS_NEW = "new"
CONFLICT_RETRIES = 5


# ---- what comes in ------------------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    name: str
    argument: str = ""


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Other:
    """A sticker, voice note, photo, location...: nothing we take."""


@dataclass(frozen=True)
class Edited:
    """The person edited a message they had sent; answers are taken as first sent."""


@dataclass(frozen=True)
class FlowButton:
    rev: int
    input: Input


class Menu(StrEnum):
    REPORT = "report"
    CHECK = "check"
    PRIVACY = "privacy"
    CONTINUE = "continue"
    START_OVER = "over"
    WIPE = "wipe"


@dataclass(frozen=True)
class MenuButton:
    item: Menu


@dataclass(frozen=True)
class LanguageButton:
    language: str


@dataclass(frozen=True)
class UnknownButton:
    """Callback data we did not produce: forged, or from an older version of the bot."""


Event = Command | Text | Other | Edited | FlowButton | MenuButton | LanguageButton | UnknownButton


@dataclass(frozen=True)
class Incoming:
    update_id: int
    chat_id: int
    client_language: str | None
    message_id: int | None  # the person's message, or the message whose button was pressed
    event: Event


# ---- what goes out ------------------------------------------------------------------------


@dataclass(frozen=True)
class Say:
    """A catalogue message (plus parameters, already safe for HTML)."""

    key: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ShowMenu:
    resume: bool = False  # a draft exists: offer Continue / Start over instead


@dataclass(frozen=True)
class ShowStep:
    step: Step
    rev: int
    message_id: int | None  # for in-place keyboard updates


@dataclass(frozen=True)
class ShowReceipt:
    code: str
    short_id: str
    urgent: bool


@dataclass(frozen=True)
class ShowCase:
    short_id: str
    submitted_at: datetime
    status: str
    urgent: bool


@dataclass(frozen=True)
class ShowLanguages:
    pass


@dataclass(frozen=True)
class Wipe:
    first_message_id: int
    last_message_id: int


View = Say | ShowMenu | ShowStep | ShowReceipt | ShowCase | ShowLanguages | Wipe


@dataclass(frozen=True)
class Reply:
    language: Language
    views: tuple[View, ...]


# ---- conversation state (stored encrypted) ------------------------------------------------


class Mode(StrEnum):
    IDLE = "idle"
    INTAKE = "intake"
    AWAIT_RECEIPT = "await_receipt"


@dataclass
class ChatState:
    mode: Mode = Mode.IDLE
    draft: Draft | None = None
    # First message of the report conversation, so it can be wiped from the phone afterwards.
    first_message_id: int | None = None
    wipe_allowed: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode.value,
            "draft": self.draft.to_json() if self.draft else None,
            "first": self.first_message_id,
            "wipe": self.wipe_allowed,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ChatState:
        draft = data.get("draft")
        return cls(
            mode=Mode(data.get("mode", Mode.IDLE)),
            draft=Draft.from_json(draft) if draft else None,
            first_message_id=data.get("first"),
            wipe_allowed=bool(data.get("wipe", False)),
        )


# ---- the service --------------------------------------------------------------------------


class ReporterService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        keyring: Keyring,
        intake: Intake,
        *,
        default_language: str = "en",
        draft_max_age_hours: float = 72,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.sessions = sessions
        self.keyring = keyring
        self.intake = intake
        self.default_language = default_language
        self.draft_max_age_hours = draft_max_age_hours
        self.clock = clock

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
            turn = _Turn(self, session, chat, state, incoming, now)
            views = await turn.run()
            self._save_state(chat, key, turn.state)
            chat.last_update_id = incoming.update_id
            chat.updated_at = now
            language = pick_language(chat.language, incoming.client_language, self.default_language)
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
        if state.mode is Mode.IDLE and not state.wipe_allowed:
            chat.state = None  # nothing worth keeping: keep nothing
        else:
            chat.state = key.seal_json(state.to_json(), _state_ref(chat))

    async def create_case(
        self, session: AsyncSession, submitted: Submitted, language: str, now: datetime
    ) -> tuple[Case, str]:
        code = new_receipt_code()
        short_id = new_short_id()
        while await queries.short_id_taken(session, short_id):
            short_id = new_short_id()
        case = Case(
            id=queries.new_id(),
            short_id=short_id,
            receipt_lookup=self.keyring.blind_index("receipt", code),
            status=CASE_STATUS_NEW,
            urgent=submitted.urgent,
            submitted_at=now,
            updated_at=now,
        )
        key = DataKey.generate()
        case.wrapped_key = self.keyring.wrap(key, f"cases:{case.id}")
        case.answers = key.seal_json(
            {"language": language, "answers": submitted.answers},
            FieldRef("cases", str(case.id), "answers"),
        )
        session.add(case)
        await session.flush()
        log.info("event=case_submitted case=%s urgent=%s", case.short_id, case.urgent)
        return case, code

    async def forget_stale_drafts(self, max_age: timedelta) -> int:
        async with self.sessions.begin() as session:
            count = await queries.forget_stale_drafts(session, self.clock() - max_age)
        if count:
            log.info("event=drafts_expired count=%d", count)
        return count


def _owner(chat: Chat) -> str:
    return f"chats:{chat.id}"


def _state_ref(chat: Chat) -> FieldRef:
    return FieldRef("chats", str(chat.id), "state")


class _Turn:
    """One update's worth of conversation logic, with the loaded state at hand."""

    def __init__(
        self,
        service: ReporterService,
        session: AsyncSession,
        chat: Chat,
        state: ChatState,
        incoming: Incoming,
        now: datetime,
    ) -> None:
        self.service = service
        self.session = session
        self.chat = chat
        self.state = state
        self.incoming = incoming
        self.now = now

    @property
    def language(self) -> Language:
        return pick_language(
            self.chat.language, self.incoming.client_language, self.service.default_language
        )

    async def run(self) -> list[View]:
        match self.incoming.event:
            case Command(name, argument):
                return await self._command(name, argument)
            case Text(text):
                return await self._text(text)
            case Other():
                if self.state.mode is Mode.INTAKE:
                    return await self._flow(Unsupported())
                return [Say("notice_unsupported"), ShowMenu()]
            case Edited():
                return [Say("notice_edited"), *self._current()]
            case FlowButton(rev, flow_input):
                if self.state.mode is not Mode.INTAKE:
                    return [Say("notice_stale_button"), ShowMenu()]
                return await self._flow(flow_input, rev)
            case MenuButton(item):
                return await self._menu(item)
            case LanguageButton(language):
                return self._set_language(language)
        return self._stale()  # UnknownButton

    async def _command(self, name: str, argument: str) -> list[View]:
        if name == "start":
            if self.state.mode is Mode.AWAIT_RECEIPT:
                self.state.mode = Mode.IDLE
            return [ShowMenu(resume=self.state.mode is Mode.INTAKE)]
        if name == "help":
            return [Say("help"), *self._current()]
        if name == "privacy":
            return [self._privacy(), *self._current()]
        if name == "cancel":
            if self.state.mode is Mode.INTAKE:
                return await self._flow(Action(ActionName.CANCEL))
            self.state.mode = Mode.IDLE
            return [Say("nothing_to_cancel")]
        if name == "language":
            return [ShowLanguages()]
        if name == "status":
            if argument:
                return await self._check_receipt(argument)
            return self._ask_receipt()
        return [Say("unknown_command"), *self._current()]

    async def _text(self, text: str) -> list[View]:
        if self.state.mode is Mode.INTAKE:
            return await self._flow(TypedText(text))
        if self.state.mode is Mode.AWAIT_RECEIPT:
            return await self._check_receipt(text)
        return [Say("idle"), ShowMenu()]

    async def _menu(self, item: Menu) -> list[View]:
        if item is Menu.REPORT:
            if self.state.mode is not Mode.INTAKE or self.state.draft is None:
                step = self.service.intake.start()
                self.state = ChatState(
                    mode=Mode.INTAKE,
                    draft=step.draft,
                    first_message_id=self.incoming.message_id,
                )
            return self._current()
        if item is Menu.CONTINUE:
            return self._current() or [ShowMenu()]
        if item is Menu.START_OVER:
            if self.state.mode is Mode.INTAKE:
                return await self._flow(Action(ActionName.CANCEL))
            return [ShowMenu()]
        if item is Menu.CHECK:
            return self._ask_receipt()
        if item is Menu.PRIVACY:
            return [self._privacy(), *self._current()]
        # WIPE
        first, last = self.state.first_message_id, self.incoming.message_id
        if not self.state.wipe_allowed or first is None or last is None:
            return self._stale()
        self.state.wipe_allowed = False
        self.state.first_message_id = None
        log.info("event=conversation_wiped")
        return [Wipe(first, last)]

    def _privacy(self) -> Say:
        return Say("privacy_full", {"hours": f"{self.service.draft_max_age_hours:g}"})

    def _set_language(self, language: str) -> list[View]:
        if language not in LANGUAGES:
            return self._stale()
        self.chat.language = language
        return [Say("language_set"), *self._current()]

    def _ask_receipt(self) -> list[View]:
        if self.state.mode is Mode.INTAKE:
            # Keep the draft: checking a case must not cost the report in progress.
            return [Say("check_case_in_intake"), *self._current()]
        self.state.mode = Mode.AWAIT_RECEIPT
        return [Say("check_case_prompt")]

    async def _check_receipt(self, text: str) -> list[View]:
        code = normalize_receipt_code(text)
        if code is None:
            return [Say("not_a_receipt_code")]
        case = await queries.case_by_receipt(
            self.session, self.service.keyring.blind_index("receipt", code)
        )
        if case is None:
            log.info("event=receipt_not_found")
            return [Say("case_not_found")]
        if self.state.mode is Mode.AWAIT_RECEIPT:
            self.state.mode = Mode.IDLE
        log.info("event=case_checked case=%s", case.short_id)
        return [ShowCase(case.short_id, case.submitted_at, case.status, case.urgent)]

    def _current(self) -> list[View]:
        """The question (or review) the reporter is on, so buttons stay at the bottom."""
        if self.state.mode is not Mode.INTAKE or self.state.draft is None:
            return []
        step = self.service.intake.show(self.state.draft)
        return [ShowStep(step, step.draft.rev, None)]

    def _stale(self) -> list[View]:
        if self.state.mode is Mode.INTAKE and self.state.draft is not None:
            step = self.service.intake.show(self.state.draft)
            notice = Notice(NoticeKind.STALE_BUTTON)
            return [ShowStep(Step(step.draft, step.screen, (notice,)), step.draft.rev, None)]
        return [Say("notice_stale_button"), ShowMenu()]

    async def _flow(self, flow_input: Input, rev: int | None = None) -> list[View]:
        assert self.state.draft is not None
        step = self.service.intake.advance(self.state.draft, flow_input, self.now.date(), rev=rev)
        if isinstance(step.outcome, Discarded):
            self.state = ChatState()
            log.info("event=draft_discarded")
            return [Say("discarded")]
        if isinstance(step.outcome, Submitted):
            case, code = await self.service.create_case(
                self.session, step.outcome, self.language, self.now
            )
            # The draft goes; what remains is only the right to wipe the conversation.
            self.state = ChatState(first_message_id=self.state.first_message_id, wipe_allowed=True)
            return [ShowReceipt(code, case.short_id, case.urgent)]
        self.state.draft = step.draft
        return [ShowStep(step, step.draft.rev, self.incoming.message_id)]
