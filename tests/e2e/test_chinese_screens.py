"""Everyone reads their own language: a reporter, a responder and an admin who use Chinese
see no English word on any screen (states, roles, audit actions and ages included), and
/help matches each role's command menu."""

from __future__ import annotations

import re

from harness import InProcessBot, enrol
from sqlalchemy.ext.asyncio import AsyncEngine
from talk import CASE, RECEIPT, WAIT, press, say

from bot.crypto import Keyring
from bot.devserver import BotApiEmulator, BotMessage, UserClient

COMMAND = re.compile(r"/[a-z_]+")
LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
# Not words of a language: case ids and receipt codes, commands, time zones, names and
# brands.
NOT_WORDS = ("UTC", "Ada", "Wen", "Confide", "Telegram")


def english_in(message: BotMessage) -> list[str]:
    text = "\n".join([message.text, *message.button_texts])
    for pattern in (CASE, RECEIPT, COMMAND):
        text = pattern.sub(" ", text)
    for name in NOT_WORDS:
        text = text.replace(name, " ")
    return LATIN_WORD.findall(text)


async def file_report_in_chinese(user: UserClient) -> str:
    await say(user, "/start")
    await press(user, "开始举报")
    await press(user, "言语骚扰")
    for _ in range(3):
        await press(user, "跳过")
    await say(user, "组长当着客户的面吼我。")
    shown = user.last_message
    while shown is not None and "发送前请检查" not in shown.text:
        shown = await press(user, "跳过")
    await user.click("发送举报")
    receipt = await user.next_message(WAIT)
    await user.next_message(WAIT)  # the offer to delete the conversation
    await press(user, "我已保存回执码", receipt)
    match = CASE.search(receipt.text)
    assert match, receipt.text
    return match.group()


async def test_a_chinese_speaking_team_sees_no_english(
    emulator: BotApiEmulator, bot: InProcessBot, engine: AsyncEngine, keyring: Keyring
) -> None:
    ada = await enrol(emulator, engine, keyring, "Ada", role="admin", language="zh")
    wen = await enrol(emulator, engine, keyring, "Wen", language="zh")
    ada.skip_pending()
    wen.skip_pending()
    rea = emulator.new_user(first_name="Rea", language_code="zh-hans")
    case_id = await file_report_in_chinese(rea)
    assert case_id in (await wen.next_message(WAIT)).text
    await ada.next_message(WAIT)

    for command in (
        "/help",
        "/queue",
        f"/claim {case_id}",
        "/mine",
        f"/state {case_id} investigating",
        f"/state {case_id} investigating",  # not a change: refused, in Chinese
        f"/reply {case_id} 请问是从什么时候开始的？",
        f"/note {case_id} 已联系人事部。",
        f"/open {case_id}",
    ):
        await say(wen, command)
        wen.skip_pending()
    for command in ("/help", "/responders", "/overdue", f"/audit {case_id}", "/queue"):
        await say(ada, command)
        ada.skip_pending()
    await say(rea, "/status")
    rea.skip_pending()

    for person in (wen, ada, rea):
        for message in person.messages:
            assert not english_in(message), (english_in(message), message.text)
    trail = [m.text for m in ada.messages if "审计记录" in m.text][-1]
    assert "认领了案件" in trail and "将状态改为调查中" in trail and "举报人" in trail
    queue = [m.text for m in ada.messages if "待处理案件" in m.text][-1]
    assert "分钟" in queue or "小时" in queue


async def test_help_matches_each_roles_menu(
    emulator: BotApiEmulator, bot: InProcessBot, engine: AsyncEngine, keyring: Keyring
) -> None:
    ada = await enrol(emulator, engine, keyring, "Ada", role="admin")
    wen = await enrol(emulator, engine, keyring, "Wen", language="zh")
    rea = emulator.new_user(first_name="Rea", language_code="en")
    await emulator.wait_until(
        lambda: emulator.menu(ada.chat_id) and emulator.menu(wen.chat_id, "zh"), timeout=WAIT
    )
    for person, language in ((ada, ""), (wen, "zh"), (rea, "")):
        person.skip_pending()
        shown = await say(person, "/help")
        listed = re.findall(r"^/([a-z_]+)", shown.text, re.MULTILINE)
        assert listed == emulator.menu(person.chat_id, language), shown.text
    assert "overdue" in emulator.menu(ada.chat_id) and "overdue" not in emulator.menu(
        wen.chat_id, "zh"
    )
