"""Field encryption: per-record data keys, AES-256-GCM, context-bound blobs.

Blob layout (wrapped keys and field ciphertexts alike)::

    version (1 byte) || key id (4 bytes, big-endian) || nonce (12 bytes) || ciphertext+tag

Version 1 encrypts the plaintext as it is; it is used for wrapped keys and check values,
which have a fixed size. Version 2, used for every field, pads the plaintext to a size
bucket first (`pad`), so that a ciphertext's length does not tell how long an answer was,
or how many people a list holds. Field blobs of version 1 were written before padding
existed; only the keyed migration still reads them (bot.crypto.legacy).

The header (version and key id) is also part of the associated data, so it cannot be
edited without the tag failing, and the associated data names what the blob belongs to,
so a blob copied to another row, field, table or owner does not decrypt.
"""

from __future__ import annotations

import functools
import json
import os
import struct
from dataclasses import dataclass
from typing import Any, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

BLOB_VERSION: Final = 1  # fixed-size contents: wrapped keys, check values
PADDED_VERSION: Final = 2  # fields: the plaintext is padded to a size bucket first
KEY_BYTES: Final = 32
NONCE_BYTES: Final = 12
TAG_BYTES: Final = 16
FIELD_KEY_ID: Final = 0  # field ciphertexts are under the owning record's data key
MAX_KEY_ID: Final = 0xFFFFFFFF

# Size buckets: powers of two from 64 bytes, then whole multiples of 64 KiB. Lengths leak at
# most which bucket a value falls in.
MIN_BUCKET: Final = 64
LARGE_BUCKET: Final = 64 * 1024
_PAD_MARK: Final = b"\x80"

_HEADER = struct.Struct(">BI")
HEADER_BYTES: Final = _HEADER.size  # 5
MIN_BLOB_BYTES: Final = HEADER_BYTES + NONCE_BYTES + TAG_BYTES

# Every associated-data string and keyed-hash input starts with this, so values from
# this scheme can never be confused with another scheme's (or a future version's).
_DOMAIN: Final = b"confide/v1"


class CryptoError(Exception):
    """Base class for everything bot.crypto raises on purpose."""


class KeyConfigError(CryptoError):
    """Key material is missing, malformed or wrong; the message tells the operator what to do.

    Messages never include key bytes.
    """


class DecryptionError(CryptoError):
    """A blob did not decrypt: tampered, wrong key, or bound to another row/field/table."""


class TamperedError(DecryptionError):
    """Stored data was changed by someone without the keys: a sealed value that must exist
    is missing, or a row's authentication code does not match. Messages carry no content."""


def encode_parts(kind: str, *parts: str | bytes) -> bytes:
    """Unambiguous encoding: domain, kind, then each part length-prefixed (4 bytes BE).

    Length prefixes mean ("ab", "c") and ("a", "bc") encode differently, and the kind
    separates uses (field / wrapped key / key check / blind index).
    """
    out = bytearray()
    for part in (_DOMAIN, kind, *parts):
        raw = part.encode("utf-8") if isinstance(part, str) else bytes(part)
        out += len(raw).to_bytes(4, "big")
        out += raw
    return bytes(out)


@functools.lru_cache(maxsize=4096)
def _associated_data(kind: str, header: bytes, context: tuple[str, ...]) -> bytes:
    """A blob's associated data, kept for the rows in use: a chat's fields and keys are
    sealed and opened at every step under the same few. It holds field names and record
    ids only, never key bytes or plaintext."""
    return encode_parts(kind, header, *context)


