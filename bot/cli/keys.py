"""`confide keys rotate | retire`: key-encryption keys over time (bot.services.keys)."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime

from bot import logs
from bot.cli.commands import open_database
from bot.config import ConfigError, Settings, load_settings
from bot.crypto import KeyOwner, Keyring
from bot.services import keys as key_service
from bot.store.session import Sessions

POLL_SECONDS = 1.0


async def rotate(wait_seconds: float) -> int:
    settings = load_settings()
    logs.configure("WARNING")
    engine, sessions, keyring = await open_database()
    try:
        progress = await key_service.rotation_in_progress(sessions)
        state: str | None
        if progress.target is None:
            target = await _add_new_kek(settings, sessions, keyring)
            state = "pending"
        else:
            target, state = progress.target, progress.state
            print(f"Resuming the rotation to kek.{target}.")
            if target not in keyring.kek_ids:
                raise ConfigError(
                    f"kek.{target} was added by an earlier `confide keys rotate`, but your keys "
                    "do not have it: install the key text that rotation wrote (or printed)"
                )
        if state == "pending":
            if not await _wait_for(sessions, target, wait_seconds, wrapping=False):
                return 1
            await key_service.start_wrapping(sessions, keyring, target)
        keyring.use_kek(target)
        if not await _wait_for(sessions, target, wait_seconds, wrapping=True):
            return 1
        await _rewrap_everything(sessions, keyring, target)
        await key_service.finish_rotation(sessions, target)
    finally:
        await engine.dispose()
    old = [i for i in keyring.kek_ids if i != target]
    print(f"Every data key is now wrapped under kek.{target}.")
    if old:
        print(
            "Old copies of the database (backups, and on PostgreSQL its dead rows and WAL) "
            f"stay readable with {', '.join(f'kek.{i}' for i in old)} until it is retired: "
            "once no backup you keep needs it, run "
            + " and ".join(f"`confide keys retire {i}`" for i in old)
            + "."
        )
    return 0


async def _add_new_kek(settings: Settings, sessions: Sessions, keyring: Keyring) -> int:
    rotated = keyring.with_new_kek()
    target = max(rotated.kek_ids)
    if settings.key_material:
        print("The keys come from CONFIDE_KEYS. Install this new key text there, for every")
        print("Confide process, and restart them (old and new keys are both in it):")
        print()
        print(f"  CONFIDE_KEYS='{rotated.dump_one_line()}'")
        print()
        keyring.reload(rotated)
        await key_service.add_pending_kek(sessions, keyring, target)
        if not _confirmed("Press Enter once every process runs with it (Ctrl+C to stop): "):
            print("Not confirmed. Run `confide keys rotate` again, with the new CONFIDE_KEYS set.")
            raise SystemExit(1)
    else:
        assert settings.key_file is not None
        rotated.replace_file(settings.key_file)
        keyring.reload(rotated)
        await key_service.add_pending_kek(sessions, keyring, target)
        print(f"Added kek.{target} to {settings.key_file}. Back up the key file now.")
    return target


def _confirmed(prompt: str) -> bool:
    try:
        input(prompt)
    except EOFError:
        return False
    return True


async def _wait_for(sessions: Sessions, target: int, seconds: float, *, wrapping: bool) -> bool:
    """Wait until every running bot holds (or wraps under) the new KEK."""
    waited = 0.0
    while True:
        now = datetime.now(UTC)
        lagging = await key_service.lagging_replicas(sessions, now, target, wrapping=wrapping)
        if not lagging:
            return True
        if waited >= seconds:
            doing = "wrap under" if wrapping else "load"
            print(
                f"{len(lagging)} running bot process(es) did not {doing} kek.{target} within "
                f"{seconds:g} s. Bots re-read the key file every few seconds; with CONFIDE_KEYS "
                "they must be restarted with the new text. Then run `confide keys rotate` "
                "again: it resumes.",
                file=sys.stderr,
            )
            return False
        if waited == 0:
            print(f"Waiting for {len(lagging)} running bot process(es) to take kek.{target}...")
        await asyncio.sleep(POLL_SECONDS)
        waited += POLL_SECONDS


async def _rewrap_everything(sessions: Sessions, keyring: Keyring, target: int) -> None:
    total = await key_service.remaining(sessions, target)
    bar = _Progress(total)
    # Passes until nothing is left: a key a bot wrapped meanwhile under the old KEK (before
    # it saw the change) is found by the next pass.
    while await key_service.remaining(sessions, target):
        for owner in KeyOwner:
            while done := await key_service.rewrap_batch(sessions, keyring, owner):
                bar.advance(done)
    bar.finish()


class _Progress:
    """A bar on a terminal; a line per step otherwise (logs, pipes)."""

    WIDTH = 30

    def __init__(self, total: int) -> None:
        self.total = max(total, 1)
        self.done = 0
        self.terminal = sys.stdout.isatty()

    def advance(self, count: int) -> None:
        self.done += count
        if self.terminal:
            filled = self.WIDTH * min(self.done, self.total) // self.total
            bar = "#" * filled + "." * (self.WIDTH - filled)
            print(f"\r[{bar}] {self.done}/{self.total} keys re-wrapped", end="", flush=True)
        else:
            print(f"re-wrapped {self.done} of {self.total} keys", flush=True)

    def finish(self) -> None:
        if self.terminal:
            print()


async def retire(kek_id: int) -> int:
    settings = load_settings()
    logs.configure("WARNING")
    engine, sessions, keyring = await open_database()
    try:
        await key_service.check_retirable(sessions, keyring, kek_id)
        remaining = keyring.without_kek(kek_id)
        if settings.key_material:
            print("The keys come from CONFIDE_KEYS. Replace them, for every Confide process,")
            print(f"with this text (kek.{kek_id} removed), and restart them:")
            print()
            print(f"  CONFIDE_KEYS='{remaining.dump_one_line()}'")
            print()
            if not _confirmed("Press Enter once that is done (Ctrl+C to stop): "):
                print("Not confirmed: nothing was retired.")
                return 1
        else:
            assert settings.key_file is not None
            remaining.replace_file(settings.key_file)
        await key_service.forget_kek(sessions, kek_id)
    finally:
        await engine.dispose()
    print(
        f"kek.{kek_id} is retired. Copies of the database from before the last rotation "
        "(backups, dead rows) can no longer be read, and cannot be restored."
    )
    return 0
