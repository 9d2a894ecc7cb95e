"""Document parsers: bytes in, `ParsedDocument` out, picked by the sniffed format.

Every parser is a pure function `(data, settings, filename) -> ParsedDocument` with no network access
and no global state, so it can run in a process pool. Failures are `ParseError`s whose message says
why ("encrypted PDF (password required)", "zip bomb: DOCX expands to 1.2 GB > limit 200 MB"); a bug
inside a third-party library surfaces as a `ParseError` naming the format and the exception, never
as a crash of the worker.

Direct libraries are used instead of `unstructured` (checked again with 0.27.35): it classifies every
text block with spaCy's `en_core_web_sm`, which it downloads from GitHub at first use, so every
partitioner fails offline; no argument or environment variable avoids it (`languages=[...]`,
`detect_language_per_element=False` and `UNSTRUCTURED_LANGUAGE_CHECKS=false` were tried), only replacing
the private `unstructured.nlp.tokenize._get_nlp` does. It also sends an analytics ping on import
unless `DO_NOT_TRACK=1`, pulls spaCy/numba (~600 MB), and its title/narrative heuristics are English-only
(unspaced Thai paragraphs come out as titles). For the formats it would add (ODT, RTF, EPUB) the work is
done instead by headless LibreOffice (`ingest.parsers.libreoffice`: legacy DOC/XLS/PPT, ODT/ODS/ODP,
RTF, converted to DOCX/XLSX/PPTX and read by the parsers above) and, for EPUB, by reading its XHTML
chapters with the HTML parser (`ingest.parsers.epub`); pandoc is not needed for either.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from ingest.parsed import ParsedDocument, ParseError
from ingest.parser_settings import ParserSettings
from ingest.parsers.limits import human_size
from ingest.sniff import DocFormat, sniff_format

logger = logging.getLogger(__name__)

#: A parser: (file bytes, settings, file name) -> document.
Parser = Callable[[bytes, ParserSettings, str], ParsedDocument]


def _lazy(module: str, func: str) -> Parser:
    """A parser imported on first use, so importing the registry pulls in no format library."""

    def run(data: bytes, settings: ParserSettings, filename: str) -> ParsedDocument:
        import importlib

        parser: Parser = getattr(importlib.import_module(f"ingest.parsers.{module}"), func)
        return parser(data, settings, filename)

    run.__name__ = f"{module}.{func}"
    run.__doc__ = f"Lazily imported `ingest.parsers.{module}.{func}`."
    return run


def _converted(source: str) -> Parser:
    """A format LibreOffice converts to DOCX/XLSX/PPTX first (imported on first use)."""

    def run(data: bytes, settings: ParserSettings, filename: str) -> ParsedDocument:
        from ingest.parsers.libreoffice import parse_converted

        return parse_converted(source, data, settings, filename)

    run.__name__ = f"libreoffice.{source}"
    run.__doc__ = f"{source.upper()} converted by `ingest.parsers.libreoffice`, then parsed."
    return run


#: Format name (a `DocFormat` value) -> parser.
PARSERS: dict[str, Parser] = {
    DocFormat.PDF: _lazy("pdf", "parse_pdf"),
    DocFormat.DOCX: _lazy("docx", "parse_docx"),
    DocFormat.PPTX: _lazy("pptx", "parse_pptx"),
    DocFormat.XLSX: _lazy("xlsx", "parse_xlsx"),
    DocFormat.HTML: _lazy("html", "parse_html"),
    DocFormat.MARKDOWN: _lazy("markdown", "parse_markdown"),
    DocFormat.TEXT: _lazy("text", "parse_text"),
    DocFormat.CSV: _lazy("tabular", "parse_csv"),
    DocFormat.EML: _lazy("email", "parse_eml"),
    DocFormat.MSG: _lazy("email", "parse_msg"),
    DocFormat.IMAGE: _lazy("ocr", "parse_image"),
    DocFormat.EPUB: _lazy("epub", "parse_epub"),
    DocFormat.DOC: _converted("doc"),
    DocFormat.XLS: _converted("xls"),
    DocFormat.PPT: _converted("ppt"),
    DocFormat.ODT: _converted("odt"),
    DocFormat.ODS: _converted("ods"),
    DocFormat.ODP: _converted("odp"),
    DocFormat.RTF: _converted("rtf"),
}


def parse_bytes(data: bytes, filename: str = "", settings: ParserSettings | None = None) -> ParsedDocument:
    """Parse a file's bytes; `filename` (may be empty) only helps tell text formats apart.

    Raises `ParseError` with the reason for empty, oversized, unsupported, corrupt, encrypted or
    hostile input. The sniffed format is recorded as `metadata["format"]`.
    """
    settings = settings or ParserSettings()
    if len(data) > settings.max_file_bytes:
        raise ParseError(
            f"file too large: {human_size(len(data))} > limit {human_size(settings.max_file_bytes)} "
            "(ingest.parser.max_file_bytes)"
        )
    fmt = sniff_format(data, filename)
    parser = PARSERS[fmt]
    try:
        doc = parser(data, settings, filename)
    except ParseError:
        raise
    except (MemoryError, RecursionError) as exc:
        raise ParseError(f"{fmt.value.upper()} too complex to parse ({type(exc).__name__})") from exc
    except Exception as exc:  # a library bug on odd input must not take the worker down
        logger.warning("%s parser failed on %r", fmt.value, filename, exc_info=True)
        raise ParseError(f"unreadable {fmt.value.upper()}: {type(exc).__name__}: {exc}") from exc
    doc.metadata.setdefault("format", fmt.value)
    return doc


def parse_path(path: Path, settings: ParserSettings | None = None) -> ParsedDocument:
    """Parse a file on disk, checking its size before reading it."""
    settings = settings or ParserSettings()
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ParseError(f"cannot read {path}: {exc.strerror}") from exc
    if size > settings.max_file_bytes:
        raise ParseError(
            f"file too large: {human_size(size)} > limit {human_size(settings.max_file_bytes)} "
            "(ingest.parser.max_file_bytes)"
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ParseError(f"cannot read {path}: {exc.strerror}") from exc
    return parse_bytes(data, path.name, settings)


__all__ = ["PARSERS", "DocFormat", "ParseError", "Parser", "parse_bytes", "parse_path", "sniff_format"]
