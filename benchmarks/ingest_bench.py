"""Ingestion throughput: `govrag ingest` versus the naive LlamaIndex pipeline, side by side in one run.

Corpus: a deterministic sample of the passages under ../shared/eval/corpus (all sets but xling-en),
written out one document per passage (alternately .txt and .md), plus generated multi-page PDFs
(Latin and Thai) and DOCX files built from the same passages (tests/docgen.py).

Contenders, each in its own subprocess (end-to-end wall time including imports and model load; peak RSS
from the kernel's ru_maxrss of that process, plus a sampled peak of the whole process tree, since
govrag's parser workers are separate processes):
* govrag: `python -m govrag.cli ingest CORPUS --home H --json` (first run, then a second run over the
  unchanged corpus);
* baseline: SimpleDirectoryReader -> VectorStoreIndex (default SentenceSplitter) over
  QdrantVectorStore(QdrantClient(path=...)), embedding with the SAME converted bundled model through
  llama-index-embeddings-huggingface (defaults: fp32, batch 10).
Then the PDF parse stage alone (govrag's parser on the generated PDFs, one process): pages/s.

Needs: llama-index-core, llama-index-vector-stores-qdrant, llama-index-embeddings-huggingface,
llama-index-readers-file (PDF/DOCX readers of SimpleDirectoryReader), docx2txt; fonts-noto-core.
Usage: python benchmarks/ingest_bench.py [--docs 1000] [--pdfs 24] [--docx 24] [--work DIR]
The last line is `RESULT throughput_ratio=<x> rerun_ratio=<x> pdf_pages_per_s=<n> rss_ratio=<x>`.

`--executor ray` instead compares govrag's two executors on the same corpus and cores: the local one and
`--executor ray` (a Ray instance the command starts on this machine, or `--ray-address`), each into a
fresh data dir, end to end; then checks both indexes hold the same point ids with the same content
hashes and texts. Needs `pip install 'govrag[ray]'`. The last line is
`RESULT ray_over_local=<x> identical=<true|false> local_s=<s> ray_s=<s> chunks=<n>`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[1]
EVAL = Path(os.environ.get("GOVRAG_EVAL_DIR", REPO.parent / "shared" / "eval")) / "corpus"
MODELS = Path(os.environ.get("GOVRAG_TEST_MODELS_DIR", REPO / ".cache" / "models"))
ENV = {
    "OMP_WAIT_POLICY": "PASSIVE",
    "HF_HUB_OFFLINE": "1",
    "DO_NOT_TRACK": "1",
    "TOKENIZERS_PARALLELISM": "false",
}


# ---------------------------------------------------------------------------------------------- corpus
def _passages(n: int) -> list[dict[str, Any]]:
    files = sorted(p for p in EVAL.glob("*.jsonl") if p.name != "xling-en.jsonl")
    if not files:
        sys.exit(f"no eval corpus under {EVAL}: this benchmark needs ../shared/eval/corpus")
    rows = [
        json.loads(line) for f in files for line in f.read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    random.Random(0).shuffle(rows)
    return rows


def build_corpus(dest: Path, n_docs: int, n_pdfs: int, n_docx: int) -> dict[str, int]:
    """Write the corpus; returns counts (documents, pdf files, pdf pages)."""
    sys.path.insert(0, str(REPO / "tests"))
    import docgen

    rows = _passages(n_docs)
    texts, latin, thai = (
        rows[:n_docs],
        [r for r in rows[n_docs:] if r["lang"] in ("en", "ms", "id", "vi", "tl")],
        [r for r in rows[n_docs:] if r["lang"] == "th"],
    )
    for i, r in enumerate(texts):
        folder = dest / "passages" / r.get("dataset", "misc") / r["lang"]
        folder.mkdir(parents=True, exist_ok=True)
        title = r.get("title") or ""
        if i % 2:
            (folder / f"{i:05d}.md").write_text(
                (f"# {title}\n\n" if title else "") + r["text"], encoding="utf-8"
            )
        else:
            (folder / f"{i:05d}.txt").write_text(
                (title + "\n\n" if title else "") + r["text"], encoding="utf-8"
            )
    pages_total = 0
    (dest / "pdf").mkdir(parents=True, exist_ok=True)
    for k in range(n_pdfs):
        pool, script = (thai, "thai") if k % 3 == 2 and thai else (latin, "latin")
        n_pages = 4 + k % 7
        start = (k * 24) % max(1, len(pool) - 24)
        pages = [[("h1", f"Part {p + 1}"), ("p", pool[start + p]["text"][:1500])] for p in range(n_pages)]
        (dest / "pdf" / f"report-{k:03d}.pdf").write_bytes(
            docgen.text_pdf(pages, script, title=f"Report {k}")
        )
        pages_total += n_pages
    (dest / "docx").mkdir(parents=True, exist_ok=True)
    for k in range(n_docx):
        pool = rows[n_docs + 500 + k * 6 : n_docs + 506 + k * 6]
        blocks: list[tuple[str, object]] = []
        for j, r in enumerate(pool):
            blocks += [("h1", r.get("title") or f"Section {j + 1}"), ("p", r["text"])]
        (dest / "docx" / f"guide-{k:03d}.docx").write_bytes(docgen.docx_bytes(blocks, title=f"Guide {k}"))
    return {"documents": n_docs + n_pdfs + n_docx, "pdfs": n_pdfs, "pdf_pages": pages_total}


# ------------------------------------------------------------------------------------------ measuring
def _tree_rss_kb(root_pid: int) -> int:
    """Sum of VmRSS over `root_pid` and its descendants (from /proc)."""
    parent: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status", encoding="utf-8") as fh:
                fields = dict(line.split(":", 1) for line in fh if ":" in line)
        except OSError:
            continue
        pid = int(entry)
        parent[pid] = int(fields.get("PPid", "0").strip())
        rss[pid] = int(fields.get("VmRSS", "0 kB").split()[0]) if "VmRSS" in fields else 0
    keep = {root_pid}
    changed = True
    while changed:
        changed = False
        for pid, ppid in parent.items():
            if ppid in keep and pid not in keep:
                keep.add(pid)
                changed = True
    return sum(rss.get(p, 0) for p in keep)


def run_measured(cmd: list[str], label: str) -> dict[str, Any]:
    """Run `cmd`; wall seconds, ru_maxrss of the process (MB), sampled tree peak (MB), stdout."""
    env = {**os.environ, **ENV}
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = [0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.2):
            peak[0] = max(peak[0], _tree_rss_kb(proc.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out_chunks: list[str] = []
    err_chunks: list[str] = []
    readers = [
        threading.Thread(target=lambda: out_chunks.append(proc.stdout.read()), daemon=True),  # type: ignore[union-attr]
        threading.Thread(target=lambda: err_chunks.append(proc.stderr.read()), daemon=True),  # type: ignore[union-attr]
    ]
    for t in readers:
        t.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    stop.set()
    for t in readers:
        t.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 1):
        sys.stderr.write("".join(err_chunks)[-4000:])
        sys.exit(f"{label} failed with exit status {proc.returncode}")
    return {
        "wall_s": wall,
        "maxrss_mb": usage.ru_maxrss / 1024,
        "tree_peak_mb": peak[0] / 1024,
        "stdout": "".join(out_chunks),
        "rc": proc.returncode,
    }


# ------------------------------------------------------------------------------------------- baseline
def baseline_run(corpus: Path, qdrant_path: Path, model_dir: Path) -> None:
    """The naive LlamaIndex pipeline (runs inside its own subprocess); prints a JSON line."""
    t0 = time.perf_counter()
    from llama_index.core import Settings, SimpleDirectoryReader, StorageContext, VectorStoreIndex
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.vector_stores.qdrant import QdrantVectorStore
    from qdrant_client import QdrantClient

    Settings.embed_model = HuggingFaceEmbedding(model_name=str(model_dir), device="cpu")
    Settings.llm = None
    t_load = time.perf_counter()
    docs = SimpleDirectoryReader(str(corpus), recursive=True).load_data()
    t_read = time.perf_counter()
    client = QdrantClient(path=str(qdrant_path))
    store = QdrantVectorStore(collection_name="bench", client=client)
    index = VectorStoreIndex.from_documents(
        docs, storage_context=StorageContext.from_defaults(vector_store=store)
    )
    t_index = time.perf_counter()
    n_points = client.count("bench").count
    client.close()
    del index
    files = {d.metadata.get("file_path") for d in docs}
    print(
        json.dumps(
            {
                "files": len(files),
                "documents": len(docs),
                "points": n_points,
                "load_s": t_load - t0,
                "read_s": t_read - t_load,
                "index_s": t_index - t_read,
            }
        )
    )


# ------------------------------------------------------------------------------------------ PDF stage
def pdf_stage(corpus: Path) -> dict[str, float]:
    """govrag's PDF parser alone over the generated PDFs (one process): pages/s."""
    from ingest.parsers import parse_bytes

    files = sorted((corpus / "pdf").glob("*.pdf"))
    data = [(f.name, f.read_bytes()) for f in files]
    parse_bytes(data[0][1], data[0][0])  # warm imports
    t0 = time.perf_counter()
    pages = sum(parse_bytes(blob, name).pages for name, blob in data)
    dt = time.perf_counter() - t0
    return {"pages": pages, "seconds": dt, "pages_per_s": pages / dt}


