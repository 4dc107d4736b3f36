"""Reading what the bot stored, as an operator with the key file could: through bot.crypto's
public verbs, for tests that check what is (and is not) in the database."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.crypto import Keyring
from bot.store.models import Case, Chat, OutboxMessage, Responder


def case_answers(keyring: Keyring, case: Any) -> dict[str, Any]:
    return keyring.case_key(case.id, case.wrapped_key).open_answers(case.answers)


def chat_state(keyring: Keyring, chat: Any) -> dict[str, Any]:
    return keyring.chat_key(chat.id, chat.wrapped_key).open_state(chat.state)


async def pending_outbox(engine: AsyncEngine, keyring: Keyring) -> list[tuple[int, str]]:
    """Every queued notification as (recipient chat, catalogue key), oldest first."""
    async with engine.connect() as connection:
        rows = (
            await connection.execute(
                select(OutboxMessage).order_by(OutboxMessage.created_at, OutboxMessage.due_at)
            )
        ).all()
        responders = {r.id: r for r in (await connection.execute(select(Responder))).all()}
        cases = {c.id: c for c in (await connection.execute(select(Case))).all()}
    result = []
    for row in rows:
        if row.audience == "responder":
            person = responders[row.responder_id]
            key = keyring.responder_key(person.id, person.wrapped_key)
            chat = key.open_chat(person.chat)
            payload = key.open_notice(row.id, row.case_id, row.payload)
        else:
            case = cases[row.case_id]
            case_key = keyring.case_key(case.id, case.wrapped_key)
            link = case_key.open_link(case.reporter)
            assert link is not None
            chat, payload = link.chat_id, case_key.open_notice(row.id, row.payload)
        result.append((chat, str(payload["key"])))
    return result


async def one_chat(engine: AsyncEngine) -> Any:
    async with engine.connect() as connection:
        return (await connection.execute(select(Chat))).one()
