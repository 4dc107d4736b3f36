"""The audit log can't be cut: removing its tail and rewriting the head to match, deleting
an entry in the middle, or rewriting one is caught by `confide audit verify`."""

from __future__ import annotations

from pathlib import Path

from harness import confide
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncEngine
from world import ANN, REPORTER, Clock, cli_env, file_report, send

from bot.crypto import Keyring
from bot.services.conversation import ConversationService
from bot.services.protocol import CaseButton, Command
from bot.store.models import AuditEntry, AuditHead


async def verify(
    database_url: str, keyring: Keyring, tmp_path: Path, *anchors: str
) -> tuple[int, str]:
    arguments = [a for anchor in anchors for a in ("--anchor", anchor)]
    env = cli_env(database_url, keyring, tmp_path)
    result = await confide("audit", "verify", *arguments, env=env)
    return result.returncode, result.stdout + result.stderr


async def a_busy_log(service: ConversationService) -> None:
    case_id = await file_report(service)
    await send(service, Command("claim", case_id), ANN)
    await send(service, Command("reply", f"{case_id} When did it happen?"), ANN)
    await send(service, Command("note", f"{case_id} Check the rota."), ANN)
    await send(service, CaseButton("open", case_id), REPORTER)


async def entries(engine: AsyncEngine) -> list[AuditEntry]:
    async with engine.connect() as connection:
        query = select(AuditEntry).order_by(AuditEntry.seq)
        return list((await connection.execute(query)).all())  # type: ignore[arg-type]


async def test_a_cut_tail_with_the_head_rewritten_to_match_is_caught(
    world: tuple[ConversationService, Clock],
    engine: AsyncEngine,
    keyring: Keyring,
    tmp_path: Path,
    database_url: str,
) -> None:
    service, _ = world
    await a_busy_log(service)
    code, said = await verify(database_url, keyring, tmp_path)
    assert code == 0, said
    log = await entries(engine)
    assert len(log) >= 6
    keep = log[-3]  # the attacker removes the last two entries (the claim's reply, the note)
    async with engine.begin() as connection:
        await connection.execute(delete(AuditEntry).where(AuditEntry.seq > keep.seq))
        await connection.execute(update(AuditHead).values(seq=keep.seq, link=keep.link))
    code, said = await verify(database_url, keyring, tmp_path)
    assert code == 1
    assert f"audit log broken at entry {keep.seq}" in said
    assert "was not written by Confide" in said


async def test_a_deleted_or_rewritten_entry_is_caught(
    world: tuple[ConversationService, Clock],
    engine: AsyncEngine,
    keyring: Keyring,
    tmp_path: Path,
    database_url: str,
) -> None:
    service, _ = world
    await a_busy_log(service)
    log = await entries(engine)
    middle = log[len(log) // 2]

    async with engine.begin() as connection:
        await connection.execute(delete(AuditEntry).where(AuditEntry.seq == middle.seq))
    code, said = await verify(database_url, keyring, tmp_path)
    assert code == 1 and f"entries {middle.seq}..{middle.seq} are missing" in said

    async with engine.begin() as connection:
        await connection.execute(
            AuditEntry.__table__.insert().values(**dict(middle._mapping))  # type: ignore[attr-defined]
        )
        await connection.execute(
            update(AuditEntry).where(AuditEntry.seq == middle.seq).values(action="note")
        )
    code, said = await verify(database_url, keyring, tmp_path)
    assert code == 1 and f"audit log broken at entry {middle.seq}: changed" in said

    async with engine.begin() as connection:
        await connection.execute(
            update(AuditEntry).where(AuditEntry.seq == middle.seq).values(action=middle.action)
        )
    code, said = await verify(database_url, keyring, tmp_path)
    assert code == 0, said


async def test_a_head_without_its_mac_is_caught(
    world: tuple[ConversationService, Clock],
    engine: AsyncEngine,
    keyring: Keyring,
    tmp_path: Path,
    database_url: str,
) -> None:
    """Emptying the whole log and resetting the head is the same attack, cut to zero."""
    service, _ = world
    await a_busy_log(service)
    async with engine.begin() as connection:
        await connection.execute(delete(AuditEntry))
        await connection.execute(update(AuditHead).values(seq=0, link=bytes(32), mac=None))
    code, said = await verify(database_url, keyring, tmp_path)
    assert code == 1 and "was not written by Confide" in said


async def test_an_older_copy_restored_passes_alone_and_fails_against_an_anchor(
    world: tuple[ConversationService, Clock],
    engine: AsyncEngine,
    keyring: Keyring,
    tmp_path: Path,
    database_url: str,
) -> None:
    """The limit no key closes: an old head and its log, restored together, are consistent.
    An anchor kept outside the database (the bot logs one every hour) catches it."""
    service, _ = world
    case_id = await file_report(service)
    async with engine.connect() as connection:
        old_head = (await connection.execute(select(AuditHead))).one()
    await send(service, Command("claim", case_id), ANN)
    await send(service, Command("note", f"{case_id} Spoke to the witness."), ANN)
    anchored = await confide("audit", "anchor", env=cli_env(database_url, keyring, tmp_path))
    anchor = anchored.stdout.strip()
    assert anchor.split(":")[0].isdigit(), anchored.stdout + anchored.stderr
    # The rollback: entries written since the old copy go, the old head comes back.
    async with engine.begin() as connection:
        await connection.execute(delete(AuditEntry).where(AuditEntry.seq > old_head.seq))
        await connection.execute(
            update(AuditHead).values(seq=old_head.seq, link=old_head.link, mac=old_head.mac)
        )
    code, _ = await verify(database_url, keyring, tmp_path)
    assert code == 0, "without an anchor a consistent older copy cannot be told apart"
    code, said = await verify(database_url, keyring, tmp_path, anchor)
    assert code == 1
    assert "an anchor kept outside shows it existed" in said
