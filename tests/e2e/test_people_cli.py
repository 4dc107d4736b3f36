"""People management from the command line, as an operator runs it (`python -m bot ...` as a
real process): `confide responders list | revoke | role` and `confide invites list |
revoke`. Each refusal is one line on stderr and exit code 2; each change is the same as the
bot's own (/revoke) and leaves its entry in the audit log, which still verifies."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from harness import REPO, InProcessBot, confide, enrol
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from talk import WAIT, say
from world import ADA, ANN, BEN, T0, Clock, cli_env, file_report, send

from bot.crypto import Keyring
from bot.devserver import BotApiEmulator
from bot.services import people
from bot.services.conversation import ConversationService
from bot.services.enrolment import create_invite
from bot.services.outbox import Outbox
from bot.services.protocol import Command, Say, ShowQueue, ShowResponders
from bot.store.database import session_factory
from bot.store.models import AuditEntry, Invite, Responder
from bot.telegram.commands import commands_for

World = tuple[ConversationService, Clock]
TELEGRAM_IDS = (ANN, BEN, ADA)
UNKNOWN = "don't know that command"


def succeeded(result: subprocess.CompletedProcess[str]) -> list[str]:
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == "", result.stderr
    return result.stdout.splitlines()


def refused(result: subprocess.CompletedProcess[str]) -> str:
    """The operator's whole answer to a refusal: one line on stderr, exit code 2."""
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert result.stdout == "" and "Traceback" not in output, output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, output
    return lines[0]


def no_telegram_id(lines: list[str]) -> None:
    for line in lines:
        for chat_id in TELEGRAM_IDS:
            assert not re.search(rf"\b{chat_id}\b", line), line


async def rows(engine: AsyncEngine) -> dict[str, list[Any]]:
    """Responder rows by display name, oldest first."""
    async with engine.connect() as connection:
        found = (await connection.execute(select(Responder).order_by(Responder.enrolled_at))).all()
    by_name: dict[str, list[Any]] = {}
    for row in found:
        by_name.setdefault(row.display_name, []).append(row)
    return by_name


def ref(row: Any) -> str:
    return f"#{row.id.hex[:8]}"


async def audit_log(engine: AsyncEngine) -> list[Any]:
    """Entries about no case: the access changes (and other operator acts)."""
    async with engine.connect() as connection:
        query = select(AuditEntry).where(AuditEntry.case_id.is_(None)).order_by(AuditEntry.seq)
        return list((await connection.execute(query)).all())


async def queued_for(service: ConversationService, chat_id: int) -> list[Any]:
    """The notifications the outbox would send to this chat now (taken, as a sender would)."""
    deliveries = await Outbox(service.sessions, service.keyring).lease_due(datetime.now(UTC))
    return [d.notification for d in deliveries if d.chat_id == chat_id]


# -- responders list ----------------------------------------------------------------------


async def test_responders_list_shows_names_roles_states_and_dates_never_a_telegram_id(
    world: World, engine: AsyncEngine, keyring: Keyring, database_url: str, tmp_path: Path
) -> None:
    service, _ = world
    await send(service, Command("revoke", "Ben"), ADA)
    env = cli_env(database_url, keyring, tmp_path)
    lines = succeeded(await confide("responders", "list", env=env))
    by_name = await rows(engine)
    assert lines == [
        f"Ada  admin      active   enrolled 2026-11-28 UTC  {ref(by_name['Ada'][0])}",
        f"Ann  responder  active   enrolled 2026-11-28 UTC  {ref(by_name['Ann'][0])}",
        f"Ben  responder  revoked  enrolled 2026-11-28 UTC  {ref(by_name['Ben'][0])}",
    ]
    no_telegram_id(lines)


async def test_an_empty_database_says_so(
    migrated: AsyncEngine, keyring: Keyring, database_url: str, tmp_path: Path
) -> None:
    env = cli_env(database_url, keyring, tmp_path)
    assert succeeded(await confide("responders", "list", env=env)) == [
        "No responders are enrolled: `confide invite --name NAME` makes an enrolment code."
    ]
    assert succeeded(await confide("invites", "list", env=env)) == [
        "No invites: `confide invite --name NAME` makes one."
    ]


async def test_a_row_changed_outside_confide_is_counted_not_listed(
    world: World, engine: AsyncEngine, keyring: Keyring, database_url: str, tmp_path: Path
) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            Responder.__table__.update()  # type: ignore[attr-defined]
            .where(Responder.display_name == "Ben")
            .values(role="admin")
        )
    env = cli_env(database_url, keyring, tmp_path)
    result = await confide("responders", "list", env=env)
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines[:-1]] == ["Ada", "Ann"]
    assert lines[-1] == (
        "1 responder row(s) were changed outside Confide (their MAC does not match): "
        "they grant nothing and are not listed."
    )


