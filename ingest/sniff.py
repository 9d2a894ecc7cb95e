"""Decide a file's format from its bytes (magic numbers) and, for text, its extension.

Content wins over the name: a PDF called `x.bin` is parsed as PDF. Two mismatches are refused
instead of guessed, because they usually mean a broken export or a saved error page:
binary content behind a text extension (`notes.txt` that is really a PDF or an executable), and a
binary-format extension (`report.pdf`) whose bytes are something else.
"""

from __future__ import annotations

import logging
import re
import zipfile
from enum import StrEnum
from io import BytesIO
from pathlib import PurePath

from ingest.parsed import ParseError

logger = logging.getLogger(__name__)


class DocFormat(StrEnum):
    """A format a parser in `ingest.parsers` handles; the value keys the parser registry."""

    PDF = "pdf"
    DOCX = "docx"
    PPTX = "pptx"
    XLSX = "xlsx"
    HTML = "html"
    MARKDOWN = "markdown"
    TEXT = "text"
    CSV = "csv"
    EML = "eml"
    MSG = "msg"
    IMAGE = "image"
    DOC = "doc"
    XLS = "xls"
    PPT = "ppt"
    ODT = "odt"
    ODS = "ods"
    ODP = "odp"
    RTF = "rtf"
    EPUB = "epub"


#: Extensions of text formats: binary content behind one of these is refused.
TEXT_EXTENSIONS: dict[str, DocFormat] = {
    ".txt": DocFormat.TEXT,
    ".text": DocFormat.TEXT,
    ".md": DocFormat.MARKDOWN,
    ".markdown": DocFormat.MARKDOWN,
    ".html": DocFormat.HTML,
    ".htm": DocFormat.HTML,
    ".xhtml": DocFormat.HTML,
    ".csv": DocFormat.CSV,
    ".tsv": DocFormat.CSV,
    ".eml": DocFormat.EML,
}

#: Extensions of binary formats: other content behind one of these is refused.
BINARY_EXTENSIONS: dict[str, DocFormat] = {
    ".pdf": DocFormat.PDF,
    ".docx": DocFormat.DOCX,
    ".pptx": DocFormat.PPTX,
    ".xlsx": DocFormat.XLSX,
    ".msg": DocFormat.MSG,
    ".png": DocFormat.IMAGE,
    ".jpg": DocFormat.IMAGE,
    ".jpeg": DocFormat.IMAGE,
    ".tif": DocFormat.IMAGE,
    ".tiff": DocFormat.IMAGE,
    ".doc": DocFormat.DOC,
    ".xls": DocFormat.XLS,
    ".ppt": DocFormat.PPT,
    ".odt": DocFormat.ODT,
    ".ods": DocFormat.ODS,
    ".odp": DocFormat.ODP,
    ".rtf": DocFormat.RTF,
    ".epub": DocFormat.EPUB,
}

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_IMAGE_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
)
#: Binary signatures no parser reads: named in the error so the user knows what the file is.
_UNSUPPORTED_MAGIC = (
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"\x7fELF", "an ELF executable"),
    (b"\xfd7zXZ\x00", "an xz archive"),
    (b"\x00\x00\x00\x18ftyp", "an MP4 video"),
    (b"\x00\x00\x00\x20ftyp", "an MP4 video"),
)
#: Short signatures that plain text can start with ("BMW report", "MZ Holdings"): only trusted when
#: the bytes are not text.
_WEAK_MAGIC = (
    (b"BM", "a BMP image"),
    (b"MZ", "a Windows executable"),
    (b"BZh", "a bzip2 archive"),
    (b"ID3", "an MP3 file"),
    (b"OggS", "an Ogg media file"),
)
_EMAIL_HEADER = re.compile(
    rb"^(?:From|To|Subject|Date|Received|Return-Path|Message-ID|MIME-Version|Delivered-To|X-[\w-]+):[ \t]",
    re.IGNORECASE | re.MULTILINE,
)
_HTML_START = re.compile(
    rb"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html)[\s>]", re.I | re.S
)


