"""The behaviour both Qdrant adapters share, written once against a few backend primitives.

`QdrantIndexBase` implements the `VectorIndex` port (batching, document bookkeeping, search planning,
one-chunk-per-document, result mapping, identity checks); `EdgeIndex` and `ServerIndex` only supply
the primitives (`_upsert_batch`, `_delete`, `_count`, `_scroll`, `_doc_counts`, `_retrieve`,
`_nearest`, `_fused`) in their library's types. Identical planning is what makes the two adapters
return the same ids for the same data (tests/test_index_contract.py checks it).

Search plan:
* hybrid = a dense and a BM25 candidate list of `prefetch` chunks each, fused by score (`fusion="zscore"`,
  the default): each list's scores are standardised (z = (score - mean) / std over the list), a chunk
  missing from a full list gets that list's lowest z (its score is below every listed one), and the
  fused score is (1 - w) * z_dense + w * z_bm25 with w = `bm25_weight` (0.5). When BM25 returned fewer
  chunks than asked, every other chunk truly scores 0 and those zeros count in its statistics. Unlike
  reciprocal-rank fusion, this keeps *how far* a candidate stands out of its list: a BM25 match far
  ahead of the rest (a rare name, a number) beats a dense order whose top candidates are close
  together, and vice versa. `fusion="rrf"` asks Qdrant for reciprocal-rank fusion instead (score = sum
  of 1 / (k + rank), rank from 0, k = `rrf_k`). Measurements: docs/eval-results.md;
* every filter is passed to each candidate query (and the fusion stage), so it is applied inside the
  index (a chunk outside the caller's groups is never a candidate, and top-k is filled with visible ones);
* one-chunk-per-document: hybrid fuses the *whole* candidate pool (each list raised to
  `limit x overfetch`) and keeps each document's best chunk: exact with respect to the pool. Single-signal
  modes page with "not these documents" filters until `limit` documents are found (the server adapter
  uses Qdrant's group-by query instead);
* ties are broken by point id so both backends order equal scores the same way.
"""

from __future__ import annotations

import abc
import importlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from indices.errors import EmbedderMismatchError
from indices.filters import (
    STATE_FIELDS,
    SUMMARY_FIELDS,
    VERSION_FIELDS,
    FilterSpec,
    build_spec,
    docs_spec,
    exclude_docs_spec,
    stale_spec,
    versions_spec,
)
from indices.index_check import IndexCheckReport, ScannedPoint, run_check
from indices.registry import IndexSettings
from indices.schema import (
    ChunkRecord,
    DocumentState,
    DocumentSummary,
    DocumentVersion,
    EmbedderIdentity,
    Hit,
    IndexPoint,
    SearchFilter,
    SearchMode,
    SearchQuery,
    SparseVec,
)

#: (point id, score, payload) as returned by an adapter primitive.
RawHit = tuple[str, float, dict[str, Any]]

DENSE = "dense"
BM25 = "bm25"
#: Points per scroll request.
SCROLL_PAGE = 1000


# ---------------------------------------------------------------------- helpers for the adapters
# The two libraries name their types alike (SparseVector, SearchParams, ...) and return records and
# scored points with the same `id`, `score` and `payload` attributes: what only differs by the library
# object is written here once, the library passed in.


def import_backend(module: str, missing: str) -> Any:
    """The backend library `module`, imported on first use; `missing` says how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(missing) from exc


def hnsw_options(settings: IndexSettings) -> dict[str, Any]:
    """The HNSW build parameters of `settings`, as keyword arguments of either library's HNSW config."""
    return {
        "m": settings.hnsw_m,
        "ef_construct": settings.hnsw_ef_construct,
        "full_scan_threshold": settings.full_scan_threshold_kb,
        "max_indexing_threads": settings.indexing_threads,
    }


def sparse_vector(sparse_cls: Any, vec: SparseVec) -> Any:
    """`vec` as the library's `SparseVector` class `sparse_cls`."""
    return sparse_cls(indices=list(vec.indices), values=[float(v) for v in vec.values])


def payload_fields(fields: list[str] | None) -> list[str] | bool:
    """The `with_payload` argument: these fields, or the whole payload when `fields` is None."""
    return fields if fields is not None else True


def delete_filter(spec: FilterSpec, convert: Callable[[FilterSpec], Any]) -> Any:
    """`convert(spec)` for a delete: None when `spec` matches nothing (nothing to delete).

    Raises `ValueError` for a spec without any condition, which would delete every point."""
    flt = convert(spec)
    if spec.matches_nothing:
        return None
    if flt is None:
        raise ValueError("refusing to delete with an empty filter (it would delete every point)")
    return flt


