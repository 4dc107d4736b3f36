"""The bot's Prometheus metrics (served on the health port by bot.probes): counts, ages and
latencies, never an id, a name or a text. Every label takes its value from a fixed set
below; anything else is counted as "other", so no caller can put a case id into a label.

Each running bot (`bot.runtime.serve`) owns a registry of its own and attaches it to its
context; every task it starts inherits the context, so code anywhere below (a MAC check in
services, a 429 in the Telegram shell) counts into its own bot's registry without being
handed it. Two bots in one test process count apart, and code that runs outside a bot
(`confide tick`) counts into a detached registry that nobody reads.

This module imports nothing of Confide, so that every layer may use it (pyproject.toml's
import contracts)."""

from __future__ import annotations

from contextvars import ContextVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

UPDATE_KINDS = ("command", "text", "button", "file", "other")
# The states a case is being handled in: open and owed something (the health line's too).
HANDLING_STATES = ("new", "investigating", "waiting")
DEADLINES = ("claim", "reply", "urgent")
# Where a row that does not open, or whose MAC does not match, is noticed.
TAMPERED = (
    "chat_row",
    "inbox_row",
    "outbox_row",
    "responder_row",
    "invite_row",
    "case_content",
    "case_thread",
    "case_exclusions",
    "case_answers",
    "other",
)
# Seconds: a turn is usually a few milliseconds; a slowed-down code guess takes seconds.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def _known(value: str, allowed: tuple[str, ...]) -> str:
    return value if value in allowed else "other"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self.updates = Counter(
            "confide_updates_handled",
            "Updates handled, by kind (command, text, button, file, other).",
            ["kind"],
            registry=registry,
        )
        self.handling = Histogram(
            "confide_update_handling_seconds",
            "Time to handle one update, reply included.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.rate_limited = Counter(
            "confide_telegram_rate_limited",
            "Telegram calls answered 429 (Too Many Requests).",
            registry=registry,
        )
        self.reminders = Counter(
            "confide_reminders_sent",
            "Deadline reminders queued for responders, by deadline (claim, reply, urgent).",
            ["deadline"],
            registry=registry,
        )
        self.escalations = Counter(
            "confide_escalations_sent",
            "Missed deadlines escalated to the admins, by deadline (claim, reply).",
            ["deadline"],
            registry=registry,
        )
        self.webhook_rejected = Counter(
            "confide_webhook_requests_rejected",
            "Webhook requests refused (wrong secret, malformed); 0 while the bot long-polls.",
            registry=registry,
        )
        self.tampering = Counter(
            "confide_tampering_detected",
            "Rows that did not open or whose MAC did not match, by where it was noticed.",
            ["what"],
            registry=registry,
        )
        self.outbox_sent_again = Counter(
            "confide_outbox_sent_again",
            "Messages sent again after an attempt that may have reached Telegram (its sender "
            "was killed, or timed out, mid-send): each may have been shown twice.",
            registry=registry,
        )
        self.outbox_depth = Gauge(
            "confide_outbox_depth", "Messages waiting to be sent.", registry=registry
        )
        self.outbox_oldest = Gauge(
            "confide_outbox_oldest_age_seconds",
            "Age of the oldest message waiting to be sent (to the minute); 0 when none waits.",
            registry=registry,
        )
        self.open_cases = Gauge(
            "confide_open_cases",
            "Cases being handled, by state (new, investigating, waiting).",
            ["state"],
            registry=registry,
        )
        self.oldest_unacknowledged = Gauge(
            "confide_oldest_unacknowledged_case_age_seconds",
            "How long the oldest case nobody has claimed has waited; 0 when none waits.",
            registry=registry,
        )
        self.ready = Gauge(
            "confide_ready", "1 when /readyz answers 200, else 0.", registry=registry
        )
        # Every label value exists from the start, so a rate() sees its first increment.
        for kind in UPDATE_KINDS:
            self.updates.labels(kind)
        for state in HANDLING_STATES:
            self.open_cases.labels(state)
        for deadline in DEADLINES:
            self.reminders.labels(deadline)
        for deadline in DEADLINES[:2]:
            self.escalations.labels(deadline)
        for what in TAMPERED:
            self.tampering.labels(what)

    def update_handled(self, kind: str, seconds: float) -> None:
        self.updates.labels(_known(kind, UPDATE_KINDS)).inc()
        self.handling.observe(seconds)

    def reminder_sent(self, deadline: str) -> None:
        self.reminders.labels(_known(deadline, DEADLINES)).inc()

    def escalation_sent(self, deadline: str) -> None:
        self.escalations.labels(_known(deadline, DEADLINES)).inc()

    def tampering_detected(self, what: str) -> None:
        self.tampering.labels(_known(what, TAMPERED)).inc()

    def set_open_cases(self, counts: dict[str, int]) -> None:
        for state in HANDLING_STATES:
            self.open_cases.labels(state).set(counts.get(state, 0))


_DETACHED = Metrics()  # counts made outside a running bot: nobody reads them
_current: ContextVar[Metrics | None] = ContextVar("confide_metrics", default=None)


def attach(metrics: Metrics) -> None:
    """Count into `metrics` in this context and in every task started from it."""
    _current.set(metrics)


def current() -> Metrics:
    return _current.get() or _DETACHED


def tampering_detected(what: str) -> None:
    """Where a forged or damaged row is noticed (next to its `event=tampering_detected`)."""
    current().tampering_detected(what)


def rate_limited() -> None:
    """Telegram answered 429."""
    current().rate_limited.inc()
