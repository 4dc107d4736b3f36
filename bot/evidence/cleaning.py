"""Removing what a file says about who made it, before it is stored as evidence.

`sniff` tells what a file is by its first bytes; `clean` returns it without its metadata
(images encoded again from their pixels, PDFs without their information dictionary and
XMP, Office files with empty properties), or, for kinds it cannot clean (video, sound,
anything unknown), unchanged and marked `cleanable=False`: the caller asks the reporter
before storing such a file. What each cleaner leaves (what people wrote into the content,
pictures placed inside documents) is said in its module: `images`, `pdf`, `office`.

Everything happens on bytes in memory: no temporary file, nothing written to disk. A file
that cannot be parsed raises `Unreadable`, and nothing else, whatever is in it.

These functions are CPU-bound (decoding and encoding images can take a second): call them
in a worker thread (`await asyncio.to_thread(clean, data, kind)`), never on the event loop.
They are thread-safe: they share no state between calls (the HEIC decoder is registered
with Pillow once, at import).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from bot.evidence.errors import Unreadable
from bot.evidence.images import clean_image
from bot.evidence.kinds import Kind
from bot.evidence.office import clean_office
from bot.evidence.pdf import clean_pdf
from bot.evidence.sniffing import sniff

__all__ = ["Cleaned", "Kind", "Unreadable", "clean", "sniff"]


@dataclass(frozen=True, slots=True)
class Cleaned:
    """A file ready to be sealed: its bytes (cleaned, if `cleanable`), the kind they are
    (a HEIC comes back as a JPEG), and the type and extension to store and send it as."""

    data: bytes = field(repr=False)  # never in a log line
    kind: Kind
    cleanable: bool

    @property
    def cleaned(self) -> bool:
        """Whether the metadata was removed (the same as `cleanable`)."""
        return self.cleanable

    @property
    def mime(self) -> str:
        return self.kind.mime

    @property
    def extension(self) -> str:
        """Without the dot."""
        return self.kind.extension

    @property
    def size(self) -> int:
        return len(self.data)

    def sha256(self) -> str:
        """The hex SHA-256 of the bytes, for the file's sealed description."""
        return hashlib.sha256(self.data).hexdigest()


def clean(data: bytes, kind: Kind) -> Cleaned:
    """The file without its metadata, or unchanged with `cleanable=False` for a kind that
    cannot be cleaned. Unreadable if a cleanable kind cannot be parsed."""
    if not isinstance(kind, Kind):
        raise TypeError(f"expected a Kind, not {type(kind).__name__}")
    data = data if isinstance(data, bytes) else bytes(data)
    try:
        if kind.image:
            cleaned, kind = clean_image(data, kind)
        elif kind is Kind.PDF:
            cleaned = clean_pdf(data)
        elif kind.office:
            cleaned = clean_office(data, kind.value)
        else:
            return Cleaned(data, kind, cleanable=False)
    except Unreadable:
        raise
    except Exception:  # whatever a parser raises: the promise is Unreadable, nothing else
        raise Unreadable(kind.value) from None
    return Cleaned(cleaned, kind, cleanable=True)
