"""Kill-and-rerun: `govrag ingest` is SIGKILLed as a real subprocess at several moments, then run again
to completion; the index must equal what one clean run produces (every document once, all its chunks,
nothing duplicated, nothing stale), also when documents were edited, added and deleted between the
killed run and the rerun (with `--prune`).

The embedded index folder is locked by its writer, so kill moments are chosen from the writer's own
progress lines on stderr (the DEBUG line logged after each embed/write batch, the index-created and
optimized lines), never by reading the index concurrently. The whole process group is killed (the
parser pool too), like a crash or an OOM kill of the job.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docgen
import pytest
from conftest import REPO

pytestmark = pytest.mark.slow

INGEST = {"workers": 1, "embed_batch": 16, "chunker": {"chunk_tokens": 64, "overlap_tokens": 12}}
ENV = {
    "GOVRAG_INGEST__WORKERS": "1",
    "GOVRAG_INGEST__EMBED_BATCH": "16",
    "GOVRAG_INGEST__CHUNKER__CHUNK_TOKENS": "64",
    "GOVRAG_INGEST__CHUNKER__OVERLAP_TOKENS": "12",
    "GOVRAG_LOG_LEVEL": "DEBUG",
}
FLUSHED = "ingest.pipeline: flushed "
CREATED = "created embedded index"
OPTIMIZED = "indices.edge_index: optimized "
N_DOCS = 120


def _sentences() -> list[str]:
    return [line for _, lines in docgen.SAMPLES.values() for line in lines]


def _document(rng: random.Random, n: int, version: int, paragraphs: int) -> str:
    pool = _sentences()
    body = [f"Document {n} version {version}"]
    for p in range(paragraphs):
        body.append(f"Section {p}. " + " ".join(rng.choice(pool) for _ in range(rng.randint(2, 5))))
    return "\n\n".join(body)


def write_corpus(root: Path, version: int, doc_numbers: list[int], edited: set[int] = frozenset()) -> None:  # type: ignore[assignment]
    """`doc_numbers` as text files (deterministic content per number/version) plus two PDFs."""
    root.mkdir(parents=True, exist_ok=True)
    for n in doc_numbers:
        v = version if n in edited else 1
        rng = random.Random(n * 1000 + v)
        text = _document(rng, n, v, rng.randint(2, 9) if v == 1 else rng.choice([1, 14]))
        (root / f"d{n // 50}").mkdir(exist_ok=True)
        (root / f"d{n // 50}" / f"doc{n:04d}.txt").write_text(text, encoding="utf-8")
    if not (root / "report.pdf").exists():
        pages = [[("h1", f"Chapter {p}"), ("p", " ".join(docgen.SAMPLES["en"][1]))] for p in range(6)]
        (root / "report.pdf").write_bytes(docgen.text_pdf(pages, "latin"))


def _snapshot(docs: dict[str, list[Any]]) -> dict[str, list[tuple[Any, ...]]]:
    return {
        d: [
            (c.chunk_no, c.text, c.page, tuple(c.section), c.lang, c.content_hash, c.n_chunks) for c in chunks
        ]
        for d, chunks in docs.items()
    }


def _ingest_and_kill(home: Path, root: Path, marker: str, count: int, *extra: str) -> list[str]:
    """Run `govrag ingest` and SIGKILL its process group once `marker` appeared `count` times on stderr.

    Returns the stderr lines seen; fails if the run ended before the kill moment.
    """
    env = {**os.environ, **ENV}
    cmd = [sys.executable, "-m", "govrag.cli", "ingest", str(root), "--home", str(home), "--json", *extra]
    proc = subprocess.Popen(
        cmd,
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    seen: list[str] = []
    hits = 0
    deadline = time.monotonic() + 600
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            seen.append(line)
            if marker in line:
                hits += 1
                if hits >= count:
                    os.killpg(proc.pid, signal.SIGKILL)
                    break
            if time.monotonic() > deadline:
                break
    finally:
        if proc.poll() is None and hits < count:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    assert hits >= count, (
        f"the run ended before the kill moment ({marker!r} x{count}):\n{''.join(seen[-30:])}"
    )
    assert proc.returncode == -signal.SIGKILL
    return seen


def test_killed_runs_converge_to_a_clean_single_run(
    tmp_path: Path, make_settings: Callable[..., Any], ingest: Callable[..., Any], stored: Callable[..., Any]
) -> None:
    docgen.font_path("latin")
    root = tmp_path / "share"
    numbers = list(range(N_DOCS))
    write_corpus(root, 1, numbers)

    # what one clean run produces
    reference = make_settings(tmp_path / "reference", ingest=INGEST)
    clean = ingest(reference, [root]).to_dict()
    assert clean["failures"] == []
    expected = _snapshot(stored(reference))
    assert len(expected) == N_DOCS + 1
    total_chunks = sum(len(v) for v in expected.values())
    assert total_chunks > 30 * 16  # enough batches to kill in the middle

    home = tmp_path / "home"
    settings = make_settings(home, ingest=INGEST)
    # 1. right after the index is created (nothing written), 2. after the first batch, 3. part-way
    _ingest_and_kill(home, root, CREATED, 1)
    _ingest_and_kill(home, root, FLUSHED, 1)
    _ingest_and_kill(home, root, FLUSHED, 20)
    partial = stored(settings)
    assert 0 < len(partial) < N_DOCS + 1
    assert all(len(v) >= 1 for v in partial.values())

    final = ingest(settings, [root]).to_dict()
    assert final["failures"] == []
    assert final["documents"]["unchanged"] > 0  # the work of the killed runs is kept
    assert (
        final["documents"]["new"] + final["documents"]["changed"] + final["documents"]["unchanged"]
        == N_DOCS + 1
    )
    assert _snapshot(stored(settings)) == expected

    rerun = ingest(settings, [root]).to_dict()
    assert rerun["documents"] == {"new": 0, "changed": 0, "unchanged": N_DOCS + 1, "failed": 0, "pruned": 0}
    assert rerun["chunks"] == 0

    # Edits between a killed run and the rerun: 40 documents change (shrink or grow), 20 vanish, 20 are new.
    edited = set(range(0, 80, 2))
    deleted = set(range(1, 41, 2))
    added = list(range(N_DOCS, N_DOCS + 20))
    for n in deleted:
        (root / f"d{n // 50}" / f"doc{n:04d}.txt").unlink()
    numbers_v2 = [n for n in numbers if n not in deleted] + added
    write_corpus(root, 2, [n for n in numbers_v2 if n in edited or n in added], edited=edited)

    reference2 = make_settings(tmp_path / "reference2", ingest=INGEST)
    ingest(reference2, [root])
    expected2 = _snapshot(stored(reference2))
    assert len(expected2) == len(numbers_v2) + 1

    _ingest_and_kill(home, root, FLUSHED, 3, "--prune")
    _ingest_and_kill(home, root, OPTIMIZED, 1, "--prune")  # after prune and optimize, before close
    final2 = ingest(settings, [root], prune=True)
    assert final2.to_dict()["failures"] == []
    after = stored(settings)
    assert _snapshot(after) == expected2
    for n in deleted:
        assert f"share/d{n // 50}/doc{n:04d}.txt" not in after
    for n in edited:
        text = "".join(c.text for c in after[f"share/d{n // 50}/doc{n:04d}.txt"])
        assert f"Document {n} version 2" in text
        assert f"Document {n} version 1" not in text


# ---- kill -9 of the main process alone: no parser process may outlive it (issue 10, item 3) -------------


def _proc_table() -> dict[int, tuple[int, str, str]]:
    """pid -> (parent pid, state, start time) of every process, from /proc."""
    table: dict[int, tuple[int, str, str]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            raw = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2 :].split()
        table[int(entry)] = (int(fields[1]), fields[0], fields[19])
    return table


def _descendants(pid: int) -> dict[int, str]:
    """pid -> start time of every live descendant of `pid`."""
    table = _proc_table()
    found: dict[int, str] = {}
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        for child, (ppid, state, start) in table.items():
            if ppid == parent and child not in found and state != "Z":
                found[child] = start
                frontier.append(child)
    return found


def _alive(procs: dict[int, str]) -> dict[int, str]:
    """Those of `procs` still running (same pid and start time, not a zombie)."""
    table = _proc_table()
    return {p: s for p, s in procs.items() if p in table and table[p][2] == s and table[p][1] != "Z"}


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux) to follow processes")
def test_kill_9_of_the_main_process_leaves_no_parser_process(
    tmp_path: Path, make_settings: Callable[..., Any], ingest: Callable[..., Any], stored: Callable[..., Any]
) -> None:
    """SIGKILL of `govrag ingest` alone (not its process group: a crash, an OOM kill, `kill -9 PID`) at
    random moments; every process it started must be gone within seconds, and a rerun converges."""
    root = tmp_path / "share"
    n_docs = 60
    write_corpus(root, 1, list(range(n_docs)))
    home = tmp_path / "home"
    settings = make_settings(home, ingest=INGEST)
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    # Each killed run stores some documents, so later runs have less left to flush: their counts stay
    # small, and a run that finishes before its moment is a run not killed (at least three always are).
    moments = [(CREATED, 1), (FLUSHED, 1), (FLUSHED, rng.randint(2, 8)), (FLUSHED, rng.randint(2, 8))]
    kills = 0
    env = {**os.environ, **ENV, "GOVRAG_INGEST__WORKERS": "2"}
    cmd = [sys.executable, "-m", "govrag.cli", "ingest", str(root), "--home", str(home), "--json"]
    saw_workers = False
    for marker, count in moments:
        proc = subprocess.Popen(
            cmd,
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        children: dict[int, str] = {}
        try:
            hits = 0
            assert proc.stderr is not None
            for line in proc.stderr:
                hits += marker in line
                if hits >= count:
                    children = _descendants(proc.pid)
                    os.kill(proc.pid, signal.SIGKILL)
                    break
            proc.wait(timeout=60)
            if hits < count:
                continue  # the run completed before this moment: nothing was killed
            kills += 1
            saw_workers |= bool(children)
            deadline = time.monotonic() + 20
            while _alive(children) and time.monotonic() < deadline:
                time.sleep(0.2)
            survivors = _alive(children)
            assert not survivors, (
                f"(seed {seed}, kill at {marker!r} x{count}) processes outlived the killed ingest: "
                + "; ".join(
                    Path(f"/proc/{p}/cmdline").read_bytes().replace(b"\0", b" ").decode() for p in survivors
                )
            )
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # never leave anything behind, even when failing
            if proc.stderr is not None:
                proc.stderr.close()
            proc.wait(timeout=60)
    assert kills >= 3, f"(seed {seed}) only {kills} runs were killed before they completed"
    assert saw_workers, "no parser process was running at any kill moment: the test proves nothing"

    final = ingest(settings, [root]).to_dict()
    assert final["failures"] == []
    assert (
        final["documents"]["new"] + final["documents"]["changed"] + final["documents"]["unchanged"]
        == n_docs + 1
    )
    docs = stored(settings)
    assert len(docs) == n_docs + 1
    for doc_id, chunks in docs.items():
        assert [c.chunk_no for c in chunks] == list(range(chunks[0].n_chunks)), doc_id
    assert ingest(settings, [root]).to_dict()["documents"]["unchanged"] == n_docs + 1
