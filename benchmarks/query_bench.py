"""Benchmark: the query API over HTTP (`govrag serve`, a real uvicorn on loopback) on a 100k-chunk embedded
index, against a naive LlamaIndex retriever (`VectorStoreIndex.as_retriever()` over qdrant-client local
mode) holding the same vectors.

Data (`--n` chunks, default 100,000):
* real: the eval corpus passages (../shared/eval/corpus, every set but xling-en, ~7.7k passages in 11
  languages) ingested by the real pipeline (`ingest.pipeline.Ingestor`: parse, chunk, embed with the
  bundled model, BM25, write). The embedding rate is measured and printed.
* synthetic, to reach `--n`: embedding ~92k more chunks on 2 shared cores would take well over an hour, so
  each synthetic chunk derives from a random real chunk: its text recombines that chunk's sentences with
  one sentence of another chunk of the same language (real text, new combination), its dense vector is the
  real vector plus a small Gaussian perturbation (cosine ~0.97 to the original, renormalised), its BM25
  vector is computed from its new text, its payload is that of a real chunk with a random agency and, for
  one chunk in five, a restricted access group. Retrieval therefore faces ~13 near-duplicates per real
  chunk, which is harder than a real corpus of that size.

Measured (queries: the eval dev questions, multilingual, shuffled with a fixed seed):
* govrag over HTTP: `/v1/search` (hybrid, top 10, one chunk per document) and `/v1/query` (extractive
  answer: retrieval, sentence selection, verified citations), both including question embedding, at 1,
  4 and 16 concurrent clients (a bounded number of requests each); p50/p95 latency and throughput.
* baseline in-process (no HTTP, a cost govrag pays and the baseline does not): `retriever.retrieve(q)`
  with `HuggingFaceEmbedding` on the same converted model directory (same vectors), top 10, at 1 and 4
  threads.
* quality check: share of questions whose relevant passage (or one of its synthetic derivatives' source)
  is in the top 10, for both sides.

Run: python benchmarks/query_bench.py [--n 100000] [--requests 120] [--workdir DIR] (DIR keeps the built
data; a second run with the same DIR and --n reuses it). Last line:
RESULT search_p50_ms=<ms> query_p50_ms=<ms> speedup_ratio=<baseline search p50 / govrag search p50>
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
for _k, _v in (
    ("OMP_WAIT_POLICY", "PASSIVE"),
    ("HF_HUB_OFFLINE", "1"),
    ("DO_NOT_TRACK", "1"),
    ("TOKENIZERS_PARALLELISM", "false"),
):
    os.environ.setdefault(_k, _v)

EVAL = Path(os.environ.get("GOVRAG_EVAL_DIR", ROOT.parent / "shared" / "eval"))
MODELS = Path(os.environ.get("GOVRAG_TEST_MODELS_DIR", ROOT / ".cache" / "models"))
AGENCIES = [f"Agency {i:02d}" for i in range(30)]
CONCURRENCY = (1, 4, 16)
TOP_K = 10
logger = logging.getLogger("query_bench")


# ---------------------------------------------------------------------------------------------- data


def _eval_sources(workdir: Path, real_max: int | None) -> list[Path]:
    """The eval corpus files (all but xling-en); with `real_max`, an even sample of that many passages."""
    files = sorted(p for p in (EVAL / "corpus").glob("*.jsonl") if not p.name.startswith("xling"))
    if real_max is None:
        return files
    lines = [(f.name, line) for f in files for line in f.open(encoding="utf-8")]
    keep = sorted(random.Random(3).sample(range(len(lines)), min(real_max, len(lines))))
    subset = workdir / "eval-subset"
    subset.mkdir(exist_ok=True)
    out = subset / "sample.jsonl"
    out.write_text("".join(lines[i][1] for i in keep), encoding="utf-8")
    return [out]


Question = tuple[str, str, set[str]]
"""(question, language, relevant passage ids)."""


def _questions(limit: int, seed: int = 7) -> list[Question]:
    """(question, language, relevant passage ids) from the dev sets, shuffled."""
    out = []
    for path in sorted((EVAL / "questions").glob("*.dev.jsonl")):
        if "xling" in path.name:
            continue
        for line in path.open(encoding="utf-8"):
            q = json.loads(line)
            out.append((q["question"], q["lang"], set(q.get("relevant") or [])))
    random.Random(seed).shuffle(out)
    return out[:limit]


class _RecordingEmbedder:
    """Delegates to the real embedder and keeps the passage vectors of each call (the index has no
    vector read-back in its port, and the synthetic chunks need the real vectors)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.last: np.ndarray | None = None
        self.seconds = 0.0
        self.count = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        t0 = time.perf_counter()
        vecs = self._inner.embed_passages(texts)
        self.seconds += time.perf_counter() - t0
        self.count += len(texts)
        self.last = vecs
        return vecs


