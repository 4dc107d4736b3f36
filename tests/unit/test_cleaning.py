"""bot.evidence: what a file is by its bytes, and the same file without what it says about
who made it. Every fixture is made here, in memory."""

from __future__ import annotations

import io
import random
import struct
import zipfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pikepdf
import pytest
from PIL import ExifTags, Image, ImageCms, PngImagePlugin

from bot.evidence import Cleaned, Kind, Unreadable, clean, sniff
from bot.evidence import office as office_module

SECRETS = (b"Jane", b"Canon", b"EOS 5D", b"Acme", b"Secret", b"52.0")
XMP = b"<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF>Jane Doe was here</rdf:RDF></x:xmpmeta>"
SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def assert_no_secrets(data: bytes) -> None:
    for secret in SECRETS:
        assert secret not in data, secret


def two_colours(width: int = 40, height: int = 20) -> Image.Image:
    """Red on the left, blue on the right: which way it was turned shows."""
    image = Image.new("RGB", (width, height), (255, 0, 0))
    image.paste((0, 0, 255), (width // 2, 0, width, height))
    return image


def camera_exif(orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Canon"
    exif[ExifTags.Base.Model] = "EOS 5D"
    exif[ExifTags.Base.Artist] = "Jane Doe"
    exif[ExifTags.Base.Orientation] = orientation
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (52.0, 22.0, 1.5)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (4.0, 53.0, 2.0)
    return exif


def encode(image: Image.Image, kind: str, **options: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, kind, **options)
    return out.getvalue()


def reopen(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def assert_bare(image: Image.Image) -> None:
    """No metadata at all: no EXIF, XMP, ICC profile, comment or text."""
    assert len(image.getexif()) == 0
    for key in ("exif", "xmp", "XML:com.adobe.xmp", "icc_profile", "comment", "Author"):
        assert key not in image.info, key
    assert not getattr(image, "text", {})


def jpeg_with_everything(orientation: int = 6) -> bytes:
    return encode(
        two_colours(),
        "JPEG",
        exif=camera_exif(orientation),
        comment=b"shot by Jane",
        icc_profile=SRGB,
        xmp=XMP,
        quality=95,
    )


# -- images ------------------------------------------------------------------------------------


def test_a_jpeg_loses_its_exif_gps_and_comments_and_is_turned_upright() -> None:
    data = jpeg_with_everything(orientation=6)
    source = reopen(data)
    assert source.getexif()[ExifTags.Base.Artist] == "Jane Doe"  # the fixture has it all
    assert source.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    assert {"exif", "xmp", "comment", "icc_profile"} <= set(source.info)

    cleaned = clean(data, sniff(data, "image/jpeg", "IMG_0001.JPG"))
    assert (cleaned.kind, cleaned.cleanable, cleaned.cleaned) == (Kind.JPEG, True, True)
    assert (cleaned.mime, cleaned.extension) == ("image/jpeg", "jpg")
    image = reopen(cleaned.data)
    assert image.format == "JPEG"
    assert_bare(image)
    assert b"Exif" not in cleaned.data and b"ICC_PROFILE" not in cleaned.data
    assert_no_secrets(cleaned.data)
    # Orientation 6: the camera was turned a quarter clockwise; the picture now stands up.
    assert image.size == (20, 40)
    top, bottom = image.getpixel((10, 3)), image.getpixel((10, 36))
    assert isinstance(top, tuple) and isinstance(bottom, tuple)
    assert top[0] > 200 and top[2] < 50  # red (the left) is now on top
    assert bottom[2] > 200 and bottom[0] < 50


def test_a_jpeg_without_orientation_keeps_its_shape() -> None:
    cleaned = clean(jpeg_with_everything(orientation=1), Kind.JPEG)
    image = reopen(cleaned.data)
    assert image.size == (40, 20)
    assert_bare(image)


def test_a_png_loses_its_text_chunks_exif_and_profile() -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Jane Doe")
    info.add_text("Comment", "Secret meeting", zip=True)
    info.add_itxt("Description", "Acme Corp, floor 3", lang="en")
    info.add_itxt("XML:com.adobe.xmp", XMP.decode())
    data = encode(two_colours(), "PNG", pnginfo=info, exif=camera_exif(), icc_profile=SRGB)
    assert reopen(data).text  # type: ignore[attr-defined]

    cleaned = clean(data, sniff(data, None, None))
    assert cleaned.kind is Kind.PNG and cleaned.cleanable
    image = reopen(cleaned.data)
    assert_bare(image)
    for chunk in (b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"iCCP", b"tIME"):
        assert chunk not in cleaned.data, chunk
    assert_no_secrets(cleaned.data)
    assert image.size == (40, 20)
    assert image.getpixel((0, 0)) == (255, 0, 0)  # lossless: the pixels are the same


def test_a_png_keeps_its_transparency() -> None:
    image = Image.new("RGBA", (8, 8), (0, 0, 0, 0))
    image.paste((0, 255, 0, 255), (0, 0, 4, 8))
    cleaned = reopen(clean(encode(image, "PNG"), Kind.PNG).data)
    assert cleaned.convert("RGBA").getpixel((6, 6)) == (0, 0, 0, 0)
    assert cleaned.convert("RGBA").getpixel((1, 1)) == (0, 255, 0, 255)


def test_a_webp_loses_its_exif_xmp_and_profile() -> None:
    data = encode(two_colours(), "WEBP", exif=camera_exif(6), xmp=XMP, icc_profile=SRGB, quality=90)
    assert "exif" in reopen(data).info

    cleaned = clean(data, sniff(data, None, None))
    assert cleaned.kind is Kind.WEBP and cleaned.cleanable
    image = reopen(cleaned.data)
    assert_bare(image)
    for chunk in (b"EXIF", b"XMP ", b"ICCP"):
        assert chunk not in cleaned.data, chunk
    assert_no_secrets(cleaned.data)
    assert image.size == (20, 40)  # turned upright like a JPEG


def test_a_lossless_webp_stays_lossless() -> None:
    data = encode(two_colours(), "WEBP", lossless=True, exif=camera_exif())
    cleaned = clean(data, Kind.WEBP)
    assert b"VP8L" in cleaned.data
    assert reopen(cleaned.data).convert("RGB").getpixel((0, 0)) == (255, 0, 0)


def test_an_animated_webp_keeps_its_frames() -> None:
    frames = [Image.new("RGB", (8, 8), colour) for colour in ("red", "green", "blue")]
    data = encode(
        frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=100, exif=b""
    )
    image = reopen(clean(data, Kind.WEBP).data)
    assert getattr(image, "n_frames", 1) == 3


def heic_or_skip(image: Image.Image, **options: Any) -> bytes:
    pillow_heif = pytest.importorskip("pillow_heif")
    if not pillow_heif.libheif_info().get("HEIF"):
        pytest.skip("this libheif has no HEIC encoder: no HEIC fixture can be made")
    try:
        return encode(image, "HEIF", **options)
    except (OSError, KeyError, ValueError) as exc:  # pragma: no cover - depends on the build
        pytest.skip(f"this libheif cannot encode HEIC here: {type(exc).__name__}")


def test_a_heic_becomes_a_jpeg_without_exif() -> None:
    import bot.evidence.images  # noqa: F401 (registers the HEIC opener with Pillow)

    data = heic_or_skip(two_colours(), exif=camera_exif(), xmp=XMP, quality=90)
    assert sniff(data, "image/heic", "IMG_0002.HEIC") is Kind.HEIC
    assert reopen(data).getexif()[ExifTags.Base.Artist] == "Jane Doe"

    cleaned = clean(data, Kind.HEIC)
    assert (cleaned.kind, cleaned.mime, cleaned.extension) == (Kind.JPEG, "image/jpeg", "jpg")
    image = reopen(cleaned.data)
    assert image.format == "JPEG"
    assert_bare(image)
    assert_no_secrets(cleaned.data)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims a huge picture in a few bytes (a decompression bomb's shape)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("size", [(10_000, 10_000), (40_000, 40_000)])
def test_a_decompression_bomb_is_unreadable(size: tuple[int, int]) -> None:
    """Refused before a pixel is decoded: by our limit, or by Pillow's own beyond it."""
    with pytest.raises(Unreadable, match="too large"):
        clean(png_header_only(*size), Kind.PNG)


# -- PDF ----------------------------------------------------------------------------------------


def pdf_with_metadata() -> bytes:
    pdf = pikepdf.new()
    pdf.add_blank_page()
    pdf.add_blank_page()
    pdf.docinfo["/Author"] = "Jane Doe"
    pdf.docinfo["/Creator"] = "Secret Writer 3"
    pdf.docinfo["/Producer"] = "Acme PDF Maker"
    pdf.docinfo["/Title"] = "Minutes"
    with pdf.open_metadata(set_pikepdf_as_editor=False) as meta:
        meta["dc:creator"] = ["Jane Doe"]
        meta["xmp:CreatorTool"] = "Secret Writer 3"
    page = pdf.pages[0].obj
    page.Metadata = pdf.make_stream(b"<x:xmpmeta>Jane's page</x:xmpmeta>")
    page.PieceInfo = pikepdf.Dictionary(App=pikepdf.Dictionary(Private=pikepdf.String("Acme")))
    out = io.BytesIO()
    pdf.save(out, compress_streams=False)
    return out.getvalue()


def test_a_pdf_loses_its_info_dictionary_and_xmp() -> None:
    data = pdf_with_metadata()
    assert b"Jane" in data and b"Acme" in data
    cleaned = clean(data, sniff(data, "application/pdf", "minutes.pdf"))
    assert (cleaned.kind, cleaned.cleanable, cleaned.mime) == (Kind.PDF, True, "application/pdf")
    with pikepdf.open(io.BytesIO(cleaned.data)) as pdf:
        assert "/Info" not in pdf.trailer
        assert "/Metadata" not in pdf.Root
        assert "/Metadata" not in pdf.pages[0].obj and "/PieceInfo" not in pdf.pages[0].obj
        assert len(pdf.pages) == 2
        with pdf.open_metadata() as meta:
            assert "dc:creator" not in meta
    assert_no_secrets(cleaned.data)
    assert b"Metadata" not in cleaned.data and b"Producer" not in cleaned.data


def test_a_pdf_with_junk_before_its_header_is_still_a_pdf() -> None:
    assert sniff(b"\r\n  " + pdf_with_metadata(), None, None) is Kind.PDF
    assert sniff(b"notes about %PDF-1.4 files", None, "notes.txt") is Kind.OTHER


def test_a_password_protected_pdf_is_unreadable() -> None:
    out = io.BytesIO()
    with pikepdf.open(io.BytesIO(pdf_with_metadata())) as pdf:
        pdf.save(out, encryption=pikepdf.Encryption(user="secret", owner="secret"))
    with pytest.raises(Unreadable, match="password"):
        clean(out.getvalue(), Kind.PDF)


# -- Office -------------------------------------------------------------------------------------

CONTENT_TYPES = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    b'<Default Extension="xml" ContentType="application/xml"/>'
    b'<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-'
    b'officedocument.wordprocessingml.document.main+xml"/></Types>'
)
RELS = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    b'relationships/officeDocument" Target="word/document.xml"/>'
    b'<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/'
    b'relationships/metadata/core-properties" Target="{core}"/>'
    b"<Relationship Target='/{app}' Id='rId3' Type='http://schemas.openxmlformats.org/"
    b"officeDocument/2006/relationships/extended-properties'/>"
    b"</Relationships>"
)
CORE = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/'
    b'core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" '
    b'xmlns:dcterms="http://purl.org/dc/terms/">'
    b"<dc:creator>Jane Doe</dc:creator><cp:lastModifiedBy>Jane Doe</cp:lastModifiedBy>"
    b"<dcterms:created>2024-05-01T09:00:00Z</dcterms:created></cp:coreProperties>"
)
APP = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/'
    b'extended-properties"><Company>Acme Secret Corp</Company><Manager>Jane Doe</Manager>'
    b"<Template>Normal.dotm</Template></Properties>"
)
DOCUMENT = b"<w:document>what happened, in my words</w:document>"
IMAGE = bytes(range(256)) * 40  # a picture in the document, kept as it is


def docx(core: str = "docProps/core.xml", app: str = "docProps/app.xml") -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.comment = b"made by Jane"
        for name, body in (
            ("[Content_Types].xml", CONTENT_TYPES),
            ("_rels/.rels", RELS.replace(b"{core}", core.encode()).replace(b"{app}", app.encode())),
            ("word/document.xml", DOCUMENT),
            (core, CORE),
            (app, APP),
        ):
            archive.writestr(zipfile.ZipInfo(name, date_time=(2024, 5, 1, 9, 30, 0)), body)
        stored = zipfile.ZipInfo("word/media/image1.png", date_time=(2024, 5, 1, 9, 30, 0))
        archive.writestr(stored, IMAGE, compress_type=zipfile.ZIP_STORED)
    return out.getvalue()


def members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


@pytest.mark.parametrize(
    ("core", "app"),
    [
        ("docProps/core.xml", "docProps/app.xml"),
        ("meta/props1.xml", "meta/props2.xml"),  # found through the package's relationships
        ("docProps/Core.xml", "DOCPROPS/app.xml"),  # part names know no case
    ],
)
def test_a_docx_loses_its_creator_and_company_and_keeps_every_other_part(
    core: str, app: str
) -> None:
    data = docx(core, app)
    assert sniff(data, None, "report.docx") is Kind.DOCX
    cleaned = clean(data, Kind.DOCX)
    assert (cleaned.kind, cleaned.cleanable, cleaned.extension) == (Kind.DOCX, True, "docx")
    before, after = members(data), members(cleaned.data)
    assert list(after) == list(before)  # the same parts, in the same order
    for name in before:
        if name not in (core, app):
            assert after[name] == before[name], name  # byte for byte
    for removed in (b"Jane", b"Acme", b"lastModifiedBy", b"created", b"Template", b"Manager"):
        assert removed not in after[core] + after[app], removed
    assert b"coreProperties" in after[core] and b"extended-properties" in after[app]
    assert_no_secrets(cleaned.data)
    with zipfile.ZipFile(io.BytesIO(cleaned.data)) as archive:
        assert archive.comment == b""
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        assert archive.getinfo("word/media/image1.png").compress_type == zipfile.ZIP_STORED


def test_custom_properties_are_emptied_too() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(docx())) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            target.writestr(info, source.read(info))
        target.writestr("docProps/custom.xml", b"<Properties>Acme sensitivity label</Properties>")
    after = members(clean(out.getvalue(), Kind.DOCX).data)
    assert b"Acme" not in after["docProps/custom.xml"]
    assert b"custom-properties" in after["docProps/custom.xml"]


