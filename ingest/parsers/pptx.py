"""PPTX via python-pptx: one page per slide, the slide title as a heading, shapes top-to-bottom.

Text frames become TEXT (indented paragraphs as LIST_ITEMs), tables become TABLE rows, group shapes
are looked into, speaker notes follow the slide as TEXT ("Notes: ...").
"""

from __future__ import annotations

import io
import logging
from typing import Any

from ingest.dates import core_property_dates
from ingest.parsed import ElementKind, ParsedDocument, ParseError
from ingest.parser_settings import ParserSettings
from ingest.parsers.limits import Deadline, guard_zip_container, require
from ingest.parsers.outline import Outline
from ingest.parsers.tabular import add_table

logger = logging.getLogger(__name__)


def parse_pptx(data: bytes, settings: ParserSettings, filename: str = "") -> ParsedDocument:
    """Parse a PowerPoint deck; `Element.page` is the 1-based slide number."""
    guard_zip_container(data, "PPTX", settings)
    pptx = require("pptx", "python-pptx", "PPTX parsing")
    try:
        deck = pptx.Presentation(io.BytesIO(data))
        slides = list(deck.slides)
    except Exception as exc:  # PackageNotFoundError, KeyError, XMLSyntaxError...
        raise ParseError(f"corrupt PPTX: {type(exc).__name__}: {exc}") from exc
    deadline = Deadline(settings.parse_timeout_s, "PPTX")
    outline = Outline()
    warnings: list[str] = []
    for number, slide in enumerate(slides, start=1):
        if number > settings.max_pages:
            warnings.append(
                f"only the first {settings.max_pages:,} slides were read (ingest.parser.max_pages)"
            )
            break
        deadline.check(f"slide {number}")
        outline.reset()
        title_shape = slide.shapes.title
        if title_shape is not None and title_shape.has_text_frame and title_shape.text_frame.text.strip():
            outline.heading(title_shape.text_frame.text, 1, page=number)
        for shape in _ordered(slide.shapes):
            if title_shape is not None and shape.shape_id == title_shape.shape_id:
                continue
            _shape(shape, outline, settings, number)
        if slide.has_notes_slide:
            notes = slide.notes_slide.notes_text_frame
            if notes is not None and notes.text.strip():
                outline.add(f"Notes: {notes.text}", ElementKind.TEXT, page=number)
    title = (deck.core_properties.title or "").strip()
    return ParsedDocument(
        elements=outline.elements,
        title=title or outline.first_title(),
        pages=len(slides),
        warnings=warnings,
        metadata=core_property_dates(deck.core_properties),
    )


def _ordered(shapes: Any) -> list[Any]:
    """Shapes in reading order: top to bottom, then left to right (placeholders may lack positions)."""
    return sorted(shapes, key=lambda s: ((s.top or 0) // 50_000, s.left or 0))


def _shape(shape: Any, outline: Outline, settings: ParserSettings, page: int) -> None:
    """Text, table or group shape -> elements."""
    from pptx.enum.shapes import MSO_SHAPE_TYPE

    if shape.shape_type == MSO_SHAPE_TYPE.GROUP:
        for inner in _ordered(shape.shapes):
            _shape(inner, outline, settings, page)
        return
    if getattr(shape, "has_table", False) and shape.has_table:
        rows = [[cell.text for cell in row.cells] for row in shape.table.rows]
        add_table(outline, rows, settings, page=page)
        return
    if getattr(shape, "has_text_frame", False) and shape.has_text_frame:
        block: list[str] = []
        for para in shape.text_frame.paragraphs:
            text = para.text
            if not text.strip():
                continue
            if para.level > 0:
                if block:
                    outline.add("\n".join(block), ElementKind.TEXT, page=page)
                    block = []
                outline.add(text, ElementKind.LIST_ITEM, page=page)
            else:
                block.append(text)
        if block:
            outline.add("\n".join(block), ElementKind.TEXT, page=page)
