"""Sealed formats written before the trust-at-rest changes, readable for the keyed migration
only (bot.store.upgrades.trust_at_rest). Version 1 field blobs were not padded, and a message's
associated data named only its row, not its case, author or responder; lookups all used
the purpose "chat". Nothing else reads these formats."""

from __future__ import annotations

import json
import uuid
from typing import Any

from bot.crypto._aead import DataKey, DecryptionError, FieldRef
from bot.crypto._keyring import Keyring
from bot.crypto._records import KeyOwner

_OUTBOX_OWNER = "outbox"  # outbox rows had data keys of their own


def _json(key: DataKey, sealed: bytes, ref: FieldRef) -> Any:
    raw = key.open_unpadded(sealed, ref)
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise DecryptionError(f"{ref}: decrypted value is not JSON") from exc


def _text(key: DataKey, sealed: bytes, ref: FieldRef) -> str:
    try:
        return key.open_unpadded(sealed, ref).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DecryptionError(f"{ref}: decrypted value is not UTF-8 text") from exc


def chat_lookup(keyring: Keyring, chat_id: int) -> bytes:
    """Every look-up by chat used this purpose before; it is still the chats' own."""
    return keyring.chat_lookup(chat_id)


class LegacyRecord:
    """A record's v1 data key (wrapped as it is today) and its v1 field blobs."""

    def __init__(
        self, keyring: Keyring, owner: KeyOwner | str, record_id: uuid.UUID, wrapped: bytes
    ) -> None:
        name = owner.owner(record_id) if isinstance(owner, KeyOwner) else f"{owner}:{record_id}"
        self._key = keyring.unwrap(wrapped, name)
        self._table = owner.value if isinstance(owner, KeyOwner) else owner
        self._id = str(record_id)

    @classmethod
    def outbox(cls, keyring: Keyring, row_id: uuid.UUID, wrapped: bytes) -> LegacyRecord:
        return cls(keyring, _OUTBOX_OWNER, row_id, wrapped)

    def json(self, field: str, sealed: bytes) -> Any:
        return _json(self._key, sealed, FieldRef(self._table, self._id, field))

    def text(self, field: str, sealed: bytes) -> str:
        return _text(self._key, sealed, FieldRef(self._table, self._id, field))

    def message(self, row_id: uuid.UUID, sealed: bytes) -> str:
        """A message of this case's thread, sealed under the case's key."""
        return _text(self._key, sealed, FieldRef("case_messages", str(row_id), "body"))

    def note(self, row_id: uuid.UUID, sealed: bytes) -> str:
        """An internal note on this case, sealed under the case's key."""
        return _text(self._key, sealed, FieldRef("case_notes", str(row_id), "body"))
