"""What can be wrong with the database an operator configured, found before it is used and
said in one line: what is wrong, and what to do. A password in the URL is never shown."""

from __future__ import annotations

import asyncio
import os
import socket
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine

SHAPES = "sqlite+aiosqlite:///path/to/confide.db or postgresql+asyncpg://user@host/database"
WHERE = "([database] url in config.toml, or CONFIDE_DATABASE_URL)"
CONNECT_SECONDS = 10


class DatabaseProblem(Exception):
    """The database cannot be used; the message says what to do."""


def newer_schema(revisions: list[str], known_head: str) -> DatabaseProblem:
    return DatabaseProblem(
        f"the database was changed by a newer version of Confide (schema {', '.join(revisions)}; "
        f"this version knows up to {known_head}): run that newer version, or restore a backup "
        "taken with this one."
    )


def checked_url(url: str) -> URL:
    """The URL, if Confide can use it: SQLite through aiosqlite, PostgreSQL through asyncpg."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise DatabaseProblem(
            f"the database URL is not one Confide can read {WHERE}: write it like {SHAPES}."
        ) from None
    backend, _, driver = parsed.drivername.partition("+")
    if backend in ("postgres", "postgresql"):
        if driver != "asyncpg":
            fixed = parsed.set(drivername="postgresql+asyncpg")
            raise DatabaseProblem(
                f"the database URL must name the asyncpg driver {WHERE}: "
                f"{fixed.render_as_string(hide_password=True)}"
            )
        try:
            import asyncpg  # noqa: F401
        except ImportError:
            raise DatabaseProblem(
                "PostgreSQL needs the asyncpg driver, which is not installed: "
                "pip install 'confide[postgres]'."
            ) from None
    elif backend == "sqlite":
        if driver != "aiosqlite":
            fixed = parsed.set(drivername="sqlite+aiosqlite")
            raise DatabaseProblem(
                f"the database URL must name the aiosqlite driver {WHERE}: "
                f"{fixed.render_as_string(hide_password=True)}"
            )
    else:
        raise DatabaseProblem(
            f"Confide does not support {backend!r} databases {WHERE}: use {SHAPES}."
        )
    return parsed


async def check_reachable(engine: AsyncEngine) -> None:
    """Open one connection, so that a database that cannot be used is said at start-up in
    words, not as a driver's traceback at the first update."""
    _check_sqlite_folder(engine.url)
    try:
        async with engine.connect():
            pass
    except Exception as error:  # every driver has its own; each is described below
        if engine.url.get_backend_name() == "sqlite":
            # aiosqlite's worker thread reports its own end on this loop: let it, before a
            # one-line exit closes the loop under it (a traceback from the thread, else).
            await asyncio.sleep(0.1)
        raise DatabaseProblem(describe(error, engine.url)) from None


def _check_sqlite_folder(url: URL) -> None:
    """A SQLite file whose folder is missing or not writable, said before any driver starts."""
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return
    folder = Path(url.database).parent
    if not os.access(folder, os.W_OK | os.X_OK):
        raise DatabaseProblem(
            f"cannot open the SQLite database {url.database}: its folder must exist and be "
            "writable by this user."
        )


def describe(error: BaseException, url: URL) -> str:
    where = f"{url.host or 'localhost'}:{url.port or 5432}"
    for cause in _chain(error):
        name = type(cause).__name__
        if name == "InvalidCatalogNameError":
            return (
                f"the database {url.database!r} does not exist on {where}: create it "
                f"(createdb -h {url.host or 'localhost'} {url.database}) or fix the URL {WHERE}."
            )
        if name in ("InvalidPasswordError", "InvalidAuthorizationSpecificationError"):
            return (
                f"PostgreSQL at {where} refused the user {url.username!r}: check the user and "
                f"password {WHERE}."
            )
        if isinstance(cause, socket.gaierror):
            return f"the database host {url.host!r} is not known (DNS): fix the URL {WHERE}."
        if isinstance(cause, ConnectionRefusedError):
            return (
                f"nothing answers at {where} (connection refused): is PostgreSQL running "
                f"there? Check the host and port {WHERE}."
            )
        if isinstance(cause, TimeoutError):
            return (
                f"no answer from the database at {where} within {CONNECT_SECONDS} s: check the "
                "network and firewall."
            )
        if isinstance(cause, sqlite3.OperationalError):
            return (
                f"cannot open the SQLite database {url.database}: its folder must exist and be "
                f"writable by this user ({cause})."
            )
        if isinstance(cause, OSError) and cause.strerror:
            return f"cannot reach the database at {where}: {cause.strerror}."
    return f"cannot use the database ({type(error).__name__}) {WHERE}."


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        original = getattr(current, "orig", None)  # what SQLAlchemy wrapped
        pending += [current.__cause__, current.__context__]
        if isinstance(original, BaseException):
            pending.append(original)
