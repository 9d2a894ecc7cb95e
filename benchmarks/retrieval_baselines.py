"""Retrieval on the shared mono run: govrag's BM25, dense and hybrid vs a naive LlamaIndex pipeline.

Contenders, all on the same ~7,000 passages (every `corpus/*.jsonl` except `xling-en.jsonl`) and the
same dev questions (`questions/<set>.dev.jsonl`, not the cross-lingual ones):

* bm25 / dense / hybrid: govrag's pipeline through `govrag.evaluation` (ingestion with its chunker,
  the bundled e5 embedder, the BM25 encoder, the embedded Qdrant index, `Retriever.search`);
* naive: LlamaIndex defaults: `SentenceSplitter()` (1,024 tokens, 200 overlap), `VectorStoreIndex`
  (in-memory `SimpleVectorStore`), the same converted e5 model folder through
  `llama-index-embeddings-huggingface` with the e5 prefixes "query: " / "passage: ", the document title
  as Document metadata (LlamaIndex embeds metadata by default), `as_retriever(similarity_top_k=10)`.

A hit is a retrieved chunk of a document listed in `relevant`; ranks count distinct documents (ties
against the system, `govrag.eval_metrics.first_hit_rank`). Prints recall@1/@5 per set and language and
the ratio hybrid / naive; the last line is
`RESULT hybrid_r1_<set>=<f> naive_r1_<set>=<f> ... hybrid_r5_<set>=<f> naive_r5_<set>=<f> ...`.

Both indexes are cached (`--index-dir`, `--naive-dir`) and rebuilt when the corpus or pipeline changes.

Usage: python benchmarks/retrieval_baselines.py [--eval-dir ../shared/eval] [--home DIR]
       [--index-dir DIR] [--naive-dir DIR] [--limit N]
Needs: pip install llama-index-embeddings-huggingface==0.8.0 (llama-index-core is a govrag dependency).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from govrag import eval_metrics as m  # noqa: E402
from govrag.evaluation import EvalIndex, prepare_set, read_jsonl, run_retrieval  # noqa: E402
from govrag.settings import load_settings  # noqa: E402

K = 10


def naive_index(files: list[Path], model_path: Path, cache: Path) -> tuple[Any, float, bool]:
    """The naive LlamaIndex vector index over the corpus (built once, persisted in `cache`)."""
    from llama_index.core import Document, StorageContext, VectorStoreIndex, load_index_from_storage
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    emb = HuggingFaceEmbedding(
        model_name=str(model_path),
        query_instruction="query: ",
        text_instruction="passage: ",
        device="cpu",
        embed_batch_size=32,
    )
    key = hashlib.sha256(
        json.dumps(
            [
                str(model_path),
                version("llama-index-core"),
                *[hashlib.sha256(f.read_bytes()).hexdigest() for f in files],
            ]
        ).encode()
    )
    stamp = cache / "fingerprint.txt"
    if stamp.is_file() and stamp.read_text(encoding="utf-8") == key.hexdigest():
        ctx = StorageContext.from_defaults(persist_dir=str(cache))
        return load_index_from_storage(ctx, embed_model=emb), float((cache / "build_s.txt").read_text()), True
    docs = [
        Document(
            id_=str(rec["id"]),
            text=str(rec["text"]),
            metadata={"title": rec["title"]} if rec.get("title") else {},
        )
        for f in files
        for _, rec in read_jsonl(f)
    ]
    t0 = time.perf_counter()
    index = VectorStoreIndex.from_documents(docs, embed_model=emb, transformations=[SentenceSplitter()])
    build_s = time.perf_counter() - t0
    cache.mkdir(parents=True, exist_ok=True)
    index.storage_context.persist(persist_dir=str(cache))
    (cache / "build_s.txt").write_text(f"{build_s:.1f}", encoding="utf-8")
    stamp.write_text(key.hexdigest(), encoding="utf-8")
    return index, build_s, False


def naive_report(index: Any, sets: list[Any]) -> tuple[dict[str, Any], list[float]]:
    """{set: {"all", "by_lang"}} for the naive retriever, and its query latencies."""
    retriever = index.as_retriever(similarity_top_k=K)
    out: dict[str, Any] = {}
    lat: list[float] = []
    for qs in sets:
        by_lang: dict[str, list[int | None]] = {}
        for q in qs.questions:
            t0 = time.perf_counter()
            nodes = retriever.retrieve(q.question)
            lat.append((time.perf_counter() - t0) * 1000)
            docs = [str(n.node.ref_doc_id) for n in nodes]
            by_lang.setdefault(q.lang, []).append(
                m.first_hit_rank(docs, q.relevant, [float(n.score or 0) for n in nodes])
            )
        every = [r for v in by_lang.values() for r in v]
        out[qs.name] = {
            "all": m.retrieval_summary(every),
            "by_lang": {lang: m.retrieval_summary(v) for lang, v in sorted(by_lang.items())},
        }
    return out, lat


def main() -> None:
    """Run the four contenders and print the comparison."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--eval-dir", type=Path, default=ROOT.parent / "shared" / "eval")
    ap.add_argument("--home", type=Path, default=ROOT / ".cache" / "bench-home")
    ap.add_argument("--index-dir", type=Path, default=ROOT / ".cache" / "eval-mono-index")
    ap.add_argument("--naive-dir", type=Path, default=ROOT / ".cache" / "naive-llamaindex-index")
    ap.add_argument("--limit", type=int, default=None, help="Questions per set (seeded sample).")
    args = ap.parse_args()
    if not args.eval_dir.is_dir():
        print(f"no eval data at {args.eval_dir}: nothing to do")
        print("RESULT skipped=1")
        return
    files = sorted(p for p in (args.eval_dir / "corpus").glob("*.jsonl") if p.name != "xling-en.jsonl")
    qfiles = sorted(p for p in (args.eval_dir / "questions").glob("*.dev.jsonl") if "-xling" not in p.name)
    settings = load_settings(home=args.home)
    if not (args.home / "models").exists():
        args.home.mkdir(parents=True, exist_ok=True)
        (args.home / "models").symlink_to((ROOT / ".cache" / "models").resolve(), target_is_directory=True)
    with EvalIndex(settings, files, args.index_dir) as ev:
        ours = run_retrieval(ev, qfiles, ["bm25", "dense", "hybrid"], k=K, limit=args.limit)
        model_path = ev.components.embedder.model_path
        sets = [prepare_set(p, ev.corpus, args.limit, 0) for p in qfiles]
    index, naive_build_s, reused = naive_index(files, model_path, args.naive_dir)
    naive, naive_lat = naive_report(index, sets)
    print(
        f"llama-index-core {version('llama-index-core')}, llama-index-embeddings-huggingface "
        f"{version('llama-index-embeddings-huggingface')}, "
        f"sentence-transformers {version('sentence-transformers')}"
    )
    print(
        f"govrag ingest {ours['ingest_s']} s ({ours['config']['chunks']} chunks, "
        f"reused={ours['config']['index_reused']}); "
        f"naive build {naive_build_s:.1f} s (reused={reused})"
    )
    print(
        f"query latency ms p50/p95: hybrid {ours['config']['latency_ms_by_mode']['hybrid']}, "
        f"naive {m.latency_summary(naive_lat)}\n"
    )
    head = f"{'set':<10}{'lang':<6}{'n':>5}" + "".join(
        f"{c + ' R@1':>12}{c + ' R@5':>12}" for c in ("bm25", "dense", "hybrid", "naive")
    )
    print(head + f"{'R@1 hyb/naive':>15}")
    result: dict[str, float] = {}
    for name in ours["sets"]:
        short = name.split(".")[0]
        rows = {c: ours["sets"][name][c] for c in ("bm25", "dense", "hybrid")} | {"naive": naive[name]}
        for lang in ["all", *rows["hybrid"]["by_lang"]]:
            cells = {c: (blk["all"] if lang == "all" else blk["by_lang"][lang]) for c, blk in rows.items()}
            ratio = cells["hybrid"]["recall@1"] / max(cells["naive"]["recall@1"], 1e-9)
            print(
                f"{short:<10}{lang:<6}{cells['hybrid']['n']:>5}"
                + "".join(f"{cells[c]['recall@1']:>12.3f}{cells[c]['recall@5']:>12.3f}" for c in cells)
                + f"{ratio:>15.2f}"
            )
        for c in ("hybrid", "naive", "dense", "bm25"):
            result[f"{c}_r1_{short}"] = rows[c]["all"]["recall@1"]
            result[f"{c}_r5_{short}"] = rows[c]["all"]["recall@5"]
    print("RESULT " + " ".join(f"{k}={v:.4f}" for k, v in result.items()))


if __name__ == "__main__":
    main()
