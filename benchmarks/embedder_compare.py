"""Benchmark: e5-small (bundled) vs EmbeddingGemma-300M at 768 and 256 dimensions, each hybrid with BM25,
through the same pipeline (`govrag eval retrieval`: real ingest, embedded index, the API's retriever).

Bounded subsets of the dev runs (../shared/eval; the CPU is shared, EmbeddingGemma embeds a few passages
per second on it): per question file `--questions` questions (seeded), and a corpus of their relevant
passages plus seeded distractors up to `--passages` passages per run:
* xling: questions of `*-xling.dev.jsonl` against passages of `corpus/xling-en.jsonl`,
* mono: questions of every other dev file against passages of the other corpus files.
Each (embedder, run) is one `govrag eval retrieval --mode hybrid` subprocess; its peak RSS, ingest time
(passages/s), question latency (p50, search including the question's embedding) and index size are
reported next to recall@1/5/10 per set and language.

Run: python benchmarks/embedder_compare.py --models-dir DIR [--questions 40] [--passages 160]
(DIR holds the converted e5 folder and embeddinggemma-300m, e.g. from `govrag models fetch`). Last line:
RESULT default=<name> xling_recall@10=<x> mono_recall@5=<x> passages_per_s=<n> query_p50_ms=<ms>
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EVAL = next((p / "shared" / "eval" for p in ROOT.parents if (p / "shared" / "eval").is_dir()), ROOT / "eval")
CONFIGS: dict[str, dict[str, str]] = {
    "e5-small": {"GOVRAG_EMBEDDER__MODEL": "bundled"},
    "gemma-768": {"GOVRAG_EMBEDDER__MODEL": "embeddinggemma"},
    "gemma-256": {"GOVRAG_EMBEDDER__MODEL": "embeddinggemma", "GOVRAG_EMBEDDER__DIMENSION": "256"},
}
DEFAULT = "e5-small"


def _read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _write(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def build_subsets(eval_dir: Path, out: Path, n_questions: int, n_passages: int, seed: int) -> None:
    """Write `out/<run>/corpus/*.jsonl` and `out/<run>/questions/*.jsonl` for the xling and mono runs."""
    rng = random.Random(seed)
    qdir, cdir = eval_dir / "questions", eval_dir / "corpus"
    runs = {
        "xling": (sorted(qdir.glob("*-xling.dev.jsonl")), [cdir / "xling-en.jsonl"]),
        "mono": (
            sorted(p for p in qdir.glob("*.dev.jsonl") if "-xling" not in p.name),
            sorted(p for p in cdir.glob("*.jsonl") if p.name != "xling-en.jsonl"),
        ),
    }
    for run, (qfiles, cfiles) in runs.items():
        corpus = {p.name: _read(p) for p in cfiles}
        by_id = {row["id"]: name for name, rows in corpus.items() for row in rows}
        keep: set[str] = set()
        for qfile in qfiles:
            questions = _read(qfile)
            rng.shuffle(questions)
            chosen = [q for q in questions if all(r in by_id for r in q["relevant"])][:n_questions]
            keep.update(r for q in chosen for r in q["relevant"])
            _write(out / run / "questions" / qfile.name, chosen)
        others = sorted(set(by_id) - keep)
        rng.shuffle(others)
        keep.update(others[: max(0, n_passages - len(keep))])
        for name, rows in corpus.items():
            _write(out / run / "corpus" / name, [r for r in rows if r["id"] in keep])


def _folder_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def run_one(name: str, env_extra: dict[str, str], run_dir: Path, models: Path, work: Path) -> dict[str, Any]:
    """One `govrag eval retrieval` subprocess; its report plus peak RSS, passages/s and index size."""
    home = work / f"home-{name}-{run_dir.name}"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    (home / "models").symlink_to(models.resolve(), target_is_directory=True)
    index_dir = home / "eval-index"
    report_file = home / "report.json"
    cmd = [sys.executable, "-m", "govrag.cli", "eval", "retrieval", "--mode", "hybrid"]
    cmd += [a for p in sorted((run_dir / "corpus").glob("*.jsonl")) for a in ("--corpus", str(p))]
    cmd += [a for p in sorted((run_dir / "questions").glob("*.jsonl")) for a in ("--questions", str(p))]
    cmd += ["--index-dir", str(index_dir), "--out", str(report_file), "--home", str(home)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "GOVRAG_LOG_LEVEL": "WARNING"}
    env.update(env_extra)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    output = proc.stdout.read().decode("utf-8", errors="replace")
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"{name}/{run_dir.name} failed:\n{output[-3000:]}")
    report: dict[str, Any] = json.loads(report_file.read_text(encoding="utf-8"))
    docs = report["config"]["documents"]
    report["cost"] = {
        "wall_s": round(time.perf_counter() - t0, 1),
        "peak_rss_mb": round(usage.ru_maxrss / 1024),
        "passages": docs,
        "passages_per_s": round(docs / max(report["ingest_s"], 1e-9), 2),
        "index_mb": round(_folder_mb(index_dir), 1),
        "query_p50_ms": report["latency_ms"]["p50"],
    }
    return report


def _recall(report: dict[str, Any], at: str) -> float:
    """Micro-averaged recall over every question of the run."""
    hits = total = 0.0
    for per_mode in report["sets"].values():
        summary = per_mode["hybrid"]["all"]
        hits += summary[at] * summary["n"]
        total += summary["n"]
    return hits / total if total else 0.0


def main() -> None:
    """Build the subsets, run every configuration on both runs, print the tables and the RESULT line."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models-dir", type=Path, required=True)
    ap.add_argument("--eval-dir", type=Path, default=EVAL)
    ap.add_argument("--questions", type=int, default=40, help="questions per dev file")
    ap.add_argument("--passages", type=int, default=160, help="passages per run (relevant + distractors)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--configs", default=",".join(CONFIGS))
    ap.add_argument("--runs", default="xling,mono", help="which runs (xling, mono)")
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--json", type=Path, default=None, help="write every report here")
    args = ap.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="embedder-compare-"))
    build_subsets(args.eval_dir, work / "subsets", args.questions, args.passages, args.seed)
    results: dict[str, dict[str, Any]] = {}
    for name in args.configs.split(","):
        for run in args.runs.split(","):
            print(f"running {name} / {run} ...", flush=True)
            results.setdefault(name, {})[run] = run_one(
                name, CONFIGS[name], work / "subsets" / run, args.models_dir, work
            )
    if args.json:
        args.json.write_text(json.dumps(results, indent=1), encoding="utf-8")
    _print_tables(results)
    default = DEFAULT if DEFAULT in results else next(iter(results))
    d = results[default]
    xl = f"{_recall(d['xling'], 'recall@10'):.3f}" if "xling" in d else "nan"
    mo = f"{_recall(d['mono'], 'recall@5'):.3f}" if "mono" in d else "nan"
    print(
        f"RESULT default={default} xling_recall@10={xl} mono_recall@5={mo} "
        f"passages_per_s={_pps(d):.1f} query_p50_ms={_p50(d):.1f}"
    )


