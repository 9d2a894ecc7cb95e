"""govrag's parsers as a LlamaIndex reader: every format govrag ingests, OCR included, as `Document`s.

LlamaIndex's own file readers cover fewer formats and, for Thai PDFs, lose stacked vowels (pdfminer); this
reader gives LlamaIndex pipelines govrag's parsers (PDF with OCR for scanned pages, DOCX, PPTX, XLSX, HTML,
Markdown, text, e-mail) with the same limits and errors. Paged formats give one `Document` per page with
LlamaIndex's usual `page_label`; others give one `Document`. Use it alone or as `SimpleDirectoryReader`'s
`file_extractor` (see `file_extractor()`).
"""

from __future__ import annotations

from itertools import groupby
from pathlib import Path
from typing import Any

from llama_index.core import Document
from llama_index.core.readers.base import BaseReader

from ingest.parsed import Element, ParsedDocument
from ingest.parser_settings import ParserSettings
from ingest.parsers import parse_path

#: File extensions the reader handles (what `SimpleDirectoryReader` should route to it).
EXTENSIONS = (
    ".pdf", ".docx", ".pptx", ".xlsx", ".html", ".htm", ".md", ".markdown", ".txt", ".eml", ".msg",
    ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".doc", ".xls", ".ppt", ".odt", ".ods", ".odp", ".rtf", ".epub",
)  # fmt: skip


class GovragReader(BaseReader):
    """Reads one file with govrag's parsers; bad input raises `ingest.parsed.ParseError` saying why."""

    def __init__(self, settings: ParserSettings | None = None) -> None:
        self.settings = settings or ParserSettings()

    def load_data(self, file: Path | str, extra_info: dict[str, Any] | None = None) -> list[Document]:
        """The file's text as Documents (one per page for PDF/PPTX/XLSX), with file and page metadata."""
        path = Path(file)
        parsed = parse_path(path, self.settings)
        base: dict[str, Any] = {
            "file_name": path.name,
            "file_path": str(path),
            "title": parsed.title or path.stem,
            "format": parsed.metadata.get("format", ""),
        }
        if parsed.lang:
            base["lang"] = parsed.lang
        if parsed.pages_ocr:
            base["pages_ocr"] = parsed.pages_ocr
        base.update(extra_info or {})
        return [Document(text=text, metadata={**base, **meta}) for text, meta in _page_texts(parsed) if text]


def _page_texts(parsed: ParsedDocument) -> list[tuple[str, dict[str, Any]]]:
    """Element text joined per page (headings on their own lines), or once for unpaged documents."""
    if not any(e.page for e in parsed.elements):
        return [(_join(parsed.elements), {})]
    return [
        (_join(list(elements)), {"page_label": str(page)} if page else {})
        for page, elements in groupby(parsed.elements, key=lambda e: e.page)
    ]


def _join(elements: list[Element]) -> str:
    return "\n\n".join(e.text for e in elements if e.text)


def file_extractor(settings: ParserSettings | None = None) -> dict[str, BaseReader]:
    """`{extension: GovragReader}` for `SimpleDirectoryReader(..., file_extractor=file_extractor())`."""
    reader = GovragReader(settings)
    return dict.fromkeys(EXTENSIONS, reader)
