"""The hot paths' way to SQLite: statements handed straight to aiosqlite, with SQLAlchemy's
own SQL text and value conversions, on the connection taken from SQLAlchemy's pool.

Through SQLAlchemy each statement is a round trip to aiosqlite's thread (bot.store.one_trip)
and the commit another, plus the ORM's or Core's work in Python; here a whole transaction
(its statements, a batch of rows an `executemany`, and the commit) is one function run in
that thread. A round trip costs tens of microseconds of CPU on both threads and, on a busy
event loop, a fraction of a millisecond of latency; SQLAlchemy's work several hundred.
Only for statements that run once or more per update (bot.store.chats, bot.store.inbox):
everything else goes through SQLAlchemy."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from aiosqlite import Connection as Driver
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import Select
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.util.concurrency import greenlet_spawn

T = TypeVar("T")


def on_aiosqlite(engine: AsyncEngine) -> bool:
    dialect = engine.dialect
    return (dialect.name, dialect.driver) == ("sqlite", "aiosqlite")


class DriverStatement:
    """A compiled statement: its SQL and how each parameter is converted, in order."""

    def __init__(self, statement: UpdateBase, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql = str(compiled)
        self.convert = [
            (name, compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect))
            for name in compiled.positiontup or ()
        ]

    def row(self, params: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(convert(params[n]) if convert else params[n] for n, convert in self.convert)

    def rows(self, params: Sequence[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return [self.row(p) for p in params]


class DriverQuery(DriverStatement):
    """A compiled SELECT: its parameters as a statement's, its columns converted back as
    SQLAlchemy would (dates, ids)."""

    def __init__(self, statement: Select[Any], dialect: Dialect) -> None:
        super().__init__(statement, dialect)  # type: ignore[arg-type]
        self.columns = [
            (str(column.key), column.type.dialect_impl(dialect).result_processor(dialect, None))
            for column in statement.selected_columns
        ]

    def record(self, raw: Sequence[Any]) -> dict[str, Any]:
        return {
            name: convert(value) if convert else value
            for (name, convert), value in zip(self.columns, raw, strict=True)
        }


async def fetch_all(
    engine: AsyncEngine, query: DriverQuery, params: dict[str, Any]
) -> list[dict[str, Any]]:
    """A query's rows, on the pool's aiosqlite connection, in one round trip."""
    sql, values = query.sql, query.row(params)
    rows = await in_one_trip(engine, lambda sqlite: sqlite.execute(sql, values).fetchall())
    return [query.record(row) for row in rows]


async def in_one_trip(engine: AsyncEngine, work: Callable[[sqlite3.Connection], T]) -> T:
    """`work` run in the driver's thread on the pool's connection, as one transaction:
    committed if it returns, rolled back if it raises (the connection begins it at the first
    write). One hand-off to that thread, and the pool's connection taken without
    SQLAlchemy's Connection around it (a third of the cost)."""
    pooled = await engine.raw_connection()
    try:
        driver = pooled.driver_connection
        assert isinstance(driver, Driver)
        # aiosqlite's own way to run a function in its thread (untyped there).
        return await driver._execute(_as_transaction, driver._conn, work)  # type: ignore[no-untyped-call,no-any-return]
    finally:
        await greenlet_spawn(pooled.close)  # back to the pool


def _as_transaction(sqlite: sqlite3.Connection, work: Callable[[sqlite3.Connection], T]) -> T:
    try:
        result = work(sqlite)
        sqlite.commit()
        return result
    except BaseException:
        sqlite.rollback()
        raise