def test_office_kinds_are_told_by_their_main_part() -> None:
    def package(content_type: bytes) -> bytes:
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as archive:
            archive.writestr("[Content_Types].xml", content_type)
        return out.getvalue()

    main = b"application/vnd.openxmlformats-officedocument."
    assert sniff(package(main + b"spreadsheetml.sheet.main+xml"), None, None) is Kind.XLSX
    pptx = package(main + b"presentationml.presentation.main+xml")
    assert sniff(pptx, None, None) is Kind.PPTX
    # A macro-enabled document is not a .docx: it is left as it is, not renamed.
    macro = package(b"application/vnd.ms-word.document.macroEnabled.main+xml")
    assert sniff(macro, None, "report.docm") is Kind.OTHER
    plain_zip = io.BytesIO()
    with zipfile.ZipFile(plain_zip, "w") as archive:
        archive.writestr("photos/1.jpg", b"...")
    assert sniff(plain_zip.getvalue(), None, "photos.zip") is Kind.OTHER


def test_a_zip_bomb_is_unreadable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(office_module, "MAX_UNPACKED", 64 * 1024)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(docx())) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            target.writestr(info, source.read(info))
        target.writestr("word/media/huge.bin", bytes(1024 * 1024), zipfile.ZIP_DEFLATED)
    assert len(out.getvalue()) < 20 * 1024
    with pytest.raises(Unreadable, match="too large"):
        clean(out.getvalue(), Kind.DOCX)


