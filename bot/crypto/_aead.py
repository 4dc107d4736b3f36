"""Field encryption: per-record data keys, AES-256-GCM, context-bound blobs.

Blob layout (wrapped keys and field ciphertexts alike)::

    version (1 byte, = 1) || key id (4 bytes, big-endian) || nonce (12 bytes) || ciphertext+tag

The header (version and key id) is also part of the associated data, so it cannot be
edited without the tag failing, and the associated data names what the blob belongs to,
so a blob copied to another row, field, table or owner does not decrypt.
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass
from typing import Any, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

BLOB_VERSION: Final = 1
KEY_BYTES: Final = 32
NONCE_BYTES: Final = 12
TAG_BYTES: Final = 16
FIELD_KEY_ID: Final = 0  # field ciphertexts are under the owning record's data key
MAX_KEY_ID: Final = 0xFFFFFFFF

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


def pack_header(key_id: int) -> bytes:
    return _HEADER.pack(BLOB_VERSION, key_id)


def split_blob(blob: bytes) -> tuple[int, bytes, bytes, bytes]:
    """Return (key id, header, nonce, ciphertext+tag); DecryptionError if malformed."""
    if not isinstance(blob, bytes | bytearray | memoryview):
        raise DecryptionError(f"expected an encrypted blob (bytes), got {type(blob).__name__}")
    blob = bytes(blob)
    if len(blob) < MIN_BLOB_BYTES:
        raise DecryptionError(f"encrypted blob is too short ({len(blob)} bytes): truncated?")
    version, key_id = _HEADER.unpack_from(blob)
    if version != BLOB_VERSION:
        raise DecryptionError(f"unsupported encrypted blob version {version}")
    header = blob[:HEADER_BYTES]
    nonce = blob[HEADER_BYTES : HEADER_BYTES + NONCE_BYTES]
    return key_id, header, nonce, blob[HEADER_BYTES + NONCE_BYTES :]


def seal_blob(aead: AESGCM, key_id: int, plaintext: bytes, kind: str, *context: str) -> bytes:
    header = pack_header(key_id)
    nonce = os.urandom(NONCE_BYTES)  # random 96-bit nonce: keys seal far fewer than 2**32
    ad = encode_parts(kind, header, *context)
    return header + nonce + aead.encrypt(nonce, bytes(plaintext), ad)


def open_parts(
    aead: AESGCM, header: bytes, nonce: bytes, body: bytes, kind: str, *context: str
) -> bytes | None:
    """Decrypt an already split blob; None if authentication fails (caller words the error)."""
    try:
        return aead.decrypt(nonce, body, encode_parts(kind, header, *context))
    except InvalidTag:
        return None


@dataclass(frozen=True)
class FieldRef:
    """What a field ciphertext is bound to: moving it anywhere else breaks decryption."""

    table: str
    row: str
    field: str

    def __post_init__(self) -> None:
        # An empty part would bind the ciphertext to less than intended; refuse it early.
        for name in ("table", "row", "field"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise ValueError(f"FieldRef.{name} must be a non-empty str, got {value!r}")

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

    def seal(self, plaintext: bytes, ref: FieldRef) -> bytes:
        """Encrypt one field value, bound to (table, row, field)."""
        return seal_blob(
            self._aead, FIELD_KEY_ID, plaintext, _FIELD_KIND, ref.table, ref.row, ref.field
        )

    def open(self, sealed: bytes, ref: FieldRef) -> bytes:
        """Decrypt one field value; DecryptionError if tampered, wrong key or wrong place."""
        key_id, header, nonce, body = split_blob(sealed)
        if key_id != FIELD_KEY_ID:
            raise DecryptionError(
                f"{ref}: blob has key id {key_id}, not a field ciphertext (key id 0)"
            )
        plaintext = open_parts(
            self._aead, header, nonce, body, _FIELD_KIND, ref.table, ref.row, ref.field
        )
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