# -- responders revoke --------------------------------------------------------------------


async def test_revoking_from_the_command_line_is_the_bots_revoke(
    world: World, engine: AsyncEngine, keyring: Keyring, database_url: str, tmp_path: Path
) -> None:
    service, clock = world
    case_id = await file_report(service)
    await send(service, Command("claim", case_id), ANN)
    await queued_for(service, ANN)  # what was waiting for her before: sent
    env = cli_env(database_url, keyring, tmp_path)

    said = succeeded(await confide("responders", "revoke", "  ann ", env=env))
    assert said == [
        "Ann is revoked: the bot refuses them everything from now on, and their 1 claimed "
        "case(s) are back in the queue."
    ]
    clock.now += timedelta(minutes=1)
    assert await send(service, Command("queue"), ANN) == (Say("unknown_command"),)
    (queue,) = await send(service, Command("queue"), BEN)
    assert isinstance(queue, ShowQueue)
    assert [(i.short_id, i.claimed_by) for i in queue.items] == [(case_id, None)]
    told = await queued_for(service, ANN)
    assert [(n.key, n.kind, n.params) for n in told] == [
        ("you_were_revoked", "message", {}),
        ("", "commands", {}),  # no role: her menu goes back to a reporter's
    ]

    again = succeeded(await confide("responders", "revoke", "Ann", env=env))
    assert again == ["Ann is already revoked: nothing changed."]
    assert refused(await confide("responders", "revoke", "Zoe", env=env)) == (
        "confide: no active responder is named Zoe: `confide responders list` shows them."
    )
    (entry,) = [e for e in await audit_log(engine) if e.action == "revoked"]
    assert (entry.actor, entry.role) == ("operator", "operator")


async def test_an_ambiguous_name_is_refused_and_a_reference_picks_one(
    world: World, engine: AsyncEngine, keyring: Keyring, database_url: str, tmp_path: Path
) -> None:
    """Two active responders with one name (a database from before names were kept apart):
    neither the bot nor the command line guesses which is meant."""
    service, _ = world
    twin = people.new_responder(keyring, 2999, "ann", "responder", "en", T0 + timedelta(hours=1))
    async with session_factory(engine).begin() as session:
        session.add(twin)
    env = cli_env(database_url, keyring, tmp_path)
    first, second = (await rows(engine))["Ann"][0], twin

    assert refused(await confide("responders", "revoke", "Ann", env=env)) == (
        "confide: 2 active responders are named Ann: name one by its reference instead "
        f"({ref(first)}, {ref(second)}; see `confide responders list`)."
    )
    assert refused(await confide("responders", "role", "ANN", "admin", env=env)).startswith(
        "confide: 2 active responders are named ANN: "
    )
    assert await send(service, Command("revoke", "Ann"), ADA) == (
        Say("ambiguous_responder", {"name": "Ann", "count": "2"}),
    )
    succeeded(await confide("responders", "revoke", ref(second), env=env))
    after = await rows(engine)
    assert [r.active for r in after["Ann"]] == [True] and not after["ann"][0].active
    assert await send(service, Command("revoke", "Ann"), ADA) == (Say("revoked", {"name": "Ann"}),)


async def test_a_new_invite_cannot_take_a_name_in_use(
    world: World, keyring: Keyring, database_url: str, tmp_path: Path
) -> None:
    env = cli_env(database_url, keyring, tmp_path)
    assert refused(await confide("invite", "--name", "ann", env=env)) == (
        "confide: ann is already an active responder: revoke them first "
        "(`confide responders revoke ann`), or give another name"
    )
    succeeded(await confide("invite", "--name", "Fay", env=env))
    assert refused(await confide("invite", "--name", "Fay", "--role", "admin", env=env)) == (
        "confide: an invite for Fay is still pending: revoke it first "
        "(`confide invites revoke Fay`), or give another name"
    )
    succeeded(await confide("invites", "revoke", "Fay", env=env))
    succeeded(await confide("invite", "--name", "Fay", env=env))


# -- responders role ----------------------------------------------------------------------


