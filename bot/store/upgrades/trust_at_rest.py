"""0004-trust-at-rest: from the formats written before the trust-at-rest changes.

- Every field blob is re-sealed padded to its size bucket (version 2).
- Messages and notes are re-sealed with their case, author and responder in the associated
  data; a case's reporter link and exclusion list are always present.
- Responders, invites and the audit head get their MACs; look-ups get a purpose each
  (responders and reporters no longer share the chats' "chat").
- A draft moves out of the chat's state, under a key of its own.
- Messages still waiting in the outbox are sealed under their recipient's keys; the rest of
  the outbox (delivered, abandoned) is deleted by revision 0005.
- Times keep only the precision their rows need (chats: hours; the rest: minutes), and
  the audit chain, checked first, is chained anew over the shortened times.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from bot.crypto import KeyOwner, Keyring, ReporterLink
from bot.crypto.legacy import LegacyRecord
from bot.store.models import HOUR, MINUTE, Timestamp, floor_time

log = logging.getLogger(__name__)


def _t(name: str) -> sa.ColumnClause[datetime]:
    """A time column, read as an aware UTC time (the step floors what it writes itself)."""
    return sa.column(name, Timestamp())


_uuid = sa.Uuid()
_bin = sa.LargeBinary()

chats = sa.table(
    "chats",
    sa.column("id", _uuid),
    sa.column("lookup", _bin),
    sa.column("wrapped_key", _bin),
    sa.column("state", _bin),
    sa.column("draft_key", _bin),
    sa.column("draft", _bin),
    sa.column("version", sa.Integer()),
    _t("created_at"),
    _t("updated_at"),
)
responders = sa.table(
    "responders",
    sa.column("id", _uuid),
    sa.column("lookup", _bin),
    sa.column("wrapped_key", _bin),
    sa.column("chat", _bin),
    sa.column("display_name", sa.String()),
    sa.column("role", sa.String()),
    sa.column("active", sa.Boolean()),
    _t("enrolled_at"),
    _t("revoked_at"),
    sa.column("mac", _bin),
)
invites = sa.table(
    "invites",
    sa.column("id", _uuid),
    sa.column("code_lookup", _bin),
    sa.column("role", sa.String()),
    sa.column("display_name", sa.String()),
    _t("created_at"),
    _t("expires_at"),
    _t("used_at"),
    sa.column("mac", _bin),
)
CASE_TIMES = (
    "claimed_at",
    "first_reply_at",
    "claim_remind_at",
    "claim_due_at",
    "reply_remind_at",
    "reply_due_at",
    "urgent_repeat_at",
    "next_timer_at",
    "paused_at",
    "escalated_at",
    "submitted_at",
    "updated_at",
)
cases = sa.table(
    "cases",
    sa.column("id", _uuid),
    sa.column("short_id", sa.String()),
    sa.column("wrapped_key", _bin),
    sa.column("answers", _bin),
    sa.column("reporter", _bin),
    sa.column("reporter_lookup", _bin),
    sa.column("excluded", _bin),
    *(_t(name) for name in CASE_TIMES),
)
case_messages = sa.table(
    "case_messages",
    sa.column("id", _uuid),
    sa.column("case_id", _uuid),
    sa.column("author", sa.String()),
    sa.column("responder_id", _uuid),
    sa.column("body", _bin),
    _t("created_at"),
    _t("read_at"),
)
case_notes = sa.table(
    "case_notes",
    sa.column("id", _uuid),
    sa.column("case_id", _uuid),
    sa.column("responder_id", _uuid),
    sa.column("body", _bin),
    _t("created_at"),
)
outbox = sa.table(
    "outbox",
    sa.column("id", _uuid),
    sa.column("wrapped_key", _bin),
    sa.column("recipient", _bin),
    sa.column("payload", _bin),
    sa.column("audience", sa.String()),
    sa.column("responder_id", _uuid),
    sa.column("case_id", _uuid),
    sa.column("priority", sa.Integer()),
    _t("created_at"),
    _t("sent_at"),
    _t("failed_at"),
)
audit_log = sa.table(
    "audit_log",
    sa.column("seq", sa.BigInteger()),
    _t("at"),
    sa.column("case_id", _uuid),
    sa.column("actor", sa.String()),
    sa.column("role", sa.String()),
    sa.column("action", sa.String()),
    sa.column("link", _bin),
)
audit_head = sa.table(
    "audit_head",
    sa.column("name", sa.String()),
    sa.column("seq", sa.BigInteger()),
    sa.column("link", _bin),
    sa.column("mac", _bin),
)
key_checks = sa.table("key_checks", sa.column("name", sa.String()), sa.column("state", sa.String()))


def _floor(value: datetime | None, precision: Any = MINUTE) -> datetime | None:
    return None if value is None else floor_time(value, precision)


class _Cases:
    """What the later steps need to know of each case."""

    def __init__(self) -> None:
        self.by_short_id: dict[str, tuple[uuid.UUID, ReporterLink | None]] = {}
        self.wrapped: dict[uuid.UUID, bytes] = {}


def run(connection: Connection, keyring: Keyring) -> None:
    _key_states(connection)
    responder_chats = _responders(connection, keyring)
    _invites(connection, keyring)
    known = _cases(connection, keyring)
    _threads(connection, keyring, known)
    _chats(connection, keyring, known)
    _outbox(connection, keyring, responder_chats, known)
    _audit(connection, keyring)


def _key_states(connection: Connection) -> None:
    names = [n for (n,) in connection.execute(sa.select(key_checks.c.name)) if n.startswith("kek.")]
    ids = sorted(int(n.removeprefix("kek.")) for n in names)
    for kek_id in ids:
        connection.execute(
            key_checks.update()
            .where(key_checks.c.name == f"kek.{kek_id}")
            .values(state="current" if kek_id == ids[-1] else "old")
        )


def _responders(connection: Connection, keyring: Keyring) -> dict[int, uuid.UUID]:
    chats_of: dict[int, uuid.UUID] = {}
    for row in connection.execute(sa.select(responders)).all():
        chat_id = int(
            LegacyRecord(keyring, KeyOwner.RESPONDER, row.id, row.wrapped_key).text(
                "chat", row.chat
            )
        )
        chats_of[chat_id] = row.id
        key = keyring.responder_key(row.id, row.wrapped_key)
        lookup, chat = keyring.responder_lookup(chat_id), key.seal_chat(chat_id)
        revoked_at = _floor(row.revoked_at)
        connection.execute(
            responders.update()
            .where(responders.c.id == row.id)
            .values(
                lookup=lookup,
                chat=chat,
                enrolled_at=_floor(row.enrolled_at),
                revoked_at=revoked_at,
                mac=keyring.responder_mac(
                    responder_id=row.id,
                    lookup=lookup,
                    role=row.role,
                    active=row.active,
                    chat=chat,
                    revoked_at=revoked_at,
                    display_name=row.display_name,
                ),
            )
        )
    return chats_of


def _invites(connection: Connection, keyring: Keyring) -> None:
    for row in connection.execute(sa.select(invites)).all():
        connection.execute(
            invites.update()
            .where(invites.c.id == row.id)
            .values(
                created_at=_floor(row.created_at),
                expires_at=_floor(row.expires_at),
                used_at=_floor(row.used_at),
                mac=keyring.invite_mac(
                    invite_id=row.id,
                    code_lookup=row.code_lookup,
                    role=row.role,
                    display_name=row.display_name,
                    expires_at=row.expires_at,
                    used_at=row.used_at,
                ),
            )
        )


def _cases(connection: Connection, keyring: Keyring) -> _Cases:
    known = _Cases()
    for row in connection.execute(sa.select(cases)).all():
        times = {name: _floor(getattr(row, name)) for name in CASE_TIMES}
        if row.wrapped_key is None:  # withdrawn: nothing sealed is left
            known.by_short_id[row.short_id] = (row.id, None)
            connection.execute(cases.update().where(cases.c.id == row.id).values(**times))
            continue
        old = LegacyRecord(keyring, KeyOwner.CASE, row.id, row.wrapped_key)
        answers = old.json("answers", row.answers)
        reporter = old.json("reporter", row.reporter) if row.reporter is not None else None
        excluded = old.json("excluded", row.excluded) if row.excluded is not None else []
        link = (
            ReporterLink(int(reporter["chat"]), str(reporter["language"]))
            if reporter is not None
            else None
        )
        key = keyring.case_key(row.id, row.wrapped_key)
        connection.execute(
            cases.update()
            .where(cases.c.id == row.id)
            .values(
                answers=key.seal_answers(answers),
                reporter=key.seal_link(link),
                excluded=key.seal_exclusions([uuid.UUID(i) for i in excluded]),
                reporter_lookup=keyring.reporter_lookup(link.chat_id) if link else None,
                **times,
            )
        )
        known.by_short_id[row.short_id] = (row.id, link)
        known.wrapped[row.id] = row.wrapped_key
    return known


def _threads(connection: Connection, keyring: Keyring, known: _Cases) -> None:
    for row in connection.execute(sa.select(case_messages)).all():
        wrapped = known.wrapped[row.case_id]
        text = LegacyRecord(keyring, KeyOwner.CASE, row.case_id, wrapped).message(row.id, row.body)
        key = keyring.case_key(row.case_id, wrapped)
        connection.execute(
            case_messages.update()
            .where(case_messages.c.id == row.id)
            .values(
                body=key.seal_message(row.id, row.author, row.responder_id, text),
                created_at=_floor(row.created_at),
                read_at=_floor(row.read_at),
            )
        )
    for row in connection.execute(sa.select(case_notes)).all():
        wrapped = known.wrapped[row.case_id]
        text = LegacyRecord(keyring, KeyOwner.CASE, row.case_id, wrapped).note(row.id, row.body)
        key = keyring.case_key(row.case_id, wrapped)
        connection.execute(
            case_notes.update()
            .where(case_notes.c.id == row.id)
            .values(
                body=key.seal_note(row.id, row.responder_id, text),
                created_at=_floor(row.created_at),
            )
        )


def _chats(connection: Connection, keyring: Keyring, known: _Cases) -> None:
    linked: dict[bytes, list[str]] = {}
    for short_id, (_, link) in known.by_short_id.items():
        if link is not None:
            linked.setdefault(keyring.chat_lookup(link.chat_id), []).append(short_id)
    for row in connection.execute(sa.select(chats)).all():
        state: dict[str, Any] = {}
        if row.state is not None:
            state = LegacyRecord(keyring, KeyOwner.CHAT, row.id, row.wrapped_key).json(
                "state", row.state
            )
        draft = state.pop("draft", None)
        state["linked"] = linked.get(bytes(row.lookup), [])
        values: dict[str, Any] = {
            "state": keyring.chat_key(row.id, row.wrapped_key).seal_state(state),
            "draft_key": None,
            "draft": None,
            "version": row.version + 1,
            "created_at": _floor(row.created_at, HOUR),
            "updated_at": _floor(row.updated_at, HOUR),
        }
        if draft is not None:
            draft_key, values["draft_key"] = keyring.new_draft_key(row.id)
            values["draft"] = draft_key.seal_draft(draft)
        connection.execute(chats.update().where(chats.c.id == row.id).values(**values))


def _outbox(
    connection: Connection, keyring: Keyring, responder_chats: dict[int, uuid.UUID], known: _Cases
) -> None:
    pending = connection.execute(
        sa.select(outbox).where(outbox.c.sent_at.is_(None), outbox.c.failed_at.is_(None))
    ).all()
    dropped = 0
    for row in pending:
        old = LegacyRecord.outbox(keyring, row.id, row.wrapped_key)
        chat_id = int(old.text("recipient", row.recipient))
        notice: dict[str, Any] = old.json("payload", row.payload)
        about = known.by_short_id.get(str(notice.get("params", {}).get("case", "")))
        responder_id = responder_chats.get(chat_id)
        if responder_id is not None:
            wrapped = connection.execute(
                sa.select(responders.c.wrapped_key).where(responders.c.id == responder_id)
            ).scalar_one()
            case_id = about[0] if about is not None and about[0] in known.wrapped else None
            if notice.get("key") == "alert_withdrawn":
                case_id = None  # about a case already shredded: it must still be told
            payload = keyring.responder_key(responder_id, wrapped).seal_notice(
                row.id, case_id, notice
            )
            values = {"audience": "responder", "responder_id": responder_id, "case_id": case_id}
        elif about is not None and about[1] is not None and about[1].chat_id == chat_id:
            case_id = about[0]
            payload = keyring.case_key(case_id, known.wrapped[case_id]).seal_notice(row.id, notice)
            values = {"audience": "reporter", "responder_id": None, "case_id": case_id}
        else:  # a message for a case no longer linked, or destroyed: never sent
            connection.execute(outbox.delete().where(outbox.c.id == row.id))
            dropped += 1
            continue
        connection.execute(
            outbox.update()
            .where(outbox.c.id == row.id)
            .values(payload=payload, created_at=_floor(row.created_at), **values)
        )
    if dropped:
        log.info("event=outbox_dropped_in_migration count=%d", dropped)


def _entry_bytes(seq: int, at: datetime, row: Any) -> bytes:
    parts = (
        str(seq),
        at.isoformat(timespec="microseconds"),
        str(row.case_id or ""),
        row.actor,
        row.role,
        row.action,
    )
    return "\x1f".join(parts).encode()


def _audit(connection: Connection, keyring: Keyring) -> None:
    """Check the chain as written; only an intact chain is chained anew over minute times
    and its head authenticated. A broken one is left as it is, for `confide audit verify`
    to report (its head stays unauthenticated, which verify reports too)."""
    entries = connection.execute(sa.select(audit_log).order_by(audit_log.c.seq)).all()
    head = connection.execute(sa.select(audit_head).where(audit_head.c.name == "main")).one()
    previous, seq = bytes(32), 0
    for row in entries:
        seq += 1
        link = keyring.chain_hash(previous, _entry_bytes(row.seq, row.at, row))
        if row.seq != seq or link != bytes(row.link):
            log.warning("event=audit_chain_broken_before_migration seq=%d", row.seq)
            return
        previous = link
    if head.seq != seq or bytes(head.link) != previous:
        log.warning("event=audit_chain_broken_before_migration seq=%d", head.seq)
        return
    previous = bytes(32)
    for row in entries:
        at = floor_time(row.at, MINUTE)
        previous = keyring.chain_hash(previous, _entry_bytes(row.seq, at, row))
        connection.execute(
            audit_log.update().where(audit_log.c.seq == row.seq).values(at=at, link=previous)
        )
    connection.execute(
        audit_head.update()
        .where(audit_head.c.name == "main")
        .values(link=previous, mac=keyring.audit_head_mac(seq, previous))
    )
