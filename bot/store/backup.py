"""Backups at the level of files and databases: a consistent copy taken while the bot runs,
and putting one back. SQLite copies through its online backup API; PostgreSQL through
pg_dump's custom format and pg_restore. A backup holds the database only, never the keys:
those live in the key file (or CONFIDE_KEYS) and nowhere else.

Every refusal is a BackupProblem, a DatabaseProblem: the command line says it in one line."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import sqlite3
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection, func, inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store.contents import held
from bot.store.database import create_engine
from bot.store.models import Replica
from bot.store.problems import DatabaseProblem

SQLITE, POSTGRESQL = "SQLite", "PostgreSQL"
_MAGIC = {SQLITE: b"SQLite format 3\x00", POSTGRESQL: b"PGDMP"}
# Tables every database written by `confide backup` has: a file without them is a database,
# but not Confide's.
_CONFIDE_TABLES = frozenset({"alembic_version", "key_checks", "audit_head", "cases"})
_BUSY_SECONDS = 30.0
_TOOL_SECONDS = 30.0


class BackupProblem(DatabaseProblem):
    """A backup or a restore cannot be done; the message says why and what to do."""


def not_a_backup(path: Path) -> BackupProblem:
    return BackupProblem(f"{path} is not a Confide backup (one written by `confide backup`).")


# ---- the backup file --------------------------------------------------------------------------


def create_private(path: Path) -> None:
    """Create the backup file, empty and readable by its owner only. It never replaces a
    file: an existing backup (or anything else) at that path is kept."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise BackupProblem(
            f"{path} already exists: a backup never overwrites a file; give a new path."
        ) from None
    except FileNotFoundError:
        raise BackupProblem(
            f"the folder {path.parent} does not exist: create it, or give another path."
        ) from None
    except OSError as error:
        raise BackupProblem(f"cannot create {path}: {error.strerror}.") from None
    try:
        os.fchmod(descriptor, 0o600)  # whatever the umask or the folder's default ACL
    finally:
        os.close(descriptor)


def discard(path: Path) -> None:
    """Remove a backup file this command created and could not finish."""
    path.unlink(missing_ok=True)


def kind_of(path: Path) -> str:
    """SQLITE or POSTGRESQL, by the file's first bytes; anything else is refused."""
    try:
        with path.open("rb") as handle:
            head = handle.read(16)
    except FileNotFoundError:
        raise BackupProblem(f"{path} does not exist.") from None
    except OSError as error:
        raise BackupProblem(f"cannot read {path}: {error.strerror}.") from None
    for kind, magic in _MAGIC.items():
        if head.startswith(magic):
            return kind
    raise not_a_backup(path)


