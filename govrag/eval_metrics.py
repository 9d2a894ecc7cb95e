"""Pure metric functions of the evaluation harness (no models, no index): easy to test by hand.

Retrieval: the rank of the first relevant *document* (chunks of one document count once), recall@k
(share of questions with a relevant document in the top k: a hit rate, as almost every question has
one relevant passage), MRR@10. Answers: SQuAD-style exact match and token F1 (character F1 for the
unspaced scripts th/zh/lo/km/my, where whitespace tokens would be whole phrases), multiple-choice
accuracy, citation precision. Latency: percentiles with linear interpolation.
"""

from __future__ import annotations

import math
import re
import string
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

#: Languages written without spaces between words: F1 is computed over characters.
UNSPACED_LANGS = frozenset({"th", "zh", "lo", "km", "my", "ja"})

_MARKER = re.compile(r"\s*[\[【［]\s*\d{1,3}(?:\s*[,，、]\s*\d{1,3})*\s*[\]】］]")
_EN_ARTICLES = re.compile(r"\b(a|an|the)\b")
_SPACES = re.compile(r"\s+")


def _distinct(doc_ids: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(doc_ids))


def first_hit_rank(
    doc_ids: Sequence[str], relevant: Iterable[str], scores: Sequence[float] | None = None
) -> int | None:
    """1-based rank of the first relevant document among the *distinct* retrieved documents, or None.

    `doc_ids` are the retrieved chunks' document ids in rank order; repeated documents keep their first
    position. With `scores` (one per chunk, best first), ties count against the system: a relevant
    document that shares its score with documents ranked before it gets the rank of the *last* member
    of that tie group, because which of them the index lists first is arbitrary (point-id order).
    """
    rel = set(relevant)
    if scores is not None and len(scores) != len(doc_ids):
        raise ValueError(f"got {len(scores)} scores for {len(doc_ids)} documents")
    best: dict[str, float] = {}
    order: list[str] = []
    for i, d in enumerate(doc_ids):
        if d not in best:
            best[d] = scores[i] if scores is not None else -float(i)
            order.append(d)
    for pos, d in enumerate(order):
        if d not in rel:
            continue
        if scores is None:
            return pos + 1
        tied = [j for j in range(pos + 1, len(order)) if math.isclose(best[order[j]], best[d], abs_tol=1e-9)]
        return (tied[-1] if tied else pos) + 1
    return None


def recall_at(ranks: Sequence[int | None], k: int) -> float:
    """Share of questions whose first relevant document is within the top `k` (0.0 for no questions)."""
    if not ranks:
        return 0.0
    return sum(1 for r in ranks if r is not None and r <= k) / len(ranks)


def mrr_at(ranks: Sequence[int | None], k: int = 10) -> float:
    """Mean reciprocal rank of the first relevant document, 0 beyond rank `k` (0.0 for no questions)."""
    if not ranks:
        return 0.0
    return sum(1.0 / r for r in ranks if r is not None and r <= k) / len(ranks)


def retrieval_summary(ranks: Sequence[int | None]) -> dict[str, float | int]:
    """The report's retrieval block: n, recall@1/@5/@10 and MRR@10, rounded to 4 decimals."""
    return {
        "n": len(ranks),
        "recall@1": round(recall_at(ranks, 1), 4),
        "recall@5": round(recall_at(ranks, 5), 4),
        "recall@10": round(recall_at(ranks, 10), 4),
        "mrr@10": round(mrr_at(ranks, 10), 4),
    }


# ------------------------------------------------------------------------------------------ answers


def strip_citations(text: str) -> str:
    """The answer without its [n] citation markers."""
    return _MARKER.sub("", text).strip()


