"""Evidence files on a really migrated database (SQLite, or PostgreSQL with
CONFIDE_TEST_DATABASE_URL): stored in sealed chunks under a key of their own, read back
exactly, refused whole when their chunks were cut, swapped or moved, and written and read
with bounded memory whatever their size."""

from __future__ import annotations

import hashlib
import tracemalloc
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from attached import (
    MB,
    attach,
    evidence_rows,
    photo,
    pieces,
    random_file,
    read,
    read_until_it_fails,
)
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine
from world import T0

from bot.crypto import CHUNK_SIZE, CaseKey, DecryptionError, Keyring, TamperedError
from bot.services import evidence
from bot.services.evidence import FileMeta, Holder, NoSuchFile, Usage
from bot.store.database import session_factory
from bot.store.evidence import CHUNK_BATCH
from bot.store.models import Case, EvidenceChunk, EvidenceFile

THREE_MB = 3 * MB + 12_345  # not a multiple of the chunk size


async def new_case(engine: AsyncEngine, keyring: Keyring) -> tuple[Case, CaseKey]:
    """A case row to file evidence under (its content does not matter here)."""
    case_id = uuid.uuid4()
    key, wrapped = keyring.new_case_key(case_id)
    case = Case(
        id=case_id,
        short_id=case_id.hex[:8],
        receipt_lookup=keyring.receipt_lookup(case_id.hex),
        wrapped_key=wrapped,
        status="new",
        submitted_at=T0,
        updated_at=T0,
    )
    async with session_factory(engine).begin() as session:
        session.add(case)
    return case, key


@pytest.fixture
async def case(migrated: AsyncEngine, keyring: Keyring) -> tuple[Case, CaseKey]:
    return await new_case(migrated, keyring)


async def chunk_rows(engine: AsyncEngine, file_id: uuid.UUID) -> list[tuple[int, bytes]]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(EvidenceChunk.index, EvidenceChunk.data)
            .where(EvidenceChunk.file_id == file_id)
            .order_by(EvidenceChunk.index)
        )
        return [(int(r[0]), bytes(r[1])) for r in rows]


