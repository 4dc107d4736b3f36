"""Callback data: what our inline buttons carry, and reading it back (≤ 64 bytes).

Anything that does not parse is an `UnknownButton`, never an error: callback data comes
from the client and may be forged."""

from __future__ import annotations

from bot.intake.flow import Action, ActionName, EditQuestion, Input, Pick, Toggle
from bot.services.protocol import (
    CaseButton,
    Event,
    FlowButton,
    LanguageButton,
    Menu,
    MenuButton,
    ResponderButton,
    UnknownButton,
)

MAX_BYTES = 64


def flow(rev: int, flow_input: Input) -> str:
    match flow_input:
        case Pick(choice):
            code = f"p|{choice}"
        case Toggle(choice):
            code = f"t|{choice}"
        case EditQuestion(question):
            code = f"e|{question}"
        case Action(name):
            code = f"a|{name.value}"
        case _:
            raise ValueError(f"no button for {type(flow_input).__name__}")
    return _checked(f"f{rev}|{code}")


def menu(item: Menu) -> str:
    return _checked(f"m|{item.value}")


def language(code: str) -> str:
    return _checked(f"l|{code}")


def responder(action: str, argument: str = "") -> str:
    return _checked(f"R|{action}|{argument}")


def case(action: str, short_id: str) -> str:
    return _checked(f"c|{action}|{short_id}")


def pressing(button: ResponderButton | CaseButton | str) -> str:
    """The callback data of a button a service described by what pressing it means (or,
    queued by an older version, already as callback data)."""
    if isinstance(button, str):
        return _checked(button)
    if isinstance(button, ResponderButton):
        return responder(button.action, button.argument)
    return case(button.action, button.case)


def parse(data: str | None) -> Event:
    if not data or len(data.encode()) > MAX_BYTES:
        return UnknownButton()
    head, _, rest = data.partition("|")
    try:
        if head == "m":
            return MenuButton(Menu(rest))
        if head == "l":
            return LanguageButton(rest)
        if head == "R":
            action, _, argument = rest.partition("|")
            return ResponderButton(action, argument) if action else UnknownButton()
        if head == "c":
            action, _, short_id = rest.partition("|")
            return CaseButton(action, short_id) if action and short_id else UnknownButton()
        if head.startswith("f") and head[1:].isdigit():
            kind, _, value = rest.partition("|")
            if kind == "a":
                return FlowButton(int(head[1:]), Action(ActionName(value)))
            if kind == "p" and value:
                return FlowButton(int(head[1:]), Pick(value))
            if kind == "t" and value:
                return FlowButton(int(head[1:]), Toggle(value))
            if kind == "e" and value:
                return FlowButton(int(head[1:]), EditQuestion(value))
    except ValueError:
        pass
    return UnknownButton()


def _checked(data: str) -> str:
    if len(data.encode()) > MAX_BYTES:
        raise ValueError("callback data over Telegram's 64-byte limit")
    return data
