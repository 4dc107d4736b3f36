"""Keys over time: proving at start-up that the key file is the database's, keeping running
processes in step during a rotation, re-wrapping every data key, and retiring old KEKs.

A rotation goes: the new KEK is written to the key file and recorded as "pending"; every
running process loads it (each checks the database every few seconds, and tells it which
KEKs it holds); only then does it become the one new keys are wrapped under ("rotating"),
every wrapped key is re-wrapped (a chat gets a new key of its own, so that old copies of
its state die with the old KEK), and the KEK becomes "current". Each step is recorded in
the database, so a rotation killed midway resumes where it stopped."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.crypto import CryptoError, KeyConfigError, KeyOwner, Keyring
from bot.services import audit
from bot.services.audit import OPERATOR
from bot.store import keys as stored_keys
from bot.store.models import Chat
from bot.store.session import CONFLICTS, Sessions

log = logging.getLogger(__name__)
WATCH_SECONDS = 3.0
LIVE_AFTER = timedelta(seconds=15)  # a process not heard of for this long is gone
REWRAP_BATCH = 500


async def check_keys(sessions: Sessions, keyring: Keyring) -> None:
    """Prove the keys are the database's keys, remember new ones, and wrap under the KEK
    the database says is in use."""
    try:
        await _check_and_remember(sessions, keyring)
    except CONFLICTS:
        # Another process starting at the same moment stored them first: check against those.
        await _check_and_remember(sessions, keyring)


async def keys_known(sessions: Sessions, keyring: Keyring) -> bool:
    """check_keys without writing (`confide check`): raises KeyConfigError if the keys are
    not the database's; False for a database that has recorded no keys yet."""
    async with sessions.begin() as session:
        index = await stored_keys.index_check(session)
        known = await stored_keys.keks(session)
    keyring.verify({k.kek_id: k.check for k in known}, index)
    return index is not None


async def _check_and_remember(sessions: Sessions, keyring: Keyring) -> None:
    async with sessions.begin() as session:
        index = await stored_keys.index_check(session)
        known = await stored_keys.keks(session)
        keyring.verify({k.kek_id: k.check for k in known}, index)
        if index is None:
            await stored_keys.record_index_check(session, keyring.index_check())
        ids = {k.kek_id for k in known}
        for kek_id in keyring.kek_ids:
            if kek_id in ids:
                continue
            # A new database's first KEK is current; a KEK added later waits for a rotation.
            state = stored_keys.CURRENT if not known else stored_keys.PENDING
            if not known and kek_id != max(keyring.kek_ids):
                state = stored_keys.OLD
            await stored_keys.record_kek(session, kek_id, keyring.make_kek_check(kek_id), state)
            known.append(stored_keys.KekRecord(kek_id, b"", state))
    in_use = [k.kek_id for k in known if k.state in stored_keys.IN_USE]
    keyring.use_kek(in_use[0] if in_use else max(k.kek_id for k in known))


