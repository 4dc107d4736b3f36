"""Telegram's HTML parse mode, re-implemented after tdlib's ``parse_html``.

The emulator must reject exactly the markup Telegram rejects, otherwise tests pass
against the emulator and fail in production. Error reasons reuse tdlib's wording.
One deliberate difference: with ``strict_entities`` (the default) an ``&`` that does
not start ``&lt;``/``&gt;``/``&amp;``/``&quot;``/``&#N;``/``&#xN;`` is an error, while
Telegram silently keeps it as a literal ``&``. Unescaped user input is a real bug
(``&lt;`` typed by a user would be shown as ``<``), so tests should catch it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SUPPORTED_TAGS = frozenset(
    {
        "a", "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span",
        "tg-spoiler", "tg-emoji", "code", "pre", "blockquote",
    }
)  # fmt: skip

_SIMPLE_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
}

_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_SPACE = " \t\n\r\f\v"


class HtmlParseError(ValueError):
    """Markup Telegram would refuse; ``str(exc)`` is the reason after "can't parse entities: "."""


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram entity offsets."""
    return len(text.encode("utf-16-le")) // 2


@dataclass
class _Open:
    tag: str
    argument: str
    offset: int  # UTF-16 offset in the output text
    begin: int  # index in the output text (for <a> without href)


@dataclass
class _State:
    src: str
    strict: bool
    out: list[str] = field(default_factory=list)
    out_len: int = 0  # characters appended so far
    utf16: int = 0

    def byte_offset(self, index: int) -> int:
        return len(self.src[:index].encode())

    def emit(self, chars: str) -> None:
        self.out.append(chars)
        self.out_len += len(chars)
        self.utf16 += utf16_len(chars)

    def char(self, i: int) -> str:
        # "" plays the role of tdlib's terminating NUL.
        return self.src[i] if i < len(self.src) else ""


def _is_space(char: str) -> bool:
    # Beware: "" in _SPACE is True, and "" marks the end of input.
    return char != "" and char in _SPACE


def _decode_entity(src: str, pos: int) -> tuple[str, int] | None:
    """Decode an HTML entity at ``src[pos] == '&'`` -> (character, next index)."""
    end = pos + 1
    if src[end : end + 1] == "#":
        end += 1
        hexadecimal = src[end : end + 1] in ("x", "X")
        if hexadecimal:
            end += 1
        digits_start = end
        allowed = "0123456789abcdefABCDEF" if hexadecimal else "0123456789"
        while end < len(src) and src[end] in allowed:
            end += 1
        digits = src[digits_start:end]
        if not digits or end - pos >= 12:
            return None
        code = int(digits, 16 if hexadecimal else 10)
        if code == 0 or code >= 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            return None
        char = chr(code)
    else:
        while end < len(src) and src[end].isascii() and src[end].isalpha():
            end += 1
        named = _NAMED_ENTITIES.get(src[pos + 1 : end])
        if named is None:
            return None
        char = named
    if src[end : end + 1] == ";":
        return char, end + 1
    return char, end


def _entity_error(state: _State, i: int) -> HtmlParseError:
    src = state.src
    end = i + 1
    while end < len(src) and (src[end].isalnum() or src[end] == "#"):
        end += 1
    offset = state.byte_offset(i)
    if src[end : end + 1] == ";" and end > i + 1:
        return HtmlParseError(
            f'Unsupported HTML entity "{src[i : end + 1]}" at byte offset {offset}'
        )
    return HtmlParseError(f'Unescaped "&" at byte offset {offset}; it must be written as "&amp;"')


