"""The one exception cleaning raises."""

from __future__ import annotations


class Unreadable(Exception):
    """The file could not be parsed as the kind it was taken for: damaged, cut short,
    encrypted, or too large once unpacked (a decompression bomb). The message names the
    kind only, never anything from the file."""

    def __init__(self, kind: str, reason: str = "damaged or not what it claims to be") -> None:
        super().__init__(f"the {kind} file cannot be read: {reason}")
        self.kind = kind