def bucket_size(length: int) -> int:
    """The padded size for `length` bytes of plaintext (one byte more for the end mark)."""
    needed = length + 1
    if needed <= LARGE_BUCKET:
        return max(MIN_BUCKET, 1 << (needed - 1).bit_length())
    return -(-needed // LARGE_BUCKET) * LARGE_BUCKET


def pad(plaintext: bytes, minimum: int = MIN_BUCKET) -> bytes:
    """ISO/IEC 7816-4 padding to the size bucket (at least `minimum`): the text, 0x80, then
    zero bytes."""
    size = max(bucket_size(len(plaintext)), minimum)
    return plaintext + _PAD_MARK + bytes(size - len(plaintext) - 1)


def unpad(padded: bytes) -> bytes | None:
    """The plaintext, or None if the padding is not ours (only after authentication)."""
    end = padded.rstrip(b"\x00")
    if not end.endswith(_PAD_MARK):
        return None
    return end[:-1]


def pack_header(key_id: int, version: int = BLOB_VERSION) -> bytes:
    return _HEADER.pack(version, key_id)


def blob_version(blob: bytes) -> int:
    """The format version of a blob (its first byte); DecryptionError if there is none."""
    if not isinstance(blob, bytes | bytearray | memoryview) or len(blob) < 1:
        raise DecryptionError("expected an encrypted blob (bytes)")
    return int(bytes(blob[:1])[0])


def split_blob(blob: bytes, version: int = BLOB_VERSION) -> tuple[int, bytes, bytes, bytes]:
    """Return (key id, header, nonce, ciphertext+tag) of a blob of the expected version;
    DecryptionError if malformed."""
    if not isinstance(blob, bytes | bytearray | memoryview):
        raise DecryptionError(f"expected an encrypted blob (bytes), got {type(blob).__name__}")
    blob = bytes(blob)
    if len(blob) < MIN_BLOB_BYTES:
        raise DecryptionError(f"encrypted blob is too short ({len(blob)} bytes): truncated?")
    found, key_id = _HEADER.unpack_from(blob)
    if found != version:
        raise DecryptionError(f"encrypted blob has version {found}, expected {version}")
    header = blob[:HEADER_BYTES]
    nonce = blob[HEADER_BYTES : HEADER_BYTES + NONCE_BYTES]
    return key_id, header, nonce, blob[HEADER_BYTES + NONCE_BYTES :]


def seal_blob(
    aead: AESGCM,
    key_id: int,
    plaintext: bytes,
    kind: str,
    *context: str,
    version: int = BLOB_VERSION,
    minimum: int = MIN_BUCKET,
) -> bytes:
    header = pack_header(key_id, version)
    if version == PADDED_VERSION:
        plaintext = pad(bytes(plaintext), minimum)
    nonce = os.urandom(NONCE_BYTES)  # random 96-bit nonce: keys seal far fewer than 2**32
    ad = _associated_data(kind, header, context)
    return header + nonce + aead.encrypt(nonce, bytes(plaintext), ad)


def open_parts(
    aead: AESGCM, header: bytes, nonce: bytes, body: bytes, kind: str, *context: str
) -> bytes | None:
    """Decrypt an already split blob; None if authentication fails (caller words the error)."""
    try:
        return aead.decrypt(nonce, body, _associated_data(kind, header, context))
    except InvalidTag:
        return None


@dataclass(frozen=True)
class FieldRef:
    """What a field ciphertext is bound to: moving it anywhere else breaks decryption.

    `meaning` holds the record's other fields that give the value its sense (a message's
    case and author, say): relabelling any of them makes the ciphertext refuse to open.
    """

    table: str
    row: str
    field: str
    meaning: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # An empty part would bind the ciphertext to less than intended; refuse it early.
        for name in ("table", "row", "field"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise ValueError(f"FieldRef.{name} must be a non-empty str, got {value!r}")
        if not all(isinstance(part, str) for part in self.meaning):
            raise ValueError("FieldRef.meaning must hold str values")

    def parts(self) -> tuple[str, ...]:
        return (self.table, self.row, self.field, *self.meaning)

    def __str__(self) -> str:
        return f"{self.table}.{self.field} of row {self.row}"


_FIELD_KIND: Final = "field"


class DataKey:
    """A record's own 256-bit data key. Stored only wrapped by a key-encryption key."""

    __slots__ = ("_aead", "_key")

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes | bytearray) or len(key) != KEY_BYTES:
            raise CryptoError(f"a data key must be exactly {KEY_BYTES} bytes")
        self._key = bytes(key)
        self._aead = AESGCM(self._key)

    @classmethod
    def generate(cls) -> DataKey:
        return cls(os.urandom(KEY_BYTES))

    def __repr__(self) -> str:
        return "DataKey(<secret>)"

    def __reduce__(self) -> Any:
        # Pickling would copy the raw key somewhere unexpected (caches, task queues).
        raise TypeError("DataKey cannot be pickled; store it wrapped (Keyring.wrap)")

    def __copy__(self) -> DataKey:
        return self  # immutable

    def __deepcopy__(self, memo: dict[int, object]) -> DataKey:
        return self

    def seal(self, plaintext: bytes, ref: FieldRef, minimum: int = MIN_BUCKET) -> bytes:
        """Encrypt one field value (padded to its size bucket, at least `minimum` bytes),
        bound to `ref`."""
        return seal_blob(
            self._aead,
            FIELD_KEY_ID,
            plaintext,
            _FIELD_KIND,
            *ref.parts(),
            version=PADDED_VERSION,
            minimum=minimum,
        )

    def open(self, sealed: bytes, ref: FieldRef) -> bytes:
        """Decrypt one field value; DecryptionError if tampered, wrong key or wrong place."""
        padded = self._open_version(sealed, ref, PADDED_VERSION)
        plaintext = unpad(padded)
        if plaintext is None:
            raise DecryptionError(f"{ref}: decrypted value is not padded as expected")
        return plaintext

    def open_unpadded(self, sealed: bytes, ref: FieldRef) -> bytes:
        """A field blob of version 1 (before padding); for the keyed migration only."""
        return self._open_version(sealed, ref, BLOB_VERSION)

    def _open_version(self, sealed: bytes, ref: FieldRef, version: int) -> bytes:
        key_id, header, nonce, body = split_blob(sealed, version)
        if key_id != FIELD_KEY_ID:
            raise DecryptionError(
                f"{ref}: blob has key id {key_id}, not a field ciphertext (key id 0)"
            )
        plaintext = open_parts(self._aead, header, nonce, body, _FIELD_KIND, *ref.parts())
        if plaintext is None:
            raise DecryptionError(
                f"cannot decrypt {ref}: tampered, wrong data key, or copied from elsewhere"
            )
        return plaintext

    def seal_text(self, text: str, ref: FieldRef) -> bytes:
        return self.seal(text.encode("utf-8"), ref)

    def open_text(self, sealed: bytes, ref: FieldRef) -> str:
        try:
            return self.open(sealed, ref).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DecryptionError(f"{ref}: decrypted value is not UTF-8 text") from exc

    def seal_json(self, value: object, ref: FieldRef) -> bytes:
        """Compact JSON (UTF-8). NaN/Infinity are refused: they are not JSON."""
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        return self.seal_text(text, ref)

    def open_json(self, sealed: bytes, ref: FieldRef) -> Any:
        text = self.open_text(sealed, ref)
        try:
            return json.loads(text)
        except ValueError as exc:
            raise DecryptionError(f"{ref}: decrypted value is not JSON") from exc


def data_key_bytes(key: DataKey) -> bytes:
    """The raw key, for Keyring.wrap only (package-private: not exported)."""
    return key._key