def _ingest_real(
    settings: Any, embedder: Any, sparse: Any, sources: list[Path]
) -> tuple[list[Any], np.ndarray, dict[str, float]]:
    """Ingest the eval corpus with the real pipeline; returns the chunk records and their vectors."""
    from indices.registry import open_index
    from ingest.pipeline import IngestOptions, Ingestor

    rec = _RecordingEmbedder(embedder)
    pairs: list[tuple[Any, np.ndarray]] = []

    class _Capturing(Ingestor):
        def _flush(self, records: list[Any], *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
            super()._flush(records, *args, **kwargs)
            if records:
                assert rec.last is not None
                assert len(rec.last) == len(records)
                pairs.extend(zip(records, rec.last, strict=True))

    index = open_index(settings.index, embedder.identity, settings.home, create=True)
    t0 = time.perf_counter()
    try:
        ingestor = _Capturing(settings.ingest, rec, sparse, index, settings.language)  # type: ignore[arg-type]
        report = ingestor.run([str(p) for p in sources], IngestOptions())
    finally:
        index.close()
    elapsed = time.perf_counter() - t0
    if report.failed:
        print(f"warning: {len(report.failed)} eval passages failed to ingest", file=sys.stderr)
    records = [r for r, _ in pairs]
    vectors = np.stack([v for _, v in pairs]).astype(np.float32)
    stats = {
        "real_chunks": len(records),
        "ingest_s": elapsed,
        "embed_s": rec.seconds,
        "embed_per_s": rec.count / max(rec.seconds, 1e-9),
    }
    return records, vectors, stats


def _synthesize(
    records: list[Any], vectors: np.ndarray, n: int, sparse: Any, seed: int = 11
) -> tuple[list[Any], np.ndarray]:
    """`n` synthetic chunks: recombined real sentences, perturbed real vectors (see module docstring)."""
    from indices.schema import ChunkRecord
    from indices.sentences import split_sentences

    rng = np.random.default_rng(seed)
    pyrng = random.Random(seed)
    sentences = [split_sentences(r.text, min_chars=2) or [r.text] for r in records]
    by_lang: dict[str, list[int]] = {}
    for i, r in enumerate(records):
        by_lang.setdefault(r.lang, []).append(i)
    dim = vectors.shape[1]
    sigma = np.sqrt((1 / 0.97**2 - 1) / dim)  # noise norm ~0.25: cosine ~0.97 to the base vector
    bases = rng.integers(0, len(records), size=n)
    out_records: list[Any] = []
    for j, b in enumerate(bases):
        base = records[b]
        parts = list(sentences[b])
        donor = sentences[pyrng.choice(by_lang[base.lang])]
        parts[pyrng.randrange(len(parts))] = pyrng.choice(donor)
        if len(parts) > 2:
            k = pyrng.randrange(len(parts) - 1)
            parts[k], parts[k + 1] = parts[k + 1], parts[k]
        restricted = pyrng.random() < 0.2
        out_records.append(
            ChunkRecord(
                doc_id=f"syn/{j:06d}",
                chunk_no=0,
                text=" ".join(parts),
                title=base.title,
                source=f"syn://{j}",
                lang=base.lang,
                agency=pyrng.choice(AGENCIES),
                groups=[pyrng.choice(["hr", "finance", "legal"])] if restricted else ["public"],
                content_hash="synthetic",
                n_chunks=1,
                ingested_at=time.time(),
                root="synthetic",
                extra={"base": base.doc_id},
            )
        )
    noise = rng.normal(0, sigma, size=(n, dim)).astype(np.float32)
    synth = vectors[bases] + noise
    synth /= np.linalg.norm(synth, axis=1, keepdims=True)
    return out_records, synth.astype(np.float32)


def _write_synthetic(
    settings: Any, embedder: Any, sparse: Any, records: list[Any], vectors: np.ndarray
) -> float:
    from indices.registry import open_index
    from indices.schema import IndexPoint

    index = open_index(settings.index, embedder.identity, settings.home, create=True)
    t0 = time.perf_counter()
    try:
        step = 2048
        for s in range(0, len(records), step):
            batch = records[s : s + step]
            sp = sparse.encode_documents([f"{r.title}\n{r.text}" for r in batch])
            index.upsert(
                [
                    IndexPoint(record=r, dense=vectors[s + i].tolist(), sparse=sp[i])
                    for i, r in enumerate(batch)
                ]
            )
        index.optimize()
        return time.perf_counter() - t0
    finally:
        index.close()


def build(workdir: Path, n: int, real_max: int | None = None) -> dict[str, Any]:
    """Build (or reuse) the data dir with `n` chunks; returns build stats (vectors kept for the baseline)."""
    marker = workdir / "built.json"
    if marker.is_file():
        stats: dict[str, Any] = json.loads(marker.read_text())
        if stats.get("n") == n:
            print(f"reusing the index built in {workdir} ({n:,} chunks)")
            return stats
        raise SystemExit(
            f"{workdir} holds an index of {stats.get('n')} chunks, not {n}: use another --workdir"
        )
    from govrag.settings import Settings
    from indices.embedder import Embedder, EmbedderSettings
    from indices.sparse import SparseEncoder, SparseEncoderSettings

    home = workdir / "home"
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "models").exists():
        (home / "models").symlink_to(MODELS.resolve(), target_is_directory=True)
    settings = Settings(home=home)
    embedder = Embedder(EmbedderSettings(), settings.models_dir)
    sparse = SparseEncoder(SparseEncoderSettings())
    print("ingesting the eval corpus with the real pipeline ...", flush=True)
    records, vectors, stats = _ingest_real(settings, embedder, sparse, _eval_sources(workdir, real_max))
    print(
        f"  {stats['real_chunks']:,} real chunks in {stats['ingest_s']:.0f} s "
        f"(embedding {stats['embed_per_s']:.0f} chunks/s)",
        flush=True,
    )
    n_syn = max(0, n - len(records))
    t0 = time.perf_counter()
    syn_records, syn_vectors = _synthesize(records, vectors, n_syn, sparse)
    stats["synth_s"] = time.perf_counter() - t0
    print(f"writing {n_syn:,} synthetic chunks and building HNSW ...", flush=True)
    stats["write_s"] = _write_synthetic(settings, embedder, sparse, syn_records, syn_vectors)
    print(f"  done in {stats['write_s']:.0f} s", flush=True)
    all_records = records + syn_records
    np.save(workdir / "vectors.npy", np.concatenate([vectors, syn_vectors]))
    with (workdir / "payloads.jsonl").open("w", encoding="utf-8") as fh:
        for r in all_records:
            fh.write(
                json.dumps(
                    {
                        "doc_id": r.doc_id,
                        "text": r.text,
                        "title": r.title,
                        "lang": r.lang,
                        "base": r.extra.get("base", r.doc_id),
                    },
                    ensure_ascii=False,
                )
                + "\n"
            )
    stats["n"] = len(all_records)
    marker.write_text(json.dumps(stats))
    return stats