def _sync(path: Path) -> None:
    """On disk before the command says it is done (and, for a folder, the name in it)."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


# ---- what a database holds ----------------------------------------------------------------------


@dataclass(frozen=True)
class Occupancy:
    cases: int
    rows: int  # rows that hold data, cases included; bookkeeping (schema version...) apart
    running: int  # bot processes heard of since the time asked about

    @property
    def empty(self) -> bool:
        return self.rows == 0


async def occupancy(engine: AsyncEngine, since: datetime) -> Occupancy:
    """What restoring over this database would replace, and whether bots run on it."""
    found = await held(engine)
    async with engine.connect() as connection:
        running = await connection.run_sync(lambda c: _running(c, since))
    return Occupancy(found.reports, found.rows, running)


def _running(connection: Connection, since: datetime) -> int:
    if not inspect(connection).has_table(Replica.__tablename__):
        return 0
    heard = select(func.count()).select_from(Replica).where(Replica.seen_at >= since)
    return int(connection.execute(heard).scalar_one())


async def sqlite_occupancy(url: str, path: Path, since: datetime) -> Occupancy | None:
    """Occupancy of a SQLite file (empty if there is none); None if the file is not a
    SQLite database at all."""
    if _blank(path):
        return Occupancy(0, 0, 0)
    engine = create_engine(url)
    try:
        return await occupancy(engine, since)
    except DBAPIError as error:
        if isinstance(error.orig, sqlite3.DatabaseError):
            return None
        raise
    finally:
        await engine.dispose()


def _blank(path: Path) -> bool:
    return not path.exists() or path.stat().st_size == 0


# ---- SQLite -------------------------------------------------------------------------------------


def _open_sqlite(path: Path, mode: str) -> sqlite3.Connection:
    """An existing file only (`mode` ro or rw): a mistyped path must not become a new, empty
    database."""
    uri = f"{path.resolve().as_uri()}?mode={mode}"
    return sqlite3.connect(uri, uri=True, timeout=_BUSY_SECONDS)


def copy_sqlite(source: Path, target: Path) -> None:
    """Copy the live database into `target` (an empty file made by create_private).

    One step of SQLite's online backup API reads every page inside one read transaction:
    a snapshot of the last commit, taken while the bot writes on (with WAL, readers and
    the writer do not wait for each other). In several steps, a write by the bot between
    two of them would start the copy over, and under steady load it might never end."""
    try:
        origin = _open_sqlite(source, "rw")  # rw: a WAL reader needs the -shm file
        try:
            _copy(origin, target)
        finally:
            origin.close()
        _sync(target)
    except (sqlite3.Error, OSError) as error:
        raise BackupProblem(f"the copy of {source} failed: {error}.") from None


def _copy(origin: sqlite3.Connection, target: Path) -> None:
    copy = sqlite3.connect(target, timeout=_BUSY_SECONDS)
    try:
        origin.backup(copy)
        # The copy is one file that stands alone: no write-ahead log beside it to lose.
        copy.execute("PRAGMA journal_mode=DELETE")
    finally:
        copy.close()


def check_sqlite_backup(path: Path) -> None:
    """Refuse anything but a whole SQLite backup of a Confide database."""
    try:
        connection = _open_sqlite(path, "ro")
        try:
            names = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            tables = {str(row[0]) for row in names}
            verdict = str(connection.execute("PRAGMA quick_check").fetchone()[0])
        finally:
            connection.close()
    except sqlite3.Error as error:
        raise BackupProblem(f"{path} cannot be read as a SQLite backup: {error}.") from None
    if not tables >= _CONFIDE_TABLES:
        raise not_a_backup(path)
    if verdict != "ok":
        raise BackupProblem(f"{path} is damaged (SQLite: {verdict}): restore another backup.")


def restore_sqlite(backup: Path, target: Path) -> None:
    """Copy the backup into a new private file beside `target`, then rename it over
    `target`: a crash leaves the old database or the restored one, never half of each."""
    folder = target.parent
    if not folder.is_dir():
        raise BackupProblem(f"the folder {folder} of the database does not exist: create it.")
    try:
        descriptor, name = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.restoring-")
    except OSError as error:
        raise BackupProblem(f"cannot write in {folder}: {error.strerror}.") from None
    os.close(descriptor)  # mkstemp made it, mode 0600
    fresh = Path(name)
    try:
        origin = _open_sqlite(backup, "ro")
        try:
            _copy(origin, fresh)
        finally:
            origin.close()
        _sync(fresh)
        # The old file's log, shared memory and journal: beside the restored file SQLite
        # would take them for its own and replay the old database's pages into it.
        for suffix in ("-wal", "-shm", "-journal"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        os.replace(fresh, target)
        _sync(folder)
    except (sqlite3.Error, OSError) as error:
        raise BackupProblem(f"restoring {target} from {backup} failed: {error}.") from None
    finally:
        fresh.unlink(missing_ok=True)  # gone already if it took the target's place


# ---- PostgreSQL ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tool:
    """pg_dump or pg_restore, as installed here."""

    name: str
    path: str
    release: tuple[int, ...]  # (15,) for 15.x; (9, 6) before PostgreSQL 10

    @property
    def version(self) -> str:
        return ".".join(map(str, self.release))


async def postgres_tool(name: str) -> Tool:
    found = shutil.which(name)
    if found is None:
        raise BackupProblem(
            f"{name} is not installed (or not on PATH): install the PostgreSQL client tools "
            "of the server's major version or newer (e.g. apt install postgresql-client)."
        )
    code, output, _ = await _run(found, "--version")
    match = re.search(r"\(PostgreSQL\) (\d+)(?:\.(\d+))?", output)
    if code != 0 or match is None:
        raise BackupProblem(f"{found} --version did not say which PostgreSQL it belongs to.")
    major = int(match.group(1))
    release = (major,) if major >= 10 else (major, int(match.group(2) or 0))
    return Tool(name, found, release)


async def server_release(engine: AsyncEngine) -> tuple[int, ...]:
    async with engine.connect() as connection:
        number = int((await connection.exec_driver_sql("SHOW server_version_num")).scalar_one())
    major = number // 10000
    return (major,) if major >= 10 else (major, number // 100 % 100)


def require_dump_release(tool: Tool, server: tuple[int, ...]) -> None:
    """pg_dump reads a server of its own major version or older, never a newer one."""
    if tool.release < server:
        shown = ".".join(map(str, server))
        raise BackupProblem(
            f"pg_dump {tool.version} ({tool.path}) cannot back up PostgreSQL {shown}: pg_dump "
            f"must be the server's major version or newer; install postgresql-client-{shown}."
        )


def libpq(url: str) -> tuple[str, dict[str, str]]:
    """The configured URL as PostgreSQL's own tools take it (postgresql://...), and their
    environment: the password goes in PGPASSWORD, never on a command line anyone can see
    (ps). asyncpg's `ssl` is libpq's `sslmode` (same values)."""
    parsed = make_url(url)
    query = dict(parsed.query)
    if "ssl" in query:
        query["sslmode"] = query.pop("ssl")
    plain = parsed.set(drivername="postgresql", password=None, query=query)
    env = dict(os.environ)
    if parsed.password is not None:
        env["PGPASSWORD"] = str(parsed.password)
    return plain.render_as_string(hide_password=False), env


async def dump_postgres(tool: Tool, url: str, target: Path) -> None:
    """pg_dump's custom format into `target` (made by create_private, so mode 0600). pg_dump
    reads inside one repeatable-read transaction: a consistent snapshot while the bot
    writes on."""
    address, env = libpq(url)
    descriptor = os.open(target, os.O_WRONLY | os.O_TRUNC)
    try:
        code, _, errors = await _run(
            tool.path,
            "--format=custom",
            "--no-password",
            f"--dbname={address}",
            stdout=descriptor,
            env=env,
        )
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    if code != 0:
        raise BackupProblem(f"pg_dump failed: {_last_line(errors)}")


async def check_postgres_backup(tool: Tool, path: Path) -> None:
    """pg_restore reads the archive's table of contents: refused if it cannot (damaged, or
    written by a newer pg_dump than this pg_restore), or if it is not Confide's."""
    code, listing, errors = await _run(tool.path, "--list", str(path))
    if code != 0:
        raise BackupProblem(
            f"pg_restore {tool.version} cannot read {path} ({_last_line(errors)}): it is "
            "damaged, or was written by a newer pg_dump (use a pg_restore at least as new)."
        )
    tables = set(re.findall(r"^\d+; \d+ \d+ TABLE \S+ (\S+) ", listing, re.MULTILINE))
    if not tables >= _CONFIDE_TABLES:
        raise not_a_backup(path)


