"""Retrieval: a question in, ranked chunks out (dense, BM25 or hybrid, filtered inside the index)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np

from indices.language import LanguageDetector
from indices.schema import Hit, SearchFilter, SearchMode, SearchQuery
from indices.sparse import SparseEncoder
from indices.text_embedder import TextEmbedder
from indices.vector_index import VectorIndex
from rag.rerank import CrossEncoderReranker

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class RetrievalResult:
    """Hits plus what the retriever learned about the question."""

    hits: list[Hit]
    language: str
    timings_ms: dict[str, float] = field(default_factory=dict)
    query_vector: np.ndarray | None = None


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
    ) -> None:
        self.embedder = embedder
        self.sparse = sparse
        self.index = index
        self.detector = detector
        self.prefetch = prefetch
        self.reranker = reranker

    def search(
        self,
        question: str,
        *,
        k: int = 10,
        mode: SearchMode = SearchMode.HYBRID,
        flt: SearchFilter | None = None,
        one_per_doc: bool = True,
    ) -> RetrievalResult:
        """Rank chunks for `question`; access-group and other filters are applied inside the index."""
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
        hits = self.index.search(
            SearchQuery(
                dense=dense,
                sparse=sparse,
                limit=limit,
                mode=mode,
                filter=flt or SearchFilter(),
                one_per_doc=one_per_doc,
                prefetch=max(self.prefetch, limit * 3),
            )
        )
        timings["search_ms"] = (time.perf_counter() - t0) * 1000
        if self.reranker is not None and hits:
            hits, timings["rerank_ms"] = self.reranker.rerank(question, hits, k)
        return RetrievalResult(hits=hits, language=language, timings_ms=timings, query_vector=qvec)
