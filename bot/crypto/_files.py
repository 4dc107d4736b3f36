"""Evidence files: each file has a random key of its own, stored only wrapped under the data
key of the record it belongs to (a draft's, then the case's: they are one key, so
submission re-wraps nothing), and its bytes are sealed in chunks of `CHUNK_SIZE`, so that a
file of any size is written and read with bounded memory.

A chunk is a blob like any other (`_aead`): version || key id 0 || nonce || ciphertext+tag.
Every chunk but the last holds exactly `CHUNK_SIZE` bytes and is sealed as it is (version
1); the last holds fewer, possibly none, and is padded to its size bucket first (version
2), so a file's sealed size tells its size to the bucket only. The associated data names
the file, the chunk's index and whether it is the last one: chunks cannot be reordered,
moved to another file, or cut off at the end (the new last chunk was sealed as not last).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterable, Iterator
from typing import Any, Final

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bot.crypto._aead import (
    BLOB_VERSION,
    FIELD_KEY_ID,
    KEY_BYTES,
    PADDED_VERSION,
    DataKey,
    DecryptionError,
    FieldRef,
    TamperedError,
    open_parts,
    seal_blob,
    split_blob,
    unpad,
)

CHUNK_SIZE: Final = 64 * 1024
# A file's description (name, type, caption, size ...): a caption is up to 1024 characters.
META_MIN: Final = 1024

_TABLE: Final = "files"
_CHUNK_KIND: Final = "file-chunk"


def new_file_key(parent: DataKey, file_id: uuid.UUID) -> tuple[FileKey, bytes]:
    """A new file's key, and that key wrapped under `parent` (bound to the file's id)."""
    raw = os.urandom(KEY_BYTES)
    return FileKey(raw, file_id), parent.seal(raw, _key_ref(file_id))


def open_file_key(parent: DataKey, file_id: uuid.UUID, wrapped: bytes | None) -> FileKey:
    """Unwrap a file's key; DecryptionError if it was wrapped for another file or record."""
    ref = _key_ref(file_id)
    if wrapped is None:
        raise TamperedError(f"{ref} is missing: the row was changed without the keys")
    raw = parent.open(wrapped, ref)
    if len(raw) != KEY_BYTES:
        raise DecryptionError(f"{ref}: the unwrapped value is not a file key")
    return FileKey(raw, file_id)


def _key_ref(file_id: uuid.UUID) -> FieldRef:
    if not isinstance(file_id, uuid.UUID):
        raise TypeError(f"a file id is a UUID, not {type(file_id).__name__}")
    return FieldRef(_TABLE, str(file_id), "key")


