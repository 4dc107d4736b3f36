"""Handing a case's evidence files to a reader: each one as a view the shell sends as a new
upload of its cleaned bytes (never a forward: a forward shows where it came from), with a
neutral name (C-7F3K-1.jpg: an original name can identify its sender) and protected
content. The bytes are read when the shell sends the file, in a session of their own, one
file at a time. Each file handed over is an audit entry."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable

from bot.crypto import CaseKey
from bot.evidence import Kind
from bot.services import evidence
from bot.services.evidence import PENDING, FileMeta, Holder
from bot.services.protocol import Say, ShowFile, View
from bot.services.turn import Turn
from bot.store.models import Case

log = logging.getLogger(__name__)

# How a file goes out: as Telegram's kind it came as, or as a document.
SENT_AS = frozenset({"photo", "voice", "audio", "video", "video_note"})


async def case_files(turn: Turn, case: Case, key: CaseKey) -> list[tuple[uuid.UUID, FileMeta]]:
    """A case's files that are kept (not one still waiting for its sender's choice): those
    sent with the report in the order they were sent (as its answers list them), then
    those sent in the thread."""
    files = await evidence.files_of(turn.session, key, Holder.of_case(case.id))
    order: dict[str, int] = {}
    for answer in turn.vault.answers(case).get("answers", {}).values():
        for item in answer if isinstance(answer, list) else ():
            order.setdefault(str(item), len(order))
    kept = [(file_id, meta) for file_id, meta in files if meta.choice != PENDING]
    return sorted(
        kept, key=lambda pair: (order.get(pair[0].hex, len(order)), pair[1].sent_at or "")
    )


def neutral_name(case: Case, number: int, meta: FileMeta) -> str:
    try:
        extension = Kind(meta.kind).extension
    except ValueError:
        extension = "bin"
    return f"{case.short_id}-{number}.{extension}"


async def deliver(turn: Turn, case: Case, key: CaseKey, *, to_reporter: bool = False) -> list[View]:
    """The case's files as views, each audited as opened."""
    views: list[View] = []
    for number, (file_id, meta) in enumerate(await case_files(turn, case, key), start=1):
        if to_reporter and meta.sender == "reporter":
            continue  # the reporter has their own files
        views.append(
            ShowFile(
                short_id=case.short_id,
                name=neutral_name(case, number, meta),
                send_as=meta.sent_as if meta.sent_as in SENT_AS else "document",
                load=loader(turn, key, file_id),
                question=meta.question,
                caption=meta.caption,
                from_reporter=meta.sender == "reporter",
                confidential=True,  # protected; deleted later in a responder's chat
            )
        )
        await turn.audit(case, "file_opened")
    if views:
        log.info("event=evidence_delivered case=%s files=%d", case.short_id, len(views))
    return views


async def original_names(turn: Turn, case: Case, key: CaseKey) -> list[View]:
    """The files' original names, on a responder's request: audited."""
    files = await case_files(turn, case, key)
    if not files:
        return [Say("no_files", {"case": case.short_id})]
    await turn.audit(case, "file_names")
    lines = "\n".join(
        f"{neutral_name(case, n, meta)} ← {meta.name or '—'}"
        for n, (_, meta) in enumerate(files, start=1)
    )
    return [Say("file_names", {"case": case.short_id, "names": lines})]


def loader(turn: Turn, key: CaseKey, file_id: uuid.UUID) -> Callable[[], Awaitable[bytes]]:
    sessions = turn.context.sessions

    async def load() -> bytes:
        async with sessions() as session:
            _, stream = await evidence.open_file(session, key, file_id)
            data = bytearray()
            async for piece in stream:
                data += piece
            return bytes(data)

    return load
