"""The ingestion run: discover, decide what changed, parse in a process pool, embed, write, prune.

Correctness comes from the index alone (no local state file), so two machines writing to one Qdrant
server agree and a run killed at any moment converges on the next run:
- every chunk's point id is derived from (document id, chunk number): rewriting never duplicates;
- every chunk carries the document's content hash and chunk count: a document is *unchanged* only
  when all its stored chunks carry the current hash and their number equals the chunk count; anything
  else (absent, older version, half-written) is rewritten;
- chunks of other versions are deleted only after all chunks of the new version are written, so a
  reader never sees a document vanish, and a failed parse leaves the stored version untouched.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import multiprocessing as mp
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from indices.language import LanguageSettings
from indices.schema import ChunkRecord, DocumentState, IndexPoint, SearchFilter, SparseVec
from indices.sparse import SparseEncoder
from indices.text_embedder import TextEmbedder
from indices.vector_index import VectorIndex
from ingest.dates import doc_date_of, effective_date_of
from ingest.fetch import Fetcher, FetchError
from ingest.series import series_keys, supersedes_of
from ingest.settings import IngestSettings
from ingest.sources import URL_ROOT, SourceItem, discover, is_legacy_root, legacy_root_name
from ingest.worker import ParseResult, ParserPool, ParseTask, WorkerConfig, init_worker, process

if TYPE_CHECKING:
    from ingest.crawl import Crawl, SiteCrawl

logger = logging.getLogger(__name__)

#: Bump when parsing/chunking changes in a way that should re-ingest everything.
PIPELINE_VERSION = "3"


@dataclass(slots=True)
class IngestOptions:
    """Per-run choices from the command line."""

    agency: str = ""
    groups: list[str] = field(default_factory=lambda: ["public"])
    lang: str = "auto"
    prune: bool = False
    dry_run: bool = False
    url_lists: list[Path] = field(default_factory=list)
    #: crawl the sites of http(s) SOURCEs (`ingest.crawl`) instead of fetching only those URLs
    crawl: bool = False
    #: the crawl's ETag/Last-Modified file (None: kept in memory for this run only)
    crawl_state: Path | None = None


@dataclass(slots=True)
class DocOutcome:
    """What happened to one document."""

    doc_id: str
    uri: str
    status: str  # new | changed | unchanged | failed | pruned
    chunks: int = 0
    pages: int = 0
    pages_ocr: int = 0
    lang: str = ""
    reason: str = ""


@dataclass(slots=True)
class IngestReport:
    """The run's summary; `to_dict()` is the `--json` output."""

    outcomes: list[DocOutcome] = field(default_factory=list)
    stage_s: dict[str, float] = field(default_factory=dict)
    elapsed_s: float = 0.0
    dry_run: bool = False
    #: what `--crawl` did per site (requests, skipped and pruned URLs with their reasons)
    crawl: list[dict[str, Any]] | None = None

    def count(self, status: str) -> int:
        """Number of documents with this status."""
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def failed(self) -> list[DocOutcome]:
        """Documents (or sources) that could not be ingested."""
        return [o for o in self.outcomes if o.status == "failed"]

    def to_dict(self) -> dict[str, Any]:
        """Machine-readable summary."""
        written = [o for o in self.outcomes if o.status in ("new", "changed")]
        out = {
            "dry_run": self.dry_run,
            "documents": {s: self.count(s) for s in ("new", "changed", "unchanged", "failed", "pruned")},
            "chunks": sum(o.chunks for o in written),
            "pages": sum(o.pages for o in written),
            "pages_ocr": sum(o.pages_ocr for o in written),
            "stage_seconds": {k: round(v, 3) for k, v in self.stage_s.items()},
            "elapsed_seconds": round(self.elapsed_s, 3),
            "failures": [{"doc_id": o.doc_id, "source": o.uri, "reason": o.reason} for o in self.failed],
        }
        if self.crawl is not None:
            out["crawl"] = self.crawl
        return out


