"""An enrolment code is single-use, expires, and can be revoked (`confide invites revoke`):
a revoked, used or expired code enrols no one, and says why in the person's language. The
revocation is covered by the invite's MAC: clearing it in the database (or moving the
expiry, or un-using a code) makes the code invalid, never valid again."""

from __future__ import annotations

import os
import re
import uuid
from datetime import UTC, datetime, timedelta

from harness import REPO, InProcessBot, confide
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from talk import say

from bot.crypto import Keyring
from bot.devserver import BotApiEmulator
from bot.i18n import catalogue
from bot.services.enrolment import create_invite
from bot.store.database import session_factory

UNKNOWN = "don't know that command"
REVOKED = "That enrolment code was withdrawn and no longer works. Ask for a new one."
LATIN = re.compile(r"[A-Za-z]")


def operator_env(bot_env: dict[str, str]) -> dict[str, str]:
    """The operator's shell beside the running bot: same database, same keys."""
    return {**os.environ, **bot_env, "PYTHONPATH": str(REPO)}


async def invite_code(env: dict[str, str], name: str) -> str:
    made = await confide("invite", "--name", name, env=env)
    assert made.returncode == 0, made.stdout + made.stderr
    return made.stdout.splitlines()[1].split()[-1]


async def revoke_invite(env: dict[str, str], name: str) -> None:
    done = await confide("invites", "revoke", name, env=env)
    assert done.returncode == 0, done.stdout + done.stderr


async def test_a_revoked_used_or_expired_code_enrols_no_one_in_either_language(
    emulator: BotApiEmulator,
    bot: InProcessBot,
    engine: AsyncEngine,
    keyring: Keyring,
    bot_env: dict[str, str],
) -> None:
    env = operator_env(bot_env)
    texts = catalogue()

    code = await invite_code(env, "Fay")
    await revoke_invite(env, "Fay")
    fay = emulator.new_user(first_name="Fay", language_code="en")
    assert (await say(fay, f"/enroll {code}")).text == REVOKED
    wen = emulator.new_user(first_name="Wen", language_code="zh")
    said = (await say(wen, f"/enroll {code}")).text
    assert said == texts.text("zh", "enrol_revoked_code") and not LATIN.search(said)
    assert UNKNOWN in (await say(fay, "/queue")).text

    used = await invite_code(env, "Hal")
    hal = emulator.new_user(first_name="Hal", language_code="en")
    assert "Welcome, Hal" in (await say(hal, f"/enroll {used}")).text
    assert (await say(fay, f"/enroll {used}")).text == texts.text("en", "enrol_used_code")
    assert (await say(wen, f"/enroll {used}")).text == texts.text("zh", "enrol_used_code")

    async with session_factory(engine).begin() as session:
        old = await create_invite(
            session,
            keyring,
            "responder",
            "Ivy",
            datetime.now(UTC) - timedelta(hours=30),
            timedelta(hours=24),
        )
    assert (await say(fay, f"/enroll {old}")).text == texts.text("en", "enrol_expired_code")
    assert (await say(wen, f"/enroll {old}")).text == texts.text("zh", "enrol_expired_code")
    assert UNKNOWN in (await say(fay, "/queue")).text
    assert (await say(wen, "/queue")).text.startswith(texts.text("zh", "unknown_command"))


async def test_a_forged_unrevoke_does_not_bring_a_code_back(
    emulator: BotApiEmulator,
    bot: InProcessBot,
    engine: AsyncEngine,
    keyring: Keyring,
    bot_env: dict[str, str],
) -> None:
    env = operator_env(bot_env)
    code = await invite_code(env, "Eve")
    await revoke_invite(env, "Eve")
    eve = emulator.new_user(first_name="Eve", language_code="en")
    assert (await say(eve, f"/enroll {code}")).text == REVOKED

    # Someone with write access to the database, without the keys, clears the revocation.
    async with engine.begin() as connection:
        await connection.execute(
            text("UPDATE invites SET revoked_at = NULL WHERE display_name = 'Eve'")
        )
    assert "not valid" in (await say(eve, f"/enroll {code}")).text
    assert UNKNOWN in (await say(eve, "/responders")).text
    listed = await confide("invites", "list", env=env)
    assert listed.stdout.splitlines()[0].endswith("changed outside Confide: enrols no one")
    # ... or moves it to a later time, or pushes the expiry out: still nothing.
    async with engine.begin() as connection:
        await connection.execute(
            text("UPDATE invites SET revoked_at = expires_at WHERE display_name = 'Eve'")
        )
    assert "not valid" in (await say(eve, f"/enroll {code}")).text

    # A used code cannot be un-used either.
    used = await invite_code(env, "Fay")
    fay = emulator.new_user(first_name="Fay", language_code="en")
    assert "Welcome, Fay" in (await say(fay, f"/enroll {used}")).text
    async with engine.begin() as connection:
        await connection.execute(
            text("UPDATE invites SET used_at = NULL WHERE display_name = 'Fay'")
        )
    assert "not valid" in (await say(eve, f"/enroll {used}")).text
    assert UNKNOWN in (await say(eve, "/queue")).text

    # An honest new invite for the same name still works: the forged rows grant nothing.
    honest = await invite_code(env, "Eve")
    assert "Welcome, Eve" in (await say(eve, f"/enroll {honest}")).text


def test_an_invite_from_before_revocation_existed_keeps_its_mac(keyring: Keyring) -> None:
    """Codes handed out before the upgrade stay valid: the revocation enters the MAC only
    once an invite is revoked."""
    when = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
    before = keyring.invite_mac(
        invite_id=uuid.UUID(int=7),
        code_lookup=b"x" * 32,
        role="responder",
        display_name="Kim",
        expires_at=when,
        used_at=None,
    )
    after = keyring.invite_mac(
        invite_id=uuid.UUID(int=7),
        code_lookup=b"x" * 32,
        role="responder",
        display_name="Kim",
        expires_at=when,
        used_at=None,
        revoked_at=None,
    )
    revoked = keyring.invite_mac(
        invite_id=uuid.UUID(int=7),
        code_lookup=b"x" * 32,
        role="responder",
        display_name="Kim",
        expires_at=when,
        used_at=None,
        revoked_at=when,
    )
    assert before == after != revoked
