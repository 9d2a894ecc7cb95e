"""The embedder port: what ingestion, retrieval and answering need from a dense text embedder.

Adapters: `indices.embedder.Embedder` (any sentence-transformers model, including the bundled
multilingual-e5-small and EmbeddingGemma through `indices.embedders`), `ingest.lazy_embedder.LazyEmbedder`
(loads on first use) and `rag.embed_batcher.BatchingEmbedder` (shares forward passes between requests).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from indices.schema import EmbedderIdentity


@runtime_checkable
class TextEmbedder(Protocol):
    """Texts in, L2-normalised float32 vectors out; questions and passages may get different prompts."""

    @property
    def identity(self) -> EmbedderIdentity:
        """Name, dimension and fingerprint (weights, prompts, window, dimension): stored with the index,
        which refuses to be opened by an embedder with another identity."""
        ...

    @property
    def dim(self) -> int:
        """Vector dimension (after any Matryoshka truncation)."""
        ...

    @property
    def query_prompt(self) -> str:
        """The prefix put before each question."""
        ...

    @property
    def passage_prompt(self) -> str:
        """The prefix put before each passage."""
        ...

    @property
    def backend(self) -> str:
        """The precision it runs at: "bf16" or "fp32" (for reports)."""
        ...

    @property
    def tokenizer_file(self) -> Path:
        """A `tokenizer.json` equal to the model's (worker processes count chunk tokens with it)."""
        ...

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Question vectors, shape (n, dim), float32, unit length, in input order."""
        ...

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Passage vectors, shape (n, dim), float32, unit length, in input order."""
        ...
