"""Encryption at rest: the only module in Confide that touches key material.

Envelope scheme (SecureDrop/GlobaLeaks style): each record has its own random data key
(DataKey) that encrypts its fields with AES-256-GCM, bound to (table, row, field); the data
key is stored only wrapped by a key-encryption key from the key file (Keyring.wrap). A copy
of the database without the key file reveals nothing; look-ups use keyed hashes
(Keyring.blind_index) instead of plaintext.
"""

from bot.crypto._aead import CryptoError, DataKey, DecryptionError, FieldRef, KeyConfigError
from bot.crypto._keyring import Keyring

__all__ = [
    "CryptoError",
    "DataKey",
    "DecryptionError",
    "FieldRef",
    "KeyConfigError",
    "Keyring",
]
