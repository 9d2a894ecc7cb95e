"""Backups of the embedded index: a consistent copy taken under the folder lock, restored with a rollback.

Qdrant Edge keeps its state in one folder (segments, write-ahead log). A copy made while this process holds
the folder lock (`indices.folder_lock`) is consistent: no other process can write meanwhile, and Edge
replays the copied log when the copy is opened. Each snapshot carries `snapshot.json` (embedder identity,
point and document counts, time) and is opened and quick-checked before `snapshot` reports success.
`restore` moves the current index aside, copies the snapshot in, and opens it with the integrity check;
when that fails the previous index is put back. For a Qdrant server, use its own snapshots
(`ServerIndex.create_snapshot`, `recover_snapshot`).
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from indices.disk_space import ensure_free, folder_bytes
from indices.errors import IndexCorruptError, IndexError_
from indices.folder_lock import LOCK_NAME, FolderLock
from indices.registry import IndexSettings
from indices.schema import EmbedderIdentity

MANIFEST = "snapshot.json"


def _copy(src: Path, dest: Path) -> None:
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns(LOCK_NAME, MANIFEST))


def snapshot_embedded(index: Any, dest_dir: Path) -> Path:
    """Copy the open embedded `index` (an `EdgeIndex`, whose lock this process holds) into a new folder
    under `dest_dir`, verify the copy opens cleanly, and return the folder."""
    from indices.edge_index import EdgeIndex

    folder: Path = index.folder
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    final = dest_dir / f"{folder.name}-{stamp}"
    if final.exists():
        raise IndexError_(f"snapshot folder {final} already exists; try again in a second")
    dest_dir.mkdir(parents=True, exist_ok=True)
    ensure_free(dest_dir, folder_bytes(folder), 0, f"copy the index {folder.name}")
    partial = dest_dir / f".{final.name}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    _copy(folder, partial)
    manifest = {
        "format": 1,
        "created": stamp,
        "source": folder.name,
        "embedder": asdict(index.identity),
        "points": index.count_chunks(),
        "documents": index.count_documents(),
    }
    copy = EdgeIndex.open(partial, index.identity, create=False, verify=True)
    try:
        if copy.count_chunks() != manifest["points"]:
            raise IndexCorruptError(
                f"the snapshot copy holds {copy.count_chunks()} points, the index {manifest['points']}"
            )
    finally:
        copy.close()
    (partial / LOCK_NAME).unlink(missing_ok=True)
    (partial / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    partial.rename(final)
    return final


def read_manifest(snapshot: Path) -> dict[str, Any]:
    """The snapshot's manifest; `IndexCorruptError` when the folder is not a govrag snapshot."""
    try:
        data = json.loads((snapshot / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexCorruptError(
            f"{snapshot} is not a govrag index snapshot (no readable {MANIFEST})"
        ) from exc
    if not isinstance(data, dict) or not isinstance(data.get("embedder"), dict):
        raise IndexCorruptError(f"{snapshot}/{MANIFEST} is not a govrag snapshot manifest")
    return data


def restore_embedded(
    snapshot: Path, folder: Path, identity: EmbedderIdentity, settings: IndexSettings
) -> dict[str, Any]:
    """Replace the embedded index in `folder` with `snapshot`; returns the manifest.

    Refused (nothing changed) when the snapshot is not one, was made with another embedder, or the index
    is in use by another process. The previous index is kept as `<folder>.before-restore-<time>` until the
    restored copy has opened and passed the integrity check; otherwise it is put back.
    """
    from indices.edge_index import EdgeIndex
    from indices.index_base import check_identity

    manifest = read_manifest(snapshot)
    emb = manifest["embedder"]
    stored = EmbedderIdentity(str(emb.get("name")), int(emb.get("dim", 0)), str(emb.get("fingerprint")))
    check_identity(stored, identity, f"Snapshot {snapshot}", "a snapshot made with the configured embedder")
    aside: Path | None = None
    if folder.exists():
        lock = FolderLock(folder)  # refuses, naming the holder, while a server or an ingest uses it
        lock.release()
        aside = folder.with_name(
            f"{folder.name}.before-restore-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"
        )
        folder.rename(aside)
    try:
        _copy(snapshot, folder)
        restored = EdgeIndex.open(folder, identity, settings, create=False, verify=True)
        try:
            points = restored.count_chunks()
        finally:
            restored.close()
        if points != manifest.get("points"):
            raise IndexCorruptError(
                f"the restored index holds {points} points, the snapshot says {manifest['points']}"
            )
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        if aside is not None:
            aside.rename(folder)
        raise
    if aside is not None:
        shutil.rmtree(aside)
    return manifest
