"""A full disk under the embedded index (issue 10, item 4), on a real small tmpfs.

Before: Qdrant Edge writes through mmap, so `govrag ingest` died with a bare "Bus error" (exit 135) on the
first batch, and `govrag search` too while the disk stayed full. Now every write is sized first
(`indices.disk_space`): ingest exits 1 naming the folder, the bytes needed and the bytes free, the index
stays readable, `govrag search` on the full disk exits 2 with the same kind of message, and works again
once space is freed. Needs root (mount); skipped with the reason otherwise.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import REPO, link_models

pytestmark = pytest.mark.slow

WORDS = ["passport", "renewal", "clinic", "budget", "ministry", "tax", "rebate", "notice", "flood"]


def _has(text: str, expected: str) -> bool:
    """`expected` in `text`, ignoring whitespace (rich wraps long messages, even inside words)."""
    return "".join(expected.split()) in "".join(text.split())


def _run(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GOVRAG_INGEST__WORKERS": "1", "GOVRAG_LOG_LEVEL": "WARNING"}
    cmd = [sys.executable, "-m", "govrag.cli", *args]
    return subprocess.run(
        cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 200 MB tmpfs: room for the index's first segment (Edge allocates a 32 MB payload page and the
    payload-index pages at once), not for the whole corpus above the default 128 MB reserve."""
    mount = tmp_path / "disk"
    mount.mkdir()
    try:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=200m", "tmpfs", str(mount)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except OSError as exc:
        pytest.skip(f"cannot run mount: {exc}")
    if done.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not permitted here (needs root): {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True, timeout=30, check=False)


def _fill(disk: Path) -> Path:
    filler = disk / "filler"
    with filler.open("wb") as fh:
        try:
            while True:
                fh.write(b"\0" * (1 << 20))
                fh.flush()
        except OSError:
            pass
    return filler


def test_full_disk_stops_ingest_with_exit_1_and_keeps_the_index_readable(
    tmp_path: Path, small_disk: Path
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    rng = random.Random(5)
    for i in range(300):
        paras = [f"Document {i}. " + " ".join(rng.choice(WORDS) for _ in range(60)) for _ in range(6)]
        (corpus / f"d{i:03d}.txt").write_text("\n\n".join(paras), encoding="utf-8")
    home = small_disk / "home"
    link_models(home)
    folder = home / "index" / "govrag"

    ingest = _run("ingest", str(corpus), "--home", str(home), "--json")
    assert ingest.returncode == 1, ingest.stderr[-2000:]  # not 135 / -SIGBUS
    message = ingest.stderr
    flat = "".join(message.split())
    what = "".join(f"error: not enough free space in {folder} to".split())
    assert re.search(re.escape(what) + r"(write\d+chunks|optimizetheindex):itneedsabout[\d,]+bytes", flat), (
        message
    )
    assert _has(message, "plus the reserve of 128,000,000 bytes (index.min_free_mb), but only")
    assert "Bus error" not in message

    check = _run("index", "check", "--home", str(home))
    assert check.returncode == 0, check.stdout + check.stderr
    # whatever was written before the refusal (none or some batches) is intact
    assert re.search(r"index ok: (\d+) of \1 points checked", check.stdout), check.stdout

    filler = _fill(small_disk)
    full = _run("search", "passport renewal", "--home", str(home), "--json")
    assert full.returncode == 2, full.stderr[-2000:]
    assert _has(full.stderr, f"not enough free space in {folder} to open the index")

    filler.unlink()
    found = _run("search", "passport renewal", "--home", str(home), "--json")
    assert found.returncode == 0, found.stderr[-2000:]
    hits = json.loads(found.stdout)["hits"]
    assert len(hits) == 5
    assert all(h["doc_id"].startswith("corpus/d") for h in hits)


def test_disk_too_small_for_a_new_index_is_refused_before_creating_it(
    tmp_path: Path, small_disk: Path
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("A passport renewal costs 70 dollars.", encoding="utf-8")
    filler = small_disk / "filler"
    filler.write_bytes(b"\0" * (140 << 20))  # 60 MB left: below the reserve
    home = small_disk / "home"
    link_models(home)
    ingest = _run("ingest", str(corpus), "--home", str(home), "--json")
    assert ingest.returncode == 1, ingest.stderr[-2000:]
    assert _has(ingest.stderr, f"not enough free space in {home / 'index' / 'govrag'} to create the index")
    assert not (home / "index" / "govrag" / "shard").exists()