def test_a_zip_that_lies_about_a_parts_size_is_unreadable() -> None:
    data = bytearray(docx())
    # The picture's entry in the central directory (its name's last occurrence): its
    # uncompressed size, at byte 24 of the entry, made smaller than it is.
    entry = data.rfind(b"word/media/image1.png") - 46
    assert data[entry : entry + 4] == b"PK\x01\x02"
    struct.pack_into("<I", data, entry + 24, len(IMAGE) // 2)
    with pytest.raises(Unreadable):
        clean(bytes(data), Kind.DOCX)


# -- what cannot be cleaned, and what cannot be read --------------------------------------------

MP4 = (
    struct.pack(">I", 24)
    + b"ftypisom"
    + struct.pack(">I", 512)
    + b"isommp41"
    + struct.pack(">I", 16)
    + b"mdat"
    + bytes(8)
)
MOV = struct.pack(">I", 20) + b"ftypqt  " + struct.pack(">I", 0) + b"qt  " + bytes(16)
OGG = b"OggS\x00\x02" + bytes(20) + b"\x01\x13OpusHead" + bytes(40)
MP3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x64" + bytes(100)


@pytest.mark.parametrize(
    ("data", "kind", "mime"),
    [
        (MP4, Kind.MP4, "video/mp4"),
        (MOV, Kind.MOV, "video/quicktime"),
        (OGG, Kind.OGG, "audio/ogg"),
        (MP3, Kind.MP3, "audio/mpeg"),
        (b"\xff\xfb\x90\x64" + bytes(100), Kind.MP3, "audio/mpeg"),
        (b"just some text", Kind.OTHER, "application/octet-stream"),
    ],
)
def test_sound_video_and_unknown_files_come_back_unchanged(
    data: bytes, kind: Kind, mime: str
) -> None:
    assert sniff(data, None, None) is kind
    cleaned = clean(data, kind)
    assert cleaned == Cleaned(data, kind, cleanable=False)
    assert (cleaned.cleaned, cleaned.mime) == (False, mime)


def test_the_declared_type_only_names_kinds_kept_as_they_are() -> None:
    unknown = b"\x00\x01\x02 not a known format"
    assert sniff(unknown, "audio/ogg; codecs=opus", None) is Kind.OGG
    assert sniff(unknown, None, "voice.OPUS") is Kind.OGG
    assert sniff(unknown, None, "clip.mov") is Kind.MOV
    # Never a kind that would be cleaned: a parser is chosen by the bytes alone.
    assert sniff(unknown, "image/jpeg", "photo.jpg") is Kind.OTHER
    assert sniff(unknown, "application/pdf", "a.pdf") is Kind.OTHER
    # The bytes win over the name.
    assert sniff(jpeg_with_everything(), "application/pdf", "a.pdf") is Kind.JPEG


def test_magic_bytes_name_every_kind() -> None:
    assert sniff(encode(two_colours(), "PNG"), None, None) is Kind.PNG
    assert sniff(encode(two_colours(), "WEBP"), None, None) is Kind.WEBP
    heif = struct.pack(">I", 24) + b"ftypmif1" + bytes(4) + b"mif1heic"
    assert sniff(heif, None, None) is Kind.HEIC
    avif = struct.pack(">I", 24) + b"ftypavif" + bytes(4) + b"mif1avif"
    assert sniff(avif, None, None) is Kind.OTHER
    m4a = struct.pack(">I", 20) + b"ftypM4A " + bytes(4) + b"M4A "
    assert sniff(m4a, None, None) is Kind.M4A
    assert sniff(b"", None, None) is Kind.OTHER


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (jpeg_with_everything()[:300], Kind.JPEG),
        (encode(two_colours(200, 200), "PNG")[:120], Kind.PNG),
        (encode(two_colours(), "WEBP")[:40], Kind.WEBP),
        (b"\x00\x00\x00\x18ftypheic" + bytes(100), Kind.HEIC),
        (b"%PDF-1.7\n" + bytes(range(256)) * 4, Kind.PDF),
        (b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n", Kind.PDF),
        (b"PK\x03\x04" + bytes(200), Kind.DOCX),
        (docx()[:-60], Kind.DOCX),
        (b"\x89PNG\r\n\x1a\n", Kind.JPEG),  # the wrong kind for the bytes
    ],
)
def test_a_file_that_cannot_be_parsed_is_unreadable(data: bytes, kind: Kind) -> None:
    with pytest.raises(Unreadable) as raised:
        clean(data, kind)
    assert raised.value.__cause__ is None  # nothing of the parser's message travels with it
    assert str(raised.value).startswith(f"the {kind.value} file cannot be read")


