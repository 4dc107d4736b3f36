"""Keyed migrations: data conversions that need the keys, because a sealed format changed.

Alembic changes the schema and has no keys. Each step here runs once, right after the
schema revision it belongs to, inside `confide migrate` (and the embedded SQLite database's
migration at start-up), and is recorded in `keyed_migrations`. From now on every change
of a sealed format comes with such a step, and a test that runs it on a database written
before the change (tests/fixtures/)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Connection

from bot.store.upgrades import trust_at_rest

if TYPE_CHECKING:
    from bot.crypto import Keyring


class KeysNeeded(Exception):
    """A keyed step is due and no keys were given; the message says what to run."""


@dataclass(frozen=True)
class KeyedStep:
    name: str
    after_revision: str
    run: Callable[[Connection, Keyring], None]


STEPS: tuple[KeyedStep, ...] = (KeyedStep("0004-trust-at-rest", "0004", trust_at_rest.run),)
