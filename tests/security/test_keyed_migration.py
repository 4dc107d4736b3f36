"""A database written before the trust-at-rest changes (tests/fixtures/pre_issue9, made by
the code at commit cf7c49b through the emulator) is converted by `confide migrate` with its
keys, and everything in it still works: the linked and unlinked reporters, the responders'
roles, the thread and notes, the withdrawn case, a draft in progress, the audit chain."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from harness import REPO, InProcessBot, bot_environment, confide
from sqlalchemy import Connection, MetaData, Table, select
from sqlalchemy import types as sqltypes
from sqlalchemy.ext.asyncio import AsyncEngine
from talk import WAIT, press, say

from bot.crypto import Keyring
from bot.devserver import BotApiEmulator
from bot.store.database import migrate, pending_migrations
from bot.store.models import AuditHead, Case, CaseMessage, CaseNote, Chat, Invite, Responder

FIXTURE = REPO / "tests" / "fixtures" / "pre_issue9"
EXPECTED = json.loads((FIXTURE / "expected.json").read_text(encoding="utf-8"))
# Parents before children, as the foreign keys want them.
TABLES = (
    "responders",
    "invites",
    "chats",
    "cases",
    "case_messages",
    "case_notes",
    "outbox",
    "key_checks",
    "audit_log",
)


def fixture_keys() -> str:
    return (FIXTURE / "confide.keys").read_text(encoding="utf-8")


def _convert(value: Any, column_type: sqltypes.TypeEngine[Any]) -> Any:
    if value is None:
        return None
    if isinstance(column_type, sqltypes.Uuid):
        return uuid.UUID(value)
    if isinstance(column_type, sqltypes.DateTime):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    if isinstance(column_type, sqltypes.Boolean):
        return bool(value)
    return value


def fixture_blobs(database: Path = FIXTURE / "confide.db") -> set[bytes]:
    """Every sealed value and wrapped key stored (by the old code, in the fixture)."""
    source = sqlite3.connect(database)
    try:
        found = set()
        for name in TABLES:
            for row in source.execute(f'SELECT * FROM "{name}"'):  # noqa: S608
                found |= {v for v in row if isinstance(v, bytes) and len(v) > 40}
        return found
    finally:
        source.close()


def copy_fixture_rows(connection: Connection) -> None:
    """The fixture's rows, as they are, into a database at revision 0003."""
    source = sqlite3.connect(FIXTURE / "confide.db")
    source.row_factory = sqlite3.Row
    try:
        for name in TABLES:
            table = Table(name, MetaData(), autoload_with=connection)
            rows = [dict(r) for r in source.execute(f"SELECT * FROM {name}")]  # noqa: S608
            if rows:
                connection.execute(
                    table.insert(),
                    [{k: _convert(v, table.c[k].type) for k, v in r.items()} for r in rows],
                )
        head = dict(source.execute("SELECT * FROM audit_head").fetchone())
        table = Table("audit_head", MetaData(), autoload_with=connection)
        connection.execute(table.update().values(seq=head["seq"], link=head["link"]))
    finally:
        source.close()


@pytest.fixture
async def pre_issue_database(tmp_path: Path, database_url: str, engine: AsyncEngine) -> str:
    """The fixture database, as SQLite (a copy of the file) or PostgreSQL (its rows)."""
    if database_url.startswith("sqlite"):
        target = Path(database_url.removeprefix("sqlite+aiosqlite:///"))
        await engine.dispose()
        target.unlink(missing_ok=True)
        shutil.copy(FIXTURE / "confide.db", target)
        return database_url
    await migrate(engine, "0003")
    async with engine.begin() as connection:
        await connection.run_sync(copy_fixture_rows)
    return database_url


def cli_env(tmp_path: Path, database_url: str, keys: str | None) -> dict[str, str]:
    (tmp_path / "empty.toml").write_text("", encoding="utf-8")
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "CONFIDE_DATABASE_URL": database_url,
        "CONFIDE_CONFIG": str(tmp_path / "empty.toml"),
        "CONFIDE_KEY_FILE": str(tmp_path / "no.keys"),
    }
    env.pop("CONFIDE_KEYS", None)
    if keys is not None:
        env["CONFIDE_KEYS"] = keys
    return env


async def test_without_its_keys_the_migration_stops_and_changes_nothing(
    pre_issue_database: str, engine: AsyncEngine, tmp_path: Path
) -> None:
    result = await confide("migrate", env=cli_env(tmp_path, pre_issue_database, None))
    assert result.returncode == 2
    assert "needs the keys to convert its data (0004-trust-at-rest)" in result.stderr
    assert "Traceback" not in result.stderr
    async with engine.connect() as connection:
        version = await connection.exec_driver_sql("SELECT version_num FROM alembic_version")
        assert version.scalar() == "0003"