async def test_roles_change_and_the_last_admin_stays(
    world: World, engine: AsyncEngine, keyring: Keyring, database_url: str, tmp_path: Path
) -> None:
    service, clock = world
    env = cli_env(database_url, keyring, tmp_path)
    assert refused(await confide("responders", "role", "Ada", "responder", env=env)) == (
        "confide: Ada is the only active admin and stays one: make someone else an admin "
        "first (`confide responders role NAME admin`)."
    )
    assert succeeded(await confide("responders", "role", "Ann", "admin", env=env)) == [
        "Ann is now an admin. They are told, and their command menu changes, as soon as "
        "the bot runs."
    ]
    clock.now += timedelta(minutes=1)
    (listing,) = await send(service, Command("responders"), ANN)  # an admin's command now
    assert isinstance(listing, ShowResponders)
    assert succeeded(await confide("responders", "role", "Ada", "responder", env=env)) == [
        "Ada is now a responder. They are told, and their command menu changes, as soon as "
        "the bot runs."
    ]
    assert await send(service, Command("responders"), ADA) == (Say("unknown_command"),)
    assert succeeded(await confide("responders", "role", "Ann", "admin", env=env)) == [
        "Ann is already an admin: nothing changed."
    ]
    assert refused(await confide("responders", "role", "Ann", "responder", env=env)) == (
        "confide: Ann is the only active admin and stays one: make someone else an admin "
        "first (`confide responders role NAME admin`)."
    )
    await send(service, Command("revoke", "Ben"), ANN)
    assert refused(await confide("responders", "role", "Ben", "admin", env=env)) == (
        "confide: Ben is revoked; to bring them back, enrol them again: "
        "`confide invite --role admin --name NAME`."
    )
    assert refused(await confide("responders", "role", "Zoe", "admin", env=env)) == (
        "confide: no active responder is named Zoe: `confide responders list` shows them."
    )
    # The rows stay genuine: their MACs were sealed again with the new roles.
    async with session_factory(engine)() as session:
        ann = await people.responder_for_chat(session, keyring, ANN)
        ada = await people.responder_for_chat(session, keyring, ADA)
    assert ann is not None and ann.role == "admin"
    assert ada is not None and ada.role == "responder"


async def test_the_new_role_is_told_and_the_menu_follows_the_row_when_sent(
    world: World, keyring: Keyring, database_url: str, tmp_path: Path
) -> None:
    service, _ = world
    env = cli_env(database_url, keyring, tmp_path)
    succeeded(await confide("responders", "role", "Ben", "admin", env=env))
    succeeded(await confide("responders", "role", "Ann", "admin", env=env))
    succeeded(await confide("responders", "role", "Ben", "responder", env=env))
    told = await queued_for(service, BEN)
    assert [(n.key, n.kind, n.params) for n in told] == [
        ("role_now_admin", "message", {}),
        # Both menu changes bring the role Ben has when they are sent: never the older one.
        ("", "commands", {"role": "responder"}),
        ("role_now_responder", "message", {}),
        ("", "commands", {"role": "responder"}),
    ]


# -- invites ------------------------------------------------------------------------------