def fixtures() -> list[tuple[bytes, Kind]]:
    return [
        (jpeg_with_everything(), Kind.JPEG),
        (encode(two_colours(), "PNG", exif=camera_exif()), Kind.PNG),
        (encode(two_colours(), "WEBP", exif=camera_exif()), Kind.WEBP),
        (pdf_with_metadata(), Kind.PDF),
        (docx(), Kind.DOCX),
    ]


def test_damaged_files_raise_unreadable_and_nothing_else() -> None:
    """Bytes flipped, cut or repeated anywhere: a cleaned file or Unreadable, never another
    exception (and never a hang)."""
    rng = random.Random(13)
    for data, kind in fixtures():
        for _ in range(25):
            damaged = bytearray(data)
            for _ in range(rng.randint(1, 8)):
                damaged[rng.randrange(len(damaged))] = rng.randrange(256)
            if rng.random() < 0.3:
                damaged = damaged[: rng.randrange(1, len(damaged))]
            try:
                result = clean(bytes(damaged), kind)
            except Unreadable:
                continue
            assert result.cleanable


def test_sniff_never_raises() -> None:
    rng = random.Random(4)
    prefixes = [b"", b"PK\x03\x04", b"\x00\x00\x00\x08ftyp", b"RIFF", b"\xff", b"%PDF-", b"ID3"]
    for _ in range(300):
        data = rng.choice(prefixes) + rng.randbytes(rng.randrange(0, 64))
        assert isinstance(sniff(data, rng.choice([None, "", "x/y", "audio/ogg"]), None), Kind)


