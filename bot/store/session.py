"""What services hold while they work with the database: a session (one transaction per
update), the factory that opens one, and the errors storage raises on a conflict. Services
use these names, never SQLAlchemy's."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm.exc import StaleDataError

Engine = AsyncEngine
Session = AsyncSession
Sessions = async_sessionmaker[AsyncSession]

# Another transaction got there first: a unique value was taken (a short id drawn twice, a
# chat created by two processes) or a row changed since it was read. The whole update is
# tried again from what is stored.
CONFLICTS = (IntegrityError, StaleDataError)