# ------------------------------------------------------------------------------------------ executors
def _stored_points(home: Path) -> dict[str, tuple[str, str]]:
    """{point id: (content hash, text)} of the embedded index under `home`."""
    from govrag.settings import Settings
    from indices.registry import open_index
    from ingest.lazy_embedder import open_embedder

    settings = Settings(home=home)
    embedder = open_embedder(settings.embedder, settings.models_dir)
    index = open_index(settings.index, embedder.identity, home, create=False)
    try:
        return {
            c.point_id: (c.content_hash, c.text)
            for d in index.iter_documents()
            for c in index.get_chunks(d.doc_id)
        }
    finally:
        index.close()


def executors_side_by_side(work: Path, corpus: Path, n_docs: int, ray_address: str | None) -> None:
    """Local executor versus `--executor ray` on the same corpus: wall time ratio and identical index."""
    runs: dict[str, dict[str, Any]] = {}
    for name, extra in (
        ("local", []),
        ("ray", ["--executor", "ray", *(["--ray-address", ray_address] if ray_address else [])]),
    ):
        home = work / f"home-{name}"
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir(parents=True)
        (home / "models").symlink_to(MODELS.resolve(), target_is_directory=True)
        cmd = [sys.executable, "-m", "govrag.cli", "ingest", str(corpus), "--home", str(home), "--json"]
        m = run_measured(cmd + extra, f"govrag ingest ({name})")
        m["summary"] = json.loads(m["stdout"])
        m["points"] = _stored_points(home)
        runs[name] = m
        logger.info("%s: %.1fs %s", name, m["wall_s"], m["summary"]["documents"])
    local, ray = runs["local"], runs["ray"]
    same_report = all(
        local["summary"][k] == ray["summary"][k] for k in ("documents", "chunks", "pages", "failures")
    )
    identical = local["points"] == ray["points"] and same_report
    ratio = ray["wall_s"] / local["wall_s"]
    print(f"\ncorpus: {n_docs} documents; executors on the same machine ({os.cpu_count()} CPUs)")
    head = f"{'executor':10} {'wall s':>8} {'in-run s':>9} {'docs':>6} {'chunks':>7} {'tree MB':>8}"
    print(f"{head}  stages (s)")
    for name, m in runs.items():
        s = m["summary"]
        print(
            f"{name:10} {m['wall_s']:8.1f} {s['elapsed_seconds']:9.1f} {s['documents']['new']:6d} "
            f"{s['chunks']:7d} {m['tree_peak_mb']:8.0f}  {s['stage_seconds']}"
        )
    print(
        f"ray/local wall time {ratio:.2f}x (target <= 1.3); same point ids, hashes and texts: "
        f"{local['points'] == ray['points']} ({len(ray['points'])} points); same report counts: {same_report}"
    )
    print(
        f"RESULT ray_over_local={ratio:.2f} identical={str(identical).lower()} local_s={local['wall_s']:.1f} "
        f"ray_s={ray['wall_s']:.1f} chunks={len(ray['points'])}"
    )


