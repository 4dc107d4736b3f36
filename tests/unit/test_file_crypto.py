"""bot.crypto: evidence files, each under a key of its own wrapped by its draft's or case's
key, sealed in chunks bound to the file, their index and whether they are the last."""

from __future__ import annotations

import hashlib
import os
import uuid

import pytest

from bot.crypto import (
    CHUNK_SIZE,
    CaseKey,
    DecryptionError,
    DraftKey,
    FileKey,
    Keyring,
    TamperedError,
)

SIZES = [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 1024 * 1024 + 3]


@pytest.fixture
def keyring() -> Keyring:
    return Keyring.generate()


@pytest.fixture
def draft(keyring: Keyring) -> DraftKey:
    return keyring.new_draft_key(uuid.uuid4())[0]


@pytest.fixture
def case(keyring: Keyring) -> CaseKey:
    return keyring.new_case_key(uuid.uuid4())[0]


def seal(key: FileKey, data: bytes, piece: int = 10_000) -> list[bytes]:
    sealer = key.sealer()
    chunks: list[bytes] = []
    for start in range(0, len(data), piece):
        chunks += sealer.feed(data[start : start + piece])
    return chunks + sealer.finish()


def read(key: FileKey, chunks: list[bytes]) -> bytes:
    return b"".join(key.open_all(chunks))


def flip(blob: bytes, index: int) -> bytes:
    out = bytearray(blob)
    out[index] ^= 0x01
    return bytes(out)


@pytest.mark.parametrize("size", SIZES)
def test_a_file_of_any_size_comes_back_whole(case: CaseKey, size: int) -> None:
    file_key, _ = case.new_file(uuid.uuid4())
    data = os.urandom(size)
    chunks = seal(file_key, data)
    assert len(chunks) == size // CHUNK_SIZE + 1  # whole chunks, then a shorter last one
    assert read(file_key, chunks) == data


@pytest.mark.parametrize("size", SIZES)
def test_chunk_by_chunk_sealing_matches_the_sealer(case: CaseKey, size: int) -> None:
    file_key, _ = case.new_file(uuid.uuid4())
    data = os.urandom(size)
    whole = size // CHUNK_SIZE
    chunks = [
        file_key.seal_chunk(i, data[i * CHUNK_SIZE : (i + 1) * CHUNK_SIZE], last=False)
        for i in range(whole)
    ]
    chunks.append(file_key.seal_chunk(whole, data[whole * CHUNK_SIZE :], last=True))
    assert read(file_key, chunks) == data
    assert [file_key.open_chunk(i, c, i == whole) for i, c in enumerate(chunks)] == [
        data[i * CHUNK_SIZE : (i + 1) * CHUNK_SIZE] for i in range(whole + 1)
    ]


def test_the_last_chunk_is_padded_so_the_exact_size_does_not_show(case: CaseKey) -> None:
    file_key, _ = case.new_file(uuid.uuid4())
    lengths = {len(seal(file_key, os.urandom(size))[-1]) for size in (1000, 1001, 1017, 1023)}
    assert len(lengths) == 1


def test_reordered_chunks_fail(case: CaseKey) -> None:
    file_key, _ = case.new_file(uuid.uuid4())
    chunks = seal(file_key, os.urandom(3 * CHUNK_SIZE + 5))
    swapped = [chunks[1], chunks[0], *chunks[2:]]
    with pytest.raises(TamperedError):
        read(file_key, swapped)
    with pytest.raises(DecryptionError):
        file_key.open_chunk(0, chunks[1], last=False)


def test_a_dropped_last_chunk_fails(case: CaseKey) -> None:
    file_key, _ = case.new_file(uuid.uuid4())
    chunks = seal(file_key, os.urandom(2 * CHUNK_SIZE + 100))
    with pytest.raises(TamperedError):
        read(file_key, chunks[:-1])
    with pytest.raises(TamperedError):
        read(file_key, chunks[:1])
    with pytest.raises(TamperedError):
        read(file_key, [])
    # An empty last chunk counts too: a file of whole chunks cut after its last whole one.
    whole = seal(file_key, os.urandom(2 * CHUNK_SIZE))
    assert len(whole) == 3
    with pytest.raises(TamperedError):
        read(file_key, whole[:-1])


