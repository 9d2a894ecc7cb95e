"""Tables as readable rows ("Header: value | Header: value"), and the CSV/TSV parser.

Every rendered row repeats its headers, so any slice of rows the chunker keeps is understandable on
its own (and retrievable by a question that names a column). DOCX, PPTX, XLSX, HTML and Markdown
tables go through `add_table` too.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterable, Sequence
from pathlib import PurePath

from ingest.parsed import ElementKind, ParsedDocument, ParseError
from ingest.parser_settings import ParserSettings
from ingest.parsers.outline import Outline
from ingest.parsers.text import decode_text

logger = logging.getLogger(__name__)

_DELIMITERS = ",;\t|"


def _cell(value: object) -> str:
    """A cell as one line of text ("" for empty)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return " ".join(str(value).split())


def render_row(header: Sequence[str], row: Sequence[object]) -> str:
    """One row as "Header: value | Header: value"; empty cells are left out."""
    parts = []
    for i, value in enumerate(row):
        text = _cell(value)
        if not text:
            continue
        name = header[i] if i < len(header) and header[i] else f"Column {i + 1}"
        parts.append(f"{name}: {text}")
    return " | ".join(parts)


def add_table(
    outline: Outline,
    rows: Iterable[Sequence[object]],
    settings: ParserSettings,
    page: int | None = None,
    header: Sequence[object] | None = None,
) -> int:
    """Add a table as TABLE elements of at most `table_rows_per_element` rows each.

    Without `header`, the first non-empty row is the header. A table that is only a header row
    (a one-row layout table) is added as plain " | "-joined text. Returns the number of data rows.
    """
    names: list[str] | None = [_cell(h) for h in header] if header is not None else None
    block: list[str] = []
    count = 0
    for row in rows:
        cells = list(row)
        if not any(_cell(c) for c in cells):
            continue
        if names is None:
            names = [_cell(c) for c in cells]
            continue
        line = render_row(names, cells)
        if not line:
            continue
        block.append(line)
        count += 1
        if len(block) >= settings.table_rows_per_element:
            outline.add("\n".join(block), ElementKind.TABLE, page=page)
            block = []
    if block:
        outline.add("\n".join(block), ElementKind.TABLE, page=page)
    if count == 0 and names and any(names):
        outline.add(" | ".join(n for n in names if n), ElementKind.TEXT, page=page)
    return count


def parse_csv(data: bytes, settings: ParserSettings, filename: str = "") -> ParsedDocument:
    """Parse CSV/TSV: detect encoding and delimiter, first row = headers, rows as TABLE elements."""
    text, codec = decode_text(data, settings.text_encoding)
    text = text.lstrip("\ufeff")
    delimiter = _delimiter(text, PurePath(filename).suffix.lower())
    csv.field_size_limit(max(settings.max_file_bytes, 131072))
    warnings: list[str] = []

    def rows() -> Iterable[list[str]]:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        for n, row in enumerate(reader):
            if n > settings.max_rows:
                warnings.append(
                    f"only the first {settings.max_rows:,} rows were read (ingest.parser.max_rows)"
                )
                return
            yield row

    outline = Outline()
    try:
        count = add_table(outline, rows(), settings)
    except csv.Error as exc:
        raise ParseError(f"malformed CSV: {exc}") from exc
    return ParsedDocument(
        elements=outline.elements,
        metadata={"encoding": codec, "delimiter": delimiter, "rows": count},
        warnings=warnings,
    )


def _delimiter(text: str, ext: str) -> str:
    """The field separator: tab for .tsv, else what csv.Sniffer sees among , ; tab |."""
    if ext == ".tsv":
        return "\t"
    try:
        return csv.Sniffer().sniff(text[:8192], delimiters=_DELIMITERS).delimiter
    except csv.Error:
        first = text.split("\n", 1)[0]
        return max(_DELIMITERS, key=first.count) if any(d in first for d in _DELIMITERS) else ","