# ------------------------------------------------------------------------------------------------ main
def main() -> None:
    """Build the corpus, run both pipelines and the PDF stage, print the table and the RESULT line."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=1000, help="eval passages written as documents")
    ap.add_argument("--pdfs", type=int, default=24)
    ap.add_argument("--docx", type=int, default=24)
    ap.add_argument("--work", type=Path, default=None, help="work folder (default: a temporary one)")
    ap.add_argument(
        "--executor",
        choices=["llamaindex", "ray"],
        default="llamaindex",
        help="what govrag's local executor is compared with: the naive LlamaIndex pipeline, or govrag's "
        "own --executor ray",
    )
    ap.add_argument("--ray-address", default=None, help="--executor ray: join this cluster (default: local)")
    ap.add_argument("--baseline-run", nargs=3, metavar=("CORPUS", "QDRANT", "MODEL"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.baseline_run:
        baseline_run(*(Path(a) for a in args.baseline_run))
        return
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("fontTools").setLevel(logging.WARNING)  # fpdf2's font subsetting is chatty
    os.environ.update(ENV)
    work = args.work or Path(tempfile.mkdtemp(prefix="ingest-bench-"))
    shutil.rmtree(work / "corpus", ignore_errors=True)
    counts = build_corpus(work / "corpus", args.docs, args.pdfs, args.docx)
    n_docs = counts["documents"]
    logger.info(
        "corpus: %d documents (%d PDFs, %d PDF pages) in %s",
        n_docs,
        counts["pdfs"],
        counts["pdf_pages"],
        work,
    )

    if args.executor == "ray":
        executors_side_by_side(work, work / "corpus", n_docs, args.ray_address)
        return

    from indices.e5_convert import ensure_converted

    model_dir = ensure_converted(MODELS).path
    for f in model_dir.rglob("*"):  # same warm page cache for both contenders
        if f.is_file():
            f.read_bytes()
    home = work / "govrag-home"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    (home / "models").symlink_to(MODELS.resolve(), target_is_directory=True)
    qdrant = work / "qdrant"
    shutil.rmtree(qdrant, ignore_errors=True)

    base = run_measured(
        [sys.executable, __file__, "--baseline-run", str(work / "corpus"), str(qdrant), str(model_dir)],
        "baseline",
    )
    base_info = json.loads(base["stdout"].strip().splitlines()[-1])
    logger.info("baseline: %.1fs %s", base["wall_s"], base_info)
    ingest = [
        sys.executable,
        "-m",
        "govrag.cli",
        "ingest",
        str(work / "corpus"),
        "--home",
        str(home),
        "--json",
    ]
    first = run_measured(ingest, "govrag first run")
    first_sum = json.loads(first["stdout"])
    logger.info("govrag first: %.1fs %s", first["wall_s"], first_sum["documents"])
    second = run_measured(ingest, "govrag rerun")
    second_sum = json.loads(second["stdout"])
    pdf = pdf_stage(work / "corpus")

    rows = [
        ("baseline (LlamaIndex naive)", base, base_info["files"], base_info["points"], None),
        (
            "govrag ingest, first run",
            first,
            n_docs - first_sum["documents"]["failed"],
            first_sum["chunks"],
            first_sum,
        ),
        ("govrag ingest, unchanged rerun", second, second_sum["documents"]["unchanged"], 0, second_sum),
    ]
    print(
        f"\ncorpus: {n_docs} documents ({args.docs} passages as .txt/.md, {args.pdfs} PDFs with "
        f"{counts['pdf_pages']} pages, {args.docx} DOCX); embedder: bundled multilingual-e5-small"
    )
    print(
        f"{'pipeline':34} {'wall s':>8} {'docs/s':>8} {'chunks':>7} {'maxrss MB':>10} {'tree MB':>8} "
        f"{'in-run s':>9}"
    )
    for name, m, docs, chunks, summ in rows:
        inrun = (
            f"{summ['elapsed_seconds']:.1f}" if summ else f"{base_info['read_s'] + base_info['index_s']:.1f}"
        )
        print(
            f"{name:34} {m['wall_s']:8.1f} {docs / m['wall_s']:8.1f} {chunks:7d} {m['maxrss_mb']:10.0f} "
            f"{m['tree_peak_mb']:8.0f} {inrun:>9}"
        )
    print(f"govrag stages (first run, s): {first_sum['stage_seconds']}")
    print(
        f"baseline stages (s): load {base_info['load_s']:.1f}, read {base_info['read_s']:.1f}, "
        f"split+embed+write {base_info['index_s']:.1f}"
    )
    print(
        f"PDF parse stage alone: {pdf['pages']} pages in {pdf['seconds']:.2f}s "
        f"= {pdf['pages_per_s']:.1f} pages/s"
    )
    throughput = (n_docs / first["wall_s"]) / (base_info["files"] / base["wall_s"])
    rerun = first["wall_s"] / second["wall_s"]
    # govrag's parser workers are processes of their own: its peak is the whole tree's
    rss = first["tree_peak_mb"] / base["tree_peak_mb"]
    print(
        f"throughput ratio {throughput:.2f}x (target >= 3), rerun ratio {rerun:.1f}x (target >= 20; in-run "
        f"{first_sum['elapsed_seconds'] / max(second_sum['elapsed_seconds'], 1e-3):.1f}x), "
        f"peak RSS ratio {rss:.2f} of the process trees (target <= 1; main processes alone "
        f"{first['maxrss_mb'] / base['maxrss_mb']:.2f})"
    )
    print(
        f"RESULT throughput_ratio={throughput:.2f} rerun_ratio={rerun:.1f} "
        f"pdf_pages_per_s={pdf['pages_per_s']:.0f} rss_ratio={rss:.2f}"
    )


if __name__ == "__main__":
    main()