async def test_a_database_from_before_is_converted_and_keeps_working(
    pre_issue_database: str,
    engine: AsyncEngine,
    emulator: BotApiEmulator,
    tmp_path: Path,
) -> None:
    keys = fixture_keys()
    keyring = Keyring.parse(keys)
    env = cli_env(tmp_path, pre_issue_database, keys)
    old_blobs = fixture_blobs()
    result = await confide("migrate", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not await pending_migrations(engine)
    if pre_issue_database.startswith("sqlite"):
        # The old formats (and the delivered messages the old outbox kept) are gone from the
        # file itself, free pages included: nothing readable in the old ways is left.
        path = Path(pre_issue_database.removeprefix("sqlite+aiosqlite:///"))
        raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
        replaced = old_blobs - fixture_blobs(path)  # wrapped keys stay as they were
        assert replaced and [b for b in replaced if b in raw] == []

    async with engine.connect() as connection:
        cases = {c.short_id: c for c in (await connection.execute(select(Case))).all()}
        messages = (await connection.execute(select(CaseMessage))).all()
        notes = (await connection.execute(select(CaseNote))).all()
        chats = (await connection.execute(select(Chat))).all()
        staff = (await connection.execute(select(Responder))).all()
        invites = (await connection.execute(select(Invite))).all()
        head = (await connection.execute(select(AuditHead))).one()
    linked = cases[EXPECTED["linked"]["case"]]
    # Every sealed field is in the padded format now, with its meaning bound in.
    for blob in [linked.answers, linked.reporter, linked.excluded]:
        assert blob[0] == 2
    key = keyring.case_key(linked.id, linked.wrapped_key)
    assert key.open_answers(linked.answers)["answers"]["account"] == EXPECTED["linked"]["answer"]
    assert key.open_link(linked.reporter).chat_id == EXPECTED["linked"]["chat_id"]  # type: ignore[union-attr]
    assert linked.reporter_lookup == keyring.reporter_lookup(EXPECTED["linked"]["chat_id"])
    # Nothing was lost on the way (SQLite rebuilds tables to change them).
    ben_id = next(p.id for p in staff if p.display_name == "Ben")
    assert linked.claimed_by == ben_id
    assert {m.author: m.responder_id for m in messages} == {"responder": ben_id, "reporter": None}
    assert [n.responder_id for n in notes] == [ben_id]
    texts = {key.open_message(m.id, m.author, m.responder_id, m.body) for m in messages}
    assert texts == {EXPECTED["linked"]["reply"], EXPECTED["linked"]["reporter_message"]}
    assert {key.open_note(n.id, n.responder_id, n.body) for n in notes} == {
        EXPECTED["linked"]["note"]
    }
    assert all(p.mac is not None for p in staff) and all(i.mac is not None for i in invites)
    assert head.mac is not None
    assert all(c.draft is None or c.draft[0] == 2 for c in chats)
    assert sum(c.draft is not None for c in chats) == 1  # Dora's draft, under its own key
    assert cases[EXPECTED["withdrawn"]["case"]].wrapped_key is None

    verified = await confide("audit", "verify", env=env)
    assert verified.returncode == 0, verified.stdout + verified.stderr

    bot = InProcessBot(bot_environment(tmp_path, pre_issue_database, emulator.base_url, keys))
    await bot.start()
    try:
        people = EXPECTED["responders"]
        ada = emulator.new_user("Ada", user_id=people["Ada"]["chat_id"], started=True)
        ben = emulator.new_user("Ben", user_id=people["Ben"]["chat_id"], started=True)
        rita = emulator.new_user("Rita", user_id=EXPECTED["linked"]["chat_id"], started=True)
        dora = emulator.new_user("Dora", user_id=EXPECTED["draft_chat_id"], started=True)
        uma = emulator.new_user("Uma", started=True)
        # The fixture's unclaimed case is past half its time to acknowledge by now: its
        # reminder reaches both responders at start; read it before talking to the bot.
        for responder in (ada, ben):
            while not (await responder.next_message(WAIT)).text.startswith("⏰"):
                pass
        for person in (ada, ben, rita, dora, uma):
            person.skip_pending()
        listing = await say(ada, "/responders")
        assert "Ada" in listing.text and "Ben" in listing.text  # still an admin
        case_file = await say(ben, f"/open {EXPECTED['linked']['case']}")
        for text in ("answer", "reply", "reporter_message", "note"):
            assert EXPECTED["linked"][text] in case_file.text, text
        status = await say(rita, "/status")
        assert EXPECTED["linked"]["case"] in status.text
        opened = await press(rita, EXPECTED["linked"]["case"], status)
        assert EXPECTED["linked"]["reply"] in opened.text
        unlinked = await say(uma, f"/status {EXPECTED['unlinked']['receipt']}")
        assert EXPECTED["unlinked"]["case"] in unlinked.text
        gone = await say(ben, f"/open {EXPECTED['withdrawn']['case']}")
        assert "no longer exists" in gone.text
        resumed = await say(dora, "/start")
        assert "Continue" in " ".join(resumed.button_texts)
        question = await press(dora, "Continue", resumed)
        assert "2/" in question.text
        await ben.assert_no_message(0.5)
    finally:
        await bot.stop()


async def test_pages_freed_before_secure_delete_are_wiped_by_the_migration(
    pre_issue_database: str, tmp_path: Path
) -> None:
    """A database whose rows were deleted while secure_delete was off keeps them in free
    pages; the keyed migration rewrites the file once (VACUUM) so that none survives."""
    if not pre_issue_database.startswith("sqlite"):
        pytest.skip("reads the SQLite file directly")
    path = Path(pre_issue_database.removeprefix("sqlite+aiosqlite:///"))
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA secure_delete=OFF")
    deleted = {os.urandom(2000) for _ in range(200)}  # what an old version once stored
    connection.execute("CREATE TABLE old_rows (value BLOB)")
    connection.executemany("INSERT INTO old_rows VALUES (?)", [(v,) for v in deleted])
    connection.commit()
    connection.execute("DROP TABLE old_rows")
    connection.commit()
    connection.close()
    assert any(value in path.read_bytes() for value in deleted), "left in free pages"
    result = await confide("migrate", env=cli_env(tmp_path, pre_issue_database, fixture_keys()))
    assert result.returncode == 0, result.stderr
    raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    assert [value for value in deleted if value in raw] == []
