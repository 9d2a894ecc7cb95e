"""Free-space guard of the embedded index: refuse a write *before* it can fill the disk.

Qdrant Edge writes its write-ahead log and segments through memory maps. On a full disk a store into a
mapped page that needs a new block is not an `ENOSPC` error but a SIGBUS: the process dies with "Bus
error" (exit 135) and no report (issue 10, item 4, measured on a 6 MB tmpfs: the very first batch). So
every write is sized first and refused with `IndexFullError` (folder, bytes needed, bytes free) when it
would leave less than the reserve `index.min_free_mb`; the index keeps what was written before.

Sizes are deliberately pessimistic: a point is written to the log, to its segment and to the payload
indexes (`WRITE_AMPLIFICATION`), and `optimize()` rewrites the whole shard next to the old one.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from indices.errors import IndexFullError
from indices.schema import IndexPoint

#: Copies of each point written by an upsert: write-ahead log, segment storage, payload indexes.
WRITE_AMPLIFICATION = 3
#: Bytes per point besides its vectors and payload (ids, offsets, index entries).
POINT_OVERHEAD = 256


def points_bytes(points: Sequence[IndexPoint]) -> int:
    """Bytes an upsert of `points` may add on disk (pessimistic)."""
    raw = 0
    for p in points:
        raw += len(p.dense) * 4 + len(p.sparse.indices) * 8 + POINT_OVERHEAD
        raw += len(json.dumps(p.record.payload(), ensure_ascii=False).encode())
    return raw * WRITE_AMPLIFICATION


def folder_bytes(folder: Path) -> int:
    """Bytes the files under `folder` occupy on disk (allocated blocks, not apparent sizes)."""
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
            except OSError:
                continue
    return total


def unallocated_bytes(folder: Path) -> int:
    """Bytes the files under `folder` may still allocate: apparent size minus allocated blocks.

    Qdrant Edge sizes its memory-mapped files up front (payload-index pages, vector chunks) and the disk
    only gives them blocks when a page is touched; loading a shard touches them all (measured on a tmpfs:
    every payload-index map and the 32 MB dense chunk). So this is what opening an index can still take.
    """
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            try:
                st = os.lstat(os.path.join(root, name))
            except OSError:
                continue
            total += max(0, st.st_size - st.st_blocks * 512)
    return total


def _mb(n: int) -> str:
    return f"{n / 1e6:,.1f} MB"


def full_message(folder: Path, what: str, needed: int, free: int, reserve: int) -> str:
    """The operator's message: which folder, what needed how much, how much is free, what to do."""
    return (
        f"not enough free space in {folder} to {what}: it needs about {needed:,} bytes ({_mb(needed)}) "
        f"plus the reserve of {reserve:,} bytes (index.min_free_mb), but only {free:,} bytes "
        f"({_mb(free)}) are free. Nothing of this write was stored and the index stays readable; free "
        "some space (or lower index.min_free_mb) and run the same command again (an ingest stopped before "
        "its optimize step keeps every stored document searchable, by a slower exact scan)"
    )


def ensure_free(folder: Path, needed: int, reserve: int, what: str) -> None:
    """Raise `IndexFullError` unless `needed` bytes fit on `folder`'s disk above `reserve`."""
    free = shutil.disk_usage(folder).free
    if free - needed < reserve:
        raise IndexFullError(full_message(folder, what, needed, free, reserve))


@contextmanager
def no_space_as_full(folder: Path, what: str, reserve: int) -> Iterator[None]:
    """Turn an `ENOSPC`/`EDQUOT` from a write into `IndexFullError` (the write was cut short)."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        free = shutil.disk_usage(folder).free
        raise IndexFullError(full_message(folder, what, 0, free, reserve)) from exc
