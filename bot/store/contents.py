"""What a database holds, seen from the keys: whether anything in it needs them. Used when
the key file is missing, to tell "restore it, or these reports are lost" from "nothing is
lost: make new keys"."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, delete, func, inspect, select, table, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.crypto import Keyring
from bot.store.models import AuditHead, KeyCheck, Replica

# Bookkeeping that holds nothing sealed: the schema's version, the keys' own check values,
# the running processes, which keyed migrations ran, counts of wrong codes, and the audit
# log's head (its entries count).
_HOLDS_NOTHING = frozenset(
    {"alembic_version", "key_checks", "replicas", "keyed_migrations", "code_guesses", "audit_head"}
)


@dataclass(frozen=True)
class Held:
    rows: int  # rows that need the keys to be read, in any table
    reports: int  # of which cases

    @property
    def nothing(self) -> bool:
        return self.rows == 0


async def held(engine: AsyncEngine) -> Held:
    async with engine.connect() as connection:
        return await connection.run_sync(_count)


def _count(connection: Connection) -> Held:
    rows = reports = 0
    for name in inspect(connection).get_table_names():
        if name in _HOLDS_NOTHING:
            continue
        count = connection.execute(select(func.count()).select_from(table(name))).scalar_one()
        rows += count
        reports += count if name == "cases" else 0
    return Held(rows, reports)


async def adopt_keys(engine: AsyncEngine, keyring: Keyring) -> Held:
    """If the database holds nothing that needs its keys, make `keyring` its keys: forget
    the old ones' check values and authenticate the (empty) audit log's head anew. Returns
    what it holds; changes nothing unless that is nothing."""
    async with engine.begin() as connection:
        found = await connection.run_sync(_count)
        migrated = await connection.run_sync(lambda c: inspect(c).has_table("key_checks"))
        if found.nothing and migrated:
            await connection.execute(delete(KeyCheck))
            await connection.execute(delete(Replica))
            head = (await connection.execute(select(AuditHead.seq, AuditHead.link))).first()
            if head is not None:
                mac = keyring.audit_head_mac(head.seq, bytes(head.link))
                await connection.execute(update(AuditHead).values(mac=mac))
    return found
