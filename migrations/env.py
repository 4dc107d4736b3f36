"""Alembic environment: async engines, batch mode on SQLite, the models' naming convention."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from alembic import context
from sqlalchemy import Connection

from bot.store.database import create_engine
from bot.store.models import Base, Timestamp

target_metadata = Base.metadata


def render_item(kind: str, item: Any, autogen_context: Any) -> str | Literal[False]:
    # Migrations must not import application types: write the UTC timestamp as what it is.
    if kind == "type" and isinstance(item, Timestamp):
        return "sa.DateTime(timezone=True)"
    return False


def run_with(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_online() -> None:
    engine = create_engine(context.config.get_main_option("sqlalchemy.url") or "")
    async with engine.connect() as connection:
        await connection.run_sync(run_with)
        await connection.commit()
    await engine.dispose()


def run_offline() -> None:
    context.configure(
        url=context.config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
elif (shared := context.config.attributes.get("connection")) is not None:
    # Called from bot.store.database.migrate with an open connection.
    run_with(shared)
else:
    asyncio.run(run_online())
