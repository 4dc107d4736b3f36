"""The keyring: key-encryption keys (KEKs) plus the blind-index key, and the key file."""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import os
import re
import stat
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Final

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from bot.crypto._aead import (
    KEY_BYTES,
    MAX_KEY_ID,
    CryptoError,
    DataKey,
    DecryptionError,
    KeyConfigError,
    data_key_bytes,
    encode_parts,
    open_parts,
    seal_blob,
    split_blob,
)
from bot.crypto._records import (
    CaseKey,
    ChatKey,
    DraftKey,
    InboxKey,
    KeyOwner,
    ResponderKey,
    StatisticsKey,
)

_WRAP_KIND: Final = "wrapped-data-key"
_KEK_CHECK_KIND: Final = "kek-check"
_INDEX_KIND: Final = "blind-index"
_INDEX_CHECK_KIND: Final = "index-check"
_KEK_CHECK_PLAINTEXT: Final = b"confide kek check"
_MAC_KEY_INFO: Final = b"confide/v1 row-mac key"

_INDEX_NAME: Final = "index"
_KEK_NAME = re.compile(r"kek\.([1-9][0-9]{0,9})")
# Only names this short and plain are echoed in errors, so a pasted key never is.
_ECHOABLE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9._-]{0,15}")

_FILE_HEADER: Final = """\
# Confide keys. These decrypt every report in the database: keep this file secret
# (mode 0600, readable only by the bot's user) and never commit or share it.
# Back it up somewhere safe and apart from the database backups:
# losing this file loses every report, and a copy next to the database protects nothing.
"""


def kek_name(kek_id: int) -> str:
    return f"kek.{kek_id}"


def _describe_ids(ids: list[int]) -> str:
    names = ", ".join(kek_name(i) for i in ids)
    return f"key {names}, which is" if len(ids) == 1 else f"keys {names}, which are"


class _KeySet:
    """One consistent set of keys; a Keyring swaps it whole when the key file changes."""

    __slots__ = ("aeads", "current", "index_key", "keks", "mac_key")

    def __init__(self, keks: Mapping[int, bytes], index_key: bytes, current: int | None) -> None:
        self.keks: Mapping[int, bytes] = MappingProxyType(dict(sorted(keks.items())))
        self.index_key = index_key
        self.aeads = {kek_id: AESGCM(key) for kek_id, key in self.keks.items()}
        self.current = max(self.keks) if current is None else current
        # Row MACs and the audit head are keyed with a key derived from the index key, so
        # the key file keeps one secret per job without a new entry to back up.
        self.mac_key = HKDF(
            algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=_MAC_KEY_INFO
        ).derive(index_key)


