"""bot.crypto: envelope encryption, key file, blind indexes, start-up key check."""

from __future__ import annotations

import base64
import os
import stat
import uuid
from pathlib import Path

import pytest

from bot.crypto import CryptoError, DecryptionError, KeyConfigError, KeyOwner, Keyring
from bot.crypto._aead import DataKey, FieldRef

REF = FieldRef("cases", "0b7c3f6e-1", "narrative")
K1 = bytes(range(32))
K2 = bytes(range(100, 132))
IDX = bytes(range(200, 232))
OWNER = "cases:0b7c3f6e-1"


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def key_forms(raw: bytes) -> list[str]:
    """Ways a key could leak into a message or repr."""
    return [raw.hex(), b64(raw), repr(raw)]


@pytest.fixture
def keyring() -> Keyring:
    return Keyring({1: K1}, IDX)


def flip(blob: bytes, index: int) -> bytes:
    out = bytearray(blob)
    out[index] ^= 0x01
    return bytes(out)


# -- field encryption -------------------------------------------------------------------------


def test_round_trip_bytes_text_json() -> None:
    key = DataKey.generate()
    assert key.open(key.seal(b"\x00raw\xff", REF), REF) == b"\x00raw\xff"
    assert key.open(key.seal(b"", REF), REF) == b""
    assert key.open_text(key.seal_text("他在会议室 — 9pm", REF), REF) == "他在会议室 — 9pm"
    value = {"when": "2024-05-01", "where": ["lab", 3], "ok": True, "none": None}
    assert key.open_json(key.seal_json(value, REF), REF) == value


def test_json_is_compact_utf8() -> None:
    key = DataKey.generate()
    sealed = key.seal_json({"a": [1, 2], "b": "é"}, REF)
    assert key.open(sealed, REF) == '{"a":[1,2],"b":"é"}'.encode()


def test_same_plaintext_seals_differently() -> None:
    key = DataKey.generate()
    first, second = key.seal(b"same", REF), key.seal(b"same", REF)
    assert first != second
    assert first[5:17] != second[5:17]  # fresh nonce each time


def test_field_blob_layout() -> None:
    """Version 2: the plaintext is padded to its size bucket (64 bytes at least)."""
    key = DataKey.generate()
    sealed = key.seal(b"hello", REF)
    assert sealed[0] == 2
    assert int.from_bytes(sealed[1:5], "big") == 0
    assert len(sealed) == 1 + 4 + 12 + 64 + 16


@pytest.mark.parametrize(
    "index",
    [0, 1, 4, 5, 16, 17, 21, -16, -1],
    ids=[
        "version",
        "keyid-hi",
        "keyid-lo",
        "nonce-0",
        "nonce-11",
        "ct-0",
        "ct-4",
        "tag-0",
        "tag-15",
    ],
)
def test_field_tampering_any_byte_fails(index: int) -> None:
    key = DataKey.generate()
    sealed = key.seal(b"hello", REF)
    with pytest.raises(DecryptionError):
        key.open(flip(sealed, index), REF)


def test_every_byte_of_field_blob_is_authenticated() -> None:
    key = DataKey.generate()
    sealed = key.seal(b"abc", REF)
    for index in range(len(sealed)):
        with pytest.raises(DecryptionError):
            key.open(flip(sealed, index), REF)


def test_truncated_and_garbage_blobs_fail() -> None:
    key = DataKey.generate()
    sealed = key.seal(b"hello", REF)
    for bad in (b"", sealed[:5], sealed[:32], sealed[:-1], sealed + b"\x00"):
        with pytest.raises(DecryptionError):
            key.open(bad, REF)


@pytest.mark.parametrize(
    "other",
    [
        FieldRef("cases", "0b7c3f6e-2", "narrative"),
        FieldRef("cases", "0b7c3f6e-1", "location"),
        FieldRef("drafts", "0b7c3f6e-1", "narrative"),
        # Naive concatenation would make these collide with REF; length prefixes must not.
        FieldRef("cases0b7c3f6e-1", "narrative", "x"),
        FieldRef("case", "s0b7c3f6e-1", "narrative"),
    ],
    ids=["other-row", "other-field", "other-table", "shifted-1", "shifted-2"],
)
def test_ciphertext_moved_elsewhere_fails(other: FieldRef) -> None:
    key = DataKey.generate()
    sealed = key.seal_text("secret", REF)
    with pytest.raises(DecryptionError):
        key.open_text(sealed, other)
    assert key.open_text(sealed, REF) == "secret"


