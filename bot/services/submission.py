"""Sending a report: a case made of a finished draft, sealed under the draft's own key, its
readers told, its deadlines set, and the conflict-of-interest exclusions it carries."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from bot.cases.ids import new_receipt_code, new_short_id
from bot.cases.lifecycle import State
from bot.cases.readers import Occasion
from bot.cases.sla import timers_at_submission
from bot.crypto import ReporterLink
from bot.intake import names
from bot.intake.flow import EXCLUSION_QUESTION, Draft, Input, Stage, Submitted, TypedText
from bot.services import evidence, people
from bot.services.deadlines import set_timers
from bot.services.outbox import URGENT, new_case_alert
from bot.services.turn import Turn
from bot.store import queries
from bot.store.models import Case, Responder

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sent:
    case: Case
    code: str  # the receipt code: shown to the reporter, stored only as a keyed hash
    readers: int  # how many were told (none: nobody can read it yet)


def choice_id(responder_id: uuid.UUID) -> str:
    """How a responder appears among the exclusion question's choices (not their id)."""
    return "x" + responder_id.hex[:12]


def exclusion_choices(staff: Iterable[Responder]) -> tuple[tuple[str, str], ...]:
    return tuple((choice_id(p.id), p.display_name) for p in staff)


async def names_everyone(turn: Turn, draft: Draft, typed: Input) -> bool:
    """Typed names at the exclusion question that match every responder: the case would
    have nobody to read it (the tick list is checked by the intake itself)."""
    if not (
        draft.exclusion_typed
        and draft.stage is Stage.QUESTION
        and draft.question == EXCLUSION_QUESTION
        and isinstance(typed, TypedText)
    ):
        return False
    staff = await people.active_responders(turn.session, turn.keyring)
    matched = names.matching(typed.text, ((str(p.id), p.display_name) for p in staff))
    return people.excludes_everyone(staff, {p.id for p in staff if str(p.id) in matched})


def _named_files(answers: Mapping[str, object]) -> set[uuid.UUID]:
    """The files the answers name (a files question's answer is a list of file ids)."""
    named: set[uuid.UUID] = set()
    for value in answers.values():
        for item in value if isinstance(value, list) else ():
            try:
                named.add(uuid.UUID(str(item)))
            except ValueError:
                continue  # a choice id, not a file
    return named


async def send_report(turn: Turn, submitted: Submitted) -> Sent:
    session, now = turn.session, turn.now
    code = new_receipt_code()
    case = Case(
        id=queries.new_id(),
        # Unique in the table: a taken one (rare) is drawn again, here.
        short_id=await queries.free_short_id(session, new_short_id),
        receipt_lookup=turn.keyring.receipt_lookup(code),
        status=State.NEW.value,
        urgent=submitted.urgent,
        submitted_at=now,
        updated_at=now,
    )
    answers = dict(submitted.answers)
    chosen = answers.pop(EXCLUSION_QUESTION, [])
    staff = await people.active_responders(session, turn.keyring)
    if isinstance(chosen, str):  # typed names
        chosen = sorted(names.matching(chosen, exclusion_choices(staff)))
    excluded = [p.id for p in staff if choice_id(p.id) in chosen]
    link = ReporterLink(turn.incoming.chat_id, turn.language) if submitted.link else None
    if turn.draft_key is None:  # a draft written before drafts had keys of their own
        turn.draft_key, _ = turn.keyring.new_draft_key(case.id)
    # The draft's files that its answers name become the case's; those sent and then
    # skipped, or never confirmed, go now.
    dropped = {uuid.UUID(f.id) for f in turn.state.draft.files} if turn.state.draft else set()
    if turn.state.pending_file is not None:
        dropped.add(uuid.UUID(turn.state.pending_file["id"]))
    for file_id in dropped - _named_files(answers):
        await evidence.delete_file(session, file_id)
        turn.shredded = True
    turn.vault.seal_new(
        case, turn.draft_key, {"language": turn.language, "answers": answers}, link, excluded
    )
    turn.draft_key, turn.draft_sent = None, True
    if submitted.link:
        turn.state.linked = [*turn.state.linked, case.short_id]
    set_timers(case, timers_at_submission(now, case.urgent, turn.context.levels))
    session.add(case)
    await session.flush()
    if turn.state.draft_files is not None:  # the files sent with the draft are the case's now
        await evidence.attach_draft_files(session, uuid.UUID(turn.state.draft_files), case)
        turn.state.draft_files = turn.state.pending_file = None
    await turn.audit(case, "submit")
    readers = await turn.notify_responders(
        Occasion.NEW_CASE,
        lambda language: new_case_alert(case, language),
        case,
        frozenset(excluded),
        priority=URGENT if case.urgent else 0,
        staff=staff,  # read above, in this transaction
    )
    log.info(
        "event=case_submitted case=%s urgent=%s linked=%s alerted=%d",
        case.short_id,
        case.urgent,
        submitted.link,
        readers,
    )
    return Sent(case, code, readers)