@pytest.mark.parametrize("size", [THREE_MB, 0, 1, CHUNK_SIZE, 2 * CHUNK_SIZE + 1])
async def test_a_file_comes_back_exactly(
    migrated: AsyncEngine, case: tuple[Case, CaseKey], size: int
) -> None:
    row, key = case
    data = random_file(size)
    meta = photo("Screenshot 2026-11-27 at 21.04.png")
    file_id = await attach(migrated, key, Holder.of_case(row.id), data, meta)

    assert await read(migrated, key, file_id) == data
    async with session_factory(migrated)() as session:
        listed = await evidence.files_of(session, key, Holder.of_case(row.id))
        whole = replace(meta, size=size, sha256=hashlib.sha256(data).hexdigest())
        assert listed == [(file_id, whole)]
        found = listed[0]
        opened, stream = await evidence.open_file(session, key, file_id)
        assert opened == found[1]
        assert [len(p) async for p in stream] == [
            min(CHUNK_SIZE, size - start) for start in range(0, size, CHUNK_SIZE)
        ] + ([0] if size % CHUNK_SIZE == 0 else [])
    chunks = await chunk_rows(migrated, file_id)
    assert [i for i, _ in chunks] == list(range(size // CHUNK_SIZE + 1))


async def test_a_file_fed_in_pieces_of_any_size_comes_back_exactly(
    migrated: AsyncEngine, case: tuple[Case, CaseKey]
) -> None:
    row, key = case
    data = random_file(MB + 777)
    async with session_factory(migrated).begin() as session:
        file_id = await evidence.store_file(
            session, key, Holder.of_case(row.id), pieces(data, 100_003), photo(), now=T0
        )
    assert await read(migrated, key, file_id) == data


async def test_nothing_of_the_file_is_in_the_clear_in_its_row(
    migrated: AsyncEngine, case: tuple[Case, CaseKey]
) -> None:
    row, key = case
    meta = FileMeta(
        kind="pdf",
        mime="application/pdf",
        cleaned=False,
        name="payslip-rea-okafor.pdf",
        caption="what he wrote on the back",
        choice="as_is",
    )
    file_id = await attach(migrated, key, Holder.of_case(row.id), random_file(5000), meta)
    async with migrated.connect() as connection:
        stored = (
            await connection.execute(select(EvidenceFile).where(EvidenceFile.id == file_id))
        ).one()
    assert set(stored._mapping) == {
        "id",
        "case_id",
        "draft_owner",
        "wrapped_key",
        "meta",
        "chunk_count",
        "created_at",
    }
    assert stored.chunk_count == 1 and stored.draft_owner is None
    for clear in (b"payslip", b"rea-okafor", b"pdf", b"what he wrote", b"5000", b"as_is"):
        assert clear not in bytes(stored.meta) and clear not in bytes(stored.wrapped_key)
    assert stored.created_at.second == 0  # kept to the minute, as the case's times are


async def first_chunk_of(engine: AsyncEngine, file_id: uuid.UUID) -> tuple[int, bytes]:
    return (await chunk_rows(engine, file_id))[0]


async def cut_the_last_chunk(engine: AsyncEngine, file_id: uuid.UUID, _other: uuid.UUID) -> None:
    last = (await chunk_rows(engine, file_id))[-1][0]
    async with engine.begin() as connection:
        await connection.execute(
            delete(EvidenceChunk).where(
                EvidenceChunk.file_id == file_id, EvidenceChunk.index == last
            )
        )


async def swap_two_chunks(engine: AsyncEngine, file_id: uuid.UUID, _other: uuid.UUID) -> None:
    chunks = dict(await chunk_rows(engine, file_id))
    async with engine.begin() as connection:
        for index, data in ((1, chunks[2]), (2, chunks[1])):
            await connection.execute(
                update(EvidenceChunk)
                .where(EvidenceChunk.file_id == file_id, EvidenceChunk.index == index)
                .values(data=data)
            )


async def cut_a_middle_chunk(engine: AsyncEngine, file_id: uuid.UUID, _other: uuid.UUID) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            delete(EvidenceChunk).where(EvidenceChunk.file_id == file_id, EvidenceChunk.index == 3)
        )


async def move_a_chunk_from_another_file(
    engine: AsyncEngine, file_id: uuid.UUID, other: uuid.UUID
) -> None:
    """Another file's chunk 2 (same key's parent, same index) put in place of this one's."""
    async with engine.begin() as connection:
        await connection.execute(
            delete(EvidenceChunk).where(EvidenceChunk.file_id == file_id, EvidenceChunk.index == 2)
        )
        await connection.execute(
            update(EvidenceChunk)
            .where(EvidenceChunk.file_id == other, EvidenceChunk.index == 2)
            .values(file_id=file_id)
        )


async def append_another_files_last_chunk(
    engine: AsyncEngine, file_id: uuid.UUID, other: uuid.UUID
) -> None:
    """The file cut short, and another file's last chunk put where its own last one was."""
    mine, theirs = await chunk_rows(engine, file_id), await chunk_rows(engine, other)
    async with engine.begin() as connection:
        await connection.execute(
            delete(EvidenceChunk).where(
                EvidenceChunk.file_id == file_id, EvidenceChunk.index == mine[-1][0]
            )
        )
        await connection.execute(
            update(EvidenceChunk)
            .where(EvidenceChunk.file_id == other, EvidenceChunk.index == theirs[-1][0])
            .values(file_id=file_id, index=mine[-1][0])
        )


async def drop_every_chunk(engine: AsyncEngine, file_id: uuid.UUID, _other: uuid.UUID) -> None:
    async with engine.begin() as connection:
        await connection.execute(delete(EvidenceChunk).where(EvidenceChunk.file_id == file_id))


@pytest.mark.parametrize(
    "tamper",
    [
        cut_the_last_chunk,
        swap_two_chunks,
        cut_a_middle_chunk,
        move_a_chunk_from_another_file,
        append_another_files_last_chunk,
        drop_every_chunk,
    ],
)
async def test_a_file_whose_chunks_were_changed_is_refused_never_returned_whole(
    migrated: AsyncEngine, case: tuple[Case, CaseKey], tamper: object
) -> None:
    row, key = case
    data = random_file(THREE_MB)
    file_id = await attach(migrated, key, Holder.of_case(row.id), data)
    other = await attach(migrated, key, Holder.of_case(row.id), random_file(THREE_MB))
    await tamper(migrated, file_id, other)  # type: ignore[operator]

    got, error = await read_until_it_fails(migrated, key, file_id)
    assert isinstance(error, TamperedError), error
    assert got != data and len(got) < len(data)
    assert data.startswith(got)  # what came before the error was the file's own beginning


async def test_a_file_is_opened_only_by_its_own_cases_key(
    migrated: AsyncEngine, keyring: Keyring, case: tuple[Case, CaseKey]
) -> None:
    row, key = case
    file_id = await attach(migrated, key, Holder.of_case(row.id), random_file(1000))
    other_row, other_key = await new_case(migrated, keyring)
    _got, error = await read_until_it_fails(migrated, other_key, file_id)
    assert isinstance(error, DecryptionError)
    # Filed under another case without the keys: its listing there refuses to open.
    async with migrated.begin() as connection:
        await connection.execute(
            update(EvidenceFile).where(EvidenceFile.id == file_id).values(case_id=other_row.id)
        )
    async with session_factory(migrated)() as session:
        with pytest.raises(DecryptionError):
            await evidence.files_of(session, other_key, Holder.of_case(other_row.id))
        with pytest.raises(NoSuchFile):
            await evidence.open_file(session, key, uuid.uuid4())


async def test_a_swapped_description_or_key_is_refused(
    migrated: AsyncEngine, case: tuple[Case, CaseKey]
) -> None:
    row, key = case
    first = await attach(migrated, key, Holder.of_case(row.id), random_file(1000))
    second = await attach(migrated, key, Holder.of_case(row.id), random_file(1000))
    async with migrated.begin() as connection:
        meta = await connection.scalar(select(EvidenceFile.meta).where(EvidenceFile.id == second))
        await connection.execute(
            update(EvidenceFile).where(EvidenceFile.id == first).values(meta=meta)
        )
    _got, error = await read_until_it_fails(migrated, key, first)
    assert isinstance(error, DecryptionError)
    async with migrated.begin() as connection:
        await connection.execute(
            update(EvidenceFile).where(EvidenceFile.id == second).values(meta=None)
        )
    _got, error = await read_until_it_fails(migrated, key, second)
    assert isinstance(error, TamperedError)


async def test_a_drafts_files_need_the_drafts_key_and_a_cases_the_cases(
    migrated: AsyncEngine, keyring: Keyring, case: tuple[Case, CaseKey]
) -> None:
    row, key = case
    draft_key, _ = keyring.new_draft_key(uuid.uuid4())
    async with session_factory(migrated).begin() as session:
        with pytest.raises(ValueError, match="draft"):
            await evidence.store_file(
                session, draft_key, Holder.of_case(row.id), b"x", photo(), now=T0
            )
        with pytest.raises(ValueError, match="draft"):
            await evidence.store_file(
                session, key, Holder.of_draft(uuid.uuid4()), b"x", photo(), now=T0
            )
    assert await evidence_rows(migrated) == (0, 0)


async def test_a_file_that_fails_midway_leaves_nothing(
    migrated: AsyncEngine, case: tuple[Case, CaseKey]
) -> None:
    row, key = case

    async def breaks_midway() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield random_file(CHUNK_SIZE)
        raise OSError("the download broke off")

    async with session_factory(migrated).begin() as session:
        with pytest.raises(OSError, match="broke off"):
            await evidence.store_file(
                session, key, Holder.of_case(row.id), breaks_midway(), photo(), now=T0
            )
    assert await evidence_rows(migrated) == (0, 0)


async def test_usage_counts_files_and_bounds_their_size_without_keys(
    migrated: AsyncEngine, case: tuple[Case, CaseKey]
) -> None:
    row, key = case
    holder = Holder.of_case(row.id)
    async with session_factory(migrated)() as session:
        assert await evidence.usage(session, holder) == Usage(0, 0)
    await attach(migrated, key, holder, random_file(THREE_MB))
    await attach(migrated, key, holder, b"")
    async with session_factory(migrated)() as session:
        used = await evidence.usage(session, holder)
        listed = await evidence.files_of(session, key, holder)
    assert used.files == 2
    exact = sum(meta.size for _id, meta in listed)
    assert exact == THREE_MB
    assert exact <= used.bytes_at_most <= exact + 2 * CHUNK_SIZE


async def test_a_20_mb_file_is_stored_and_read_with_bounded_memory(
    migrated: AsyncEngine, case: tuple[Case, CaseKey]
) -> None:
    """Fed in 64 KiB pieces, a 20 MB file is written as it comes (the chunks already in the
    database keep up with what was fed), and neither storing nor reading it holds more than
    a few megabytes at once."""
    row, key = case
    size = 20 * MB + 1
    digest = hashlib.sha256()
    behind: list[int] = []
    tracemalloc.start()
    try:
        async with session_factory(migrated).begin() as session:

            async def source() -> AsyncIterator[bytes]:
                fed = 0
                while fed < size:
                    piece = hashlib.shake_256(fed.to_bytes(8, "big")).digest(
                        min(CHUNK_SIZE, size - fed)
                    )
                    digest.update(piece)
                    fed += len(piece)
                    yield piece
                    if fed % (2 * MB) == 0:  # how far the writes lag behind what was fed
                        written = await session.scalar(
                            select(func.count()).select_from(EvidenceChunk)
                        )
                        behind.append(fed // CHUNK_SIZE - int(written or 0))

            file_id = await evidence.store_file(
                session, key, Holder.of_case(row.id), source(), photo(), now=T0
            )
            _current, stored_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        check = hashlib.sha256()
        async with session_factory(migrated)() as session:
            meta, stream = await evidence.open_file(session, key, file_id)
            async for piece in stream:
                check.update(piece)
        _current, read_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert meta.size == size and meta.sha256 == digest.hexdigest() == check.hexdigest()
    assert stored_peak < 8 * MB, f"storing held {stored_peak / MB:.1f} MB"
    assert read_peak < 8 * MB, f"reading held {read_peak / MB:.1f} MB"
    assert len(behind) == 10 and max(behind) <= CHUNK_BATCH, behind