class ProgressSink(Protocol):
    """Receives progress events (the CLI draws a rich progress bar from them)."""

    def start(self, total: int) -> None: ...
    def advance(self, docs: int = 0, chunks: int = 0) -> None: ...


class _NoProgress:
    def start(self, total: int) -> None:
        pass

    def advance(self, docs: int = 0, chunks: int = 0) -> None:
        pass


def _agency(item: SourceItem, opts: IngestOptions) -> str:
    """The agency a document is stored under: its export record's own, else the run's `--agency`."""
    rec = item.record or {}
    return str(rec.get("agency") or opts.agency)


def _conflict(item: SourceItem, agency: str, state: DocumentState) -> str:
    """Why `item` may not be written over what is stored under its id ("" when it may)."""
    others = state.roots - {item.root}
    for root in sorted(others):
        legacy_same = (
            is_legacy_root(root)
            and item.root.startswith("file:")
            and root == legacy_root_name(item.root)
            and state.agencies <= {agency}
        )
        if not legacy_same:
            owner = ", ".join(sorted(a or "(no agency)" for a in state.agencies))
            return (
                f"document id {item.doc_id!r} is already stored from another source root ({root}, agency "
                f"{owner}); refusing to overwrite it with {item.uri} (agency {agency or '(no agency)'}). "
                "A document id belongs to one root: rename this folder (or the record's id), or remove "
                f"the other copy first with `govrag index forget --root {root}`"
            )
    if item.root == URL_ROOT and state.agencies - {agency}:
        owner = ", ".join(sorted(a or "(no agency)" for a in state.agencies))
        return (
            f"URL {item.doc_id!r} is already stored for agency {owner}; refusing to store it again for "
            f"agency {agency or '(no agency)'} (remove it first with `govrag index forget --doc URL`, "
            "or use that agency)"
        )
    return ""


def _content_hash(fingerprint: str, raw: str) -> str:
    """The hash stored with a document's chunks: its bytes' digest under the pipeline's fingerprint."""
    return hashlib.sha256(f"{fingerprint}:{raw}".encode()).hexdigest()[:40]


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass(slots=True)
class _Pending:
    """A document being written: its chunks still to flush."""

    item: SourceItem
    status: str
    content_hash: str
    result: ParseResult
    remaining: int


