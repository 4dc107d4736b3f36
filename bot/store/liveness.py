"""PostgreSQL connections tested before use only when they have sat idle in the pool.

SQLAlchemy's `pool_pre_ping` tests every connection at every checkout, and on asyncpg a
test is three round trips (BEGIN, an empty query, ROLLBACK): on a busy bot, a sixth of the
round trips of a responder opening a case. A connection in steady use is known to work; one
idle for IDLE_SECONDS may have been cut (a restart or failover of the server, a proxy's
idle timeout), and is tested first. A failed test makes the pool replace the connection
before anyone uses it, as pre-ping did."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.ext.asyncio import AsyncEngine

IDLE_SECONDS = 10.0
_RETURNED = "confide_returned_at"


def check_when_idle(engine: AsyncEngine) -> None:
    pool = engine.sync_engine.pool
    dialect = engine.sync_engine.dialect

    @event.listens_for(pool, "checkin")
    def returned(_dbapi_connection: Any, record: Any) -> None:
        record.info[_RETURNED] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def taken(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        returned_at = record.info.get(_RETURNED)
        if returned_at is None or time.monotonic() - returned_at < IDLE_SECONDS:
            return  # new, or in steady use
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as error:  # the pool replaces it and checks out again
            raise exc.DisconnectionError("connection lost while idle") from error
