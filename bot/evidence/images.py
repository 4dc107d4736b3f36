"""Images: decoded, turned upright, and encoded again from their pixels alone.

Nothing of the original file is copied but the pixels: no EXIF (camera, GPS position,
dates, serial numbers), no XMP, no IPTC, no comments or text chunks, no ICC profile
(pixels are converted to sRGB first, so colours stay right), no embedded thumbnails, and
JPEG's own quantisation tables (which can tell the camera or the app) are replaced by
standard ones. HEIC, which few readers open, becomes a JPEG; animated PNG and WebP keep
their frames; a JPEG or HEIC keeps its primary image only (not depth maps, gain maps or
burst images).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any, Final

import pillow_heif
from PIL import Image, ImageCms, ImageOps, ImageSequence

from bot.evidence.errors import Unreadable
from bot.evidence.kinds import Kind

# HEIC through Pillow. Registered once, when this module is first imported (imports are
# serialised, so threads never race it); HEIC thumbnails, depth and auxiliary images are
# never decoded.
pillow_heif.register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)

# Decompression bombs: a small file that decodes to a huge picture. About Pillow's own
# warning threshold (a 48-megapixel phone photo passes); checked before any pixel is
# decoded, across all the frames of an animation.
MAX_PIXELS: Final = 90_000_000
JPEG_QUALITY: Final = 90
WEBP_QUALITY: Final = 90

_FORMAT: Final = {Kind.JPEG: "JPEG", Kind.PNG: "PNG", Kind.WEBP: "WEBP", Kind.HEIC: "HEIF"}
_ANIMATED: Final = frozenset({Kind.PNG, Kind.WEBP})  # every frame kept
_PNG_MODES: Final = frozenset({"1", "L", "LA", "I", "I;16", "P", "RGB", "RGBA"})


@dataclass(frozen=True)
class _Frame:
    picture: Image.Image
    duration: float  # milliseconds; animations only


def clean_image(data: bytes, kind: Kind) -> tuple[bytes, Kind]:
    """The image encoded again without any metadata, and the kind it now is (a HEIC comes
    back as a JPEG). Unreadable if it cannot be decoded or is too large once decoded."""
    if kind not in _FORMAT:
        raise ValueError(f"{kind} is not an image kind")
    try:
        with Image.open(io.BytesIO(data), formats=[_FORMAT[kind]]) as image:
            loop = int(image.info.get("loop", 0))
            frames = _frames(image, kind)
            if kind is Kind.WEBP:
                return _encode_webp(frames, loop, lossless=_webp_lossless(data)), kind
            if kind is Kind.PNG:
                return _encode_png(frames, loop), kind
            return _encode_jpeg(frames[0].picture), Kind.JPEG
    except Unreadable:
        raise
    except Image.DecompressionBombError:
        raise Unreadable(kind.value, "too large once decoded") from None
    except Exception:
        raise Unreadable(kind.value) from None


def _frames(image: Image.Image, kind: Kind) -> list[_Frame]:
    count = int(getattr(image, "n_frames", 1)) if kind in _ANIMATED else 1
    width, height = image.size
    if width < 1 or height < 1 or count < 1:
        raise Unreadable(kind.value)
    if width * height * count > MAX_PIXELS:
        raise Unreadable(kind.value, "too large once decoded")
    if count == 1:
        return [_plain(image, alone=True)]
    return [_plain(frame) for frame in ImageSequence.Iterator(image)]


def _plain(frame: Image.Image, *, alone: bool = False) -> _Frame:
    """The frame's pixels, upright, in sRGB, with nothing else attached. The only frame is
    changed in place (a 12-megapixel photo is 36 MB decoded: one copy, not two); each of an
    animation's frames is copied, since the next one is read from the same image."""
    icc = frame.info.get("icc_profile")
    duration = float(frame.info.get("duration", 0) or 0)
    transparent = "transparency" in frame.info
    if alone:
        ImageOps.exif_transpose(frame, in_place=True)
        picture = frame
    else:
        picture = ImageOps.exif_transpose(frame)
    if transparent:  # a transparent palette entry or colour: say it with an alpha channel
        picture = picture.convert("RGBA")
    picture = _in_srgb(picture, icc)
    picture.info = {}  # savers fall back on it (a JPEG's comment, a PNG's ICC profile)
    return _Frame(picture, duration)


def _in_srgb(picture: Image.Image, icc: object) -> Image.Image:
    """Converted from its ICC profile to sRGB, so the profile (which can name the device)
    can go without the colours changing. Left as it is if the profile is unusable."""
    if not isinstance(icc, bytes) or not icc or picture.mode not in ("RGB", "RGBA", "CMYK"):
        return picture
    mode = "RGB" if picture.mode == "CMYK" else picture.mode
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        converted = ImageCms.profileToProfile(
            picture, source, ImageCms.createProfile("sRGB"), outputMode=mode
        )
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return picture
    return picture if converted is None else converted


def _encode_jpeg(picture: Image.Image) -> bytes:
    if picture.mode not in ("L", "RGB"):
        picture = picture.convert("RGB")
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=JPEG_QUALITY)
    return out.getvalue()


def _encode_png(frames: list[_Frame], loop: int) -> bytes:
    pictures = [
        f.picture if f.picture.mode in _PNG_MODES else f.picture.convert("RGBA") for f in frames
    ]
    options: dict[str, Any] = {}
    if len(pictures) > 1:
        options = {
            "save_all": True,
            "append_images": pictures[1:],
            "duration": [f.duration for f in frames],
            "loop": loop,
        }
    out = io.BytesIO()
    pictures[0].save(out, "PNG", **options)
    return out.getvalue()


def _png_mode(picture: Image.Image) -> Image.Image:
    return picture if picture.mode in _PNG_MODES else picture.convert("RGBA")


def _encode_webp(frames: list[_Frame], loop: int, *, lossless: bool) -> bytes:
    pictures = [_webp_mode(f.picture) for f in frames]
    options: dict[str, Any] = {"quality": WEBP_QUALITY, "lossless": lossless, "method": 4}
    if len(pictures) > 1:
        options |= {
            "save_all": True,
            "append_images": pictures[1:],
            "duration": [round(f.duration) for f in frames],
            "loop": loop,
        }
    out = io.BytesIO()
    pictures[0].save(out, "WEBP", **options)
    return out.getvalue()


def _webp_mode(picture: Image.Image) -> Image.Image:
    if picture.mode in ("RGB", "RGBA"):
        return picture
    return picture.convert("RGBA" if picture.has_transparency_data else "RGB")


def _webp_lossless(data: bytes) -> bool:
    """Whether a WebP was lossless (VP8L), so that it is encoded again without loss."""
    offset = 12
    while offset + 8 <= len(data):
        fourcc = data[offset : offset + 4]
        size = int.from_bytes(data[offset + 4 : offset + 8], "little")
        if fourcc == b"ANMF":  # an animation frame: 16 bytes of placement, then its image
            fourcc = data[offset + 24 : offset + 28]
        if fourcc == b"VP8L":
            return True
        if fourcc in (b"VP8 ", b"ALPH"):
            return False
        offset += 8 + size + (size & 1)
    return False
