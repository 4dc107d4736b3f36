"""Receipt codes, dates, the catalogue and settings."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from bot.cases.ids import (
    ALPHABET,
    new_receipt_code,
    new_short_id,
    normalize_receipt_code,
    normalize_short_id,
)
from bot.config import ConfigError, load_settings
from bot.i18n import catalogue, pick_language
from bot.intake.dates import UNKNOWN, DateError, parse_date_answer

TODAY = date(2026, 11, 28)


def test_receipt_code_shape_and_entropy() -> None:
    codes = {new_receipt_code() for _ in range(500)}
    assert len(codes) == 500
    for code in codes:
        assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}", code)
    assert len(ALPHABET) ** 16 >= 2**80


def test_receipt_code_is_read_forgivingly() -> None:
    assert normalize_receipt_code("k7qf 3m9x ta2p 8wdr") == "K7QF-3M9X-TA2P-8WDR"
    assert normalize_receipt_code("K7QF-3M9X-TA2P-8WDO") == "K7QF-3M9X-TA2P-8WD0"
    assert normalize_receipt_code("K7QF—3M9X—TA2P—8WDR") == "K7QF-3M9X-TA2P-8WDR"
    assert normalize_receipt_code("K7QF-3M9X") is None
    assert normalize_receipt_code("hello there") is None


def test_short_id_shape() -> None:
    ids = {new_short_id() for _ in range(500)}
    for short_id in ids:
        assert re.fullmatch(r"C-[0-9A-HJKMNP-TV-Z]{3}-[0-9A-HJKMNP-TV-Z]{3}", short_id)
        assert normalize_short_id(short_id) == short_id
    # Wide enough that 100,000 cases leave a new one a free id 9,999 times in 10,000.
    assert len(ALPHABET) ** 6 > 10_000 * 100_000


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("C-7F3-K9Q", "C-7F3-K9Q"),
        ("c-7f3-k9q", "C-7F3-K9Q"),
        ("7F3K9Q", "C-7F3-K9Q"),
        (" c7f3k9q ", "C-7F3-K9Q"),
        ("C-7F3K9Q", "C-7F3-K9Q"),
        ("C--7F3--K9Q", "C-7F3-K9Q"),
        ("7f3 k9q", "C-7F3-K9Q"),
        ("C–7F3–K9Q", "C-7F3-K9Q"),  # en dashes, as phones write them
        ("C-7FO-K9I", "C-7F0-K91"),  # O and I read as 0 and 1
        ("C-L0U-000", "C-10V-000"),
        ("C-CCC-CCC", "C-CCC-CCC"),  # the prefix's letter is also a symbol
        ("CCCCCC", "C-CCC-CCC"),
        # Cases filed before ids were widened keep their four symbols.
        ("C-7F3K", "C-7F3K"),
        ("c-7f3k", "C-7F3K"),
        ("7f3k", "C-7F3K"),
        ("C7F3K", "C-7F3K"),
        ("CCCC", "C-CCCC"),
        ("C-7F3-K9", None),
        ("C-7F3-K9Q1", None),
        ("7F3", None),
        ("C-7F3-K9!", None),
        ("", None),
    ],
)
def test_a_typed_case_id_is_read_forgivingly(typed: str, expected: str | None) -> None:
    assert normalize_short_id(typed) == expected


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("today", "2026-11-28"),
        ("Yesterday", "2026-11-27"),
        ("昨天", "2026-11-27"),
        ("2026-08-02", "2026-08-02"),
        ("2026/8/2", "2026-08-02"),
        ("2026年8月2日", "2026-08-02"),
        ("don't remember", UNKNOWN),
        ("I don’t remember", UNKNOWN),
        ("不记得", UNKNOWN),
    ],
)
def test_date_answers(typed: str, expected: str) -> None:
    assert parse_date_answer(typed, TODAY) == expected


@pytest.mark.parametrize("typed", ["soon", "2026-02-30", "32/13/2026", ""])
def test_unreadable_dates(typed: str) -> None:
    with pytest.raises(DateError) as caught:
        parse_date_answer(typed, TODAY)
    assert not caught.value.future


def test_future_date() -> None:
    with pytest.raises(DateError) as caught:
        parse_date_answer("2026-11-29", TODAY)
    assert caught.value.future


def test_catalogue_has_both_languages_with_the_same_placeholders() -> None:
    messages = catalogue()
    assert len(messages.messages) > 50
    for key in messages.messages:
        en, zh = (messages.placeholders(key, lang) for lang in messages.languages)
        assert en == zh, key
        assert messages.messages[key]["zh"] != "" and messages.messages[key]["en"] != ""


def test_language_choice() -> None:
    assert pick_language(None, "zh-hans", "en") == "zh"
    assert pick_language(None, "de", "en") == "en"
    assert pick_language("en", "zh", "zh") == "en"
    assert pick_language(None, None, "zh") == "zh"


def test_settings_from_file_and_environment(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[database]\nurl = "sqlite+aiosqlite:///data/c.db"\n'
        '[intake]\ndraft_max_age_hours = 24\n[keys]\nfile = "k.keys"\n'
    )
    settings = load_settings({"CONFIDE_CONFIG": str(config), "TELEGRAM_BOT_TOKEN": "1:x"})
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path}/data/c.db"
    assert settings.key_file == tmp_path / "k.keys"
    assert settings.draft_max_age_hours == 24
    assert settings.require_token() == "1:x"
    env = {
        "CONFIDE_CONFIG": str(config),
        "CONFIDE_TELEGRAM_TOKEN": "2:y",
        "TELEGRAM_BOT_TOKEN": "1:x",
        "CONFIDE_DATABASE_URL": "postgresql+asyncpg://u@h/db",
        "CONFIDE_TELEGRAM_BASE_URL": "http://127.0.0.1:1/bot",
        "CONFIDE_KEYS": "index=...",
    }
    settings = load_settings(env)
    assert settings.token == "2:y"
    assert settings.database_url == "postgresql+asyncpg://u@h/db"
    assert settings.base_url == "http://127.0.0.1:1/bot"
    assert settings.key_material == "index=..."
    assert "index=" not in repr(settings)


def test_settings_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings({"CONFIDE_CONFIG": str(tmp_path / "missing.toml")})
    bad = tmp_path / "bad.toml"
    bad.write_text("[intake\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings({"CONFIDE_CONFIG": str(bad)})
    settings = load_settings({})
    with pytest.raises(ConfigError, match="token"):
        settings.require_token()
