"""Benchmark: the embedded index (Qdrant Edge) against qdrant-client local mode, same data, same queries.

Data (deterministic, `--n` chunks, default 100k, dim 384): dense vectors from a few thousand gaussian
clusters (normalised), ~5 chunks per document sharing a cluster, payloads like real chunks (agency with
a skewed popularity, language, access groups, dates, ~600 characters of text) and BM25-style sparse
vectors (zipf-distributed token ids plus per-cluster topic tokens, term-frequency weights).

Each side runs in its own subprocess (so peak RSS is its own): load through the adapter (`EdgeIndex`,
or `ServerIndex` on `QdrantClient(path=...)`), build (Edge: `optimize()`, HNSW; local mode has no
index), then filtered hybrid searches (agency + access groups, one chunk per document, top-10) through
the same `VectorIndex.search`. Times exclude query embedding (vectors are precomputed). Local mode is
brute force in Python and slow with filters, so its query count is time-boxed. Top-10 overlap compares
Edge HNSW results with Edge exact results (`exact=True`) on the same queries. A second table measures
filtered dense search, HNSW vs exact, at several filter selectivities: where exact search is cheaper.

Qdrant Edge runs its HNSW build threads at a lowered priority, so on a busy machine the build's wall
time stretches; "index build CPU" is the contention-free measure. Local mode's folder is on tmpfs when
available (it fsyncs SQLite once per point; on disk 100k points take over 15 minutes).

At scale (`--n 1000000 --no-local --quantization int8`) local mode is out of reach (its Python scan
takes minutes per filtered query at 1M); the baseline is then the same Edge index searched exactly
(`exact=True`, no HNSW), and the RESULT line adds `p50_1m_ms` (the filtered hybrid p50 at >= 1M chunks).

Run: python benchmarks/index_bench.py [--n 100000]. Last line: RESULT speedup_ratio=... hybrid_p50_ms=...
top10_overlap=... (with --no-local: exact_ratio=... instead of speedup_ratio, and p50_1m_ms at 1M)
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from indices.registry import IndexSettings
from indices.schema import (
    ChunkRecord,
    EmbedderIdentity,
    IndexPoint,
    SearchFilter,
    SearchMode,
    SearchQuery,
    SparseVec,
)

LANGS = ["en", "ms", "id", "th", "vi", "tl", "ta", "zh", "my", "km", "lo"]
N_AGENCIES, N_GROUPS, VOCAB, TOPIC_WORDS = 40, 30, 300_000, 40
WORDS = [
    "ministry",
    "tax",
    "permit",
    "health",
    "school",
    "form",
    "deadline",
    "fee",
    "office",
    "license",
    "citizen",
    "apply",
    "notice",
    "rule",
]


# ------------------------------------------------------------------------------------------ data


def generate(n: int, dim: int, n_queries: int, seed: int = 42) -> dict[str, np.ndarray]:
    """The synthetic corpus and queries as numpy arrays (see the module docstring)."""
    rng = np.random.default_rng(seed)
    n_clusters = max(8, min(3000, n // 33))
    centers = rng.normal(size=(n_clusters, dim)).astype(np.float32)
    centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    sizes = np.minimum(rng.geometric(0.2, size=n), 20)  # chunks per document, mean ~5
    doc_of = np.repeat(np.arange(len(sizes)), sizes)[:n]
    chunk_no = np.concatenate([np.arange(s) for s in sizes])[:n]
    n_docs = int(doc_of[-1]) + 1
    doc_cluster = rng.integers(0, n_clusters, size=n_docs)
    cluster = doc_cluster[doc_of]
    dense = centers[cluster] + rng.normal(scale=0.9 / np.sqrt(dim), size=(n, dim)).astype(np.float32)
    dense /= np.linalg.norm(dense, axis=1, keepdims=True)
    agency_p = 1.0 / np.arange(1, N_AGENCIES + 1) ** 0.8
    doc_agency = rng.choice(N_AGENCIES, size=n_docs, p=agency_p / agency_p.sum())
    doc_lang = rng.integers(0, len(LANGS), size=n_docs)
    # groups bitmask: bit 0 = public (70% of documents), else one or two internal groups
    doc_groups = np.where(rng.random(n_docs) < 0.7, 1, 0).astype(np.int64)
    internal = rng.integers(1, N_GROUPS + 1, size=(n_docs, 2))
    doc_groups |= np.where(doc_groups == 0, 1 << internal[:, 0], 0)
    doc_groups |= np.where(rng.random(n_docs) < 0.3, 1 << internal[:, 1], 0)
    doc_date = rng.uniform(1.3e9, 1.75e9, size=n_docs)
    topic = rng.integers(0, VOCAB, size=(n_clusters, TOPIC_WORDS))
    indptr, indices, values = [0], [], []
    lengths = rng.integers(50, 200, size=n)
    for i in range(n):
        n_general = int(lengths[i] * 0.7)
        toks = np.concatenate(
            [
                np.minimum(rng.zipf(1.15, size=n_general), VOCAB - 1),
                topic[cluster[i], rng.integers(0, TOPIC_WORDS, size=lengths[i] - n_general)],
            ]
        )
        uniq, tf = np.unique(toks, return_counts=True)
        w = tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * lengths[i] / 125.0))
        indices.append(uniq)
        values.append(w.astype(np.float32))
        indptr.append(indptr[-1] + len(uniq))
    # queries: near a random chunk's cluster, tokens from that chunk, filters that admit its document
    target = rng.integers(0, n, size=n_queries)
    q_dense = dense[target] + rng.normal(scale=0.7 / np.sqrt(dim), size=(n_queries, dim)).astype(np.float32)
    q_dense /= np.linalg.norm(q_dense, axis=1, keepdims=True)
    q_tokens = np.stack([rng.choice(indices[t], size=4, replace=len(indices[t]) < 4) for t in target])
    q_groups = (
        1
        | (1 << rng.integers(1, N_GROUPS + 1, size=n_queries))
        | (1 << rng.integers(1, N_GROUPS + 1, size=n_queries))
    )
    return {
        "dense": dense,
        "doc_of": doc_of,
        "chunk_no": chunk_no,
        "sizes": sizes[:n_docs],
        "doc_agency": doc_agency,
        "doc_lang": doc_lang,
        "doc_groups": doc_groups,
        "doc_date": doc_date,
        "sp_indptr": np.asarray(indptr, dtype=np.int64),
        "sp_indices": np.concatenate(indices).astype(np.int64),
        "sp_values": np.concatenate(values),
        "q_dense": q_dense,
        "q_tokens": q_tokens,
        "q_agency": doc_agency[doc_of[target]],
        "q_groups": q_groups,
    }


def _groups(mask: int) -> list[str]:
    return ["public" if b == 0 else f"grp-{b:02d}" for b in range(N_GROUPS + 1) if mask >> b & 1]


def points(d: dict[str, np.ndarray], start: int, stop: int) -> list[IndexPoint]:
    """IndexPoints for chunks [start, stop)."""
    out = []
    filler = " ".join(WORDS * 6)[:560]
    for i in range(start, stop):
        doc = int(d["doc_of"][i])
        a, b = d["sp_indptr"][i], d["sp_indptr"][i + 1]
        rec = ChunkRecord(
            doc_id=f"doc-{doc:06d}",
            chunk_no=int(d["chunk_no"][i]),
            text=f"chunk {i}: {filler}",
            title=f"Document {doc}",
            source=f"https://gov.example/{doc}.pdf",
            page=1 + int(d["chunk_no"][i]),
            lang=LANGS[int(d["doc_lang"][doc])],
            agency=f"agency-{int(d['doc_agency'][doc]):02d}",
            groups=_groups(int(d["doc_groups"][doc])),
            content_hash=f"h{doc}",
            n_chunks=int(d["sizes"][doc]),
            ingested_at=1.7e9,
            doc_date=float(d["doc_date"][doc]),
        )
        out.append(
            IndexPoint(
                rec,
                d["dense"][i].tolist(),
                SparseVec(d["sp_indices"][a:b].tolist(), d["sp_values"][a:b].tolist()),
            )
        )
    return out


def queries(d: dict[str, np.ndarray], exact: bool = False) -> list[SearchQuery]:
    """Filtered hybrid queries (agency + caller groups), one chunk per document, top-10."""
    return [
        SearchQuery(
            dense=d["q_dense"][j].tolist(),
            sparse=SparseVec(d["q_tokens"][j].tolist(), [1.0] * d["q_tokens"].shape[1]),
            limit=10,
            mode=SearchMode.HYBRID,
            one_per_doc=True,
            prefetch=50,
            exact=exact,
            filter=SearchFilter(
                agencies=[f"agency-{int(d['q_agency'][j]):02d}"], groups=_groups(int(d["q_groups"][j]))
            ),
        )
        for j in range(len(d["q_dense"]))
    ]


# ------------------------------------------------------------------------------------------ one side


def _mem(key: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def _cpu_s() -> float:
    """CPU seconds used by this process, all threads (wall time depends on what else runs)."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def _disk_mb(path: Path) -> float:
    return sum(f.stat().st_blocks * 512 for f in path.rglob("*") if f.is_file()) / 2**20


