"""Deletes case content from responders' chats when its time is up (bot.services.case_views)."""

from __future__ import annotations

import logging

from telegram import Bot
from telegram.error import BadRequest, Forbidden, TelegramError

from bot.services.case_views import CaseViews

log = logging.getLogger(__name__)


class Janitor:
    def __init__(self, views: CaseViews, bot: Bot) -> None:
        self.views = views
        self.bot = bot

    async def sweep(self) -> int:
        deleted = 0
        for due in await self.views.due():
            try:
                await self.bot.delete_messages(due.chat_id, list(due.message_ids))
            except (BadRequest, Forbidden) as error:
                # Already deleted by the responder, or the chat is gone: nothing left to do.
                log.info("event=case_view_delete_refused error=%s", type(error).__name__)
            except TelegramError as error:  # Telegram unreachable: try again next sweep
                log.warning("event=case_view_delete_failed error=%s", type(error).__name__)
                continue
            await self.views.deleted(due)
            deleted += len(due.message_ids)
        if deleted:
            log.info("event=case_views_deleted count=%d", deleted)
        return deleted
