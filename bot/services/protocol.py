"""What passes between the Telegram shell and the services: events in, views out.

Events are what a person did (typed, pressed, sent a sticker), already parsed; views are
what they should see, still without words — the shell renders them from the catalogue."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
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


class FetchFailed(Exception):
    """A file could not be downloaded from Telegram; `too_big` if Telegram refused it for
    its size (the cloud Bot API's 20 MB)."""

    def __init__(self, too_big: bool = False) -> None:
        super().__init__("too big" if too_big else "download failed")
        self.too_big = too_big


@dataclass(frozen=True)
class FileSent:
    """A photo, document, voice note, audio, video or video note. The shell gives its
    description and `fetch`, which downloads its bytes (raising FetchFailed): services never
    touch Telegram. `size` is what Telegram said before any download (None if it did not)."""

    sent_as: str  # "photo", "document", "voice", "audio", "video", "video_note"
    size: int | None
    fetch: Callable[[], Awaitable[bytes]] = field(repr=False, compare=False)
    name: str | None = field(default=None, repr=False)
    mime: str | None = None  # as declared by the sender's app
    caption: str | None = field(default=None, repr=False)  # kept as text with the file
    album: str | None = None  # the media group it came in, if any


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
    FILE_SEND = "fsend"  # store a file that could not be cleaned, as it is
    FILE_SKIP = "fskip"  # or not


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
    | FileSent
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
    page: int = 1
    pages: int = 1


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
    """A page of a list of cases. There is no page count: what a responder may see of a
    case is sealed in it, and counting would mean opening every one (bot.services.listing).
    `previous` and `next` are what those buttons carry; None: no such page."""

    kind: str  # "queue", "mine" or "overdue"
    items: tuple[QueueItem, ...]
    page: int
    previous: str | None = None
    next: str | None = None


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
    files: int = 0  # evidence files, sent after it (ShowFile)


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
    page: int = 1
    pages: int = 1


@dataclass(frozen=True)
class ShowResponders:
    people: tuple[tuple[str, str, bool], ...]  # (display name, role, active)
    page: int = 1
    pages: int = 1


@dataclass(frozen=True)
class SetCommands:
    """Show this chat the command menu of its role ("reporter" restores the default)."""

    role: str


@dataclass(frozen=True)
class ShowLanguages:
    pass


@dataclass(frozen=True)
class AskKeepFile:
    """A file that could not be cleaned (video, sound, an unknown type) was received: keep
    it as it is (Menu.FILE_SEND) or not (Menu.FILE_SKIP)?"""

    kind: str


@dataclass(frozen=True)
class ShowFile:
    """An evidence file, sent as a new upload of its cleaned bytes (never a forward), with
    a neutral name; `load` reads its bytes (opening a session of its own) when it is sent,
    so that one file at a time is held. Captioned with the case and the question."""

    short_id: str
    name: str  # neutral: C-7F3K-1.jpg
    send_as: str  # "photo", "document", "voice", "audio", "video", "video_note"
    load: Callable[[], Awaitable[bytes]] = field(repr=False, compare=False)
    question: str | None = None  # the intake question it answers
    caption: str | None = field(default=None, repr=False)  # what its sender wrote with it
    from_reporter: bool = True
    confidential: bool = True  # protect_content


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
    | ShowFile
    | AskKeepFile
)


@dataclass(frozen=True)
class Reply:
    language: Language
    views: tuple[View, ...]
    # Seconds to wait before answering: many wrong codes are being tried (bot.cases.throttle).
    delay: float = 0.0
