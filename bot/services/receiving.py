"""Taking in an evidence file: its limits checked before it is downloaded, its bytes fetched
through the shell's `fetch` (services never touch Telegram), cleaned in a worker thread
(bot.evidence: never on the event loop), then sealed and stored (bot.services.evidence).

A file whose kind cannot be cleaned (video, sound, unknown types) is stored and held as
*pending*: its sender is asked whether to keep it as it is, and the answer is recorded in
the file's sealed description; skipped, it is deleted. Voice and video notes are recorded
inside Telegram, by its own encoder: they are kept without asking (the choice recorded is
"telegram_recording")."""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass

from bot.crypto import CaseKey, DraftKey
from bot.evidence import Cleaned, Unreadable, clean, sniff
from bot.intake.flow import FileNote
from bot.services import evidence
from bot.services.evidence import PENDING, FileMeta, Holder
from bot.services.protocol import FetchFailed, FileSent, Say
from bot.services.turn import Turn

log = logging.getLogger(__name__)

RECORDED_IN_TELEGRAM = frozenset({"voice", "video_note"})
SENT_ANYWAY = "send_anyway"


@dataclass(frozen=True)
class Received:
    file_id: uuid.UUID
    note: FileNote
    pending: bool  # could not be cleaned: its sender must say whether to keep it


def draft_holder(turn: Turn) -> Holder:
    """The draft's files' holder: a random id kept in the sealed chat state."""
    if turn.state.draft_files is None:
        turn.state.draft_files = uuid.uuid4().hex
    return Holder.of_draft(uuid.UUID(turn.state.draft_files))


async def receive(
    turn: Turn,
    event: FileSent,
    key: DraftKey | CaseKey,
    holder: Holder,
    *,
    question: str | None = None,
    sender: str = "reporter",
    ask: bool = True,
) -> Received | Say:
    """Check, fetch, clean and store one file; a Say when it is refused."""
    limits = turn.context.evidence
    too_big = Say("file_too_big", {"mb": f"{limits.max_file_mb:g}"})
    if event.size is not None and event.size > limits.max_file_bytes:
        log.info("event=evidence_refused reason=too_big")
        return too_big  # before downloading anything
    used = await evidence.usage(turn.session, holder)
    if (
        used.files >= limits.max_files
        or used.bytes_at_most + (event.size or 0) > limits.max_total_bytes
    ):
        log.info("event=evidence_refused reason=case_full")
        return Say("file_case_full", {"files": limits.max_files, "mb": f"{limits.max_total_mb:g}"})
    try:
        data = await event.fetch()
    except FetchFailed as failure:
        log.info("event=evidence_refused reason=%s", "too_big" if failure.too_big else "fetch")
        return too_big if failure.too_big else Say("file_not_received")
    if len(data) > limits.max_file_bytes:
        return too_big
    try:
        cleaned = await asyncio.to_thread(_clean, data, event.mime, event.name)
    except Unreadable:
        log.info("event=evidence_refused reason=unreadable")
        return Say("file_unreadable")
    del data
    recorded = event.sent_as in RECORDED_IN_TELEGRAM
    pending = ask and not cleaned.cleaned and not recorded
    meta = FileMeta(
        kind=cleaned.kind.value,
        mime=cleaned.mime,
        cleaned=cleaned.cleaned,
        sender=sender,
        name=event.name,
        caption=event.caption,
        question=question,
        choice=PENDING if pending else _choice(cleaned.cleaned, recorded),
        sent_as=event.sent_as,
        sent_at=turn.now.isoformat(),
    )
    file_id = await evidence.store_file(turn.session, key, holder, cleaned.data, meta, now=turn.now)
    log.info("event=evidence_stored kind=%s cleaned=%s", cleaned.kind.value, cleaned.cleaned)
    note = FileNote(
        id=file_id.hex,
        question=question or "",
        kind=_shown_kind(event.sent_as, cleaned.kind.value),
        size=cleaned.size,
        name=event.name,
    )
    return Received(file_id, note, pending)


def hold(turn: Turn, received: Received, case: str | None = None) -> None:
    """Keep a file that could not be cleaned waiting for its sender's choice."""
    note = received.note
    turn.state.pending_file = {
        **note.to_json(),
        **({"case": case} if case is not None else {}),
    }


async def settle(turn: Turn, key: DraftKey | CaseKey, keep: bool) -> FileNote | None:
    """The sender's choice about the pending file: kept (its choice recorded, its note
    returned) or deleted (None)."""
    pending = turn.state.pending_file
    turn.state.pending_file = None
    if pending is None:
        return None
    note = FileNote.from_json(pending)
    file_id = uuid.UUID(note.id)
    if not keep:
        await evidence.delete_file(turn.session, file_id)
        turn.shredded = True
        log.info("event=evidence_skipped")
        return None
    await evidence.set_choice(turn.session, key, file_id, SENT_ANYWAY)
    return note


def _choice(cleaned: bool, recorded: bool) -> str | None:
    if cleaned:
        return None
    return "telegram_recording" if recorded else "not_asked"  # a responder's file


def _clean(data: bytes, mime: str | None, name: str | None) -> Cleaned:
    return clean(data, sniff(data, mime, name))


def _shown_kind(sent_as: str, kind: str) -> str:
    """How a file is named back to its sender: Telegram's photo / voice / video note, else
    what its bytes are (pdf, docx, jpeg ...)."""
    return sent_as if sent_as in ("photo", "voice", "video_note") else kind
