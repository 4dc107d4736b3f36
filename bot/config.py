"""Settings: config.toml overlaid with CONFIDE_* environment variables."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.cases.limits import Limits
from bot.cases.sla import ServiceLevels
from bot.i18n import DEFAULT, catalogue
from bot.intake.dates import DATE_ORDERS, DateOrder

DEFAULT_CONFIG_NAME = "config.toml"
DEFAULT_BASE_URL = "https://api.telegram.org/bot"
DEFAULT_BASE_FILE_URL = "https://api.telegram.org/file/bot"
EXCLUSION_MODES = ("list", "typed", "off")


class ConfigError(Exception):
    """The configuration cannot be used; the message tells the operator what to fix."""


@dataclass(frozen=True)
class Settings:
    token: str | None
    base_url: str
    base_file_url: str
    poll_timeout: int
    database_url: str
    key_file: Path | None
    key_material: str | None = field(repr=False)
    questionnaire: Path | None
    draft_max_age_hours: float
    default_language: str
    log_level: str
    outbox_retry_seconds: float = 2.0
    invite_hours: float = 24.0
    levels: ServiceLevels = field(default_factory=ServiceLevels)
    deadline_scan_seconds: float = 30.0
    concurrent_updates: int = 16
    case_content_hours: float = 24.0
    exclusion: str = "list"
    limits: Limits = field(default_factory=Limits)
    languages_dir: Path | None = None  # languages beyond those shipped
    date_order: DateOrder = "ymd"  # how a typed 20/11/2025 is read

    def has_keys(self) -> bool:
        return bool(self.key_material) or (self.key_file is not None and self.key_file.exists())

    def require_token(self) -> str:
        if not self.token:
            raise ConfigError(
                "No Telegram bot token: set CONFIDE_TELEGRAM_TOKEN (or TELEGRAM_BOT_TOKEN)."
            )
        return self.token


def config_path(env: Mapping[str, str]) -> Path:
    return Path(env.get("CONFIDE_CONFIG", DEFAULT_CONFIG_NAME))


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read the config file (optional when everything comes from the environment)."""
    env = os.environ if env is None else env
    path = config_path(env)
    data: dict[str, Any] = {}
    if path.is_file():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    elif "CONFIDE_CONFIG" in env:
        raise ConfigError(f"CONFIDE_CONFIG names {path}, which does not exist.")
    base = path.resolve().parent

    def section(name: str) -> dict[str, Any]:
        value = data.get(name, {})
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: [{name}] must be a table.")
        return value

    telegram, database, keys = section("telegram"), section("database"), section("keys")
    intake, logging_ = section("intake"), section("logging")
    outbox, responders = section("outbox"), section("responders")
    service = section("service_levels")
    i18n = section("i18n")
    limits = section("limits")
    organisation = section("organisation")

    def resolve(value: object) -> Path | None:
        if not value:
            return None
        candidate = Path(str(value)).expanduser()
        return candidate if candidate.is_absolute() else base / candidate

    database_url = env.get("CONFIDE_DATABASE_URL") or str(
        database.get("url", "sqlite+aiosqlite:///confide.db")
    )
    key_material = env.get("CONFIDE_KEYS") or None
    key_file = resolve(env.get("CONFIDE_KEY_FILE") or keys.get("file", "confide.keys"))
    exclusion = str(intake.get("exclusion", "list"))
    if exclusion not in EXCLUSION_MODES:
        raise ConfigError(
            f"{path}: intake.exclusion must be one of {', '.join(EXCLUSION_MODES)}, "
            f"not {exclusion!r}."
        )
    date_order = str(organisation.get("date_order", "ymd"))
    if date_order not in DATE_ORDERS:
        raise ConfigError(
            f"{path}: organisation.date_order must be one of {', '.join(DATE_ORDERS)}, "
            f"not {date_order!r}."
        )
    languages_dir = resolve(i18n.get("languages_dir"))
    if languages_dir is not None and not languages_dir.is_dir():
        raise ConfigError(f"{path}: i18n.languages_dir names {languages_dir}, not a folder.")
    known = (*catalogue().languages, *(p.stem for p in _language_files(languages_dir)))
    language = str(intake.get("default_language", DEFAULT))
    if language not in known:
        raise ConfigError(
            f"{path}: intake.default_language must be one of {', '.join(known)}, not {language!r}."
        )
    try:
        max_age = float(intake.get("draft_max_age_hours", 72))
        poll_timeout = int(telegram.get("poll_timeout", 30))
        concurrent = int(telegram.get("concurrent_updates", 16))
        retry_seconds = float(outbox.get("retry_seconds", 2))
        invite_hours = float(responders.get("invite_hours", 24))
        case_content_hours = float(responders.get("case_content_hours", 24))
        levels = ServiceLevels(
            claim=timedelta(hours=float(service.get("claim_hours", 24))),
            urgent_claim=timedelta(hours=float(service.get("urgent_claim_hours", 1))),
            first_reply=timedelta(hours=float(service.get("first_reply_hours", 72))),
            urgent_repeat=timedelta(minutes=float(service.get("urgent_repeat_minutes", 15))),
        )
        scan_seconds = float(service.get("scan_seconds", 30))
        per_chat = Limits(
            reports_per_day=int(limits.get("reports_per_day", Limits.reports_per_day)),
            messages_per_hour=int(limits.get("messages_per_hour", Limits.messages_per_hour)),
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    if max_age <= 0:
        raise ConfigError(f"{path}: intake.draft_max_age_hours must be positive.")
    if concurrent < 1:
        raise ConfigError(f"{path}: telegram.concurrent_updates must be at least 1.")
    if not 0 < case_content_hours < 48:
        raise ConfigError(
            f"{path}: responders.case_content_hours must be more than 0 and less than 48 "
            "(Telegram lets a bot delete its messages for 48 hours)."
        )
    return Settings(
        token=env.get("CONFIDE_TELEGRAM_TOKEN")
        or env.get("TELEGRAM_BOT_TOKEN")
        or telegram.get("token")
        or None,
        base_url=env.get("CONFIDE_TELEGRAM_BASE_URL")
        or str(telegram.get("base_url", DEFAULT_BASE_URL)),
        base_file_url=env.get("CONFIDE_TELEGRAM_BASE_FILE_URL")
        or str(telegram.get("base_file_url", DEFAULT_BASE_FILE_URL)),
        poll_timeout=poll_timeout,
        concurrent_updates=concurrent,
        database_url=_resolve_sqlite_path(database_url, base),
        key_file=key_file,
        key_material=key_material,
        questionnaire=resolve(intake.get("questionnaire")),
        draft_max_age_hours=max_age,
        default_language=language,
        languages_dir=languages_dir,
        log_level=str(env.get("CONFIDE_LOG_LEVEL") or logging_.get("level", "INFO")).upper(),
        outbox_retry_seconds=retry_seconds,
        invite_hours=invite_hours,
        case_content_hours=case_content_hours,
        exclusion=exclusion,
        date_order=date_order,
        limits=per_chat,
        levels=levels,
        deadline_scan_seconds=scan_seconds,
    )


def _language_files(folder: Path | None) -> list[Path]:
    return sorted(folder.glob("*.toml")) if folder is not None else []


def _resolve_sqlite_path(url: str, base: Path) -> str:
    """Make a relative SQLite file path relative to the config file, not the working dir."""
    prefix = "sqlite+aiosqlite:///"
    if not url.startswith(prefix):
        return url
    rest = url[len(prefix) :]
    if not rest or rest.startswith("/") or rest.startswith(":memory:"):
        return url
    return prefix + str(base / rest)
