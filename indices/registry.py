"""Index settings and the factory that opens the configured `VectorIndex` backend.

Backends are looked up by name in `BACKENDS`: "embedded" (Qdrant Edge in a folder, the default,
no server needed) and "server" (qdrant-client against a Qdrant server or cluster). Adapters are
imported inside the factories so that choosing one never imports the other's library.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr

from indices.schema import EmbedderIdentity
from indices.vector_index import VectorIndex

logger = logging.getLogger(__name__)


class IndexSettings(BaseModel):
    """Where the index lives and how it is built and searched (section `index` of the settings)."""

    backend: Literal["embedded", "server"] = Field(
        default="embedded",
        description="'embedded' = Qdrant Edge in a local folder; 'server' = a Qdrant server.",
    )
    collection: str = Field(
        default="govrag", description="Collection name (server) / sub-folder name (embedded)."
    )
    # --- embedded
    path: Path = Field(
        default=Path("index"),
        description="Embedded index parent folder; relative paths are under the data dir. The index "
        "itself is <path>/<collection>.",
    )
    payload_in_ram: bool = Field(
        default=True,
        description="Embedded: keep payloads cached in RAM (faster search) instead of cold mmap.",
    )
    min_free_mb: int = Field(
        default=128,
        ge=0,
        description="Embedded index: free space (MB) kept on its disk. A write that would eat into it stops "
        "with exit 1 instead of a crash (Qdrant Edge writes through mmap: a full disk is a SIGBUS), and "
        "opening needs half of it free (Edge allocates payload-index pages on open).",
    )
    search_threads: int | None = Field(
        default=None, description="Embedded: search thread-pool size (None = one per CPU)."
    )
    # --- server
    url: str = Field(default="http://localhost:6333", description="Server URL, or ':memory:' for tests.")
    api_key: SecretStr | None = Field(default=None, description="Server API key.")
    https: bool | None = Field(default=None, description="Force HTTPS on/off (None = from the URL scheme).")
    verify_tls: bool = Field(default=True, description="Verify the server's TLS certificate.")
    timeout_s: float = Field(default=10.0, gt=0, description="Server request timeout in seconds.")
    shards: int = Field(default=1, ge=1, description="shard_number when the collection is created.")
    replication: int = Field(
        default=1, ge=1, description="replication_factor when the collection is created."
    )
    write_consistency: int = Field(default=1, ge=1, description="write_consistency_factor on creation.")
    on_disk_payload: bool = Field(
        default=True,
        description="Server: keep payloads (chunk text) on disk, not in RAM; payload indexes stay in RAM.",
    )
    vectors_on_disk: bool = Field(
        default=False,
        description="Server: keep the original dense vectors on disk (with int8 quantization only the "
        "quantized copy stays in RAM: ~1.9 KB less per 384-d chunk, see docs/capacity.md).",
    )
    # --- vectors and search
    hnsw_m: int = Field(default=16, ge=4, description="HNSW graph degree.")
    hnsw_ef_construct: int = Field(default=100, ge=8, description="HNSW build-time candidate list size.")
    hnsw_ef: int | None = Field(default=None, description="HNSW search-time ef (None = Qdrant's default).")
    full_scan_threshold_kb: int = Field(
        default=10000,
        ge=0,
        description="Below this many KB of (filtered) vectors Qdrant scans exactly instead of using "
        "HNSW (~6.6k vectors at dim 384). Measured at 100k x 384 (benchmarks/index_bench.py): exact "
        "filtered search costs ~0.45 ms per 1k points, HNSW ~1-1.5 ms, so exact wins below ~5-10k points; "
        "values above the threshold also get payload-aware HNSW links.",
    )
    indexing_threads: int = Field(
        default=0, ge=0, description="Threads building HNSW (0 = Qdrant's automatic choice)."
    )
    indexing_threshold_kb: int = Field(
        default=10000,
        ge=0,
        description="Embedded: segments smaller than this are not HNSW-indexed by optimize().",
    )
    quantization: Literal["none", "int8"] = Field(
        default="int8",
        description="Scalar int8 quantization of the dense vectors (kept in RAM, originals rescore the "
        "candidates): ~2.5x faster HNSW build and faster search for a small recall cost.",
    )
    oversampling: float = Field(
        default=2.0, ge=1.0, description="With quantization: candidates rescored per wanted result."
    )
    prefetch: int = Field(
        default=50,
        ge=1,
        description="Candidates per signal before fusion (callers' SearchQuery.prefetch).",
    )
    fusion: Literal["zscore", "rrf"] = Field(
        default="zscore",
        description="Hybrid fusion: 'zscore' = weighted sum of per-list standardised scores (keeps how "
        "far a match stands out; measured better on the multilingual eval), 'rrf' = Qdrant's "
        "reciprocal-rank fusion.",
    )
    bm25_weight: float = Field(
        default=0.5, ge=0.0, le=1.0, description="zscore fusion: weight of BM25 (dense gets 1 - this)."
    )
    rrf_k: int = Field(default=60, ge=1, description="Reciprocal-rank-fusion constant k (fusion='rrf').")
    overfetch: int = Field(
        default=4, ge=1, description="One-chunk-per-document: candidates per wanted document."
    )
    upsert_batch: int = Field(default=256, ge=1, description="Points per upsert request.")

    def embedded_folder(self, home: Path) -> Path:
        """The embedded index folder: <path>/<collection>, relative paths under `home`."""
        base = self.path if self.path.is_absolute() else home / self.path
        return base / self.collection


#: A backend factory: (settings, identity, home, create) -> an open index.
BackendFactory = Callable[[IndexSettings, EmbedderIdentity, Path, bool], VectorIndex]


def _open_embedded(
    settings: IndexSettings, identity: EmbedderIdentity, home: Path, create: bool
) -> VectorIndex:
    from indices.edge_index import EdgeIndex

    return EdgeIndex.open(settings.embedded_folder(home), identity, settings, create=create)


def _open_server(
    settings: IndexSettings, identity: EmbedderIdentity, home: Path, create: bool
) -> VectorIndex:
    from indices.server_index import ServerIndex

    return ServerIndex.connect(settings, identity, create=create)


BACKENDS: dict[str, BackendFactory] = {"embedded": _open_embedded, "server": _open_server}


def check_openable(settings: IndexSettings, home: Path, *, create: bool) -> None:
    """Fail fast, before any model is loaded: an embedded index folder held by another process raises
    `IndexLockedError` naming the holder, a missing one (when not creating) `IndexNotFoundError`. Server
    backends are checked when connecting."""
    if settings.backend != "embedded":
        return
    from indices.edge_index import missing_index_error
    from indices.folder_lock import check_unlocked

    folder = settings.embedded_folder(home)
    if not create and not folder.is_dir():
        raise missing_index_error(folder)
    check_unlocked(folder)


def open_index(settings: IndexSettings, identity: EmbedderIdentity, home: Path, create: bool) -> VectorIndex:
    """Open (and with `create=True`, create if missing) the configured index.

    Raises the `indices.errors` types: `IndexNotFoundError` (create=False and nothing there),
    `IndexLockedError`, `IndexCorruptError`, `EmbedderMismatchError`, `IndexUnavailableError`.
    """
    try:
        factory = BACKENDS[settings.backend]
    except KeyError:
        raise ValueError(
            f"unknown index backend {settings.backend!r}; choose one of {sorted(BACKENDS)}"
        ) from None
    logger.debug("opening %s index (collection %s)", settings.backend, settings.collection)
    return factory(settings, identity, home, create)