def sniff_format(data: bytes, filename: str = "") -> DocFormat:
    """Return the format of `data`, or raise `ParseError` saying why it cannot be parsed."""
    ext = PurePath(filename).suffix.lower()
    shown = PurePath(filename).name or "the file"
    if not data:
        raise ParseError("empty file (0 bytes)")
    binary = _binary_format(data, ext)
    if binary is not None:
        fmt, what = binary
        if ext in TEXT_EXTENSIONS:
            raise ParseError(
                f"binary content with a text extension: {shown} is {what}, not {ext} text "
                "(rename it to its real extension or fix the export)"
            )
        return fmt
    from ingest.parsers.text import looks_like_text

    if not looks_like_text(data[:65536]):
        if ext in TEXT_EXTENSIONS:
            raise ParseError(
                f"binary content with a text extension: {shown} holds binary data (control bytes, "
                "no known encoding), not text"
            )
        raise ParseError(f"unsupported binary content in {shown}: no known file signature and not text")
    if ext in BINARY_EXTENSIONS:
        expected = BINARY_EXTENSIONS[ext]
        looks = "HTML (an error or login page?)" if _HTML_START.match(_head_text(data)) else "plain text"
        raise ParseError(
            f"not a {expected.value.upper()}: {shown} has no {expected.value.upper()} signature; "
            f"its content looks like {looks}"
        )
    if ext in TEXT_EXTENSIONS:
        return TEXT_EXTENSIONS[ext]
    head = _head_text(data)
    if _HTML_START.match(head):
        return DocFormat.HTML
    if len(_EMAIL_HEADER.findall(head.split(b"\n\n", 1)[0])) >= 2:
        return DocFormat.EML
    return DocFormat.TEXT


def _head_text(data: bytes) -> bytes:
    """The first 4 KB as ASCII-compatible bytes (UTF-16 collapsed), for signature regexes."""
    head = data[:4096]
    if (
        head.startswith((b"\xff\xfe", b"\xfe\xff"))
        or head[1:200:2].count(0) > 50
        or head[0:200:2].count(0) > 50
    ):
        head = head.replace(b"\x00", b"")
    return head.lstrip(b"\xef\xbb\xbf\xff\xfe")


def _binary_format(data: bytes, ext: str) -> tuple[DocFormat, str] | None:
    """Match a binary signature: (format, "a PDF document") or None for no known signature."""
    if data.lstrip(b"\xef\xbb\xbf \t\r\n\x00").startswith(b"%PDF-") or (
        b"%PDF-" in data[:1024] and b"%%EOF" in data[-2048:]
    ):
        return DocFormat.PDF, "a PDF document"
    if data.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _zip_format(data), "a zip container"
    if data.startswith(b"{\\rtf"):
        return DocFormat.RTF, "an RTF document"
    if data.startswith(_OLE_MAGIC):
        return _ole_format(data, ext), "an Office/Outlook binary file"
    for magic, name in _IMAGE_MAGIC:
        if data.startswith(magic):
            return DocFormat.IMAGE, f"a {name} image"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return DocFormat.IMAGE, "a WEBP image"
    for magic, what in _UNSUPPORTED_MAGIC:
        if data.startswith(magic):
            if ext in TEXT_EXTENSIONS:
                return DocFormat.TEXT, what  # refused by the caller with the text-extension message
            raise ParseError(f"unsupported format: the file is {what}")
    for magic, what in _WEAK_MAGIC:
        if data.startswith(magic):
            from ingest.parsers.text import looks_like_text

            if looks_like_text(data[:65536]):
                return None
            if magic == b"BM" and ext not in TEXT_EXTENSIONS:
                return DocFormat.IMAGE, what
            if ext in TEXT_EXTENSIONS:
                return DocFormat.TEXT, what
            raise ParseError(f"unsupported format: the file is {what}")
    return None


