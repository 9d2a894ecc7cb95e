"""BM25 retrieval on the shared multilingual eval set: Qdrant's stock tokenizer vs `indices.sparse`.

Builds an in-memory BM25 index over every `corpus/*.jsonl` except `xling-en.jsonl` (~7,000 passages,
11 languages), asks every `questions/<set>.dev.jsonl` (not the cross-lingual ones) and reports
recall@1/5/10 and MRR@10 per set and language, for

* stock:  `qdrant_edge.Bm25` with `TokenizerType.Multilingual` (its defaults: English stemmer/stop words);
* ours:   `indices.sparse.SparseEncoder` with default settings (ICU words + unit bigrams);
* rules:  ours with `segmenter="rules"` (no ICU), for reference.

Scoring is what Qdrant does with `Modifier.IDF`: score = sum over query terms of
idf(term) * document weight, idf = ln(1 + (N - n + 0.5) / (n + 0.5)), n = documents with the term.
A hit is a retrieved passage whose id is in the question's `relevant`.

Lao and Khmer have no questions, so a labelled *proxy* adds known-item queries for km/lo/my/th/zh:
a random 30-character (15 for Chinese) substring of each Belebele passage, cut at arbitrary
characters, must find its passage. It rewards sub-phrase matching, not question answering.

Also prints encoding throughput (passages/s, CPU time, cold and warm caches). Last line:
`RESULT bm25_recall5_stock=<f> bm25_recall5=<f>` (micro-averaged over all questions).

Usage: python benchmarks/bm25_eval.py [--eval-dir ../shared/eval] [--no-rules]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from indices.schema import SparseVec
from indices.sparse import SparseEncoder, SparseEncoderSettings

Encoder = tuple[Callable[[Sequence[str]], list[SparseVec]], Callable[[str], SparseVec]]


def load(eval_dir: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Passages (mono corpus) and dev questions (mono sets), each question tagged with its set."""
    docs: list[dict[str, Any]] = []
    for f in sorted((eval_dir / "corpus").glob("*.jsonl")):
        if f.name != "xling-en.jsonl":
            docs += [json.loads(line) for line in f.open(encoding="utf-8")]
    questions: list[dict[str, Any]] = []
    for f in sorted((eval_dir / "questions").glob("*.dev.jsonl")):
        if "-xling" in f.name:
            continue
        for line in f.open(encoding="utf-8"):
            q = json.loads(line)
            q["set"] = f.name.split(".")[0]
            questions.append(q)
    return docs, questions