def scroll_payloads(fetch: Callable[[Any], tuple[Iterable[Any], Any]]) -> Iterator[dict[str, Any]]:
    """The payloads of a scroll, page by page: `fetch(offset)` returns (records, next offset or None)."""
    offset: Any = None
    while True:
        records, offset = fetch(offset)
        for rec in records:
            yield dict(rec.payload or {})
        if offset is None:
            return


def payloads_by_id(records: Iterable[Any]) -> dict[str, dict[str, Any]]:
    """Point id -> payload of retrieved records."""
    return {str(r.id): dict(r.payload or {}) for r in records}


def raw_hits(points: Iterable[Any]) -> list[RawHit]:
    """Scored points as `RawHit`s."""
    return [(str(p.id), float(p.score), dict(p.payload or {})) for p in points]


def facet_counts(hits: Iterable[Any]) -> dict[str, int]:
    """Value -> count of facet hits, leaving out zero counts.

    A facet can still list a deleted document with count 0 until its segment is optimized."""
    return {str(h.value): int(h.count) for h in hits if h.count > 0}


def identity_from_dict(raw: Any) -> EmbedderIdentity | None:
    """Parse a stored identity (None when absent or malformed)."""
    if not isinstance(raw, dict):
        return None
    try:
        return EmbedderIdentity(str(raw["name"]), int(raw["dim"]), str(raw["fingerprint"]))
    except (KeyError, TypeError, ValueError):
        return None


def check_identity(stored: EmbedderIdentity, configured: EmbedderIdentity, where: str, fix: str) -> None:
    """Raise `EmbedderMismatchError` unless the index at `where` was built by `configured`."""
    if stored == configured:
        return
    raise EmbedderMismatchError(
        f"{where} was built with embedder {stored.name!r} (dim {stored.dim}, fingerprint "
        f"{stored.fingerprint}) but the configured embedder is {configured.name!r} (dim {configured.dim}, "
        f"fingerprint {configured.fingerprint}); vectors of different embedders cannot be compared. "
        f"Either set the embedder back to {stored.name!r}, or re-ingest with `govrag ingest` into {fix}."
    )


def _rank_key(hit: RawHit) -> tuple[float, str]:
    return (-round(hit[1], 6), hit[0])


def best_per_doc(hits: Sequence[RawHit], limit: int) -> list[RawHit]:
    """The best-ranked hit of each document, in rank order, at most `limit`."""
    seen: dict[str, RawHit] = {}
    for hit in sorted(hits, key=_rank_key):
        seen.setdefault(str(hit[2].get("doc_id")), hit)
        if len(seen) >= limit:
            break
    return list(seen.values())


def zscore_fuse(lists: Sequence[tuple[float, Sequence[RawHit], bool]]) -> list[RawHit]:
    """Fuse (weight, candidates, complete) lists by weighted standardised score, best first.

    `complete` means the list holds every matching chunk (the index returned fewer than asked): a chunk
    missing from it truly scores 0 (no BM25 term in common), so those zeros join the list's statistics.
    A truncated list says nothing about the rest except that it scores lower: missing chunks get the
    list's lowest z. A list whose scores do not vary contributes nothing; empty lists neither.
    """
    payloads: dict[str, dict[str, Any]] = {}
    for _, hits, _ in lists:
        for h in hits:
            payloads.setdefault(h[0], h[2])
    fused = dict.fromkeys(payloads, 0.0)
    for weight, hits, complete in lists:
        if not hits:
            continue
        raw = {h[0]: h[1] for h in hits}
        scores = [raw.get(pid, 0.0) for pid in payloads] if complete else list(raw.values())
        mean = sum(scores) / len(scores)
        std = (sum((x - mean) ** 2 for x in scores) / len(scores)) ** 0.5
        if std <= 1e-12:
            continue
        floor = ((0.0 if complete else min(scores)) - mean) / std
        for pid in fused:
            fused[pid] += weight * ((raw[pid] - mean) / std if pid in raw else floor)
    return sorted(((pid, score, payloads[pid]) for pid, score in fused.items()), key=_rank_key)


