"""The reporter's side: the intake conversation, the receipt, checking a case, talking with
responders through the bot, and withdrawing."""

from __future__ import annotations

import logging
import uuid
from dataclasses import replace

from bot.cases.ids import new_receipt_code, new_short_id, normalize_receipt_code
from bot.cases.lifecycle import State, can_withdraw
from bot.cases.readers import Occasion
from bot.cases.sla import timers_at_submission
from bot.crypto import CryptoError, ReporterLink
from bot.i18n import catalogue
from bot.intake import names
from bot.intake.flow import (
    EXCLUSION_QUESTION,
    Action,
    ActionName,
    Discarded,
    Draft,
    Input,
    Notice,
    NoticeKind,
    Stage,
    Step,
    Submitted,
    TypedText,
    Unsupported,
)
from bot.services import audit, people
from bot.services.cases import CaseDestroyed
from bot.services.deadlines import set_timers
from bot.services.deadlines import stop as stop_timers
from bot.services.outbox import URGENT, Notification, new_case_alert
from bot.services.protocol import (
    CaseButton,
    CaseSummary,
    Command,
    ConfirmWithdraw,
    Edited,
    FlowButton,
    LanguageButton,
    Menu,
    MenuButton,
    Other,
    Say,
    ShowCase,
    ShowLanguages,
    ShowMenu,
    ShowMyCases,
    ShowReceipt,
    ShowStep,
    Text,
    ThreadItem,
    View,
    Wipe,
)
from bot.services.turn import Mode, Turn
from bot.store import queries
from bot.store.models import Case

log = logging.getLogger(__name__)
MAX_MESSAGE = 3500
# What a reporter sees of the audit trail: who (by role only) did what, and when.
TIMELINE_ACTIONS = frozenset(
    {
        "submit",
        "claim",
        "open",
        "first_reply",
        "state:investigating",
        "state:waiting",
        "state:resolved",
        "state:closed",
        "escalate_claim",
        "escalate_reply",
        "withdraw",
    }
)


def _choice_id(responder_id: uuid.UUID) -> str:
    return "x" + responder_id.hex[:12]