def _timed(index: Any, qs: list[SearchQuery], budget_s: float) -> tuple[list[float], list[list[str]]]:
    lat, ids = [], []
    deadline = time.perf_counter() + budget_s
    for query in qs:
        t = time.perf_counter()
        hits = index.search(query)
        lat.append((time.perf_counter() - t) * 1000)
        ids.append([h.id for h in hits])
        if time.perf_counter() > deadline:
            break
    return lat, ids


def run_side(
    role: str, work: Path, n_queries: int, budget_s: float, quantization: str = "none"
) -> dict[str, Any]:
    """Load, build and query one adapter; returns the measurements."""
    with np.load(work / "data.npz") as z:
        d = {k: z[k] for k in z.files}
    base_rss = _mem("VmRSS")
    ident = EmbedderIdentity("bench-clusters", int(d["dense"].shape[1]), "synthetic")
    folder = work / role
    if role == "local" and Path("/dev/shm").is_dir():
        # local mode commits (fsyncs) SQLite once per point: ~10 ms each on this disk, 100k points would
        # take over 15 minutes. Its folder goes to tmpfs, which only flatters the baseline's upsert rate.
        folder = Path(tempfile.mkdtemp(prefix="index_bench_local_", dir="/dev/shm"))
    settings = IndexSettings(
        collection="bench",
        upsert_batch=512,
        indexing_threads=os.cpu_count() or 1,
        quantization=quantization,
    )
    if role == "edge":
        from indices.edge_index import EdgeIndex

        index: Any = EdgeIndex.open(folder, ident, settings, create=True)
    else:
        from qdrant_client import QdrantClient

        from indices.server_index import ServerIndex

        index = ServerIndex.attach(
            QdrantClient(path=str(folder)), settings, ident, create=True, where=str(folder)
        )
    n = len(d["dense"])
    t0 = time.perf_counter()
    for start in range(0, n, 5000):
        index.upsert(points(d, start, min(n, start + 5000)))
    upsert_s = time.perf_counter() - t0
    print(f"  {role}: upserted {n} points in {upsert_s:.1f}s", flush=True)
    t0, cpu0 = time.perf_counter(), _cpu_s()
    index.optimize()
    build_s, build_cpu_s = time.perf_counter() - t0, _cpu_s() - cpu0
    print(f"  {role}: optimize() {build_s:.1f}s", flush=True)
    qs = queries(d)
    _timed(index, qs[:5], 60)  # warm-up
    lat, ids = _timed(index, qs[:n_queries], budget_s)
    out: dict[str, Any] = {
        "upsert_rate": n / upsert_s,
        "build_s": build_s,
        "build_cpu_s": build_cpu_s,
        "p50": float(np.percentile(lat, 50)),
        "p95": float(np.percentile(lat, 95)),
        "n_queries": len(lat),
        "ids": ids,
    }
    if role == "edge":
        exact_lat, out["exact_ids"] = _timed(index, queries(d, exact=True)[:n_queries], 600)
        out["exact_p50"] = float(np.percentile(exact_lat, 50))
        out["selectivity"] = selectivity_table(index, d)
    out["anon_rss_mb"] = _mem("RssAnon")
    index.close()
    out["disk_mb"] = _disk_mb(folder)
    if folder.parent != work:
        shutil.rmtree(folder, ignore_errors=True)
    out["peak_rss_mb"], out["base_rss_mb"] = _mem("VmHWM"), base_rss
    return out