class QdrantIndexBase(abc.ABC):
    """Shared implementation of the `VectorIndex` port over Qdrant primitives."""

    def __init__(self, identity: EmbedderIdentity, settings: IndexSettings) -> None:
        """Set the embedder identity and the search/batching knobs from `settings`."""
        fusion, bm25_weight = settings.fusion, settings.bm25_weight
        if fusion not in ("zscore", "rrf"):
            raise ValueError(f"index.fusion must be 'zscore' or 'rrf', got {fusion!r}")
        if not 0.0 <= bm25_weight <= 1.0:
            raise ValueError(f"index.bm25_weight must be within 0..1, got {bm25_weight}")
        self._identity = identity
        self.fusion = fusion
        self.bm25_weight = bm25_weight
        self.rrf_k = settings.rrf_k
        self.upsert_batch = max(1, settings.upsert_batch)
        self.overfetch = max(1, settings.overfetch)
        self._hnsw_ef = settings.hnsw_ef
        self._quantized = settings.quantization == "int8"
        self._oversampling = settings.oversampling

    # ------------------------------------------------------------------ primitives (per backend)

    @abc.abstractmethod
    def _upsert_batch(self, points: Sequence[IndexPoint]) -> None: ...

    @abc.abstractmethod
    def _delete(self, spec: FilterSpec) -> None: ...

    @abc.abstractmethod
    def _count(self, spec: FilterSpec) -> int: ...

    @abc.abstractmethod
    def _scroll(self, spec: FilterSpec, fields: list[str] | None) -> Iterator[dict[str, Any]]: ...

    @abc.abstractmethod
    def _doc_counts(self, spec: FilterSpec, limit: int) -> dict[str, int]: ...

    @abc.abstractmethod
    def _retrieve(self, ids: list[str]) -> dict[str, dict[str, Any]]: ...

    @abc.abstractmethod
    def _nearest(
        self,
        using: str,
        vector: list[float] | SparseVec,
        spec: FilterSpec,
        limit: int,
        exact: bool,
        fields: list[str] | None,
    ) -> list[RawHit]: ...

    @abc.abstractmethod
    def _fused(
        self,
        dense: list[float],
        sparse: SparseVec,
        spec: FilterSpec,
        prefetch: int,
        limit: int,
        exact: bool,
        fields: list[str] | None,
    ) -> list[RawHit]: ...

    def _scan(self, offset: Any, limit: int) -> tuple[list[ScannedPoint], Any]:
        """A page of points with payload and dense vector, for `check` (next offset None at the end)."""
        raise NotImplementedError(f"{type(self).__name__} cannot be checked")

    def _metadata_problems(self) -> list[str]:
        """What is wrong with the backend's own metadata (files of the embedded adapter)."""
        return []

    @abc.abstractmethod
    def optimize(self) -> None:
        """Build or refresh the HNSW index after a bulk load."""

    @abc.abstractmethod
    def close(self) -> None:
        """Flush and release the index."""

    def _search_params(self, lib: Any, exact: bool) -> Any:
        """The library's `SearchParams` (HNSW ef, exactness, quantization rescoring) for a query."""
        quant = (
            lib.QuantizationSearchParams(ignore=exact, rescore=True, oversampling=self._oversampling)
            if self._quantized
            else None
        )
        return lib.SearchParams(hnsw_ef=self._hnsw_ef, exact=exact, quantization=quant)

    # ------------------------------------------------------------------ the port

    @property
    def identity(self) -> EmbedderIdentity:
        """The embedder the index was built with."""
        return self._identity

    def __enter__(self) -> QdrantIndexBase:
        """Use the index as a context manager that closes it."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close the index."""
        self.close()

    def check(self, quick: bool = True) -> IndexCheckReport:
        """Integrity check (`indices.index_check`): the first points only when `quick`, else every point."""
        return run_check(
            self._scan,
            lambda: self._count(build_spec(None)),
            self._identity.dim,
            self._metadata_problems(),
            quick=quick,
        )

    def upsert(self, points: Sequence[IndexPoint]) -> None:
        """Insert or overwrite points in batches of `upsert_batch` (ids are deterministic)."""
        dim = self._identity.dim
        for p in points:
            if len(p.dense) != dim:
                raise ValueError(
                    f"chunk {p.record.doc_id}#{p.record.chunk_no}: dense vector has {len(p.dense)} "
                    f"dimensions but the index expects {dim} (embedder {self._identity.name!r})"
                )
        for start in range(0, len(points), self.upsert_batch):
            self._upsert_batch(points[start : start + self.upsert_batch])

    def delete_documents(self, doc_ids: Sequence[str]) -> None:
        """Remove every chunk of the given documents."""
        ids = list(dict.fromkeys(doc_ids))
        for start in range(0, len(ids), 512):
            self._delete(docs_spec(ids[start : start + 512]))

    def delete_stale_chunks(self, doc_id: str, content_hash: str) -> None:
        """Remove the chunks of `doc_id` that belong to another version than `content_hash`."""
        self._delete(stale_spec(doc_id, content_hash))

    def document_states(self, doc_ids: Sequence[str]) -> dict[str, DocumentState]:
        """What is stored for each of these documents (absent ones are left out)."""
        ids = list(dict.fromkeys(doc_ids))
        states: dict[str, DocumentState] = {}
        for start in range(0, len(ids), 256):
            for payload in self._scroll(docs_spec(ids[start : start + 256]), STATE_FIELDS):
                doc = str(payload["doc_id"])
                st = states.get(doc)
                if st is None:
                    st = states[doc] = DocumentState(doc, set(), 0, 0)
                st.content_hashes.add(str(payload.get("content_hash", "")))
                st.n_points += 1
                st.n_chunks_expected = max(st.n_chunks_expected, int(payload.get("n_chunks", 1)))
                st.roots.add(str(payload.get("root", "")))
                st.agencies.add(str(payload.get("agency", "")))
        return states

    def iter_documents(self, flt: SearchFilter | None = None) -> Iterator[DocumentSummary]:
        """Every document in doc-id order, summarised from its lowest-numbered stored chunk."""
        spec = build_spec(flt)
        if spec.matches_nothing:
            return
        first: dict[str, dict[str, Any]] = {}
        for payload in self._scroll(spec, SUMMARY_FIELDS):
            doc = str(payload["doc_id"])
            prev = first.get(doc)
            if prev is None or int(payload["chunk_no"]) < int(prev["chunk_no"]):
                first[doc] = payload
        for doc in sorted(first):
            p = first[doc]
            yield DocumentSummary(
                doc_id=doc,
                title=str(p.get("title", "")),
                source=str(p.get("source", "")),
                lang=str(p.get("lang", "und")),
                agency=str(p.get("agency", "")),
                groups=list(p.get("groups") or []),
                n_chunks=int(p.get("n_chunks", 1)),
                content_hash=str(p.get("content_hash", "")),
                ingested_at=float(p.get("ingested_at", 0.0)),
                root=str(p.get("root", "")),
            )

    def versions(self, series: Sequence[str], flt: SearchFilter | None = None) -> list[DocumentVersion]:
        """Every document visible under `flt` that carries any of these series keys, in doc-id order."""
        keys = list(dict.fromkeys(series))
        spec = build_spec(flt).and_(versions_spec(keys))
        if spec.matches_nothing:
            return []
        found: dict[str, DocumentVersion] = {}
        for p in self._scroll(spec, VERSION_FIELDS):
            extra = p.get("extra") or {}
            eff = p.get("effective_from")
            found[str(p["doc_id"])] = DocumentVersion(
                doc_id=str(p["doc_id"]),
                title=str(p.get("title", "")),
                series=[str(k) for k in p.get("series") or []],
                effective_from=float(eff) if eff is not None else None,
                supersedes=[str(d) for d in extra.get("supersedes") or []] if isinstance(extra, dict) else [],
            )
        return [found[d] for d in sorted(found)]

    def count_documents(self, flt: SearchFilter | None = None) -> int:
        """Number of distinct documents (a facet over the doc_id payload index)."""
        spec = build_spec(flt)
        if spec.matches_nothing:
            return 0
        n_chunks = self._count(spec)
        return len(self._doc_counts(spec, n_chunks)) if n_chunks else 0

    def count_chunks(self, flt: SearchFilter | None = None) -> int:
        """Number of stored chunks matching the filter."""
        spec = build_spec(flt)
        return 0 if spec.matches_nothing else self._count(spec)

    def get_chunks(self, doc_id: str) -> list[ChunkRecord]:
        """All chunks of one document in chunk order."""
        records = [ChunkRecord.from_payload(p) for p in self._scroll(docs_spec([doc_id]), None)]
        return sorted(records, key=lambda r: r.chunk_no)

    def search(self, query: SearchQuery) -> list[Hit]:
        """Filtered dense, BM25 or hybrid (fused) search; see the module docstring for the plan."""
        spec = build_spec(query.filter)
        if spec.matches_nothing or query.limit <= 0:
            return []
        mode, dense, sparse = self._resolve_mode(query)
        if mode is None:
            return []
        limit, exact = query.limit, query.exact
        if mode is SearchMode.HYBRID:
            assert dense is not None
            assert sparse is not None
            prefetch = max(query.prefetch, limit)
            if self.fusion == "zscore":
                return self._zscore_hybrid(dense, sparse, spec, query)
            if not query.one_per_doc:
                return self._hits(self._fused(dense, sparse, spec, prefetch, limit, exact, None))
            prefetch = max(prefetch, limit * self.overfetch)
            pool = self._fused(dense, sparse, spec, prefetch, 2 * prefetch, exact, ["doc_id"])
            return self._with_payloads(best_per_doc(pool, limit))
        using, vector = (DENSE, dense) if mode is SearchMode.DENSE else (BM25, sparse)
        assert vector is not None
        if not query.one_per_doc:
            return self._hits(self._nearest(using, vector, spec, limit, exact, None))
        return self._with_payloads(self._nearest_per_doc(using, vector, spec, limit, exact))

    # ------------------------------------------------------------------ search helpers

    def _resolve_mode(
        self, query: SearchQuery
    ) -> tuple[SearchMode | None, list[float] | None, SparseVec | None]:
        """The mode actually run: hybrid degrades to one signal when the other is missing or empty."""
        dense = query.dense
        sparse = query.sparse if query.sparse is not None and query.sparse.indices else None
        if dense is not None and len(dense) != self._identity.dim:
            raise ValueError(
                f"query dense vector has {len(dense)} dimensions but the index expects "
                f"{self._identity.dim} (embedder {self._identity.name!r})"
            )
        mode: SearchMode | None = query.mode
        if mode is SearchMode.HYBRID:
            if dense is None and query.sparse is None:
                raise ValueError("a hybrid search needs query.dense and/or query.sparse")
            if sparse is None:
                mode = SearchMode.DENSE if dense is not None else None
            elif dense is None:
                mode = SearchMode.BM25
        elif mode is SearchMode.DENSE and dense is None:
            raise ValueError("a dense search needs query.dense (the embedded query)")
        elif mode is SearchMode.BM25:
            if query.sparse is None:
                raise ValueError("a BM25 search needs query.sparse (the encoded query)")
            if sparse is None:
                mode = None  # no query token is known to the tokenizer: nothing can match
        return mode, dense, sparse

    def _zscore_hybrid(
        self, dense: list[float], sparse: SparseVec, spec: FilterSpec, query: SearchQuery
    ) -> list[Hit]:
        """Dense and BM25 candidates fetched separately, fused by standardised score (module doc)."""
        limit = query.limit
        pool = max(query.prefetch, limit * self.overfetch if query.one_per_doc else limit)
        fields = ["doc_id"] if query.one_per_doc else None
        dense_hits = self._nearest(DENSE, dense, spec, pool, query.exact, fields)
        bm25_hits = self._nearest(BM25, sparse, spec, pool, query.exact, fields)
        fused = zscore_fuse(
            [
                (1.0 - self.bm25_weight, dense_hits, len(dense_hits) < pool),
                (self.bm25_weight, bm25_hits, len(bm25_hits) < pool),
            ]
        )
        if not query.one_per_doc:
            return self._hits(fused[:limit])
        return self._with_payloads(best_per_doc(fused, limit))

    def _nearest_per_doc(
        self, using: str, vector: list[float] | SparseVec, spec: FilterSpec, limit: int, exact: bool
    ) -> list[RawHit]:
        """Best chunk of each of the top `limit` documents, paging with "not these documents"."""
        found: dict[str, RawHit] = {}
        while len(found) < limit:
            fetch = (limit - len(found)) * self.overfetch
            page = self._nearest(
                using, vector, spec.and_(exclude_docs_spec(list(found))), fetch, exact, ["doc_id"]
            )
            for hit in best_per_doc(page, limit - len(found)):
                found.setdefault(str(hit[2]["doc_id"]), hit)
            if len(page) < fetch:
                break
        return sorted(found.values(), key=_rank_key)

    def _with_payloads(self, hits: list[RawHit]) -> list[Hit]:
        """Fetch the full payloads of the few final hits (candidates carried only doc_id)."""
        payloads = self._retrieve([h[0] for h in hits])
        return self._hits([(pid, score, payloads[pid]) for pid, score, _ in hits if pid in payloads])

    @staticmethod
    def _hits(raw: list[RawHit]) -> list[Hit]:
        return [
            Hit(record=ChunkRecord.from_payload(payload), score=score, id=pid)
            for pid, score, payload in sorted(raw, key=_rank_key)
        ]
