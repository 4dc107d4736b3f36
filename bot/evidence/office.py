"""Word, Excel and PowerPoint files (Office Open XML: a zip of XML parts): the document's
properties are replaced by empty ones and every other part is copied unchanged.

Replaced: the core properties (creator, last modified by, dates, title, keywords ...), the
extended ones (company, manager, template, application, editing time ...) and the custom
ones (which hold, among others, the organisation's sensitivity labels), found where the
package's relationships say, or at their usual place (docProps/). The zip is rewritten
without timestamps, comments or extra fields. Not removed: what is in the content itself
(comments and tracked changes with their authors' names; pictures pasted into the
document, which keep their own EXIF, GPS included: they are parts copied unchanged).

A zip bomb is refused: at most `MAX_MEMBERS` parts and `MAX_UNPACKED` bytes unpacked.
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
from typing import Final

from bot.evidence.errors import Unreadable

MAX_MEMBERS: Final = 10_000
MAX_UNPACKED: Final = 256 * 1024 * 1024
_COPY_PIECE: Final = 1024 * 1024
_RELS: Final = "_rels/.rels"
_RELS_MAX: Final = 1024 * 1024
_EPOCH: Final = (1980, 1, 1, 0, 0, 0)  # the zip format's first moment: no real date

_DECLARATION: Final = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_OPENXML: Final = "http://schemas.openxmlformats.org"
_CORE: Final = (
    _DECLARATION
    + (
        f'<cp:coreProperties xmlns:cp="{_OPENXML}/package/2006/metadata/core-properties"'
        ' xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/"'
        ' xmlns:dcmitype="http://purl.org/dc/dcmitype/"'
        ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/>'
    ).encode()
)
_APP: Final = (
    _DECLARATION
    + (
        f'<Properties xmlns="{_OPENXML}/officeDocument/2006/extended-properties"'
        f' xmlns:vt="{_OPENXML}/officeDocument/2006/docPropsVTypes"/>'
    ).encode()
)
_CUSTOM: Final = (
    _DECLARATION
    + (
        f'<Properties xmlns="{_OPENXML}/officeDocument/2006/custom-properties"'
        f' xmlns:vt="{_OPENXML}/officeDocument/2006/docPropsVTypes"/>'
    ).encode()
)

# Relationship types end like this in both the transitional and the strict vocabulary.
_EMPTY_BY_TYPE: Final = (
    ("/core-properties", _CORE),
    ("/extended-properties", _APP),
    ("/extendedProperties", _APP),
    ("/custom-properties", _CUSTOM),
    ("/customProperties", _CUSTOM),
)
# Part names are compared without case, as the packaging standard does.
_USUAL_PLACES: Final = {
    "docProps/core.xml": _CORE,
    "docProps/app.xml": _APP,
    "docProps/custom.xml": _CUSTOM,
}
_RELATIONSHIP = re.compile(rb"<(?:[\w.-]+:)?Relationship\b([^>]*)>")
_ATTRIBUTE = re.compile(rb"""([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")


def clean_office(data: bytes, kind: str = "office") -> bytes:
    """The document with empty properties. Unreadable if it is not a readable zip, has
    encrypted or duplicate parts, or unpacks to too much."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
            _check(members, kind)
            replaced = _property_parts(archive)
            out = io.BytesIO()
            with zipfile.ZipFile(out, "w") as rewritten:
                unpacked = 0
                for member in members:
                    unpacked = _copy(archive, rewritten, member, replaced, unpacked, kind)
            return out.getvalue()
    except Unreadable:
        raise
    except Exception:
        raise Unreadable(kind) from None


def _check(members: list[zipfile.ZipInfo], kind: str) -> None:
    if len(members) > MAX_MEMBERS:
        raise Unreadable(kind, "too many parts")
    if sum(m.file_size for m in members) > MAX_UNPACKED:
        raise Unreadable(kind, "too large once unpacked")
    names = [m.filename.lower() for m in members]
    if len(set(names)) != len(names):
        raise Unreadable(kind, "two parts have one name")
    if any(m.flag_bits & 0x1 for m in members):
        raise Unreadable(kind, "it is encrypted")


def _property_parts(archive: zipfile.ZipFile) -> dict[str, bytes]:
    """Part name (lower case) -> its empty replacement: the usual places, and wherever
    the package's relationships put the properties."""
    parts = {name.lower(): empty for name, empty in _USUAL_PLACES.items()}
    try:
        info = archive.getinfo(_RELS)
    except KeyError:
        return parts
    if info.file_size > _RELS_MAX:
        return parts
    with archive.open(info) as member:
        rels = member.read(_RELS_MAX + 1)
    for match in _RELATIONSHIP.finditer(rels):
        attributes = {
            name.split(b":")[-1]: (double or single)
            for name, double, single in _ATTRIBUTE.findall(match.group(1))
        }
        kind = attributes.get(b"Type", b"").decode("utf-8", "replace")
        target = attributes.get(b"Target", b"").decode("utf-8", "replace")
        if not target or attributes.get(b"TargetMode") == b"External":
            continue
        for suffix, empty in _EMPTY_BY_TYPE:
            if kind.endswith(suffix):
                name = posixpath.normpath(target.replace("\\", "/")).lstrip("/")
                parts[name.lower()] = empty
    return parts


def _copy(
    archive: zipfile.ZipFile,
    rewritten: zipfile.ZipFile,
    member: zipfile.ZipInfo,
    replaced: dict[str, bytes],
    unpacked: int,
    kind: str,
) -> int:
    """Write one part (its replacement, or its bytes as they are) and return how many
    bytes were unpacked so far."""
    clean = zipfile.ZipInfo(member.filename, date_time=_EPOCH)
    clean.compress_type = (
        zipfile.ZIP_STORED if member.compress_type == zipfile.ZIP_STORED else zipfile.ZIP_DEFLATED
    )
    if member.is_dir():
        rewritten.writestr(clean, b"")
        return unpacked
    empty = replaced.get(member.filename.lower())
    if empty is not None:
        rewritten.writestr(clean, empty)
        return unpacked
    with archive.open(member) as source, rewritten.open(clean, "w") as target:
        while piece := source.read(_COPY_PIECE):
            unpacked += len(piece)
            if unpacked > MAX_UNPACKED:
                raise Unreadable(kind, "too large once unpacked")
            target.write(piece)
    return unpacked
