"""Blank answers, visible text, and Telegram's UTF-16 length and splitting."""

from __future__ import annotations

import pytest

from bot.intake.text import fits_utf16, is_blank, split_utf16, utf16_length, visible

ENGLAND = "\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f"
CODER = "👩\u200d💻"


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "\n\t ",
        "\u200b",
        "\u200b\u200c\u200d\u2060\ufeff\u00ad",
        "\u200b \u3000",
        "\u3164",
        "\u2800\u115f",
        "\ufe0f",
        "\u202e\u200f",
        "\U000e0067\U000e007f",
    ],
)
def test_blank(text: str) -> None:
    assert is_blank(text)
    assert visible(text) == ""


@pytest.mark.parametrize(
    "text", ["a\u200b", "\u200b.", CODER, "😀", "中", "\u3000中\u3000", ENGLAND, "❤\ufe0f"]
)
def test_not_blank(text: str) -> None:
    assert not is_blank(text)
    assert visible(text) != ""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("  hello  ", "hello"),
        ("\u200bhello\u200b", "hello"),
        ("\ufeff\u3000你好\u3000\u00ad\n", "你好"),
        ("a \u200b b", "a \u200b b"),
        (f"\u200b{CODER}\u200b", CODER),
        (f"{CODER}\u200d", CODER),
        # Trailing selectors and tags belong to the emoji before them.
        ("❤\ufe0f ", "❤\ufe0f"),
        (f" {ENGLAND}\u200b ", ENGLAND),
        ("\ufe0fa", "a"),
    ],
)
def test_visible(text: str, expected: str) -> None:
    assert visible(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", 0),
        ("a", 1),
        ("😀", 2),
        ("中", 1),
        ("a😀中", 4),
        (CODER, 5),
        (ENGLAND, 14),
        ("\ud800", 1),
    ],
)
def test_utf16_length(text: str, expected: int) -> None:
    assert utf16_length(text) == expected


def test_utf16_length_matches_encoding() -> None:
    text = "hello 😀 世界 👩\u200d💻 🇬🇧"
    assert utf16_length(text) == len(text.encode("utf-16-le")) // 2


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [("", 0, True), ("ab", 2, True), ("abc", 2, False), ("😀", 2, True), ("😀", 1, False)],
)
def test_fits_utf16(text: str, limit: int, expected: bool) -> None:
    assert fits_utf16(text, limit) is expected


def _check_pieces(text: str, limit: int) -> list[str]:
    pieces = split_utf16(text, limit)
    assert "".join(pieces) == text
    for piece in pieces:
        assert piece
        assert utf16_length(piece) <= limit
        # Raises if a piece holds half of a surrogate pair.
        piece.encode("utf-16-le", errors="strict")
    return pieces


@pytest.mark.parametrize(
    "text",
    [
        "a" * 50,
        "😀" * 25,
        "a😀" * 20,
        "中文" * 30,
        "line one\nline two\nline three\n" * 5,
        f"{CODER} {ENGLAND} 🇬🇧🇫🇷🇩🇪 e\u0301 👍🏽 " * 6,
        "e" + "\u0301" * 40,
    ],
)
@pytest.mark.parametrize("limit", [2, 3, 7, 16, 4096])
def test_split_rejoins_within_limit(text: str, limit: int) -> None:
    _check_pieces(text, limit)


def test_split_short_text_is_one_piece() -> None:
    assert split_utf16("hello", 5) == ["hello"]
    assert split_utf16("", 5) == []


def test_split_never_halves_an_emoji() -> None:
    assert _check_pieces("a😀b", 2) == ["a", "😀", "b"]
    assert _check_pieces("😀😀😀", 3) == ["😀", "😀", "😀"]


def test_split_prefers_newline_then_space() -> None:
    assert _check_pieces("one two\nthree four", 12) == ["one two\n", "three four"]
    assert _check_pieces("alpha beta gamma", 12) == ["alpha beta ", "gamma"]
    assert _check_pieces("abcdefghij", 4) == ["abcd", "efgh", "ij"]


def test_split_keeps_small_clusters_whole() -> None:
    text = f"abc{CODER}"
    assert _check_pieces(text, 6) == ["abc", CODER]
    assert _check_pieces("abcde\u0301", 5) == ["abcd", "e\u0301"]
    assert _check_pieces("a🇬🇧🇫🇷", 6) == ["a🇬🇧", "🇫🇷"]
    assert _check_pieces("a👍🏽", 4) == ["a", "👍🏽"]


@pytest.mark.parametrize("limit", [1, 0, -5])
def test_split_rejects_tiny_limits(limit: int) -> None:
    with pytest.raises(ValueError, match="limit"):
        split_utf16("abc", limit)
