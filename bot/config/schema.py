"""What config.toml may say: every section and key, what kind of value it takes, and its
limits. Anything else is a mistake, reported with the file, the key and the nearest valid
name ([intak] → did you mean [intake]?)."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.intake.dates import DATE_ORDERS

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
EXCLUSION_MODES = ("list", "typed", "off")
TELEGRAM_MODES = ("polling", "webhook")


class ConfigError(Exception):
    """The configuration cannot be used; the message tells the operator what to fix."""


@dataclass(frozen=True)
class Option:
    kind: str  # "text", "whole" (an integer), "number", "choice", "words" (per language),
    # "flag" (true or false)
    default: Any = None
    positive: bool = False
    choices: tuple[str, ...] = ()
    most: int | None = None  # the largest value allowed


def _text(default: str | None = None) -> Option:
    return Option("text", default)


def _whole(default: int, most: int | None = None) -> Option:
    return Option("whole", default, positive=True, most=most)


def _number(default: float) -> Option:
    return Option("number", default, positive=True)


def _flag(default: bool) -> Option:
    return Option("flag", default)


def _choice(default: str, choices: tuple[str, ...]) -> Option:
    return Option("choice", default, choices=choices)


WORDS = Option("words")

SCHEMA: dict[str, dict[str, Option]] = {
    "telegram": {
        "token": _text(),
        "base_url": _text("https://api.telegram.org/bot"),
        "base_file_url": _text("https://api.telegram.org/file/bot"),
        "poll_timeout": _whole(30),
        "concurrent_updates": _whole(16),
        "mode": _choice("polling", TELEGRAM_MODES),
        "take_over_seconds": _number(60),
    },
    "webhook": {
        "url": _text(""),
        "listen": _text("127.0.0.1"),
        "port": _whole(8080),
        "path": _text(""),
        "max_connections": _whole(40),
    },
    "database": {"url": _text("sqlite+aiosqlite:///confide.db")},
    "keys": {"file": _text("confide.keys")},
    "organisation": {
        "name": WORDS,
        "welcome": WORDS,
        "privacy": WORDS,
        "emergency": WORDS,
        "timezone": _text("UTC"),
        "date_order": _choice("ymd", DATE_ORDERS),
    },
    "intake": {
        "questionnaire": _text(""),
        "draft_max_age_hours": _number(72),
        "default_language": _text("en"),
        "exclusion": _choice("list", EXCLUSION_MODES),
    },
    "i18n": {"languages_dir": _text("")},
    "responders": {"invite_hours": _number(24), "case_content_hours": _number(24)},
    "service_levels": {
        "claim_hours": _number(24),
        "urgent_claim_hours": _number(1),
        "first_reply_hours": _number(72),
        "urgent_repeat_minutes": _number(15),
        "scan_seconds": _number(30),
    },
    "limits": {"reports_per_day": _whole(5), "messages_per_hour": _whole(30)},
    "evidence": {"max_file_mb": _number(20), "max_files": _whole(20), "max_total_mb": _number(200)},
    "retention": {"closed_days": _whole(365), "metadata_days": _whole(730)},
    "outbox": {
        "retry_seconds": _number(2),
        "messages_per_second": _number(25),
        "burst": _whole(5),
        "chat_messages_per_second": _number(1),
        "chat_burst": _whole(3),
    },
    "logging": {"level": _choice("INFO", LOG_LEVELS), "health_seconds": _number(60)},
    "health": {
        "enabled": _flag(True),
        "listen": _text("127.0.0.1"),
        "port": _whole(9465, most=65535),
        "probe_seconds": _number(30),
    },
}


def checked(data: Mapping[str, Any], path: Path) -> dict[str, dict[str, Any]]:
    """Every section with every key, defaults filled in, each value of its kind."""
    for name, value in data.items():
        if name not in SCHEMA:
            raise ConfigError(f"{path}: {_unknown_section(name, value)}")
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: [{name}] must be a section (a table), not a value.")
    result: dict[str, dict[str, Any]] = {}
    for section, options in SCHEMA.items():
        given: dict[str, Any] = data.get(section, {})
        for key in given:
            if key not in options:
                raise ConfigError(
                    f"{path}: unknown key {key!r} in [{section}]{_nearest(key, options)}"
                )
        result[section] = {
            key: _value(path, section, key, option, given[key]) if key in given else option.default
            for key, option in options.items()
        }
    return result


def log_level(value: str, where: str) -> str:
    level = value.upper()
    if level not in LOG_LEVELS:
        raise ConfigError(f"{where} must be one of {', '.join(LOG_LEVELS)}, not {value!r}.")
    return level


def _value(path: Path, section: str, key: str, option: Option, value: Any) -> Any:
    where = f"{path}: [{section}] {key}"
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if option.kind == "text" and not isinstance(value, str):
        raise ConfigError(f"{where} must be text in quotes, not {value!r}.")
    if option.kind == "whole" and (not number or value != int(value)):
        raise ConfigError(f"{where} must be a whole number, not {value!r}.")
    if option.kind == "number" and not number:
        raise ConfigError(f"{where} must be a number, not {value!r}.")
    if option.kind == "flag" and not isinstance(value, bool):
        raise ConfigError(f"{where} must be true or false (no quotes), not {value!r}.")
    if option.positive and value <= 0:
        raise ConfigError(f"{where} must be more than 0, not {value!r}.")
    if option.most is not None and value > option.most:
        raise ConfigError(f"{where} must be at most {option.most}, not {value!r}.")
    if option.kind == "choice":
        if section == "logging":
            return log_level(str(value), where)
        if value not in option.choices:
            raise ConfigError(f"{where} must be one of {', '.join(option.choices)}, not {value!r}.")
    if option.kind == "words":
        return _words(where, value)
    return int(value) if option.kind == "whole" else value


def _words(where: str, value: Any) -> dict[str, str]:
    """Text for every language ("..."), or per language ({ en = "...", zh = "..." })."""
    if isinstance(value, str):
        return {"*": value}
    if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
        return dict(value)
    raise ConfigError(f'{where} must be text, or text per language: {{ en = "...", zh = "..." }}.')


def _unknown_section(name: str, value: Any) -> str:
    if not isinstance(value, dict):  # a key written before any [section]
        homes = [s for s, options in SCHEMA.items() if name in options]
        hint = f": did you mean [{homes[0]}] {name}?" if homes else "."
        return f"{name!r} must be inside a section{hint}"
    return f"unknown section [{name}]{_nearest(name, SCHEMA, brackets=True)}"


def _nearest(name: str, known: Mapping[str, Any], *, brackets: bool = False) -> str:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    if not close:
        return f" (known: {', '.join(known)})."
    return f": did you mean [{close[0]}]?" if brackets else f": did you mean {close[0]!r}?"
