"""Extractive answers (rag.extractive) with the bundled embedder: quoted sentences, refusals, the cache."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from test_citations import COLLECT, FEE

from indices.schema import ChunkRecord, Hit
from rag.extractive import CROSS_LANGUAGE_NOTE, ExtractiveSettings, SentenceExtractor, question_parts

TAX_TH = "ผู้มีเงินได้ต้องยื่นแบบแสดงรายการภาษีภายในวันที่ 31 มีนาคม ยื่นทางออนไลน์ได้ถึงวันที่ 8 เมษายน"


def _hits(*texts: str, score: float = 3.0) -> list[Hit]:
    """Sources in this order; `score` is the retrieval z-score (about 3 for a confident hit, 1-2 weak)."""
    return [
        Hit(ChunkRecord(doc_id=f"d{i}", chunk_no=0, text=t, title=f"Doc {i}", lang="en"), score)
        for i, t in enumerate(texts)
    ]


class CountingEmbedder:
    """The real embedder, counting the passages it is asked to embed."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.passages: list[str] = []

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        self.passages.extend(texts)
        return self.inner.embed_passages(texts)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.embed_queries(texts)


def test_answer_quotes_the_supporting_sentence_with_its_source_number(embedder: Any) -> None:
    ans = SentenceExtractor(ExtractiveSettings(), embedder)
    out = ans.answer("How much is the passport renewal fee?", _hits(COLLECT, FEE))
    assert not out.refused
    assert "The renewal fee is 70 dollars, paid by card when you submit the application. [2]" in out.text
    assert out.best_score >= ExtractiveSettings().refuse_below
    th = ans.answer("ต้องยื่นแบบภาษีภายในวันไหน", _hits(FEE, TAX_TH))
    assert not th.refused
    assert "31 มีนาคม" in th.text
    assert "[2]" in th.text


def test_unrelated_question_is_refused(embedder: Any) -> None:
    out = SentenceExtractor(ExtractiveSettings(), embedder).answer(
        "Which football team won the league in 1998?", _hits(FEE, COLLECT, score=1.0)
    )
    assert out.refused
    assert out.text == ""
    assert out.best_score < ExtractiveSettings().refuse_below


def test_sentence_vectors_are_cached_and_bounded(embedder: Any) -> None:
    counting = CountingEmbedder(embedder)
    ans = SentenceExtractor(ExtractiveSettings(cache_sentences=3), counting)
    question = "How much is the passport renewal fee?"
    first = ans.answer(question, _hits(FEE, COLLECT))
    embedded = len(counting.passages)
    assert embedded == 4  # two sentences per source, each embedded once
    assert len(ans._cache) == 3  # bounded: the oldest was dropped
    again = ans.answer(question, _hits(FEE, COLLECT))
    assert (again.text, again.refused) == (first.text, first.refused)
    assert again.best_score == pytest.approx(first.best_score, abs=1e-3)  # one vector from a smaller batch
    assert len(counting.passages) == embedded + 1  # only the evicted sentence ran through the model again
    uncached = SentenceExtractor(ExtractiveSettings(cache_sentences=0), counting)
    before = len(counting.passages)
    assert uncached.answer(question, _hits(FEE, COLLECT)).text == first.text
    assert len(counting.passages) == before + 4
    assert uncached._cache == {}


def test_question_without_a_source_in_its_language_gets_quotes_under_a_note(embedder: Any) -> None:
    """A Thai question over English sources: quoted English sentences under one Thai line, not a refusal."""
    ext = SentenceExtractor(ExtractiveSettings(), embedder)
    out = ext.answer("ค่าธรรมเนียมต่ออายุหนังสือเดินทางเท่าไร", _hits(COLLECT, FEE), language="th")
    assert not out.refused
    assert out.cross_language
    assert out.parts[0] == CROSS_LANGUAGE_NOTE["th"]
    assert "The renewal fee is 70 dollars, paid by card when you submit the application. [2]" in out.parts[1:]
    same = ext.answer("How much is the passport renewal fee?", _hits(COLLECT, FEE), language="en")
    assert not same.cross_language
    assert CROSS_LANGUAGE_NOTE["en"] not in same.text
    unrelated = ext.answer("ทีมฟุตบอลใดชนะลีกในปี 1998", _hits(FEE, COLLECT, score=1.0), language="th")
    assert unrelated.refused


def test_multi_part_question_answers_every_part(embedder: Any) -> None:
    """ "How much ... and how long ...": the fee and the waiting time, not only the fee."""
    assert question_parts("How much is the renewal fee and how long does it take?") == [
        "How much is the renewal fee",
        "how long does it take",
    ]
    assert question_parts("What are the rights and duties of a citizen?") == [
        "What are the rights and duties of a citizen?"
    ]
    out = SentenceExtractor(ExtractiveSettings(), embedder).answer(
        "How much is the passport renewal fee and when is the new passport ready?",
        _hits(FEE, COLLECT),
    )
    assert not out.refused
    assert "The renewal fee is 70 dollars, paid by card when you submit the application. [1]" in out.parts
    assert "Your new passport is ready for collection within 10 working days. [2]" in out.parts
