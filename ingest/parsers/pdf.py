"""PDF: the text layer via pypdf, page by page; pages without usable text go through OCR.

pypdf is used rather than pdfminer because it keeps Thai clusters whole (pdfminer splits stacked
vowels and tone marks, e.g. "ยื|่น"). Lines set in a clearly larger font than the page's body text
become TITLE elements (levels by size), so the chunker gets sections from PDFs too. A page whose
text layer has fewer than `ocr_min_chars_per_page` visible characters is rendered with poppler's
`pdftoppm` (or, without poppler, its largest embedded image is used) and OCR'd.
"""

from __future__ import annotations

import io
import logging
import re
import shutil
import subprocess
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from ingest.parsed import ElementKind, ParsedDocument, ParseError
from ingest.parser_settings import ParserSettings
from ingest.parsers.limits import Deadline, require
from ingest.parsers.ocr import OcrSession
from ingest.parsers.ocr_tables import read_page
from ingest.parsers.outline import Outline
from ingest.parsers.pdf_tables import Table, Word, find_tables, match_lines, rules_from_content, text_position
from ingest.parsers.tabular import add_table

logger = logging.getLogger(__name__)

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n+")
_HEADING_RATIO = 1.2  # a line this many times the body font size is a heading
_MAX_HEADING_CHARS = 150


def parse_pdf(data: bytes, settings: ParserSettings, filename: str = "") -> ParsedDocument:
    """Parse a PDF: text per page (1-based `page`), headings from font sizes, OCR for scanned pages."""
    pypdf = require("pypdf", "pypdf", "PDF parsing")
    _check_trailer(data)
    reader = _open(pypdf, data)
    deadline = Deadline(settings.parse_timeout_s, "PDF")
    try:
        total = len(reader.pages)
    except Exception as exc:
        raise ParseError(f"corrupt PDF: cannot read the page tree ({exc})") from exc
    if total == 0:
        raise ParseError("corrupt PDF: no pages")
    warnings: list[str] = []
    if total > settings.max_pages:
        warnings.append(
            f"only the first {settings.max_pages:,} of {total:,} pages were read (ingest.parser.max_pages)"
        )
    ocr = OcrSession(settings)
    scanned: list[int] = []
    # first pass: text lines (with font sizes) and ruled tables per page, or OCR text for scanned pages
    content: list[tuple[int, list[tuple[str, float]], str, dict[int, tuple[int, Table]]]] = []
    with tempfile.TemporaryDirectory(prefix="govrag-pdf-") as tmp:
        pdf_path = Path(tmp) / "doc.pdf"
        for number in range(1, min(total, settings.max_pages) + 1):
            deadline.check(f"page {number}")
            page = reader.pages[number - 1]
            try:
                lines, words = _page_lines(page)
            except Exception as exc:  # pypdf raises many types on broken content streams
                warnings.append(f"page {number}: text layer unreadable ({type(exc).__name__}: {exc})")
                lines, words = [], []
            visible = sum(len("".join(text.split())) for text, _ in lines)
            if visible >= settings.ocr_min_chars_per_page:
                spans = match_lines([text for text, _ in lines], _tables(page, reader, words, number))
                content.append((number, lines, "", spans))
                continue
            scanned.append(number)
            if not ocr.available():
                content.append((number, lines, "", {}))
                continue
            if not pdf_path.exists():
                pdf_path.write_bytes(data)
            png = _page_image(pdf_path, reader.pages[number - 1], number, settings, deadline)
            if png is None:
                warnings.append(f"page {number}: no text layer and the page could not be rendered for OCR")
                continue
            scan = read_page(ocr, png, f"page {number}", deadline)
            if scan.spans:  # ruled tables: the OCR'd lines with the tables' spans
                content.append((number, [(line, 0.0) for line in scan.lines], "", scan.spans))
            else:
                content.append((number, [], scan.text, {}))
    # second pass: body font size and heading levels are decided over the whole document
    outline = Outline()
    body, heading_sizes = _font_levels([line for _, lines, _, _ in content for line in lines])
    for number, lines, ocr_text, spans in content:
        _emit_lines(lines, outline, number, body, heading_sizes, spans, settings)
        for paragraph in _PARAGRAPH_BREAK.split(ocr_text):
            outline.add(paragraph, ElementKind.TEXT, page=number)
    if scanned and not ocr.available():
        warnings.append(
            f"{len(scanned)} page(s) have no text layer and OCR is unavailable "
            "(apt-get install tesseract-ocr poppler-utils, or ingest.parser.ocr_enabled)"
        )
    warnings.extend(ocr.warnings)
    return ParsedDocument(
        elements=outline.elements,
        title=_title(reader) or outline.first_title(),
        pages=total,
        pages_ocr=ocr.pages,
        metadata={**_info_dates(reader), **({"ocr_languages": ocr.languages} if ocr.pages else {})},
        warnings=warnings,
    )


