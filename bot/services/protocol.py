"""What passes between the Telegram shell and the services: events in, views out.

Events are what a person did (typed, pressed, sent a sticker), already parsed; views are
what they should see, still without words — the shell renders them from the catalogue."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from bot.i18n import Language
from bot.intake.flow import Input, Step

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
    SAVED = "saved"  # the reporter saved their receipt code


@dataclass(frozen=True)
class MenuButton:
    item: Menu


@dataclass(frozen=True)
class LanguageButton:
    language: str


@dataclass(frozen=True)
class ResponderButton:
    """A button on a responder's case messages: action and case (or page)."""

    action: str
    argument: str = ""


@dataclass(frozen=True)
class CaseButton:
    """A button a reporter presses about one of their cases."""

    action: str
    case: str


@dataclass(frozen=True)
class UnknownButton:
    """Callback data we did not produce: forged, or from an older version of the bot."""


Event = (
    Command
    | Text
    | Other
    | Edited
    | FlowButton
    | MenuButton
    | LanguageButton
    | ResponderButton
    | CaseButton
    | UnknownButton
)


@dataclass(frozen=True)
class Incoming:
    update_id: int
    chat_id: int
    client_language: str | None
    message_id: int | None  # the person's message, or the message whose button was pressed
    event: Event


# ---- what goes out ------------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    """A parameter that is itself a word of the catalogue (a case state, a role), so that
    it is said in the reader's language."""

    key: str


@dataclass(frozen=True)
class Say:
    """A catalogue message, with plain-text parameters (the renderer escapes them) or
    Terms."""

    key: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ShowHelp:
    """What this chat can do: the commands of its role, as in its command menu."""

    role: str  # "reporter", "responder" or "admin"


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
    """The receipt code, shown at submission and again until the reporter says they saved
    it. `readers`: how many people were told of the report (none: the report waits)."""

    code: str
    short_id: str
    urgent: bool
    readers: int = 1
    again: bool = False
    kept_days: int = 0  # how long a settled case is kept ([retention] closed_days)


@dataclass(frozen=True)
class ThreadItem:
    author: str  # "reporter" or "responder"
    text: str
    at: datetime
    by: str | None = None  # a responder's display name, for responders' eyes only


@dataclass(frozen=True)
class ShowCase:
    """A case as its reporter sees it: state, and the messages with responders."""

    short_id: str
    submitted_at: datetime
    status: str
    urgent: bool
    thread: tuple[ThreadItem, ...] = ()
    can_act: bool = False  # reply and withdraw
    timeline: tuple[tuple[datetime, str, str], ...] = ()  # (when, action, role)


@dataclass(frozen=True)
class CaseSummary:
    short_id: str
    status: str
    submitted_at: datetime
    unread: int = 0


@dataclass(frozen=True)
class ShowMyCases:
    """The reporter's linked cases (/status without a code)."""

    cases: tuple[CaseSummary, ...]


@dataclass(frozen=True)
class ConfirmWithdraw:
    short_id: str


@dataclass(frozen=True)
class QueueItem:
    short_id: str
    age: timedelta
    status: str
    urgent: bool
    claimed_by: str | None


@dataclass(frozen=True)
class ShowQueue:
    kind: str  # "queue" or "mine"
    items: tuple[QueueItem, ...]
    page: int
    pages: int


@dataclass(frozen=True)
class ShowCaseFile:
    """A case in full, for a responder: the report, the thread and the internal notes."""

    short_id: str
    status: str
    urgent: bool
    submitted_at: datetime
    claimed_by: str | None
    mine: bool
    answers: dict[str, Any]
    language: str
    thread: tuple[ThreadItem, ...]
    notes: tuple[ThreadItem, ...]
    next_states: tuple[str, ...]


@dataclass(frozen=True)
class AuditLine:
    at: datetime
    who: str | None  # a responder's name; None for the reporter and the system
    role: str
    action: str


@dataclass(frozen=True)
class ShowAudit:
    short_id: str
    lines: tuple[AuditLine, ...]


@dataclass(frozen=True)
class ShowResponders:
    people: tuple[tuple[str, str, bool], ...]  # (display name, role, active)


@dataclass(frozen=True)
class SetCommands:
    """Show this chat the command menu of its role ("reporter" restores the default)."""

    role: str


@dataclass(frozen=True)
class ShowLanguages:
    pass


@dataclass(frozen=True)
class Wipe:
    first_message_id: int
    last_message_id: int


View = (
    Say
    | ShowHelp
    | ShowMenu
    | ShowStep
    | ShowReceipt
    | ShowCase
    | ShowLanguages
    | Wipe
    | ShowMyCases
    | ConfirmWithdraw
    | ShowQueue
    | ShowCaseFile
    | ShowResponders
    | SetCommands
    | ShowAudit
)


@dataclass(frozen=True)
class Reply:
    language: Language
    views: tuple[View, ...]
    # Seconds to wait before answering: many wrong codes are being tried (bot.cases.throttle).
    delay: float = 0.0
