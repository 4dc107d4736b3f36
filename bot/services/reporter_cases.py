"""A reporter and their cases: checking one with the receipt code, the cases linked to this
chat, the thread with responders (reading it, answering), and withdrawing."""

from __future__ import annotations

import logging
from collections.abc import Callable

from bot import metrics
from bot.cases.ids import normalize_receipt_code
from bot.cases.lifecycle import State, can_withdraw
from bot.cases.readers import Occasion
from bot.crypto import CryptoError
from bot.intake.text import utf16_length, visible
from bot.services import audit, delivery, receiving
from bot.services.cases import CaseDestroyed
from bot.services.chat_state import ChatState, Mode
from bot.services.deadlines import stop as stop_timers
from bot.services.evidence import Holder
from bot.services.outbox import NoticeButton, Notification
from bot.services.protocol import (
    AskKeepFile,
    CaseSummary,
    ConfirmWithdraw,
    FileSent,
    ResponderButton,
    Say,
    ShowCase,
    ShowMyCases,
    ThreadItem,
    View,
)
from bot.services.turn import Turn
from bot.store import queries
from bot.store.models import Case

log = logging.getLogger(__name__)
STATUS_PAGE = 10  # cases on a page of /status
MAX_MESSAGE = 3500  # UTF-16 units, as Telegram counts: it must fit in the relayed message
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


