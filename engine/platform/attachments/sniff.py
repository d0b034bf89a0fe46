"""What an uploaded file is, from its content (never its name), and the name it keeps.

Only the formats offices exchange are accepted: PDF, OFD (China's fixed-layout format: a zip
holding OFD.xml), Word and Excel (the OLE2 .doc/.xls and the zip-based .docx/.xlsx), JPEG and
PNG. Everything else — HTML, SVG, scripts, archives — is refused: a file that a browser would
render or run never gets in, whatever it is called.
"""

from __future__ import annotations

import struct
import unicodedata
import zipfile
from typing import IO

from engine.errors import SanjiError, field_error

PDF, OFD = "application/pdf", "application/ofd"
DOC, XLS = "application/msword", "application/vnd.ms-excel"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
JPEG, PNG = "image/jpeg", "image/png"
ALLOWED = {PDF: "PDF", OFD: "OFD", DOC: "DOC", DOCX: "DOCX", XLS: "XLS", XLSX: "XLSX", JPEG: "JPEG", PNG: "PNG"}
ALLOWED_LIST = "PDF, OFD, DOC, DOCX, XLS, XLSX, JPEG, PNG"
OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
MAX_NAME = 200
MAX_DIRECTORY_SECTORS = 64  # an Office file's directory fits in a few sectors


class Unsupported(SanjiError):
    """The content is none of the accepted formats (415)."""

    status, code = 415, "unsupported_media_type"


def refuse() -> Unsupported:
    return Unsupported(
        "file: only {allowed} files are accepted (the type is read from the content, not the name)",
        [field_error("file", "{allowed}", allowed=ALLOWED_LIST)],
        allowed=ALLOWED_LIST,
    )


def content_type(f: IO[bytes]) -> str:
    """The MIME type of the seekable file `f` (read from its start), or `Unsupported`."""
    f.seek(0)
    head = f.read(16)
    f.seek(0)
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(OLE2):
        kind = _ole2(f)
        f.seek(0)
        if kind is not None:
            return kind
    elif head.startswith(b"PK\x03\x04"):
        kind = _zip(f)
        f.seek(0)
        if kind is not None:
            return kind
    raise refuse()


def _zip(f: IO[bytes]) -> str | None:
    """OFD, DOCX or XLSX by the parts the zip holds (its central directory only is read)."""
    try:
        with zipfile.ZipFile(f) as z:
            names = set(z.namelist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return None
    if "OFD.xml" in names:
        return OFD
    if "[Content_Types].xml" in names:
        if "word/document.xml" in names:
            return DOCX
        if "xl/workbook.xml" in names:
            return XLSX
    return None


def _ole2(f: IO[bytes]) -> str | None:
    """DOC or XLS by the streams of an OLE2 compound file: "WordDocument" or "Workbook"/"Book"
    in its directory (followed through the FAT, at most MAX_DIRECTORY_SECTORS sectors)."""
    try:
        f.seek(0)
        header = f.read(512)
        if len(header) < 512:
            return None
        shift = struct.unpack_from("<H", header, 30)[0]
        if shift not in (9, 12):
            return None
        size = 1 << shift
        first_dir = struct.unpack_from("<I", header, 48)[0]
        difat = struct.unpack_from("<109I", header, 76)
        per_sector = size // 4

        def sector(n: int) -> bytes:
            f.seek((n + 1) * size)
            return f.read(size)

        def next_sector(n: int) -> int:
            fat_index = n // per_sector
            if fat_index >= len(difat):
                return 0xFFFFFFFE  # past the header's FAT list: stop (large files keep their directory early)
            fat = sector(difat[fat_index])
            if len(fat) < size:
                return 0xFFFFFFFE
            return int(struct.unpack_from("<I", fat, (n % per_sector) * 4)[0])

        names: set[str] = set()
        current, seen = first_dir, 0
        while current < 0xFFFFFFFA and seen < MAX_DIRECTORY_SECTORS:
            block = sector(current)
            for offset in range(0, len(block) - 127, 128):
                length = struct.unpack_from("<H", block, offset + 64)[0]
                if 2 <= length <= 64:
                    names.add(block[offset : offset + length - 2].decode("utf-16-le", "replace"))
            current, seen = next_sector(current), seen + 1
    except (OSError, struct.error):
        return None
    if "WordDocument" in names:
        return DOC
    if "Workbook" in names or "Book" in names:
        return XLS
    return None


def clean_name(raw: str | None, fallback: str = "附件") -> str:
    """The file name as given, Chinese kept: no directory parts, no control or format characters
    (a right-to-left override could disguise the extension), no leading dots, at most MAX_NAME
    characters (the extension kept)."""
    name = unicodedata.normalize("NFC", raw or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Zl", "Zp"))
    name = name.strip().lstrip(".").strip()
    if len(name) > MAX_NAME:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: MAX_NAME - len(ext) - 1] + "." + ext) if dot and 0 < len(ext) <= 10 else name[:MAX_NAME]
    return name or fallback
