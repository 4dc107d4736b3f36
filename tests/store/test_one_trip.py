"""SQLite through aiosqlite in one round trip per statement (bot.store.one_trip): the same
results and errors as SQLAlchemy's own adapter, in a quarter of the hand-offs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store.database import create_engine
from bot.store.one_trip import OneTripCursor

things = Table(
    "things",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("name", String(20), unique=True),
)


@pytest.fixture
async def sqlite(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/one.db")
    async with engine.begin() as connection:
        await connection.run_sync(things.metadata.create_all)
    yield engine
    await engine.dispose()


@pytest.fixture
def hand_offs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every job handed to an aiosqlite connection's thread, by name."""
    jobs: list[str] = []
    hand_off = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Callable[..., Any], *args: Any) -> Any:
        jobs.append(getattr(fn, "__name__", type(fn).__name__))
        return await hand_off(self, fn, *args)  # type: ignore[no-untyped-call]

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    return jobs


async def test_a_statement_is_one_hand_off_to_the_drivers_thread(
    sqlite: AsyncEngine, hand_offs: list[str]
) -> None:
    async with sqlite.begin() as connection:
        raw = await connection.get_raw_connection()
        assert isinstance(raw.dbapi_connection.cursor(), OneTripCursor)  # type: ignore[union-attr]
        hand_offs.clear()
        await connection.execute(insert(things), {"name": "a"})
        await connection.execute(select(things))
        await connection.execute(update(things).values(name="b"))
    # Three statements and the commit: SQLAlchemy's own adapter takes four per statement.
    assert hand_offs == ["_execute", "_execute", "_execute", "commit"]


async def test_rows_counts_and_ids_are_what_sqlalchemy_reads(sqlite: AsyncEngine) -> None:
    async with sqlite.begin() as connection:
        inserted = await connection.execute(insert(things), {"name": "one"})
        assert inserted.inserted_primary_key == (1,)  # the cursor's lastrowid
        many = await connection.execute(insert(things), [{"name": "two"}, {"name": "three"}])
        assert many.rowcount == 2
        rows = (await connection.execute(select(things).order_by(things.c.id))).all()
        assert [tuple(row) for row in rows] == [(1, "one"), (2, "two"), (3, "three")]
        changed = await connection.execute(update(things).where(things.c.id > 1).values(name=None))
        assert changed.rowcount == 2
        returned = await connection.execute(
            update(things).where(things.c.id == 1).values(name="uno").returning(things.c.name)
        )
        assert returned.all() == [("uno",)]
        nothing = await connection.execute(update(things).where(things.c.id == 9).values(name="x"))
        assert nothing.rowcount == 0
        assert (await connection.execute(text("select 1 where 0"))).all() == []


async def test_an_error_is_sqlalchemys_and_the_transaction_is_rolled_back(
    sqlite: AsyncEngine,
) -> None:
    async with sqlite.begin() as connection:
        await connection.execute(insert(things), {"name": "taken"})

    async def both() -> None:
        async with sqlite.begin() as connection:
            await connection.execute(insert(things), {"name": "mine"})
            await connection.execute(insert(things), {"name": "taken"})

    with pytest.raises(IntegrityError):
        await both()
    async with sqlite.connect() as connection:
        names = (await connection.execute(select(things.c.name))).scalars().all()
    assert names == ["taken"]
