"""`confide backup` and `confide restore`, as an operator runs them (real processes, a real
database: SQLite, or PostgreSQL with CONFIDE_TEST_DATABASE_URL). A backup taken while
reporters keep sending reports restores whole into a new database: the audit chain holds
and every case opens with the original key file. Each refusal is one line and exit code 2.
The backup holds no key, and on SQLite it is readable by its owner only."""

from __future__ import annotations

import asyncio
import base64
import os
import stat
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from databases import POSTGRES_URL, empty_database
from harness import REPO, InProcessBot, confide, enrol
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine
from talk import file_report

from bot.crypto import Keyring
from bot.devserver import BotApiEmulator
from bot.services.cases import CaseVault
from bot.store.database import create_engine, session_factory
from bot.store.models import AuditEntry, Case

WORKERS = 6  # reporters sending reports at once while the backup runs
ON_POSTGRES = bool(POSTGRES_URL)
postgres_only = pytest.mark.skipif(not ON_POSTGRES, reason="PostgreSQL's tools")


def operator_env(database_url: str, key_file: Path, config: Path) -> dict[str, str]:
    """An operator's shell: this database, the key file (not CONFIDE_KEYS), no token."""
    if not config.exists():
        config.write_text("", encoding="utf-8")
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "CONFIDE_DATABASE_URL": database_url,
        "CONFIDE_KEY_FILE": str(key_file),
        "CONFIDE_CONFIG": str(config),
    }
    env.pop("CONFIDE_KEYS", None)
    return env


@pytest.fixture
def key_file(tmp_path: Path, keyring: Keyring) -> Path:
    """The keyring the bot runs with, as the operator's key file, in a folder of its own."""
    folder = tmp_path / "keys"
    folder.mkdir()
    path = folder / "confide.keys"
    keyring.write_new_file(path)
    return path


@pytest.fixture
async def fresh_url(tmp_path: Path) -> AsyncIterator[str]:
    """A second, new database to restore into: a file in a new folder, or a new database on
    the PostgreSQL server (dropped afterwards)."""
    folder = tmp_path / "restored"
    folder.mkdir()
    async with empty_database(folder) as url:
        yield url