def proxy_questions(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Known-item substring queries for the unspaced scripts (see module docstring)."""
    rnd = random.Random(7)
    out = []
    for d in docs:
        if d["dataset"] == "belebele" and d["lang"] in ("km", "lo", "my", "th", "zh"):
            text, n = d["text"], 15 if d["lang"] == "zh" else 30
            i = rnd.randrange(0, max(1, len(text) - n))
            out.append(
                {"question": text[i : i + n], "relevant": [d["id"]], "set": "proxy", "lang": d["lang"]}
            )
    return out


def ours_encoder(settings: SparseEncoderSettings | None = None) -> Encoder:
    """A fresh `SparseEncoder` (empty caches)."""
    enc = SparseEncoder(settings)
    return enc.encode_documents, enc.encode_query


def stock_encoder() -> Encoder:
    """Qdrant edge's own BM25 with the multilingual tokenizer."""
    from qdrant_edge import Bm25, Bm25Config, TokenizerType

    model = Bm25(Bm25Config(tokenizer=TokenizerType.Multilingual))

    def conv(v: Any) -> SparseVec:
        return SparseVec(indices=list(v.indices), values=list(v.values))

    return (lambda texts: [conv(model.embed_document(t)) for t in texts]), (
        lambda t: conv(model.embed_query(t))
    )


class Bm25Index:
    """Documents' TF weights times IDF, as a term x document matrix."""

    def __init__(self, vectors: list[SparseVec]) -> None:
        """Build the matrix and the IDF of every term id."""
        rows = np.repeat(np.arange(len(vectors)), [len(v.indices) for v in vectors])
        ids = np.fromiter((i for v in vectors for i in v.indices), dtype=np.int64, count=len(rows))
        vals = np.fromiter((x for v in vectors for x in v.values), dtype=np.float64, count=len(rows))
        self.vocab, cols = np.unique(ids, return_inverse=True)
        mat = sp.csr_matrix((vals, (rows, cols)), shape=(len(vectors), len(self.vocab)))
        df = np.bincount(cols, minlength=len(self.vocab))
        n = len(vectors)
        idf = np.log(1.0 + (n - df + 0.5) / (df + 0.5))
        self.matrix = mat.multiply(idf[None, :]).tocsc().T.tocsr()  # terms x docs

    def search(self, queries: list[SparseVec], k: int = 10) -> list[list[int]]:
        """Top-k document numbers per query (positive scores only, ties by corpus order)."""
        rows, cols, vals = [], [], []
        for qi, q in enumerate(queries):
            pos = np.searchsorted(self.vocab, q.indices)
            for p, i, v in zip(pos, q.indices, q.values, strict=True):
                if p < len(self.vocab) and self.vocab[p] == i:
                    rows.append(qi)
                    cols.append(p)
                    vals.append(v)
        qm = sp.csr_matrix((vals, (rows, cols)), shape=(len(queries), len(self.vocab)))
        scores = (qm @ self.matrix).toarray()
        top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        return [[int(d) for d in row if scores[qi, d] > 0] for qi, row in enumerate(top)]


def evaluate(docs: list[dict[str, Any]], questions: list[dict[str, Any]], encoder: Encoder) -> dict[str, Any]:
    """Encode, index, search; the rank (0-based, None = not in top 10) of the first relevant passage."""
    encode_docs, encode_query = encoder
    texts = [f"{d.get('title', '')}\n{d['text']}" for d in docs]
    vectors = encode_docs(texts)
    index = Bm25Index(vectors)
    qvecs = [encode_query(q["question"]) for q in questions]
    ids = [d["id"] for d in docs]
    ranks: list[int | None] = []
    for q, top in zip(questions, index.search(qvecs), strict=True):
        rel = set(q["relevant"])
        ranks.append(next((r for r, d in enumerate(top) if ids[d] in rel), None))
    terms = float(np.mean([len(v.indices) for v in vectors]))
    return {"ranks": ranks, "distinct_terms": terms}


def speed(make: Callable[[], Encoder], texts: list[str], queries: list[str]) -> tuple[float, float, float]:
    """Passages/s of a fresh encoder (cold caches), again (warm), and queries/s; CPU time of this process."""
    encode_docs, encode_query = make()
    rates = []
    for _ in range(2):
        t0 = time.process_time()
        encode_docs(texts)
        rates.append(len(texts) / max(time.process_time() - t0, 1e-9))
    t0 = time.process_time()
    for q in queries:
        encode_query(q)
    return rates[0], rates[1], len(queries) / max(time.process_time() - t0, 1e-9)


def metrics(ranks: Sequence[int | None]) -> tuple[int, float, float, float, float]:
    """n, recall@1, recall@5, recall@10, MRR@10."""
    n = len(ranks)
    if not n:
        return 0, math.nan, math.nan, math.nan, math.nan

    def rec(k: int) -> float:
        return sum(r is not None and r < k for r in ranks) / n

    return n, rec(1), rec(5), rec(10), sum(1.0 / (r + 1) for r in ranks if r is not None) / n


def table(
    questions: list[dict[str, Any]], runs: dict[str, dict[str, Any]], key: Callable[[Any], str]
) -> None:
    """Print one row per group: n, then r@1/r@5/r@10/MRR for each run, and the r@5 ratio ours/stock."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, q in enumerate(questions):
        groups[key(q)].append(i)
    names = list(runs)
    head = f"{'group':<16}{'n':>5}  " + "  ".join(f"{n + ' r1/r5/r10/mrr':<29}" for n in names)
    print(head + "  r5 ours/stock")
    for g in sorted(groups, key=lambda g: (g == "ALL", g)):
        idx = groups[g]
        cells, r5 = [], {}
        for name in names:
            ranks = [runs[name]["ranks"][i] for i in idx]
            _, r1, r5_, r10, mrr = metrics(ranks)
            r5[name] = r5_
            cells.append(f"{r1:.3f}/{r5_:.3f}/{r10:.3f}/{mrr:.3f}      ")
        ratio = r5["ours"] / r5["stock"] if r5["stock"] else math.inf
        print(f"{g:<16}{len(idx):>5}  " + "  ".join(cells) + f"  {ratio:.2f}")


def main() -> None:
    """Run the comparison and print the tables and the RESULT line."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--eval-dir", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "eval")
    ap.add_argument("--no-rules", action="store_true", help="skip the segmenter='rules' variant")
    args = ap.parse_args()
    if not (args.eval_dir / "corpus").is_dir():
        sys.exit(f"no eval data at {args.eval_dir} (expected corpus/ and questions/); pass --eval-dir")
    docs, questions = load(args.eval_dir)
    proxy = proxy_questions(docs)
    print(f"{len(docs)} passages, {len(questions)} questions, {len(proxy)} proxy queries")
    makers: dict[str, Callable[[], Encoder]] = {"stock": stock_encoder, "ours": lambda: ours_encoder()}
    if not args.no_rules:
        makers["rules"] = lambda: ours_encoder(SparseEncoderSettings(segmenter="rules"))
    print("ours:", SparseEncoder().identity)
    runs = {name: evaluate(docs, questions + proxy, make()) for name, make in makers.items()}
    nq = len(questions)
    real = {n: {"ranks": r["ranks"][:nq]} for n, r in runs.items()}
    fake = {n: {"ranks": r["ranks"][nq:]} for n, r in runs.items()}
    print("\n== per set and language ==")
    table(questions, real, lambda q: f"{q['set']}-{q['lang']}")
    print("\n== per language ==")
    table(questions, real, lambda q: q["lang"])
    print("\n== all ==")
    table(questions, real, lambda q: "ALL")
    print("\n== PROXY: known-item substring queries (Belebele passages; no real km/lo questions exist) ==")
    table(proxy, fake, lambda q: q["lang"])
    texts = [d["text"] for d in docs]
    chars = sum(map(len, texts)) / len(texts)
    print(f"\n== encoding speed (CPU time of this process, one thread; passages avg {chars:.0f} chars) ==")
    rates = {}
    for name, make in makers.items():
        rates[name] = cold, warm, qps = speed(make, texts, [q["question"] for q in questions])
        print(
            f"{name:<8} cold {cold:7.0f} passages/s  warm {warm:7.0f} passages/s  {qps:7.0f} queries/s  "
            f"{runs[name]['distinct_terms']:.0f} distinct terms/passage"
        )
    print(f"warm speed ratio ours/stock: {rates['ours'][1] / rates['stock'][1]:.2f}")
    stock5, ours5 = metrics(real["stock"]["ranks"])[2], metrics(real["ours"]["ranks"])[2]
    print(f"RESULT bm25_recall5_stock={stock5:.4f} bm25_recall5={ours5:.4f}")


if __name__ == "__main__":
    main()
