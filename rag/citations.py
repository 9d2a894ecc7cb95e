"""Citation verification: an answer's [n] markers are checked against the sources, never trusted.

For every sentence of the answer that carries markers, each marker must name a source that was given
to the generator; markers outside the list are removed. Each surviving citation gets the sentence of
its chunk that best supports the claim it follows (by embedding similarity, with a lexical tie-break),
so a reader can check document, page and quoted sentence. An answer left with no valid citation is
not grounded.

A claim the model left without a marker can still be cited (`attribute`) when one given source has a
sentence that states every number of the claim: small models often write the right fee in the right
language and forget the marker. A number in a claim is also what picks the quote among a chunk's
sentences (`best_support`): cross-language embedding similarity alone often prefers a neighbouring
sentence of the same chunk.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from indices.schema import Hit
from indices.segment import normalize
from indices.sentences import sentence_spans, split_sentences

# [1], [2, 3], [1][2], 【1】 and full-width brackets some models emit.
_MARKER = re.compile(r"[\[【［]\s*(\d{1,3}(?:\s*[,，、]\s*\d{1,3})*)\s*[\]】］]")
_TRAILING_MARKER = re.compile(r"\s*" + _MARKER.pattern)

Encoder = Callable[[Sequence[str]], np.ndarray]
_WORD = re.compile(r"\w")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


@dataclass(slots=True)
class Citation:
    """A verified citation: which source, and the sentence in it that supports the claim."""

    n: int
    doc_id: str
    title: str
    source: str
    page: int | None
    section: list[str]
    quote: str
    lang: str
    score: float
    chunk_no: int = 0
    #: True when the model wrote no marker for the claim and `attribute` matched it to this source.
    attributed: bool = False
    #: The cited document's issue date and the date its version took effect (UTC timestamps).
    doc_date: float | None = None
    effective_from: float | None = None
    #: The cited version was replaced by a newer one (`rag.versions`), and by which document.
    superseded: bool = False
    superseded_by: str | None = None


@dataclass(slots=True)
class VerifiedAnswer:
    """The answer text with only valid markers, its citations, and what was removed."""

    text: str
    citations: list[Citation] = field(default_factory=list)
    removed_markers: list[int] = field(default_factory=list)

    @property
    def grounded(self) -> bool:
        """True when at least one claim carries a valid citation."""
        return bool(self.citations)


def find_markers(text: str) -> list[tuple[int, int, list[int]]]:
    """(start, end, numbers) of every citation marker in `text`."""
    return [
        (m.start(), m.end(), [int(x) for x in re.split(r"\s*[,，、]\s*", m.group(1))])
        for m in _MARKER.finditer(text)
    ]


def strip_markers(text: str) -> str:
    """`text` without any citation markers (used to compare a claim with source sentences)."""
    return _MARKER.sub("", text).strip()


def _claims(answer: str) -> list[tuple[str, list[int], int, int]]:
    """Sentences of the answer with the source numbers cited in (or right after) them."""
    out = []
    for start, end in sentence_spans(answer):
        # Markers that directly follow a sentence's final punctuation belong to it.
        tail = end
        while True:
            m = _TRAILING_MARKER.match(answer, tail)
            if not m:
                break
            tail = m.end()
        segment = answer[start:tail]
        nums = [n for _, _, ns in find_markers(segment) for n in ns]
        out.append((strip_markers(segment), nums, start, tail))
    return out


def lexical_overlap(a: str, b: str) -> float:
    """Character-bigram Dice overlap: script-agnostic, works for unspaced scripts too."""

    def grams(s: str) -> set[str]:
        s = re.sub(r"\s+", " ", s.lower())
        return {s[i : i + 2] for i in range(len(s) - 1)}

    ga, gb = grams(a), grams(b)
    if not ga or not gb:
        return 0.0
    return 2 * len(ga & gb) / (len(ga) + len(gb))


def numbers(text: str) -> set[str]:
    """The numbers written in `text`, comparable across scripts and styles.

    Native digits (Thai, Lao, Khmer, Burmese, Tamil...) read as ASCII; "100,000", "100.000" and "100000"
    are one number (groups of three after a separator are thousands); "1,5" and "1.5" are one decimal.
    """
    out = set()
    for m in _NUMBER.finditer(normalize(text, lowercase=False)):
        head, *groups = re.split(r"[.,]", m.group(0))
        if groups and all(len(g) == 3 for g in groups):
            out.add(head + "".join(groups))
        elif len(groups) == 1:
            out.add(f"{head}.{groups[0]}")
        else:
            out.add(m.group(0))
    return out


def _stating(claim_numbers: set[str], sentences: list[str]) -> list[int]:
    """Indexes of the sentences that state every number of the claim."""
    return [i for i, s in enumerate(sentences) if claim_numbers <= numbers(s)]


def best_support(
    claim: str, chunk_text: str, encode: Encoder | None, vectors: dict[str, np.ndarray] | None = None
) -> tuple[str, float]:
    """The sentence of `chunk_text` that best supports `claim`, and its score in [0, 1].

    `vectors`: embeddings already computed for the claim and the sentences (see `verify`); `encode` is
    called only for texts missing from it.
    """
    sentences = _support_sentences(chunk_text)
    wanted = numbers(claim)
    stating = _stating(wanted, sentences) if wanted else []
    if stating and len(stating) < len(sentences):  # the sentence with the claim's numbers is the quote
        sentences = [sentences[i] for i in stating]
    if encode is not None and len(sentences) > 1:
        score = _support_scores(claim, sentences, encode, vectors)
    else:
        score = np.array([lexical_overlap(claim, s) for s in sentences])
    i = int(np.argmax(score))
    return sentences[i], float(score[i])


def _support_scores(
    claim: str, sentences: Sequence[str], encode: Encoder, vectors: dict[str, np.ndarray] | None = None
) -> np.ndarray:
    """0.7 x embedding similarity + 0.3 x lexical overlap of `claim` with each sentence."""
    known = vectors or {}
    missing = [t for t in dict.fromkeys([claim, *sentences]) if t not in known]
    if missing:
        known = {**known, **dict(zip(missing, encode(missing), strict=True))}
    sims = np.stack([known[t] for t in sentences]) @ known[claim]
    lex = np.array([lexical_overlap(claim, s) for s in sentences])
    return np.asarray(0.7 * sims + 0.3 * lex)


def _support_sentences(chunk_text: str) -> list[str]:
    return split_sentences(chunk_text, min_chars=2) or [chunk_text.strip()]


def _citation(n: int, hit: Hit, quote: str, score: float, attributed: bool = False) -> Citation:
    rec = hit.record
    return Citation(
        n=n, doc_id=rec.doc_id, title=rec.title, source=rec.source, page=rec.page,
        section=list(rec.section), quote=quote, lang=rec.lang, score=round(score, 4),
        chunk_no=rec.chunk_no, attributed=attributed,
    )  # fmt: skip


def verify(answer: str, sources: Sequence[Hit], encode: Encoder | None = None) -> VerifiedAnswer:
    """Keep only markers that name a given source (1-based), and quote each cited source's best sentence."""
    valid = set(range(1, len(sources) + 1))
    removed: list[int] = []

    def fix(m: re.Match[str]) -> str:
        nums = [int(x) for x in re.split(r"\s*[,，、]\s*", m.group(1))]
        keep = [n for n in dict.fromkeys(nums) if n in valid]
        removed.extend(n for n in nums if n not in valid)
        return "".join(f"[{n}]" for n in keep)

    cleaned = _MARKER.sub(fix, answer).strip()
    cleaned = re.sub(r"[ \t]+([.,;:!?。，])", r"\1", cleaned)  # "claim [9]." -> "claim."
    cleaned = re.sub(r"[ \t]{2,}", " ", cleaned)
    citations: dict[int, Citation] = {}
    pairs: list[tuple[str, int]] = []
    last_claim = ""
    for claim, nums, _, _ in _claims(cleaned):
        if _WORD.search(claim):
            last_claim = claim
        # Markers on their own cite the claim before them; with none before, they state nothing and
        # cite nothing (a small model answered "[1] [2][3]": it was taken as grounded).
        pairs.extend((last_claim, n) for n in nums if last_claim)
    vectors: dict[str, np.ndarray] = {}
    if encode is not None and pairs:
        # One forward pass for every claim and every sentence of the cited chunks, each text once (it was
        # one pass per claim, re-embedding a chunk for each claim that cites it).
        texts = list(
            dict.fromkeys(
                [c for c, _ in pairs]
                + [t for _, n in pairs for t in _support_sentences(sources[n - 1].record.text)]
            )
        )
        vectors = dict(zip(texts, encode(texts), strict=True))
    for claim, n in pairs:
        hit = sources[n - 1]
        quote, score = best_support(claim, hit.record.text, encode, vectors)
        prev = citations.get(n)
        if prev is None or score > prev.score:
            citations[n] = _citation(n, hit, quote, score)
    return VerifiedAnswer(
        text=cleaned, citations=sorted(citations.values(), key=lambda c: c.n), removed_markers=removed
    )


