"""Extractive answers: the embedded default when no LLM is configured, and the fallback when it is down.

The answer is made of the most relevant sentences of the top sources, verbatim, each followed by its
[n]: nothing is invented. Sentences are pre-selected cheaply (character-bigram overlap with the
question plus the source's rank), then ranked with the embedder (question as query, sentences as
passages). Whether to answer at all is a fitted rule (issue 11) on three features: the best
sentence's e5 cosine, its character-bigram overlap with the question, and the top source's retrieval
score (the z-score of `index.fusion="zscore"`: how far the top chunk stands out from the other candidates).

* Same language: answer when cosine + 0.2 x overlap + 0.02 x hit score >= 0.98.
* Cross language (none of the top sources is in the question's language; overlap is then ~0):
  answer when cosine + 0.2 x hit score >= 1.07. The answer quotes the source-language sentences under
  one short line in the question's language (`CROSS_LANGUAGE_NOTE`) instead of refusing.

Calibration: ../shared/eval dev sets only (sample seed 1: 40 questions per mono set, 60 per xling set;
"unanswerable" = the same question with its relevant documents and their translations excluded),
a grid over the weights, the threshold at the 10th percentile of the answerable scores (refusal on
answerable <= 0.10), the weights maximising refusal on unanswerable there. No per-set, per-language or
per-question terms. At that point 67% of same-language and 26% of cross-language unanswerable questions
are refused; cosine + overlap alone (the former rule's features) reached 49% and 20%. The goal
(>= 0.80 unanswerable refused at <= 0.10 answerable refused) is not reachable with these features and
e5-small: see docs/eval-results.md for the measured trade-off. With `index.fusion="rrf"` the hit score is
~0.03 and the rule degrades to cosine + overlap: recalibrate `hit_weight` / `refuse_below` for it.

Small pools: the hit score is a z-score over the candidate pool, and the rule was fitted on pools of up
to a hundred chunks (50 per signal). When a filter (an agency's widget) or a small corpus leaves fewer
sources than the answer asked for, and fewer than `small_pool`, the z-score is bounded by the pool's size
and is not comparable, so the hit term takes a neutral value instead, evidence neither way: midway
between the median top-hit scores of answerable and unanswerable questions in the calibration sample
(same language 5.0 and 2.5, cross language 2.1 and 1.6). Before this, "How much does it cost to renew a
passport?" in an agency widget whose filter leaves two documents was refused (hit 1.2) although its best
sentence states the fee.

Multi-part questions ("How much ... and when ...?", `question_parts`): each part's best sentence
(cosine with the part + overlap) is added when it scores within `part_margin` of the best sentence.

Embedding the candidates is most of an extractive answer's CPU time. Keeping 6 candidates instead of 12
(same eval questions, relevant passage among 3 sources) left the share of answers containing the gold
answer at 0.64 (0.63 with 12) and the answer/refusal rates above unchanged, for ~30% less CPU per answer.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, Field

from indices.schema import Hit
from indices.sentences import split_sentences
from indices.text_embedder import TextEmbedder
from rag.citations import lexical_overlap


class ExtractiveSettings(BaseModel):
    """Knobs of the extractive answerer."""

    max_sources: int = Field(default=3, ge=1, description="Top sources whose sentences are candidates.")
    candidates: int = Field(
        default=6, ge=1, description="Sentences embedded per question (the main CPU cost, see module)."
    )
    max_sentences: int = Field(default=2, ge=1, description="Sentences in the answer.")
    refuse_below: float = Field(
        default=0.98,
        ge=0,
        le=5,
        description="Same language: refuse below cosine + lexical_weight x overlap + hit_weight x the top "
        "source's retrieval score (see module).",
    )
    lexical_weight: float = Field(
        default=0.2, ge=0, le=1, description="Weight of the question/sentence character-bigram overlap."
    )
    hit_weight: float = Field(
        default=0.02,
        ge=0,
        le=1,
        description="Weight of the top source's retrieval score (fitted for index.fusion=zscore).",
    )
    refuse_below_cross: float = Field(
        default=1.07,
        ge=0,
        le=5,
        description="Cross-language (no top source in the question's language): refuse below cosine + "
        "cross_hit_weight x the top source's retrieval score; an answer quotes the sources under a "
        "one-line note in the question's language (see module).",
    )
    cross_hit_weight: float = Field(
        default=0.2,
        ge=0,
        le=1,
        description="Cross-language weight of the top source's retrieval score (fitted for zscore fusion).",
    )
    small_pool: int = Field(
        default=5,
        ge=1,
        description="When retrieval finds fewer sources than asked and fewer than this (a narrow filter, a "
        "small corpus), the top source's z-score is not comparable: small_pool_hit_score stands in.",
    )
    small_pool_hit_score: float = Field(
        default=3.75,
        ge=0,
        le=10,
        description="The neutral hit score used for a small pool, same language (see small_pool): midway "
        "between the calibration sample's answerable (5.0) and unanswerable (2.5) medians.",
    )
    small_pool_cross_hit_score: float = Field(
        default=1.9,
        ge=0,
        le=10,
        description="The neutral hit score used for a small pool, cross language: midway between the "
        "calibration sample's answerable (2.1) and unanswerable (1.6) medians.",
    )
    part_margin: float = Field(
        default=0.06,
        ge=0,
        le=1,
        description="Multi-part question: a part's best sentence is added when its cosine with the whole "
        "question is within this margin of the best sentence's.",
    )
    cache_sentences: int = Field(
        default=20_000,
        ge=0,
        description="Sentence vectors kept in memory (LRU, ~1.5 KB each): questions about the same documents "
        "reuse them instead of running the model again. 0 turns the cache off.",
    )
    relative_keep: float = Field(
        default=0.97,
        ge=0,
        le=1,
        description="Keep further sentences scoring at least this share of the best cosine.",
    )


#: One short line in the question's language put before quotes from sources in another language.
CROSS_LANGUAGE_NOTE: dict[str, str] = {
    "en": "The sources are in another language; quoted as written:",
    "id": "Sumber tersedia dalam bahasa lain; dikutip apa adanya:",
    "ms": "Sumber dalam bahasa lain; dipetik seperti asal:",
    "th": "แหล่งข้อมูลเป็นภาษาอื่น ยกข้อความมาตามต้นฉบับ:",
    "vi": "Nguồn bằng ngôn ngữ khác; trích nguyên văn:",
    "zh": "来源为其他语言，按原文引用：",
    "my": "ရင်းမြစ်များသည် အခြားဘာသာစကားဖြင့် ဖြစ်သည်။ မူရင်းအတိုင်း ကိုးကားထားသည်-",
    "ta": "ஆதாரங்கள் வேறு மொழியில் உள்ளன; உள்ளபடியே மேற்கோள்:",
    "tl": "Nasa ibang wika ang mga sanggunian; sinipi nang buo:",
    "km": "ប្រភពជាភាសាផ្សេង ដកស្រង់តាមដើម៖",
    "lo": "ແຫຼ່ງຂໍ້ມູນເປັນພາສາອື່ນ ອ້າງອີງຕາມຕົ້ນສະບັບ:",
}


@dataclass(slots=True)
class ExtractiveAnswer:
    """The composed answer, or a refusal: `parts` are its sentences, each ending with its [n] marker.

    A cross-language answer's first part is the uncited `CROSS_LANGUAGE_NOTE` line.
    """

    parts: list[str]
    refused: bool
    best_score: float
    cosine: float = 0.0
    overlap: float = 0.0
    cross_language: bool = False

    @property
    def text(self) -> str:
        """The whole answer."""
        return " ".join(self.parts)


_ASK = (
    r"how|what|when|where|which|who|whom|why|"  # en
    r"berapa|bagaimana|apa|apakah|kapan|bila|bilakah|di\s*mana|mana|siapa|mengapa|kenapa|"  # id, ms
    r"magkano|gaano|ano|kailan|saan|sino|bakit|paano"  # tl
)
#: A new question part: "... and how long ...", "...? What ..." (conjunction or comma, then a question word).
_PART = re.compile(rf"(?:\?\s+|,?\s+(?:and|dan|serta|at)\s+|,\s+)(?=(?:{_ASK})\b)", re.IGNORECASE)


def question_parts(question: str) -> list[str]:
    """The sub-questions of a multi-part question ("How much ... and how long ...?"); one part otherwise."""
    parts = [p.strip(" ?") for p in _PART.split(question.strip())]
    parts = [p for p in parts if len(p) >= 4]
    return parts if len(parts) > 1 else [question]


@dataclass(slots=True)
class _Candidate:
    n: int
    position: int
    text: str
    prior: float
    overlap: float


class SentenceExtractor:
    """Composes cited answers from source sentences (`rag.answerers.ExtractiveAnswerer` is its port)."""

    def __init__(self, settings: ExtractiveSettings, embedder: TextEmbedder) -> None:
        self.settings = settings
        self.embedder = embedder
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def sentence_vectors(self, texts: Sequence[str]) -> np.ndarray:
        """Passage vectors of `texts`, from the LRU cache where possible (thread-safe)."""
        size = self.settings.cache_sentences
        if size == 0:
            return self.embedder.embed_passages(texts)
        with self._lock:
            cached = {t: self._cache[t] for t in texts if t in self._cache}
            for t in cached:
                self._cache.move_to_end(t)
        missing = list(dict.fromkeys(t for t in texts if t not in cached))
        if missing:
            fresh = self.embedder.embed_passages(missing)
            with self._lock:
                for t, v in zip(missing, fresh, strict=True):
                    cached[t] = self._cache[t] = v
                while len(self._cache) > size:
                    self._cache.popitem(last=False)
        return np.stack([cached[t] for t in texts])

    def _candidates(self, question: str, hits: list[Hit]) -> list[_Candidate]:
        out: list[_Candidate] = []
        for n, hit in enumerate(hits[: self.settings.max_sources], start=1):
            # The chunker repeats headings in chunk text; a heading names a topic, it answers nothing.
            headings = {h.strip().casefold() for h in (hit.record.title, *hit.record.section) if h}
            for pos, sent in enumerate(split_sentences(hit.record.text, min_chars=8)):
                if sent.strip().casefold() in headings:
                    continue
                overlap = lexical_overlap(question, sent)
                out.append(_Candidate(n, pos, sent, overlap + 0.1 / n, overlap))
        out.sort(key=lambda c: c.prior, reverse=True)
        return out[: self.settings.candidates]

    def answer(
        self,
        question: str,
        hits: list[Hit],
        query_vector: np.ndarray | None = None,
        *,
        language: str | None = None,
        exhausted: bool = False,
    ) -> ExtractiveAnswer:
        """Pick sentences from `hits` (numbered from 1 in the given order) that answer `question`.

        `exhausted`: retrieval found fewer sources than asked (see "Small pools" in the module doc).
        """
        cands = self._candidates(question, hits)
        if not cands:
            return ExtractiveAnswer([], True, 0.0)
        used = hits[: self.settings.max_sources]
        cross = language is not None and all(h.record.lang != language for h in used)
        q = query_vector if query_vector is not None else self.embedder.embed_queries([question])[0]
        vecs = self.sentence_vectors([c.text for c in cands])
        scores = vecs @ np.asarray(q, dtype=np.float32)
        order = np.argsort(-scores)
        top = float(scores[order[0]])
        # Sentences are ranked by meaning; whether to answer at all also weighs the words they share.
        overlap = cands[int(order[0])].overlap
        st = self.settings
        hit = hits[0].score
        small = exhausted and len(hits) < st.small_pool  # a z-score over a handful of candidates says little
        if cross:  # no shared wording to weigh across languages: meaning and retrieval confidence decide
            hit = st.small_pool_cross_hit_score if small else hit
            best = top + st.cross_hit_weight * hit
            refused = best < st.refuse_below_cross
        else:
            hit = st.small_pool_hit_score if small else hit
            best = top + st.lexical_weight * overlap + st.hit_weight * hit
            refused = best < st.refuse_below
        if refused:
            return ExtractiveAnswer([], True, best, top, overlap, cross)
        chosen = [
            cands[i]
            for i in order[: self.settings.max_sentences]
            if float(scores[i]) >= top * self.settings.relative_keep
        ]
        parts = question_parts(question)
        if len(parts) > 1:  # each part gets the sentence that answers it best, if it is close enough
            part_scores = vecs @ self.embedder.embed_queries(parts).T
            for j, part in enumerate(parts):
                fit = [
                    float(part_scores[i, j]) + self.settings.lexical_weight * lexical_overlap(part, c.text)
                    for i, c in enumerate(cands)
                ]
                i = int(np.argmax(fit))
                if cands[i] not in chosen and float(scores[i]) >= top - self.settings.part_margin:
                    chosen.append(cands[i])
        chosen.sort(key=lambda c: (c.n, c.position))
        out = [CROSS_LANGUAGE_NOTE.get(language or "en", CROSS_LANGUAGE_NOTE["en"])] if cross else []
        out.extend(f"{c.text.rstrip()} [{c.n}]" for c in chosen)
        return ExtractiveAnswer(out, False, best, top, overlap, cross)
