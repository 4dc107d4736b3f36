"""PDF: the document information dictionary (Author, Creator, Producer, Title, dates ...)
and every XMP metadata stream (the document's, and those of pages, images and fonts) are
removed, with applications' private data (/PieceInfo), and the file is written anew: the
older revisions an incremental save leaves behind go with it, and the file identifier is
computed from the new content instead of kept.

Not removed: what is in the content itself (text, annotations and their authors, form
fields, attached files and their own metadata, and the EXIF a JPEG picture placed in the
page may still carry inside its image stream). Streams are copied as they are, never
decompressed, so a compressed bomb is never unpacked.
"""

from __future__ import annotations

import io
from typing import Final

import pikepdf

from bot.evidence.errors import Unreadable

_PRIVATE: Final = (pikepdf.Name.Metadata, pikepdf.Name.PieceInfo)
_MAX_DEPTH: Final = 64  # direct objects nested in one another


def clean_pdf(data: bytes) -> bytes:
    """The PDF without its metadata. Unreadable if it cannot be parsed, has no page, or is
    encrypted with a password."""
    try:
        with pikepdf.open(io.BytesIO(data)) as pdf:
            if len(pdf.pages) == 0:
                raise Unreadable("pdf", "it has no page")
            del pdf.docinfo  # the trailer's /Info
            for item in pdf.objects:
                _scrub(item, 0)
            out = io.BytesIO()
            pdf.save(
                out,
                fix_metadata_version=False,  # never write an XMP stream back
                stream_decode_level=pikepdf.StreamDecodeLevel.none,
                deterministic_id=True,
            )
            return out.getvalue()
    except Unreadable:
        raise
    except pikepdf.PasswordError:
        raise Unreadable("pdf", "it is protected by a password") from None
    except Exception:
        raise Unreadable("pdf") from None


def _scrub(item: pikepdf.Object, depth: int) -> None:
    """Remove the metadata keys from an object and the direct objects inside it (indirect
    ones are visited on their own, from `Pdf.objects`)."""
    if depth > _MAX_DEPTH:
        raise Unreadable("pdf", "it is nested too deeply")
    if isinstance(item, pikepdf.Dictionary | pikepdf.Stream):
        for name in _PRIVATE:
            if name in item:
                del item[name]
        children = list(item.values())
    elif isinstance(item, pikepdf.Array):
        children = list(item)
    else:
        return
    for child in children:
        if isinstance(child, pikepdf.Dictionary | pikepdf.Array) and not child.is_indirect:
            _scrub(child, depth + 1)