def normalize_answer(text: str, lang: str = "") -> str:
    """Lower case, NFKC, no punctuation (any script), single spaces; English also drops a/an/the."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = "".join(
        " " if unicodedata.category(ch).startswith("P") or ch in string.punctuation else ch for ch in text
    )
    if lang == "en":
        text = _EN_ARTICLES.sub(" ", text)
    return _SPACES.sub(" ", text).strip()


def answer_tokens(text: str, lang: str) -> list[str]:
    """Tokens for F1: whitespace words, or characters (spaces dropped) for unspaced scripts."""
    norm = normalize_answer(text, lang)
    if lang in UNSPACED_LANGS:
        return [ch for ch in norm if not ch.isspace()]
    return norm.split()


def exact_match(prediction: str, answers: Sequence[str], lang: str = "") -> float:
    """1.0 when the normalized prediction equals any normalized gold answer, else 0.0."""
    pred = normalize_answer(prediction, lang)
    return 1.0 if any(pred == normalize_answer(a, lang) for a in answers) else 0.0


def token_f1(prediction: str, answers: Sequence[str], lang: str = "") -> float:
    """Best token F1 of the prediction against any gold answer (character F1 for th/zh/lo/km/my)."""
    pred = answer_tokens(prediction, lang)
    best = 0.0
    for gold_text in answers:
        gold = answer_tokens(gold_text, lang)
        if not pred or not gold:
            best = max(best, 1.0 if pred == gold else 0.0)
            continue
        common = sum((Counter(pred) & Counter(gold)).values())
        if common == 0:
            continue
        precision, recall = common / len(pred), common / len(gold)
        best = max(best, 2 * precision * recall / (precision + recall))
    return best


def choice_accuracy(predicted: Sequence[int | None], correct: Sequence[int]) -> float:
    """Share of multiple-choice questions answered with the correct option (None = no pick = wrong)."""
    if len(predicted) != len(correct):
        raise ValueError(f"{len(predicted)} predictions for {len(correct)} questions")
    if not correct:
        return 0.0
    return sum(1 for p, c in zip(predicted, correct, strict=True) if p == c) / len(correct)


def pick_choice(similarities: Sequence[float]) -> int | None:
    """Index of the most similar option (the first one on ties), None when there are no options."""
    if not similarities:
        return None
    return max(range(len(similarities)), key=lambda i: (similarities[i], -i))


def parse_choice(text: str, n_choices: int) -> int | None:
    """The option a model picked: the first number 1..n (or letter A..) it wrote, as a 0-based index."""
    for m in re.finditer(r"(?<![\d\w])(\d{1,2}|[A-Ha-h])(?![\d\w])", strip_citations(text)):
        tok = m.group(1)
        idx = int(tok) - 1 if tok.isdigit() else ord(tok.upper()) - ord("A")
        if 0 <= idx < n_choices:
            return idx
    return None


def citation_precision(cited_doc_ids: Sequence[str], relevant: Iterable[str]) -> float | None:
    """Share of an answer's citations that name a relevant document (None when nothing is cited)."""
    if not cited_doc_ids:
        return None
    rel = set(relevant)
    return sum(1 for d in cited_doc_ids if d in rel) / len(cited_doc_ids)


def mean(values: Iterable[float | None]) -> float | None:
    """Mean of the values that are not None (None when there are none)."""
    got = [v for v in values if v is not None]
    return sum(got) / len(got) if got else None


# ------------------------------------------------------------------------------------------ latency


def percentile(values: Sequence[float], q: float) -> float:
    """The `q`-th percentile (0..100) with linear interpolation between order statistics (0.0 if empty)."""
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0..100, got {q}")
    if not values:
        return 0.0
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def latency_summary(values_ms: Sequence[float]) -> dict[str, float]:
    """{"p50", "p95"} in milliseconds, rounded to 0.1 ms."""
    return {"p50": round(percentile(values_ms, 50), 1), "p95": round(percentile(values_ms, 95), 1)}


def group_by_lang(items: Iterable[tuple[str, float | int | None]]) -> Mapping[str, list[float | int | None]]:
    """{lang: [values]} in first-seen order (helper for per-language blocks)."""
    out: dict[str, list[float | int | None]] = {}
    for lang, value in items:
        out.setdefault(lang, []).append(value)
    return out
