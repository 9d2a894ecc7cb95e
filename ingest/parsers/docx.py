"""DOCX via python-docx: paragraphs and tables in body order, headings from styles/outline levels.

A paragraph is a heading when its style is "Title"/"Heading N" or when its style chain (or the
paragraph itself) sets an outline level, which also covers localized style names ("หัวเรื่อง 1").
Text boxes are read after the paragraph that anchors them. The zip container is checked for
bombs before python-docx opens it.
"""

from __future__ import annotations

import io
import logging
import re
from typing import Any

from ingest.dates import core_property_dates
from ingest.parsed import ElementKind, ParsedDocument, ParseError
from ingest.parser_settings import ParserSettings
from ingest.parsers.limits import Deadline, guard_zip_container, require
from ingest.parsers.outline import Outline
from ingest.parsers.tabular import add_table

logger = logging.getLogger(__name__)

_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_HEADING_STYLE = re.compile(r"^heading\s*(\d)$", re.I)


def _q(tag: str) -> str:
    return f"{{{_W}}}{tag}"


def parse_docx(data: bytes, settings: ParserSettings, filename: str = "") -> ParsedDocument:
    """Parse a Word document into headings, paragraphs, list items and tables."""
    guard_zip_container(data, "DOCX", settings)
    docx = require("docx", "python-docx", "DOCX parsing")
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # PackageNotFoundError, KeyError, XMLSyntaxError...
        raise ParseError(f"corrupt DOCX: {type(exc).__name__}: {exc}") from exc
    deadline = Deadline(settings.parse_timeout_s, "DOCX")
    outline = Outline()
    body = document.element.body
    _walk(body, document, outline, settings, deadline)
    title = (document.core_properties.title or "").strip()
    return ParsedDocument(
        elements=outline.elements,
        title=title or outline.first_title(),
        metadata=core_property_dates(document.core_properties),
    )


def _walk(
    container: Any, document: Any, outline: Outline, settings: ParserSettings, deadline: Deadline
) -> None:
    """Body children in order; content controls (w:sdt) are looked into."""
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    for n, child in enumerate(container.iterchildren()):
        if n % 500 == 0:
            deadline.check(f"block {n}")
        if child.tag == _q("p"):
            _paragraph(Paragraph(child, document), outline)
        elif child.tag == _q("tbl"):
            _table(Table(child, document), outline, settings)
        elif child.tag == _q("sdt"):
            content = child.find(_q("sdtContent"))
            if content is not None:
                _walk(content, document, outline, settings, deadline)


def _paragraph(paragraph: Any, outline: Outline) -> None:
    """One paragraph as TITLE / LIST_ITEM / TEXT, then any text boxes anchored in it."""
    text = paragraph.text
    level = _heading_level(paragraph)
    if level:
        outline.heading(text, level)
    elif _is_list_item(paragraph):
        outline.add(text, ElementKind.LIST_ITEM)
    else:
        outline.add(text)
    for box in paragraph._p.iter(_q("txbxContent")):
        if any(a.tag.endswith("}Fallback") for a in box.iterancestors()):
            continue  # the same text box again, for old Word versions
        box_text = "\n".join("".join(t.text or "" for t in p.iter(_q("t"))) for p in box.iter(_q("p")))
        outline.add(box_text)


def _heading_level(paragraph: Any) -> int:
    """1-9 for headings (Title = 1), 0 for body text."""
    style = paragraph.style
    seen = 0
    while style is not None and seen < 10:
        name = (style.name or "").strip()
        if name.lower() == "title":
            return 1
        match = _HEADING_STYLE.match(name)
        if match:
            return int(match.group(1))
        level = _outline_level(style.element)
        if level is not None:
            return level
        style = style.base_style
        seen += 1
    own = _outline_level(paragraph._p)
    return own or 0


def _outline_level(element: Any) -> int | None:
    """w:pPr/w:outlineLvl as a 1-based heading level (9 = body text -> None)."""
    ppr = element.find(_q("pPr"))
    lvl = ppr.find(_q("outlineLvl")) if ppr is not None else None
    if lvl is None:
        return None
    try:
        value = int(lvl.get(_q("val")))
    except (TypeError, ValueError):
        return None
    return value + 1 if 0 <= value < 9 else None


def _is_list_item(paragraph: Any) -> bool:
    """Numbered/bulleted paragraphs (numPr on the paragraph or a "List ..." style)."""
    ppr = paragraph._p.find(_q("pPr"))
    if ppr is not None and ppr.find(_q("numPr")) is not None:
        return True
    name = (paragraph.style.name if paragraph.style is not None else "") or ""
    return name.lower().startswith("list")


def _table(table: Any, outline: Outline, settings: ParserSettings) -> None:
    """Rows with merged cells counted once; first row = headers."""
    rows = []
    for row in table.rows:
        cells, seen = [], set()
        for cell in row.cells:
            if id(cell._tc) in seen:
                continue
            seen.add(id(cell._tc))
            cells.append(cell.text)
        rows.append(cells)
    add_table(outline, rows, settings)
