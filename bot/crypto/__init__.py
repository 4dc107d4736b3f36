"""Encryption at rest: the only module in Confide that touches key material.

Envelope scheme (SecureDrop/GlobaLeaks style): each record has its own random data key,
stored only wrapped by a key-encryption key (KEK) from the key file. The rest of the code
speaks in records' verbs: a `CaseKey` seals and opens a case's answers, thread and notes;
a `ChatKey` a chat's state; a `DraftKey` a report being written, and becomes the case's key
at submission; a `ResponderKey` a responder's chat; a `StatisticsKey` the coarse figures
that remain of shredded cases; a `FileKey`, made by a draft's or a case's key, an evidence
file, sealed in chunks. Look-ups are keyed hashes with a purpose each
(`Keyring.chat_lookup`, `receipt_lookup` ...), and rows that grant power carry a MAC
(`Keyring.responder_mac`). A copy of the database without the key file reveals
nothing; write access to it without the key file grants nothing.
"""

from bot.crypto._aead import CryptoError, DecryptionError, KeyConfigError, TamperedError
from bot.crypto._files import CHUNK_SIZE, FileKey, FileSealer
from bot.crypto._keyring import Keyring
from bot.crypto._records import (
    CaseKey,
    ChatKey,
    DraftKey,
    InboxKey,
    KeyOwner,
    ReporterLink,
    ResponderKey,
    StatisticsKey,
)

__all__ = [
    "CHUNK_SIZE",
    "CaseKey",
    "ChatKey",
    "CryptoError",
    "DecryptionError",
    "DraftKey",
    "FileKey",
    "FileSealer",
    "InboxKey",
    "KeyConfigError",
    "KeyOwner",
    "Keyring",
    "ReporterLink",
    "ResponderKey",
    "StatisticsKey",
    "TamperedError",
]
