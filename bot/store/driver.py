"""The hot paths' way to SQLite: statements handed straight to aiosqlite, with SQLAlchemy's
own SQL text and value conversions, on the connection taken from SQLAlchemy's pool.

Through SQLAlchemy each statement is four round trips to aiosqlite's thread (open a cursor,
execute, fetch, close) plus the ORM's or Core's work in Python; here a statement is one, a
batch of rows one `executemany`. On a busy event loop each round trip costs about half a
millisecond of latency and tens of microseconds of CPU, SQLAlchemy's work several hundred.
Only for statements that run once or more per update (bot.store.chats, bot.store.inbox):
everything else goes through SQLAlchemy."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

from aiosqlite import Connection as Driver
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import Select
from sqlalchemy.sql.dml import UpdateBase


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
    """A query's rows in one round trip, on the pool's aiosqlite connection (a SELECT
    begins no transaction there: nothing is left to roll back)."""
    async with engine.connect() as connection:
        raw = (await connection.get_raw_connection()).driver_connection
        assert isinstance(raw, Driver)
        rows = await raw.execute_fetchall(query.sql, query.row(params))
        if raw.in_transaction:  # not expected; never leave one open on a pooled connection
            await raw.rollback()
    return [query.record(row) for row in rows]


@contextlib.asynccontextmanager
async def transaction(engine: AsyncEngine) -> AsyncIterator[Driver]:
    """The pool's aiosqlite connection, in a transaction committed on leaving (the driver
    begins it at the first write), rolled back on an error."""
    async with engine.connect() as connection:
        driver = (await connection.get_raw_connection()).driver_connection
        assert isinstance(driver, Driver)
        try:
            yield driver
            await driver.commit()
        except BaseException:
            await driver.rollback()
            raise
