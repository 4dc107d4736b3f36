"""Settings: config.toml, checked against its schema (bot.config.schema), overlaid with
CONFIDE_* environment variables."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.cases.limits import EvidenceLimits, Limits
from bot.cases.pace import Pace, Rate
from bot.cases.retention import Retention
from bot.cases.sla import ServiceLevels
from bot.config.schema import EXCLUSION_MODES, ConfigError, checked, log_level
from bot.i18n import DEFAULT, Text, catalogue
from bot.i18n.organisation import OrganisationWords
from bot.intake.dates import DateOrder

DEFAULT_CONFIG_NAME = "config.toml"
__all__ = [
    "EXCLUSION_MODES",
    "ConfigError",
    "Settings",
    "WebhookSettings",
    "config_path",
    "load_settings",
]
# Hosts for which a plain-HTTP webhook URL is accepted: a Bot API server on this machine
# (a self-hosted one, or the emulator). Telegram's own servers post only over HTTPS.
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
NO_WEBHOOK_URL = (
    "webhook mode needs the public HTTPS address Telegram posts to: set [webhook] url in "
    "config.toml (for example https://confide.example.org/telegram)."
)


@dataclass(frozen=True)
class WebhookSettings:
    """Where Telegram posts updates (url, public) and where the bot listens for them (a
    reverse proxy in front forwards `url` to listen:port, path)."""

    url: str | None = None
    listen: str = "127.0.0.1"
    port: int = 8080
    path: str = "/"
    max_connections: int = 40  # Telegram's simultaneous requests to the webhook


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
    outbox_pace: Pace = field(default_factory=Pace)  # Telegram's limits, for all replicas
    invite_hours: float = 24.0
    levels: ServiceLevels = field(default_factory=ServiceLevels)
    deadline_scan_seconds: float = 30.0
    concurrent_updates: int = 16
    # An update stored this long ago and still not handled lost the process that stored it.
    take_over_seconds: float = 60.0
    case_content_hours: float = 24.0
    exclusion: str = "list"
    limits: Limits = field(default_factory=Limits)
    languages_dir: Path | None = None  # languages beyond those shipped
    date_order: DateOrder = "ymd"  # how a typed 20/11/2025 is read
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))  # times shown, dates read
    organisation: OrganisationWords = field(default_factory=OrganisationWords)
    retention: Retention = field(default_factory=Retention)
    evidence: EvidenceLimits = field(default_factory=EvidenceLimits)
    health_seconds: float = 60.0  # how often `confide run` logs its health line
    mode: str = "polling"  # or "webhook": updates are posted to [webhook] url
    webhook: WebhookSettings = field(default_factory=WebhookSettings)
    # The health port (/healthz, /readyz, /metrics: bot.probes), loopback unless told.
    health_enabled: bool = True
    health_listen: str = "127.0.0.1"
    health_port: int = 9465
    health_probe_seconds: float = 30.0  # how often readiness asks the database and Telegram

    def has_keys(self) -> bool:
        return bool(self.key_material) or (self.key_file is not None and self.key_file.exists())

    def require_token(self) -> str:
        if not self.token:
            raise ConfigError(
                "No Telegram bot token: set CONFIDE_TELEGRAM_TOKEN (or TELEGRAM_BOT_TOKEN)."
            )
        return self.token

    def require_webhook_url(self) -> str:
        if not self.webhook.url:
            raise ConfigError(NO_WEBHOOK_URL)
        return self.webhook.url


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
    config = checked(data, path)
    telegram, intake, organisation = config["telegram"], config["intake"], config["organisation"]
    responders, service, limits = config["responders"], config["service_levels"], config["limits"]

    def resolve(value: object) -> Path | None:
        if not value:
            return None
        candidate = Path(str(value)).expanduser()
        return candidate if candidate.is_absolute() else base / candidate

    languages_dir = resolve(config["i18n"]["languages_dir"])
    if languages_dir is not None and not languages_dir.is_dir():
        raise ConfigError(f"{path}: [i18n] languages_dir names {languages_dir}, not a folder.")
    known = (*catalogue().languages, *(p.stem for p in _language_files(languages_dir)))
    language = intake["default_language"]
    if language not in known:
        raise ConfigError(
            f"{path}: [intake] default_language must be one of {', '.join(known)}, "
            f"not {language!r}."
        )
    if not responders["case_content_hours"] < 48:
        raise ConfigError(
            f"{path}: [responders] case_content_hours must be less than 48 "
            "(Telegram lets a bot delete its messages for 48 hours)."
        )
    level_env = env.get("CONFIDE_LOG_LEVEL")
    health = _health(path, config["health"], env)
    return Settings(
        token=env.get("CONFIDE_TELEGRAM_TOKEN")
        or env.get("TELEGRAM_BOT_TOKEN")
        or telegram["token"]
        or None,
        base_url=env.get("CONFIDE_TELEGRAM_BASE_URL") or telegram["base_url"],
        base_file_url=env.get("CONFIDE_TELEGRAM_BASE_FILE_URL") or telegram["base_file_url"],
        poll_timeout=telegram["poll_timeout"],
        concurrent_updates=telegram["concurrent_updates"],
        take_over_seconds=float(telegram["take_over_seconds"]),
        database_url=_resolve_sqlite_path(
            env.get("CONFIDE_DATABASE_URL") or config["database"]["url"], base
        ),
        key_file=resolve(env.get("CONFIDE_KEY_FILE") or config["keys"]["file"]),
        key_material=env.get("CONFIDE_KEYS") or None,
        questionnaire=resolve(intake["questionnaire"]),
        draft_max_age_hours=float(intake["draft_max_age_hours"]),
        default_language=language,
        languages_dir=languages_dir,
        log_level=log_level(level_env, "CONFIDE_LOG_LEVEL")
        if level_env
        else config["logging"]["level"],
        outbox_retry_seconds=float(config["outbox"]["retry_seconds"]),
        outbox_pace=Pace(
            Rate(float(config["outbox"]["messages_per_second"]), config["outbox"]["burst"]),
            Rate(
                float(config["outbox"]["chat_messages_per_second"]),
                config["outbox"]["chat_burst"],
            ),
        ),
        invite_hours=float(responders["invite_hours"]),
        case_content_hours=float(responders["case_content_hours"]),
        exclusion=intake["exclusion"],
        date_order=organisation["date_order"],
        timezone=_zone(path, organisation["timezone"]),
        organisation=_organisation(path, organisation, known, language),
        limits=Limits(
            reports_per_day=limits["reports_per_day"],
            messages_per_hour=limits["messages_per_hour"],
        ),
        levels=ServiceLevels(
            claim=timedelta(hours=service["claim_hours"]),
            urgent_claim=timedelta(hours=service["urgent_claim_hours"]),
            first_reply=timedelta(hours=service["first_reply_hours"]),
            urgent_repeat=timedelta(minutes=service["urgent_repeat_minutes"]),
        ),
        deadline_scan_seconds=float(service["scan_seconds"]),
        retention=Retention(**config["retention"]),
        evidence=EvidenceLimits(
            max_file_mb=float(config["evidence"]["max_file_mb"]),
            max_files=int(config["evidence"]["max_files"]),
            max_total_mb=float(config["evidence"]["max_total_mb"]),
        ),
        health_seconds=float(config["logging"]["health_seconds"]),
        health_enabled=health["enabled"],
        health_listen=health["listen"],
        health_port=health["port"],
        health_probe_seconds=float(health["probe_seconds"]),
        mode=telegram["mode"],
        webhook=_webhook(path, config["webhook"]),
    )


def _webhook(path: Path, section: Mapping[str, Any]) -> WebhookSettings:
    url = section["url"] or None
    if url is not None:
        parts = urlsplit(url)
        local_http = parts.scheme == "http" and parts.hostname in _LOOPBACK
        if not parts.hostname or (parts.scheme != "https" and not local_http):
            raise ConfigError(
                f"{path}: [webhook] url must be an https:// address Telegram can reach "
                f"(for example https://confide.example.org/telegram), not {url!r}."
            )
    listen_path = section["path"] or (urlsplit(url).path if url else "") or "/"
    if not listen_path.startswith("/"):
        raise ConfigError(f"{path}: [webhook] path must start with /, not {listen_path!r}.")
    if section["port"] > 65535:
        raise ConfigError(f"{path}: [webhook] port must be at most 65535.")
    if section["max_connections"] > 100:
        raise ConfigError(f"{path}: [webhook] max_connections must be from 1 to 100.")
    return WebhookSettings(
        url=url,
        listen=section["listen"],
        port=section["port"],
        path=listen_path,
        max_connections=section["max_connections"],
    )


def _health(path: Path, section: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    """[health], overlaid with CONFIDE_HEALTH_ENABLED, _LISTEN and _PORT (a container sets
    these rather than edit the file)."""
    result = dict(section)
    enabled = env.get("CONFIDE_HEALTH_ENABLED")
    if enabled is not None:
        flags = {"true": True, "1": True, "false": False, "0": False}
        if enabled.strip().lower() not in flags:
            raise ConfigError(f"CONFIDE_HEALTH_ENABLED must be true or false, not {enabled!r}.")
        result["enabled"] = flags[enabled.strip().lower()]
    result["listen"] = (env.get("CONFIDE_HEALTH_LISTEN") or result["listen"]).strip()
    if not result["listen"]:
        # An empty host would listen on every interface: say so rather than do it.
        raise ConfigError(
            f"{path}: [health] listen must be an address, such as 127.0.0.1 (this machine "
            "only) or 0.0.0.0 (every interface)."
        )
    port = env.get("CONFIDE_HEALTH_PORT")
    if port is not None:
        if not port.strip().isdigit() or not 0 < int(port) <= 65535:
            raise ConfigError(f"CONFIDE_HEALTH_PORT must be a port from 1 to 65535, not {port!r}.")
        result["port"] = int(port)
    return result


def _zone(path: Path, name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"{path}: [organisation] timezone must be a time zone name such as "
            f"Asia/Shanghai or Europe/Berlin (IANA), not {name!r}."
        ) from None


def _organisation(
    path: Path, section: Mapping[str, Any], known: tuple[str, ...], default: str
) -> OrganisationWords:
    def words(key: str) -> Text | None:
        given: dict[str, str] | None = section[key]
        if not given:
            return None
        if "*" in given:
            return Text({DEFAULT: given["*"]})
        for code in given:
            if code not in known:
                raise ConfigError(
                    f"{path}: [organisation] {key} has text for {code!r}, which is not one of "
                    f"the languages ({', '.join(known)})."
                )
        fallback = given.get(DEFAULT) or given.get(default) or next(iter(given.values()))
        return Text({DEFAULT: fallback, **given})

    return OrganisationWords(
        name=words("name"),
        welcome=words("welcome"),
        privacy=words("privacy"),
        emergency=words("emergency"),
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