def _zip_format(data: bytes) -> DocFormat:
    """Tell DOCX/PPTX/XLSX apart by their main part; refuse other zips with what they are."""
    try:
        names = set(zipfile.ZipFile(BytesIO(data)).namelist())
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise ParseError(f"corrupt zip container (DOCX/PPTX/XLSX?): {exc}") from exc
    if "word/document.xml" in names:
        return DocFormat.DOCX
    if "ppt/presentation.xml" in names:
        return DocFormat.PPTX
    if "xl/workbook.xml" in names:
        return DocFormat.XLSX
    if "mimetype" in names or "META-INF/container.xml" in names:
        fmt = _package_format(data, names)
        if fmt is not None:
            return fmt
    if "[Content_Types].xml" in names:
        raise ParseError("unsupported Office Open XML package: no word/, ppt/ or xl/ main part")
    raise ParseError("unsupported format: a zip archive (unpack it and ingest the files inside)")


#: ODF `mimetype` member prefix -> format (templates such as "...text-template" included).
_ODF_TYPES = (
    ("application/vnd.oasis.opendocument.text", DocFormat.ODT),
    ("application/vnd.oasis.opendocument.spreadsheet", DocFormat.ODS),
    ("application/vnd.oasis.opendocument.presentation", DocFormat.ODP),
)
#: Root streams of the legacy Office binaries, in the order they are looked for.
_OLE_STREAMS = (
    ("WordDocument", DocFormat.DOC),
    ("PowerPoint Document", DocFormat.PPT),
    ("Workbook", DocFormat.XLS),
    ("Book", DocFormat.XLS),  # Excel 5/95
)


def _package_format(data: bytes, names: set[str]) -> DocFormat | None:
    """ODT/ODS/ODP/EPUB from the zip's `mimetype` member; other OpenDocument kinds are refused."""
    try:
        with zipfile.ZipFile(BytesIO(data)) as archive:
            mimetype = (
                archive.read("mimetype")[:200].decode("ascii", "replace").strip()
                if ("mimetype" in names)
                else ""
            )
    except (zipfile.BadZipFile, ValueError, OSError, RuntimeError, EOFError) as exc:
        raise ParseError(f"corrupt zip container (ODF/EPUB?): {exc}") from exc
    for prefix, fmt in _ODF_TYPES:
        if mimetype.startswith(prefix):
            return fmt
    if mimetype == "application/epub+zip" or (not mimetype and "META-INF/container.xml" in names):
        return DocFormat.EPUB
    if mimetype.startswith("application/vnd.oasis.opendocument."):
        kind = mimetype.rsplit(".", 1)[-1]
        raise ParseError(f"unsupported format: OpenDocument {kind} (only text, spreadsheet and presentation)")
    return None


def _ole_format(data: bytes, ext: str) -> DocFormat:
    """OLE compound files: Outlook MSG and legacy Word/Excel/PowerPoint (by their root stream)."""
    if "EncryptedPackage".encode("utf-16-le") in data:
        raise ParseError("encrypted Office document (password required): save an unprotected copy")
    if ext == ".msg" or "__substg1.0_".encode("utf-16-le") in data:
        return DocFormat.MSG
    roots = _ole_root_streams(data)
    for stream, fmt in _OLE_STREAMS:
        if stream in roots:
            return fmt
    raise ParseError(
        "unsupported OLE compound file: not a Word, Excel, PowerPoint or Outlook file "
        f"(root streams: {', '.join(sorted(roots)) or 'none readable'})"
    )


def _ole_root_streams(data: bytes) -> set[str]:
    """Names of the streams at the root of an OLE compound file (empty when its directory is unreadable)."""
    try:
        import olefile
    except ImportError:  # extract-msg depends on olefile; without it, look for the names' UTF-16 bytes
        return {name for name, _ in _OLE_STREAMS if name.encode("utf-16-le") + b"\0\0" in data}
    try:
        with olefile.OleFileIO(data) as ole:
            return {entry[0] for entry in ole.listdir(streams=True, storages=False) if len(entry) == 1}
    except Exception:  # olefile raises OSError, struct.error, IndexError... on damaged directories
        return set()