def selectivity_table(index: Any, d: dict[str, np.ndarray]) -> list[dict[str, float]]:
    """Filtered dense top-10: HNSW vs exact latency for filters of growing cardinality."""
    rows = []
    docs_by_agency = np.bincount(d["doc_agency"][d["doc_of"]], minlength=N_AGENCIES)
    order = np.argsort(docs_by_agency)
    picks = {int(order[0]), int(order[len(order) // 2]), int(order[-1])}
    for spec in [*([a] for a in sorted(picks)), list(range(N_AGENCIES // 2)), None]:
        flt = SearchFilter(agencies=[f"agency-{a:02d}" for a in spec]) if spec else SearchFilter()
        card = int(sum(docs_by_agency[a] for a in spec)) if spec else len(d["doc_of"])
        row: dict[str, float] = {"points": card}
        for exact in (False, True):
            qs = [
                SearchQuery(
                    dense=d["q_dense"][j].tolist(),
                    sparse=None,
                    mode=SearchMode.DENSE,
                    limit=10,
                    one_per_doc=False,
                    exact=exact,
                    filter=flt,
                )
                for j in range(30)
            ]
            lat, _ = _timed(index, qs, 60)
            row["exact_ms" if exact else "hnsw_ms"] = float(np.median(lat))
        rows.append(row)
    return rows


# ------------------------------------------------------------------------------------------ driver


def _overlap(a: list[list[str]], b: list[list[str]]) -> float:
    return float(np.mean([len(set(x) & set(y)) / max(1, len(y)) for x, y in zip(a, b, strict=False)]))


def main() -> None:
    """Generate the data, run both sides in subprocesses, print the table and the RESULT line."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=100_000, help="chunks to index")
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--queries", type=int, default=200, help="hybrid queries for the Edge side")
    ap.add_argument("--local-queries", type=int, default=20, help="max queries for local mode")
    ap.add_argument("--local-budget-s", type=float, default=60.0, help="time box for local-mode queries")
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--quantization", choices=["none", "int8"], default="none", help="dense quantization")
    ap.add_argument(
        "--no-local", action="store_true", help="skip qdrant-client local mode; baseline: exact Edge search"
    )
    ap.add_argument("--role", choices=["edge", "local"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.role:
        warnings.simplefilter("ignore", UserWarning)  # local mode: "not recommended above 20,000 points"
        res = run_side(
            args.role,
            args.workdir,
            args.queries,
            args.local_budget_s if args.role == "local" else 1e9,
            args.quantization,
        )
        (args.workdir / f"{args.role}.json").write_text(json.dumps(res))
        return
    logging.basicConfig(level=logging.WARNING)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="index_bench_"))
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    data: dict[str, Any] = generate(args.n, args.dim, max(args.queries, args.local_queries))
    np.savez(work / "data.npz", **data)
    print(
        f"generated {args.n} chunks (dim {args.dim}) in {time.perf_counter() - t0:.1f}s -> {work}", flush=True
    )
    results = {}
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "DO_NOT_TRACK": "1"}
    sides = [("edge", args.queries)] + ([] if args.no_local else [("local", args.local_queries)])
    for role, nq in sides:
        t0 = time.perf_counter()
        cmd = [
            sys.executable,
            __file__,
            "--role",
            role,
            "--workdir",
            str(work),
            "--queries",
            str(nq),
            "--local-budget-s",
            str(args.local_budget_s),
            "--quantization",
            args.quantization,
        ]
        subprocess.run(cmd, check=True, env=env)
        results[role] = json.loads((work / f"{role}.json").read_text())
        print(f"{role}: done in {time.perf_counter() - t0:.1f}s", flush=True)
    edge = results["edge"]
    local = results.get("local")
    overlap = _overlap(edge["ids"], edge["exact_ids"])
    print(f"\nhybrid fusion: {IndexSettings().fusion} (default); quantization: {args.quantization}")
    print(f"{'':28}{'edge (Qdrant Edge)':>20}{'qdrant-client local' if local else '':>22}")
    for label, key, fmt in (
        ("upsert rate (points/s)", "upsert_rate", "{:.0f}"),
        ("index build (s)", "build_s", "{:.1f}"),
        ("index build CPU (s)", "build_cpu_s", "{:.1f}"),
        ("disk (MB)", "disk_mb", "{:.0f}"),
        ("peak RSS (MB)", "peak_rss_mb", "{:.0f}"),
        ("  of which data arrays (MB)", "base_rss_mb", "{:.0f}"),
        ("anonymous RSS at end (MB)", "anon_rss_mb", "{:.0f}"),
        ("hybrid p50 (ms)", "p50", "{:.2f}"),
        ("hybrid p95 (ms)", "p95", "{:.2f}"),
        ("exact hybrid p50 (ms)", "exact_p50", "{:.2f}"),
        ("queries timed", "n_queries", "{}"),
    ):
        other = fmt.format(local[key]) if local and key in local else ""
        print(f"{label:28}{fmt.format(edge[key]):>20}{other:>22}")
    if local:
        print("(local mode's folder is on tmpfs, see run_side)")
        agree = _overlap(local["ids"], edge["exact_ids"][: len(local["ids"])])
        print(f"\ntop-10 overlap, Edge HNSW vs Edge exact: {overlap:.3f}   local vs Edge exact: {agree:.3f}")
    else:
        print(f"\ntop-10 overlap, Edge HNSW vs Edge exact: {overlap:.3f}")
    print("\nfiltered dense top-10 on Edge, HNSW vs exact (median ms):")
    print(f"{'filter matches (points)':>24}{'hnsw':>10}{'exact':>10}")
    for row in edge["selectivity"]:
        print(f"{row['points']:>24.0f}{row['hnsw_ms']:>10.2f}{row['exact_ms']:>10.2f}")
    if args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)
    head = (
        f"speedup_ratio={local['p50'] / edge['p50']:.1f}"
        if local
        else f"exact_ratio={edge['exact_p50'] / edge['p50']:.1f}"
    )
    tail = f" p50_1m_ms={edge['p50']:.2f}" if args.n >= 1_000_000 else ""
    print(f"RESULT {head} hybrid_p50_ms={edge['p50']:.2f} top10_overlap={overlap:.3f}{tail}")


if __name__ == "__main__":
    main()