def test_other_data_key_fails() -> None:
    sealed = DataKey.generate().seal(b"x", REF)
    with pytest.raises(DecryptionError):
        DataKey.generate().open(sealed, REF)


def test_decryption_error_is_a_crypto_error() -> None:
    assert issubclass(DecryptionError, CryptoError)
    assert issubclass(KeyConfigError, CryptoError)


def test_field_ref_refuses_empty_parts() -> None:
    with pytest.raises(ValueError, match="row"):
        FieldRef("cases", "", "narrative")


def test_data_key_requires_32_bytes() -> None:
    with pytest.raises(CryptoError):
        DataKey(b"short")


# -- wrapping and rotation --------------------------------------------------------------------


def test_wrap_unwrap_round_trip(keyring: Keyring) -> None:
    key = DataKey.generate()
    sealed = key.seal_text("report", REF)
    wrapped = keyring.wrap(key, OWNER)
    assert keyring.unwrap(wrapped, OWNER).open_text(sealed, REF) == "report"


def test_wrapped_key_layout() -> None:
    ring = Keyring({1: K1, 7: K2}, IDX)
    wrapped = ring.wrap(DataKey.generate(), OWNER)
    assert wrapped[0] == 1
    assert int.from_bytes(wrapped[1:5], "big") == 7 == ring.current_kek_id
    assert Keyring.wrapped_kek_id(wrapped) == 7
    assert len(wrapped) == 1 + 4 + 12 + 32 + 16


def test_wrapped_key_tampering_fails(keyring: Keyring) -> None:
    wrapped = keyring.wrap(DataKey.generate(), OWNER)
    for index in range(len(wrapped)):
        with pytest.raises(DecryptionError):
            keyring.unwrap(flip(wrapped, index), OWNER)


def test_wrapped_key_moved_to_other_owner_fails(keyring: Keyring) -> None:
    wrapped = keyring.wrap(DataKey.generate(), OWNER)
    for other in ("cases:0b7c3f6e-2", "drafts:0b7c3f6e-1"):
        with pytest.raises(DecryptionError):
            keyring.unwrap(wrapped, other)


def test_unwrap_without_the_kek_names_it(keyring: Keyring) -> None:
    rotated = keyring.with_new_kek()
    rotated.use_kek(2)
    wrapped = rotated.wrap(DataKey.generate(), OWNER)
    with pytest.raises(DecryptionError, match=r"key kek\.2 is not in the key file"):
        keyring.unwrap(wrapped, OWNER)


def test_unwrap_with_wrong_kek_same_id_fails(keyring: Keyring) -> None:
    wrapped = keyring.wrap(DataKey.generate(), OWNER)
    with pytest.raises(DecryptionError, match=r"kek\.1"):
        Keyring({1: K2}, IDX).unwrap(wrapped, OWNER)


def test_rotation_rewraps_without_touching_fields(keyring: Keyring) -> None:
    case_id = uuid.uuid4()
    key, wrapped = keyring.new_case_key(case_id)
    sealed = key.seal_answers({"a": "before rotation"})

    rotated = keyring.with_new_kek()
    assert rotated.kek_ids == (1, 2)
    # A new KEK is used only once every running process holds it (the database says when).
    assert rotated.current_kek_id == 1
    rotated.use_kek(2)
    assert rotated.current_kek_id == 2
    assert keyring.kek_ids == (1,)  # the original is untouched
    assert rotated.case_key(case_id, wrapped).open_answers(sealed) == {"a": "before rotation"}

    rewrapped = rotated.rewrap(KeyOwner.CASE, case_id, wrapped)
    assert Keyring.wrapped_kek_id(wrapped) == 1
    assert Keyring.wrapped_kek_id(rewrapped) == 2
    assert rotated.case_key(case_id, rewrapped).open_answers(sealed) == {"a": "before rotation"}
    with pytest.raises(DecryptionError, match=r"kek\.2"):
        keyring.case_key(case_id, rewrapped)


def test_rotation_keeps_index_key(keyring: Keyring) -> None:
    rotated = keyring.with_new_kek().with_new_kek()
    assert rotated.kek_ids == (1, 2, 3)
    assert rotated.blind_index("chat", "42") == keyring.blind_index("chat", "42")
    assert rotated.index_check() == keyring.index_check()


