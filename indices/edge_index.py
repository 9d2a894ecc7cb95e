"""The embedded adapter: Qdrant Edge (Qdrant's Rust engine, in-process) persisted in a folder.

Folder layout (`<index.path>/<collection>/`):
* `index.json`   what built the index (embedder identity, schema version), written atomically;
* `.govrag.lock` the process lock (`indices.folder_lock`): one process at a time;
* `shard/`       the Qdrant Edge shard (segments + write-ahead log).

Qdrant Edge has no background optimizer: upserts land in an appendable, brute-force-searched segment
until `optimize()` builds HNSW segments; the ingest pipeline calls it after a bulk load. Qdrant
Edge has no group-by query either, so one-chunk-per-document is planned by `QdrantIndexBase`.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from indices import index_base as base
from indices.disk_space import ensure_free, folder_bytes, no_space_as_full, points_bytes, unallocated_bytes
from indices.errors import IndexCorruptError, IndexError_, IndexNotFoundError
from indices.filters import FilterSpec, payload_index_plan, to_edge_filter
from indices.folder_lock import FolderLock, locked_error
from indices.index_base import BM25, DENSE, QdrantIndexBase, RawHit, check_identity, identity_from_dict
from indices.index_check import ScannedPoint
from indices.registry import IndexSettings
from indices.schema import (
    EmbedderIdentity,
    IndexPoint,
    SparseVec,
)

logger = logging.getLogger(__name__)

META_NAME = "index.json"
SHARD_NAME = "shard"
FORMAT_VERSION = 1


def _edge() -> Any:
    """The qdrant_edge module, imported on first use."""
    return base.import_backend(
        "qdrant_edge",
        "the embedded index needs Qdrant Edge: pip install qdrant-edge-py==0.9.0 "
        "(or set index.backend='server')",
    )


def _write_meta(path: Path, identity: EmbedderIdentity) -> None:
    """Write index.json atomically (temp file, fsync, rename, fsync of the folder)."""
    meta = {"format": FORMAT_VERSION, "embedder": identity.as_dict(), "created_at": time.time()}
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(meta, fh, indent=2)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


#: Says how to find out more and how to recover; part of every "cannot be read" error.
DAMAGED_HINT = (
    "`govrag index check` lists what is damaged; to recover, delete the index folder and re-run "
    "`govrag ingest` (the sources are the only truth)"
)


@contextmanager
def _reading() -> Iterator[None]:
    """Turn a Qdrant Edge failure while reading into `IndexCorruptError` (it raises a bare Exception)."""
    try:
        yield
    except (IndexError_, ValueError, TypeError):
        raise
    except Exception as exc:
        raise IndexCorruptError(f"the embedded index cannot be read ({exc}); {DAMAGED_HINT}") from exc


def _read_meta(path: Path, folder: Path) -> EmbedderIdentity:
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexCorruptError(
            f"{path} cannot be read ({exc}): the index folder {folder} is damaged. "
            "Delete the folder and re-run `govrag ingest`."
        ) from exc
    identity = identity_from_dict(meta.get("embedder") if isinstance(meta, dict) else None)
    if identity is None:
        raise IndexCorruptError(
            f"{path} has no valid 'embedder' entry (name, dim, fingerprint): the index folder {folder} "
            "is damaged. Delete the folder and re-run `govrag ingest`."
        )
    return identity


class EdgeIndex(QdrantIndexBase):
    """A `VectorIndex` on a Qdrant Edge shard in a local folder (one process at a time)."""

    def __init__(
        self, folder: Path, shard: Any, lock: FolderLock, identity: EmbedderIdentity, settings: IndexSettings
    ) -> None:
        """Wrap an opened shard; use `EdgeIndex.open` to open or create one."""
        super().__init__(identity, settings)
        self.folder = folder
        self._shard: Any = shard
        self._lock = lock
        self._qe = _edge()
        self._reserve = settings.min_free_mb * 1_000_000

    # ------------------------------------------------------------------ lifecycle

    @classmethod
    def open(
        cls,
        folder: Path,
        identity: EmbedderIdentity,
        settings: IndexSettings | None = None,
        *,
        create: bool,
        verify: bool = True,
    ) -> EdgeIndex:
        """Open the index in `folder`, creating it when `create` is true and it does not exist.

        With `verify`, the quick integrity check runs first (`indices.index_check`, milliseconds) and a
        damaged index raises `IndexCorruptError` instead of failing searches later."""
        settings = settings or IndexSettings()
        folder = Path(folder)
        if not folder.is_dir():
            if not create:
                raise missing_index_error(folder)
            folder.mkdir(parents=True, exist_ok=True)
        with no_space_as_full(folder, "open the index (its lock file)", settings.min_free_mb * 1_000_000):
            lock = FolderLock(folder)
        try:
            shard = cls._open_shard(folder, identity, settings, create)
        except BaseException:
            lock.release()
            raise
        index = cls(folder, shard, lock, identity, settings)
        if verify:
            report = index.check(quick=True)
            if not report.ok:
                index.close()
                raise IndexCorruptError(
                    f"The index at {folder} is damaged: {report.summary()}. {DAMAGED_HINT}."
                )
        return index

    @classmethod
    def _open_shard(
        cls, folder: Path, identity: EmbedderIdentity, settings: IndexSettings, create: bool
    ) -> Any:
        qe = _edge()
        meta_path, shard_dir = folder / META_NAME, folder / SHARD_NAME
        has_shard = shard_dir.is_dir() and any(shard_dir.iterdir())
        if meta_path.exists():
            stored = _read_meta(meta_path, folder)
            check_identity(
                stored,
                identity,
                f"The index at {folder}",
                f"a new index folder (change index.path or index.collection), or delete {folder} first",
            )
        elif has_shard:
            raise IndexCorruptError(
                f"{folder} holds Qdrant data but no {META_NAME}: it was not made by govrag or is damaged. "
                "Move or delete the folder and re-run `govrag ingest`."
            )
        elif create:
            reserve = settings.min_free_mb * 1_000_000
            ensure_free(folder, 0, reserve, "create the index")
            with no_space_as_full(folder, "create the index", reserve):
                _write_meta(meta_path, identity)
        else:
            raise IndexNotFoundError(f"The index folder {folder} is empty: run `govrag ingest` first.")
        config = cls._config(qe, identity, settings)
        if not has_shard:
            if not create:
                raise IndexNotFoundError(f"The index at {folder} has no data yet: run `govrag ingest` first.")
            shard = qe.EdgeShard.create(str(shard_dir), config)
            cls._ensure_payload_indexes(qe, shard)
            logger.info("created embedded index %s (dim %d)", folder, identity.dim)
            return shard
        # Loading touches the preallocated memory maps of the segments (payload-index pages, vector chunks:
        # ~90 MB for a 600-chunk shard on a tmpfs, the first time): with the disk full that is a SIGBUS. So
        # ask for what is still unallocated, plus an eighth of the reserve for the log; a shard loaded
        # before needs little (it was a flat half reserve, which refused an index that had loaded already).
        needed = unallocated_bytes(shard_dir / "segments")
        ensure_free(folder, needed, settings.min_free_mb * 1_000_000 // 8, "open the index")
        try:
            shard = qe.EdgeShard.load(str(shard_dir), config)
        except Exception as exc:
            if "WouldBlock" in str(exc):
                raise locked_error(folder, "unknown process: the shard's write-ahead log is locked") from exc
            raise IndexCorruptError(
                f"The index folder {folder} cannot be opened by Qdrant Edge ({exc}). It may be damaged "
                "(killed during a write, disk full, edited by hand) or written by an incompatible "
                "version: delete it and re-run `govrag ingest`."
            ) from exc
        cls._ensure_payload_indexes(qe, shard)
        return shard

    @staticmethod
    def _config(qe: Any, identity: EmbedderIdentity, settings: IndexSettings) -> Any:
        return qe.EdgeConfig(
            vectors={DENSE: qe.EdgeVectorParams(size=identity.dim, distance=qe.Distance.Cosine)},
            sparse_vectors={BM25: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
            hnsw_config=qe.HnswIndexConfig(**base.hnsw_options(settings)),
            optimizers=qe.EdgeOptimizersConfig(indexing_threshold=settings.indexing_threshold_kb),
            quantization_config=(
                qe.ScalarQuantizationConfig(type=qe.ScalarType.Int8, quantile=0.99, always_ram=True)
                if settings.quantization == "int8"
                else None
            ),
            payload_memory=qe.Memory.Cached if settings.payload_in_ram else qe.Memory.Cold,
            max_search_threads=settings.search_threads,
        )

    @staticmethod
    def _ensure_payload_indexes(qe: Any, shard: Any) -> None:
        """Create the missing payload indexes (all on creation; after a crash or a schema change, some)."""
        existing = set(shard.info().payload_schema)
        for name, kind, hnsw in payload_index_plan():
            if name in existing:
                continue
            if kind == "keyword":
                params = qe.KeywordIndexParams(enable_hnsw=hnsw)
            elif kind == "integer":
                params = qe.IntegerIndexParams(lookup=True, range=True, enable_hnsw=hnsw)
            else:
                params = qe.FloatIndexParams(enable_hnsw=hnsw)
            shard.update(qe.UpdateOperation.create_field_index(name, params))

    def optimize(self) -> None:
        """Merge segments and build HNSW + payload indexes (blocking); call after bulk loads.

        The rebuilt segments are written next to the old ones: refused (`IndexFullError`) unless the
        shard's size fits on the disk above the reserve."""
        ensure_free(self.folder, folder_bytes(self.folder / SHARD_NAME), self._reserve, "optimize the index")
        started = time.perf_counter()
        changed = self._shard.optimize()
        self._shard.flush()
        info = self._shard.info()
        logger.info(
            "optimized %s in %.1fs (changed=%s): %d points, %d segments, %d indexed vectors",
            self.folder,
            time.perf_counter() - started,
            changed,
            info.points_count,
            info.segments_count,
            info.indexed_vectors_count,
        )

    def close(self) -> None:
        """Flush, close the shard and release the folder lock (idempotent)."""
        if self._shard is None:
            return
        shard, self._shard = self._shard, None
        try:
            shard.flush()
            shard.close()
        finally:
            self._lock.release()

    # ------------------------------------------------------------------ primitives

    def _upsert_batch(self, points: Sequence[IndexPoint]) -> None:
        ensure_free(self.folder, points_bytes(points), self._reserve, f"write {len(points)} chunks")
        qe = self._qe
        batch = [
            qe.Point(
                p.record.point_id,
                {
                    DENSE: p.dense if isinstance(p.dense, list) else [float(x) for x in p.dense],
                    BM25: base.sparse_vector(qe.SparseVector, p.sparse),
                },
                p.record.payload(),
            )
            for p in points
        ]
        self._shard.update(qe.UpdateOperation.upsert_points(batch))

    def _delete(self, spec: FilterSpec) -> None:
        flt = base.delete_filter(spec, to_edge_filter)
        if flt is not None:
            self._shard.update(self._qe.UpdateOperation.delete_points_by_filter(flt))

    def _count(self, spec: FilterSpec) -> int:
        with _reading():
            return int(self._shard.count(self._qe.CountRequest(exact=True, filter=to_edge_filter(spec))))

    def _scroll(self, spec: FilterSpec, fields: list[str] | None) -> Iterator[dict[str, Any]]:
        qe, flt = self._qe, to_edge_filter(spec)

        def page(offset: Any) -> Any:
            request = qe.ScrollRequest(
                offset=offset,
                limit=base.SCROLL_PAGE,
                filter=flt,
                with_payload=base.payload_fields(fields),
                with_vector=False,
            )
            with _reading():
                return self._shard.scroll(request)

        yield from base.scroll_payloads(page)

    def _scan(self, offset: Any, limit: int) -> tuple[list[ScannedPoint], Any]:
        request = self._qe.ScrollRequest(offset=offset, limit=limit, with_payload=True, with_vector=[DENSE])
        records, nxt = self._shard.scroll(request)
        out: list[ScannedPoint] = []
        for rec in records:
            vectors = rec.vector if isinstance(rec.vector, dict) else {}
            out.append((str(rec.id), dict(rec.payload or {}), vectors.get(DENSE)))
        return out, nxt

    def _metadata_problems(self) -> list[str]:
        problems: list[str] = []
        segments = self.folder / SHARD_NAME / "segments"
        for seg in sorted(segments.iterdir()) if segments.is_dir() else []:
            try:
                meta = json.loads((seg / "segment.json").read_text(encoding="utf-8"))
                ok = isinstance(meta, dict) and isinstance(meta.get("config"), dict) and "version" in meta
            except (OSError, ValueError) as exc:
                problems.append(f"segment {seg.name}: segment.json cannot be read ({type(exc).__name__})")
                continue
            if not ok:
                problems.append(f"segment {seg.name}: segment.json lacks its version or config")
            try:
                version = (seg / "version.info").read_text(encoding="utf-8").strip()
            except (OSError, ValueError) as exc:
                problems.append(f"segment {seg.name}: version.info cannot be read ({type(exc).__name__})")
                continue
            if not version.replace(".", "").isdigit():
                problems.append(f"segment {seg.name}: version.info is not a version ({version[:20]!r})")
        return problems

    def _doc_counts(self, spec: FilterSpec, limit: int) -> dict[str, int]:
        req = self._qe.FacetRequest(
            key="doc_id", limit=max(1, limit), exact=True, filter=to_edge_filter(spec)
        )
        with _reading():
            return base.facet_counts(self._shard.facet(req).hits)

    def _retrieve(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        if not ids:
            return {}
        with _reading():
            return base.payloads_by_id(self._shard.retrieve(ids, with_payload=True, with_vector=False))

    def _params(self, exact: bool) -> Any:
        return self._search_params(self._qe, exact)

    def _vector_query(self, using: str, vector: list[float] | SparseVec) -> Any:
        vec = base.sparse_vector(self._qe.SparseVector, vector) if isinstance(vector, SparseVec) else vector
        return self._qe.Query.Nearest(vec, using=using)

    def _nearest(
        self,
        using: str,
        vector: list[float] | SparseVec,
        spec: FilterSpec,
        limit: int,
        exact: bool,
        fields: list[str] | None,
    ) -> list[RawHit]:
        req = self._qe.QueryRequest(
            limit=limit,
            query=self._vector_query(using, vector),
            filter=to_edge_filter(spec),
            params=self._params(exact),
            with_payload=base.payload_fields(fields),
        )
        with _reading():
            return base.raw_hits(self._shard.query(req))

    def _fused(
        self,
        dense: list[float],
        sparse: SparseVec,
        spec: FilterSpec,
        prefetch: int,
        limit: int,
        exact: bool,
        fields: list[str] | None,
    ) -> list[RawHit]:
        qe, flt = self._qe, to_edge_filter(spec)
        req = qe.QueryRequest(
            limit=limit,
            prefetches=[
                qe.Prefetch(
                    prefetch, self._vector_query(DENSE, dense), params=self._params(exact), filter=flt
                ),
                qe.Prefetch(prefetch, self._vector_query(BM25, sparse), filter=flt),
            ],
            query=qe.Fusion.Rrf(k=self.rrf_k),
            filter=flt,
            with_payload=base.payload_fields(fields),
        )
        with _reading():
            return base.raw_hits(self._shard.query(req))


def missing_index_error(folder: Path) -> IndexNotFoundError:
    """The error for an embedded index folder that does not exist (nothing ingested yet)."""
    return IndexNotFoundError(
        f"No index at {folder}: run `govrag ingest` first to build it "
        "(or point index.path to an existing index)."
    )
