"""Wiring: build the embedder, sparse encoder and index from the settings, and the query stack on top
(retriever, answerer, answer service) that the API, `govrag ask/search` and `govrag eval` share."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from govrag.settings import Settings
from indices.embedders import load_embedder
from indices.registry import check_openable, open_index
from indices.sparse import SparseEncoder
from indices.text_embedder import TextEmbedder
from indices.vector_index import VectorIndex

if TYPE_CHECKING:
    from rag.answerers import Answerer
    from rag.answering import AnswerService
    from rag.retrieval import Retriever

logger = logging.getLogger(__name__)


def configure_runtime(settings: Settings) -> None:
    """Process-wide knobs that must be set before models load.

    OpenMP's default busy-wait collapses throughput on small shared machines; unstructured's telemetry
    and the Hugging Face hub must never be contacted (govrag runs offline by default).
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("SCARF_NO_ANALYTICS", "true")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if settings.malloc_mmap_threshold_kb:
        _set_malloc_mmap_threshold(settings.malloc_mmap_threshold_kb * 1024)


_M_MMAP_THRESHOLD = -3  # glibc mallopt parameter


def _set_malloc_mmap_threshold(size: int) -> bool:
    """Serve heap blocks of `size` bytes or more by mmap, so they go back to the OS when freed.

    torch allocates and frees activation buffers of ever-changing shapes; in glibc's heap these leave
    holes that keep the process's RSS ~200 MB above what it uses (measured: an ingest run peaked at
    1,665 MB by default, 1,468 MB with a 128 KB threshold, same wall time). No-op off glibc.
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    ok = bool(mallopt(_M_MMAP_THRESHOLD, ctypes.c_int(size)))
    if not ok:
        logger.debug("mallopt(M_MMAP_THRESHOLD, %d) refused", size)
    return ok


@dataclass
class Components:
    """The models and the index, opened once per process."""

    embedder: TextEmbedder
    sparse: SparseEncoder
    index: VectorIndex | None

    def close(self) -> None:
        """Release the index (and its folder lock)."""
        if self.index is not None:
            self.index.close()


def open_components(settings: Settings, *, create: bool, with_index: bool = True) -> Components:
    """Open the embedder, sparse encoder and (optionally) the index.

    `create=False` raises `IndexNotFoundError` when nothing was ingested yet.
    """
    if with_index:  # a locked or missing index fails in milliseconds, not after a model load
        check_openable(settings.index, settings.home, create=create)
    embedder = load_embedder(settings.embedder, settings.models_dir)
    sparse = SparseEncoder(settings.sparse)
    index = (
        open_index(settings.index, embedder.identity, settings.home, create=create) if with_index else None
    )
    return Components(embedder=embedder, sparse=sparse, index=index)


def make_retriever(settings: Settings, comps: Components, embedder: TextEmbedder | None = None) -> Retriever:
    """The retriever over opened components (`embedder` overrides theirs, e.g. a batching wrapper), with
    the configured cross-encoder reranker when `rerank.model` is set."""
    from indices.language import LanguageDetector
    from rag.rerank import build_reranker
    from rag.retrieval import Retriever

    if comps.index is None:
        raise ValueError("make_retriever needs components opened with their index")
    return Retriever(
        embedder if embedder is not None else comps.embedder,
        comps.sparse,
        comps.index,
        LanguageDetector(settings.language),
        prefetch=settings.index.prefetch,
        reranker=build_reranker(settings.rerank),
        versions=settings.versions,
    )


@dataclass
class QueryStack:
    """What answers questions: the components, the retriever, the answerer and the answer service.

    `close()` releases the index when the stack opened it; `aclose()` also closes the answerer's
    connections (call it on the event loop that used them).
    """

    components: Components
    retriever: Retriever
    answerer: Answerer
    answers: AnswerService
    owns_components: bool = True

    @property
    def index(self) -> VectorIndex:
        """The open index."""
        assert self.components.index is not None  # a stack is only built over an opened index
        return self.components.index

    def close(self) -> None:
        """Release the index (and its folder lock) when this stack opened it."""
        if self.owns_components:
            self.components.close()

    async def aclose(self) -> None:
        """Close the answerer's connections, then the index."""
        try:
            await self.answerer.aclose()
        finally:
            self.close()


def open_query_stack(
    settings: Settings, components: Components | None = None, *, embed_batch: int | None = None
) -> QueryStack:
    """The query stack for these settings: retriever (with the configured reranker) and answerer
    (`generator.backend`: extractive, or an LLM with the extractive fallback).

    `components` reuses opened ones (the caller keeps closing them); by default they are opened here
    (`IndexNotFoundError` when nothing was ingested yet). `embed_batch` shares forward passes of the
    embedder between concurrent requests (`rag.embed_batcher`, the API's setting).
    """
    from rag.answerers import build_answerer
    from rag.answering import AnswerService

    owns = components is None
    comps = components if components is not None else open_components(settings, create=False)
    try:
        embedder: Any = comps.embedder
        if embed_batch is not None:
            from rag.embed_batcher import BatchingEmbedder

            embedder = BatchingEmbedder(comps.embedder, max_items=embed_batch)
        retriever = make_retriever(settings, comps, embedder)
        a = settings.answer
        answerer = build_answerer(
            settings.generator,
            a.extractive,
            a.prompt,
            embedder,
            max_answer_tokens=a.max_answer_tokens,
            detector=retriever.detector,
            language=a.language_control,
            attribution_min_score=a.attribution_min_score,
        )
    except BaseException:
        if owns:
            comps.close()
        raise
    answers = AnswerService(a, retriever, answerer)
    return QueryStack(comps, retriever, answerer, answers, owns_components=owns)