def _pps(runs: dict[str, Any]) -> float:
    """Passages per second over every ingest of one embedder (model loading included)."""
    return float(
        sum(r["cost"]["passages"] for r in runs.values()) / sum(r["ingest_s"] for r in runs.values())
    )


def _p50(runs: dict[str, Any]) -> float:
    """Median question latency of the embedder's runs (the mono run's where there is one)."""
    return float((runs.get("mono") or next(iter(runs.values())))["cost"]["query_p50_ms"])


def _print_tables(results: dict[str, dict[str, Any]]) -> None:
    names = list(results)
    print("\nquality (hybrid; recall@10 for xling, recall@5 / recall@1 for mono)")
    print("| run | set | lang | n | " + " | ".join(names) + " |")
    print("|---|---|---|---|" + "---|" * len(names))
    first = results[names[0]]
    for run, at in (("xling", ("recall@10",)), ("mono", ("recall@5", "recall@1"))):
        if run not in first:
            continue
        for set_name, per_mode in first[run]["sets"].items():
            rows = [("all", per_mode["hybrid"]["all"]["n"])]
            rows += [(lang, s["n"]) for lang, s in per_mode["hybrid"]["by_lang"].items()]
            for lang, n in rows:
                cells = []
                for name in names:
                    h = results[name][run]["sets"][set_name]["hybrid"]
                    s = h["all"] if lang == "all" else h["by_lang"][lang]
                    cells.append(" / ".join(f"{s[a]:.3f}" for a in at))
                print(f"| {run} | {set_name.split('.')[0]} | {lang} | {n} | " + " | ".join(cells) + " |")
    print("\ncost (per run: passages/s while ingesting, question p50 ms, index MB, peak RSS MB)")
    print("| embedder | xling recall@10 | mono recall@5 | passages/s | query p50 ms | index MB | RSS MB |")
    print("|---|---|---|---|---|---|---|")
    for name in names:
        runs = results[name]
        xl = f"{_recall(runs['xling'], 'recall@10'):.3f}" if "xling" in runs else "-"
        mo = f"{_recall(runs['mono'], 'recall@5'):.3f}" if "mono" in runs else "-"
        index_mb = max(r["cost"]["index_mb"] for r in runs.values())
        rss = max(r["cost"]["peak_rss_mb"] for r in runs.values())
        print(f"| {name} | {xl} | {mo} | {_pps(runs):.1f} | {_p50(runs):.0f} | {index_mb:.1f} | {rss} |")


if __name__ == "__main__":
    main()
