"""Script-like conversations with the bot, as a person would have them (through the emulator)."""

from __future__ import annotations

import re

from bot.devserver import BotMessage, UserClient

WAIT = 20.0
RECEIPT = re.compile(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}")
# A case id, never the end of a receipt code group ("…7QC-G5YV…" holds no case id).
CASE = re.compile(r"\bC-(?:[0-9A-Z]{3}-[0-9A-Z]{3}|[0-9A-Z]{4})\b")


async def say(user: UserClient, text: str) -> BotMessage:
    await user.send(text)
    return await user.next_message(WAIT)


async def press(user: UserClient, label: str, message: BotMessage | None = None) -> BotMessage:
    await user.click(label, message=message)
    return await user.next_message(WAIT)


async def file_report(
    user: UserClient,
    *,
    linked: bool = True,
    danger: bool = False,
    account: str = "My team lead shouts at me in front of clients.",
) -> str:
    """The shortest honest report: a category, an account, everything else skipped."""
    await say(user, "/start")
    await press(user, "Make a report")
    await press(user, "Verbal harassment")
    for _ in range(3):
        await press(user, "Skip")
    await say(user, account)
    shown = user.last_message
    while shown is not None and "Please check your report" not in shown.text:
        label = "I am in danger now" if danger and "safe" in shown.text.lower() else "Skip"
        shown = await press(user, label)
    await user.click("Send report" if linked else "don't link this chat")
    receipt = await user.next_message(WAIT)
    match = RECEIPT.search(receipt.text)
    assert match, receipt.text
    offer = await user.next_message(WAIT)  # the offer to delete the conversation
    if "urgent" in offer.text:
        await user.next_message(WAIT)
    # Like a careful reporter: the code is written down, and the bot is told so.
    thanks = await press(user, "I have saved my code", receipt)
    assert "Keep the code safe" in thanks.text, user.transcript()
    return match.group()


def case_id_in(text: str) -> str:
    match = CASE.search(text)
    assert match, text
    return match.group()
