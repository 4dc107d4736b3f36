"""Telegram's update objects as data: whose chat an update belongs to, and what of it is
kept while it waits to be handled (nobody's name)."""

from __future__ import annotations

from typing import Any

# Fields that name a person or a group; the bot never needs them to handle an update.
# Those Telegram always sends are kept, empty, so that the update still parses.
_NAMES = frozenset({"first_name", "title"})
_OPTIONAL_NAMES = frozenset({"last_name", "username", "is_premium"})


def without_names(data: Any) -> Any:
    """A copy of an update (or any part of one) without people's and chats' names."""
    if isinstance(data, dict):
        return {
            k: "" if k in _NAMES else without_names(v)
            for k, v in data.items()
            if k not in _OPTIONAL_NAMES
        }
    if isinstance(data, list):
        return [without_names(v) for v in data]
    return data


def chat_of(data: dict[str, Any]) -> int | None:
    """The chat an update belongs to (its updates are handled in order), if any."""
    for kind in ("message", "edited_message", "channel_post", "edited_channel_post"):
        if isinstance(data.get(kind), dict):
            return _id(data[kind].get("chat"))
    query = data.get("callback_query")
    if isinstance(query, dict):
        message = query.get("message")
        if isinstance(message, dict):
            return _id(message.get("chat"))
        return _id(query.get("from"))
    return None


def _id(part: Any) -> int | None:
    value = part.get("id") if isinstance(part, dict) else None
    return value if isinstance(value, int) else None
