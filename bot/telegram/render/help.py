"""/help for each role: exactly the commands of that role's menu (bot.telegram.commands)."""

from __future__ import annotations

from bot.services.protocol import ShowHelp
from bot.telegram.commands import commands_for
from bot.telegram.render.outgoing import Outgoing, Send
from bot.telegram.render.page import Page


def help_for(page: Page, view: ShowHelp) -> list[Outgoing]:
    if view.role == "reporter":
        return [Send(page.t("help"))]
    lines = [page.t("help_staff_title")]
    lines += [f"/{name} — {page.t(f'cmd_{name}')}" for name in commands_for(view.role)]
    return [Send("\n".join(lines) + "\n\n" + page.t("help_staff_footer"))]
