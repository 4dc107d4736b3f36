"""Evidence files' rows: a file (its wrapped key and sealed description) and its sealed
chunks. Everything here is ciphertext to the database; bot.services.evidence seals and opens.

A file is filed under a draft (by a random id kept in its chat's sealed state) until the report
is sent, then under its case. Chunks are written and read a batch at a time, never all of a
file at once: a file of any size passes through with a bounded amount of memory."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import EvidenceChunk, EvidenceFile

# Chunks per statement, written or read: with 64 KiB chunks, half a megabyte at a time.
CHUNK_BATCH = 8


@dataclass(frozen=True)
class Holder:
    """What files are filed under: a case, or (before submission) a draft, named by the
    random id in its chat's sealed state (never the chat row's id)."""

    case_id: uuid.UUID | None = None
    draft_owner: uuid.UUID | None = None

    def __post_init__(self) -> None:
        if (self.case_id is None) == (self.draft_owner is None):
            raise ValueError("files are filed under a case or under a draft, not both")

    @classmethod
    def of_case(cls, case_id: uuid.UUID) -> Holder:
        return cls(case_id=case_id)

    @classmethod
    def of_draft(cls, chat_row: uuid.UUID) -> Holder:
        return cls(draft_owner=chat_row)

    @property
    def is_draft(self) -> bool:
        return self.draft_owner is not None


def _filed_under(holder: Holder) -> ColumnElement[bool]:
    if holder.case_id is not None:
        return EvidenceFile.case_id == holder.case_id
    return EvidenceFile.draft_owner == holder.draft_owner


@dataclass(frozen=True)
class StoredFile:
    """A file's row, without its chunks."""

    id: uuid.UUID
    wrapped_key: bytes
    meta: bytes | None
    chunk_count: int


# ---- writing ---------------------------------------------------------------------------------


async def add_file(
    session: AsyncSession,
    file_id: uuid.UUID,
    holder: Holder,
    wrapped_key: bytes,
    created_at: datetime,
) -> None:
    """A new file's row, before its chunks; its description comes with `finish_file`."""
    await session.execute(
        insert(EvidenceFile).values(
            id=file_id,
            case_id=holder.case_id,
            draft_owner=holder.draft_owner,
            wrapped_key=wrapped_key,
            meta=None,
            chunk_count=0,
            created_at=created_at,
        )
    )


async def add_chunks(
    session: AsyncSession, file_id: uuid.UUID, first: int, chunks: Sequence[bytes]
) -> None:
    """Chunks `first`, `first + 1` ... of a file, in one statement (a batch: callers pass at
    most a few, CHUNK_BATCH)."""
    if not chunks:
        return
    await session.execute(
        insert(EvidenceChunk),
        [
            {"file_id": file_id, "index": first + offset, "data": data}
            for offset, data in enumerate(chunks)
        ],
    )


async def finish_file(
    session: AsyncSession, file_id: uuid.UUID, meta: bytes, chunk_count: int
) -> None:
    await session.execute(
        update(EvidenceFile)
        .where(EvidenceFile.id == file_id)
        .values(meta=meta, chunk_count=chunk_count)
        .execution_options(synchronize_session=False)
    )


# ---- reading ---------------------------------------------------------------------------------


async def file_row(session: AsyncSession, file_id: uuid.UUID) -> StoredFile | None:
    row = (
        await session.execute(
            select(
                EvidenceFile.id,
                EvidenceFile.wrapped_key,
                EvidenceFile.meta,
                EvidenceFile.chunk_count,
            ).where(EvidenceFile.id == file_id)
        )
    ).one_or_none()
    if row is None:
        return None
    return StoredFile(row.id, bytes(row.wrapped_key), _bytes(row.meta), row.chunk_count)


async def chunks(
    session: AsyncSession, file_id: uuid.UUID, batch: int = CHUNK_BATCH
) -> AsyncIterator[bytes]:
    """A file's sealed chunks in index order, fetched `batch` at a time (each batch read
    whole, so nothing stays open between batches). Whatever rows there are: whether they
    are the file, whole and in order, is for the crypto to say."""
    after = -1
    while True:
        rows = (
            await session.execute(
                select(EvidenceChunk.index, EvidenceChunk.data)
                .where(EvidenceChunk.file_id == file_id, EvidenceChunk.index > after)
                .order_by(EvidenceChunk.index)
                .limit(batch)
            )
        ).all()
        for _index, data in rows:
            yield bytes(data)
        if len(rows) < batch:
            return
        after = rows[-1][0]  # (a row's `.index` is the tuple's method)


