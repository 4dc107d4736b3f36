"""Evidence files, stored and read back: each file under a key of its own, wrapped under its
draft's or case's key (bot.crypto's FileKey), its bytes sealed in chunks of `CHUNK_SIZE`
written as they fill, its description (name, type, caption, size, hash ...) sealed beside
them. Nothing of a file reaches the database or the disk in the clear, and memory holds a
few chunks of it at a time, whatever its size.

A draft's files are filed under the draft (a random id in its sealed chat state, never its
chat row's id) and move to the case at submission
(`attach_draft_files`); a discarded or expired draft's files go with it
(`forget_draft_files`); a shredded case's go with its key (bot.store.queries'
`delete_case_content`, which every shred passes through)."""

from __future__ import annotations

import contextlib
import hashlib
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from bot.crypto import CHUNK_SIZE, CaseKey, DecryptionError, DraftKey, FileKey, TamperedError
from bot.store import evidence as stored
from bot.store.evidence import CHUNK_BATCH, Holder
from bot.store.models import Case
from bot.store.session import Session

__all__ = [
    "FileMeta",
    "Holder",
    "NoSuchFile",
    "Usage",
    "attach_draft_files",
    "files_of",
    "forget_draft_files",
    "forget_orphaned_draft_files",
    "open_file",
    "store_file",
    "usage",
]

Content = bytes | AsyncIterable[bytes]
# FileMeta.choice of a file that could not be cleaned, stored while its sender decides.
PENDING = "pending"


class NoSuchFile(LookupError):
    """No evidence file has this id (any more: its draft or case may have been shredded)."""


@dataclass(frozen=True)
class FileMeta:
    """What is known of a file. Sealed with it (bot.crypto's `seal_meta`): none of it is
    stored in the clear. `size` and `sha256` are the stored bytes', set by `store_file`."""

    kind: str  # bot.evidence's Kind ("jpeg", "pdf", ... "other")
    mime: str
    cleaned: bool  # whether its metadata (EXIF, authors ...) was removed
    sender: str = "reporter"  # "reporter", or the id of the responder who sent it
    name: str | None = None  # the file's original name, as sent
    caption: str | None = None
    question: str | None = None  # the intake question it answers, if any
    # A file that could not be cleaned is stored only if the reporter chose to send it as
    # it is: what they chose.
    choice: str | None = None
    sent_as: str | None = None  # how it came from Telegram ("photo", "document", "voice" ...)
    sent_at: str | None = None  # ISO time it was received (sealed: the row keeps the minute)
    size: int = 0
    sha256: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "mime": self.mime,
            "cleaned": self.cleaned,
            "sender": self.sender,
            "name": self.name,
            "caption": self.caption,
            "question": self.question,
            "choice": self.choice,
            "sent_as": self.sent_as,
            "sent_at": self.sent_at,
            "size": self.size,
            "sha256": self.sha256,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FileMeta:
        def text(name: str) -> str | None:
            value = data.get(name)
            return None if value is None else str(value)

        return cls(
            kind=str(data["kind"]),
            mime=str(data["mime"]),
            cleaned=bool(data["cleaned"]),
            sender=str(data.get("sender", "reporter")),
            name=text("name"),
            caption=text("caption"),
            question=text("question"),
            choice=text("choice"),
            sent_as=text("sent_as"),
            sent_at=text("sent_at"),
            size=int(data["size"]),
            sha256=str(data["sha256"]),
        )


@dataclass(frozen=True)
class Usage:
    """What a case or a draft holds, for its limits: files, and an upper bound of their size
    (every chunk counted whole), known without any key."""

    files: int
    bytes_at_most: int


async def store_file(
    session: Session,
    key: DraftKey | CaseKey,
    owner: Holder,
    content: Content,
    meta: FileMeta,
    *,
    now: datetime,
) -> uuid.UUID:
    """Seal and store a file under a draft (with the draft's key) or a case (the case's);
    returns its id. `content` is the file's bytes (already cleaned), or an async stream of
    pieces of them: each chunk is written as soon as it fills, so at most a chunk of
    plaintext and a batch of sealed chunks are held, whatever the file's size.

    The rows are written in the caller's transaction; if this raises, what was written of
    the file is deleted again (and the caller should roll back all the same)."""
    _check_key(key, owner)
    file_id = uuid.uuid4()
    file_key, wrapped = key.new_file(file_id)
    await stored.add_file(session, file_id, owner, wrapped, now)
    try:
        sealer = file_key.sealer()
        digest = hashlib.sha256()
        batch: list[bytes] = []
        written = 0
        async for piece in _pieces(content):
            digest.update(piece)
            batch += sealer.feed(piece)
            if len(batch) >= CHUNK_BATCH:
                await stored.add_chunks(session, file_id, written, batch)
                written += len(batch)
                batch = []
        batch += sealer.finish()
        await stored.add_chunks(session, file_id, written, batch)
        written += len(batch)
        whole = replace(meta, size=sealer.size, sha256=digest.hexdigest())
        await stored.finish_file(session, file_id, file_key.seal_meta(whole.to_json()), written)
    except Exception:
        with contextlib.suppress(Exception):
            await stored.delete_file(session, file_id)
        raise
    return file_id


