"""`confide check`, as an operator runs it: one line per start-up check, exit 0 only when
every one passed, and a failure says what to do."""

from __future__ import annotations

from harness import InProcessBot, confide, enrol
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.crypto import Keyring
from bot.devserver import BotApiEmulator

CHECKS = ("config", "time zone", "questions", "keys", "database", "telegram", "people")


def outcomes(stdout: str) -> dict[str, tuple[str, str]]:
    lines = [line for line in stdout.splitlines() if line[:4] in ("ok  ", "FAIL", "skip")]
    found = {line[6:16].strip(): (line[:4].strip(), line[17:]) for line in lines}
    assert list(found) == list(CHECKS), stdout
    return found


async def test_a_ready_deployment_passes_every_check(
    emulator: BotApiEmulator,
    bot: InProcessBot,
    migrated: AsyncEngine,
    keyring: Keyring,
    bot_env: dict[str, str],
) -> None:
    await enrol(emulator, migrated, keyring, "Ada", "admin")
    await enrol(emulator, migrated, keyring, "Sam", "responder")
    result = await confide("check", env=bot_env)
    assert result.returncode == 0, result.stdout + result.stderr
    found = outcomes(result.stdout)
    assert all(outcome == "ok" for outcome, _ in found.values()), result.stdout
    assert found["telegram"][1] == "reachable; the token is @confide_test_bot's"
    assert found["people"][1] == "1 responder and 1 admin, active"
    assert found["database"][1].endswith("reachable and migrated, and these keys are its keys")
    assert result.stdout.endswith("Everything `confide run` needs is in place.\n")
    assert "TEST-TOKEN" not in result.stdout + result.stderr


async def test_each_failure_is_one_line_and_the_exit_code_says_so(
    emulator: BotApiEmulator,
    bot: InProcessBot,
    migrated: AsyncEngine,
    keyring: Keyring,
    bot_env: dict[str, str],
) -> None:
    await enrol(emulator, migrated, keyring, "Sam", "responder")
    no_admin = await confide("check", env=bot_env)
    assert no_admin.returncode == 1
    assert outcomes(no_admin.stdout)["people"] == (
        "FAIL",
        "1 responder and no admin: nobody is told when a case is escalated. Enrol one: "
        "`confide invite --role admin --name NAME`.",
    )
    assert no_admin.stderr == "Some checks failed: fix them, then run `confide check` again.\n"

    wrong_token = await confide(
        "check", env={**bot_env, "CONFIDE_TELEGRAM_TOKEN": "999:NOT-THE-TOKEN"}
    )
    found = outcomes(wrong_token.stdout)
    assert found["telegram"] == (
        "FAIL",
        "Telegram refused the bot token (wrong, or revoked): get the token from @BotFather "
        "and set CONFIDE_TELEGRAM_TOKEN.",
    )
    assert "NOT-THE-TOKEN" not in wrong_token.stdout + wrong_token.stderr

    other_keys = await confide("check", env={**bot_env, "CONFIDE_KEYS": Keyring.generate().dump()})
    found = outcomes(other_keys.stdout)
    assert found["keys"][0] == "ok"
    assert found["database"][0] == "FAIL"
    assert "not match the database" in found["database"][1]
    assert found["people"] == ("skip", "not checked: an earlier check failed")

    config = bot_env["CONFIDE_CONFIG"]
    with open(config, "a", encoding="utf-8") as handle:
        handle.write('[intak]\n[organisation]\ntimezone = "Mars/Olympus"\n')
    bad_config = await confide("check", env=bot_env)
    assert bad_config.returncode == 1
    found = outcomes(bad_config.stdout)
    assert found["config"] == ("FAIL", f"{config}: unknown section [intak]: did you mean [intake]?")
    assert all(outcome == "skip" for outcome, _ in list(found.values())[1:])