class Ingestor:
    """Runs ingestion against one index with one embedder and sparse encoder."""

    def __init__(
        self,
        settings: IngestSettings,
        embedder: TextEmbedder,
        sparse: SparseEncoder,
        index: VectorIndex | None,
        language: LanguageSettings,
    ) -> None:
        self.settings = settings
        self.embedder = embedder
        self.sparse = sparse
        self.index = index
        self.language = language
        self._series_patterns = settings.series.compiled()
        self._timings: dict[str, float] = {}

    # -- identity ---------------------------------------------------------------------------------------
    def pipeline_fingerprint(self, opts: IngestOptions) -> str:
        """Everything besides the bytes that shapes the stored chunks: changing any of it re-ingests."""
        parts = {
            "v": PIPELINE_VERSION,
            "chunker": self.settings.chunker.model_dump(),
            "title": self.settings.title_in_embedding,
            "embedder": self.embedder.identity.fingerprint,
            "sparse": self.sparse.identity,
            "agency": opts.agency,
            "groups": sorted(opts.groups),
            "lang": opts.lang,
            "series": self.settings.series.model_dump(),
        }
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()

    def _timed(self, stage: str, started: float) -> None:
        self._timings[stage] = self._timings.get(stage, 0.0) + time.perf_counter() - started

    # -- hashing and classification ---------------------------------------------------------------------
    def _raw_hash(self, item: SourceItem, fetcher: Fetcher | None) -> tuple[str, bytes | None]:
        if item.record is not None:
            return hashlib.sha256(json.dumps(item.record, sort_keys=True).encode()).hexdigest(), None
        if item.url is not None:
            assert fetcher is not None
            got = fetcher.fetch(item.url)
            item.size = len(got.data)
            item.uri = got.url
            return hashlib.sha256(got.data).hexdigest(), got.data
        assert item.path is not None
        limit = self.settings.parser.max_file_bytes
        if item.size > limit:
            raise ValueError(f"file is {item.size:,} bytes > limit {limit:,} (ingest.parser.max_file_bytes)")
        return _sha256_file(item.path), None

    def _classify(
        self,
        items: Sequence[SourceItem],
        fp: str,
        fetcher: Fetcher | None,
        opts: IngestOptions,
        report: IngestReport,
    ) -> Iterator[tuple[SourceItem, str, str, bytes | None]]:
        """Yield (item, status, content hash, fetched bytes) for documents that need writing.

        A document id already stored from another root (or, for URLs, by another agency) is refused:
        writing it would replace another folder's document and hand it this run's groups. A stored copy
        from another root of this one (legacy name root, older version) is rewritten to carry it."""
        batch = 256
        with ThreadPoolExecutor(max_workers=4) as pool:
            for start in range(0, len(items), batch):
                chunk = items[start : start + batch]
                t0 = time.perf_counter()
                futures = [pool.submit(self._raw_hash, it, fetcher) for it in chunk]
                hashed: list[tuple[SourceItem, str, bytes | None]] = []
                for it, fut in zip(chunk, futures, strict=True):
                    try:
                        raw, data = fut.result()
                    except (OSError, ValueError, FetchError) as exc:
                        reason = (
                            f"cannot read file: {exc.strerror}"
                            if isinstance(exc, OSError) and exc.strerror
                            else str(exc)
                        )
                        report.outcomes.append(DocOutcome(it.doc_id, it.uri, "failed", reason=reason))
                        continue
                    hashed.append((it, _content_hash(fp, raw), data))
                self._timed("hash", t0)
                states = self.index.document_states([h[0].doc_id for h in hashed]) if self.index else {}
                for it, chash, data in hashed:
                    state = states.get(it.doc_id)
                    if state is not None:
                        conflict = _conflict(it, _agency(it, opts), state)
                        if conflict:
                            report.outcomes.append(DocOutcome(it.doc_id, it.uri, "failed", reason=conflict))
                            continue
                    if state is not None and state.complete_hash == chash and state.roots == {it.root}:
                        report.outcomes.append(DocOutcome(it.doc_id, it.uri, "unchanged"))
                        continue
                    yield it, ("new" if state is None else "changed"), chash, data

    # -- the run ----------------------------------------------------------------------------------------
    def run(
        self,
        sources: Sequence[str],
        opts: IngestOptions,
        progress: ProgressSink | None = None,
        report: IngestReport | None = None,
    ) -> IngestReport:
        """Ingest `sources`; never raises for a bad document (it is reported in the result).

        Outcomes are appended to `report` as they happen when one is given, so a caller still has them
        when the run itself stops with an exception (disk full, Ctrl-C): `ingest.run_record` uses that.
        """
        progress = progress or _NoProgress()
        started = time.perf_counter()
        self._timings = {}
        if report is None:
            report = IngestReport()
        report.dry_run = opts.dry_run
        sites = [s for s in sources if opts.crawl and s.startswith(("http://", "https://"))]
        t0 = time.perf_counter()
        found = discover(
            [s for s in sources if s not in sites],
            self.settings.include,
            self.settings.exclude,
            opts.url_lists,
        )
        self._timed("discover", t0)
        crawl, crawled = self._crawl(sites, opts, report) if sites else (None, [])
        for site in crawled:
            found.items.extend(site.items)
        for prob in found.problems:
            report.outcomes.append(
                DocOutcome(prob.doc_id or prob.uri, prob.uri, "failed", reason=prob.reason)
            )
        progress.start(len(found.items))
        fp = self.pipeline_fingerprint(opts)
        fetcher = Fetcher(self.settings.fetch) if any(i.url for i in found.items) else None
        try:
            todo = self._classify(found.items, fp, fetcher, opts, report)
            if opts.dry_run:
                for it, status, _, _ in todo:
                    report.outcomes.append(DocOutcome(it.doc_id, it.uri, status))
                progress.advance(docs=len(found.items))
            else:
                self._write_all(todo, opts, report, progress)
        finally:
            if fetcher is not None:
                fetcher.close()
            if crawl is not None:
                crawl.close(commit=not opts.dry_run)
        if opts.prune:
            self._prune(found.items, found.complete_roots, sources, opts, report)
        if crawled:
            report.crawl = [self._prune_site(site, opts, report) for site in crawled]
        if (
            self.index is not None
            and not opts.dry_run
            and any(o.status in ("new", "changed", "pruned") for o in report.outcomes)
        ):
            t0 = time.perf_counter()
            self.index.optimize()
            self._timed("optimize", t0)
        report.stage_s = dict(self._timings)
        report.elapsed_s = time.perf_counter() - started
        return report

    def _crawl(
        self, sites: Sequence[str], opts: IngestOptions, report: IngestReport
    ) -> tuple[Crawl, list[SiteCrawl]]:
        """Crawl each site (`ingest.crawl`); pages answered 304 whose stored version is current are
        reported unchanged here, transient errors failed (their stored copy is kept)."""
        from ingest.crawl import Crawl

        fp = self.pipeline_fingerprint(opts)

        def is_current(doc_id: str, root: str, raw: str) -> bool:
            state = self.index.document_states([doc_id]).get(doc_id) if self.index else None
            return (
                state is not None and state.complete_hash == _content_hash(fp, raw) and state.roots == {root}
            )

        t0 = time.perf_counter()
        crawl = Crawl(self.settings.crawl, self.settings.fetch, opts.crawl_state, is_current)
        crawled = []
        try:
            for start in sites:
                site = crawl.crawl(start)
                crawled.append(site)
                report.outcomes.extend(DocOutcome(d, u, "unchanged") for d, u in site.unchanged)
                report.outcomes.extend(DocOutcome(d, u, "failed", reason=r) for d, u, r in site.failed)
        except BaseException:
            crawl.close(commit=False)
            raise
        self._timed("crawl", t0)
        return crawl, crawled

    def _prune_site(self, site: SiteCrawl, opts: IngestOptions, report: IngestReport) -> dict[str, Any]:
        """Remove the site's stored documents that its crawl found gone; returns the site's report."""
        summary = site.summary()
        stale = site.stale(self.index) if self.index is not None else []
        if stale and self.index is not None and not opts.dry_run:
            self.index.delete_documents([doc_id for doc_id, _, _ in stale])
        for doc_id, source, reason in stale:
            report.outcomes.append(DocOutcome(doc_id, source, "pruned", reason=reason))
        summary["pruned"] = [{"doc_id": d, "source": s, "reason": r} for d, s, r in stale]
        return summary

    def _worker_config(self, opts: IngestOptions) -> WorkerConfig:
        return WorkerConfig(
            parser=self.settings.parser,
            chunker=self.settings.chunker,
            language=self.language,
            tokenizer_file=str(self.embedder.tokenizer_file),
            forced_lang=None if opts.lang in ("", "auto") else opts.lang,
        )

    def _tasks(
        self, todo: Iterator[tuple[SourceItem, str, str, bytes | None]], pending: dict[str, _Pending]
    ) -> Iterator[ParseTask]:
        for it, status, chash, data in todo:
            pending[it.doc_id] = _Pending(it, status, chash, ParseResult(it.doc_id), 0)
            name = it.path.name if it.path is not None else (it.url or it.doc_id).rsplit("/", 1)[-1]
            yield ParseTask(
                doc_id=it.doc_id,
                filename=name,
                path=str(it.path) if it.path is not None and data is None else None,
                data=data,
                record=it.record,
            )

    def _results(self, tasks: Iterator[ParseTask], opts: IngestOptions) -> Iterator[ParseResult]:
        """Parse in a process pool, keeping at most `max_in_flight` documents ahead of the writer."""
        config = self._worker_config(opts)
        workers = self.settings.workers or max(1, (mp.cpu_count() or 2) - 1)
        first = [t for _, t in zip(range(2), tasks, strict=False)]
        if not first:  # nothing changed: load nothing
            return
        if len(first) < 2:  # one document: not worth starting processes
            init_worker(config)
            yield from (process(t) for t in first)
            return
        pool = ParserPool(config, workers, self.settings.max_in_flight)
        results = pool.map(itertools.chain(first, tasks))
        try:
            while True:
                t0 = time.perf_counter()
                res = next(results, None)
                self._timed("parse_wait", t0)
                if res is None:
                    return
                yield res
        finally:
            results.close()  # stops the worker processes

    def _write_all(
        self,
        todo: Iterator[tuple[SourceItem, str, str, bytes | None]],
        opts: IngestOptions,
        report: IngestReport,
        progress: ProgressSink,
    ) -> None:
        assert self.index is not None
        pending: dict[str, _Pending] = {}
        buffer: list[ChunkRecord] = []
        now = time.time()
        for res in self._results(self._tasks(todo, pending), opts):
            doc = pending[res.doc_id]
            if res.error is not None or not res.chunks:
                del pending[res.doc_id]
                reason = res.error or "no text found"
                report.outcomes.append(DocOutcome(res.doc_id, doc.item.uri, "failed", reason=reason))
                progress.advance(docs=1)
                continue
            doc.result, doc.remaining = res, len(res.chunks)
            buffer.extend(self._records(doc, opts, now))
            if len(buffer) >= self.settings.embed_batch:
                self._flush(buffer, pending, report, progress)
                buffer = []
        self._flush(buffer, pending, report, progress)

    def _records(self, doc: _Pending, opts: IngestOptions, now: float) -> list[ChunkRecord]:
        res, item = doc.result, doc.item
        rec = item.record or {}
        rec_groups = rec.get("groups")
        groups: list[Any] = rec_groups if isinstance(rec_groups, list) else opts.groups
        agency = _agency(item, opts)
        dates: dict[str, Any] = res.metadata.get("dates") or {}
        extra: dict[str, Any] = {"dates": dates} if dates else {}
        if self.settings.series.supersedes and supersedes_of(item.record):
            extra["supersedes"] = supersedes_of(item.record)
        series = series_keys(
            doc_id=res.doc_id,
            title=self._text_title(ChunkRecord(res.doc_id, 0, "", title=res.title)),
            text=res.chunks[0].text if res.chunks else "",
            url=item.uri,
            agency=agency,
            record=item.record,
            settings=self.settings.series,
            patterns=self._series_patterns,
        )
        effective = effective_date_of(dates)
        return [
            ChunkRecord(
                doc_id=res.doc_id,
                chunk_no=i,
                text=ch.text,
                title=res.title,
                source=item.uri,
                page=ch.page,
                section=ch.section,
                lang=ch.lang,
                agency=agency,
                groups=[str(g) for g in groups],
                content_hash=doc.content_hash,
                n_chunks=len(res.chunks),
                ingested_at=now,
                root=item.root,
                doc_date=doc_date_of(dates),
                series=series,
                effective_from=effective,
                extra=extra,
            )
            for i, ch in enumerate(res.chunks)
        ]

    @staticmethod
    def _text_title(rec: ChunkRecord) -> str:
        """The title worth indexing with the text: not one that merely repeats the document's name.

        A document without a title is shown under its id or file name (the worker's fallback); embedding
        that name ("belebele-en-p000", "scan0001") adds noise to every chunk's vector: measured -1.7
        points of recall@10 on the shared cross-lingual set (docs/eval-results.md).
        """
        name = rec.doc_id.rsplit("/", 1)[-1]
        if rec.title in (rec.doc_id, name, name.rsplit(".", 1)[0]):
            return ""
        return rec.title

    def _embed_text(self, rec: ChunkRecord) -> str:
        title = self._text_title(rec)
        if self.settings.title_in_embedding and title and not rec.text.startswith(title):
            return f"{title}\n{rec.text}"
        return rec.text

    def _flush(
        self,
        records: list[ChunkRecord],
        pending: dict[str, _Pending],
        report: IngestReport,
        progress: ProgressSink,
    ) -> None:
        assert self.index is not None
        if not records:
            return
        self._write_points(records)
        t0 = time.perf_counter()
        for r in records:
            doc = pending[r.doc_id]
            doc.remaining -= 1
            if doc.remaining == 0:
                if doc.status == "changed":
                    self.index.delete_stale_chunks(r.doc_id, doc.content_hash)
                res = doc.result
                report.outcomes.append(
                    DocOutcome(
                        r.doc_id,
                        doc.item.uri,
                        doc.status,
                        chunks=len(res.chunks),
                        pages=res.pages,
                        pages_ocr=res.pages_ocr,
                        lang=res.lang,
                    )
                )
                del pending[r.doc_id]
                progress.advance(docs=1)
        progress.advance(chunks=len(records))
        self._timed("write", t0)
        logger.debug("flushed %d chunks (%d documents still pending)", len(records), len(pending))

    @classmethod
    def _sparse_text(cls, rec: ChunkRecord) -> str:
        return f"{cls._text_title(rec)}\n{rec.text}"

    def _write_points(self, records: list[ChunkRecord]) -> None:
        """Embed (dense and sparse) and upsert `records`; an executor may do this elsewhere
        (`ingest.ray_executor`). Returns once every point is written."""
        t0 = time.perf_counter()
        dense = np.asarray(self.embedder.embed_passages([self._embed_text(r) for r in records]))
        self._timed("embed", t0)
        t0 = time.perf_counter()
        sparse = self.sparse.encode_documents([self._sparse_text(r) for r in records])
        self._timed("sparse", t0)
        self._upsert(records, dense, sparse)

    def _upsert(self, records: list[ChunkRecord], dense: np.ndarray, sparse: Sequence[SparseVec]) -> None:
        assert self.index is not None
        t0 = time.perf_counter()
        step = self.settings.upsert_batch
        for s in range(0, len(records), step):
            points = [
                IndexPoint(record=r, dense=dense[i].tolist(), sparse=sparse[i])
                for i, r in enumerate(records[s : s + step], start=s)
            ]
            self.index.upsert(points)
        self._timed("write", t0)

    def _prune(
        self,
        items: Sequence[SourceItem],
        complete_roots: set[str],
        sources: Sequence[str],
        opts: IngestOptions,
        report: IngestReport,
    ) -> None:
        """Delete documents of exactly the given roots that were not found again (only fully listed roots).

        Documents stored before roots were URIs carry the root's bare name; those are pruned only when
        their source lies under one of the given roots (never another folder of the same name)."""
        if self.index is None or not complete_roots:
            return
        t0 = time.perf_counter()
        seen = {it.doc_id for it in items} | {o.doc_id for o in report.outcomes}
        legacy: dict[str, list[str]] = {}
        for r in complete_roots:
            if r.startswith("file:"):
                legacy.setdefault(legacy_root_name(r), []).append(r)
        scope = sorted(complete_roots | set(legacy))

        def in_scope(root: str, source: str) -> bool:
            if root in complete_roots:
                return True
            return any(source == r or source.startswith(r + "/") for r in legacy.get(root, []))

        stale = [
            d
            for d in self.index.iter_documents(SearchFilter(roots=scope))
            if d.doc_id not in seen and in_scope(d.root, d.source)
        ]
        if stale and not opts.dry_run:
            self.index.delete_documents([d.doc_id for d in stale])
        for d in stale:
            report.outcomes.append(DocOutcome(d.doc_id, d.source, "pruned"))
        self._timed("prune", t0)
