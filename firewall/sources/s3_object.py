"""S3 object content -> fields: text, JSON, CSV, XML, e-mail messages and gzip'd text decoded; binary
kept as bytes (for byte signatures such as EICAR) and sniffed for an executable or script behind an
inert extension.

Pure: the runtime reads the bytes (ranged, size-capped) and hands them here.
"""

from __future__ import annotations

import csv
import io
import zlib
from dataclasses import dataclass, field

from .base import Field
from .fields import DEFAULT_LIMITS, Collector, Limits, text_encoding
from .mail import looks_like_mail, read_message

PATH = "s3.object"
MAIL_PATH = "s3.mail"
"""Where an object that is an e-mail message has its headers and parts: apart from `s3.object`, so
that line-based header-injection signatures can leave whole documents out by their targets."""
DISGUISE_PATH = "s3.object.disguised"
MAX_CSV_CELLS = 50_000

_EXECUTABLE_MAGIC = (
    (b"\x7fELF", "ELF executable"),
    (b"MZ", "Windows executable"),
    (b"\xfe\xed\xfa\xce", "Mach-O executable"),
    (b"\xfe\xed\xfa\xcf", "Mach-O executable"),
    (b"\xce\xfa\xed\xfe", "Mach-O executable"),
    (b"\xcf\xfa\xed\xfe", "Mach-O executable"),
    (b"\xca\xfe\xba\xbe", "Mach-O or Java class"),
    (b"#!", "script with an interpreter line"),
    (b"<?php", "PHP script"),
    (b"<%@", "server page script"),
)
INERT_EXTENSIONS = frozenset(
    (
        *("jpg", "jpeg", "png", "gif", "bmp", "webp", "tif", "tiff", "ico", "heic", "avif"),
        *("pdf", "txt", "csv", "tsv", "json", "xml", "md", "log"),
        *("mp3", "mp4", "m4a", "mov", "avi", "wav", "ogg", "webm"),
        *("doc", "docx", "xls", "xlsx", "ppt", "pptx", "odt", "ods"),
    )
)


@dataclass
class ObjectContent:
    fields: list[Field] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    oversize: bool = False


def extension(key: str) -> str:
    name = key.rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def disguise(key: str, data: bytes) -> str | None:
    """`"ELF executable disguised as .jpg"` when an inert-looking name hides an executable."""
    ext = extension(key)
    if ext not in INERT_EXTENSIONS:
        return None
    head = data[:8].lstrip(b"\xef\xbb\xbf")
    for magic, kind in _EXECUTABLE_MAGIC:
        if head.startswith(magic):
            return f"{kind} disguised as .{ext}"
    return None


def _gunzip(data: bytes, limit: int) -> tuple[bytes, bool]:
    """Decompress at most `limit` bytes (a small object can expand enormously); (data, truncated)."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, limit)
    except zlib.error:
        return data, False
    return out, bool(inflater.unconsumed_tail)


def _as_text(data: bytes) -> str | None:
    encoding = text_encoding(data)
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        # A ranged read may cut a character at the very end (up to three bytes of UTF-8 or UTF-32).
        if exc.start >= len(data) - 3:
            return data[: exc.start].decode(encoding)
        return None


def _csv_cells(collector: Collector, text: str) -> None:
    cells = 0
    try:
        for row_number, row in enumerate(csv.reader(io.StringIO(text))):
            for column, cell in enumerate(row):
                if cell:
                    collector.add(f"{PATH}.rows[{row_number}][{column}]", cell)
                    cells += 1
                if cells >= MAX_CSV_CELLS:
                    collector.problem(f"{PATH}: more than {MAX_CSV_CELLS} CSV cells; the rest were not split")
                    return
    except csv.Error as exc:
        collector.problem(f"{PATH}: unreadable CSV ({exc})")


def decode_object(
    key: str,
    data: bytes,
    *,
    content_type: str = "",
    max_bytes: int,
    truncated: bool = False,
    limits: Limits = DEFAULT_LIMITS,
) -> ObjectContent:
    """Fields of an object's first `max_bytes` bytes; `truncated` says the object was larger."""
    collector = Collector(limits)
    disguised = disguise(key, data)
    if disguised:
        collector.add(DISGUISE_PATH, disguised)
    kind = content_type.split(";")[0].strip().lower()
    cut = _add_data(collector, PATH, data, max_bytes, extension(key), kind, mail=True)
    return ObjectContent(collector.fields, collector.problems, truncated or cut)


def _add_data(
    collector: Collector, path: str, data: bytes, max_bytes: int, ext: str = "", kind: str = "", *, mail: bool = False
) -> bool:
    """Fields of `data` (an object, or a part of a message in it) at `path`; whether gzip'd data
    was cut at `max_bytes`. Only an object itself is looked at as a message (`mail`): a message
    attached to one is the mail parser's to open, and a part sniffed again could nest without end."""
    cut = False
    if data[:2] == b"\x1f\x8b":
        data, cut = _gunzip(data, max_bytes)
    text = _as_text(data)
    if text is None:
        collector.add(path, data)
    elif mail and looks_like_mail(ext, kind, text):
        read_message(collector, MAIL_PATH, text, lambda at, part: _add_part(collector, at, part, max_bytes), path)
    else:
        collector.walk_text(path, text)
        if ext in ("csv", "tsv") or kind in ("text/csv", "text/tab-separated-values"):
            _csv_cells(collector, text.replace("\t", ",") if ext == "tsv" else text)
    return cut


def _add_part(collector: Collector, path: str, data: bytes, max_bytes: int) -> None:
    """A decoded part of a message: text, gzip'd text or bytes (a nested message is the parser's)."""
    if _add_data(collector, path, data, max_bytes):
        collector.problem(f"{path}: gzip'd part larger than {max_bytes} bytes; the rest was not read")
