"""A local Telegram Bot API emulator for tests.

Run an unmodified python-telegram-bot ``Application`` against it with
``base_url=emu.base_url`` and drive simulated users with a script-like API::

    async with BotApiEmulator(token=TOKEN, bot_username="confide_test_bot") as emu:
        alice = emu.new_user(first_name="Alice", username="alice")
        await alice.send("/start")
        msg = await alice.next_message()
        await alice.click("Start a report")

Files work as on Telegram: users send them (``await alice.send_photo(data)``,
``send_document``, ``send_voice``, ``send_album``, ...), the bot fetches them with getFile and
downloads them from ``emu.base_file_url`` (give it to PTB as ``base_file_url``), and what the
bot uploads reaches the user with its bytes (``msg.file_bytes``, ``await alice.download(msg)``).
"""

from .client import AlbumItem, ChatView, Click, GroupChat, UserClient
from .limits import RateLimits, Send
from .models import ApiCall, ApiError, BotMessage, Failure, StoredFile, Upload
from .server import BotApiEmulator
from .webhook import WebhookDelivery

__all__ = [
    "AlbumItem",
    "ApiCall",
    "ApiError",
    "BotApiEmulator",
    "BotMessage",
    "ChatView",
    "Click",
    "Failure",
    "GroupChat",
    "RateLimits",
    "Send",
    "StoredFile",
    "Upload",
    "UserClient",
    "WebhookDelivery",
]
