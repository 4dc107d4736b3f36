"""Many cases at once, sealed with the same verbs submission uses (bot.services.cases'
CaseVault.seal_new), written in one transaction: hundreds in a second, where filing each
through the conversation would take minutes."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.cases.ids import new_receipt_code, new_short_id
from bot.crypto import Keyring, ReporterLink
from bot.services import audit, people
from bot.services.cases import CaseVault
from bot.store import queries
from bot.store.database import session_factory
from bot.store.models import Case, Responder


class Seeded(NamedTuple):
    short_id: str
    number: int  # the i in `excluded(i)`: the order it was seeded in


async def responder_id(engine: AsyncEngine, keyring: Keyring, chat_id: int) -> uuid.UUID:
    async with session_factory(engine).begin() as session:
        person = await people.enrolled(session, keyring, chat_id)
    assert person is not None
    return person.id


async def seed_cases(
    engine: AsyncEngine,
    keyring: Keyring,
    count: int,
    start: datetime,
    *,
    excluded: Callable[[int], Collection[uuid.UUID]] = lambda _: (),
    late: bool = False,
    claimed_by: Responder | uuid.UUID | None = None,
    reporter: int | None = None,
    status: str = "new",
) -> list[Seeded]:
    """`count` cases submitted from `start`, three to a minute (so that the short id has to
    break ties), oldest first; returns them in list order. `excluded(i)` names who
    the i-th case's reporter excluded; `late`: past its deadline to be claimed."""
    taken: set[str] = set()
    short_ids = []
    vault = CaseVault(keyring)
    claimer = claimed_by.id if isinstance(claimed_by, Responder) else claimed_by
    async with session_factory(engine).begin() as session:
        for i in range(count):
            short_id = new_short_id()
            while short_id in taken:
                short_id = new_short_id()
            taken.add(short_id)
            at = start + timedelta(minutes=i // 3)
            case = Case(
                id=uuid.uuid4(),
                short_id=short_id,
                receipt_lookup=keyring.receipt_lookup(new_receipt_code()),
                status=status,
                urgent=False,
                claimed_by=claimer,
                submitted_at=at,
                updated_at=at,
                claim_due_at=at if late else None,
            )
            draft_key, _ = keyring.new_draft_key(case.id)
            link = ReporterLink(reporter, "en") if reporter is not None else None
            vault.seal_new(
                case, draft_key, {"language": "en", "answers": {}}, link, list(excluded(i))
            )
            session.add(case)
            short_ids.append(short_id)
    # Same-minute cases are listed by short id: the order the lists promise.
    order = sorted(range(count), key=lambda i: (i // 3, short_ids[i]))
    return [Seeded(short_ids[i], i) for i in order]


async def seed_responders(
    engine: AsyncEngine, keyring: Keyring, names: list[str], now: datetime
) -> None:
    """Enrolled responders, made as enrolment makes them (bot.services.people)."""
    async with session_factory(engine).begin() as session:
        for i, name in enumerate(names):
            session.add(people.new_responder(keyring, 900_000 + i, name, "responder", "en", now))


async def seed_trail(
    engine: AsyncEngine, keyring: Keyring, short_id: str, actor: uuid.UUID, entries: int
) -> None:
    """`entries` openings of a case by `actor`, recorded as the bot records them."""
    async with session_factory(engine).begin() as session:
        case = await queries.case_by_short_id(session, short_id)
        assert case is not None
        for i in range(entries):
            at = case.submitted_at + timedelta(minutes=i)
            await audit.record(session, keyring, case.id, str(actor), "responder", "open", at)
