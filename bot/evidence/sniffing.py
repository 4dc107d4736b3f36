"""What a file is, from its first bytes: a name or a declared type is only believed for
kinds that are kept as they are anyway (sound and video), never to pick a cleaner."""

from __future__ import annotations

import io
import posixpath
import zipfile
from typing import Final

from bot.evidence.kinds import Kind

_JPEG: Final = b"\xff\xd8\xff"
_PNG: Final = b"\x89PNG\r\n\x1a\n"
_PDF: Final = b"%PDF-"
_PDF_WINDOW: Final = 1024  # readers accept a PDF header after some leading junk
_ZIP: Final = b"PK\x03\x04"

# ISO base media (HEIF, MP4, QuickTime): the `ftyp` box's brands.
_HEIC_BRANDS: Final = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis"})
_HEIF_GENERIC: Final = frozenset({b"mif1", b"msf1"})
_AUDIO_BRANDS: Final = frozenset({b"M4A ", b"M4B ", b"M4P ", b"F4A "})
_MP4_BRANDS: Final = (b"iso", b"mp4", b"mp7", b"avc1", b"M4V", b"3g", b"dash", b"MSNV", b"f4v")
# QuickTime files written before `ftyp` existed start with one of these atoms.
_QUICKTIME_ATOMS: Final = frozenset({b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"})
_FTYP_MAX: Final = 4096

# Office Open XML: the main part's content type in [Content_Types].xml. Templates, macro-
# enabled files and slide shows have others: they are not what their extension would be.
_OPENXML: Final = b"application/vnd.openxmlformats-officedocument."
_OFFICE_MAIN: Final = (
    (_OPENXML + b"wordprocessingml.document.main+xml", Kind.DOCX),
    (_OPENXML + b"spreadsheetml.sheet.main+xml", Kind.XLSX),
    (_OPENXML + b"presentationml.presentation.main+xml", Kind.PPTX),
)
_CONTENT_TYPES: Final = "[Content_Types].xml"
_CONTENT_TYPES_MAX: Final = 1024 * 1024

_DECLARED_MIME: Final = {
    "audio/ogg": Kind.OGG,
    "audio/opus": Kind.OGG,
    "audio/mpeg": Kind.MP3,
    "audio/mp3": Kind.MP3,
    "video/mp4": Kind.MP4,
    "video/quicktime": Kind.MOV,
    "audio/mp4": Kind.M4A,
    "audio/x-m4a": Kind.M4A,
}
_DECLARED_EXTENSION: Final = {
    "ogg": Kind.OGG,
    "oga": Kind.OGG,
    "opus": Kind.OGG,
    "mp3": Kind.MP3,
    "mp4": Kind.MP4,
    "m4v": Kind.MP4,
    "mov": Kind.MOV,
    "m4a": Kind.M4A,
}


def sniff(data: bytes, declared_mime: str | None, file_name: str | None) -> Kind:
    """The file's kind by its magic bytes. When they say nothing, the declared type or the
    name's extension may name a sound or video kind (stored unchanged anyway); anything
    else is `Kind.OTHER`. Never raises on any input."""
    head = bytes(data[:64])
    if head.startswith(_JPEG):
        return Kind.JPEG
    if head.startswith(_PNG):
        return Kind.PNG
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return Kind.WEBP
    if head[4:8] == b"ftyp":
        return _iso_media(bytes(data[:_FTYP_MAX]))
    if head[4:8] in _QUICKTIME_ATOMS:
        return Kind.MOV
    if _is_pdf(data):
        return Kind.PDF
    if head.startswith(_ZIP):
        return _office(data)
    if head.startswith(b"OggS"):
        return Kind.OGG
    if head.startswith(b"ID3") or _mpeg_audio_frame(head):
        return Kind.MP3
    return _declared(declared_mime, file_name)


def _iso_media(head: bytes) -> Kind:
    size = int.from_bytes(head[:4], "big")
    major = head[8:12]
    end = min(size, len(head)) if size >= 16 else 16
    compatible = {head[i : i + 4] for i in range(16, end - 3, 4)}
    if major in _HEIC_BRANDS:
        return Kind.HEIC
    if major in _HEIF_GENERIC and compatible & _HEIC_BRANDS:
        return Kind.HEIC  # a generic HEIF whose images are HEVC coded
    if major == b"qt  ":
        return Kind.MOV
    if major in _AUDIO_BRANDS:
        return Kind.M4A
    if any(brand.startswith(_MP4_BRANDS) for brand in (major, *compatible)):
        return Kind.MP4
    return Kind.OTHER  # AVIF, camera raw files, JPEG 2000 ...


def _is_pdf(data: bytes) -> bool:
    """A PDF starts with its header; readers also accept some junk before it, and then
    the file must still end like a PDF."""
    if data[: len(_PDF)] == _PDF:
        return True
    return _PDF in bytes(data[:_PDF_WINDOW]) and b"%%EOF" in bytes(data[-_PDF_WINDOW:])


def _mpeg_audio_frame(head: bytes) -> bool:
    """An MPEG audio frame header: 11 sync bits, then a version, a layer and a bit rate
    that are not the reserved or forbidden values."""
    if len(head) < 3 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False
    version = (head[1] >> 3) & 0x03
    layer = (head[1] >> 1) & 0x03
    bitrate = head[2] >> 4
    return version != 0x01 and layer != 0x00 and bitrate != 0x0F


def _office(data: bytes) -> Kind:
    """A zip is a Word, Excel or PowerPoint file by its main part's declared type."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            info = archive.getinfo(_CONTENT_TYPES)
            if info.file_size > _CONTENT_TYPES_MAX:
                return Kind.OTHER
            with archive.open(info) as member:
                types = member.read(_CONTENT_TYPES_MAX + 1)
    except Exception:  # a damaged or unusual zip is just not an Office file
        return Kind.OTHER
    for content_type, kind in _OFFICE_MAIN:
        if content_type in types:
            return kind
    return Kind.OTHER


def _declared(declared_mime: str | None, file_name: str | None) -> Kind:
    if declared_mime:
        kind = _DECLARED_MIME.get(declared_mime.split(";", 1)[0].strip().lower())
        if kind is not None:
            return kind
    if file_name:
        extension = posixpath.splitext(file_name.replace("\\", "/"))[1].lstrip(".").lower()
        return _DECLARED_EXTENSION.get(extension, Kind.OTHER)
    return Kind.OTHER
