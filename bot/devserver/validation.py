"""Stateless request validation: text formatting, reply markup, parameter coercion.

Error texts are Telegram's where known, so assertions on ``BadRequest.message`` written
against the emulator also hold against the real API.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .models import JSON, ApiError
from .tg_html import HtmlParseError, parse_html, utf16_len

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_BUTTONS = 100
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)

# Exactly one of these must accompany "text" in an inline keyboard button.
INLINE_BUTTON_KINDS = (
    "callback_data", "url", "web_app", "login_url", "switch_inline_query",
    "switch_inline_query_current_chat", "switch_inline_query_chosen_chat", "copy_text",
    "callback_game", "pay",
)  # fmt: skip
_URL_RE = re.compile(r"^(https?|tg|ton)://\S+$", re.IGNORECASE)
_COMMAND_RE = re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![A-Za-z0-9_@])")
_INT_RE = re.compile(r"^\s*-?\d+\s*$")


@dataclass(frozen=True)
class FormattedText:
    text: str  # plain text as Telegram stores it
    entities: list[JSON]
    html: str | None  # raw text when parse_mode was HTML
    parse_mode: str | None


def get_int(params: JSON, name: str, *, missing: str) -> int:
    """Coerce an integer parameter (JSON number or numeric string)."""
    value = params.get(name)
    if value is None or value == "":
        raise ApiError.bad_request(missing)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _INT_RE.match(value):
        return int(value)
    raise ApiError.bad_request(f"invalid {name} specified")


def get_bool(params: JSON, name: str) -> bool:
    value = params.get(name)
    if isinstance(value, str):
        return value.lower() in ("true", "1")
    return bool(value)


def _trim(text: str, entities: list[JSON]) -> tuple[str, list[JSON]]:
    """Telegram strips leading/trailing whitespace; shift and clip entities accordingly."""
    left = text.lstrip()
    lead = utf16_len(text) - utf16_len(left)
    result = left.rstrip()
    total = utf16_len(result)
    trimmed: list[JSON] = []
    for entity in entities:
        start = max(int(entity["offset"]) - lead, 0)
        end = min(int(entity["offset"]) + int(entity["length"]) - lead, total)
        if end > start:
            trimmed.append({**entity, "offset": start, "length": end - start})
    return result, trimmed


def _explicit_entities(value: Any) -> list[JSON]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(
        isinstance(e, dict) and {"type", "offset", "length"} <= e.keys() for e in value
    ):
        raise ApiError.bad_request("can't parse entities JSON object")
    return [dict(e) for e in value]


def format_text(
    params: JSON, *, key: str = "text", strict_html_entities: bool = True
) -> FormattedText:
    """Apply parse_mode to ``params[key]`` and enforce Telegram's length limits."""
    raw = params.get(key)
    if raw is None:
        raise ApiError.bad_request("message text is empty")
    formatted = _parse(params, raw, "entities", strict_html_entities=strict_html_entities)
    if not formatted.text:
        raise ApiError.bad_request("message text is empty")
    if len(formatted.text) > MAX_TEXT_LENGTH:
        raise ApiError.bad_request("message is too long")
    return formatted


def format_caption(params: JSON, *, strict_html_entities: bool = True) -> FormattedText | None:
    """A media caption: optional (None when absent or blank), at most 1024 characters
    after parse_mode is applied, its explicit entities in ``caption_entities``."""
    raw = params.get("caption")
    if raw is None or raw == "":
        return None
    formatted = _parse(params, raw, "caption_entities", strict_html_entities=strict_html_entities)
    if not formatted.text:
        return None
    if len(formatted.text) > MAX_CAPTION_LENGTH:
        raise ApiError.bad_request("message caption is too long")
    return formatted


def _parse(
    params: JSON, raw: Any, entities_key: str, *, strict_html_entities: bool
) -> FormattedText:
    text = raw if isinstance(raw, str) else str(raw)
    mode_value = params.get("parse_mode")
    mode = str(mode_value) if mode_value else None
    html: str | None = None
    if mode is None:
        plain, entities = text, _explicit_entities(params.get(entities_key))
    elif mode.lower() == "html":
        try:
            plain, entities = parse_html(text, strict_entities=strict_html_entities)
        except HtmlParseError as exc:
            raise ApiError.bad_request(f"can't parse entities: {exc}") from None
        html = text
    elif mode.lower() in ("markdown", "markdownv2"):
        plain, entities = text, []  # not parsed: the raw markdown is kept as the text
    else:
        raise ApiError.bad_request("unsupported parse_mode")
    plain, entities = _trim(plain, entities)
    return FormattedText(plain, entities, html, mode)


def _check_inline_button(button: Any) -> None:
    if not isinstance(button, dict):
        raise ApiError.bad_request(
            "can't parse inline keyboard button: InlineKeyboardButton must be an Object"
        )
    if not isinstance(button.get("text"), str):
        raise ApiError.bad_request(
            'can\'t parse inline keyboard button: Field "text" must be of type String'
        )
    kinds = [kind for kind in INLINE_BUTTON_KINDS if button.get(kind) is not None]
    if not kinds:
        raise ApiError.bad_request(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
        )
    if len(kinds) > 1:
        # Telegram silently picks one; a button with two actions is a bug worth surfacing.
        raise ApiError.bad_request(
            f"can't parse inline keyboard button: exactly one optional field expected, got {kinds}"
        )
    data = button.get("callback_data")
    if data is not None:
        size = len(str(data).encode())
        if not isinstance(data, str) or not 1 <= size <= MAX_CALLBACK_DATA_BYTES:
            raise ApiError.bad_request("BUTTON_DATA_INVALID")
    url = button.get("url")
    if url is not None and (not isinstance(url, str) or not _URL_RE.match(url)):
        raise ApiError.bad_request("BUTTON_URL_INVALID")


def _rows(markup: JSON, field: str, owner: str) -> list[list[Any]]:
    rows = markup.get(field)
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise ApiError.bad_request(f'field "{field}" of the {owner} must be an Array of Arrays')
    if sum(len(row) for row in rows) > MAX_BUTTONS:
        raise ApiError.bad_request("reply markup is too long")
    return rows


def check_markup(value: Any, *, inline_only: bool = False) -> JSON | None:
    """Validate ``reply_markup``; returns it, or None for absent/empty inline keyboards."""
    if value is None or value == "":
        return None
    if not isinstance(value, dict):
        raise ApiError.bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in value:
        rows = _rows(value, "inline_keyboard", "InlineKeyboardMarkup")
        for row in rows:
            for button in row:
                _check_inline_button(button)
        return value if any(rows) else None  # an empty inline keyboard is no keyboard
    if inline_only:
        raise ApiError.bad_request("inline keyboard expected")
    if "keyboard" in value:
        for row in _rows(value, "keyboard", "ReplyKeyboardMarkup"):
            for button in row:
                text = button.get("text") if isinstance(button, dict) else button
                if not isinstance(text, str) or not text:
                    raise ApiError.bad_request(
                        'can\'t parse keyboard button: Field "text" must be of type String'
                    )
        return value
    if value.get("remove_keyboard") is True or value.get("force_reply") is True:
        return value
    raise ApiError.bad_request("can't parse reply keyboard markup JSON object")


def command_entities(text: str) -> list[JSON]:
    """bot_command entities as Telegram attaches them to incoming user messages."""
    return [
        {
            "type": "bot_command",
            "offset": utf16_len(text[: m.start()]),
            "length": utf16_len(m.group()),
        }
        for m in _COMMAND_RE.finditer(text)
    ]
