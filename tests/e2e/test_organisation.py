"""The organisation's own settings, end to end through config.toml: its name, welcome,
privacy words and emergency line in each language; its time zone for every time shown and
every date typed; and how long reports are kept, told at submission."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from harness import InProcessBot, bot_environment, enrol
from sqlalchemy.ext.asyncio import AsyncEngine
from talk import WAIT, case_id_in, press, say
from world import Clock

from bot.crypto import Keyring
from bot.devserver import BotApiEmulator, UserClient

CONFIG = """
[telegram]
poll_timeout = 1
[outbox]
retry_seconds = 0.1
[organisation]
timezone = "Asia/Shanghai"
name = { en = "Acme Ltd", zh = "艾可有限公司" }
welcome = { en = "Welcome to the Acme <speak-up> line.", zh = "欢迎使用艾可举报渠道。" }
[organisation.privacy]
en = "Acme's data protection officer: dpo@acme.example."
zh = "艾可数据保护官：dpo@acme.example。"
[organisation.emergency]
en = "Acme security desk, day and night: +86 21 5555 0110."
zh = "艾可安保值班电话（全天）：+86 21 5555 0110。"
[retention]
closed_days = 180
"""
# 20:00 UTC on 1 August is 04:00 on 2 August in Shanghai.
EVENING_IN_UTC = datetime(2026, 8, 1, 20, 0, tzinfo=UTC)


async def start(
    emulator: BotApiEmulator, tmp_path: Path, database_url: str, keys: str
) -> InProcessBot:
    (tmp_path / "config.toml").write_text(CONFIG, encoding="utf-8")
    bot = InProcessBot(
        bot_environment(tmp_path, database_url, emulator.base_url, keys), Clock(EVENING_IN_UTC)
    )
    await bot.start()
    return bot


async def report_in_danger(user: UserClient, typed_date: str) -> tuple[str, list[str]]:
    """A report whose date is typed, sent as urgent; what the bot said along the way."""
    seen: list[str] = []
    await say(user, "/start")
    await press(user, "Make a report")
    await press(user, "Verbal harassment")
    seen.append((await say(user, typed_date)).text)
    shown = user.last_message
    assert shown is not None
    while "Please check your report" not in shown.text:
        label = "I am in danger now" if "safe right now" in shown.text else "Skip"
        if "In your own words" in shown.text:
            shown = await say(user, "He blocked the door of the meeting room.")
            continue
        await user.click(label)
        shown = await user.next_message(WAIT)
        seen.append(shown.text)
    seen.append(shown.text)
    await user.click("Send report")
    receipt = await user.next_message(WAIT)
    seen.append(receipt.text)
    for _ in range(2):  # the urgent line and the offer to delete the conversation
        seen.append((await user.next_message(WAIT)).text)
    return case_id_in(receipt.text), seen


async def test_the_organisation_speaks_in_its_own_words_and_time_zone(
    emulator: BotApiEmulator,
    migrated: AsyncEngine,
    keyring: Keyring,
    tmp_path: Path,
    database_url: str,
) -> None:
    bot = await start(emulator, tmp_path, database_url, keyring.dump())
    try:
        sam = await enrol(emulator, migrated, keyring, "Sam", "responder")
        sam.skip_pending()
        rae = emulator.new_user(first_name="Rae", language_code="en")
        welcome = await say(rae, "/start")
        assert welcome.text.startswith("Acme Ltd\n\nWelcome to the Acme <speak-up> line.")
        assert "Confide</b> — a safe way" not in (
            welcome.html or ""
        )  # the built-in welcome gave way
        privacy = await say(rae, "/privacy")
        assert privacy.text.startswith("Acme Ltd\n\n")
        assert privacy.text.endswith("Acme's data protection officer: dpo@acme.example.")

        # "2026-08-02" is today in Shanghai, while it is still 1 August in UTC.
        case_id, seen = await report_in_danger(rae, "2026-08-02")
        said = "\n".join(seen)
        assert "future" not in said
        review = next(text for text in seen if "Please check your report" in text)
        assert "2026-08-02" in review
        danger_note = next(text for text in seen if "immediate danger" in text)
        # With the choice's own note, before the next question.
        assert (
            "at once.\n\n🆘 Acme security desk, day and night: +86 21 5555 0110.\n" in danger_note
        )
        urgent = next(text for text in seen if "Your report is marked urgent" in text)
        assert urgent.endswith("🆘 Acme security desk, day and night: +86 21 5555 0110.")
        receipt = next(text for text in seen if "Your receipt code" in text)
        assert "kept for 180 days after the last change" in receipt

        alert = await sam.next_message(WAIT)
        assert case_id in alert.text
        opened = await say(sam, f"/open {case_id}")
        assert "2026-08-02 04:00 UTC+8" in opened.text  # submitted at 20:00 UTC
        assert "UTC\n" not in opened.text
    finally:
        await bot.stop()


async def test_the_organisation_speaks_chinese_too(
    emulator: BotApiEmulator,
    migrated: AsyncEngine,
    keyring: Keyring,
    tmp_path: Path,
    database_url: str,
) -> None:
    bot = await start(emulator, tmp_path, database_url, keyring.dump())
    try:
        await enrol(emulator, migrated, keyring, "Wen", "responder", language="zh")
        rea = emulator.new_user(first_name="Rea", language_code="zh-hans")
        welcome = await say(rea, "/start")
        assert welcome.text.startswith("艾可有限公司\n\n欢迎使用艾可举报渠道。")
        privacy = await say(rea, "/privacy")
        assert privacy.text.endswith("艾可数据保护官：dpo@acme.example。")
    finally:
        await bot.stop()
