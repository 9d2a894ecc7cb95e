"""What a parser returns: a document as an ordered list of structural elements.

Parsers (one module per format under `ingest/parsers/`) produce `ParsedDocument`; the chunker
(`ingest/chunker.py`) turns its elements into chunks that keep page, section path and language.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class ElementKind(StrEnum):
    """The structural role of an element; the chunker keeps headings with what follows them and
    tables whole where they fit."""

    TITLE = "title"  # a heading; `level` says how deep (1 = top)
    TEXT = "text"  # a paragraph or narrative text
    LIST_ITEM = "list_item"
    TABLE = "table"  # rendered as readable rows ("Header: value; Header: value")
    CODE = "code"


@dataclass(slots=True)
class Element:
    """One block of a document, in reading order."""

    text: str
    kind: ElementKind = ElementKind.TEXT
    page: int | None = None  # 1-based page number for paged formats (PDF, PPTX slide, XLSX sheet no.)
    level: int = 0  # heading level for TITLE elements
    section: list[str] = field(default_factory=list)  # heading path above this element, if known


@dataclass(slots=True)
class Attachment:
    """A file carried inside another (an e-mail attachment): parsed as its own document."""

    filename: str
    data: bytes
    content_type: str = ""


@dataclass(slots=True)
class ParsedDocument:
    """A parsed source document."""

    elements: list[Element]
    title: str = ""
    lang: str | None = None  # set when the source says so (JSONL record, HTML lang attribute)
    metadata: dict[str, Any] = field(default_factory=dict)
    pages: int = 0  # number of pages for paged formats
    pages_ocr: int = 0  # pages whose text came from OCR
    attachments: list[Attachment] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        """All element text joined by blank lines (used for hashing and language detection)."""
        return "\n\n".join(e.text for e in self.elements if e.text)


class ParseError(Exception):
    """A source could not be parsed; the message says why in words a user can act on."""
