"""Keys rotate and old ones retire: `confide keys rotate` over 10,000 records, killed midway
and resumed, then `confide keys retire`; afterwards every live case opens, and a copy of
the database taken before the rotation opens nothing with the new key file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from harness import REPO, confide
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.crypto import DecryptionError, Keyring
from bot.services.keys import check_keys
from bot.store import keys as stored_keys
from bot.store.database import session_factory
from bot.store.models import Case

RECORDS = 10_000


def confide_env(tmp_path: Path, database_url: str, key_file: Path) -> dict[str, str]:
    (tmp_path / "empty.toml").write_text("", encoding="utf-8")
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "CONFIDE_DATABASE_URL": database_url,
        "CONFIDE_KEY_FILE": str(key_file),
        "CONFIDE_CONFIG": str(tmp_path / "empty.toml"),
    }
    env.pop("CONFIDE_KEYS", None)
    return env


async def seed_cases(engine: AsyncEngine, keyring: Keyring) -> None:
    """10,000 cases, sealed with the same verbs the bot uses."""
    now = datetime.now(UTC)
    rows = []
    for n in range(RECORDS):
        case_id = uuid.uuid4()
        key, wrapped = keyring.new_case_key(case_id)
        rows.append(
            {
                "id": case_id,
                "short_id": f"C-{n:06d}",
                "receipt_lookup": keyring.receipt_lookup(f"receipt-{n}"),
                "wrapped_key": wrapped,
                "answers": key.seal_answers({"answers": {"account": f"account {n}"}}),
                "reporter": key.seal_link(None),
                "excluded": key.seal_exclusions([]),
                "status": "new",
                "urgent": False,
                "submitted_at": now,
                "updated_at": now,
            }
        )
    async with engine.begin() as connection:
        for start in range(0, RECORDS, 2000):
            await connection.execute(insert(Case), rows[start : start + 2000])


async def cases(engine: AsyncEngine) -> list[Any]:
    async with engine.connect() as connection:
        return list((await connection.execute(select(Case))).all())


def kek_ids(rows: list[Any]) -> set[int]:
    return {Keyring.wrapped_kek_id(r.wrapped_key) for r in rows if r.wrapped_key is not None}


async def test_rotate_over_10000_records_killed_midway_then_resumed_and_retired(
    migrated: AsyncEngine, keyring: Keyring, tmp_path: Path, database_url: str
) -> None:
    engine = migrated
    await check_keys(session_factory(engine), keyring)
    await seed_cases(engine, keyring)
    key_file = tmp_path / "confide.keys"
    keyring.write_new_file(key_file)
    before = await cases(engine)  # what a backup taken now would hold
    env = confide_env(tmp_path, database_url, key_file)

    rotate = subprocess.Popen(
        [sys.executable, "-m", "bot", "keys", "rotate", "--batch", "50"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert rotate.stdout is not None
    for line in rotate.stdout:
        if line.startswith("re-wrapped"):
            rotate.send_signal(signal.SIGKILL)  # mid-rotation, as a power cut would
            break
    rotate.wait(30)
    assert rotate.returncode == -signal.SIGKILL
    midway = await cases(engine)
    assert kek_ids(midway) == {1, 2}, "killed with keys under both KEKs"

    resumed = await confide("keys", "rotate", env=env)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "Resuming the rotation to kek.2" in resumed.stdout
    assert "confide keys retire 1" in resumed.stdout
    assert kek_ids(await cases(engine)) == {2}

    retired = await confide("keys", "retire", "1", env=env)
    assert retired.returncode == 0, retired.stdout + retired.stderr
    new_keys = Keyring.from_file(key_file)
    assert new_keys.kek_ids == (2,)

    after = await cases(engine)
    assert len(after) == RECORDS
    for row in after:  # every live case still opens with the new key file
        opened = new_keys.case_key(row.id, row.wrapped_key).open_answers(row.answers)
        assert opened["answers"]["account"] == f"account {int(row.short_id[2:])}"
    for row in before:  # and nothing in the old copy does
        with pytest.raises(DecryptionError, match=r"kek\.1"):
            new_keys.case_key(row.id, row.wrapped_key)


async def test_retire_refuses_a_key_still_in_use(
    migrated: AsyncEngine, keyring: Keyring, tmp_path: Path, database_url: str
) -> None:
    engine = migrated
    await check_keys(session_factory(engine), keyring)
    key_file = tmp_path / "confide.keys"
    keyring.write_new_file(key_file)
    env = confide_env(tmp_path, database_url, key_file)
    result = await confide("keys", "retire", "1", env=env)
    assert result.returncode == 2
    assert "kek.1 is the key in use and cannot be retired" in result.stderr
    assert Keyring.from_file(key_file).kek_ids == (1,)


async def test_rotation_with_keys_in_the_environment_prints_the_new_text_and_waits(
    migrated: AsyncEngine, keyring: Keyring, tmp_path: Path, database_url: str
) -> None:
    engine = migrated
    await check_keys(session_factory(engine), keyring)
    env = confide_env(tmp_path, database_url, tmp_path / "absent.keys")
    env["CONFIDE_KEYS"] = keyring.dump()
    refused = await confide("keys", "rotate", env=env, stdin="")  # no confirmation
    assert refused.returncode == 1
    printed = refused.stdout.split("CONFIDE_KEYS='")[1].split("'")[0]
    rotated = Keyring.parse(printed)
    assert rotated.kek_ids == (1, 2)
    # Installed and confirmed: the rotation resumes and finishes.
    env["CONFIDE_KEYS"] = printed
    done = await confide("keys", "rotate", env=env, stdin="\n")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Every data key is now wrapped under kek.2" in done.stdout
    async with session_factory(engine).begin() as session:
        states = {k.kek_id: k.state for k in await stored_keys.keks(session)}
    assert states == {1: "old", 2: "current"}
