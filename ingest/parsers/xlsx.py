"""XLSX via openpyxl (read-only, cached values): one page per sheet, rows rendered with their headers.

Each visible sheet becomes a TITLE (the sheet name, `page` = sheet number) followed by TABLE
elements. Title rows above the header (a single filled cell, e.g. a report name) are kept as TEXT
and the first row with two or more filled cells is the header.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
from collections.abc import Iterator
from typing import Any

from ingest.parsed import ParsedDocument, ParseError
from ingest.parser_settings import ParserSettings
from ingest.parsers.limits import Deadline, guard_zip_container, require
from ingest.parsers.outline import Outline
from ingest.parsers.tabular import add_table

logger = logging.getLogger(__name__)


def parse_xlsx(data: bytes, settings: ParserSettings, filename: str = "") -> ParsedDocument:
    """Parse a workbook; `Element.page` is the 1-based sheet number."""
    guard_zip_container(data, "XLSX", settings)
    openpyxl = require("openpyxl", "openpyxl", "XLSX parsing")
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # InvalidFileException, KeyError, XMLSyntaxError...
        raise ParseError(f"corrupt XLSX: {type(exc).__name__}: {exc}") from exc
    deadline = Deadline(settings.parse_timeout_s, "XLSX")
    outline = Outline()
    warnings: list[str] = []
    try:
        sheets = list(book.worksheets)
        for number, sheet in enumerate(sheets, start=1):
            deadline.check(f"sheet {number}")
            if getattr(sheet, "sheet_state", "visible") != "visible":
                warnings.append(f"hidden sheet {sheet.title!r} skipped")
                continue
            outline.reset()
            outline.heading(sheet.title, 1, page=number)
            rows = _rows(sheet, settings, warnings, deadline)
            caption_done = False
            pending: list[list[Any]] = []
            for row in rows:
                filled = [c for c in row if c not in (None, "")]
                if not caption_done and len(filled) == 1:
                    outline.add(_value(filled[0]), page=number)  # a title row above the header
                    continue
                caption_done = True
                pending.append(row)
                break
            add_table(outline, _chain(pending, rows), settings, page=number)
        title = (book.properties.title or "").strip() if book.properties else ""
    except ParseError:
        raise
    except Exception as exc:
        raise ParseError(f"corrupt XLSX: {type(exc).__name__}: {exc}") from exc
    finally:
        book.close()
    return ParsedDocument(elements=outline.elements, title=title, pages=len(sheets), warnings=warnings)


def _value(value: Any) -> str:
    """Dates without a time as ISO dates; everything else as text."""
    if isinstance(value, dt.datetime) and value.time() == dt.time(0):
        return value.date().isoformat()
    return str(value)


def _rows(
    sheet: Any, settings: ParserSettings, warnings: list[str], deadline: Deadline
) -> Iterator[list[Any]]:
    """Cell values row by row, capped at `max_rows`, trailing empty cells trimmed."""
    for n, row in enumerate(sheet.iter_rows(values_only=True), start=1):
        if n > settings.max_rows:
            warnings.append(f"sheet {sheet.title!r}: only the first {settings.max_rows:,} rows were read")
            return
        if n % 5000 == 0:
            deadline.check(f"sheet {sheet.title!r} row {n}")
        values = [_value(v) if isinstance(v, dt.datetime) else v for v in row]
        while values and values[-1] in (None, ""):
            values.pop()
        yield values


def _chain(first: list[list[Any]], rest: Iterator[list[Any]]) -> Iterator[list[Any]]:
    yield from first
    yield from rest
