"""Long lists through the real bot and the Bot API emulator (which refuses a message over
Telegram's 4096 characters, as Telegram does): every page is delivered, and every case is
on exactly one of them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from harness import InProcessBot, enrol
from many_cases import responder_id, seed_cases, seed_responders, seed_trail
from sqlalchemy.ext.asyncio import AsyncEngine
from talk import CASE, WAIT, press, say

from bot.crypto import Keyring
from bot.devserver import BotApiEmulator, BotMessage, UserClient
from bot.services.listing import PAGE_SIZE

MAX_TEXT = 4096


async def every_page(person: UserClient, command: str, title: str) -> list[list[str]]:
    """Send the command, then press Next until there is none; the case ids of each page."""
    shown: BotMessage = await say(person, command)
    pages = []
    while True:
        assert title in shown.text, shown.text
        assert len(shown.text) < MAX_TEXT
        pages.append(CASE.findall(shown.text))
        if not any("Next" in label for label in shown.button_texts):
            return pages
        shown = await press(person, "Next ▶️", shown)


async def test_three_hundred_late_cases_are_listed_a_page_at_a_time(
    emulator: BotApiEmulator, bot: InProcessBot, engine: AsyncEngine, keyring: Keyring
) -> None:
    ada = await enrol(emulator, engine, keyring, "Ada", "admin")
    cases = await seed_cases(engine, keyring, 300, datetime.now(UTC) - timedelta(days=3), late=True)
    pages = await every_page(ada, "/overdue", "Overdue cases")
    listed = [short_id for page in pages for short_id in page]
    assert listed == [c.short_id for c in cases]  # each once, oldest first
    assert len(pages) == -(-300 // PAGE_SIZE)
    assert f"page {len(pages)}" in ada.last_message.text  # type: ignore[union-attr]
    back = await press(ada, "Previous", ada.last_message)
    assert f"page {len(pages) - 1}" in back.text
    assert CASE.findall(back.text) == pages[-2]


async def test_the_queue_of_an_excluded_responder_skips_the_cases_hidden_from_them(
    emulator: BotApiEmulator, bot: InProcessBot, engine: AsyncEngine, keyring: Keyring
) -> None:
    ben = await enrol(emulator, engine, keyring, "Ben")
    ben.skip_pending()
    ben_id = await responder_id(engine, keyring, ben.id)
    hidden = set(range(10, 40))  # more than three pages in a row that Ben may not see
    cases = await seed_cases(
        engine,
        keyring,
        60,
        datetime.now(UTC) - timedelta(days=1),
        excluded=lambda i: [ben_id] if i in hidden or i % 7 == 0 else [],
    )
    pages = await every_page(ben, "/queue", "Open cases")
    listed = [short_id for page in pages for short_id in page]
    assert listed == [c.short_id for c in cases if c.number not in hidden and c.number % 7]


async def test_many_responders_with_long_names_and_a_long_audit_trail_are_delivered(
    emulator: BotApiEmulator, bot: InProcessBot, engine: AsyncEngine, keyring: Keyring
) -> None:
    """Fifty responders with names of 64 characters, which HTML must escape, and a trail
    of 400 entries: every page is delivered, everyone and every entry on one of them."""
    ada = await enrol(emulator, engine, keyring, "Ada", "admin")
    names = [f"{'&' * 60}{i:04}" for i in range(50)]
    await seed_responders(engine, keyring, names, datetime.now(UTC))
    await ada.send("/responders")
    seen = await read_pages(ada, "Responders")
    assert sorted(line for line in seen if "&&" in line) == [
        f"• {'&' * 60}{i:04} — responder" for i in range(50)
    ]

    (case,) = await seed_cases(engine, keyring, 1, datetime.now(UTC) - timedelta(days=5))
    ada_id = await responder_id(engine, keyring, ada.id)
    await seed_trail(engine, keyring, case.short_id, ada_id, 400)
    await ada.send(f"/audit {case.short_id}")
    lines = await read_pages(ada, "Audit trail")
    assert sum(line.endswith("· Ada (responder) · read the case") for line in lines) == 400


async def read_pages(person: UserClient, title: str) -> list[str]:
    """The lines of every page, pressing Next under each page's last message; each message
    within Telegram's limit (the emulator would have refused it, and the bot said so)."""
    lines: list[str] = []
    while True:
        shown = await person.next_message(WAIT)
        assert len(shown.text) < MAX_TEXT
        lines.extend(shown.text.splitlines())
        if not shown.button_texts:
            continue  # a page split over several messages: its buttons are on the last
        if not any("Next" in label for label in shown.button_texts):
            assert any(title in line for line in lines)
            return lines
        await person.click("Next ▶️", message=shown)