# ---------------------------------------------------------------------------------------------- measuring


@dataclass
class Run:
    """Latencies of one (contender, concurrency) run, and the server-side timings it reported."""

    name: str
    concurrency: int
    latencies_ms: list[float]
    wall_s: float
    errors: int = 0
    parts: dict[str, list[float]] = field(default_factory=dict)

    def pct(self, q: float) -> float:
        """Latency percentile in ms."""
        return float(np.percentile(self.latencies_ms, q)) if self.latencies_ms else float("nan")

    def part(self, key: str) -> float:
        """Median of one reported timing (ms), NaN when absent."""
        values = self.parts.get(key)
        return float(np.median(values)) if values else float("nan")

    @property
    def throughput(self) -> float:
        """Requests per second."""
        return len(self.latencies_ms) / self.wall_s if self.wall_s else 0.0


async def _http_run(
    base: str, path: str, bodies: list[dict[str, Any]], concurrency: int, sink: list[Any] | None = None
) -> Run:
    """POST `bodies` to `path` from `concurrency` clients sharing a queue (keep-alive connections)."""
    import httpx

    run = Run(path, concurrency, [], 0.0)
    queue: asyncio.Queue[tuple[int, dict[str, Any]]] = asyncio.Queue()
    for item in enumerate(bodies):
        queue.put_nowait(item)
    results: list[Any] = [None] * len(bodies)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=300, limits=limits) as client:

        async def worker() -> None:
            while not queue.empty():
                i, body = queue.get_nowait()
                t0 = time.perf_counter()
                r = await client.post(path, json=body)
                run.latencies_ms.append((time.perf_counter() - t0) * 1000)
                if r.status_code != 200:
                    run.errors += 1
                    continue
                results[i] = data = r.json()
                for key, value in data.get("timings", {}).items():
                    run.parts.setdefault(key.removesuffix("_ms"), []).append(float(value))

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        run.wall_s = time.perf_counter() - t0
    if sink is not None:
        sink.extend(results)
    return run