def test_generate_gives_fresh_keys() -> None:
    first, second = Keyring.generate(), Keyring.generate()
    assert first.kek_ids == (1,)
    assert first.dump() != second.dump()
    with pytest.raises(DecryptionError):
        second.unwrap(first.wrap(DataKey.generate(), OWNER), OWNER)


# -- constructor validation -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("keks", "index"),
    [
        ({}, IDX),
        ({0: K1}, IDX),
        ({-1: K1}, IDX),
        ({1: K1[:31]}, IDX),
        ({1: K1 + b"\x00"}, IDX),
        ({1: K1}, IDX[:16]),
        ({1: K1}, K1),  # index key reused as a KEK
    ],
    ids=["no-kek", "id-0", "id-negative", "kek-short", "kek-long", "index-short", "index-reuse"],
)
def test_keyring_validates(keks: dict[int, bytes], index: bytes) -> None:
    with pytest.raises(KeyConfigError):
        Keyring(keks, index)


def test_keyring_rejects_non_int_ids() -> None:
    with pytest.raises(KeyConfigError):
        Keyring({"1": K1}, IDX)  # type: ignore[dict-item]
    with pytest.raises(KeyConfigError):
        Keyring({True: K1}, IDX)


# -- key file text ------------------------------------------------------------------------------


def test_dump_parse_round_trip() -> None:
    ring = Keyring({1: K1, 2: K2}, IDX)
    text = ring.dump()
    assert text.startswith("#")
    assert "secret" in text.lower()
    assert "back" in text.lower()
    assert f"index = {b64(IDX)}" in text
    assert f"kek.1 = {b64(K1)}" in text
    assert f"kek.2 = {b64(K2)}" in text
    again = Keyring.parse(text)
    assert again.kek_ids == (1, 2)
    assert again.current_kek_id == 2
    assert again.dump() == text
    wrapped = ring.wrap(DataKey.generate(), OWNER)
    again.unwrap(wrapped, OWNER)  # same keys: no error


def test_parse_single_line_semicolon_form() -> None:
    line = f"index={b64(IDX)}; kek.1 = {b64(K1)} ;kek.3={b64(K2)};"
    ring = Keyring.parse(line)
    assert ring.kek_ids == (1, 3)
    assert ring.blind_index("chat", "1") == Keyring({1: K1}, IDX).blind_index("chat", "1")


def test_parse_ignores_comments_and_blank_lines() -> None:
    text = f"# a comment; with a semicolon\n\n  # indented\nindex = {b64(IDX)}\nkek.1 = {b64(K1)}\n"
    assert Keyring.parse(text).kek_ids == (1,)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "empty"),
        ("   \n\n", "empty"),
        ("# only a comment\n", "no keys"),
        (f"kek.1 = {b64(K1)}", "no 'index"),
        (f"index = {b64(IDX)}", "no 'kek"),
        (
            f"index = {b64(IDX)}\nkek.1 = {b64(K1)}\nkek.1 = {b64(K2)}",
            "line 3: 'kek.1' is given twice",
        ),
        (f"index = {b64(IDX)}\nindex = {b64(K2)}\nkek.1 = {b64(K1)}", "line 2: 'index' is given"),
        (
            f"index = {b64(IDX)}\nkek.1 = {b64(K1)[:-2]}!!",
            "line 2 ('kek.1'): the value is not valid",
        ),
        (f"index = {b64(IDX)[1:]}\nkek.1 = {b64(K1)}", "line 1 ('index'): the value is not valid"),
        (
            f"index = {b64(IDX)}\nkek.1 = {b64(K1[:31])}",
            "line 2 ('kek.1'): the value decodes to 31",
        ),
        (f"index = {b64(IDX)}; kek.1 = {b64(K1 + K2)}", "line 1, entry 2 ('kek.1')"),
        (f"index = {b64(IDX)}\nkey.1 = {b64(K1)}", "line 2: unknown entry name 'key.1'"),
        (f"index = {b64(IDX)}\nkek.0 = {b64(K1)}", "unknown entry name 'kek.0'"),
        (f"index = {b64(IDX)}\n{b64(K1).rstrip('=')}", "line 2: expected 'name = base64 value'"),
        (f"index = {b64(IDX)}\n{b64(K1)}", "unknown entry name (not shown)"),  # padding '='
        (f"index = {b64(IDX)}\n{b64(K1)[:-1]} = {b64(K2)}", "unknown entry name (not shown)"),
    ],
    ids=[
        "empty",
        "blank",
        "comments-only",
        "no-index",
        "no-kek",
        "duplicate-kek",
        "duplicate-index",
        "bad-base64",
        "bad-base64-padding",
        "short-key",
        "long-key-one-line",
        "unknown-name",
        "kek-zero",
        "no-equals",
        "bare-padded-key",
        "key-as-name",
    ],
)
def test_parse_errors_are_clear_and_leak_nothing(text: str, expected: str) -> None:
    with pytest.raises(KeyConfigError) as info:
        Keyring.parse(text)
    message = str(info.value)
    assert expected in message
    for raw in (K1, K2, IDX, K1[:31], K1 + K2):
        for form in [*key_forms(raw), b64(raw)[:20], b64(raw)[1:21]]:
            assert form not in message


