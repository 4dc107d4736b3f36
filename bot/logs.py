"""Logging that cannot leak: our own loggers name events and case ids only, and the
libraries that would log request URLs (with the bot token) or update payloads are held at
WARNING whatever level the operator picks. Whatever still gets through is filtered: the
token is replaced wherever it appears (in a message, its arguments or a traceback), and
python-telegram-bot's report of an update it could not parse, which quotes the whole update
(names, ids, texts), loses the quote."""

from __future__ import annotations

import logging
from collections.abc import Iterable

CHATTY_LIBRARIES = (
    "httpx",
    "httpcore",
    "telegram",
    "sqlalchemy",
    "aiosqlite",
    "asyncpg",
    "alembic",
    "aiohttp",
    "pikepdf",  # says at INFO that it was imported
)
WITHHELD = "(withheld: it would show an update's content)"
_PAYLOAD_MARKERS = ("Received data was", "Update(", "update_id")


class Redactor(logging.Filter):
    def __init__(self, secrets: Iterable[str], tracebacks: bool = False) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]
        # An operator's log has one line per event: a traceback (an exception's type stays)
        # only at DEBUG, for whoever is chasing a bug.
        self.tracebacks = tracebacks

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.name.startswith("telegram") and any(m in message for m in _PAYLOAD_MARKERS):
            message = f"{record.name}: {message.split(':', 1)[0][:80]} {WITHHELD}"
            record.exc_info, record.exc_text = None, None
        if record.exc_info and not self.tracebacks:
            kind = record.exc_info[0]
            message += f" ({kind.__name__})" if kind is not None else ""
            record.exc_info, record.exc_text = None, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.exc_info = None
        for secret in self.secrets:
            message = message.replace(secret, "<token>")
            if record.exc_text:
                record.exc_text = record.exc_text.replace(secret, "<token>")
        record.msg, record.args = message, ()
        return True


def configure(level: str = "INFO", secrets: Iterable[str] = ()) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        force=True,
    )
    redactor = Redactor(secrets, tracebacks=level.upper() == "DEBUG")
    for handler in logging.getLogger().handlers:
        handler.addFilter(redactor)
    for name in CHATTY_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)
