"""`confide keys rotate | retire`: key-encryption keys over time (bot.services.keys)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable

from bot import logs
from bot.cli.commands import open_database
from bot.config import Settings, load_settings
from bot.crypto import Keyring
from bot.services import keys as key_service


async def rotate(wait_seconds: float, batch: int) -> int:
    settings = load_settings()
    logs.configure("WARNING")
    engine, sessions, keyring = await open_database()
    bar = _Progress()

    try:
        target = await key_service.rotate(
            sessions,
            keyring,
            _installer(settings, "with the new key (old and new keys are both in it)"),
            wait_seconds=wait_seconds,
            say=print,
            progress=bar.show,
            batch=batch,
        )
    except key_service.RotationStopped as stopped:
        print(f"confide: {stopped}.", file=sys.stderr)
        return 1
    finally:
        bar.finish()
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


def _installer(settings: Settings, what: str) -> Callable[[Keyring], Awaitable[bool]]:
    """Puts new key material where the bots read it: the key file, written in one step; or,
    with keys in CONFIDE_KEYS, the text to install, once the operator confirms it is."""

    async def install(keys: Keyring) -> bool:
        if settings.key_material:
            print(f"The keys come from CONFIDE_KEYS. Set it, {what}, for every Confide")
            print("process, and restart them:")
            print()
            print(f"  CONFIDE_KEYS='{keys.dump_one_line()}'")
            print()
            try:
                await asyncio.to_thread(
                    input, "Press Enter once every process runs with it (Ctrl+C to stop): "
                )
            except EOFError:
                return False
            return True
        assert settings.key_file is not None
        keys.replace_file(settings.key_file)
        print(f"Wrote {settings.key_file} ({what}). Back up the key file now.")
        return True

    return install


class _Progress:
    """A bar on a terminal; a line per batch otherwise (logs, pipes)."""

    WIDTH = 30

    def __init__(self) -> None:
        self.terminal = sys.stdout.isatty()
        self.shown = False

    def show(self, done: int, total: int) -> None:
        self.shown = True
        if self.terminal:
            filled = self.WIDTH * done // max(total, 1)
            bar = "#" * filled + "." * (self.WIDTH - filled)
            print(f"\r[{bar}] {done}/{total} keys re-wrapped", end="", flush=True)
        else:
            print(f"re-wrapped {done} of {total} keys", flush=True)

    def finish(self) -> None:
        if self.terminal and self.shown:
            print()


async def retire(kek_id: int) -> int:
    settings = load_settings()
    logs.configure("WARNING")
    engine, sessions, keyring = await open_database()

    install = _installer(settings, f"without kek.{kek_id}")
    try:
        if not await key_service.retire(sessions, keyring, kek_id, install):
            print("Not confirmed: nothing was retired.")
            return 1
    finally:
        await engine.dispose()
    print(
        f"kek.{kek_id} is retired. Copies of the database from before the last rotation "
        "(backups, dead rows) can no longer be read, and cannot be restored."
    )
    return 0