class ReporterTurn:
    def __init__(self, turn: Turn) -> None:
        self.turn = turn
        self.state = turn.state

    async def run(self) -> list[View]:
        views = await self._respond()
        receipt = self.state.pending_receipt
        if receipt is not None and not any(isinstance(v, ShowReceipt) for v in views):
            # Until the reporter says they saved it, the code comes back: a receipt lost on
            # the way (Telegram failing, the bot killed after the report was stored) is
            # never lost for good.
            views = [
                ShowReceipt(
                    receipt["code"],
                    receipt["case"],
                    bool(receipt.get("urgent")),
                    int(receipt.get("readers", 1)),
                    again=True,
                ),
                *views,
            ]
        return views

    async def _respond(self) -> list[View]:
        event = self.turn.incoming.event
        match event:
            case Command(name, argument):
                return await self._command(name, argument)
            case Text(text):
                return await self._text(text)
            case Other():
                if self.state.mode is Mode.INTAKE:
                    return await self._flow(Unsupported())
                return [Say("notice_unsupported"), ShowMenu()]
            case Edited():
                return [Say("notice_edited"), *self._current()]
            case FlowButton(rev, flow_input):
                if self.state.mode is not Mode.INTAKE:
                    return [Say("notice_stale_button"), ShowMenu()]
                return await self._flow(flow_input, rev)
            case MenuButton(item):
                return await self._menu(item)
            case LanguageButton(language):
                return self._set_language(language)
            case CaseButton(action, short_id):
                return await self._case_button(action, short_id)
        return self._stale()  # a forged button, or a responder's button pressed by a non-responder

    # -- commands and text -----------------------------------------------------------------

    async def _command(self, name: str, argument: str) -> list[View]:
        self.state.compose = None
        if name == "start":
            if self.state.mode is Mode.AWAIT_RECEIPT:
                self.state.mode = Mode.IDLE
            return [ShowMenu(resume=self.state.mode is Mode.INTAKE)]
        if name == "help":
            return [Say("help"), *self._current()]
        if name == "privacy":
            return [self._privacy(), *self._current()]
        if name == "cancel":
            if self.state.mode is Mode.INTAKE:
                return await self._flow(Action(ActionName.CANCEL))
            self.state.mode = Mode.IDLE
            return [Say("nothing_to_cancel")]
        if name == "language":
            return [ShowLanguages()]
        if name == "status":
            if argument:
                return await self._check_receipt(argument)
            return await self._status()
        if name == "withdraw":
            return await self._withdraw_which()
        return [Say("unknown_command"), *self._current()]

    async def _text(self, text: str) -> list[View]:
        compose = self.state.compose
        if compose is not None and compose.get("kind") == "reporter_reply":
            return await self._reply_to_responders(compose["case"], text)
        if self.state.mode is Mode.INTAKE:
            return await self._flow(TypedText(text))
        if self.state.mode is Mode.AWAIT_RECEIPT:
            return await self._check_receipt(text)
        return [Say("idle"), ShowMenu()]

    async def _menu(self, item: Menu) -> list[View]:
        if item is Menu.REPORT:
            if self.state.mode is not Mode.INTAKE or self.state.draft is None:
                if not self.turn.within_limit("reports"):
                    limit = self.turn.service.limits.reports_per_day
                    return [Say("limit_reports", {"limit": limit})]
                staff = await people.active_responders(self.turn.session, self.turn.keyring)
                mode = self.turn.service.exclusion if staff else "off"
                exclusion = tuple((_choice_id(p.id), p.display_name) for p in staff)
                step = self.turn.service.intake.start(
                    exclusion if mode == "list" else (), typed=mode == "typed"
                )
                # A new draft; what the chat holds about earlier reports and limits stays.
                self.state = self.turn.state = replace(
                    self.state,
                    mode=Mode.INTAKE,
                    draft=step.draft,
                    first_message_id=self.turn.incoming.message_id,
                    wipe_allowed=False,
                    compose=None,
                )
            return self._current()
        if item is Menu.CONTINUE:
            return self._current() or [ShowMenu()]
        if item is Menu.START_OVER:
            if self.state.mode is Mode.INTAKE:
                return await self._flow(Action(ActionName.CANCEL))
            return [ShowMenu()]
        if item is Menu.CHECK:
            return self._ask_receipt()
        if item is Menu.PRIVACY:
            return [self._privacy(), *self._current()]
        if item is Menu.SAVED:
            self.state.pending_receipt = None
            return [Say("receipt_saved")]
        # WIPE
        first, last = self.state.first_message_id, self.turn.incoming.message_id
        if not self.state.wipe_allowed or first is None or last is None:
            return self._stale()
        self.state.wipe_allowed = False
        self.state.first_message_id = None
        log.info("event=conversation_wiped")
        return [Wipe(first, last)]

    def _privacy(self) -> Say:
        return Say("privacy_full", {"hours": f"{self.turn.service.draft_max_age_hours:g}"})

    def _set_language(self, language: str) -> list[View]:
        if language not in catalogue().languages:
            return self._stale()
        self.turn.chosen_language = language
        return [Say("language_set"), *self._current()]

    # -- the intake flow -------------------------------------------------------------------

    def _current(self) -> list[View]:
        """The question (or review) the reporter is on, so buttons stay at the bottom."""
        if self.state.mode is not Mode.INTAKE or self.state.draft is None:
            return []
        draft = self.state.draft
        step = self.turn.service.intake.for_draft(draft).show(draft)
        return [ShowStep(step, step.draft.rev, None)]

    def _stale(self) -> list[View]:
        if self.state.mode is Mode.INTAKE and self.state.draft is not None:
            draft = self.state.draft
            step = self.turn.service.intake.for_draft(draft).show(draft)
            notice = Notice(NoticeKind.STALE_BUTTON)
            return [ShowStep(Step(step.draft, step.screen, (notice,)), step.draft.rev, None)]
        return [Say("notice_stale_button"), ShowMenu()]

    async def _flow(self, flow_input: Input, rev: int | None = None) -> list[View]:
        assert self.state.draft is not None
        draft = self.state.draft
        intake = self.turn.service.intake.for_draft(draft)
        if await self._names_everyone(draft, flow_input):
            step = intake.show(draft)
            notice = Notice(NoticeKind.KEEP_A_READER)
            return [ShowStep(Step(step.draft, step.screen, (notice,)), draft.rev, None)]
        step = intake.advance(draft, flow_input, self.turn.now.date(), rev=rev)
        if isinstance(step.outcome, Discarded):
            self.state.mode, self.state.draft = Mode.IDLE, None
            self.state.first_message_id = None
            log.info("event=draft_discarded")
            return [Say("discarded")]
        if isinstance(step.outcome, Submitted):
            case, code, readers = await self._create_case(step.outcome)
            # The draft goes; what remains is the receipt until it is saved, and the right
            # to wipe the conversation.
            self.state.mode, self.state.draft, self.state.wipe_allowed = Mode.IDLE, None, True
            self.state.pending_receipt = {
                "code": code,
                "case": case.short_id,
                "urgent": case.urgent,
                "readers": readers,
            }
            return [ShowReceipt(code, case.short_id, case.urgent, readers)]
        self.state.draft = step.draft
        return [ShowStep(step, step.draft.rev, self.turn.incoming.message_id)]

    async def _names_everyone(self, draft: Draft, flow_input: Input) -> bool:
        """Typed names at the exclusion question that match every responder: the case would
        have nobody to read it (the list form is checked by the intake itself)."""
        if not (
            draft.exclusion_typed
            and draft.stage is Stage.QUESTION
            and draft.question == EXCLUSION_QUESTION
            and isinstance(flow_input, TypedText)
        ):
            return False
        staff = await people.active_responders(self.turn.session, self.turn.keyring)
        matched = names.matching(flow_input.text, ((str(p.id), p.display_name) for p in staff))
        return people.excludes_everyone(staff, {p.id for p in staff if str(p.id) in matched})

    async def _create_case(self, submitted: Submitted) -> tuple[Case, str, int]:
        turn, session, now = self.turn, self.turn.session, self.turn.now
        code = new_receipt_code()
        case = Case(
            id=queries.new_id(),
            # Unique in the table: a taken one (rare) fails the transaction and the whole
            # update is tried again, with new ids (see ConversationService.handle).
            short_id=new_short_id(),
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
            chosen = sorted(
                names.matching(chosen, ((_choice_id(p.id), p.display_name) for p in staff))
            )
        excluded = [p.id for p in staff if _choice_id(p.id) in chosen]
        link = ReporterLink(turn.incoming.chat_id, turn.language) if submitted.link else None
        if turn.draft_key is None:  # a draft written before drafts had keys of their own
            turn.draft_key, _ = turn.keyring.new_draft_key(case.id)
        turn.vault.seal_new(
            case, turn.draft_key, {"language": turn.language, "answers": answers}, link, excluded
        )
        turn.draft_key, turn.draft_sent = None, True
        if submitted.link:
            self.state.linked = [*self.state.linked, case.short_id]
        set_timers(case, timers_at_submission(now, case.urgent, turn.service.levels))
        session.add(case)
        await session.flush()
        await turn.audit(case, "submit")
        alerted = await turn.notify_responders(
            Occasion.NEW_CASE,
            lambda language: new_case_alert(case, language),
            case,
            frozenset(excluded),
            priority=URGENT if case.urgent else 0,
        )
        log.info(
            "event=case_submitted case=%s urgent=%s linked=%s alerted=%d",
            case.short_id,
            case.urgent,
            submitted.link,
            alerted,
        )
        return case, code, alerted

    # -- checking a case -------------------------------------------------------------------

    def _ask_receipt(self) -> list[View]:
        if self.state.mode is Mode.INTAKE:
            # Keep the draft: checking a case must not cost the report in progress.
            return [Say("check_case_in_intake"), *self._current()]
        self.state.mode = Mode.AWAIT_RECEIPT
        return [Say("check_case_prompt")]

    async def _linked_cases(self) -> list[Case]:
        """The cases whose reporter chose to be told in this chat."""
        turn = self.turn
        listed = await queries.cases_linked_to(
            turn.session, turn.keyring.reporter_lookup(turn.incoming.chat_id)
        )
        return [c for c in listed if turn.vault.is_reporter_chat(c, turn.incoming.chat_id)]

    async def _status(self) -> list[View]:
        linked = await self._linked_cases()
        if not linked:
            return self._ask_receipt()
        vault, session = self.turn.vault, self.turn.session
        summaries = [
            CaseSummary(
                c.short_id, c.status, c.submitted_at, await vault.unread_for_reporter(session, c)
            )
            for c in linked
        ]
        return [ShowMyCases(tuple(summaries))]

    async def _check_receipt(self, text: str) -> list[View]:
        turn = self.turn
        if (paused := turn.code_pause()) is not None:
            return [paused]
        code = normalize_receipt_code(text)
        if code is None:
            return [Say("not_a_receipt_code")]
        await turn.code_checked()
        case = await queries.case_by_receipt(turn.session, turn.keyring.receipt_lookup(code))
        if case is None:
            await turn.code_failed()
            log.info("event=receipt_not_found")
            return [Say("case_not_found")]
        if self.state.mode is Mode.AWAIT_RECEIPT:
            self.state.mode = Mode.IDLE
        self.state.case_session = case.short_id
        log.info("event=case_checked case=%s", case.short_id)
        return [await self._show_case(case)]

    async def _show_case(self, case: Case) -> ShowCase | Say:
        thread: tuple[ThreadItem, ...] = ()
        if case.wrapped_key is not None:
            try:
                thread = await self.turn.vault.thread(
                    self.turn.session, case, mark_read_by="reporter", now=self.turn.now
                )
            except CryptoError as error:
                log.warning(
                    "event=tampering_detected what=case_thread case=%s error=%s",
                    case.short_id,
                    type(error).__name__,
                )
                return Say("case_damaged", {"case": case.short_id})
        events = await audit.trail(self.turn.session, case.id)
        timeline = tuple((e.at, e.action, e.role) for e in events if e.action in TIMELINE_ACTIONS)
        return ShowCase(
            case.short_id,
            case.submitted_at,
            case.status,
            case.urgent,
            thread,
            can_act=can_withdraw(State(case.status)),
            timeline=timeline,
        )

    async def _my_case(self, short_id: str) -> Case | None:
        """The case, if this chat may act on it: linked to it, or opened here by receipt."""
        case = await queries.case_by_short_id(self.turn.session, short_id)
        if case is None:
            return None
        if self.state.case_session == short_id or self.turn.vault.is_reporter_chat(
            case, self.turn.incoming.chat_id
        ):
            return case
        return None

    async def _case_button(self, action: str, short_id: str) -> list[View]:
        case = await self._my_case(short_id)
        if case is None:
            return self._stale()
        if action == "open":
            return [await self._show_case(case)]
        if not can_withdraw(State(case.status)):
            return [Say("case_closed_for_messages", {"case": case.short_id})]
        if action == "reply":
            self.state.compose = {"kind": "reporter_reply", "case": case.short_id}
            return [Say("reporter_reply_prompt", {"case": case.short_id})]
        if action == "withdraw":
            return [ConfirmWithdraw(case.short_id)]
        if action == "withdraw_yes":
            return await self._withdraw(case)
        if action == "keep":
            return [Say("withdraw_kept", {"case": case.short_id})]
        return self._stale()

    async def _reply_to_responders(self, short_id: str, text: str) -> list[View]:
        self.state.compose = None
        text = text.strip()
        if len(text) > MAX_MESSAGE:
            self.state.compose = {"kind": "reporter_reply", "case": short_id}
            return [Say("notice_too_long", {"limit": MAX_MESSAGE, "length": len(text)})]
        case = await self._my_case(short_id)
        if case is None or not can_withdraw(State(case.status)):
            return self._stale()
        turn = self.turn
        if not turn.within_limit("messages"):
            self.state.compose = {"kind": "reporter_reply", "case": short_id}
            return [Say("limit_messages", {"limit": turn.service.limits.messages_per_hour})]
        try:
            await turn.vault.add_message(turn.session, case, "reporter", None, text, turn.now)
        except CaseDestroyed:
            return self._stale()
        case.updated_at = turn.now
        await turn.audit(case, "reporter_message")
        await turn.notify_responders(
            Occasion.REPORTER_WROTE,
            lambda language: Notification(
                "alert_reporter_wrote",
                language,
                {"case": case.short_id},
                (("btn_open", f"R|open|{case.short_id}"),),
            ),
            case,
            await turn.exclusions(case),
        )
        log.info("event=reporter_message case=%s", case.short_id)
        return [Say("reporter_reply_sent", {"case": case.short_id})]

    # -- withdrawing -----------------------------------------------------------------------

    async def _withdraw_which(self) -> list[View]:
        candidates = [c for c in await self._linked_cases() if can_withdraw(State(c.status))]
        if self.state.case_session:
            session_case = await self._my_case(self.state.case_session)
            if (
                session_case is not None
                and can_withdraw(State(session_case.status))
                and all(c.id != session_case.id for c in candidates)
            ):
                candidates.append(session_case)
        if len(candidates) == 1:
            return [ConfirmWithdraw(candidates[0].short_id)]
        if not candidates:
            return [Say("withdraw_nothing")]
        return [Say("withdraw_choose"), *await self._status()]

    async def _withdraw(self, case: Case) -> list[View]:
        turn = self.turn
        excluded = await turn.exclusions(case)
        await turn.vault.destroy(turn.session, case)
        turn.shredded = True
        case.status = State.WITHDRAWN.value
        case.updated_at = turn.now
        stop_timers(case)
        self.state.case_session = None
        self.state.linked = [c for c in self.state.linked if c != case.short_id]
        if self.state.compose and self.state.compose.get("case") == case.short_id:
            self.state.compose = None
        await turn.audit(case, "withdraw")
        await turn.notify_responders(
            Occasion.WITHDRAWN,
            lambda language: Notification("alert_withdrawn", language, {"case": case.short_id}),
            case,
            excluded,
            about=False,  # about a case already shredded: it must still be told
        )
        log.info("event=case_withdrawn case=%s", case.short_id)
        return [Say("withdrawn", {"case": case.short_id})]