# -- key file on disk ---------------------------------------------------------------------------

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")


def test_write_new_file_and_from_file(tmp_path: Path) -> None:
    path = tmp_path / "confide.keys"
    ring = Keyring({1: K1, 2: K2}, IDX)
    ring.write_new_file(path)
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = Keyring.from_file(path)
    assert loaded.dump() == ring.dump()
    assert Keyring.from_file(str(path)).kek_ids == (1, 2)


def test_write_new_file_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "confide.keys"
    path.write_text("precious")
    with pytest.raises(FileExistsError):
        Keyring.generate().write_new_file(path)
    assert path.read_text() == "precious"


@posix_only
def test_write_new_file_is_0600_despite_umask(tmp_path: Path) -> None:
    path = tmp_path / "confide.keys"
    old = os.umask(0)
    try:
        Keyring.generate().write_new_file(path)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@posix_only
@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620, 0o602])
def test_from_file_refuses_loose_modes(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "confide.keys"
    path.write_text(Keyring({1: K1}, IDX).dump())
    path.chmod(mode)
    with pytest.raises(KeyConfigError) as info:
        Keyring.from_file(path)
    message = str(info.value)
    assert f"chmod 600 {path}" in message
    assert f"{mode:04o}" in message
    for form in key_forms(K1) + key_forms(IDX):
        assert form not in message


@posix_only
def test_from_file_accepts_0600_and_0400(tmp_path: Path) -> None:
    path = tmp_path / "confide.keys"
    path.write_text(Keyring({1: K1}, IDX).dump())
    for mode in (0o600, 0o400):
        path.chmod(mode)
        assert Keyring.from_file(path).kek_ids == (1,)


def test_from_file_missing(tmp_path: Path) -> None:
    path = tmp_path / "nope.keys"
    with pytest.raises(KeyConfigError, match="does not exist"):
        Keyring.from_file(path)


def test_from_file_directory(tmp_path: Path) -> None:
    with pytest.raises(KeyConfigError, match=str(tmp_path)):
        Keyring.from_file(tmp_path)


def test_from_file_parse_error_names_file(tmp_path: Path) -> None:
    path = tmp_path / "confide.keys"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, f"index = {b64(IDX)}\n".encode())
    os.close(fd)
    with pytest.raises(KeyConfigError) as info:
        Keyring.from_file(path)
    assert str(path) in str(info.value)
    assert "kek" in str(info.value)
    assert b64(IDX) not in str(info.value)


# -- blind index --------------------------------------------------------------------------------


def test_blind_index(keyring: Keyring) -> None:
    token = keyring.blind_index("chat", "123456789")
    assert len(token) == 32
    assert token == keyring.blind_index("chat", "123456789")
    assert token == keyring.blind_index("chat", b"123456789")  # str is its UTF-8 bytes
    assert token != keyring.blind_index("chat", "123456788")
    assert token != keyring.blind_index("receipt", "123456789")
    assert token != keyring.blind_index("person", "123456789")
    assert token != Keyring({1: K1}, K2).blind_index("chat", "123456789")
    assert token != keyring.index_check()
    # Domain separation between purpose and value, not plain concatenation.
    assert keyring.blind_index("chat", "x") != keyring.blind_index("cha", "tx")


