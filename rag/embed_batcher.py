"""Batching of concurrent embedding calls: requests that arrive while the model is busy share one forward.

The API answers each request in a worker thread, and each request embeds a little: one question (search),
plus a handful of candidate sentences (extractive answer). On a small CPU one forward pass of a short
question costs nearly as much as a batch of a dozen (weights are read once either way), so concurrent
requests that each run their own forward mostly compete for the cores. `EmbedBatcher` lets the first
caller run the model at once (no added latency when idle); callers that arrive meanwhile queue up and the
next forward serves all of them together, in one batch of at most `max_items` texts.

`BatchingEmbedder` puts one batcher in front of `embed_queries` and one in front of `embed_passages` of
a `TextEmbedder` and is one itself, so it can stand in wherever an embedder is used.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from indices.schema import EmbedderIdentity
from indices.text_embedder import TextEmbedder

logger = logging.getLogger(__name__)

EmbedFn = Callable[[Sequence[str]], np.ndarray]


@dataclass(eq=False)
class _Request:
    texts: list[str]
    ready: threading.Event = field(default_factory=threading.Event)
    vectors: np.ndarray | None = None
    error: BaseException | None = None
    lead: bool = False  # woken to run the next batch, not because its vectors are ready


class EmbedBatcher:
    """Thread-safe: `embed(texts)` returns the same vectors as `fn(texts)`, batched with concurrent calls."""

    def __init__(self, fn: EmbedFn, max_items: int = 64) -> None:
        if max_items < 1:
            raise ValueError(f"max_items must be >= 1, got {max_items}")
        self._fn = fn
        self.max_items = max_items
        self._lock = threading.Lock()
        self._queue: list[_Request] = []
        self._busy = False
        self.batches = 0  # forwards run (for tests and metrics)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of `texts` in order (shape (n, dim)); a model error is raised to the caller whose texts
        fail (a failed batch is retried request by request)."""
        if not texts:
            return self._fn([])
        req = _Request(list(texts))
        with self._lock:
            self._queue.append(req)
            leading = not self._busy
            self._busy = True
        while True:
            if leading:
                self._run_until_done(req)
            else:
                req.ready.wait()
                if req.lead and req.vectors is None and req.error is None:
                    req.lead, req.ready = False, threading.Event()
                    leading = True
                    continue
            if req.error is not None:
                raise req.error
            assert req.vectors is not None
            return req.vectors

    def _run_until_done(self, own: _Request) -> None:
        """Run batches (oldest requests first) until `own` is served, then hand the model to a waiter."""
        while own.vectors is None and own.error is None:
            with self._lock:
                batch: list[_Request] = []
                size = 0
                while self._queue and (not batch or size + len(self._queue[0].texts) <= self.max_items):
                    size += len(self._queue[0].texts)
                    batch.append(self._queue.pop(0))
            self._forward(batch)
        with self._lock:
            if self._queue:
                nxt = self._queue[0]
                nxt.lead = True
                nxt.ready.set()
            else:
                self._busy = False

    def _forward(self, batch: list[_Request]) -> None:
        texts = [t for r in batch for t in r.texts]
        try:
            vectors = self._fn(texts)
        except Exception as exc:
            if len(batch) > 1:  # one caller's text must not fail the others: run them one by one
                logger.warning(
                    "batched embedding failed (%s); retrying its %d requests alone", exc, len(batch)
                )
                for r in batch:
                    self._forward([r])
                return
            batch[0].error = exc
            batch[0].ready.set()
            return
        self.batches += 1
        at = 0
        for r in batch:
            r.vectors = vectors[at : at + len(r.texts)]
            at += len(r.texts)
            r.ready.set()
        if len(batch) > 1:
            logger.debug("embedded %d texts of %d requests in one batch", len(texts), len(batch))


class BatchingEmbedder:
    """A `TextEmbedder` whose `embed_queries` / `embed_passages` batch concurrent calls (see module)."""

    def __init__(self, embedder: TextEmbedder, max_items: int = 64) -> None:
        """Put batchers of at most `max_items` texts in front of `embedder`."""
        self.inner = embedder
        self.queries = EmbedBatcher(embedder.embed_queries, max_items)
        self.passages = EmbedBatcher(embedder.embed_passages, max_items)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Question vectors (batched with concurrent callers)."""
        return self.queries.embed(texts)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Passage/sentence vectors (batched with concurrent callers)."""
        return self.passages.embed(texts)

    @property
    def identity(self) -> EmbedderIdentity:
        """The wrapped embedder's identity."""
        return self.inner.identity

    @property
    def dim(self) -> int:
        """The wrapped embedder's dimension."""
        return self.inner.dim

    @property
    def query_prompt(self) -> str:
        """The wrapped embedder's question prefix."""
        return self.inner.query_prompt

    @property
    def passage_prompt(self) -> str:
        """The wrapped embedder's passage prefix."""
        return self.inner.passage_prompt

    @property
    def backend(self) -> str:
        """The wrapped embedder's precision."""
        return self.inner.backend

    @property
    def tokenizer_file(self) -> Path:
        """The wrapped embedder's tokenizer file."""
        return self.inner.tokenizer_file