def _serve(home: Path, port: int) -> subprocess.Popen[str]:
    """`govrag serve` on the data dir (anonymous, unlimited rate), once /readyz answers 200."""
    import httpx

    env = {
        **os.environ,
        "GOVRAG_API__SECURITY__ANONYMOUS_RATE_PER_MINUTE": "0",
        "GOVRAG_LOG_LEVEL": "WARNING",
    }
    cmd = [sys.executable, "-m", "govrag.cli", "serve", "--home", str(home), "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"govrag serve exited: {proc.stderr.read() if proc.stderr else ''}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise SystemExit("govrag serve did not become ready within 600 s")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _recall(found: list[list[str]], relevant: list[set[str]]) -> float:
    hits = [bool(set(f) & rel) for f, rel in zip(found, relevant, strict=True) if rel]
    return sum(hits) / len(hits) if hits else float("nan")


def _plan(questions: list[Question], requests: int, levels: Sequence[int]) -> list[list[str]]:
    """For each concurrency level its own slice of questions (at least 8 per client), cycling if short."""
    out, at = [], 0
    for c in levels:
        count = max(requests, 8 * c)
        out.append([questions[(at + i) % len(questions)][0] for i in range(count)])
        at += count
    return out


def measure_govrag(
    workdir: Path, questions: list[Question], requests: int, profile: bool
) -> tuple[list[Run], float]:
    """Start `govrag serve` on the data dir and measure /v1/search and /v1/query; also recall@10."""
    port = _free_port()
    proc = _serve(workdir / "home", port)
    base = f"http://127.0.0.1:{port}"
    runs: list[Run] = []
    spy: subprocess.Popen[str] | None = None
    plan = _plan(questions, requests, CONCURRENCY)
    try:
        warm = questions[-20:]
        asyncio.run(_http_run(base, "/v1/search", [{"query": q} for q, _, _ in warm], 2))
        asyncio.run(_http_run(base, "/v1/query", [{"question": q} for q, _, _ in warm[:10]], 2))
        if profile:
            out = str(workdir / "profile.svg")
            spy = subprocess.Popen(
                ["py-spy", "record", "-p", str(proc.pid), "-o", out, "--rate", "200"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(1)
        for endpoint in ("/v1/search", "/v1/query"):
            for c, qs in zip(CONCURRENCY, plan, strict=True):
                if endpoint == "/v1/search":
                    bodies = [{"query": q, "top_k": TOP_K} for q in qs]
                else:
                    bodies = [{"question": q} for q in qs]
                run = asyncio.run(_http_run(base, endpoint, bodies, c))
                runs.append(run)
                print(
                    f"  govrag {endpoint} c={c}: p50 {run.pct(50):.1f} ms, p95 {run.pct(95):.1f} ms, "
                    f"{run.throughput:.1f} req/s, errors {run.errors}",
                    flush=True,
                )
        # Quality: recall@10 of the relevant passage (a synthetic chunk counts for its base passage).
        found: list[Any] = []
        bodies = [{"query": q, "top_k": TOP_K} for q, _, _ in questions]
        asyncio.run(_http_run(base, "/v1/search", bodies, 2, found))
    finally:
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(timeout=120)
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
    bases = _bases(workdir)
    ids = [[bases.get(h["doc_id"], h["doc_id"]) for h in (f or {}).get("hits", [])] for f in found]
    return runs, _recall(ids, [rel for _, _, rel in questions])


def _bases(workdir: Path) -> dict[str, str]:
    out = {}
    with (workdir / "payloads.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            p = json.loads(line)
            out[p["doc_id"]] = p["base"]
    return out


def _timed_pool(fn: Any, items: list[str], concurrency: int, name: str) -> Run:
    """Call `fn(item)` for every item from `concurrency` threads; per-call latencies."""
    run = Run(name, concurrency, [], 0.0)
    lock = threading.Lock()

    def one(item: str) -> None:
        t = time.perf_counter()
        fn(item)
        elapsed = (time.perf_counter() - t) * 1000
        with lock:
            run.latencies_ms.append(elapsed)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, items))
    run.wall_s = time.perf_counter() - t0
    return run


def measure_baseline(
    workdir: Path, questions: list[Question], requests: int
) -> tuple[list[Run], float, dict[str, str]]:
    """LlamaIndex VectorStoreIndex over qdrant-client local mode, same vectors, retriever top 10."""
    import warnings
    from importlib.metadata import version

    from llama_index.core import StorageContext, VectorStoreIndex
    from llama_index.core.schema import TextNode
    from llama_index.core.vector_stores import VectorStoreQuery
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.vector_stores.qdrant import QdrantVectorStore
    from qdrant_client import QdrantClient

    from indices.e5_convert import ensure_converted

    names = (
        "llama-index-core",
        "llama-index-vector-stores-qdrant",
        "llama-index-embeddings-huggingface",
        "qdrant-client",
        "sentence-transformers",
        "torch",
    )
    versions = {p: version(p) for p in names}
    vectors = np.load(workdir / "vectors.npy")
    payloads = [json.loads(line) for line in (workdir / "payloads.jsonl").open(encoding="utf-8")]
    model_dir = ensure_converted(MODELS).path
    embed = HuggingFaceEmbedding(
        model_name=str(model_dir),
        query_instruction="query: ",
        text_instruction="passage: ",
        normalize=True,
        device="cpu",
    )
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        client = QdrantClient(location=":memory:")  # local mode, in memory (no disk I/O in the way)
        store = QdrantVectorStore(client=client, collection_name="bench")
        storage = StorageContext.from_defaults(vector_store=store)
        nodes = [
            TextNode(
                id_=_uuid(i),
                text=p["text"],
                metadata={"doc_id": p["doc_id"], "base": p["base"]},
                embedding=vectors[i].tolist(),
            )
            for i, p in enumerate(payloads)
        ]
        index = VectorStoreIndex(nodes, storage_context=storage, embed_model=embed, insert_batch_size=2048)
        del nodes
    print(f"  baseline loaded {len(payloads):,} nodes in {time.perf_counter() - t0:.0f} s", flush=True)
    retriever = index.as_retriever(similarity_top_k=TOP_K)
    for q, _, _ in questions[-10:]:
        retriever.retrieve(q)
    runs: list[Run] = []
    for c, qs in zip((1, 4), _plan(questions, requests, (1, 4)), strict=True):
        run = _timed_pool(retriever.retrieve, qs, c, "baseline")
        if c == 1:  # where its time goes: query embedding, then the vector store
            for q in qs[:40]:
                t = time.perf_counter()
                vec = embed.get_query_embedding(q)
                t1 = time.perf_counter()
                store.query(VectorStoreQuery(query_embedding=vec, similarity_top_k=TOP_K))
                run.parts.setdefault("embed", []).append((t1 - t) * 1000)
                run.parts.setdefault("search", []).append((time.perf_counter() - t1) * 1000)
        runs.append(run)
        print(
            f"  baseline c={c}: p50 {run.pct(50):.1f} ms, p95 {run.pct(95):.1f} ms, "
            f"{run.throughput:.1f} req/s",
            flush=True,
        )
    found = [[n.node.metadata["base"] for n in retriever.retrieve(q)] for q, _, _ in questions]
    client.close()
    return runs, _recall(found, [rel for _, _, rel in questions]), versions


def _uuid(i: int) -> str:
    import uuid

    return str(uuid.UUID(int=i + 1))


# ---------------------------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> None:
    """Build, measure both sides, print the table and the RESULT line."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=100_000, help="chunks in the index")
    ap.add_argument("--requests", type=int, default=120, help="requests per run (at least 8 per client)")
    ap.add_argument("--questions", type=int, default=500, help="distinct eval questions used")
    ap.add_argument("--workdir", type=Path, default=None, help="keep/reuse the built data here")
    ap.add_argument("--profile", action="store_true", help="py-spy the server during the runs")
    ap.add_argument("--skip-baseline", action="store_true")
    ap.add_argument("--build-only", action="store_true", help="build --workdir's data and stop")
    ap.add_argument(
        "--real-max", type=int, default=None, help="ingest only this many eval passages (smoke runs)"
    )
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if not (EVAL / "corpus").is_dir():
        print(f"no eval corpus at {EVAL}: skipped")
        print("RESULT skipped=1")
        return
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="govrag-query-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"workdir {workdir}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs", flush=True)
    stats = build(workdir, args.n, args.real_max)
    if args.build_only:
        print(f"built {stats['n']:,} chunks in {workdir}")
        return
    questions = _questions(args.questions)
    print("measuring govrag over HTTP ...", flush=True)
    runs, recall = measure_govrag(workdir, questions, args.requests, args.profile)
    base_runs: list[Run] = []
    base_recall, versions = float("nan"), {}
    if not args.skip_baseline:
        print("measuring the LlamaIndex baseline ...", flush=True)
        base_runs, base_recall, versions = measure_baseline(workdir, questions, args.requests)

    _report(stats, runs, recall, base_runs, base_recall, versions)


def _report(
    stats: dict[str, Any],
    runs: list[Run],
    recall: float,
    base_runs: list[Run],
    base_recall: float,
    versions: dict[str, str],
) -> None:
    print()
    print(
        f"index: {stats['n']:,} chunks ({stats['real_chunks']:,} real, embedded at "
        f"{stats['embed_per_s']:.0f} chunks/s; the rest synthetic, see module docstring)"
    )
    header = f"{'contender':<36}{'clients':>8}{'p50 ms':>9}{'p95 ms':>9}{'req/s':>8}{'errors':>8}"
    print(header)
    print("-" * len(header))
    for r in [*runs, *base_runs]:
        name = f"govrag {r.name} (HTTP)" if r.name.startswith("/") else "llama-index retriever (in-process)"
        print(
            f"{name:<36}{r.concurrency:>8}{r.pct(50):>9.1f}{r.pct(95):>9.1f}{r.throughput:>8.1f}{r.errors:>8}"
        )
    search1 = next(r for r in runs if r.name == "/v1/search" and r.concurrency == 1)
    query1 = next(r for r in runs if r.name == "/v1/query" and r.concurrency == 1)
    print("\nwhere the time goes at 1 client (medians, ms):")
    print(
        f"  govrag /v1/search: question embedding {search1.part('embed'):.1f}, index search "
        f"{search1.part('search'):.1f}, language id {search1.part('detect'):.1f}"
    )
    print(
        f"  govrag /v1/query:  question embedding {query1.part('retrieve_embed'):.1f}, index search "
        f"{query1.part('retrieve_search'):.1f}, extractive answer {query1.part('generate_ms'):.1f}"
    )
    speedup = index_speedup = float("nan")
    if base_runs:
        b = base_runs[0]
        print(
            f"  baseline retrieve:  question embedding {b.part('embed'):.1f}, "
            f"vector store {b.part('search'):.1f}"
        )
        speedup = b.pct(50) / search1.pct(50)
        index_speedup = b.part("search") / search1.part("search")
        print(
            f"end-to-end search speedup (p50, HTTP included for govrag only): {speedup:.1f}x; "
            f"index part alone: {index_speedup:.1f}x"
        )
    print(f"recall@10 of the relevant passage: govrag hybrid {recall:.3f}, baseline dense {base_recall:.3f}")
    if versions:
        print("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(
        f"RESULT search_p50_ms={search1.pct(50):.1f} query_p50_ms={query1.pct(50):.1f} "
        f"speedup_ratio={speedup:.1f}"
    )


if __name__ == "__main__":
    main()