def _parse_start_tag(state: _State, begin: int, stack: list[_Open]) -> int:
    """Parse ``<tag attr=...>`` starting at ``begin``; returns the index after ``>``."""
    src = state.src
    i = begin + 1
    while not _is_space(state.char(i)) and state.char(i) and state.char(i) != ">":
        i += 1
    if not state.char(i):
        raise HtmlParseError(f"Unclosed start tag at byte offset {state.byte_offset(begin)}")
    tag = src[begin + 1 : i].lower()
    at = f"at byte offset {state.byte_offset(begin)}"
    if tag not in SUPPORTED_TAGS:
        raise HtmlParseError(f'Unsupported start tag "{tag}" {at}')

    argument = ""
    expandable = False
    while state.char(i) != ">":
        while _is_space(state.char(i)):
            i += 1
        if state.char(i) == ">":
            break
        if not state.char(i):
            raise HtmlParseError(f'Unclosed start tag "{tag}" {at}')
        name_start = i
        while not _is_space(state.char(i)) and state.char(i) and state.char(i) not in "=>":
            i += 1
        name = src[name_start:i].lower()
        if not name:
            raise HtmlParseError(f'Empty attribute name in the tag "{tag}" {at}')
        while _is_space(state.char(i)):
            i += 1
        if state.char(i) != "=":
            if tag == "blockquote" and name == "expandable":
                expandable = True
                continue
            raise HtmlParseError(
                f'Expected equal sign in declaration of an attribute of the tag "{tag}" {at}'
            )
        i += 1
        while _is_space(state.char(i)):
            i += 1
        if not state.char(i):
            raise HtmlParseError(f'Unclosed start tag "{tag}" {at}')
        value_chars: list[str] = []
        quote = state.char(i)
        if quote not in ("'", '"'):
            token_start = i
            while state.char(i) and (state.char(i).isalnum() or state.char(i) in ".-"):
                i += 1
            value_chars.append(src[token_start:i].lower())
            if not _is_space(state.char(i)) and state.char(i) != ">":
                raise HtmlParseError(
                    f"Unexpected end of name token at byte offset {state.byte_offset(token_start)}"
                )
        else:
            i += 1
            while state.char(i) and state.char(i) != quote:
                if state.char(i) == "&":
                    decoded = _decode_entity(src, i)
                    if decoded is not None:
                        value_chars.append(decoded[0])
                        i = decoded[1]
                        continue
                value_chars.append(src[i])
                i += 1
            if not state.char(i):
                raise HtmlParseError(f'Unclosed start tag "{tag}" {at}')
            i += 1
        value = "".join(value_chars)
        if tag == "a" and name == "href":
            argument = value
        elif tag == "code" and name == "class" and value.startswith("language-"):
            argument = value[len("language-") :]
        elif tag == "span" and name == "class" and value.startswith("tg-"):
            argument = value[len("tg-") :]
        elif tag == "tg-emoji" and name == "emoji-id":
            argument = value

    if tag == "span" and argument != "spoiler":
        raise HtmlParseError(f'Tag "span" must have class "tg-spoiler" {at}')
    if tag == "tg-emoji" and not argument.isdigit():
        raise HtmlParseError(f'Tag "tg-emoji" must have a numeric "emoji-id" {at}')
    if tag == "blockquote" and expandable:
        argument = "expandable"
    stack.append(_Open(tag, argument, state.utf16, state.out_len))
    return i + 1


def _close_entity(state: _State, opened: _Open, entities: list[dict[str, Any]]) -> None:
    length = state.utf16 - opened.offset
    if length <= 0:
        return  # Telegram drops empty entities silently.
    base: dict[str, Any] = {"offset": opened.offset, "length": length}
    last = entities[-1] if entities else None
    same_span = last is not None and last["offset"] == opened.offset and last["length"] == length
    tag = opened.tag
    if tag in _SIMPLE_TYPES:
        entities.append({"type": _SIMPLE_TYPES[tag], **base})
    elif tag == "a":
        url = opened.argument or "".join(state.out)[opened.begin :]
        if url:
            entities.append({"type": "text_link", **base, "url": url})
    elif tag == "tg-emoji":
        entities.append({"type": "custom_emoji", **base, "custom_emoji_id": opened.argument})
    elif tag == "blockquote":
        kind = "expandable_blockquote" if opened.argument == "expandable" else "blockquote"
        entities.append({"type": kind, **base})
    elif tag == "code":
        if same_span and last is not None and last["type"] == "pre" and opened.argument:
            last["language"] = opened.argument
        else:
            entities.append({"type": "code", **base, "_language": opened.argument})
    elif tag == "pre":
        # <pre><code class="language-x">..</code></pre> is one "pre" entity with a language.
        if same_span and last is not None and last["type"] == "code" and last.get("_language"):
            last["type"] = "pre"
            last["language"] = last.pop("_language")
        else:
            entities.append({"type": "pre", **base})


def parse_html(text: str, *, strict_entities: bool = True) -> tuple[str, list[dict[str, Any]]]:
    """Return (plain text, entities with UTF-16 offsets) or raise :class:`HtmlParseError`."""
    state = _State(text, strict_entities)
    stack: list[_Open] = []
    entities: list[dict[str, Any]] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "&":
            decoded = _decode_entity(text, i)
            if decoded is not None:
                state.emit(decoded[0])
                i = decoded[1]
                continue
            if strict_entities:
                raise _entity_error(state, i)
        if c != "<":
            state.emit(c)
            i += 1
            continue
        if state.char(i + 1) != "/":
            i = _parse_start_tag(state, i, stack)
            continue
        begin = i
        if not stack:
            raise HtmlParseError(f"Unexpected end tag at byte offset {state.byte_offset(begin)}")
        i += 2
        while not _is_space(state.char(i)) and state.char(i) and state.char(i) != ">":
            i += 1
        end_tag = text[begin + 2 : i]
        while _is_space(state.char(i)):
            i += 1
        if state.char(i) != ">":
            raise HtmlParseError(f"Unclosed end tag at byte offset {state.byte_offset(begin)}")
        i += 1
        opened = stack.pop()
        if end_tag and end_tag.lower() != opened.tag:
            raise HtmlParseError(
                f"Unmatched end tag at byte offset {state.byte_offset(begin)}, "
                f'expected "</{opened.tag}>", found "</{end_tag}>"'
            )
        _close_entity(state, opened, entities)
    if stack:
        raise HtmlParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].tag}"')
    for entity in entities:
        entity.pop("_language", None)
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(state.out), entities
