"""Files as Telegram keeps them: stored once, named by file_id, described by getFile.

Both sides share one store: a user's photo and the bot's upload are the same kind of thing,
and the bot may send any file it has seen again by its file_id. Photos come in several sizes,
each its own file; they are re-encoded thumbnails of the original (with Pillow, when the
bytes are an image), while the largest size keeps the bytes as sent, so a test can compare
what the bot downloaded with what the user sent. Telegram recompresses that one too.
"""

from __future__ import annotations

import copy
import io
import mimetypes
import random
from pathlib import PurePosixPath
from typing import Any

from .models import JSON, ApiError, StoredFile, Upload

MEBIBYTE = 1024 * 1024
# Telegram's cloud Bot API: bots download at most 20 MB (getFile answers "file is too big"),
# upload at most 50 MB (the request is refused with 413), and photos at most 10 MB.
DEFAULT_MAX_DOWNLOAD_BYTES = 20 * MEBIBYTE
DEFAULT_MAX_UPLOAD_BYTES = 50 * MEBIBYTE
MAX_PHOTO_BYTES = 10 * MEBIBYTE
# Bounding boxes of the smaller photo sizes (Telegram's "s", "m", "x" and "y" sizes).
PHOTO_BOXES = (90, 320, 800, 1280)
# A photo whose bytes are no image still gets two sizes, with these nominal dimensions.
NOMINAL_PHOTO_SIZES = ((90, 68), (800, 600))

# TDLib's names of file types, as its errors use them.
TYPE_NAMES = {
    "photo": "Photo",
    "document": "Document",
    "voice": "VoiceNote",
    "audio": "Audio",
    "video": "Video",
    "video_note": "VideoNote",
    "sticker": "Sticker",
    "animation": "Animation",
}
# How "there is no ... in the request" names each file parameter.
PARAM_WORDS = {"video_note": "video note"}
_FOLDERS = {
    "photo": "photos",
    "document": "documents",
    "voice": "voice",
    "audio": "music",
    "video": "videos",
    "video_note": "video_notes",
    "sticker": "stickers",
    "animation": "animations",
}
_EXTENSIONS = {
    "photo": "jpg",
    "voice": "oga",
    "audio": "mp3",
    "video": "mp4",
    "video_note": "mp4",
    "sticker": "webp",
    "animation": "mp4",
}
# Real file_ids start with a type tag; tests reading logs can tell them apart the same way.
_ID_PREFIXES = {
    "photo": "AgACAgIAAxkBAAI",
    "document": "BQACAgIAAxkBAAI",
    "voice": "AwACAgIAAxkBAAI",
    "audio": "CQACAgIAAxkBAAI",
    "video": "BAACAgIAAxkBAAI",
    "video_note": "DQACAgIAAxkBAAI",
    "sticker": "CAACAgIAAxkBAAI",
    "animation": "CgACAgIAAxkBAAI",
}
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def clean_file_name(name: str | None) -> str | None:
    """The last path segment: Telegram never keeps the sender's directories."""
    if not name:
        return None
    return PurePosixPath(name.replace("\\", "/")).name or None


def guess_mime_type(file_name: str | None, default: str = "application/octet-stream") -> str:
    """Telegram derives a file's MIME type from its name's extension."""
    guessed = mimetypes.guess_type(file_name, strict=False)[0] if file_name else None
    return guessed or default


def has_pillow() -> bool:
    """Pillow reads and re-encodes images; without it photos are kept as they come."""
    try:
        import PIL.Image  # noqa: F401
    except ImportError:  # pragma: no cover - Pillow is a test dependency
        return False
    return True


def image_size(content: bytes) -> tuple[int, int] | None:
    """Width and height if ``content`` is an image Pillow can decode (None without Pillow)."""
    if not has_pillow():  # pragma: no cover
        return None
    from PIL import Image

    try:
        with Image.open(io.BytesIO(content)) as image:
            image.load()  # decodes it all: a truncated or damaged image fails here
            return int(image.width), int(image.height)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None


def _thumbnail(content: bytes, box: int) -> tuple[int, int, bytes]:
    """The image scaled to fit ``box`` x ``box``, as JPEG (Telegram's photo format)."""
    from PIL import Image

    with Image.open(io.BytesIO(content)) as image:
        small = image.convert("RGB")
        small.thumbnail((box, box))
        out = io.BytesIO()
        small.save(out, format="JPEG", quality=80)
        return int(small.width), int(small.height), out.getvalue()


def placeholder_photo(rng: random.Random, width: int = 800, height: int = 600) -> bytes:
    """A JPEG to send when a test doesn't care what the photo shows (random bytes without
    Pillow)."""
    if not has_pillow():  # pragma: no cover
        return rng.randbytes(60_000)
    from PIL import Image

    color = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, format="JPEG", quality=85)
    return out.getvalue()