async def restore_postgres(tool: Tool, url: str, path: Path) -> None:
    """Into the configured database, in one transaction: a failure changes nothing. --clean
    --if-exists drops what the backup recreates; --no-owner makes the configured user (the
    bot's) the owner, whatever role owned the tables where the backup was taken."""
    address, env = libpq(url)
    code, _, errors = await _run(
        tool.path,
        "--clean",
        "--if-exists",
        "--no-owner",
        "--single-transaction",
        "--no-password",
        f"--dbname={address}",
        str(path),
        env=env,
    )
    if code != 0:
        raise BackupProblem(f"pg_restore failed, nothing was changed: {_last_line(errors)}")


async def _run(
    program: str,
    *args: str,
    stdout: int = asyncio.subprocess.PIPE,
    env: dict[str, str] | None = None,
) -> tuple[int, str, str]:
    try:
        process = await asyncio.create_subprocess_exec(
            program,
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=stdout,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )
    except OSError as error:
        raise BackupProblem(f"cannot run {program}: {error.strerror}.") from None
    out, err = await process.communicate()
    return (
        process.returncode or 0,
        (out or b"").decode(errors="replace"),
        err.decode(errors="replace"),
    )


def _last_line(text: str) -> str:
    """The tools' own words, as one line: their last non-empty line names the error."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no message"
