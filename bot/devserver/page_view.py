"""How the emulator's chats are shown on the demo page: each message as JSON whose `html`
is built from Telegram's entities with every character of text escaped (only a fixed set of
tags is ever produced), and the command menu a chat's "/" button offers."""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from datetime import UTC, datetime

from .models import JSON, BotMessage, StoredMessage
from .server import BotApiEmulator

LINK_SCHEMES = ("http://", "https://", "tg://", "mailto:")


# Entity type -> (opening tag, closing tag). Everything else (mentions, commands, ...) is
# shown as plain text. Only these fixed tags ever reach the page: all text is escaped.
_TAGS = {
    "bold": ("<b>", "</b>"),
    "italic": ("<i>", "</i>"),
    "underline": ("<u>", "</u>"),
    "strikethrough": ("<s>", "</s>"),
    "spoiler": ('<tg-spoiler tabindex="0">', "</tg-spoiler>"),
    "code": ("<code>", "</code>"),
    "pre": ("<pre>", "</pre>"),
    "blockquote": ("<blockquote>", "</blockquote>"),
    "expandable_blockquote": ("<blockquote>", "</blockquote>"),
}


def _link(entity: JSON, units: bytes) -> tuple[str, str] | None:
    """An <a> for text_link and url entities, if the target is a harmless scheme."""
    if entity.get("type") == "text_link":
        url = str(entity.get("url") or "")
    elif entity.get("type") == "url":
        start, length = int(entity["offset"]), int(entity["length"])
        url = units[2 * start : 2 * (start + length)].decode("utf-16-le", "replace")
        url = url if "://" in url else f"https://{url}"
    else:
        return None
    if not url.lower().startswith(LINK_SCHEMES):
        return None
    href = html.escape(url, quote=True)
    return f'<a href="{href}" target="_blank" rel="noopener noreferrer">', "</a>"


def entities_to_html(text: str, entities: Sequence[JSON]) -> str:
    """Telegram text + entities (UTF-16 offsets) as HTML with the text escaped.

    Entities nest (the Bot API sends them sorted, outer first); an entity overlapping its
    parent's end is cut there, so the markup is always well formed."""
    units = text.encode("utf-16-le")
    size = len(units) // 2

    def plain(start: int, end: int) -> str:
        return html.escape(units[2 * start : 2 * end].decode("utf-16-le", "replace"))

    out: list[str] = []
    stack: list[tuple[int, str]] = []  # (end offset, closing tag) of open entities
    pos = 0

    def close_until(offset: int) -> None:
        nonlocal pos
        while stack and stack[-1][0] <= offset:
            end, closing = stack.pop()
            out.append(plain(pos, end) + closing)
            pos = end

    valid = [e for e in entities if isinstance(e.get("offset"), int) and e.get("length")]
    for entity in sorted(valid, key=lambda e: (int(e["offset"]), -int(e["length"]))):
        start = min(max(int(entity["offset"]), pos), size)
        end = min(int(entity["offset"]) + int(entity["length"]), size)
        close_until(start)
        if stack:
            end = min(end, stack[-1][0])
        tags = _TAGS.get(str(entity.get("type"))) or _link(entity, units)
        if tags is None or end <= start:
            continue
        out.append(plain(pos, start) + tags[0])
        pos = start
        stack.append((end, tags[1]))
    close_until(size)
    out.append(plain(pos, size))
    return "".join(out)


def _file_info(message: BotMessage, stored: StoredMessage) -> JSON | None:
    if stored.file is None:
        return None
    url = f"/api/files/{stored.file.file_id}"
    thumbnail = None
    if message.kind == "photo":
        # A size a phone column shows sharply, not the full original.
        sizes = [s for s in message.raw.get("photo", []) if int(s.get("width", 0)) <= 800]
        thumbnail = f"/api/files/{(sizes or message.raw['photo'])[-1]['file_id']}"
    return {
        "kind": message.kind,
        "name": message.file_name,
        "mime_type": message.mime_type,
        "size": stored.file.size,
        "url": url,
        "thumbnail_url": thumbnail,
    }


def _buttons(message: BotMessage) -> list[list[JSON]]:
    rows = (message.raw.get("reply_markup") or {}).get("inline_keyboard") or []
    shown: list[list[JSON]] = []
    for row in rows:
        buttons = []
        for button in row:
            url = button.get("url")
            link = str(url) if isinstance(url, str) and url.startswith(LINK_SCHEMES) else None
            data = button.get("callback_data")
            buttons.append(
                {
                    "text": str(button.get("text", "")),
                    "data": None if data is None else str(data),
                    "url": link,
                }
            )
        shown.append(buttons)
    return shown


def message_json(stored: StoredMessage) -> JSON:
    """One message as the page shows it. ``html`` is safe to insert; ``text`` is plain."""
    message = BotMessage.of(stored)
    return {
        "message_id": message.message_id,
        "from": "bot" if message.from_bot else "user",
        "date": datetime.fromtimestamp(int(message.raw.get("date", 0)), UTC).isoformat(),
        "text": message.text,
        "entities": message.entities,
        "html": entities_to_html(message.text, message.entities),
        "kind": message.kind,
        "edited": message.edited,
        "buttons": _buttons(message),
        "file": _file_info(message, stored),
    }


def command_menu(emulator: BotApiEmulator, chat_id: int, language: str) -> list[JSON]:
    """The commands a private chat's menu shows, searched in Telegram's documented order:
    chat scope, all private chats, default; each for the user's language (an IETF tag such as
    zh-hans, then its first part: commands are set for two-letter codes), then for all."""
    scopes: list[JSON] = [
        {"type": "chat", "chat_id": chat_id},
        {"type": "all_private_chats"},
        {"type": "default"},
    ]
    for scope in scopes:
        for lang in dict.fromkeys((language, language.split("-")[0], "")):
            commands = emulator.commands.get((json.dumps(scope, sort_keys=True), lang))
            if commands:
                return [
                    {"command": str(c["command"]), "description": str(c["description"])}
                    for c in commands
                ]
    return []
