"""Small files of every accepted type, built in memory, and a few that must be refused."""
from __future__ import annotations

import io
import struct
import zipfile
from typing import Any

from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.test import stream_encode_multipart

from engine.platform.attachments.models import Attachment, Blob, BlobChunk

MB = 1024 * 1024

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(17) + b"IEND\xaeB`\x82"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect width="1" height="1"/></svg>'


def zipped(names: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in names.items():
            z.writestr(name, data)
    return buf.getvalue()


DOCX = zipped({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>"})
XLSX = zipped({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>"})
OFD = zipped({"OFD.xml": b"<ofd:OFD/>", "Doc_0/Document.xml": b"<ofd:Document/>"})
PLAIN_ZIP = zipped({"readme.txt": b"hello"})


def ole2(stream: str) -> bytes:
    """A minimal OLE2 compound file whose directory holds the root and one stream named `stream`."""
    header = bytearray(512)
    header[0:8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    struct.pack_into("<HHHHH", header, 24, 0x3E, 3, 0xFFFE, 9, 6)
    struct.pack_into("<I", header, 44, 1)  # one FAT sector
    struct.pack_into("<I", header, 48, 1)  # the directory starts at sector 1
    struct.pack_into("<I", header, 56, 4096)
    struct.pack_into("<III", header, 60, 0xFFFFFFFE, 0, 0xFFFFFFFE)
    struct.pack_into("<109I", header, 76, *([0] + [0xFFFFFFFF] * 108))
    fat = bytearray(b"\xff" * 512)
    struct.pack_into("<II", fat, 0, 0xFFFFFFFD, 0xFFFFFFFE)
    directory = bytearray(512)
    for i, name in enumerate(("Root Entry", stream)):
        raw = (name + "\0").encode("utf-16-le")
        directory[i * 128:i * 128 + len(raw)] = raw
        struct.pack_into("<HB", directory, i * 128 + 64, len(raw), 5 if i == 0 else 2)
    return bytes(header + fat + directory)


DOC = ole2("WordDocument")
XLS = ole2("Workbook")
OTHER_OLE2 = ole2("PowerPoint Document")


def upload(api: Any, user: str, content: bytes | Any, name: str, status: int = 201) -> dict[str, Any]:
    """POST the file as multipart (encoded to a spool file the test closes: werkzeug's test
    client would leave a large one open)."""
    source = io.BytesIO(content) if isinstance(content, bytes) else content
    stream, length, boundary = stream_encode_multipart({"file": FileStorage(source, name)})
    try:
        r = api.post("/api/v1/attachments", user, input_stream=stream, content_length=length,
                     content_type=f"multipart/form-data; boundary={boundary}")
    finally:
        stream.close()
    assert r.status_code == status, r.get_json()
    return r.get_json()


def counts(sessions: Any) -> tuple[int, int, int]:
    with sessions() as s:
        return (s.scalar(select(func.count()).select_from(Attachment)) or 0,
                s.scalar(select(func.count()).select_from(Blob)) or 0,
                s.scalar(select(func.count()).select_from(BlobChunk)) or 0)
