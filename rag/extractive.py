"""Extractive answers: the embedded default when no LLM is configured, and the fallback when it is down.

The answer is made of the most relevant sentences of the top sources, verbatim, each followed by its
[n]: nothing is invented. Sentences are pre-selected cheaply (character-bigram overlap with the
question plus the source's rank), then ranked with the embedder (question as query, sentences as
passages). Below `refuse_below` (cosine of the best sentence, calibrated on ../shared/eval with
`benchmarks/calibrate_extractive.py`) the answer is a refusal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, Field

from indices.embedder import Embedder
from indices.schema import Hit
from indices.sentences import split_sentences
from rag.citations import lexical_overlap


class ExtractiveSettings(BaseModel):
    """Knobs of the extractive answerer."""

    max_sources: int = Field(default=3, ge=1, description="Top sources whose sentences are candidates.")
    candidates: int = Field(default=12, ge=1, description="Sentences embedded per question.")
    max_sentences: int = Field(default=2, ge=1, description="Sentences in the answer.")
    refuse_below: float = Field(
        default=0.80, ge=0, le=1, description="Refuse when the best sentence's cosine is below this."
    )
    relative_keep: float = Field(
        default=0.97, ge=0, le=1, description="Keep further sentences scoring at least this share of the best."
    )


@dataclass(slots=True)
class ExtractiveAnswer:
    """The composed answer (with [n] markers), or a refusal."""

    text: str
    refused: bool
    best_score: float


@dataclass(slots=True)
class _Candidate:
    n: int
    position: int
    text: str
    prior: float


class ExtractiveAnswerer:
    """Composes cited answers from source sentences."""

    def __init__(self, settings: ExtractiveSettings, embedder: Embedder) -> None:
        self.settings = settings
        self.embedder = embedder

    def _candidates(self, question: str, hits: list[Hit]) -> list[_Candidate]:
        out: list[_Candidate] = []
        for n, hit in enumerate(hits[: self.settings.max_sources], start=1):
            for pos, sent in enumerate(split_sentences(hit.record.text, min_chars=8)):
                prior = lexical_overlap(question, sent) + 0.1 / n
                out.append(_Candidate(n, pos, sent, prior))
        out.sort(key=lambda c: c.prior, reverse=True)
        return out[: self.settings.candidates]

    def answer(self, question: str, hits: list[Hit], query_vector: np.ndarray | None = None) -> ExtractiveAnswer:
        """Pick sentences from `hits` (numbered from 1 in the given order) that answer `question`."""
        cands = self._candidates(question, hits)
        if not cands:
            return ExtractiveAnswer("", True, 0.0)
        q = query_vector if query_vector is not None else self.embedder.embed_queries([question])[0]
        vecs = self.embedder.embed_passages([c.text for c in cands])
        scores = vecs @ np.asarray(q, dtype=np.float32)
        order = np.argsort(-scores)
        best = float(scores[order[0]])
        if best < self.settings.refuse_below:
            return ExtractiveAnswer("", True, best)
        chosen = [
            cands[i] for i in order[: self.settings.max_sentences]
            if float(scores[i]) >= best * self.settings.relative_keep
        ]
        chosen.sort(key=lambda c: (c.n, c.position))
        parts = []
        for c in chosen:
            text = c.text.rstrip()
            parts.append(f"{text} [{c.n}]")
        return ExtractiveAnswer(" ".join(parts), False, best)
