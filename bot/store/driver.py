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
            (name, compiled.binds[name].type.bind_processor(dialect))
            for name in compiled.positiontup or ()
        ]

    def row(self, params: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(convert(params[n]) if convert else params[n] for n, convert in self.convert)

    def rows(self, params: Sequence[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return [self.row(p) for p in params]


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
