"""Optional second-stage reranking with a cross-encoder (section `rerank`, off by default).

Hybrid retrieval scores a question and a chunk separately; a cross-encoder reads them together and
orders the top candidates better, at the cost of one transformer pass per (question, chunk) pair. No
multilingual cross-encoder ships in a Python package, and govrag never downloads at run time, so the
reranker is off until `rerank.model` names a sentence-transformers `CrossEncoder` directory (for example
a copy of `BAAI/bge-reranker-v2-m3` or `cross-encoder/mmarco-mMiniLMv2-L12-H384-v1` placed on the
machine). It only reorders what the index returned under the caller's filters, so access control is
untouched; the chunks it does not score keep their retrieval order below the reranked ones.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from indices.schema import Hit

logger = logging.getLogger(__name__)


class RerankSettings(BaseModel):
    """Cross-encoder reranking of retrieved chunks."""

    model: str | None = Field(
        default=None,
        description="sentence-transformers CrossEncoder directory (or a name already in the local Hugging "
        "Face cache); None = no reranking.",
    )
    candidates: int = Field(
        default=20, ge=1, le=200, description="Top retrieved chunks scored by the cross-encoder per question."
    )
    batch_size: int = Field(default=16, ge=1, le=512, description="(question, chunk) pairs per forward pass.")
    max_length: int = Field(default=512, ge=16, description="Tokens per pair (the pair is truncated beyond).")


class RerankerError(RuntimeError):
    """The configured cross-encoder cannot be loaded."""


class CrossEncoderReranker:
    """Reorders hits by a sentence-transformers CrossEncoder's score of (question, chunk text)."""

    def __init__(self, settings: RerankSettings) -> None:
        if not settings.model:
            raise ValueError("RerankSettings.model is not set")
        self.settings = settings
        try:
            from sentence_transformers import CrossEncoder
        except ImportError as exc:  # pragma: no cover - a core dependency
            raise RerankerError(
                "reranking needs sentence-transformers (pip install sentence-transformers)"
            ) from exc
        path = Path(settings.model).expanduser()
        try:
            self._model: Any = CrossEncoder(
                str(path) if path.exists() else settings.model,
                max_length=settings.max_length,
                device="cpu",
                local_files_only=True,
            )
        except Exception as exc:
            raise RerankerError(
                f"cannot load the cross-encoder rerank.model={settings.model!r}: {exc}. Give a local "
                "sentence-transformers CrossEncoder directory (govrag does not download models), or unset "
                "rerank.model to turn reranking off."
            ) from exc
        self.name = path.name if path.exists() else settings.model
        logger.info("reranker %s loaded (%d candidates per question)", self.name, settings.candidates)

    def scores(self, question: str, texts: list[str]) -> list[float]:
        """The cross-encoder's relevance score of each text for `question` (higher is better)."""
        if not texts:
            return []
        out = self._model.predict(
            [(question, t) for t in texts],
            batch_size=self.settings.batch_size,
            show_progress_bar=False,
            convert_to_numpy=True,
        )
        return [float(s) for s in out.reshape(len(texts), -1)[:, -1]]

    def rerank(self, question: str, hits: list[Hit], k: int) -> tuple[list[Hit], float]:
        """The best `k` of `hits` after scoring the first `candidates` of them; and the time it took (ms).

        Reranked hits carry the cross-encoder score; unscored ones follow in retrieval order.
        """
        t0 = time.perf_counter()
        head, tail = hits[: self.settings.candidates], hits[self.settings.candidates :]
        scored = self.scores(question, [h.record.text for h in head])
        order = sorted(range(len(head)), key=lambda i: -scored[i])  # stable: ties keep retrieval order
        ranked = [Hit(head[i].record, scored[i], head[i].id) for i in order]
        return (ranked + tail)[:k], (time.perf_counter() - t0) * 1000


def build_reranker(settings: RerankSettings) -> CrossEncoderReranker | None:
    """The configured reranker, or None when `rerank.model` is unset."""
    return CrossEncoderReranker(settings) if settings.model else None