def test_the_audit_chains_fast_hasher_is_the_same_keyed_hash(keyring: Keyring) -> None:
    """`audit verify` hashes a million links with chain_hasher: each must be exactly the
    blind index the links were written with, and keyed like it."""
    link = keyring.chain_hasher()
    previous = bytes(32)
    for entry in (b"", b"1\x1f2026-11-29T10:00:00.000000+00:00\x1f\x1fop\x1fop\x1fx", bytes(300)):
        expected = keyring.blind_index("audit-chain", previous + entry)
        assert link(previous, entry) == keyring.chain_hash(previous, entry) == expected
        previous = expected
    assert Keyring({1: K1}, K2).chain_hasher()(previous, b"x") != link(previous, b"x")
    assert link(previous, b"x") != link(previous, b"y")


def test_blind_index_does_not_depend_on_keks() -> None:
    assert Keyring({1: K1}, IDX).blind_index("chat", "7") == Keyring({1: K2}, IDX).blind_index(
        "chat", "7"
    )


# -- start-up verification ----------------------------------------------------------------------


def test_verify_passes_on_matching_checks() -> None:
    ring = Keyring({1: K1, 2: K2}, IDX)
    checks = {1: ring.make_kek_check(1), 2: ring.make_kek_check(2)}
    ring.verify(checks, ring.index_check())
    Keyring.parse(ring.dump()).verify(checks, ring.index_check())
    ring.verify({}, None)  # new database: nothing stored yet
    ring.verify({1: checks[1]}, None)  # kek.2 not yet recorded by the database: fine


def test_kek_check_layout_and_freshness(keyring: Keyring) -> None:
    check = keyring.make_kek_check(1)
    assert check[0] == 1
    assert int.from_bytes(check[1:5], "big") == 1
    assert check != keyring.make_kek_check(1)
    with pytest.raises(KeyConfigError, match=r"kek\.9"):
        keyring.make_kek_check(9)


def test_verify_missing_kek() -> None:
    full = Keyring({1: K1, 2: K2}, IDX)
    checks = {1: full.make_kek_check(1), 2: full.make_kek_check(2)}
    partial = Keyring({1: K1}, IDX)
    with pytest.raises(KeyConfigError) as info:
        partial.verify(checks, full.index_check())
    message = str(info.value)
    assert "the database has data encrypted under key kek.2, which is not in the key file" in (
        message
    )
    for form in key_forms(K1) + key_forms(K2) + key_forms(IDX):
        assert form not in message


def test_verify_wrong_kek() -> None:
    right = Keyring({1: K1}, IDX)
    wrong = Keyring({1: K2}, IDX)
    with pytest.raises(KeyConfigError) as info:
        wrong.verify({1: right.make_kek_check(1)}, right.index_check())
    message = str(info.value)
    assert "key kek.1 in the key file does not match the database: wrong key file?" in message
    for form in key_forms(K1) + key_forms(K2):
        assert form not in message


def test_verify_check_blob_moved_to_other_id_fails() -> None:
    ring = Keyring({1: K1, 2: K2}, IDX)
    with pytest.raises(KeyConfigError, match=r"kek\.2"):
        ring.verify({1: ring.make_kek_check(1), 2: ring.make_kek_check(1)}, None)


def test_verify_corrupt_check_blob_fails(keyring: Keyring) -> None:
    for bad in (b"", b"\x01\x00\x00\x00\x01", flip(keyring.make_kek_check(1), -1)):
        with pytest.raises(KeyConfigError, match=r"kek\.1"):
            keyring.verify({1: bad}, None)


def test_verify_wrong_index_key() -> None:
    right = Keyring({1: K1}, IDX)
    wrong = Keyring({1: K1}, K2)
    with pytest.raises(KeyConfigError, match="index key in the key file does not match"):
        wrong.verify({1: right.make_kek_check(1)}, right.index_check())
    check = right.index_check()
    with pytest.raises(KeyConfigError, match="index key"):
        right.verify({}, check[:-1] + bytes([check[-1] ^ 1]))  # one bit off, never the same


# -- no key material in reprs ------------------------------------------------------------------


def test_reprs_hide_key_bytes() -> None:
    data_key = DataKey(K2)
    ring = Keyring({1: K1}, IDX)
    for text in (repr(data_key), str(data_key), repr(ring), str(ring), repr([data_key, ring])):
        for raw in (K1, K2, IDX):
            for form in key_forms(raw):
                assert form not in text
    assert "kek_ids=(1,)" in repr(ring)


def test_keys_cannot_be_pickled() -> None:
    import pickle

    with pytest.raises(TypeError):
        pickle.dumps(DataKey.generate())
    with pytest.raises(TypeError):
        pickle.dumps(Keyring.generate())
