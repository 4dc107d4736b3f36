"""`confide responders list | revoke NAME | role NAME ROLE` and `confide invites list |
revoke NAME`: who may act, managed from the command line. The rules are
bot.services.access's, the same the admins' /revoke follows, and every change is an entry
in the audit log (actor "operator"). Nothing here prints a Telegram id or a code."""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

from bot import logs
from bot.cli.commands import open_database
from bot.crypto import Keyring
from bot.services import access
from bot.services.access import OPERATOR, Refusal
from bot.store.models import Responder
from bot.store.session import CONFLICTS, Session

T = TypeVar("T")
ATTEMPTS = 5  # a change that meets a running bot's change to the same rows is tried again


class Refused(ValueError):
    """Nothing was changed: one line for the operator (`confide: ...`, exit code 2)."""


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    responders = sub.add_parser(
        "responders",
        help="responders list | revoke NAME | role NAME admin|responder (audited)",
    )
    what = responders.add_subparsers(dest="responders_command", required=True)
    what.add_parser("list", help="everyone enrolled: name, role, active or revoked, enrolled")
    revoke = what.add_parser("revoke", help="as /revoke NAME in the bot: refused everything")
    revoke.add_argument("name", metavar="NAME", help="display name, or #reference from list")
    role = what.add_parser("role", help="make a responder an admin, or an admin a responder")
    role.add_argument("name", metavar="NAME", help="display name, or #reference from list")
    role.add_argument("role", choices=access.ROLES)
    invites = sub.add_parser("invites", help="invites list | revoke NAME (audited)")
    which = invites.add_subparsers(dest="invites_command", required=True)
    which.add_parser("list", help="every invite: name, role, expiry, state (never the code)")
    cancel = which.add_parser("revoke", help="a pending invite's code no longer enrols anyone")
    cancel.add_argument("name", metavar="NAME")


async def run(args: argparse.Namespace) -> int:
    logs.configure("WARNING")
    if args.command == "invites":
        if args.invites_command == "list":
            return await _changing(list_invites)
        return await _changing(lambda s, k, now: revoke_invites(s, k, now, args.name))
    if args.responders_command == "list":
        return await _changing(list_responders)
    if args.responders_command == "revoke":
        return await _changing(lambda s, k, now: revoke(s, k, now, args.name))
    return await _changing(lambda s, k, now: set_role(s, k, now, args.name, args.role))


async def _changing(work: Callable[[Session, Keyring, datetime], Awaitable[T]]) -> T:
    """One transaction (rolled back by a refusal), tried again if a running bot changed the
    same rows meanwhile."""
    engine, sessions, keyring = await open_database()
    try:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                async with sessions.begin() as session:
                    return await work(session, keyring, datetime.now(UTC))
            except CONFLICTS:
                if attempt == ATTEMPTS:
                    raise
        raise AssertionError("unreachable")
    finally:
        await engine.dispose()


# -- responders ---------------------------------------------------------------------------


async def list_responders(session: Session, keyring: Keyring, now: datetime) -> int:
    staff, tampered = await access.roster(session, keyring)
    if not staff and not tampered:
        print("No responders are enrolled: `confide invite --name NAME` makes an enrolment code.")
    width = max((len(_shown(p.display_name)) for p in staff), default=0)
    for person in staff:
        state = "active" if person.active else "revoked"
        print(
            f"{_shown(person.display_name):<{width}}  {person.role:<9}  {state:<7}  "
            f"enrolled {_day(person.enrolled_at)}  {access.reference(person)}"
        )
    if tampered:
        print(
            f"{tampered} responder row(s) were changed outside Confide (their MAC does not "
            "match): they grant nothing and are not listed."
        )
    return 0


async def revoke(session: Session, keyring: Keyring, now: datetime, name: str) -> int:
    found = await access.find_responder(session, keyring, name)
    if isinstance(found, Refusal) and found.reason == "already_revoked":
        print(f"{_shown(found.name)} is already revoked: nothing changed.")
        return 0
    person = _one(found)
    released = await access.revoke(session, keyring, person, OPERATOR, now)
    print(
        f"{_shown(person.display_name)} is revoked: the bot refuses them everything from now on"
        + (f", and their {released} claimed case(s) are back in the queue." if released else ".")
    )
    return 0


async def set_role(session: Session, keyring: Keyring, now: datetime, name: str, role: str) -> int:
    found = await access.find_responder(session, keyring, name)
    if isinstance(found, Refusal) and found.reason == "already_revoked":
        raise Refused(
            f"{_shown(found.name)} is revoked; to bring them back, enrol them again: "
            f"`confide invite --role {role} --name NAME`."
        )
    person = _one(found)
    refused = await access.set_role(session, keyring, person, role, OPERATOR, now)
    shown = _shown(person.display_name)
    if refused is not None and refused.reason == "same_role":
        print(f"{shown} is already {_a(role)}: nothing changed.")
        return 0
    if refused is not None:  # the last admin
        raise Refused(
            f"{shown} is the only active admin and stays one: make someone else an admin "
            "first (`confide responders role NAME admin`)."
        )
    print(
        f"{shown} is now {_a(role)}. They are told, and their command menu changes, "
        "as soon as the bot runs."
    )
    return 0


def _one(found: Responder | Refusal) -> Responder:
    if not isinstance(found, Refusal):
        return found
    name = _shown(found.name)
    if found.reason == "ambiguous":
        references = ", ".join(access.reference(p) for p in found.matches)
        raise Refused(
            f"{len(found.matches)} active responders are named {name}: "
            f"name one by its reference instead ({references}; see `confide responders list`)."
        )
    raise Refused(f"no active responder is named {name}: `confide responders list` shows them.")


# -- invites ------------------------------------------------------------------------------


async def list_invites(session: Session, keyring: Keyring, now: datetime) -> int:
    listed = await access.invites(session, keyring, now)
    if not listed:
        print("No invites: `confide invite --name NAME` makes one.")
    width = max((len(_shown(i.display_name)) for i, _ in listed), default=0)
    for invite, state in listed:
        said = "changed outside Confide: enrols no one" if state == access.TAMPERED else state
        print(
            f"{_shown(invite.display_name):<{width}}  {invite.role:<9}  "
            f"expires {_minute(invite.expires_at)}  {said}"
        )
    return 0


async def revoke_invites(session: Session, keyring: Keyring, now: datetime, name: str) -> int:
    done = await access.revoke_invites(session, keyring, name, OPERATOR, now)
    if isinstance(done, Refusal):
        shown = _shown(done.name)
        if not done.invites:
            raise Refused(f"there is no invite for {shown}: `confide invites list` shows them.")
        states = ", ".join(f"{n} {state}" for state, n in sorted(Counter(done.invites).items()))
        raise Refused(f"no invite for {shown} is pending ({states}): nothing to revoke.")
    print(
        f"Revoked {len(done)} pending invite(s) for {_shown(done[0].display_name)}: "
        "the code no longer enrols anyone."
    )
    return 0


# -- words --------------------------------------------------------------------------------


def _shown(name: str) -> str:
    """A name as typed into the database: nothing in it can move the terminal's cursor."""
    return "".join(c if c.isprintable() else "?" for c in name)


def _a(role: str) -> str:
    return "an admin" if role == "admin" else "a responder"


def _day(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d UTC")


def _minute(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