def _check_trailer(data: bytes) -> None:
    """A PDF must end with `startxref` + `%%EOF`; without them it was cut short (download, export)."""
    tail = data[-4096:]
    if b"%%EOF" not in tail or b"startxref" not in data[-65536:]:
        raise ParseError("truncated PDF: no xref/%%EOF at the end of the file (download or export cut short)")


def _open(pypdf: Any, data: bytes) -> Any:
    """Open with pypdf, decrypting PDFs that only have an owner password (printing/copy limits)."""
    try:
        reader = pypdf.PdfReader(io.BytesIO(data), strict=False)
    except Exception as exc:  # PdfReadError, ValueError, KeyError... on damaged files
        raise ParseError(f"corrupt PDF: {exc}") from exc
    if reader.is_encrypted:
        try:
            ok = reader.decrypt("")
        except Exception as exc:  # missing AES support, unknown handler
            raise ParseError(f"encrypted PDF (cannot decrypt: {exc})") from exc
        if not ok:
            raise ParseError("encrypted PDF (password required)")
    return reader


def _info_dates(reader: Any) -> dict[str, str]:
    """The document-info /CreationDate as `pdf_created` (a file property: `ingest.dates` prefers the text)."""
    try:
        created = str((reader.metadata or {}).get("/CreationDate") or "").strip()
    except Exception:
        return {}
    return {"pdf_created": created} if created.startswith("D:") else {}


def _title(reader: Any) -> str:
    """The document-info /Title when it is meaningful (not a file name or "Untitled")."""
    try:
        title = str((reader.metadata or {}).get("/Title") or "").strip()
    except Exception:
        return ""
    if (
        not title
        or title.lower() in {"untitled", "microsoft word"}
        or re.search(r"\.(docx?|pdf)$", title, re.I)
    ):
        return ""
    return title


def _page_lines(page: Any) -> tuple[list[tuple[str, float]], list[Word]]:
    """The page's text lines, each with the largest font size used on it (points), and its
    positioned text runs (for tables)."""
    sizes: list[tuple[str, float]] = []
    words: list[Word] = []

    def visitor(text: str, cm: Any, tm: Any, font: Any, size: float) -> None:
        if text:
            points = abs(size) * _scale(tm) * _scale(cm)
            sizes.append((text, points))
            if text.strip():
                x, y = text_position(cm, tm)
                words.append(Word(_CONTROL.sub("", text), x, y, points))

    text = page.extract_text(visitor_text=visitor)
    text = _CONTROL.sub("", text or "")
    line_sizes = _line_sizes(sizes)
    return [(line, line_sizes.get(" ".join(line.split()), 0.0)) for line in text.split("\n")], words


def _tables(page: Any, reader: Any, words: list[Word], number: int) -> list[Table]:
    """Ruled tables on a text page (an unreadable drawing only costs the table layout, not the text)."""
    if not words:
        return []
    try:
        return find_tables(words, rules_from_content(page, reader), y_up=True)
    except Exception as exc:  # broken content streams, odd operands
        logger.debug("page %s: table rules unreadable: %s", number, exc)
        return []


def _scale(matrix: Any) -> float:
    """The vertical scale of a PDF matrix [a b c d e f]."""
    try:
        return float(abs(matrix[3])) or float(abs(matrix[1])) or 1.0
    except (TypeError, IndexError, ValueError):
        return 1.0