class KeyWatch:
    """Keeps one running process's keyring in step with the database."""

    def __init__(
        self,
        sessions: Sessions,
        keyring: Keyring,
        reload: Callable[[], Keyring | None],
        clock: Callable[[], datetime],
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self.sessions = sessions
        self.keyring = keyring
        self.reload = reload  # a fresh read of the key file; None when keys come from env
        self.clock = clock
        self.on_change = on_change  # drop whatever was cached under the old keys
        self.replica_id = uuid.uuid4()
        self._warned: set[int] = set()
        self.missing: set[int] = set()  # KEKs the database uses that this process lacks

    async def tick(self) -> None:
        async with self.sessions.begin() as session:
            known = await stored_keys.keks(session)
        wanted = {k.kek_id for k in known if k.state != stored_keys.OLD}
        if not wanted <= set(self.keyring.kek_ids) or any(
            i not in {k.kek_id for k in known} for i in self.keyring.kek_ids
        ):
            self._reload()
        held = set(self.keyring.kek_ids)
        in_use = [k.kek_id for k in known if k.state in stored_keys.IN_USE]
        if in_use and in_use[0] in held and in_use[0] != self.keyring.current_kek_id:
            self.keyring.use_kek(in_use[0])
            log.info("event=kek_in_use kek=%d", in_use[0])
        self.missing = wanted - held  # readiness (/readyz) says so while it lasts
        for missing in wanted - held - self._warned:
            self._warned.add(missing)
            log.error(
                "event=kek_missing kek=%d hint=install the new key text (key file or "
                "CONFIDE_KEYS) and restart",
                missing,
            )
        async with self.sessions.begin() as session:
            await stored_keys.heartbeat(
                session,
                self.replica_id,
                self.keyring.kek_ids,
                self.keyring.current_kek_id,
                self.clock(),
            )

    def _reload(self) -> None:
        try:
            fresh = self.reload()
        except CryptoError as error:
            log.error("event=key_file_reload_failed error=%s", type(error).__name__)
            return
        if fresh is not None and set(fresh.kek_ids) != set(self.keyring.kek_ids):
            self.keyring.reload(fresh)
            self.on_change()
            log.info("event=key_file_reloaded keks=%s", ",".join(map(str, fresh.kek_ids)))

    async def leave(self) -> None:
        async with self.sessions.begin() as session:
            await stored_keys.forget_replica(session, self.replica_id)


# ---- rotation and retirement (confide keys ...) ---------------------------------------------


@dataclass(frozen=True)
class RotationState:
    target: int | None  # the KEK being rotated to, if a rotation is under way
    state: str | None  # its state: pending or rotating


async def rotation_in_progress(sessions: Sessions) -> RotationState:
    async with sessions.begin() as session:
        for record in await stored_keys.keks(session):
            if record.state in (stored_keys.PENDING, stored_keys.ROTATING):
                return RotationState(record.kek_id, record.state)
    return RotationState(None, None)


async def add_pending_kek(sessions: Sessions, keyring: Keyring, kek_id: int) -> None:
    async with sessions.begin() as session:
        known = {k.kek_id for k in await stored_keys.keks(session)}
        if kek_id not in known:
            check = keyring.make_kek_check(kek_id)
            await stored_keys.record_kek(session, kek_id, check, stored_keys.PENDING)


async def lagging_replicas(
    sessions: Sessions, now: datetime, kek_id: int, *, wrapping: bool
) -> list[uuid.UUID]:
    """Live processes that do not hold `kek_id` yet (or, with `wrapping`, do not wrap under
    it yet)."""
    async with sessions.begin() as session:
        live = await stored_keys.live_replicas(session, now - LIVE_AFTER)
    return [
        r.replica_id for r in live if kek_id not in r.held or (wrapping and r.wraps_under != kek_id)
    ]


async def start_wrapping(sessions: Sessions, keyring: Keyring, kek_id: int) -> None:
    async with sessions.begin() as session:
        await stored_keys.set_kek_state(session, kek_id, stored_keys.ROTATING)
    keyring.use_kek(kek_id)


async def remaining(sessions: Sessions, kek_id: int) -> int:
    """Wrapped keys not (yet) under `kek_id`."""
    async with sessions.begin() as session:
        everything = await stored_keys.count_wrapped(session)
        under = await stored_keys.count_wrapped(session, kek_id)
    return sum(everything.values()) - sum(under.values())


async def rewrap_batch(
    sessions: Sessions,
    keyring: Keyring,
    owner: KeyOwner,
    batch: int = REWRAP_BATCH,
    after: uuid.UUID | int | None = None,
) -> tuple[int, uuid.UUID | int | None]:
    """Re-wrap the next batch of one kind of key under the current KEK, reading on by id
    from `after` (so that a pass costs its rows once, not the rows before it again each
    batch); returns how many were re-wrapped and the last id read (None when none is left).
    A record changed meanwhile by a running process is skipped and found by the next pass."""
    async with sessions.begin() as session:
        rows = await stored_keys.wrapped_not_under(
            session, owner, keyring.current_kek_id, after, batch
        )
        if owner is KeyOwner.CHAT:
            done = await stored_keys.rekey_chats(session, [_rekey_chat(keyring, r) for r in rows])
        else:
            column = "draft_key" if owner is KeyOwner.DRAFT else "wrapped_key"
            swaps = []
            for row in rows:
                old = getattr(row, column)
                swaps.append((row.id, old, keyring.rewrap(owner, row.id, old)))
            done = await stored_keys.replace_wrapped(session, owner, swaps)
        if rows and not done:
            raise RuntimeError("records keep changing under the rotation; try again")
    return done, rows[-1].id if rows else None


def _rekey_chat(keyring: Keyring, chat: Chat) -> tuple[Chat, bytes, bytes | None]:
    """A chat gets a new key, not only a new wrapping: its state's old copies (in dead rows,
    WAL, backups) stay under the old key, which dies with the old KEK."""
    old_key = keyring.chat_key(chat.id, chat.wrapped_key)
    new_key, wrapped = keyring.new_chat_key(chat.id)
    state = new_key.seal_state(old_key.open_state(chat.state)) if chat.state else None
    return chat, wrapped, state


async def finish_rotation(sessions: Sessions, keyring: Keyring, kek_id: int) -> None:
    async with sessions.begin() as session:
        await stored_keys.set_kek_state(session, kek_id, stored_keys.CURRENT)
        await audit.record(
            session, keyring, None, OPERATOR, OPERATOR, "keys_rotated", datetime.now(UTC)
        )


async def check_retirable(sessions: Sessions, keyring: Keyring, kek_id: int) -> None:
    """Refuse (KeyConfigError, saying why) unless nothing is wrapped under `kek_id`."""
    if kek_id not in keyring.kek_ids:
        raise KeyConfigError(f"kek.{kek_id} is not in the key file")
    async with sessions.begin() as session:
        states = {k.kek_id: k.state for k in await stored_keys.keks(session)}
        counts = await stored_keys.count_wrapped(session, kek_id)
    if states.get(kek_id) in (*stored_keys.IN_USE, stored_keys.PENDING):
        raise KeyConfigError(f"kek.{kek_id} is the key in use and cannot be retired")
    left = sum(counts.values())
    if left:
        raise KeyConfigError(
            f"{left} data keys are still wrapped under kek.{kek_id}: "
            "run `confide keys rotate` (it resumes an unfinished rotation) first"
        )


async def forget_kek(sessions: Sessions, keyring: Keyring, kek_id: int) -> None:
    async with sessions.begin() as session:
        await stored_keys.forget_kek(session, kek_id)
        await audit.record(
            session, keyring, None, OPERATOR, OPERATOR, "kek_retired", datetime.now(UTC)
        )


async def retire(
    sessions: Sessions,
    keyring: Keyring,
    kek_id: int,
    install: Callable[[Keyring], Awaitable[bool]],
) -> bool:
    """Remove a KEK nothing is wrapped under any more; False if the new key material (the
    keys without it) was not installed, and then nothing changes."""
    await check_retirable(sessions, keyring, kek_id)
    remaining_keys = keyring.without_kek(kek_id)
    if not await install(remaining_keys):
        return False
    await forget_kek(sessions, keyring, kek_id)
    keyring.reload(remaining_keys)
    return True


class RotationStopped(Exception):
    """The rotation cannot go on now (a bot lags, the operator did not confirm); what is
    done is recorded, and running `confide keys rotate` again resumes it."""


async def rotate(
    sessions: Sessions,
    keyring: Keyring,
    install: Callable[[Keyring], Awaitable[bool]],
    *,
    wait_seconds: float,
    say: Callable[[str], None],
    progress: Callable[[int, int], None],
    poll_seconds: float = 1.0,
    batch: int = REWRAP_BATCH,
) -> int:
    """Rotate to a new KEK, or resume a rotation under way; returns the new KEK's id.

    `install(keyring)` puts the new key material where the running bots read it (the key
    file) or asks the operator to, and says whether that is done."""
    under_way = await rotation_in_progress(sessions)
    if under_way.target is None:
        rotated = keyring.with_new_kek()
        target = max(rotated.kek_ids)
        keyring.reload(rotated)
        await add_pending_kek(sessions, keyring, target)
        if not await install(rotated):
            raise RotationStopped("the new key was not installed")
        state = stored_keys.PENDING
    else:
        target, state = under_way.target, under_way.state or stored_keys.PENDING
        say(f"Resuming the rotation to kek.{target}.")
        if target not in keyring.kek_ids:
            raise KeyConfigError(
                f"kek.{target} was added by an earlier `confide keys rotate`, but your keys do "
                "not have it: install the key text that rotation wrote (or printed)"
            )
    clock = lambda: datetime.now(UTC)  # noqa: E731 - the replicas' heartbeat is wall time
    if state == stored_keys.PENDING:
        await _wait_for_replicas(sessions, clock, target, False, wait_seconds, poll_seconds, say)
        await start_wrapping(sessions, keyring, target)
    keyring.use_kek(target)
    await _wait_for_replicas(sessions, clock, target, True, wait_seconds, poll_seconds, say)
    total, done = await remaining(sessions, target), 0
    # Passes until nothing is left: a key a bot wrapped under the old KEK just before it
    # saw the change is found by the next pass.
    while await remaining(sessions, target):
        for owner in KeyOwner:
            after: uuid.UUID | int | None = None
            while True:
                count, after = await rewrap_batch(sessions, keyring, owner, batch, after)
                if after is None:
                    break
                done += count
                progress(done, max(total, done))
    await finish_rotation(sessions, keyring, target)
    return target


async def _wait_for_replicas(
    sessions: Sessions,
    clock: Callable[[], datetime],
    target: int,
    wrapping: bool,
    wait_seconds: float,
    poll_seconds: float,
    say: Callable[[str], None],
) -> None:
    """Until every running bot holds (or wraps under) the new KEK."""
    waited = 0.0
    while lagging := await lagging_replicas(sessions, clock(), target, wrapping=wrapping):
        if waited >= wait_seconds:
            doing = "wrap under" if wrapping else "load"
            raise RotationStopped(
                f"{len(lagging)} running bot process(es) did not {doing} kek.{target} within "
                f"{wait_seconds:g} s. Bots re-read the key file every few seconds; with "
                "CONFIDE_KEYS they must be restarted with the new text. Then run "
                "`confide keys rotate` again: it resumes"
            )
        if waited == 0:
            say(f"Waiting for {len(lagging)} running bot process(es) to take kek.{target}...")
        await asyncio.sleep(poll_seconds)
        waited += poll_seconds
