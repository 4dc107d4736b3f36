"""The `chats` rows: read through an in-process cache, written with a version check, and —
when an update has nothing else to store — committed together with other chats' writes.

Most updates only move a reporter on by one question; their whole database work is
rewriting the chat's sealed state and marking the update handled. Reading the row first on
every update would double the round trips, so the last row read or written is kept per chat
(sealed, exactly as stored). A write names the version it was based on: if another process
(or the pruner) wrote the row meanwhile, the write changes nothing and raises `StaleChat`,
and the caller starts again from the stored row. So the cache can be out of date, but never
wrong in effect.

A write also names the update it is the effect of: the update is marked handled in the same
transaction (bot.store.inbox), and if another process handled it first, the write fails
with `AlreadyHandled` — an update's effect is applied once.

Writes from concurrent updates are committed in one transaction (group commit): one commit
and one statement round trip for many updates, each still answered only after its write is
durable."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
import uuid
from collections import OrderedDict
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, func, insert, null, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.store import driver
from bot.store.driver import DriverQuery, DriverStatement
from bot.store.inbox import HANDLED, inbox, mark_handled, stored_before
from bot.store.models import Chat

chats: Table = Chat.__table__  # type: ignore[assignment]
CACHE_SIZE = 4096  # chats; a cached row is its sealed state, a few kilobytes at most


@dataclasses.dataclass(frozen=True)
class ChatRow:
    """One `chats` row as stored. `version` 0: not stored yet."""

    id: uuid.UUID
    lookup: bytes
    wrapped_key: bytes
    state: bytes | None
    language: str | None
    version: int
    created_at: datetime
    updated_at: datetime
    draft_key: bytes | None = None  # the draft's own key, wrapped
    draft: bytes | None = None


@dataclasses.dataclass(frozen=True)
class ChatWrite:
    """A chat's new row, the version it was read at, and the update it is the effect of."""

    row: ChatRow
    based_on: int
    update_id: int | None
    at: datetime


class StaleChat(Exception):
    """The row changed (or was created) since it was read: start again from the stored one."""


class AlreadyHandled(StaleChat):
    """Another process applied this update first: its effect must not be applied again."""


_UPDATE = (
    update(chats)
    .where(chats.c.id == bindparam("b_id"), chats.c.version == bindparam("b_version"))
    .values(
        state=bindparam("state"),
        draft_key=bindparam("draft_key"),
        draft=bindparam("draft"),
        language=bindparam("language"),
        updated_at=bindparam("updated_at"),
        version=bindparam("version"),
    )
)
_INSERT = insert(chats)
# PostgreSQL: a chat's write and its update's mark in one statement, one round trip (with
# replicas the chats are not cached, so a reply costs a read, this and the commit). It
# returns a row only if the chat was written, with how many updates were marked.
_MARKED = HANDLED.returning(inbox.c.id).cte("marked")
_UPDATE_AND_MARK = _UPDATE.add_cte(_MARKED).returning(
    select(func.count()).select_from(_MARKED).scalar_subquery()
)
_FIND = select(chats).where(chats.c.lookup == bindparam("lookup"))
_HANDLED = (
    update(inbox)
    .where(inbox.c.id == bindparam("b_id"), inbox.c.payload.is_not(None))
    .values(
        payload=null(),
        wrapped_key=null(),
        chat_lookup=null(),
        handled_at=bindparam("handled_at"),
    )
)


