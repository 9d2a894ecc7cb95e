"""Retrieval: a question in, ranked chunks out (dense, BM25 or hybrid, filtered inside the index)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace

import numpy as np

from indices.language import LanguageDetector
from indices.schema import Hit, SearchFilter, SearchMode, SearchQuery
from indices.sparse import SparseEncoder
from indices.text_embedder import TextEmbedder
from indices.vector_index import VectorIndex
from rag.rerank import CrossEncoderReranker
from rag.versions import VersionNote, VersionResolver, VersionSettings

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class RetrievalResult:
    """Hits plus what the retriever learned about the question."""

    hits: list[Hit]
    language: str
    timings_ms: dict[str, float] = field(default_factory=dict)
    query_vector: np.ndarray | None = None
    #: Version status of each shown document that belongs to a series (`rag.versions`).
    versions: dict[str, VersionNote] = field(default_factory=dict)


class Retriever:
    """Embeds a question and searches the index; used by the API, the CLI and the evaluation."""

    def __init__(
        self,
        embedder: TextEmbedder,
        sparse: SparseEncoder,
        index: VectorIndex,
        detector: LanguageDetector,
        prefetch: int = 50,
        reranker: CrossEncoderReranker | None = None,
        versions: VersionSettings | None = None,
    ) -> None:
        self.embedder = embedder
        self.sparse = sparse
        self.index = index
        self.detector = detector
        self.prefetch = prefetch
        self.reranker = reranker
        self.versions = VersionResolver(versions or VersionSettings(), index)

    def search(
        self,
        question: str,
        *,
        k: int = 10,
        mode: SearchMode = SearchMode.HYBRID,
        flt: SearchFilter | None = None,
        one_per_doc: bool = True,
        as_of: float | None = None,
    ) -> RetrievalResult:
        """Rank chunks for `question`; access-group and other filters are applied inside the index.

        Of a document series, the version in force at `as_of` (a timestamp; None: now) is preferred
        (`rag.versions`)."""
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        language = self.detector.detect(question)
        timings["detect_ms"] = (time.perf_counter() - t0) * 1000
        dense = None
        sparse = None
        qvec: np.ndarray | None = None
        if mode in (SearchMode.HYBRID, SearchMode.DENSE):
            t0 = time.perf_counter()
            qvec = self.embedder.embed_queries([question])[0]
            dense = qvec.tolist()
            timings["embed_ms"] = (time.perf_counter() - t0) * 1000
        if mode in (SearchMode.HYBRID, SearchMode.BM25):
            sparse = self.sparse.encode_query(question)
        # with a reranker the index returns its candidates (still filtered inside the index) and the
        # cross-encoder picks the best k of them
        limit = max(k, self.reranker.settings.candidates) if self.reranker is not None else k
        t0 = time.perf_counter()
        flt = flt or SearchFilter()
        query = SearchQuery(
            dense=dense,
            sparse=sparse,
            limit=limit,
            mode=mode,
            filter=flt,
            one_per_doc=one_per_doc,
            prefetch=max(self.prefetch, limit * 3),
        )
        hits = self.index.search(query)
        timings["search_ms"] = (time.perf_counter() - t0) * 1000
        if self.reranker is not None and hits:
            hits, timings["rerank_ms"] = self.reranker.rerank(question, hits, k)
        t0 = time.perf_counter()

        def fetch(doc_ids: list[str]) -> list[Hit]:
            only = replace(flt, doc_ids=doc_ids)
            return self.index.search(replace(query, filter=only, limit=len(doc_ids), one_per_doc=True))

        resolved = self.versions.resolve(hits, flt, as_of, fetch, k)
        timings["versions_ms"] = (time.perf_counter() - t0) * 1000
        return RetrievalResult(
            hits=resolved.hits,
            language=language,
            timings_ms=timings,
            query_vector=qvec,
            versions=resolved.notes,
        )
