"""`confide backup PATH` and `confide restore PATH [--force]`: a consistent copy of the
database taken while the bot runs, and putting one back (bot.store.backup does the copying).
A backup never holds the keys; the commands say where those must be kept."""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from bot import logs
from bot.cli.commands import open_database
from bot.config import ConfigError, Settings, load_settings
from bot.crypto import CryptoError
from bot.services import audit
from bot.services.keys import LIVE_AFTER
from bot.store import backup as backups
from bot.store.backup import POSTGRESQL, SQLITE, BackupProblem, Occupancy
from bot.store.contents import held
from bot.store.database import create_engine, is_sqlite, sqlite_path
from bot.store.problems import WHERE, DatabaseProblem, check_reachable
from bot.store.upgrades import KeysNeeded


async def take(path_text: str) -> int:
    settings = load_settings()
    logs.configure("WARNING")
    target = Path(path_text)
    started = time.monotonic()
    url = settings.database_url
    source = _sqlite_file(url) if is_sqlite(url) else None
    tool = None if source is not None else await backups.postgres_tool("pg_dump")
    backups.create_private(target)  # refusals before anything is recorded
    try:
        engine, sessions, keyring = await open_database()
        try:
            if tool is not None:
                backups.require_dump_release(tool, await backups.server_release(engine))
            # Recorded before the copy, and committed: the copy then holds the record of its
            # own making, so a database restored from it says when it was copied out. An
            # attempt that fails midway stays on record too, as it should: a copy cut short
            # may still have written data somewhere.
            async with sessions.begin() as session:
                now = datetime.now(UTC)
                await audit.record(
                    session, keyring, None, audit.OPERATOR, audit.OPERATOR, "backup", now
                )
        finally:
            await engine.dispose()
        if source is not None:
            await asyncio.to_thread(backups.copy_sqlite, source, target)
        else:
            assert tool is not None
            await backups.dump_postgres(tool, url, target)
    except BaseException:
        backups.discard(target)  # only ours: create_private made it
        raise
    print(_written(target, time.monotonic() - started))
    print(
        f"This backup holds no keys. Keep {_keys(settings)} backed up apart from it: "
        "without it the backup cannot be read; with it, anyone can."
    )
    return 0


async def restore(path_text: str, force: bool) -> int:
    settings = load_settings()
    logs.configure("WARNING")
    source = Path(path_text)
    started = time.monotonic()
    url = settings.database_url
    kind, here = backups.kind_of(source), SQLITE if is_sqlite(url) else POSTGRESQL
    if kind != here:
        raise BackupProblem(
            f"{source} is a {kind} backup and the configured database is {here} {WHERE}: "
            f"restore it into a {kind} database."
        )
    since = datetime.now(UTC) - LIVE_AFTER
    where = _describe(url)
    if kind == SQLITE:
        target = _sqlite_target(url)
        await asyncio.to_thread(backups.check_sqlite_backup, source)
        found = await backups.sqlite_occupancy(url, target, since)
        _refuse_to_replace(found, where, source, force)
        await asyncio.to_thread(backups.restore_sqlite, source, target)
    else:
        tool = await backups.postgres_tool("pg_restore")
        await backups.check_postgres_backup(tool, source)
        engine = create_engine(url)
        try:
            await check_reachable(engine)
            found = await backups.occupancy(engine, since)
        finally:
            await engine.dispose()
        _refuse_to_replace(found, where, source, force)
        await backups.restore_postgres(tool, url, source)
    took = time.monotonic() - started
    return await _check_restored(settings, where, source, took)


async def _check_restored(settings: Settings, where: str, source: Path, took: float) -> int:
    """The checks `confide run` makes at start-up, on the restored database: above all, that
    these keys are its keys."""
    try:
        engine, _, _ = await open_database()
        try:
            cases = (await held(engine)).reports
        finally:
            await engine.dispose()
    except (CryptoError, ConfigError, DatabaseProblem, KeysNeeded) as error:
        print(f"confide: restored {where} from {source}, but: {error}", file=sys.stderr)
        return 2
    print(f"Restored {where} from {source}: {cases} cases ({took:.1f} s).")
    keys = _keys(settings)
    print(f"{keys[0].upper()}{keys[1:]} matches the restored database: it opens it.")
    return 0


def _refuse_to_replace(found: Occupancy | None, where: str, source: Path, force: bool) -> None:
    if found is not None and found.running:
        raise BackupProblem(
            f"a Confide bot is running on {where} (heard from within {LIVE_AFTER.seconds} s): "
            "stop every bot process first, then restore."
        )
    if force or (found is not None and found.empty):
        return
    held_now = (
        "is not a SQLite database"
        if found is None
        else f"is not empty ({_count(found.cases, 'case')}, {_count(found.rows, 'row')} in all)"
    )
    raise BackupProblem(
        f"{where} {held_now}: restoring replaces all of it; to do that, run "
        f"`confide restore {source} --force`."
    )


def _sqlite_file(url: str) -> Path:
    path = _sqlite_target(url)
    if not path.is_file():
        raise BackupProblem(f"the database file {path} does not exist: nothing to back up {WHERE}.")
    return path


def _sqlite_target(url: str) -> Path:
    path = sqlite_path(url)
    if path is None:
        raise BackupProblem(f"an in-memory database has no backup {WHERE}.")
    return path


def _describe(url: str) -> str:
    if is_sqlite(url):
        return f"the database {_sqlite_target(url)}"
    parsed = make_url(url)
    return f"the database {parsed.database!r} on {parsed.host or 'localhost'}:{parsed.port or 5432}"


def _keys(settings: Settings) -> str:
    if settings.key_material:
        return "the key text (CONFIDE_KEYS)"
    return f"the key file ({settings.key_file})"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _written(target: Path, took: float) -> str:
    size = target.stat().st_size
    shown = f"{size / 1_000_000:.1f} MB" if size >= 100_000 else f"{size / 1000:.0f} kB"
    return f"Backup written to {target} ({shown}, {took:.1f} s)."