async def open_file(
    session: Session, key: DraftKey | CaseKey, file_id: uuid.UUID
) -> tuple[FileMeta, AsyncIterator[bytes]]:
    """A file's description, and its bytes as a stream of chunks (read from `session`, which
    must stay open until the stream ends).

    DecryptionError (or TamperedError, one of them) if the file is not this key's, or its
    row was changed; the stream raises TamperedError if a chunk is missing, reordered,
    swapped, moved from another file or changed, or the file was cut short. That can happen
    after earlier chunks were yielded: the caller must treat an exception mid-stream as
    "this file is unusable" and throw away what it got. The last chunk is yielded only once
    the whole file was checked (its size and SHA-256 against its description), so a stream
    that ends without an exception yielded the file exactly as it was stored."""
    row = await stored.file_row(session, file_id)
    if row is None:
        raise NoSuchFile(str(file_id))
    file_key = key.file_key(file_id, row.wrapped_key)
    meta = FileMeta.from_json(file_key.open_meta(row.meta))
    return meta, _plaintext(session, file_key, meta)


async def files_of(
    session: Session, key: DraftKey | CaseKey, owner: Holder
) -> list[tuple[uuid.UUID, FileMeta]]:
    """The files of a draft or a case, oldest first, with their descriptions.
    DecryptionError if one of them is not this key's (a row changed without the keys)."""
    _check_key(key, owner)
    return [
        (row.id, FileMeta.from_json(key.file_key(row.id, row.wrapped_key).open_meta(row.meta)))
        for row in await stored.files_of(session, owner)
    ]


async def set_choice(
    session: Session, key: DraftKey | CaseKey, file_id: uuid.UUID, choice: str
) -> FileMeta:
    """Record in a file's sealed description what its sender chose (a file that could not
    be cleaned, kept as it is)."""
    row = await stored.file_row(session, file_id)
    if row is None:
        raise NoSuchFile(str(file_id))
    file_key = key.file_key(file_id, row.wrapped_key)
    meta = replace(FileMeta.from_json(file_key.open_meta(row.meta)), choice=choice)
    await stored.finish_file(session, file_id, file_key.seal_meta(meta.to_json()), row.chunk_count)
    return meta


async def delete_file(session: Session, file_id: uuid.UUID) -> bool:
    """One file and its chunks (the caller purges the freed pages)."""
    return await stored.delete_file(session, file_id)


async def usage(session: Session, owner: Holder) -> Usage:
    files, chunks = await stored.usage(session, owner)
    return Usage(files, chunks * CHUNK_SIZE)


async def attach_draft_files(session: Session, draft_owner: uuid.UUID, case: Case) -> int:
    # `draft_owner`: the random id the draft's files are filed under (its chat state's).
    """Submission: the draft's files become the case's (the case's row must be written
    first). Nothing is re-sealed: the draft's key became the case's. Returns how many."""
    return await stored.move_to_case(session, draft_owner, case.id)


async def forget_draft_files(session: Session, draft_owner: uuid.UUID) -> int:
    """A draft discarded or expired: its files go (the caller purges the freed pages)."""
    return await stored.delete_files(session, Holder.of_draft(draft_owner))


async def forget_orphaned_draft_files(
    session: Session, older_than: datetime, live: set[uuid.UUID]
) -> int:
    """Files of drafts that no longer exist (not among `live`, the holders of the drafts
    that do), written before `older_than`: normally none."""
    return await stored.delete_orphaned_draft_files(session, older_than, live)


# ---- helpers ---------------------------------------------------------------------------------


def _check_key(key: DraftKey | CaseKey, owner: Holder) -> None:
    if isinstance(key, DraftKey) != owner.is_draft:
        raise ValueError("a draft's files are sealed with its draft's key, a case's with its")


async def _pieces(content: Content) -> AsyncIterator[bytes]:
    """The content in pieces of at most CHUNK_SIZE bytes, so that the sealer never returns
    more than a chunk or two at once."""
    if isinstance(content, bytes | bytearray | memoryview):
        for piece in _split(memoryview(content).cast("B")):
            yield piece
        return
    async for given in content:
        for piece in _split(memoryview(given).cast("B")):
            yield piece


def _split(view: memoryview) -> Iterator[bytes]:
    for start in range(0, len(view), CHUNK_SIZE):
        yield bytes(view[start : start + CHUNK_SIZE])


async def _plaintext(session: Session, file_key: FileKey, meta: FileMeta) -> AsyncIterator[bytes]:
    """Open the chunks as they are read, one behind the reader (the last one is known only
    when no other follows), checking the whole against the description before the end."""
    digest = hashlib.sha256()
    size = 0
    index = 0
    previous: bytes | None = None
    async for blob in stored.chunks(session, file_key.file_id):
        if previous is not None:
            piece = _open(file_key, index, previous, last=False)
            digest.update(piece)
            size += len(piece)
            index += 1
            yield piece
        previous = blob
    if previous is None:
        raise TamperedError(f"evidence file {file_key.file_id} has no chunks: it was cut")
    piece = _open(file_key, index, previous, last=True)
    digest.update(piece)
    size += len(piece)
    if size != meta.size or digest.hexdigest() != meta.sha256:
        raise TamperedError(
            f"evidence file {file_key.file_id} does not match its description: chunks changed"
        )
    yield piece


def _open(file_key: FileKey, index: int, blob: bytes, *, last: bool) -> bytes:
    try:
        return file_key.open_chunk(index, blob, last)
    except DecryptionError as exc:
        # The file's key opened (its wrap is bound to the file): a chunk that does not is
        # stored data changed without the keys.
        raise TamperedError(
            f"evidence file {file_key.file_id}: chunk {index} does not open as its "
            f"{'last' if last else 'next'} chunk: chunks cut, reordered, swapped or changed"
        ) from exc