def test_a_dropped_middle_chunk_fails(case: CaseKey) -> None:
    file_key, _ = case.new_file(uuid.uuid4())
    chunks = seal(file_key, os.urandom(3 * CHUNK_SIZE + 100))
    with pytest.raises(TamperedError):
        read(file_key, [chunks[0], *chunks[2:]])


def test_a_chunk_from_another_file_fails(case: CaseKey) -> None:
    one, _ = case.new_file(uuid.uuid4())
    other, _ = case.new_file(uuid.uuid4())
    ours = seal(one, os.urandom(2 * CHUNK_SIZE + 7))
    theirs = seal(other, os.urandom(2 * CHUNK_SIZE + 7))
    with pytest.raises(TamperedError):
        read(one, [ours[0], theirs[1], ours[2]])
    with pytest.raises(DecryptionError):
        one.open_chunk(1, theirs[1], last=False)


def test_a_wrapped_key_moved_to_another_file_fails(case: CaseKey) -> None:
    file_id = uuid.uuid4()
    _, wrapped = case.new_file(file_id)
    assert case.file_key(file_id, wrapped).file_id == file_id
    with pytest.raises(DecryptionError):
        case.file_key(uuid.uuid4(), wrapped)
    with pytest.raises(TamperedError):
        case.file_key(file_id, None)


def test_a_wrapped_key_does_not_open_under_another_case(keyring: Keyring, case: CaseKey) -> None:
    file_id = uuid.uuid4()
    _, wrapped = case.new_file(file_id)
    other = keyring.new_case_key(uuid.uuid4())[0]
    with pytest.raises(DecryptionError):
        other.file_key(file_id, wrapped)


@pytest.mark.parametrize("where", [0, 5, 17, 40, -1])
def test_a_flipped_byte_fails(case: CaseKey, where: int) -> None:
    file_key, wrapped = case.new_file(uuid.uuid4())
    chunks = seal(file_key, os.urandom(CHUNK_SIZE + 10))
    with pytest.raises(TamperedError):
        read(file_key, [flip(chunks[0], where), chunks[1]])
    with pytest.raises(TamperedError):
        read(file_key, [chunks[0], flip(chunks[1], where)])
    with pytest.raises(DecryptionError):
        case.file_key(file_key.file_id, flip(wrapped, where))


def test_the_drafts_wrapped_key_opens_under_the_case_after_submission(keyring: Keyring) -> None:
    draft = keyring.new_draft_key(uuid.uuid4())[0]
    file_id = uuid.uuid4()
    file_key, wrapped = draft.new_file(file_id)
    data = os.urandom(CHUNK_SIZE * 2 + 33)
    chunks = seal(file_key, data)
    meta = file_key.seal_meta({"name": "photo.jpg", "size": len(data)})
    case, _ = keyring.case_key_from_draft(draft, uuid.uuid4())
    reopened = case.file_key(file_id, wrapped)
    assert read(reopened, chunks) == data
    assert reopened.open_meta(meta) == {"name": "photo.jpg", "size": len(data)}


def test_a_responders_file_in_the_thread_is_under_the_case(case: CaseKey) -> None:
    file_id = uuid.uuid4()
    file_key, wrapped = case.new_file(file_id)
    chunks = seal(file_key, b"a letter")
    assert read(case.file_key(file_id, wrapped), chunks) == b"a letter"