class ChatStore:
    """`cache_size`: rows kept; by default CACHE_SIZE on SQLite (one process), none on
    PostgreSQL. There replicas share the chats, and with a chat's updates spread over them
    a kept row is out of date whenever another replica handled the chat's last update: the
    turn would be done in vain, refused and done again. One read costs less."""

    def __init__(self, engine: AsyncEngine, cache_size: int | None = None) -> None:
        self.engine = engine
        if cache_size is None:
            cache_size = CACHE_SIZE if engine.dialect.name == "sqlite" else 0
        self.cache_size = cache_size
        self._cache: OrderedDict[bytes, ChatRow] = OrderedDict()
        self._queue: list[tuple[ChatWrite, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None
        dialect = engine.dialect
        self._driver: tuple[DriverStatement, DriverStatement, DriverStatement] | None = (
            (
                DriverStatement(_UPDATE, dialect),
                DriverStatement(_HANDLED, dialect),
                DriverStatement(_INSERT, dialect),
            )
            if driver.on_aiosqlite(engine)
            else None
        )
        self._find = DriverQuery(_FIND, dialect) if self._driver is not None else None

    async def find(self, lookup: bytes) -> ChatRow | None:
        row = self._cache.get(lookup)
        if row is not None:
            self._cache.move_to_end(lookup)
            return row
        if self._find is not None:  # one round trip instead of five
            rows = await driver.fetch_all(self.engine, self._find, {"lookup": lookup})
            if not rows:
                return None
            row = ChatRow(**rows[0])
        else:
            async with self.engine.connect() as connection:
                # One statement needs no transaction: no BEGIN and ROLLBACK round trips.
                await connection.execution_options(isolation_level="AUTOCOMMIT")
                found = (await connection.execute(_FIND, {"lookup": lookup})).one_or_none()
            if found is None:
                return None
            row = ChatRow(**found._asdict())
        self._remember(row)
        return row

    async def write(self, write: ChatWrite, connection: AsyncConnection | None) -> None:
        """Store the row (its `version` one above `based_on`) and mark its update handled.

        With a connection, inside that transaction, which the caller commits (and then
        calls `written`). Without one, committed now, together with other chats' writes."""
        if connection is not None:
            await _execute(connection, [write])
            return
        future = asyncio.get_running_loop().create_future()
        self._queue.append((write, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_queued())
        await future

    def cached(self, lookup: bytes) -> bool:
        return lookup in self._cache

    def written(self, row: ChatRow) -> None:
        self._remember(row)

    def forget(self, lookup: bytes | None = None) -> None:
        """Drop one chat's cached row (or all), after a conflict or a bulk change."""
        if lookup is None:
            self._cache.clear()
        else:
            self._cache.pop(lookup, None)

    async def _write_queued(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            try:
                await self._commit_together(batch)
            except BaseException as error:
                for _, future in batch:
                    _settle(future, error)
                if not isinstance(error, Exception):
                    raise

    async def _commit_together(self, batch: list[tuple[ChatWrite, asyncio.Future[None]]]) -> None:
        writes = [write for write, _ in batch]
        try:
            if self._driver is not None:
                await _run_on_driver(self.engine, self._driver, writes)
            else:
                async with self.engine.begin() as connection:
                    await _execute(connection, writes)
        except StaleChat:
            # Someone's row changed (or update was handled elsewhere): one transaction each,
            # so only theirs fails.
            for write, future in batch:
                try:
                    async with self.engine.begin() as connection:
                        await _execute(connection, [write])
                except StaleChat as error:
                    self.forget(write.row.lookup)
                    _settle(future, error)
                else:
                    self._remember(write.row)
                    _settle(future)
            return
        for write, future in batch:
            self._remember(write.row)
            _settle(future)

    def _remember(self, row: ChatRow) -> None:
        self._cache[row.lookup] = row
        self._cache.move_to_end(row.lookup)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)


async def _execute(connection: AsyncConnection, writes: list[ChatWrite]) -> None:
    if (
        len(writes) == 1
        and writes[0].based_on != 0
        and writes[0].update_id is not None
        and connection.dialect.name == "postgresql"
    ):
        await _update_and_mark(connection, writes[0])
        return
    new = [_values(w.row) for w in writes if w.based_on == 0]
    changed = [_changes(w) for w in writes if w.based_on != 0]
    try:
        if new:
            await connection.execute(_INSERT, new)
    except IntegrityError as error:  # another process created this chat meanwhile
        raise StaleChat from error
    if changed:
        if len(changed) == 1 or not connection.dialect.supports_sane_multi_rowcount:
            counts = [(await connection.execute(_UPDATE, params)).rowcount for params in changed]
            if any(count != 1 for count in counts):
                raise StaleChat
        elif (await connection.execute(_UPDATE, changed)).rowcount != len(changed):
            raise StaleChat
    for write in writes:
        if write.update_id is not None and not await mark_handled(
            connection, write.update_id, write.at
        ):
            raise AlreadyHandled


async def _update_and_mark(connection: AsyncConnection, write: ChatWrite) -> None:
    assert write.update_id is not None
    parameters = _changes(write) | {"update_id": write.update_id, "now": write.at}
    marked = (await connection.execute(_UPDATE_AND_MARK, parameters)).scalar_one_or_none()
    if marked is None:
        raise StaleChat  # the caller's rollback takes back the mark too
    if marked == 0 and await stored_before(connection, write.update_id):
        raise AlreadyHandled  # handled elsewhere (an update never stored is not refused)


def _settle(future: asyncio.Future[None], error: BaseException | None = None) -> None:
    if future.done():  # its waiter was cancelled (shutdown): nobody to tell
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)


def _changes(write: ChatWrite) -> dict[str, Any]:
    row = write.row
    return {
        "b_id": row.id,
        "b_version": write.based_on,
        "state": row.state,
        "draft_key": row.draft_key,
        "draft": row.draft,
        "language": row.language,
        "updated_at": row.updated_at,
        "version": row.version,
    }


async def _run_on_driver(
    engine: AsyncEngine,
    statements: tuple[DriverStatement, DriverStatement, DriverStatement],
    writes: list[ChatWrite],
) -> None:
    """The new chats' INSERT, the others' UPDATEs and their updates' marks as an executemany
    each and a commit."""
    chat_update, handled, chat_insert = statements
    new = [_values(w.row) for w in writes if w.based_on == 0]
    changed = [_changes(w) for w in writes if w.based_on != 0]
    marks = [{"b_id": w.update_id, "handled_at": w.at} for w in writes if w.update_id is not None]
    new_rows = chat_insert.rows(new) if new else []
    changed_rows = chat_update.rows(changed) if changed else []
    mark_rows = handled.rows(marks) if marks else []

    def write(sqlite: sqlite3.Connection) -> None:  # in the driver's thread: no awaiting
        if new_rows:
            try:
                sqlite.executemany(chat_insert.sql, new_rows)
            except sqlite3.IntegrityError as error:  # another process created this chat
                raise StaleChat from error
        if changed_rows and sqlite.executemany(chat_update.sql, changed_rows).rowcount != len(
            changed_rows
        ):
            raise StaleChat
        if mark_rows and sqlite.executemany(handled.sql, mark_rows).rowcount != len(mark_rows):
            raise AlreadyHandled

    await driver.in_one_trip(engine, write)


def _values(row: ChatRow) -> dict[str, Any]:
    return dataclasses.asdict(row)