class Keyring:
    """KEKs (the current one encrypts, all decrypt) and the never-rotating index key.

    Which KEK is current is the database's decision during a rotation (every running
    process must hold a new KEK before anything is wrapped under it), so it is set
    explicitly with `use_kek`; a fresh keyring wraps under its newest KEK."""

    __slots__ = ("_set",)

    def __init__(
        self, keks: Mapping[int, bytes], index_key: bytes, current: int | None = None
    ) -> None:
        if not isinstance(keks, Mapping) or not keks:
            raise KeyConfigError("the key file has no key-encryption key (kek.1 = ...)")
        checked: dict[int, bytes] = {}
        for kek_id, key in keks.items():
            if isinstance(kek_id, bool) or not isinstance(kek_id, int) or kek_id < 1:
                raise KeyConfigError("key-encryption key ids must be positive integers")
            if kek_id > MAX_KEY_ID:
                raise KeyConfigError(f"key id {kek_name(kek_id)} is too large")
            checked[kek_id] = _check_key(key, kek_name(kek_id))
        index = _check_key(index_key, "the index key")
        if any(hmac.compare_digest(index, k) for k in checked.values()):
            raise KeyConfigError(
                "the index key equals a key-encryption key; each key must be independent"
            )
        if current is not None and current not in checked:
            raise KeyConfigError(f"key {kek_name(current)} is not in the key file")
        self._set = _KeySet(checked, index, current)

    # -- construction -------------------------------------------------------------------

    @classmethod
    def generate(cls) -> Keyring:
        """A fresh keyring for a new installation: kek.1 and an index key."""
        return cls({1: os.urandom(KEY_BYTES)}, os.urandom(KEY_BYTES))

    @classmethod
    def parse(cls, text: str) -> Keyring:
        """Read key-file text; entries are separated by newlines or ';' (one-line env form)."""
        if not isinstance(text, str) or not text.strip():
            raise KeyConfigError("the key text is empty: expected 'index = ...' and 'kek.1 = ...'")
        keks: dict[int, bytes] = {}
        index_key: bytes | None = None
        seen_entry = False
        for lineno, line in enumerate(text.splitlines(), start=1):
            if line.strip().startswith("#"):
                continue
            entries = [e.strip() for e in line.split(";")]
            entries = [e for e in entries if e and not e.startswith("#")]
            for number, entry in enumerate(entries, start=1):
                where = f"line {lineno}" if len(entries) == 1 else f"line {lineno}, entry {number}"
                seen_entry = True
                name, sep, value = entry.partition("=")
                name = name.strip()
                if not sep or not name:
                    raise KeyConfigError(f"key text {where}: expected 'name = base64 value'")
                if name == _INDEX_NAME:
                    if index_key is not None:
                        raise KeyConfigError(f"key text {where}: 'index' is given twice")
                    index_key = _decode_key(value, f"key text {where} ('index')")
                    continue
                match = _KEK_NAME.fullmatch(name)
                if match is None:
                    shown = f"'{name}'" if _ECHOABLE_NAME.fullmatch(name) else "(not shown)"
                    raise KeyConfigError(
                        f"key text {where}: unknown entry name {shown}; "
                        "expected 'index' or 'kek.<n>' with n = 1, 2, ..."
                    )
                kek_id = int(match.group(1))
                if kek_id > MAX_KEY_ID:
                    raise KeyConfigError(f"key text {where}: key id {name} is too large")
                if kek_id in keks:
                    raise KeyConfigError(f"key text {where}: '{name}' is given twice")
                keks[kek_id] = _decode_key(value, f"key text {where} ('{name}')")
        if not seen_entry:
            raise KeyConfigError("the key text has only comments: no keys in it")
        if index_key is None:
            raise KeyConfigError("the key text has no 'index = ...' entry (the blind-index key)")
        if not keks:
            raise KeyConfigError("the key text has no 'kek.<n> = ...' entry (encryption key)")
        return cls(keks, index_key)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Keyring:
        """Load the key file, refusing one that group or others could read or write."""
        shown = os.fspath(path)
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except FileNotFoundError:
            raise KeyConfigError(
                f"key file {shown} does not exist: restore it from your key backup "
                "(or point the configuration at the right file)"
            ) from None
        except OSError as exc:
            raise KeyConfigError(f"key file {shown} cannot be opened: {exc.strerror}") from None
        try:
            # fstat on the open descriptor: the file checked is the file read.
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise KeyConfigError(f"key file {shown} is not a regular file")
            if os.name == "posix" and st.st_mode & 0o077:
                raise KeyConfigError(
                    f"key file {shown} is accessible by group or others "
                    f"(mode {stat.S_IMODE(st.st_mode):04o}); run: chmod 600 {shown}"
                )
            with os.fdopen(fd, "rb", closefd=False) as handle:
                raw = handle.read()
        except OSError as exc:
            raise KeyConfigError(f"key file {shown} cannot be read: {exc.strerror}") from None
        finally:
            os.close(fd)
        try:
            text = raw.decode("utf-8-sig")  # tolerate an editor-added BOM
        except UnicodeDecodeError:
            raise KeyConfigError(f"key file {shown} is not UTF-8 text") from None
        try:
            return cls.parse(text)
        except KeyConfigError as exc:
            raise KeyConfigError(f"key file {shown}: {exc}") from None

    def dump(self) -> str:
        """Key-file text (with a header saying what it is and how to keep it)."""
        lines = [_FILE_HEADER.rstrip("\n"), f"{_INDEX_NAME} = {_b64(self._set.index_key)}"]
        lines += [f"{kek_name(i)} = {_b64(k)}" for i, k in self._set.keks.items()]
        return "\n".join(lines) + "\n"

    def dump_one_line(self) -> str:
        """The same keys as one line, for CONFIDE_KEYS."""
        entries = [f"{_INDEX_NAME}={_b64(self._set.index_key)}"]
        entries += [f"{kek_name(i)}={_b64(k)}" for i, k in self._set.keks.items()]
        return ";".join(entries)

    def replace_file(self, path: str | os.PathLike[str]) -> None:
        """Write the key file anew (mode 0600) in one step: a crash leaves the old file or
        the new one, never half of either."""
        target = os.fspath(path)
        temporary = f"{target}.new"
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        self.write_new_file(temporary)
        os.replace(temporary, target)
        if os.name == "posix":
            directory = os.open(os.path.dirname(os.path.abspath(target)), os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)

    def write_new_file(self, path: str | os.PathLike[str]) -> None:
        """Create the key file with mode 0600; FileExistsError if it exists (never overwrite)."""
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
        fd = os.open(path, flags, 0o600)
        try:
            if os.name == "posix":
                os.fchmod(fd, 0o600)  # in case of an unusual umask or inherited ACL defaults
            with os.fdopen(fd, "wb", closefd=False) as handle:
                handle.write(self.dump().encode("utf-8"))
                handle.flush()
                os.fsync(handle.fileno())
        except BaseException:
            os.close(fd)
            # Only remove what this call created, never a pre-existing file (O_EXCL above).
            os.unlink(path)
            raise
        os.close(fd)

    def with_new_kek(self) -> Keyring:
        """Rotation: a copy with a new KEK (id = max + 1). It does not become current here:
        the rotation makes it current once every running process holds it."""
        keks = dict(self._set.keks)
        keks[max(keks) + 1] = os.urandom(KEY_BYTES)
        return Keyring(keks, self._set.index_key, self._set.current)

    def without_kek(self, kek_id: int) -> Keyring:
        """Retirement: a copy without that KEK (never the current one)."""
        if kek_id == self._set.current:
            raise KeyConfigError(f"{kek_name(kek_id)} is the current key and cannot be retired")
        if kek_id not in self._set.keks:
            raise KeyConfigError(f"{kek_name(kek_id)} is not in the key file")
        keks = {i: k for i, k in self._set.keks.items() if i != kek_id}
        return Keyring(keks, self._set.index_key, self._set.current)

    def use_kek(self, kek_id: int) -> None:
        """Wrap new data keys under this KEK from now on."""
        if kek_id not in self._set.keks:
            raise KeyConfigError(f"key {kek_name(kek_id)} is not in the key file")
        self._set = _KeySet(self._set.keks, self._set.index_key, kek_id)

    def reload(self, other: Keyring) -> None:
        """Take the keys of `other` (a re-read key file) in one step, keeping the current
        KEK if it is still there. The index key must not change: it names every row."""
        if not hmac.compare_digest(other._set.index_key, self._set.index_key):
            raise KeyConfigError(
                "the reloaded key file has another index key: it is not this database's"
            )
        current = self._set.current if self._set.current in other._set.keks else None
        self._set = _KeySet(other._set.keks, other._set.index_key, current)

    # -- introspection ------------------------------------------------------------------

    @property
    def current_kek_id(self) -> int:
        return self._set.current

    @property
    def kek_ids(self) -> tuple[int, ...]:
        return tuple(self._set.keks)

    def __repr__(self) -> str:
        return f"Keyring(kek_ids={self.kek_ids}, current_kek_id={self.current_kek_id})"

    def __reduce__(self) -> Any:
        raise TypeError("Keyring cannot be pickled: it holds every key")

    # -- wrapping data keys (package-private: records.py speaks for them) -----------------

    def wrap(self, key: DataKey, owner: str) -> bytes:
        """Encrypt a record's data key under the current KEK, bound to owner ("cases:<id>")."""
        _check_owner(owner)
        keys = self._set
        return seal_blob(
            keys.aeads[keys.current], keys.current, data_key_bytes(key), _WRAP_KIND, owner
        )

    def unwrap(self, wrapped: bytes, owner: str) -> DataKey:
        _check_owner(owner)
        kek_id, header, nonce, body = split_blob(wrapped)
        aead = self._set.aeads.get(kek_id)
        if aead is None:
            raise DecryptionError(
                f"cannot unwrap the data key of {owner}: key {kek_name(kek_id)} "
                "is not in the key file"
            )
        raw = open_parts(aead, header, nonce, body, _WRAP_KIND, owner)
        if raw is None:
            raise DecryptionError(
                f"cannot unwrap the data key of {owner} with {kek_name(kek_id)}: "
                "tampered, wrong key, or copied from another record"
            )
        try:
            return DataKey(raw)
        except CryptoError as exc:  # authenticated but not a key: written by something else
            raise DecryptionError(f"the wrapped key of {owner} is not a data key") from exc

    # -- records' keys ----------------------------------------------------------------------

    def new_chat_key(self, chat_id: uuid.UUID) -> tuple[ChatKey, bytes]:
        key = DataKey.generate()
        return ChatKey(key, chat_id), self.wrap(key, KeyOwner.CHAT.owner(chat_id))

    def chat_key(self, chat_id: uuid.UUID, wrapped: bytes) -> ChatKey:
        return ChatKey(self.unwrap(wrapped, KeyOwner.CHAT.owner(chat_id)), chat_id)

    def new_draft_key(self, chat_id: uuid.UUID) -> tuple[DraftKey, bytes]:
        key = DataKey.generate()
        return DraftKey(key, chat_id), self.wrap(key, KeyOwner.DRAFT.owner(chat_id))

    def draft_key(self, chat_id: uuid.UUID, wrapped: bytes) -> DraftKey:
        return DraftKey(self.unwrap(wrapped, KeyOwner.DRAFT.owner(chat_id)), chat_id)

    def case_key_from_draft(self, draft: DraftKey, case_id: uuid.UUID) -> tuple[CaseKey, bytes]:
        """Submission: the draft's key becomes the case's, so old copies of the draft (in a
        database's free pages, its WAL or a backup) are destroyed with the case."""
        key = draft._key
        return CaseKey(key, case_id), self.wrap(key, KeyOwner.CASE.owner(case_id))

    def new_case_key(self, case_id: uuid.UUID) -> tuple[CaseKey, bytes]:
        key = DataKey.generate()
        return CaseKey(key, case_id), self.wrap(key, KeyOwner.CASE.owner(case_id))

    def case_key(self, case_id: uuid.UUID, wrapped: bytes) -> CaseKey:
        return CaseKey(self.unwrap(wrapped, KeyOwner.CASE.owner(case_id)), case_id)

    def new_responder_key(self, responder_id: uuid.UUID) -> tuple[ResponderKey, bytes]:
        key = DataKey.generate()
        return ResponderKey(key, responder_id), self.wrap(
            key, KeyOwner.RESPONDER.owner(responder_id)
        )

    def responder_key(self, responder_id: uuid.UUID, wrapped: bytes) -> ResponderKey:
        owner = KeyOwner.RESPONDER.owner(responder_id)
        return ResponderKey(self.unwrap(wrapped, owner), responder_id)

    def new_inbox_key(self, update_id: int) -> tuple[InboxKey, bytes]:
        key = DataKey.generate()
        return InboxKey(key, update_id), self.wrap(key, KeyOwner.INBOX.owner(update_id))

    def inbox_key(self, update_id: int, wrapped: bytes) -> InboxKey:
        return InboxKey(self.unwrap(wrapped, KeyOwner.INBOX.owner(update_id)), update_id)

    def new_statistics_key(self, key_id: uuid.UUID) -> tuple[StatisticsKey, bytes]:
        key = DataKey.generate()
        return StatisticsKey(key, key_id), self.wrap(key, KeyOwner.STATISTICS.owner(key_id))

    def statistics_key(self, key_id: uuid.UUID, wrapped: bytes) -> StatisticsKey:
        owner = KeyOwner.STATISTICS.owner(key_id)
        return StatisticsKey(self.unwrap(wrapped, owner), key_id)

    def rewrap(self, owner: KeyOwner, record_id: uuid.UUID | int | str, wrapped: bytes) -> bytes:
        """Re-encrypt a wrapped data key under the current KEK; field blobs stay as they are."""
        name = owner.owner(record_id)
        return self.wrap(self.unwrap(wrapped, name), name)

    # -- look-ups: a keyed hash per purpose, so equal values never link across purposes ------

    def chat_lookup(self, chat_id: int) -> bytes:
        """Finds a chat's conversation row."""
        return self.blind_index("chat", str(chat_id))

    def responder_lookup(self, chat_id: int) -> bytes:
        """Finds the responder who uses this chat."""
        return self.blind_index("responder", str(chat_id))

    def reporter_lookup(self, chat_id: int) -> bytes:
        """Lists the cases whose reporter chose to be told in this chat."""
        return self.blind_index("reporter", str(chat_id))

    def receipt_lookup(self, code: str) -> bytes:
        return self.blind_index("receipt", code)

    def invite_lookup(self, code: str) -> bytes:
        return self.blind_index("invite", code)

    # -- the webhook's shared secret --------------------------------------------------------

    def webhook_secret(self) -> str:
        """The secret Telegram sends with every webhook request. Derived from the index key
        (which never rotates), so every replica holding this key file knows the same one and a
        key rotation does not change it; rendered in the alphabet Telegram allows
        (A-Za-z0-9_-, 43 characters)."""
        digest = self.mac("webhook-secret", "telegram")
        return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")

    def webhook_secret_matches(self, given: str | None) -> bool:
        """Whether a request's secret header is ours, compared in constant time."""
        if given is None:
            return False
        expected = self.webhook_secret().encode("ascii")
        return hmac.compare_digest(given.encode("utf-8", "replace"), expected)

    # -- rows that grant power carry a MAC: forging or editing one without the keys fails ------

    def responder_mac(
        self,
        *,
        responder_id: uuid.UUID,
        lookup: bytes,
        role: str,
        active: bool,
        chat: bytes,
        revoked_at: datetime | None,
        display_name: str,
    ) -> bytes:
        return self.mac(
            "responder-row",
            str(responder_id),
            bytes(lookup),
            role,
            "active" if active else "inactive",
            bytes(chat),
            _minute(revoked_at),
            display_name,
        )

    def invite_mac(
        self,
        *,
        invite_id: uuid.UUID,
        code_lookup: bytes,
        role: str,
        display_name: str,
        expires_at: datetime,
        used_at: datetime | None,
        revoked_at: datetime | None = None,
    ) -> bytes:
        """A revoked invite's MAC covers its revocation, so clearing `revoked_at` in the
        database breaks the MAC and the code enrols no one. An invite never revoked is
        authenticated exactly as before revocation existed: codes already handed out stay
        valid across the upgrade."""
        revocation = () if revoked_at is None else ("revoked", _minute(revoked_at))
        return self.mac(
            "invite-row",
            str(invite_id),
            bytes(code_lookup),
            role,
            display_name,
            _minute(expires_at),
            _minute(used_at),
            *revocation,
        )

    def audit_head_mac(self, seq: int, link: bytes) -> bytes:
        """The audit log's head: its last link and how many entries it has, so that a cut
        tail (and the head rewritten to match) is detected."""
        return self.mac("audit-head", str(seq), bytes(link))

    @staticmethod
    def wrapped_kek_id(wrapped: bytes) -> int:
        """Which KEK a wrapped key is under (to find keys still needing a rewrap)."""
        return split_blob(wrapped)[0]

    # -- keyed hashes and authentication codes ------------------------------------------------

    def mac(self, kind: str, *parts: str | bytes) -> bytes:
        """HMAC-SHA256 under the derived MAC key over an unambiguous encoding of `parts`."""
        return hmac.new(self._set.mac_key, encode_parts(kind, *parts), hashlib.sha256).digest()

    @staticmethod
    def macs_match(expected: bytes | None, actual: bytes) -> bool:
        """Constant-time comparison; a missing MAC never matches."""
        return expected is not None and hmac.compare_digest(bytes(expected), actual)

    def chain_hash(self, previous: bytes, entry: bytes) -> bytes:
        """The audit log's link: a keyed hash of the previous link and this entry, so that
        someone who can write to the database, but has no key, cannot forge a new chain."""
        return self.chain_hasher()(previous, entry)

    def chain_hasher(self) -> Callable[[bytes, bytes], bytes]:
        """chain_hash for many links in a row (`confide audit verify` checks a million): the
        same blind index, with its key and the fixed head of its encoding taken once and
        OpenSSL's one-shot HMAC, instead of building each from scratch per link."""
        key = self._set.index_key
        head = encode_parts(_INDEX_KIND, "audit-chain")  # the parts before the value's
        digest = hmac.digest

        def link(previous: bytes, entry: bytes) -> bytes:
            value = previous + entry
            return digest(key, head + len(value).to_bytes(4, "big") + value, "sha256")

        return link

    def blind_index(self, purpose: str, value: str | bytes) -> bytes:
        """HMAC-SHA256 look-up token: equal inputs match, but the hash reveals nothing.

        The purpose ("chat", "receipt", "person") separates domains, so a chat id's token
        cannot be matched against a receipt's.
        """
        if not isinstance(purpose, str) or not purpose:
            raise ValueError("blind_index purpose must be a non-empty str")
        if not isinstance(value, str | bytes):
            raise TypeError(f"blind_index value must be str or bytes, not {type(value).__name__}")
        message = encode_parts(_INDEX_KIND, purpose, value)
        return hmac.new(self._set.index_key, message, hashlib.sha256).digest()

    # -- start-up key check -------------------------------------------------------------------

    def make_kek_check(self, kek_id: int) -> bytes:
        """A constant sealed under that KEK, for the database to keep and verify() to test."""
        aead = self._set.aeads.get(kek_id)
        if aead is None:
            raise KeyConfigError(f"key {kek_name(kek_id)} is not in the key file")
        return seal_blob(aead, kek_id, _KEK_CHECK_PLAINTEXT, _KEK_CHECK_KIND, str(kek_id))

    def index_check(self) -> bytes:
        """HMAC of a constant under the index key, for the database to keep and compare."""
        message = encode_parts(_INDEX_CHECK_KIND)
        return hmac.new(self._set.index_key, message, hashlib.sha256).digest()

    def verify(self, kek_checks: Mapping[int, bytes], index_check: bytes | None) -> None:
        """Check the key file against the database's check values before touching data.

        kek_checks maps each KEK id the database uses to its make_kek_check() blob;
        index_check is None only for a database that has not stored one yet. KEKs in the
        file but unknown to the database are fine (a new key whose check is not yet stored).
        """
        missing = sorted(i for i in kek_checks if i not in self._set.aeads)
        if missing:
            raise KeyConfigError(
                f"the database has data encrypted under {_describe_ids(missing)} "
                "not in the key file: use the key file that belongs to this database "
                "(or restore the missing key from your backup)"
            )
        wrong = sorted(i for i, blob in kek_checks.items() if not self._kek_check_ok(i, blob))
        if wrong:
            names = ", ".join(kek_name(i) for i in wrong)
            subject = f"key {names} in the key file does"
            if len(wrong) > 1:
                subject = f"keys {names} in the key file do"
            raise KeyConfigError(
                f"{subject} not match the database: wrong key file? "
                "Use the key file that belongs to this database."
            )
        if index_check is not None and not hmac.compare_digest(
            bytes(index_check), self.index_check()
        ):
            raise KeyConfigError(
                "the index key in the key file does not match the database: wrong key file? "
                "Use the key file that belongs to this database."
            )

    def _kek_check_ok(self, kek_id: int, blob: bytes) -> bool:
        try:
            blob_id, header, nonce, body = split_blob(blob)
        except DecryptionError:
            return False
        if blob_id != kek_id:
            return False
        opened = open_parts(
            self._set.aeads[kek_id], header, nonce, body, _KEK_CHECK_KIND, str(kek_id)
        )
        return opened is not None and hmac.compare_digest(opened, _KEK_CHECK_PLAINTEXT)


def _minute(moment: datetime | None) -> str:
    """Times inside MACs: UTC to the minute, the precision the database keeps."""
    if moment is None:
        return ""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def _check_key(key: object, what: str) -> bytes:
    if not isinstance(key, bytes | bytearray):
        raise KeyConfigError(f"{what} must be bytes")
    if len(key) != KEY_BYTES:
        raise KeyConfigError(f"{what} must be {KEY_BYTES} bytes, not {len(key)}")
    return bytes(key)


def _check_owner(owner: str) -> None:
    if not isinstance(owner, str) or not owner:
        raise ValueError("owner must be a non-empty str such as 'cases:<id>'")


def _decode_key(value: str, where: str) -> bytes:
    """Standard base64 of exactly 32 bytes; the error names the entry, never the value."""
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise KeyConfigError(f"{where}: the value is not valid standard base64") from None
    if len(raw) != KEY_BYTES:
        raise KeyConfigError(
            f"{where}: the value decodes to {len(raw)} bytes; keys are {KEY_BYTES} bytes"
        )
    return raw


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")
