"""Responders and invites as rows that grant power: each carries a MAC under a key from the
key file, so that someone who can write to the database but has no keys cannot make
themselves a responder, raise a role, revive a revoked account or redirect alerts. A row
whose MAC does not match grants nothing, and the mismatch is logged as tampering."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from datetime import datetime

from bot import metrics
from bot.cases import readers
from bot.cases.readers import Occasion
from bot.crypto import Keyring
from bot.store import queries
from bot.store.models import Invite, Responder
from bot.store.session import Session, Sessions

log = logging.getLogger(__name__)


def _responder_mac(keyring: Keyring, person: Responder) -> bytes:
    return keyring.responder_mac(
        responder_id=person.id,
        lookup=person.lookup,
        role=person.role,
        active=person.active,
        chat=person.chat,
        revoked_at=person.revoked_at,
        display_name=person.display_name,
    )


def seal_responder(keyring: Keyring, person: Responder) -> None:
    """Authenticate the row as it is now; call after every change to it."""
    person.mac = _responder_mac(keyring, person)


def responder_intact(keyring: Keyring, person: Responder) -> bool:
    if Keyring.macs_match(person.mac, _responder_mac(keyring, person)):
        return True
    metrics.tampering_detected("responder_row")
    log.warning("event=tampering_detected what=responder_row")
    return False


def _invite_mac(keyring: Keyring, invite: Invite) -> bytes:
    return keyring.invite_mac(
        invite_id=invite.id,
        code_lookup=invite.code_lookup,
        role=invite.role,
        display_name=invite.display_name,
        expires_at=invite.expires_at,
        used_at=invite.used_at,
        revoked_at=invite.revoked_at,
    )


def seal_invite(keyring: Keyring, invite: Invite) -> None:
    invite.mac = _invite_mac(keyring, invite)


def invite_intact(keyring: Keyring, invite: Invite) -> bool:
    if Keyring.macs_match(invite.mac, _invite_mac(keyring, invite)):
        return True
    metrics.tampering_detected("invite_row")
    log.warning("event=tampering_detected what=invite_row")
    return False


async def responder_for_chat(session: Session, keyring: Keyring, chat_id: int) -> Responder | None:
    """The active responder who uses this chat, if the row is genuine."""
    person = await queries.responder_by_lookup(session, keyring.responder_lookup(chat_id))
    if person is None or not responder_intact(keyring, person) or not person.active:
        return None
    return person


async def enrolled(session: Session, keyring: Keyring, chat_id: int) -> Responder | None:
    """The genuine row of this chat's responder, active or revoked (for re-enrolment)."""
    person = await queries.responder_by_lookup(session, keyring.responder_lookup(chat_id))
    if person is None or not responder_intact(keyring, person):
        return None
    return person


async def active_responders(session: Session, keyring: Keyring) -> list[Responder]:
    """Everyone who may be alerted and may act: active, and genuine."""
    return [p for p in await queries.responders(session) if responder_intact(keyring, p)]


async def everyone(session: Session, keyring: Keyring) -> list[Responder]:
    """Every genuine row, revoked ones included (for names in case histories)."""
    return [
        p
        for p in await queries.responders(session, active_only=False)
        if responder_intact(keyring, p)
    ]


async def names(session: Session, keyring: Keyring) -> dict[uuid.UUID, str]:
    """Everyone's display name by id, for case histories."""
    return {p.id: p.display_name for p in await everyone(session, keyring)}


async def names_of(
    session: Session, keyring: Keyring, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """The display names of these responders only (a page names a few, not everyone)."""
    wanted = set(ids)
    if not wanted:
        return {}
    rows = await queries.responders_by_ids(session, wanted)
    return {p.id: p.display_name for p in rows if responder_intact(keyring, p)}


async def responder_by_id(
    session: Session, keyring: Keyring, responder_id: uuid.UUID | None
) -> Responder | None:
    if responder_id is None:
        return None
    person = await queries.responder_by_id(session, responder_id)
    if person is None or not responder_intact(keyring, person):
        return None
    return person


def new_responder(
    keyring: Keyring,
    chat_id: int,
    display_name: str,
    role: str,
    language: str,
    now: datetime,
) -> Responder:
    person = Responder(id=uuid.uuid4(), lookup=keyring.responder_lookup(chat_id))
    key, person.wrapped_key = keyring.new_responder_key(person.id)
    person.chat = key.seal_chat(chat_id)
    person.display_name, person.role, person.active = display_name, role, True
    person.language, person.enrolled_at, person.revoked_at = language, now, None
    seal_responder(keyring, person)
    return person


def told(
    occasion: Occasion,
    staff: list[Responder],
    excluded: frozenset[uuid.UUID],
    claimer: uuid.UUID | None,
) -> list[Responder]:
    """The responders the policy names (bot.cases.readers), among `staff`."""
    by_id = {p.id: p for p in staff}
    chosen = readers.recipients(
        occasion, [readers.Staff(p.id, p.role == "admin") for p in staff], excluded, claimer
    )
    return [by_id[s.id] for s in chosen]


def excludes_everyone(staff: list[Responder], excluded: set[uuid.UUID]) -> bool:
    return readers.excludes_everyone(
        (readers.Staff(p.id, p.role == "admin") for p in staff), excluded
    )


def chat_of(keyring: Keyring, person: Responder) -> int:
    """A responder's Telegram chat id, to reach them."""
    return keyring.responder_key(person.id, person.wrapped_key).open_chat(person.chat)


async def staffing(sessions: Sessions, keyring: Keyring) -> tuple[int, int]:
    """How many genuine active responders and admins there are (`confide check`)."""
    async with sessions.begin() as session:
        active = await active_responders(session, keyring)
    admins = sum(1 for person in active if person.role == "admin")
    return len(active) - admins, admins
