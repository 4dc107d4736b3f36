"""Who may act, and changes to it: invites made and revoked, enrolments, revocations and
roles. The admins' /revoke (bot.services.admin), `/enroll` (bot.services.enrolment) and the
operator's `confide responders` and `confide invites` (bot.cli.people) share these rules.

Every change is an entry in the audit log with no case and no name: who acted (a
responder's id, or "operator" for the command line), their role, and what was done
("revoked", "role:admin", "invite:responder", ...). Whom it was done to is not recorded:
the log holds no names, and the responders' rows say who is what now."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from bot.cases.lifecycle import OPEN_STATES
from bot.crypto import Keyring
from bot.services import audit, outbox, people
from bot.services.outbox import Notification
from bot.store import queries
from bot.store.models import Invite, Responder
from bot.store.session import Session

log = logging.getLogger(__name__)
ROLES = ("responder", "admin")
PENDING, USED, EXPIRED, REVOKED, TAMPERED = "pending", "used", "expired", "revoked", "tampered"


@dataclass(frozen=True)
class Actor:
    """Who makes a change, as the audit log records it."""

    id: str
    role: str

    @classmethod
    def of(cls, person: Responder) -> Actor:
        return cls(str(person.id), person.role)


OPERATOR = Actor(audit.OPERATOR, audit.OPERATOR)  # whoever runs the command line


@dataclass(frozen=True)
class Refusal:
    """Why nothing was changed, and what was found instead.

    `reason`: "unknown" (no responder of that name), "ambiguous" (several active ones:
    `matches`), "already_revoked" (only revoked ones: `matches`), "same_role", "last_admin"
    (the only active admin cannot become a responder), "no_pending_invite" (`invites` holds
    the states of the invites of that name, if any)."""

    reason: str
    name: str
    matches: tuple[Responder, ...] = ()
    invites: tuple[str, ...] = ()


def normal_name(text: str) -> str:
    """A display name as stored: inner runs of spaces made one, ends trimmed."""
    return " ".join(text.split())


def same_name(stored: str, typed: str) -> bool:
    return normal_name(stored).casefold() == normal_name(typed).casefold()


def reference(person: Responder) -> str:
    """A short, stable name for one responder when two share a display name (from their
    internal id, which the audit log also uses; never their Telegram id)."""
    return "#" + person.id.hex[:8]


def _answers_to(person: Responder, typed: str) -> bool:
    wanted = normal_name(typed)
    by_reference = wanted.startswith("#") and len(wanted) >= 5
    return same_name(person.display_name, wanted) or (
        by_reference and person.id.hex.startswith(wanted[1:].casefold())
    )


# -- responders ---------------------------------------------------------------------------


async def roster(session: Session, keyring: Keyring) -> tuple[list[Responder], int]:
    """Every genuine responder row, revoked ones included, and how many rows failed their
    MAC (changed outside Confide: they grant nothing, and are not listed)."""
    rows = await queries.responders(session, active_only=False)
    genuine = [p for p in rows if people.responder_intact(keyring, p)]
    return genuine, len(rows) - len(genuine)


async def find_responder(session: Session, keyring: Keyring, typed: str) -> Responder | Refusal:
    """The one active responder called `typed` (any case and spacing), or named by their
    reference (#1a2b3c4d); else why not."""
    found = sorted(
        (p for p in await people.everyone(session, keyring) if _answers_to(p, typed)),
        key=lambda p: (p.enrolled_at, p.id.hex),  # the oldest first, in any database
    )
    active = [p for p in found if p.active]
    if len(active) == 1:
        return active[0]
    name = normal_name(typed)
    if active:
        return Refusal("ambiguous", name, tuple(active))
    if found:
        return Refusal("already_revoked", name, tuple(found))
    return Refusal("unknown", name)


async def revoke(
    session: Session, keyring: Keyring, person: Responder, actor: Actor, now: datetime
) -> int:
    """From now on the person is refused everything; their claimed cases go back to the
    queue (returns how many); they are told, and their command menu becomes a reporter's."""
    person.active, person.revoked_at = False, now
    people.seal_responder(keyring, person)
    claimed = await queries.open_cases(session, [s.value for s in OPEN_STATES], person.id)
    for case in claimed:
        case.claimed_by, case.claimed_at = None, None  # back to the queue
    outbox.to_responder(
        session, keyring, person, Notification("you_were_revoked", person.language), now
    )
    _refresh_menu(session, keyring, person, now)
    await audit.record(session, keyring, None, actor.id, actor.role, "revoked", now)
    log.info("event=responder_revoked")
    return len(claimed)


async def set_role(
    session: Session,
    keyring: Keyring,
    person: Responder,
    role: str,
    actor: Actor,
    now: datetime,
) -> Refusal | None:
    """Make an active responder an admin, or an admin a responder (never the last active
    admin: someone must be left to revoke people in the bot)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if person.role == role:
        return Refusal("same_role", person.display_name, (person,))
    if person.role == "admin":
        staff = await people.active_responders(session, keyring)
        if not any(p.role == "admin" and p.id != person.id for p in staff):
            return Refusal("last_admin", person.display_name, (person,))
    person.role = role
    people.seal_responder(keyring, person)
    outbox.to_responder(
        session, keyring, person, Notification(f"role_now_{role}", person.language), now
    )
    _refresh_menu(session, keyring, person, now)
    await audit.record(session, keyring, None, actor.id, actor.role, f"role:{role}", now)
    log.info("event=role_changed role=%s", role)
    return None


def _refresh_menu(session: Session, keyring: Keyring, person: Responder, now: datetime) -> None:
    """Their command menu follows their row as it is when the message is sent (the outbox
    fills in the role), so two quick changes cannot leave the older menu behind."""
    outbox.to_responder(
        session, keyring, person, Notification("", person.language, kind="commands"), now
    )


async def enrolled(session: Session, keyring: Keyring, person: Responder, now: datetime) -> None:
    """Record an enrolment: the new responder is the actor, in the role they now have."""
    await audit.record(
        session, keyring, None, str(person.id), person.role, f"enrolled:{person.role}", now
    )


# -- invites ------------------------------------------------------------------------------


def invite_state(keyring: Keyring, invite: Invite, now: datetime) -> str:
    """pending (it would enrol someone now), used, revoked, expired, or tampered (its MAC
    does not match: changed outside Confide, it enrols no one)."""
    if not people.invite_intact(keyring, invite):
        return TAMPERED
    if invite.used_at is not None:
        return USED
    if invite.revoked_at is not None:
        return REVOKED
    if invite.expires_at <= now:
        return EXPIRED
    return PENDING


async def invites(session: Session, keyring: Keyring, now: datetime) -> list[tuple[Invite, str]]:
    """Every invite, newest first, with its state."""
    return [(i, invite_state(keyring, i, now)) for i in await queries.invites(session)]


async def name_in_use(session: Session, keyring: Keyring, name: str, now: datetime) -> str | None:
    """Why a new invite may not have this name (so that a name keeps naming one person), or
    None: an active responder has it, or a pending invite."""
    if any(
        same_name(p.display_name, name) for p in await people.active_responders(session, keyring)
    ):
        return (
            f"{name} is already an active responder: revoke them first "
            f"(`confide responders revoke {name}`), or give another name"
        )
    for invite, state in await invites(session, keyring, now):
        if state == PENDING and same_name(invite.display_name, name):
            return (
                f"an invite for {name} is still pending: revoke it first "
                f"(`confide invites revoke {name}`), or give another name"
            )
    return None


async def invite_made(
    session: Session, keyring: Keyring, role: str, actor: Actor, now: datetime
) -> None:
    await audit.record(session, keyring, None, actor.id, actor.role, f"invite:{role}", now)


async def revoke_invites(
    session: Session, keyring: Keyring, name: str, actor: Actor, now: datetime
) -> list[Invite] | Refusal:
    """Revoke every pending invite for `name`: their codes enrol no one from now on."""
    mine = [
        (i, s) for i, s in await invites(session, keyring, now) if same_name(i.display_name, name)
    ]
    pending = [i for i, state in mine if state == PENDING]
    if not pending:
        return Refusal("no_pending_invite", normal_name(name), invites=tuple(s for _, s in mine))
    for invite in pending:
        invite.revoked_at = now
        people.seal_invite(keyring, invite)
        await audit.record(session, keyring, None, actor.id, actor.role, "invite_revoked", now)
    log.info("event=invites_revoked count=%d", len(pending))
    return pending