def test_the_description_round_trips_and_hides_the_names_length(draft: DraftKey) -> None:
    file_key, _ = draft.new_file(uuid.uuid4())
    data = b"\xff\xd8\xff..."
    meta = {
        "name": "IMG_0001 — 会议室.jpg",
        "mime": "image/jpeg",
        "caption": "the hallway, 9pm",
        "size": len(data),
        "kind": "jpeg",
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    sealed = file_key.seal_meta(meta)
    assert file_key.open_meta(sealed) == meta
    short = file_key.seal_meta({**meta, "name": "a.jpg", "caption": ""})
    assert len(short) == len(sealed)
    assert b"IMG_0001" not in sealed


def test_a_description_moved_to_another_file_fails(draft: DraftKey) -> None:
    one, _ = draft.new_file(uuid.uuid4())
    other, _ = draft.new_file(uuid.uuid4())
    with pytest.raises(DecryptionError):
        other.open_meta(one.seal_meta({"name": "x"}))
    with pytest.raises(TamperedError):
        one.open_meta(None)


def test_a_chunk_is_not_a_description_and_not_a_chunk_of_another_kind(case: CaseKey) -> None:
    file_key, _ = case.new_file(uuid.uuid4())
    last = file_key.seal_chunk(0, b"{}", last=True)
    with pytest.raises(DecryptionError):
        file_key.open_meta(last)
    with pytest.raises(DecryptionError):
        file_key.open_chunk(0, last, last=False)


def test_chunks_must_be_whole_except_the_last(case: CaseKey) -> None:
    file_key, _ = case.new_file(uuid.uuid4())
    with pytest.raises(ValueError, match="before the last"):
        file_key.seal_chunk(0, b"short", last=False)
    with pytest.raises(ValueError, match="last chunk"):
        file_key.seal_chunk(0, bytes(CHUNK_SIZE), last=True)
    with pytest.raises(ValueError, match="index"):
        file_key.seal_chunk(-1, b"", last=True)


def test_a_finished_sealer_takes_nothing_more(case: CaseKey) -> None:
    sealer = case.new_file(uuid.uuid4())[0].sealer()
    sealer.feed(b"abc")
    sealer.finish()
    with pytest.raises(ValueError, match="finished"):
        sealer.feed(b"more")
    with pytest.raises(ValueError, match="finished"):
        sealer.finish()


def test_sealing_a_20_mb_stream_holds_less_than_a_chunk(case: CaseKey) -> None:
    """Memory stays bounded: whatever the pieces, the sealer keeps less than one chunk of
    plaintext, and a piece of up to a chunk brings back at most one sealed chunk."""
    file_key, _ = case.new_file(uuid.uuid4())
    sealer = file_key.sealer()
    total = 20 * 1024 * 1024
    pieces = [CHUNK_SIZE, 1, CHUNK_SIZE - 1, 7_000, CHUNK_SIZE, 65_537 - CHUNK_SIZE, 12_345]
    digest = hashlib.sha256()
    sealed_sizes: list[int] = []
    fed = 0
    turn = 0
    chunks: list[bytes] = []
    while fed < total:
        piece = os.urandom(min(pieces[turn % len(pieces)], total - fed))
        turn += 1
        fed += len(piece)
        digest.update(piece)
        out = sealer.feed(piece)
        assert len(out) <= 1
        assert sealer.pending < CHUNK_SIZE
        sealed_sizes += [len(c) for c in out]
        chunks += out
    chunks += sealer.finish()
    assert sealer.size == total and sealer.chunks == total // CHUNK_SIZE + 1
    # Each sealed whole chunk is one chunk of plaintext plus a fixed overhead.
    assert set(sealed_sizes) == {CHUNK_SIZE + 5 + 12 + 16}
    opened = hashlib.sha256()
    for plain in file_key.open_all(iter(chunks)):
        assert len(plain) <= CHUNK_SIZE
        opened.update(plain)
    assert opened.digest() == digest.digest()


def test_file_keys_never_show_or_pickle(case: CaseKey) -> None:
    import pickle

    file_key, _ = case.new_file(uuid.uuid4())
    assert repr(file_key) == "FileKey(<secret>)"
    with pytest.raises(TypeError):
        pickle.dumps(file_key)