class ReporterCases:
    def __init__(
        self,
        turn: Turn,
        current: Callable[[], list[View]],
        stale: Callable[[], list[View]],
    ) -> None:
        self.turn = turn
        self.current = current  # the question being answered, if a report is being written
        self.stale = stale  # what a button that does not apply (any more) gets

    @property
    def state(self) -> ChatState:
        return self.turn.state

    def ask_receipt(self) -> list[View]:
        if self.state.mode is Mode.INTAKE:
            # Keep the draft: checking a case must not cost the report in progress.
            return [Say("check_case_in_intake"), *self.current()]
        self.state.mode = Mode.AWAIT_RECEIPT
        return [Say("check_case_prompt")]

    async def linked_cases(self) -> list[Case]:
        """The cases whose reporter chose to be told in this chat."""
        turn = self.turn
        listed = await queries.cases_linked_to(
            turn.session, turn.keyring.reporter_lookup(turn.incoming.chat_id)
        )
        return [c for c in listed if turn.vault.is_reporter_chat(c, turn.incoming.chat_id)]

    async def status(self, page: int = 1) -> list[View]:
        """The cases linked to this chat, a page at a time (read at the database). A case
        whose look-up was copied onto it but whose sealed link names another chat is not
        shown: its page is one shorter, and no case is on two pages."""
        turn = self.turn
        lookup = turn.keyring.reporter_lookup(turn.incoming.chat_id)
        offset = (max(1, page) - 1) * STATUS_PAGE
        listed, count = await queries.cases_linked_page(turn.session, lookup, offset, STATUS_PAGE)
        pages = max(1, -(-count // STATUS_PAGE))
        if page > pages:  # past the end (a case withdrawn and deleted since): the last page
            page = pages
            offset = (page - 1) * STATUS_PAGE
            listed, _ = await queries.cases_linked_page(turn.session, lookup, offset, STATUS_PAGE)
        linked = [c for c in listed if turn.vault.is_reporter_chat(c, turn.incoming.chat_id)]
        if not linked and pages == 1:
            return self.ask_receipt()
        vault, session = self.turn.vault, self.turn.session
        summaries = [
            CaseSummary(
                c.short_id, c.status, c.submitted_at, await vault.unread_for_reporter(session, c)
            )
            for c in linked
        ]
        return [ShowMyCases(tuple(summaries), page, pages)]

    async def check_receipt(self, text: str) -> list[View]:
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
        return [await self.show_case(case)]

    async def show_case(self, case: Case) -> ShowCase | Say:
        thread: tuple[ThreadItem, ...] = ()
        if case.wrapped_key is not None:
            try:
                thread = await self.turn.vault.thread(
                    self.turn.session, case, mark_read_by="reporter", now=self.turn.now
                )
            except CryptoError as error:
                metrics.tampering_detected("case_thread")
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

    async def responders_files(self, case: Case) -> list[View]:
        """Files responders sent about the case, as new uploads (each opening audited)."""
        try:
            return await delivery.deliver(
                self.turn, case, self.turn.vault.key(case), to_reporter=True
            )
        except (CaseDestroyed, CryptoError):
            return []

    async def my_case(self, short_id: str) -> Case | None:
        """The case, if this chat may act on it: linked to it, or opened here by receipt."""
        case = await queries.case_by_short_id(self.turn.session, short_id)
        if case is None:
            return None
        if self.state.case_session == short_id or self.turn.vault.is_reporter_chat(
            case, self.turn.incoming.chat_id
        ):
            return case
        return None

    async def button(self, action: str, short_id: str) -> list[View]:
        if action == "status":  # a page of /status: the argument is its number
            return await self.status(int(short_id) if short_id.isdigit() else 1)
        case = await self.my_case(short_id)
        if case is None:
            return self.stale()
        if action == "open":
            return [await self.show_case(case), *await self.responders_files(case)]
        if not can_withdraw(State(case.status)):
            return [Say("case_closed_for_messages", {"case": case.short_id})]
        if action == "reply":
            self.state.compose = {"kind": "reporter_reply", "case": case.short_id}
            return [Say("reporter_reply_prompt", {"case": case.short_id})]
        if action == "withdraw":
            return [ConfirmWithdraw(case.short_id)]
        if action == "withdraw_yes":
            return await self.withdraw(case)
        if action == "keep":
            return [Say("withdraw_kept", {"case": case.short_id})]
        return self.stale()

    async def reply_to_responders(self, short_id: str, text: str) -> list[View]:
        self.state.compose = None
        text = visible(text)
        if not text:
            self.state.compose = {"kind": "reporter_reply", "case": short_id}
            return [Say("message_empty")]
        if utf16_length(text) > MAX_MESSAGE:
            self.state.compose = {"kind": "reporter_reply", "case": short_id}
            return [Say("notice_too_long", {"limit": MAX_MESSAGE, "length": utf16_length(text)})]
        case = await self.my_case(short_id)
        if case is None or not can_withdraw(State(case.status)):
            return self.stale()
        turn = self.turn
        if not turn.within_limit("messages"):
            self.state.compose = {"kind": "reporter_reply", "case": short_id}
            return [Say("limit_messages", {"limit": turn.context.limits.messages_per_hour})]
        try:
            await turn.vault.add_message(turn.session, case, "reporter", None, text, turn.now)
        except CaseDestroyed:
            return self.stale()
        case.updated_at = turn.now
        await turn.audit(case, "reporter_message")
        await turn.notify_responders(
            Occasion.REPORTER_WROTE,
            lambda language: Notification(
                "alert_reporter_wrote",
                language,
                {"case": case.short_id},
                (NoticeButton("btn_open", ResponderButton("open", case.short_id)),),
            ),
            case,
            await turn.exclusions(case),
        )
        log.info("event=reporter_message case=%s", case.short_id)
        return [Say("reporter_reply_sent", {"case": case.short_id})]

    async def file_to_responders(self, short_id: str, event: FileSent) -> list[View]:
        """A file sent in the thread after submission: filed under the case, its readers
        told; it reaches them as a new upload when they open the case."""
        case = await self.my_case(short_id)
        if case is None or not can_withdraw(State(case.status)):
            return self.stale()
        turn = self.turn
        if self.state.pending_file is not None:
            return [Say("file_decide_first"), AskKeepFile(self.state.pending_file["kind"])]
        if not turn.within_limit("messages"):
            return [Say("limit_messages", {"limit": turn.context.limits.messages_per_hour})]
        try:
            key = turn.vault.key(case)
        except CaseDestroyed:
            return self.stale()
        received = await receiving.receive(turn, event, key, Holder.of_case(case.id))
        if isinstance(received, Say):
            return [received]
        if received.pending:
            receiving.hold(turn, received, case=case.short_id)
            return [AskKeepFile(received.note.kind)]
        return await self._file_sent(case)

    async def settle_file(self, keep: bool) -> list[View]:
        pending = self.state.pending_file or {}
        case = await self.my_case(str(pending.get("case", "")))
        if case is None:
            self.state.pending_file = None
            return self.stale()
        try:
            note = await receiving.settle(self.turn, self.turn.vault.key(case), keep)
        except CaseDestroyed:
            return self.stale()
        if note is None:
            return [Say("file_skipped")]
        return await self._file_sent(case)

    async def _file_sent(self, case: Case) -> list[View]:
        turn = self.turn
        case.updated_at = turn.now
        await turn.audit(case, "reporter_file")
        await turn.notify_responders(
            Occasion.REPORTER_WROTE,
            lambda language: Notification(
                "alert_reporter_sent_file",
                language,
                {"case": case.short_id},
                (NoticeButton("btn_open", ResponderButton("open", case.short_id)),),
            ),
            case,
            await turn.exclusions(case),
        )
        log.info("event=reporter_file case=%s", case.short_id)
        return [Say("reporter_file_sent", {"case": case.short_id})]

    async def withdraw_which(self) -> list[View]:
        candidates = [c for c in await self.linked_cases() if can_withdraw(State(c.status))]
        if self.state.case_session:
            session_case = await self.my_case(self.state.case_session)
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
        return [Say("withdraw_choose"), *await self.status()]

    async def withdraw(self, case: Case) -> list[View]:
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