def _files_under(column: Any) -> Select[uuid.UUID, bytes, bytes | None, int]:
    return (
        select(
            EvidenceFile.id, EvidenceFile.wrapped_key, EvidenceFile.meta, EvidenceFile.chunk_count
        )
        .where(column == bindparam("holder"))
        .order_by(EvidenceFile.created_at, EvidenceFile.id)
    )


# Built once: a case's files are listed each time it is opened.
_FILES_OF_CASE = _files_under(EvidenceFile.case_id)
_FILES_OF_DRAFT = _files_under(EvidenceFile.draft_owner)


async def files_of(session: AsyncSession, holder: Holder) -> list[StoredFile]:
    """The files filed under a case or a draft, oldest first (to the minute)."""
    if holder.case_id is not None:
        rows = await session.execute(_FILES_OF_CASE, {"holder": holder.case_id})
    else:
        rows = await session.execute(_FILES_OF_DRAFT, {"holder": holder.draft_owner})
    return [StoredFile(r.id, bytes(r.wrapped_key), _bytes(r.meta), r.chunk_count) for r in rows]


async def usage(session: AsyncSession, holder: Holder) -> tuple[int, int]:
    """How many files are filed under a case or a draft, and how many chunks they hold."""
    row = (
        await session.execute(
            select(func.count(), func.coalesce(func.sum(EvidenceFile.chunk_count), 0)).where(
                _filed_under(holder)
            )
        )
    ).one()
    return int(row[0]), int(row[1])


# ---- moving and deleting ---------------------------------------------------------------------


async def move_to_case(session: AsyncSession, draft_owner: uuid.UUID, case_id: uuid.UUID) -> int:
    """Submission: a draft's files become its case's (their keys' wraps stay valid: the
    draft's key is the case's). Returns how many."""
    result = await session.execute(
        update(EvidenceFile)
        .where(EvidenceFile.draft_owner == draft_owner)
        .values(case_id=case_id, draft_owner=None)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result)


async def delete_file(session: AsyncSession, file_id: uuid.UUID) -> bool:
    await session.execute(delete(EvidenceChunk).where(EvidenceChunk.file_id == file_id))
    result = await session.execute(delete(EvidenceFile).where(EvidenceFile.id == file_id))
    return _rowcount(result) == 1


async def delete_files(session: AsyncSession, holder: Holder) -> int:
    """Every file of a case or a draft, chunks first (the foreign keys would cascade, but
    SQLite enforces them only when told to). Returns how many files."""
    return await _delete_where(session, _filed_under(holder))


async def delete_case_files(session: AsyncSession, case_id: uuid.UUID) -> int:
    return await delete_files(session, Holder.of_case(case_id))


async def delete_orphaned_draft_files(
    session: AsyncSession, older_than: datetime, live: set[uuid.UUID]
) -> int:
    """Files of drafts that no longer exist (filed under none of `live`, the ids the
    existing drafts file theirs under), written before `older_than` (so not a file being
    attached right now): normally none, as a draft's files go with it in one transaction."""
    condition = EvidenceFile.draft_owner.is_not(None) & (EvidenceFile.created_at < older_than)
    if live:
        condition = condition & EvidenceFile.draft_owner.not_in(sorted(live))
    return await _delete_where(session, condition)


async def _delete_where(session: AsyncSession, condition: ColumnElement[bool]) -> int:
    ids = select(EvidenceFile.id).where(condition)
    await session.execute(
        delete(EvidenceChunk)
        .where(EvidenceChunk.file_id.in_(ids))
        .execution_options(synchronize_session=False)
    )
    result = await session.execute(
        delete(EvidenceFile).where(condition).execution_options(synchronize_session=False)
    )
    return _rowcount(result)


def _bytes(value: bytes | None) -> bytes | None:
    return None if value is None else bytes(value)


def _rowcount(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