def test_cleaning_is_the_same_in_threads_at_once() -> None:
    """Thread-safe: many files cleaned at once in worker threads come out exactly as each
    does alone."""
    inputs = fixtures() * 4
    alone = [clean(data, kind).data for data, kind in inputs]
    with ThreadPoolExecutor(max_workers=8) as pool:
        together = list(pool.map(lambda item: clean(*item).data, inputs))
    assert together == alone


def test_nothing_is_written_to_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Plaintext stays in memory: Python's ways to open or create a file all fail while
    cleaning, and cleaning still works."""
    import builtins
    import os
    import tempfile

    inputs = fixtures()

    def refuse(*args: object, **kwargs: object) -> Any:
        raise AssertionError("cleaning touched the file system")

    for module, name in [
        (builtins, "open"),
        (io, "open"),
        (os, "open"),
        (tempfile, "mkstemp"),
        (tempfile, "mkdtemp"),
        (tempfile, "NamedTemporaryFile"),
        (tempfile, "TemporaryFile"),
        (tempfile, "SpooledTemporaryFile"),
    ]:
        monkeypatch.setattr(module, name, refuse)
    for data, kind in inputs:
        assert clean(data, kind).cleanable


def test_a_cleaned_file_never_shows_its_bytes() -> None:
    cleaned = clean(b"secret voice note", Kind.OGG)
    assert "secret" not in repr(cleaned)
    assert cleaned.size == 17 and len(cleaned.sha256()) == 64
