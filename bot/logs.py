"""Logging that cannot leak: our own loggers name events and case ids only, and the
libraries that would log request URLs (with the bot token) or update payloads are held at
WARNING whatever level the operator picks."""

from __future__ import annotations

import logging

CHATTY_LIBRARIES = (
    "httpx",
    "httpcore",
    "telegram",
    "sqlalchemy",
    "aiosqlite",
    "asyncpg",
    "alembic",
)


def configure(level: str = "INFO") -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        force=True,
    )
    for name in CHATTY_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)