class FileStore:
    """Every file users and the bot have sent, by file_id and by download path."""

    def __init__(self, rng: random.Random, max_download_bytes: int) -> None:
        self.rng = rng
        self.max_download_bytes = max_download_bytes
        self.files: dict[str, StoredFile] = {}
        self._paths: dict[str, StoredFile] = {}
        self._unique_ids: set[str] = set()

    # ------------------------------------------------------------------------ storing
    def add(self, kind: str, content: bytes, extension: str | None = None) -> StoredFile:
        """Store ``content`` under a new file_id, file_unique_id and file_path."""
        while True:
            file_id = _ID_PREFIXES.get(kind, "BQACAgIAAxkBAAI") + self._random(56)
            unique = ("AQAD" if kind == "photo" else "AgAD") + self._random(12)
            if file_id not in self.files and unique not in self._unique_ids:
                break
        extension = extension if extension is not None else _EXTENSIONS.get(kind, "")
        path = f"{_FOLDERS.get(kind, 'documents')}/file_{len(self.files)}"
        path += f".{extension}" if extension else ""
        stored = StoredFile(file_id, unique, kind, content, path)
        self.files[file_id] = stored
        self._unique_ids.add(unique)
        self._paths[path] = stored
        return stored

    def _random(self, length: int) -> str:
        return "".join(self.rng.choice(_ALPHABET) for _ in range(length))

    def new_photo(self, content: bytes) -> list[JSON]:
        """PhotoSize objects for one photo, smallest first; the largest keeps ``content``."""
        size = image_size(content)
        if size is None:
            sizes = [(w, h, content) for w, h in NOMINAL_PHOTO_SIZES]
        else:
            longest = max(size)
            sizes = [_thumbnail(content, box) for box in PHOTO_BOXES if box < longest]
            sizes.append((size[0], size[1], content))
        photo: list[JSON] = []
        for width, height, data in sizes:
            stored = self.add("photo", data)
            photo.append({**self.describe(stored), "width": width, "height": height})
        for entry in photo:
            self.files[entry["file_id"]].media = photo
        return copy.deepcopy(photo)

    def new_file(
        self,
        kind: str,
        content: bytes,
        *,
        file_name: str | None = None,
        mime_type: str | None = None,
        **fields: Any,
    ) -> JSON:
        """The object a message shows for a new non-photo file (Document, Voice, Audio, ...).

        ``fields`` are the kind's own (duration, width, height, length, title, ...); None
        values are left out, as Telegram leaves out absent optional fields.
        """
        file_name = clean_file_name(file_name)
        extension = PurePosixPath(file_name).suffix.lstrip(".") if file_name else None
        stored = self.add(kind, content, extension or None)
        media: JSON = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id}
        media.update({key: value for key, value in fields.items() if value is not None})
        if file_name is not None:
            media["file_name"] = file_name
        if mime_type is not None:
            media["mime_type"] = mime_type
        media["file_size"] = stored.size
        stored.media = media
        return copy.deepcopy(media)

    @staticmethod
    def describe(stored: StoredFile) -> JSON:
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
        }

    # ----------------------------------------------------------------------- reading
    def get(self, file_id: str) -> StoredFile | None:
        return self.files.get(file_id)

    def main_file(self, media: Any) -> StoredFile:
        """The file a message's media object stands for (a photo's largest size)."""
        entry = media[-1] if isinstance(media, list) else media
        return self.files[str(entry["file_id"])]

    def reuse(self, file_id: str, kind: str) -> Any:
        """The media object for sending a known file again, as sendX with a file_id does."""
        stored = self.files.get(file_id)
        if stored is None:
            raise ApiError.bad_request("wrong file identifier/HTTP URL specified")
        if stored.kind != kind:
            raise ApiError.bad_request(
                f"can't use file of type {TYPE_NAMES.get(stored.kind, stored.kind)} "
                f"as {TYPE_NAMES.get(kind, kind)}"
            )
        return copy.deepcopy(stored.media)

    def file_for_bot(self, file_id: str) -> JSON:
        """getFile: the File object, and from now on a download path for it."""
        stored = self.files.get(file_id)
        if stored is None:
            raise ApiError.bad_request("invalid file_id")
        if stored.size > self.max_download_bytes:
            raise ApiError.bad_request("file is too big")
        stored.path_issued = True
        return {**self.describe(stored), "file_path": stored.file_path}

    def download(self, path: str) -> StoredFile | None:
        """The file at a path getFile handed out (None for paths never handed out)."""
        stored = self._paths.get(path)
        return stored if stored is not None and stored.path_issued else None


def check_upload(upload: Upload, kind: str) -> None:
    """Refuse uploads Telegram refuses before sending anything."""
    if upload.size == 0:
        raise ApiError.bad_request("file must be non-empty")
    if kind == "photo":
        if upload.size > MAX_PHOTO_BYTES:
            raise ApiError.bad_request(
                f"file of size {upload.size} bytes is too big for a photo; "
                f"the maximum size is {MAX_PHOTO_BYTES} bytes"
            )
        if has_pillow() and image_size(upload.content) is None:
            raise ApiError.bad_request("IMAGE_PROCESS_FAILED")


__all__ = [
    "DEFAULT_MAX_DOWNLOAD_BYTES",
    "DEFAULT_MAX_UPLOAD_BYTES",
    "FileStore",
    "check_upload",
    "clean_file_name",
    "guess_mime_type",
    "placeholder_photo",
]
