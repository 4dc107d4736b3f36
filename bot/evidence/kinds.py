"""What a file is, as far as cleaning goes: its kind, the type and extension it is stored
and sent under, and whether its metadata can be removed."""

from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    JPEG = "jpeg"
    PNG = "png"
    WEBP = "webp"
    HEIC = "heic"
    PDF = "pdf"
    DOCX = "docx"
    XLSX = "xlsx"
    PPTX = "pptx"
    OGG = "ogg"
    MP3 = "mp3"
    MP4 = "mp4"
    MOV = "mov"
    M4A = "m4a"
    OTHER = "other"

    @property
    def mime(self) -> str:
        return _MIME[self]

    @property
    def extension(self) -> str:
        """Without the dot: "jpg", "pdf" ..."""
        return _EXTENSION.get(self, self.value)

    @property
    def cleanable(self) -> bool:
        """Whether `clean` removes this kind's metadata (otherwise it returns the bytes as
        they are, and the reporter is asked before they are stored)."""
        return self in _CLEANABLE

    @property
    def image(self) -> bool:
        return self in _IMAGES

    @property
    def office(self) -> bool:
        return self in _OFFICE


_IMAGES = frozenset({Kind.JPEG, Kind.PNG, Kind.WEBP, Kind.HEIC})
_OFFICE = frozenset({Kind.DOCX, Kind.XLSX, Kind.PPTX})
_CLEANABLE = _IMAGES | _OFFICE | {Kind.PDF}

_OPENXML = "application/vnd.openxmlformats-officedocument"
_MIME = {
    Kind.JPEG: "image/jpeg",
    Kind.PNG: "image/png",
    Kind.WEBP: "image/webp",
    Kind.HEIC: "image/heic",
    Kind.PDF: "application/pdf",
    Kind.DOCX: f"{_OPENXML}.wordprocessingml.document",
    Kind.XLSX: f"{_OPENXML}.spreadsheetml.sheet",
    Kind.PPTX: f"{_OPENXML}.presentationml.presentation",
    Kind.OGG: "audio/ogg",
    Kind.MP3: "audio/mpeg",
    Kind.MP4: "video/mp4",
    Kind.MOV: "video/quicktime",
    Kind.M4A: "audio/mp4",
    Kind.OTHER: "application/octet-stream",
}
_EXTENSION = {Kind.JPEG: "jpg", Kind.OTHER: "bin"}
