"""Retrieval on the shared eval runs: govrag's BM25, dense and hybrid vs a naive LlamaIndex pipeline.

Contenders, all on the same passages and the same dev questions of one of the two standard runs of
`../shared/eval` (`--run`):

* mono (default): ~7,000 passages (every `corpus/*.jsonl` except `xling-en.jsonl`), the questions
  `questions/<set>.dev.jsonl` (not the cross-lingual ones);
* xling: the English passages `corpus/xling-en.jsonl` alone, the questions `questions/*-xling.dev.jsonl`.

The contenders:

* bm25 / dense / hybrid: govrag's pipeline through `govrag.evaluation` (ingestion with its chunker,
  the bundled e5 embedder, the BM25 encoder, the embedded Qdrant index, `Retriever.search`);
* naive: LlamaIndex defaults: `SentenceSplitter()` (1,024 tokens, 200 overlap), `VectorStoreIndex`
  (in-memory `SimpleVectorStore`), the same converted e5 model folder through
  `llama-index-embeddings-huggingface` with the e5 prefixes "query: " / "passage: ", the document title
  as Document metadata (LlamaIndex embeds metadata by default), `as_retriever(similarity_top_k=10)`.

A hit is a retrieved chunk of a document listed in `relevant`; ranks count distinct documents (ties
against the system, `govrag.eval_metrics.first_hit_rank`). Prints recall@1/@5/@10 and MRR@10 per set
and language for the four contenders and the ratio hybrid / naive of recall@1; `--out` writes all of it
as JSON. The last line is `RESULT <contender>_<metric>_<set>=<f> ...` with, per set (`-` in set names
becomes `_`), r1/r5/r10/mrr of hybrid and naive and r1/r5 of dense and bm25.

Both indexes are cached (`--index-dir`, default `.cache/eval-<run>-index`; `--naive-dir`, default
`.cache/naive-llamaindex-<run>-index`) and rebuilt when the corpus or pipeline changes.

Usage: python benchmarks/retrieval_baselines.py [--run mono|xling] [--eval-dir ../shared/eval]
       [--home DIR] [--index-dir DIR] [--naive-dir DIR] [--limit N] [--report report.json] [--out FILE]
Needs: `make bench-deps` (llama-index-embeddings-huggingface 0.8.0; llama-index-core is a govrag dependency).
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
from govrag.evaluation import EvalIndex, prepare_set, read_jsonl, run_retrieval, scan_corpus  # noqa: E402
from govrag.settings import load_settings  # noqa: E402
from indices.embedder import Embedder  # noqa: E402

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


def run_files(eval_dir: Path, run: str) -> tuple[list[Path], list[Path]]:
    """(corpus files, question files) of one of the two standard runs of the shared eval data."""
    corpus = sorted((eval_dir / "corpus").glob("*.jsonl"))
    questions = sorted((eval_dir / "questions").glob("*.dev.jsonl"))
    if run == "xling":
        return [p for p in corpus if p.name == "xling-en.jsonl"], [p for p in questions if "-xling" in p.name]
    return [p for p in corpus if p.name != "xling-en.jsonl"], [p for p in questions if "-xling" not in p.name]


def main() -> None:
    """Run the four contenders and print the comparison."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--run",
        choices=["mono", "xling"],
        default="mono",
        help="mono: every corpus file but xling-en.jsonl, <set>.dev.jsonl questions; "
        "xling: xling-en.jsonl alone, *-xling.dev.jsonl questions.",
    )
    ap.add_argument("--eval-dir", type=Path, default=ROOT.parent / "shared" / "eval")
    ap.add_argument("--home", type=Path, default=ROOT / ".cache" / "bench-home")
    ap.add_argument("--index-dir", type=Path, default=None, help="Default: .cache/eval-<run>-index.")
    ap.add_argument(
        "--naive-dir", type=Path, default=None, help="Default: .cache/naive-llamaindex-<run>-index."
    )
    ap.add_argument("--limit", type=int, default=None, help="Questions per set (seeded sample).")
    ap.add_argument(
        "--report",
        type=Path,
        default=None,
        help="Reuse govrag's numbers from a `govrag eval retrieval --mode all` JSON report of this run.",
    )
    ap.add_argument("--out", type=Path, default=None, help="Write every number (JSON) to this file.")
    args = ap.parse_args()
    args.index_dir = args.index_dir or ROOT / ".cache" / f"eval-{args.run}-index"
    args.naive_dir = args.naive_dir or ROOT / ".cache" / f"naive-llamaindex-{args.run}-index"
    if not args.eval_dir.is_dir():
        print(f"no eval data at {args.eval_dir}: nothing to do")
        print("RESULT skipped=1")
        return
    files, qfiles = run_files(args.eval_dir, args.run)
    if not files or not qfiles:
        raise SystemExit(f"{args.eval_dir}: no corpus or question files for the {args.run} run")
    settings = load_settings(home=args.home)
    if not (args.home / "models").exists():
        args.home.mkdir(parents=True, exist_ok=True)
        (args.home / "models").symlink_to((ROOT / ".cache" / "models").resolve(), target_is_directory=True)
    if args.report is not None:  # govrag's side already measured by `govrag eval retrieval --mode all`
        ours = json.loads(args.report.read_text(encoding="utf-8"))
        if args.limit is not None or sorted(ours["config"]["modes"]) != ["bm25", "dense", "hybrid"]:
            raise SystemExit("--report needs a `--mode all` report of the full sets (and no --limit)")
        same_corpus = sorted(ours["config"]["corpus"]) == sorted(p.name for p in files)
        if not same_corpus or sorted(ours["sets"]) != sorted(p.name for p in qfiles):
            raise SystemExit(f"--report {args.report} is not a report of the {args.run} run")
        corpus = scan_corpus(files)
        model_path = Embedder(settings.embedder, settings.models_dir).model_path
    else:
        with EvalIndex(settings, files, args.index_dir) as ev:
            ours = run_retrieval(ev, qfiles, ["bm25", "dense", "hybrid"], k=K, limit=args.limit)
            model_path = ev.components.embedder.model_path
            corpus = ev.corpus
    sets = [prepare_set(p, corpus, args.limit, 0) for p in qfiles]
    index, naive_build_s, reused = naive_index(files, model_path, args.naive_dir)
    naive, naive_lat = naive_report(index, sets)
    versions = {
        pkg: version(pkg)
        for pkg in (
            "llama-index-core",
            "llama-index-embeddings-huggingface",
            "sentence-transformers",
            "torch",
        )
    }
    naive_chunks = len(index.docstore.docs)
    print(f"run {args.run}: {len(files)} corpus file(s), {len(qfiles)} question file(s)")
    print(", ".join(f"{k} {v}" for k, v in versions.items()))
    print(f"govrag git {ours['config'].get('git_commit')} (commit of the govrag numbers)")
    print(
        f"govrag ingest {ours['ingest_s']} s ({ours['config']['chunks']} chunks, "
        f"reused={ours['config']['index_reused']}); "
        f"naive build {naive_build_s:.1f} s ({naive_chunks} chunks, reused={reused})"
    )
    naive_lat_summary = m.latency_summary(naive_lat)
    print(
        f"query latency ms p50/p95: hybrid {ours['config']['latency_ms_by_mode']['hybrid']}, "
        f"naive {naive_lat_summary}\n"
    )
    contenders = ("bm25", "dense", "hybrid", "naive")
    metrics = ("recall@1", "recall@5", "recall@10", "mrr@10")
    print("cells: recall@1 / recall@5 / recall@10 / MRR@10")
    head = f"{'set':<16}{'lang':<6}{'n':>5}" + "".join(f"{c:>31}" for c in contenders)
    print(head + f"{'R@1 hyb/naive':>15}")
    result: dict[str, float] = {}
    sets_out: dict[str, Any] = {}
    for name in ours["sets"]:
        short = name.split(".")[0]
        rows = {c: ours["sets"][name][c] for c in ("bm25", "dense", "hybrid")} | {"naive": naive[name]}
        sets_out[name] = rows
        for lang in ["all", *rows["hybrid"]["by_lang"]]:
            cells = {c: (blk["all"] if lang == "all" else blk["by_lang"][lang]) for c, blk in rows.items()}
            ratio = cells["hybrid"]["recall@1"] / max(cells["naive"]["recall@1"], 1e-9)
            print(
                f"{short:<16}{lang:<6}{cells['hybrid']['n']:>5}"
                + "".join(f"{' / '.join(f'{cells[c][k]:.3f}' for k in metrics):>31}" for c in contenders)
                + f"{ratio:>15.2f}"
            )
        key = short.replace("-", "_")
        for c in ("hybrid", "naive", "dense", "bm25"):
            wanted = metrics if c in ("hybrid", "naive") else metrics[:2]
            for k in wanted:
                tag = "mrr" if k == "mrr@10" else "r" + k.split("@")[1]
                result[f"{c}_{tag}_{key}"] = rows[c]["all"][k]
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(
            json.dumps(
                {
                    "run": args.run,
                    "corpus": [p.name for p in files],
                    "questions": [p.name for p in qfiles],
                    "limit": args.limit,
                    "k": K,
                    "versions": versions,
                    "govrag_config": ours["config"],
                    "govrag_ingest_s": ours["ingest_s"],
                    "naive": {
                        "build_s": round(naive_build_s, 1),
                        "reused": reused,
                        "chunks": naive_chunks,
                        "latency_ms": naive_lat_summary,
                    },
                    "sets": sets_out,
                },
                indent=2,
            ),
            encoding="utf-8",
        )
        print(f"wrote {args.out}")
    print("RESULT " + " ".join(f"{k}={v:.4f}" for k, v in result.items()))


if __name__ == "__main__":
    main()
