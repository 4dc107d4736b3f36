"""Views -> Telegram messages, by audience: intake (the questions), reporter, responder and
admin screens; page (one language's words), widgets (keyboards) and packing (message
lengths as Telegram counts them)."""

from bot.telegram.render.outgoing import (
    DeleteRange,
    EditKeyboard,
    Outgoing,
    Send,
    SetChatCommands,
)
from bot.telegram.render.renderer import Renderer

__all__ = ["DeleteRange", "EditKeyboard", "Outgoing", "Renderer", "Send", "SetChatCommands"]