def refused(result: subprocess.CompletedProcess[str], *words: str) -> str:
    """The operator's whole answer: one line `confide: ...` on stderr, exit code 2."""
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("confide: "), output
    assert "Traceback" not in output
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def succeeded(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


async def short_ids(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return set((await connection.scalars(select(Case.short_id))).all())
    finally:
        await engine.dispose()


async def audit_actions(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            query = select(AuditEntry.action).order_by(AuditEntry.seq)
            return list((await connection.scalars(query)).all())
    finally:
        await engine.dispose()


async def opened_accounts(url: str, key_file: Path) -> dict[str, str]:
    """Every case's account, opened with the key file alone (as a restored bot would)."""
    vault = CaseVault(Keyring.from_file(key_file))
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            cases = list(await session.scalars(select(Case)))
            return {case.short_id: vault.answers(case)["answers"]["account"] for case in cases}
    finally:
        await engine.dispose()


def key_secrets(keyring: Keyring) -> list[bytes]:
    """Each key as raw bytes, in base64 (the key file's form) and in hex (a dump's bytea)."""
    found: list[bytes] = []
    for line in keyring.dump().splitlines():
        name, sep, value = line.partition("=")
        if not sep or name.strip().startswith("#"):
            continue
        raw = base64.b64decode(value.strip())
        found += [raw, value.strip().encode(), raw.hex().encode()]
    assert len(found) >= 6  # the index key and kek.1, at least
    return found


async def readable_content(path: Path) -> bytes:
    """What the backup holds, uncompressed: a SQLite file as it is; pg_dump's custom format
    is compressed, so as pg_restore writes it out (SQL with every row)."""
    if not ON_POSTGRES:
        return path.read_bytes()
    process = await asyncio.create_subprocess_exec(
        "pg_restore", "--file=-", str(path), stdout=asyncio.subprocess.PIPE
    )
    script, _ = await process.communicate()
    assert process.returncode == 0
    assert b"COPY public.audit_log" in script  # the rows are really there to search
    return script


async def test_a_backup_taken_while_reports_arrive_restores_whole_and_every_case_opens(
    emulator: BotApiEmulator,
    bot: InProcessBot,
    engine: AsyncEngine,
    keyring: Keyring,
    key_file: Path,
    database_url: str,
    fresh_url: str,
    tmp_path: Path,
) -> None:
    responder = await enrol(emulator, engine, keyring, "Ann")
    filed: dict[str, float] = {}  # account -> when its receipt arrived (monotonic seconds)
    backup_done = asyncio.Event()

    async def report(n: int) -> None:
        user = emulator.new_user(first_name=f"Reporter{n}", language_code="en")
        account = f"account-{n}-{uuid.uuid4().hex}"
        await file_report(user, account=account)
        filed[account] = time.monotonic()

    for n in range(4):  # before the backup
        await report(n)

    async def keep_reporting(worker: int) -> None:
        n = 0
        while not backup_done.is_set():
            n += 1
            await report(1000 * (worker + 1) + n)

    load = [asyncio.create_task(keep_reporting(w)) for w in range(WORKERS)]
    await asyncio.sleep(0.5)  # the load is under way
    before = await short_ids(database_url)
    target = tmp_path / "backups" / "confide.backup"
    target.parent.mkdir()
    env = operator_env(database_url, key_file, tmp_path / "operator.toml")
    began = time.monotonic()
    result = await confide("backup", str(target), env=env)
    ended = time.monotonic()
    backup_done.set()
    await asyncio.gather(*load)
    responder.skip_pending()
    out = succeeded(result)
    assert f"Backup written to {target}" in out
    assert (
        f"This backup holds no keys. Keep the key file ({key_file}) backed up apart from it: "
        "without it the backup cannot be read; with it, anyone can."
    ) in out
    during = [at for at in filed.values() if began < at < ended]
    assert during, "no report was sent while the backup ran: the test proved nothing"
    everything = await short_ids(database_url)
    assert len(everything) == len(filed)
    if not ON_POSTGRES:
        assert stat.S_IMODE(target.stat().st_mode) == 0o600

    restore_env = operator_env(fresh_url, key_file, tmp_path / "operator.toml")
    restored = succeeded(await confide("restore", str(target), env=restore_env))
    assert f"The key file ({key_file}) matches the restored database" in restored
    assert "audit log intact" in succeeded(await confide("audit", "verify", env=restore_env))

    accounts = await opened_accounts(fresh_url, key_file)
    assert before <= set(accounts) <= everything, "the copy is a moment between the two"
    assert set(accounts.values()) <= set(filed)
    # The audit entry was written before the copy was taken: the copy holds its own record.
    assert (await audit_actions(fresh_url)).count("backup") == 1
    assert (await audit_actions(database_url)).count("backup") == 1
    if not ON_POSTGRES:
        restored_file = make_url(fresh_url).database
        assert restored_file is not None
        assert stat.S_IMODE(Path(restored_file).stat().st_mode) == 0o600
    print(
        f"\n{out.splitlines()[0]} {len(accounts)} cases in the copy, {len(before)} before it "
        f"began, {len(everything)} after; {len(during)} reports sent while it ran"
    )

    content = await readable_content(target)
    for secret in key_secrets(keyring):
        assert secret not in content, "key material in the backup"
    for account in accounts.values():
        assert account.encode() not in content  # and no report in clear, for good measure


async def test_restore_refuses_a_database_that_holds_data_unless_forced(
    emulator: BotApiEmulator,
    bot: InProcessBot,
    engine: AsyncEngine,
    keyring: Keyring,
    key_file: Path,
    database_url: str,
    tmp_path: Path,
) -> None:
    await enrol(emulator, engine, keyring, "Ann")
    await file_report(emulator.new_user(first_name="Rea", language_code="en"))
    target = tmp_path / "before.backup"
    env = operator_env(database_url, key_file, tmp_path / "operator.toml")
    succeeded(await confide("backup", str(target), env=env))
    backed_up = await short_ids(database_url)
    await file_report(emulator.new_user(first_name="Una", language_code="en"))
    now = await short_ids(database_url)
    assert len(backed_up) == 1 and len(now) == 2

    running = await confide("restore", str(target), "--force", env=env)
    refused(running, "a Confide bot is running on", "stop every bot process first")
    await bot.stop()
    await engine.dispose()  # no connection of this test's stays open on the old file

    line = refused(await confide("restore", str(target), env=env), "is not empty (2 cases")
    assert f"run `confide restore {target} --force`" in line
    assert await short_ids(database_url) == now, "a refusal changed nothing"

    restored = succeeded(await confide("restore", str(target), "--force", env=env))
    assert ": 1 case" in restored and "matches the restored database" in restored
    assert await short_ids(database_url) == backed_up
    assert "audit log intact" in succeeded(await confide("audit", "verify", env=env))
    assert set((await opened_accounts(database_url, key_file)).values()) == {
        "My team lead shouts at me in front of clients."
    }
    if not ON_POSTGRES:
        database = make_url(database_url).database
        assert database is not None
        assert stat.S_IMODE(Path(database).stat().st_mode) == 0o600


async def audit_count(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int((await connection.execute(select(func.count(AuditEntry.seq)))).scalar_one())


async def test_backup_and_restore_refuse_what_an_operator_can_get_wrong(
    migrated: AsyncEngine, key_file: Path, database_url: str, tmp_path: Path
) -> None:
    env = operator_env(database_url, key_file, tmp_path / "operator.toml")
    existing = tmp_path / "precious"
    existing.write_text("an older backup", encoding="utf-8")
    refused(
        await confide("backup", str(existing), env=env),
        f"{existing} already exists: a backup never overwrites a file",
    )
    assert existing.read_text(encoding="utf-8") == "an older backup"
    nowhere = tmp_path / "missing" / "confide.backup"
    refused(
        await confide("backup", str(nowhere), env=env),
        f"the folder {nowhere.parent} does not exist",
    )
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        refused(await confide("backup", str(locked / "b"), env=env), "Permission denied")

    target = tmp_path / "confide.backup"
    if ON_POSTGRES:
        closed = make_url(database_url).set(port=1).render_as_string(hide_password=False)
        unreachable = operator_env(closed, key_file, tmp_path / "operator.toml")
        refused(await confide("backup", str(target), env=unreachable), "nothing answers at")
    else:
        gone = f"sqlite+aiosqlite:///{tmp_path}/gone.db"
        missing_db = operator_env(gone, key_file, tmp_path / "operator.toml")
        refused(
            await confide("backup", str(target), env=missing_db),
            f"the database file {tmp_path}/gone.db does not exist: nothing to back up",
        )
    assert not target.exists(), "a refused backup leaves no file behind"
    assert await audit_count(migrated) == 0, "a refusal is not a backup: nothing recorded"

    refused(
        await confide("restore", str(tmp_path / "absent.backup"), env=env),
        "absent.backup does not exist",
    )
    refused(await confide("restore", str(existing), env=env), "is not a Confide backup")
    foreign = tmp_path / "foreign.backup"
    if ON_POSTGRES:
        assert POSTGRES_URL is not None
        server = make_url(POSTGRES_URL).set(drivername="postgresql")
        dump = ["pg_dump", "--format=custom", f"--file={foreign}"]
        subprocess.run([*dump, server.render_as_string(hide_password=False)], check=True)
    else:
        import sqlite3

        other = sqlite3.connect(foreign)
        other.execute("CREATE TABLE notes (body TEXT)")
        other.close()
    refused(await confide("restore", str(foreign), env=env), "is not a Confide backup")


@postgres_only
async def test_backup_refuses_a_missing_or_too_old_pg_dump(
    migrated: AsyncEngine, key_file: Path, database_url: str, tmp_path: Path
) -> None:
    env = operator_env(database_url, key_file, tmp_path / "operator.toml")
    tools = tmp_path / "bin"
    tools.mkdir()
    target = tmp_path / "confide.backup"
    refused(
        await confide("backup", str(target), env={**env, "PATH": str(tools)}),
        "pg_dump is not installed (or not on PATH)",
    )
    old = tools / "pg_dump"  # an old client, as an outdated package would install
    old.write_text("#!/bin/sh\necho 'pg_dump (PostgreSQL) 9.6.24'\n", encoding="utf-8")
    old.chmod(0o755)
    line = refused(
        await confide("backup", str(target), env={**env, "PATH": str(tools)}),
        "pg_dump 9.6",
        "pg_dump must be the server's major version or newer",
    )
    assert "cannot back up PostgreSQL 1" in line
    assert not target.exists()
    assert await audit_count(migrated) == 0
