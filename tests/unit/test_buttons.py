"""Buttons are meanings in services; only the Telegram shell knows their callback data."""

from __future__ import annotations

import json

from bot.i18n import catalogue
from bot.intake.questionnaire import load_questionnaire
from bot.services.outbox import NoticeButton, Notification
from bot.services.protocol import CaseButton, ResponderButton
from bot.telegram import callbacks
from bot.telegram.render import Renderer

RENDERER = Renderer(catalogue(), load_questionnaire())


def pressed(note: Notification) -> list[tuple[str, str]]:
    _, keyboard = RENDERER.notification(note)
    assert keyboard is not None
    return [(b.text, str(b.callback_data)) for row in keyboard.inline_keyboard for b in row]


def test_a_buttons_meaning_survives_the_outbox_and_parses_back_to_itself() -> None:
    meanings = (ResponderButton("claim", "C-7F3K"), CaseButton("reply", "C-7F3K"))
    note = Notification(
        "alert_new_case",
        "zh",
        {"case": "C-7F3K"},
        tuple(NoticeButton("btn_claim", m) for m in meanings),
    )
    stored = Notification.from_json(json.loads(json.dumps(note.to_json())))
    assert stored == note
    for (label, data), meaning in zip(pressed(stored), meanings, strict=True):
        assert label == catalogue().text("zh", "btn_claim")
        assert callbacks.parse(data) == meaning


def test_a_message_queued_by_an_older_version_keeps_its_buttons() -> None:
    """Before buttons had meanings, the outbox stored [label, callback data]."""
    old = {
        "key": "alert_new_case",
        "language": "en",
        "params": {"case": "C-7F3K"},
        "buttons": [["btn_claim", "R|claim|C-7F3K"], ["btn_open", "R|open|C-7F3K"]],
    }
    note = Notification.from_json(old)
    assert [data for _, data in pressed(note)] == ["R|claim|C-7F3K", "R|open|C-7F3K"]
    assert Notification.from_json(json.loads(json.dumps(note.to_json()))) == note
