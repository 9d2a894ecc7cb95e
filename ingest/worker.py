"""The CPU-heavy half of ingestion, run in a process pool: parse, normalize, detect language, chunk.

Everything here is a pure function of the task (bytes or a path, plus settings), so a crash or a kill
loses nothing that the index already holds. The embedder's tokenizer is loaded once per process from
its `tokenizer.json`, so chunk sizes are counted in the same tokens the embedder sees.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
from collections.abc import Generator, Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from indices.language import LanguageDetector, LanguageSettings
from ingest.chunker import ChunkerSettings, TokenCounter, chunk_document, document_title
from ingest.dates import RECORD_DATE_FIELDS, document_dates
from ingest.normalize import normalize_text
from ingest.parent_watch import die_with_parent
from ingest.parsed import Element, ElementKind, ParsedDocument, ParseError
from ingest.parser_settings import ParserSettings

logger = logging.getLogger(__name__)

MAX_ATTACHMENT_DEPTH = 2


@dataclass(slots=True)
class WorkerConfig:
    """What each worker process needs (picklable)."""

    parser: ParserSettings
    chunker: ChunkerSettings
    language: LanguageSettings
    tokenizer_file: str
    forced_lang: str | None = None


@dataclass(slots=True)
class ParseTask:
    """One document to parse: from a path, from bytes (fetched URL) or from an export record."""

    doc_id: str
    filename: str
    path: str | None = None
    data: bytes | None = None
    record: dict[str, Any] | None = None


@dataclass(slots=True)
class ChunkOut:
    """A chunk as produced by a worker."""

    text: str
    page: int | None
    section: list[str]
    lang: str
    tokens: int


@dataclass(slots=True)
class ParseResult:
    """The outcome for one document: chunks, or an error reason."""

    doc_id: str
    title: str = ""
    lang: str = "und"
    chunks: list[ChunkOut] = field(default_factory=list)
    pages: int = 0
    pages_ocr: int = 0
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


_state: dict[str, Any] = {}


def init_worker(config: WorkerConfig) -> None:
    """Process-pool initializer: load the tokenizer and the language detector once.

    Also called in the main process for single-document runs: a repeat call with an equal config
    keeps what is loaded (the tokenizer takes ~1 s to read).
    """
    if _state.get("config") == config:
        return
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(config.tokenizer_file)
    tok.no_truncation()
    tok.no_padding()

    def count(texts: Any) -> list[int]:
        return [len(e.ids) for e in tok.encode_batch(list(texts), add_special_tokens=False)]

    _state["config"] = config
    _state["count"] = count
    _state["detector"] = LanguageDetector(config.language)


def init_pool_worker(config: WorkerConfig) -> None:
    """Initializer of pool processes: die with the parent (`ingest.parent_watch`), then `init_worker`."""
    die_with_parent()
    init_worker(config)


def _record_document(rec: dict[str, Any]) -> ParsedDocument:
    text = str(rec.get("text", ""))
    elements = [Element(p) for p in text.split("\n\n") if p.strip()]
    given = rec.get("metadata")
    meta: dict[str, Any] = dict(given) if isinstance(given, dict) else {}
    for key in RECORD_DATE_FIELDS:  # an export's own date fields (see ingest.dates for their meaning)
        if rec.get(key) not in (None, ""):
            meta.setdefault(key, rec[key])
    return ParsedDocument(
        elements=elements,
        title=str(rec.get("title") or ""),
        lang=str(rec["lang"]) if rec.get("lang") else None,
        metadata=meta,
    )


def _parse(task: ParseTask, settings: ParserSettings) -> ParsedDocument:
    from ingest.parsers import parse_bytes

    if task.record is not None:
        return _record_document(task.record)
    if task.data is not None:
        return parse_bytes(task.data, task.filename, settings)
    assert task.path is not None
    path = Path(task.path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ParseError(f"cannot read file: {exc.strerror}") from exc
    if size > settings.max_file_bytes:
        raise ParseError(
            f"file is {size:,} bytes > limit {settings.max_file_bytes:,} (ingest.parser.max_file_bytes)"
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ParseError(f"cannot read file: {exc.strerror}") from exc
    return parse_bytes(data, task.filename, settings)


def _flatten(doc: ParsedDocument, settings: ParserSettings, depth: int = 0) -> ParsedDocument:
    """Fold attachments into the document as sections "Attachment: name", so the e-mail and its
    attachments are one document with one version (nothing orphaned when either changes)."""
    if not doc.attachments or depth >= MAX_ATTACHMENT_DEPTH:
        return doc
    from ingest.parsers import parse_bytes

    elements = list(doc.elements)
    for att in doc.attachments:
        label = f"Attachment: {att.filename}"
        try:
            sub = _flatten(parse_bytes(att.data, att.filename, settings), settings, depth + 1)
        except ParseError as exc:
            doc.warnings.append(f"attachment {att.filename!r} skipped: {exc}")
            continue
        elements.append(Element(label, ElementKind.TITLE, level=1))
        for el in sub.elements:
            elements.append(
                Element(
                    el.text,
                    el.kind,
                    page=el.page,
                    level=el.level + 1 if el.level else 0,
                    section=[label, *el.section] if el.section else [],
                )
            )
        doc.pages_ocr += sub.pages_ocr
        doc.warnings.extend(sub.warnings)
    doc.elements = elements
    doc.attachments = []
    return doc


def process(task: ParseTask) -> ParseResult:
    """Parse, normalize, detect language and chunk one document (runs inside a worker)."""
    config: WorkerConfig = _state["config"]
    count: TokenCounter = _state["count"]
    detector: LanguageDetector = _state["detector"]
    try:
        doc = _flatten(_parse(task, config.parser), config.parser)
    except ParseError as exc:
        return ParseResult(task.doc_id, error=str(exc))
    except Exception as exc:  # a parser bug must not stop the run: report it against the file
        logger.exception("parser crashed on %s", task.filename)
        return ParseResult(task.doc_id, error=f"parser failed: {type(exc).__name__}: {exc}")
    for el in doc.elements:
        el.text = normalize_text(el.text)
    full = doc.text
    if not full.strip():
        reason = "no text found"
        if doc.pages and not doc.pages_ocr:
            reason += " (no text layer; OCR unavailable or found nothing)"
        return ParseResult(task.doc_id, error=reason, pages=doc.pages)
    doc_lang = config.forced_lang or doc.lang or detector.detect(full[:4000])
    chunks = chunk_document(doc, config.chunker, count)
    out: list[ChunkOut] = []
    for ch in chunks:
        lang = config.forced_lang or (detector.detect(ch.text) if len(ch.text) >= 40 else doc_lang)
        if lang == "und":
            lang = doc_lang
        out.append(ChunkOut(ch.text, ch.page, ch.section, lang, ch.tokens))
    return ParseResult(
        task.doc_id,
        title=document_title(doc, Path(task.filename).stem),
        lang=doc_lang,
        chunks=out,
        pages=doc.pages,
        pages_ocr=doc.pages_ocr,
        warnings=doc.warnings,
        metadata={**doc.metadata, "dates": document_dates(doc.metadata, full).as_payload()},
    )


#: Reported for a document whose parsing kills its worker process even when parsed alone.
CRASH_REASON = "parser process crashed on this file (killed by a signal or out of memory)"


class ParserPool:
    """Parses tasks in spawned worker processes, yielding results in submission order with at most
    `max_in_flight` tasks queued, and survives a worker that dies (segfault in a C library, OOM kill).

    When the pool breaks, the oldest unfinished task is retried alone in a fresh pool: if that crashes
    too, it is the culprit and is reported as failed; otherwise the others are resubmitted. A crash
    thus costs one document at most, and the run goes on.
    """

    def __init__(self, config: WorkerConfig, workers: int, max_in_flight: int) -> None:
        """Remember the worker settings; processes start on the first task."""
        self._config = config
        self._workers = max(1, workers)
        self._max_in_flight = max(1, max_in_flight)
        self._pool: ProcessPoolExecutor | None = None

    def _new_pool(self, workers: int) -> ProcessPoolExecutor:
        self.close()
        ctx = mp.get_context("spawn")  # never fork a process that holds torch/OpenMP threads
        self._pool = ProcessPoolExecutor(
            workers, mp_context=ctx, initializer=init_pool_worker, initargs=(self._config,)
        )
        return self._pool

    def close(self) -> None:
        """Stop the worker processes."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def map(self, tasks: Iterable[ParseTask]) -> Generator[ParseResult, None, None]:
        """Results of `tasks`, in order."""
        pool = self._new_pool(self._workers)
        window: list[tuple[ParseTask, Future[ParseResult]]] = []
        try:
            for task in tasks:
                while len(window) >= self._max_in_flight:
                    yield self._next(window)
                window.append((task, pool.submit(process, task)))
            while window:
                yield self._next(window)
        finally:
            self.close()

    def _next(self, window: list[tuple[ParseTask, Future[ParseResult]]]) -> ParseResult:
        task, fut = window.pop(0)
        try:
            return fut.result()
        except BrokenProcessPool:
            pass
        logger.warning(
            "a parser process died while %d documents were in flight; retrying %s alone",
            len(window) + 1,
            task.filename,
        )
        try:
            result = self._new_pool(1).submit(process, task).result()
        except BrokenProcessPool:
            logger.error("parsing %s kills the parser process: skipped", task.filename)
            result = ParseResult(task.doc_id, error=CRASH_REASON)
        pool = self._new_pool(self._workers)
        window[:] = [(t, pool.submit(process, t)) for t, _ in window]
        return result
