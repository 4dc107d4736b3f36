"""A local Telegram Bot API emulator for tests.

Run an unmodified python-telegram-bot ``Application`` against it with
``base_url=emu.base_url`` and drive simulated users with a script-like API::

    async with BotApiEmulator(token=TOKEN, bot_username="confide_test_bot") as emu:
        alice = emu.new_user(first_name="Alice", username="alice")
        await alice.send("/start")
        msg = await alice.next_message()
        await alice.click("Start a report")
"""

from .client import ChatView, Click, GroupChat, UserClient
from .models import ApiCall, ApiError, BotMessage, Failure
from .server import BotApiEmulator

__all__ = [
    "ApiCall",
    "ApiError",
    "BotApiEmulator",
    "BotMessage",
    "ChatView",
    "Click",
    "Failure",
    "GroupChat",
    "UserClient",
]
