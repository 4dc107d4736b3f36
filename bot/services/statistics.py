"""The statistics that remain of cases whose content is gone: one sealed row of coarse
figures per case (bot.cases.retention's Figures), under a statistics key of their own.

The row carries no case id and no time, so it cannot be joined back to the case, its audit
trail or the chat it came from; the figures themselves are coarse (a month, whole hours and
days, a choice id). The key is wrapped under the KEK like every data key, so a rotation
re-wraps it and a database copy without the key file reads none of it."""

from __future__ import annotations

import uuid
from datetime import datetime

from bot.cases.retention import Figures
from bot.crypto import Keyring, StatisticsKey
from bot.store import retention as stored
from bot.store.session import Session


class Statistics:
    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring

    async def _key(self, session: Session, now: datetime) -> tuple[uuid.UUID, StatisticsKey]:
        """The statistics key, made the first time it is needed."""
        row = await stored.statistics_key(session)
        if row is None:
            key_id = uuid.uuid4()
            key, wrapped = self.keyring.new_statistics_key(key_id)
            await stored.add_statistics_key(session, key_id, wrapped, now)
            return key_id, key
        return row.id, self.keyring.statistics_key(row.id, row.wrapped_key)

    async def record(self, session: Session, figures: Figures, now: datetime) -> None:
        """Keep one case's figures (in the caller's transaction: the one that destroys its
        content, so that they are kept exactly once)."""
        key_id, key = await self._key(session, now)
        row_id = uuid.uuid4()
        stored.add_figures(session, row_id, key_id, key.seal_figures(row_id, figures.to_json()))

    async def read(self, session: Session) -> list[Figures]:
        """Every case's figures, for reports (and for checking what is kept)."""
        keys: dict[uuid.UUID, StatisticsKey] = {}
        result = []
        for row in await stored.all_figures(session):
            if row.key_id not in keys:
                record = await stored.statistics_key_by_id(session, row.key_id)
                if record is None:
                    raise LookupError(f"statistics key {row.key_id} is missing")
                keys[row.key_id] = self.keyring.statistics_key(record.id, record.wrapped_key)
            result.append(Figures.from_json(keys[row.key_id].open_figures(row.id, row.figures)))
        return result