class FileKey:
    """One evidence file's key: its chunks (`seal_chunk`, or `sealer()` for a stream) and
    its description (`seal_meta`). Made only by `DraftKey`/`CaseKey` (`new_file`,
    `file_key`)."""

    __slots__ = ("_aead", "_id", "_key")

    def __init__(self, raw: bytes, file_id: uuid.UUID) -> None:
        self._key = DataKey(raw)  # the description: a padded field like any other
        self._aead = AESGCM(bytes(raw))  # the chunks
        self._id = str(file_id)

    def __repr__(self) -> str:
        return "FileKey(<secret>)"

    def __reduce__(self) -> Any:
        raise TypeError("file keys cannot be pickled; store them wrapped")

    @property
    def file_id(self) -> uuid.UUID:
        return uuid.UUID(self._id)

    # -- chunks -------------------------------------------------------------------------------

    def seal_chunk(self, index: int, data: bytes, last: bool) -> bytes:
        """Chunk `index` (0, 1, ...): exactly CHUNK_SIZE bytes, or, for the last chunk,
        fewer (possibly none)."""
        _check_index(index)
        size = len(data)
        if last and size >= CHUNK_SIZE:
            raise ValueError(f"the last chunk holds fewer than {CHUNK_SIZE} bytes, not {size}")
        if not last and size != CHUNK_SIZE:
            raise ValueError(f"a chunk before the last holds {CHUNK_SIZE} bytes, not {size}")
        return seal_blob(
            self._aead,
            FIELD_KEY_ID,
            bytes(data),
            _CHUNK_KIND,
            *self._chunk_context(index, last),
            version=PADDED_VERSION if last else BLOB_VERSION,
        )

    def open_chunk(self, index: int, blob: bytes, last: bool) -> bytes:
        """DecryptionError if the chunk is not this file's chunk `index` (and, as `last`
        says, its last one or not), or was changed."""
        _check_index(index)
        where = f"chunk {index} of file {self._id}"
        key_id, header, nonce, body = split_blob(blob, PADDED_VERSION if last else BLOB_VERSION)
        if key_id != FIELD_KEY_ID:
            raise DecryptionError(f"{where}: blob has key id {key_id}, not a file chunk")
        context = self._chunk_context(index, last)
        plaintext = open_parts(self._aead, header, nonce, body, _CHUNK_KIND, *context)
        if plaintext is None:
            raise DecryptionError(
                f"cannot decrypt {where}: tampered, moved, reordered or from another file"
            )
        if not last:
            if len(plaintext) != CHUNK_SIZE:
                raise DecryptionError(f"{where}: not a whole chunk")
            return plaintext
        unpadded = unpad(plaintext)
        if unpadded is None or len(unpadded) >= CHUNK_SIZE:
            raise DecryptionError(f"{where}: the last chunk is not padded as expected")
        return unpadded

    def sealer(self) -> FileSealer:
        """Seals a stream fed in pieces, holding less than one chunk of it at a time."""
        return FileSealer(self)

    def open_all(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        """The file's bytes, chunk by chunk, from its sealed chunks in index order.

        TamperedError if a chunk is missing, out of order, from another file, changed, or
        if the file was cut short (its last chunk missing). The error can come after
        earlier chunks were yielded: what was yielded is the file only once the iterator
        ends (the description's sha256 checks the whole)."""
        pending = iter(chunks)
        try:
            current = next(pending)
        except StopIteration:
            raise TamperedError(f"file {self._id} has no chunks: it was cut") from None
        index = 0
        for following in pending:
            yield self._open_in_file(index, current, last=False)
            current = following
            index += 1
        yield self._open_in_file(index, current, last=True)

    def _open_in_file(self, index: int, blob: bytes, last: bool) -> bytes:
        try:
            return self.open_chunk(index, blob, last)
        except DecryptionError as exc:
            # The key opened (its wrap is bound to this file): a chunk that does not is
            # stored data changed without the keys.
            raise TamperedError(
                f"file {self._id}: chunk {index} does not open as its "
                f"{'last' if last else 'next'} chunk: chunks cut, reordered, swapped or changed"
            ) from exc

    def _chunk_context(self, index: int, last: bool) -> tuple[str, str, str]:
        return (self._id, str(index), "last" if last else "more")

    # -- the file's description --------------------------------------------------------------

    def seal_meta(self, meta: dict[str, Any]) -> bytes:
        """The file's description (original name, type, caption, size, kind, sha256 ...),
        padded so that its length does not tell the name's or the caption's."""
        text = json.dumps(meta, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        return self._key.seal(text.encode("utf-8"), self._meta_ref(), META_MIN)

    def open_meta(self, sealed: bytes | None) -> dict[str, Any]:
        ref = self._meta_ref()
        if sealed is None:
            raise TamperedError(f"{ref} is missing: the row was changed without the keys")
        raw = self._key.open(sealed, ref)
        try:
            value = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise DecryptionError(f"{ref}: decrypted value is not JSON") from exc
        if not isinstance(value, dict):
            raise DecryptionError(f"{ref}: decrypted value is not a description")
        return value

    def _meta_ref(self) -> FieldRef:
        return FieldRef(_TABLE, self._id, "meta")


class FileSealer:
    """Seals one file from pieces of any size: `feed` returns the chunks that filled up,
    `finish` the last one. At most one chunk's worth of plaintext (less than CHUNK_SIZE
    bytes) waits in it between calls; feed pieces of about CHUNK_SIZE to keep the memory
    for what comes back bounded too. Not for use by two threads at once."""

    __slots__ = ("_buffer", "_done", "_index", "_key", "_size")

    def __init__(self, key: FileKey) -> None:
        self._key = key
        self._buffer = bytearray()
        self._index = 0
        self._size = 0
        self._done = False

    @property
    def pending(self) -> int:
        """Plaintext bytes held, waiting for their chunk to fill (always < CHUNK_SIZE)."""
        return len(self._buffer)

    @property
    def size(self) -> int:
        """Bytes fed so far."""
        return self._size

    @property
    def chunks(self) -> int:
        """Chunks sealed so far."""
        return self._index

    def feed(self, data: bytes) -> list[bytes]:
        if self._done:
            raise ValueError("this file is finished: no more data can be fed")
        view = memoryview(data).cast("B")
        self._size += len(view)
        sealed: list[bytes] = []
        if self._buffer:
            room = CHUNK_SIZE - len(self._buffer)
            self._buffer += view[:room]
            view = view[room:]
            if len(self._buffer) < CHUNK_SIZE:
                return sealed
            sealed.append(self._seal_whole(bytes(self._buffer)))
            self._buffer.clear()
        while len(view) >= CHUNK_SIZE:
            sealed.append(self._seal_whole(bytes(view[:CHUNK_SIZE])))
            view = view[CHUNK_SIZE:]
        self._buffer += view
        return sealed

    def finish(self) -> list[bytes]:
        """The last chunk (what is left: fewer than CHUNK_SIZE bytes, possibly none)."""
        if self._done:
            raise ValueError("this file is already finished")
        self._done = True
        last = self._key.seal_chunk(self._index, bytes(self._buffer), last=True)
        self._index += 1
        self._buffer = bytearray()
        return [last]

    def _seal_whole(self, chunk: bytes) -> bytes:
        sealed = self._key.seal_chunk(self._index, chunk, last=False)
        self._index += 1
        return sealed


def _check_index(index: int) -> None:
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise ValueError(f"a chunk index is an int from 0, not {index!r}")