def _line_sizes(fragments: list[tuple[str, float]]) -> dict[str, float]:
    """Map each reconstructed line (whitespace-normalized) to its largest fragment font size."""
    out: dict[str, float] = {}
    current: list[str] = []
    size = 0.0
    for text, frag_size in fragments:
        parts = _CONTROL.sub("", text).split("\n")
        for i, part in enumerate(parts):
            if i > 0:
                key = " ".join("".join(current).split())
                if key:
                    out[key] = max(out.get(key, 0.0), size)
                current, size = [], 0.0
            if part.strip():
                current.append(part)
                size = max(size, frag_size)
            elif part:
                current.append(part)
    key = " ".join("".join(current).split())
    if key:
        out[key] = max(out.get(key, 0.0), size)
    return out


def _font_levels(lines: list[tuple[str, float]]) -> tuple[float, list[float]]:
    """The body font size (most characters) and the heading sizes, largest first."""
    weights: Counter[float] = Counter()
    for text, size in lines:
        if size:
            weights[round(size, 1)] += len(text)
    body = weights.most_common(1)[0][0] if weights else 0.0
    return body, sorted({round(s, 1) for t, s in lines if _is_heading(t, s, body)}, reverse=True)


def _emit_lines(
    lines: list[tuple[str, float]],
    outline: Outline,
    page: int,
    body: float,
    heading_sizes: list[float],
    spans: dict[int, tuple[int, Table]],
    settings: ParserSettings,
) -> None:
    """Group lines into paragraphs (blank lines and headings break them); big short lines are TITLEs;
    the lines of a ruled table become its rows."""
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            outline.add("\n".join(paragraph), ElementKind.TEXT, page=page)
            paragraph.clear()

    i = 0
    while i < len(lines):
        if i in spans:
            flush()
            i, table = spans[i]
            add_table(outline, table.rows, settings, page=page)
            continue
        text, size = lines[i]
        i += 1
        if not text.strip():
            flush()
        elif _is_heading(text, size, body):
            flush()
            outline.heading(text, min(heading_sizes.index(round(size, 1)) + 1, 3), page=page)
        else:
            paragraph.append(text)
    flush()


def _is_heading(text: str, size: float, body: float) -> bool:
    """A short line set noticeably larger than the body text."""
    stripped = text.strip()
    return bool(body and size >= body * _HEADING_RATIO and 1 < len(stripped) <= _MAX_HEADING_CHARS)


def _page_image(
    pdf_path: Path, page: Any, number: int, settings: ParserSettings, deadline: Deadline
) -> bytes | None:
    """The page as a PNG for OCR: rendered by pdftoppm, else its largest embedded image."""
    exe = shutil.which(settings.pdftoppm_cmd)
    if exe:
        out_base = pdf_path.with_name(f"page{number}")
        try:
            subprocess.run(
                [
                    exe,
                    "-r",
                    str(settings.ocr_dpi),
                    "-f",
                    str(number),
                    "-l",
                    str(number),
                    "-gray",
                    "-png",
                    "-singlefile",
                    str(pdf_path),
                    str(out_base),
                ],
                capture_output=True,
                timeout=min(settings.ocr_page_timeout_s, deadline.remaining()),
                check=True,
            )
            png = out_base.with_suffix(".png")
            data = png.read_bytes()
            png.unlink()
            return data
        except (subprocess.SubprocessError, OSError) as exc:
            logger.warning("pdftoppm failed on page %s: %s", number, exc)
    return _largest_image(page)


def _largest_image(page: Any) -> bytes | None:
    """Fallback without poppler: the page's biggest embedded image, re-encoded as PNG."""
    try:
        images = list(page.images)
    except Exception:
        return None
    best = None
    for img in images:
        try:
            pil = img.image
        except Exception:
            continue
        if pil is not None and (best is None or pil.width * pil.height > best.width * best.height):
            best = pil
    if best is None:
        return None
    buf = io.BytesIO()
    best.convert("L").save(buf, "PNG")
    return buf.getvalue()