def attribute(
    verified: VerifiedAnswer, sources: Sequence[Hit], encode: Encoder | None, min_score: float
) -> VerifiedAnswer:
    """Cite the claims of `verified` that carry no marker but state numbers a given source states.

    For each such claim, the candidate quotes are the sentences of the sources that contain every number
    of the claim; the best by support score (as for marked claims) wins if it reaches `min_score`, and
    the marker is added after the claim. Claims without numbers are left alone: without a marker, meaning
    alone is not evidence enough (cross-language similarity barely separates a supporting sentence from
    its neighbours). The number agreement does not check what the number is of: a model that copies
    "100.000 dong" from a registration-fee sentence into a passport answer gets that sentence quoted,
    which the reader sees; a model writing the marker itself is trusted no further.
    """
    text = verified.text
    todo = [
        (claim, tail, wanted)
        for claim, nums, _, tail in _claims(text)
        if not nums and _WORD.search(claim) and (wanted := numbers(claim))
    ]
    if not todo:
        return verified
    citations = {c.n: c for c in verified.citations}
    inserts: list[tuple[int, int]] = []
    for claim, tail, wanted in todo:
        candidates = [
            (n, sentence)
            for n, hit in enumerate(sources, 1)
            for sentence in _support_sentences(hit.record.text)
            if wanted <= numbers(sentence)
        ]
        if not candidates:
            continue
        if encode is not None:
            scores = _support_scores(claim, [c[1] for c in candidates], encode)
        else:
            scores = np.array([lexical_overlap(claim, c[1]) for c in candidates])
        i = int(np.argmax(scores))
        best = (float(scores[i]), *candidates[i])
        if best is None or best[0] < min_score:
            continue
        score, n, quote = best
        inserts.append((tail, n))
        prev = citations.get(n)
        if prev is None or (prev.attributed and score > prev.score):
            citations[n] = _citation(n, sources[n - 1], quote, score, attributed=True)
    for tail, n in sorted(inserts, reverse=True):
        end = len(text[:tail].rstrip())
        if end and text[end - 1] in ".!?。！？":  # "... 70 dollars [1]." as the prompt asks
            end -= 1
        text = f"{text[:end].rstrip()} [{n}]{text[end:]}"
    return VerifiedAnswer(
        text=text,
        citations=sorted(citations.values(), key=lambda c: c.n),
        removed_markers=verified.removed_markers,
    )
