"""Whatever the bot accepted reaches the reader: text is measured in UTF-16 units as
Telegram measures it, and a block too long for one message is split, never cut off."""

from __future__ import annotations

import html
import re

from bot.intake.text import utf16_length
from bot.telegram.render.packing import MESSAGE_BUDGET, length, pack, strip_tags

TAG = re.compile(r"<(/?)([a-z]+)[^>]*>")


def plain(messages: list[str]) -> str:
    return "".join(html.unescape(strip_tags(m)) for m in messages)


def balanced(message: str) -> bool:
    stack: list[str] = []
    for closing, name in TAG.findall(message):
        if closing:
            if not stack or stack.pop() != name:
                return False
        else:
            stack.append(name)
    return not stack


def test_length_is_telegrams_utf16_count_of_the_text_without_tags() -> None:
    assert length("<b>a &amp; b</b>") == 5
    assert length("😢" * 3) == 6 == utf16_length("😢😢😢")


def test_short_blocks_share_a_message() -> None:
    assert pack(["<b>one</b>", "two"]) == ["<b>one</b>\n\ntwo"]


def test_a_long_emoji_answer_is_split_by_utf16_units_and_nothing_is_lost() -> None:
    answer = "😢" * 3000  # 3000 characters, 6000 units: fits by len(), not by Telegram's count
    block = "<b>What happened</b>\n" + html.escape(answer)
    messages = pack(["<b>Case C-7F3K</b>", block])
    assert len(messages) >= 2
    assert all(length(m) <= MESSAGE_BUDGET for m in messages)
    assert all(balanced(m) for m in messages)
    assert plain(messages).count("😢") == 3000
    assert "\ud83d" not in plain(messages)  # no character cut in half


def test_a_long_thread_keeps_every_message_and_its_markup() -> None:
    items = [
        f"<b>The reporter</b> · <i>2026-11-2{i} 10:00 UTC</i>\n" + html.escape("x & y " * 300)
        for i in range(8)
    ]
    messages = pack(items)
    assert all(length(m) <= MESSAGE_BUDGET for m in messages)
    assert all(balanced(m) for m in messages)
    assert plain(messages).count("x & y") == 8 * 300
    assert sum(m.count("<b>The reporter</b>") for m in messages) == 8


def test_a_tag_spanning_lines_is_never_split_open() -> None:
    block = "<i>" + "\n".join("line " * 60 for _ in range(30)) + "</i>"
    messages = pack([block])
    assert all(balanced(m) for m in messages)
    assert plain(messages).count("line") == 30 * 60
