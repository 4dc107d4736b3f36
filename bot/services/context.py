"""What every turn needs, built once at start-up: the keys, the rules' settings, and how to
wake the outbox's sender. Turns get this, never the service that runs them, so the
services are layered one way."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, tzinfo

from bot.cases.limits import EvidenceLimits, Limits
from bot.cases.retention import Retention
from bot.cases.sla import ServiceLevels
from bot.crypto import Keyring
from bot.intake.flow import Intake
from bot.services.cases import CaseVault
from bot.store.session import Sessions


@dataclass
class Context:
    sessions: Sessions
    keyring: Keyring
    intake: Intake
    levels: ServiceLevels = field(default_factory=ServiceLevels)
    limits: Limits = field(default_factory=Limits)
    exclusion: str = "list"  # how the conflict-of-interest question is asked
    default_language: str = "en"
    draft_max_age_hours: float = 72
    zone: tzinfo = UTC  # the organisation's time zone: the day "today" means
    retention: Retention = field(default_factory=Retention)  # told to the reporter
    evidence: EvidenceLimits = field(default_factory=EvidenceLimits)
    # Something was queued in the outbox: its sender should look now.
    wake_sender: Callable[[], None] = lambda: None

    @property
    def vault(self) -> CaseVault:
        return CaseVault(self.keyring)