async def test_invites_list_and_revoke(
    world: World, engine: AsyncEngine, keyring: Keyring, database_url: str, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    async with session_factory(engine).begin() as session:
        await create_invite(
            session, keyring, "responder", "Old", now - timedelta(days=3), timedelta(hours=24)
        )
    env = cli_env(database_url, keyring, tmp_path)
    made = succeeded(await confide("invite", "--name", "Fay", "--role", "admin", env=env))
    code = made[1].split()[-1]
    succeeded(await confide("invite", "--name", "Gus", env=env))

    assert succeeded(await confide("invites", "revoke", "gus", env=env)) == [
        "Revoked 1 pending invite(s) for Gus: the code no longer enrols anyone."
    ]
    assert refused(await confide("invites", "revoke", "Gus", env=env)) == (
        "confide: no invite for Gus is pending (1 revoked): nothing to revoke."
    )
    assert refused(await confide("invites", "revoke", "Old", env=env)) == (
        "confide: no invite for Old is pending (1 expired): nothing to revoke."
    )
    assert refused(await confide("invites", "revoke", "Ann", env=env)) == (
        "confide: no invite for Ann is pending (1 used): nothing to revoke."
    )
    assert refused(await confide("invites", "revoke", "Zed", env=env)) == (
        "confide: there is no invite for Zed: `confide invites list` shows them."
    )

    async with engine.connect() as connection:
        invites = {r.display_name: r for r in (await connection.execute(select(Invite))).all()}
    lines = succeeded(await confide("invites", "list", env=env))
    expires = {
        n: r.expires_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") for n, r in invites.items()
    }
    # Newest first (Fay and Gus were made within a minute or two of each other).
    assert set(lines[:2]) == {
        f"Fay  admin      expires {expires['Fay']}  pending",
        f"Gus  responder  expires {expires['Gus']}  revoked",
    }
    assert lines[2:] == [
        f"Ada  admin      expires {expires['Ada']}  used",
        f"Ann  responder  expires {expires['Ann']}  used",
        f"Ben  responder  expires {expires['Ben']}  used",
        f"Old  responder  expires {expires['Old']}  expired",
    ]
    assert not any(code in line for line in lines)  # never the code


# -- the audit log ------------------------------------------------------------------------


async def test_every_access_change_is_audited_without_names_and_the_log_verifies(
    world: World, engine: AsyncEngine, keyring: Keyring, database_url: str, tmp_path: Path
) -> None:
    service, clock = world
    key_file = tmp_path / "confide.keys"
    keyring.write_new_file(key_file)
    env = {**cli_env(database_url, keyring, tmp_path), "CONFIDE_KEY_FILE": str(key_file)}
    env.pop("CONFIDE_KEYS")
    ids = {name: rs[0].id for name, rs in (await rows(engine)).items()}
    enrolled = [(e.actor, e.role, e.action) for e in await audit_log(engine)]
    assert enrolled == [
        ("operator", "operator", "invite:responder"),
        (str(ids["Ann"]), "responder", "enrolled:responder"),
        ("operator", "operator", "invite:responder"),
        (str(ids["Ben"]), "responder", "enrolled:responder"),
        ("operator", "operator", "invite:admin"),
        (str(ids["Ada"]), "admin", "enrolled:admin"),
    ]
    made = succeeded(await confide("invite", "--name", "Cy", env=env))
    succeeded(await confide("invites", "revoke", "Cy", env=env))
    succeeded(await confide("responders", "role", "Ann", "admin", env=env))
    clock.now = datetime.now(UTC)
    assert await send(service, Command("revoke", "Ben"), ADA) == (Say("revoked", {"name": "Ben"}),)
    succeeded(await confide("responders", "role", "Ada", "responder", env=env))
    succeeded(await confide("responders", "revoke", "Ada", env=env))
    succeeded(await confide("keys", "rotate", "--wait", "5", env=env))
    succeeded(await confide("keys", "retire", "1", env=env))

    log = await audit_log(engine)
    assert [(e.actor, e.role, e.action) for e in log[len(enrolled) :]] == [
        ("operator", "operator", "invite:responder"),
        ("operator", "operator", "invite_revoked"),
        ("operator", "operator", "role:admin"),
        (str(ids["Ada"]), "admin", "revoked"),
        ("operator", "operator", "role:responder"),
        ("operator", "operator", "revoked"),
        ("operator", "operator", "keys_rotated"),
        ("operator", "operator", "kek_retired"),
    ]
    for entry in log:  # nobody's name, Telegram id or code
        for word in ("Ann", "Ben", "Ada", "Cy", made[1].split()[-1], *map(str, TELEGRAM_IDS)):
            assert word not in f"{entry.actor} {entry.role} {entry.action}"
    verified = succeeded(await confide("audit", "verify", env=env))
    assert verified[0].startswith("audit log intact: ")


# -- a running bot ------------------------------------------------------------------------


async def test_a_running_bot_follows_the_command_line(
    emulator: BotApiEmulator,
    bot: InProcessBot,
    engine: AsyncEngine,
    keyring: Keyring,
    bot_env: dict[str, str],
) -> None:
    """The person is told, and their command menu changes within seconds: no need for them
    to write to the bot first."""
    env = {**os.environ, **bot_env, "PYTHONPATH": str(REPO)}
    await enrol(emulator, engine, keyring, "Ada", "admin")
    kim = await enrol(emulator, engine, keyring, "Kim")

    def menu_is(role: str) -> Callable[[], bool]:
        return lambda: emulator.menu(kim.chat_id) == list(commands_for(role))

    await emulator.wait_until(menu_is("responder"), timeout=WAIT)
    succeeded(await confide("responders", "role", "Kim", "admin", env=env))
    assert "You are now an admin" in (await kim.next_message(WAIT)).text
    await emulator.wait_until(menu_is("admin"), timeout=WAIT)
    assert "Responders" in (await say(kim, "/responders")).text

    succeeded(await confide("responders", "role", "Kim", "responder", env=env))
    assert "You are now a responder" in (await kim.next_message(WAIT)).text
    await emulator.wait_until(menu_is("responder"), timeout=WAIT)
    assert UNKNOWN in (await say(kim, "/responders")).text

    succeeded(await confide("responders", "revoke", "Kim", env=env))
    assert "no longer a responder" in (await kim.next_message(WAIT)).text
    await emulator.wait_until(menu_is("reporter"), timeout=WAIT)
    assert UNKNOWN in (await say(kim, "/queue")).text
