"""Confide's own CPU per user action, stage by stage, without Telegram's HTTP: the reporters
of bench/run.py's script, one after another, through the inbox, the service and the
renderer on a real migrated SQLite database, in this process.

    python bench/stages.py [reporters]

On a shared machine the whole-bot benchmark (bench/run.py) moves by ±20% from run to run;
this measures only Confide's part (process CPU: the driver's thread included), one update
at a time, so that a change to it can be seen. No group commit joins writes here: each
update is one inbox transaction and one chat transaction, as with one reporter.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import gc
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO)]

from run import SCRIPT  # bench/run.py: this folder is on the path
from telegram import Bot, InlineKeyboardMarkup, Update

from bot.crypto import Keyring
from bot.i18n import catalogue
from bot.intake.flow import Intake
from bot.intake.questionnaire import load_questionnaire
from bot.services.conversation import ConversationService
from bot.services.inbox import Inbox
from bot.store.database import create_engine, migrate, session_factory
from bot.telegram.handlers import UpdateHandler
from bot.telegram.render import EditKeyboard, Renderer, Send
from bot.telegram.updates import without_names


class Stages:
    def __init__(self, handler: UpdateHandler, inbox: Inbox, bot: Bot) -> None:
        self.handler, self.inbox, self.bot = handler, inbox, bot
        self.cpu: dict[str, float] = collections.defaultdict(float)
        self.update_id = self.message_id = 1000

    def _lap(self, stage: str, started: float) -> float:
        now = time.process_time()
        self.cpu[stage] += now - started
        return now

    def _update(self, user: int, kind: str, value: str, keyboard: Any) -> dict[str, Any]:
        self.update_id += 1
        self.message_id += 1
        person = {"id": user, "is_bot": False, "first_name": "R", "language_code": "en"}
        chat = {"id": user, "type": "private", "first_name": "R"}
        if kind == "send":
            message: dict[str, Any] = {
                "message_id": self.message_id,
                "from": person,
                "chat": chat,
                "date": 1800000000,
                "text": value,
            }
            if value.startswith("/"):
                message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(value)}]
            return {"update_id": self.update_id, "message": message}
        assert isinstance(keyboard, InlineKeyboardMarkup)
        buttons = [b for row in keyboard.inline_keyboard for b in row]
        button = (
            [b for b in buttons if b.text == value] or [b for b in buttons if value in b.text]
        )[0]
        return {
            "update_id": self.update_id,
            "callback_query": {
                "id": str(self.update_id),
                "from": person,
                "chat_instance": "1",
                "data": button.callback_data,
                "message": {
                    "message_id": self.message_id - 1,
                    "from": {"id": 1, "is_bot": True, "first_name": "B"},
                    "chat": chat,
                    "date": 1800000000,
                    "text": "…",
                    "reply_markup": keyboard.to_dict(),
                },
            },
        }

    async def reporter(self, user: int) -> None:
        keyboard = None
        for kind, value in SCRIPT:
            data = self._update(user, kind, value, keyboard)
            started = time.process_time()
            data = without_names(data)
            started = self._lap("without_names", started)
            stored = (await self.inbox.store([data]))[0]
            started = self._lap("inbox.store", started)
            update = Update.de_json(stored.data, self.bot)
            started = self._lap("Update.de_json (the baseline does it too)", started)
            assert update.effective_chat is not None
            incoming = self.handler.parse(update, update.effective_chat)
            assert incoming is not None
            started = self._lap("parse", started)
            reply = await self.handler.service.handle(incoming)
            assert reply is not None
            started = self._lap("service.handle", started)
            out = self.handler.renderer.render(reply.views, reply.language)
            self._lap("render", started)
            for item in out:  # the next button is pressed on the newest keyboard
                if isinstance(item, Send | EditKeyboard) and item.keyboard is not None:
                    keyboard = item.keyboard


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("reporters", type=int, nargs="?", default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        engine = create_engine(f"sqlite+aiosqlite:///{folder}/stages.db")
        keyring = Keyring.generate()
        await migrate(engine, keyring=keyring)
        sessions = session_factory(engine)
        questionnaire = load_questionnaire()
        service = ConversationService(sessions, keyring, Intake(questionnaire))
        renderer = Renderer(catalogue(), questionnaire, "bench_bot")
        inbox = Inbox(sessions, keyring, lambda: datetime.now(UTC))
        bot = Bot("123456:STAGES")
        stages = Stages(UpdateHandler(service, renderer, bot, inbox), inbox, bot)
        await stages.reporter(1)  # warm: statements compiled, caches filled
        stages.cpu.clear()
        gc.collect()
        gc.freeze()  # as `confide run` does after start-up
        started = time.process_time()
        for user in range(args.reporters):
            await stages.reporter(10 + user)
        actions = args.reporters * len(SCRIPT)
        total = 1000 * (time.process_time() - started) / actions
        print(f"{total:.3f} ms of CPU per user action ({actions} actions, one at a time)")
        for stage, seconds in sorted(stages.cpu.items(), key=lambda kv: -kv[1]):
            print(f"  {1000 * seconds / actions:7.3f} ms  {stage}")
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
