"""The reporter's conversation: the menu, the intake questions, the receipt, help, privacy
and language. Sending the report is bot.services.submission; what a reporter does with their
cases afterwards is bot.services.reporter_cases."""

from __future__ import annotations

import logging
import uuid
from dataclasses import replace

from bot.i18n import catalogue
from bot.intake.flow import (
    Action,
    ActionName,
    Discarded,
    FileAdded,
    Input,
    Notice,
    NoticeKind,
    Step,
    Submitted,
    TypedText,
    Unsupported,
)
from bot.services import people, receiving, submission
from bot.services.chat_state import ChatState, Mode
from bot.services.protocol import (
    AskKeepFile,
    CaseButton,
    Command,
    Edited,
    FileSent,
    FlowButton,
    LanguageButton,
    Menu,
    MenuButton,
    Other,
    Say,
    ShowHelp,
    ShowLanguages,
    ShowMenu,
    ShowReceipt,
    ShowStep,
    Text,
    View,
    Wipe,
)
from bot.services.reporter_cases import ReporterCases
from bot.services.turn import Turn

log = logging.getLogger(__name__)


class ReporterTurn:
    def __init__(self, turn: Turn) -> None:
        self.turn = turn
        self.cases = ReporterCases(turn, self._current, self._stale)

    @property
    def state(self) -> ChatState:
        return self.turn.state

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
            case FileSent():
                return await self._file(event)
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
                return await self.cases.button(action, short_id)
        return self._stale()  # a forged button, or a responder's button pressed by a non-responder

    # -- commands and text -----------------------------------------------------------------

    async def _command(self, name: str, argument: str) -> list[View]:
        self.state.compose = None
        if name == "start":
            if self.state.mode is Mode.AWAIT_RECEIPT:
                self.state.mode = Mode.IDLE
            return [ShowMenu(resume=self.state.mode is Mode.INTAKE)]
        if name == "help":
            return [ShowHelp("reporter"), *self._current()]
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
                return await self.cases.check_receipt(argument)
            return await self.cases.status()
        if name == "withdraw":
            return await self.cases.withdraw_which()
        return [Say("unknown_command"), *self._current()]

    async def _text(self, text: str) -> list[View]:
        compose = self.state.compose
        if compose is not None and compose.get("kind") == "reporter_reply":
            return await self.cases.reply_to_responders(compose["case"], text)
        if self.state.mode is Mode.INTAKE:
            return await self._flow(TypedText(text))
        if self.state.mode is Mode.AWAIT_RECEIPT:
            return await self.cases.check_receipt(text)
        return [Say("idle"), ShowMenu()]

    async def _menu(self, item: Menu) -> list[View]:
        if item is Menu.REPORT:
            if self.state.mode is not Mode.INTAKE or self.state.draft is None:
                return await self._new_report()
            return self._current()
        if item is Menu.CONTINUE:
            return self._current() or [ShowMenu()]
        if item is Menu.START_OVER:
            if self.state.mode is Mode.INTAKE:
                return await self._flow(Action(ActionName.CANCEL))
            return [ShowMenu()]
        if item is Menu.CHECK:
            return self.cases.ask_receipt()
        if item is Menu.PRIVACY:
            return [self._privacy(), *self._current()]
        if item in (Menu.FILE_SEND, Menu.FILE_SKIP):
            return await self._settle_file(item is Menu.FILE_SEND)
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

    async def _new_report(self) -> list[View]:
        context = self.turn.context
        if not self.turn.within_limit("reports"):
            return [Say("limit_reports", {"limit": context.limits.reports_per_day})]
        # The exclusion question lists the responders' names (MAC-checked rows): read only
        # if it is asked at all.
        staff = (
            await people.active_responders(self.turn.session, self.turn.keyring)
            if context.exclusion != "off"
            else []
        )
        mode = context.exclusion if staff else "off"
        step = context.intake.start(
            submission.exclusion_choices(staff) if mode == "list" else (), typed=mode == "typed"
        )
        # A new draft; what the chat holds about earlier reports and limits stays.
        self.turn.state = replace(
            self.state,
            mode=Mode.INTAKE,
            draft=step.draft,
            first_message_id=self.turn.incoming.message_id,
            wipe_allowed=False,
            compose=None,
            draft_files=uuid.uuid4().hex,  # a new draft files its evidence under a new id
            pending_file=None,
        )
        return self._current()

    def _privacy(self) -> Say:
        return Say("privacy_full", {"hours": f"{self.turn.context.draft_max_age_hours:g}"})

    def _set_language(self, language: str) -> list[View]:
        if language not in catalogue().languages:
            return self._stale()
        self.turn.chosen_language = language
        return [Say("language_set"), *self._current()]

    # -- evidence files --------------------------------------------------------------------

    async def _file(self, event: FileSent) -> list[View]:
        compose = self.state.compose
        if compose is not None and compose.get("kind") == "reporter_reply":
            return await self.cases.file_to_responders(compose["case"], event)
        draft = self.state.draft
        if self.state.mode is not Mode.INTAKE or draft is None:
            return [Say("file_not_now"), ShowMenu()]
        intake = self.turn.context.intake.for_draft(draft)
        question = intake.wants_files(draft)
        if question is None:
            return self._with_notice(NoticeKind.FILE_NOT_HERE)
        if self.state.pending_file is not None:
            return [Say("file_decide_first"), AskKeepFile(self.state.pending_file["kind"])]
        if intake.room_for_files(draft) == 0:
            step = intake.show(draft)
            notice = Notice(NoticeKind.TOO_MANY_FILES, limit=question.max_files or 0)
            return [ShowStep(Step(step.draft, step.screen, (notice,)), draft.rev, None)]
        if self.turn.draft_key is None:  # not sealed yet: cannot be (a question was shown)
            return self._with_notice(NoticeKind.UNSUPPORTED)
        received = await receiving.receive(
            self.turn,
            event,
            self.turn.draft_key,
            receiving.draft_holder(self.turn),
            question=question.id,
        )
        if isinstance(received, Say):
            return [received, *self._current()]
        if received.pending:
            receiving.hold(self.turn, received)
            return [AskKeepFile(received.note.kind)]
        return await self._flow(FileAdded(received.note))

    async def _settle_file(self, keep: bool) -> list[View]:
        pending = self.state.pending_file
        if pending is None:
            return self._stale()
        if "case" in pending:
            return await self.cases.settle_file(keep)
        if self.turn.draft_key is None or self.state.mode is not Mode.INTAKE:
            self.state.pending_file = None
            return self._stale()
        note = await receiving.settle(self.turn, self.turn.draft_key, keep)
        if note is None:
            return [Say("file_skipped"), *self._current()]
        return await self._flow(FileAdded(note))

    # -- the intake flow -------------------------------------------------------------------

    def _current(self) -> list[View]:
        """The question (or review) the reporter is on, so buttons stay at the bottom."""
        if self.state.mode is not Mode.INTAKE or self.state.draft is None:
            return []
        draft = self.state.draft
        step = self.turn.context.intake.for_draft(draft).show(draft)
        return [ShowStep(step, step.draft.rev, None)]

    def _stale(self) -> list[View]:
        if self.state.mode is Mode.INTAKE and self.state.draft is not None:
            return self._with_notice(NoticeKind.STALE_BUTTON)
        return [Say("notice_stale_button"), ShowMenu()]

    def _with_notice(self, kind: NoticeKind) -> list[View]:
        assert self.state.draft is not None
        draft = self.state.draft
        step = self.turn.context.intake.for_draft(draft).show(draft)
        return [ShowStep(Step(step.draft, step.screen, (Notice(kind),)), draft.rev, None)]

    async def _flow(self, flow_input: Input, rev: int | None = None) -> list[View]:
        assert self.state.draft is not None
        draft, context = self.state.draft, self.turn.context
        if await submission.names_everyone(self.turn, draft, flow_input):
            return self._with_notice(NoticeKind.KEEP_A_READER)
        intake = context.intake.for_draft(draft)
        step = intake.advance(draft, flow_input, self.turn.today, rev=rev)
        if isinstance(step.outcome, Discarded):
            self.state.mode, self.state.draft = Mode.IDLE, None
            self.state.first_message_id = None
            log.info("event=draft_discarded")
            return [Say("discarded")]
        if isinstance(step.outcome, Submitted):
            sent = await submission.send_report(self.turn, step.outcome)
            # The draft goes; what remains is the receipt until it is saved, and the right
            # to wipe the conversation.
            self.state.mode, self.state.draft, self.state.wipe_allowed = Mode.IDLE, None, True
            self.state.pending_receipt = {
                "code": sent.code,
                "case": sent.case.short_id,
                "urgent": sent.case.urgent,
                "readers": sent.readers,
            }
            kept = self.turn.context.retention.closed_days
            return [
                ShowReceipt(
                    sent.code, sent.case.short_id, sent.case.urgent, sent.readers, kept_days=kept
                )
            ]
        self.state.draft = step.draft
        return [ShowStep(step, step.draft.rev, self.turn.incoming.message_id)]
