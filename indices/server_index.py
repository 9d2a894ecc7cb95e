"""The server adapter: qdrant-client against a Qdrant server or cluster (or ":memory:" in tests).

The embedder identity is stored in the collection's metadata (`{"govrag": {"embedder": ...}}`,
supported by qdrant-client 1.20 and servers >= 1.16). Collections created by older servers without
metadata are accepted when their dense dimension matches, and the metadata is then added.
Shard count, replication and write consistency apply when this adapter creates the collection.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from indices import index_base as base
from indices.errors import IndexCorruptError, IndexLayoutError, IndexNotFoundError, IndexUnavailableError
from indices.filters import FilterSpec, payload_index_plan, to_client_filter
from indices.index_base import BM25, DENSE, QdrantIndexBase, RawHit, check_identity, identity_from_dict
from indices.index_check import ScannedPoint
from indices.registry import IndexSettings
from indices.schema import (
    EmbedderIdentity,
    IndexPoint,
    SparseVec,
)

logger = logging.getLogger(__name__)

META_KEY = "govrag"
FORMAT_VERSION = 1


def _client_lib() -> Any:
    """The qdrant_client package, imported on first use."""
    return base.import_backend(
        "qdrant_client",
        "the server index needs qdrant-client: pip install qdrant-client==1.20.0 "
        "(or set index.backend='embedded')",
    )


@contextmanager
def _guard(url: str) -> Iterator[None]:
    """Turn transport and authorisation failures into `IndexUnavailableError` naming the server."""
    from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

    try:
        yield
    except UnexpectedResponse as exc:
        if exc.status_code in (401, 403):
            raise IndexUnavailableError(
                f"The Qdrant server at {url} refused the request ({exc.status_code}): set index.api_key "
                "to a valid API key."
            ) from exc
        raise
    except (ResponseHandlingException, ConnectionError, TimeoutError) as exc:
        raise IndexUnavailableError(
            f"Cannot reach the Qdrant server at {url} ({exc}). Check that it is running and that "
            "index.url, index.https and index.api_key are right, or use index.backend='embedded'."
        ) from exc


def _sparse(vec: SparseVec) -> Any:
    from qdrant_client import models

    return base.sparse_vector(models.SparseVector, vec)


class ServerIndex(QdrantIndexBase):
    """A `VectorIndex` on one collection of a Qdrant server (or qdrant-client local mode)."""

    def __init__(
        self, client: Any, collection: str, identity: EmbedderIdentity, settings: IndexSettings, where: str
    ) -> None:
        """Wrap a client whose collection exists; use `connect` or `attach` to open one."""
        super().__init__(identity, settings)
        self._client: Any = client
        self.collection = collection
        self.where = where
        options = getattr(client, "init_options", {}) or {}
        self._local = bool(options.get("path")) or options.get("location") == ":memory:"
        self._optimize_timeout_s = max(60.0, settings.timeout_s)

    # ------------------------------------------------------------------ lifecycle

    @classmethod
    def connect(cls, settings: IndexSettings, identity: EmbedderIdentity, *, create: bool) -> ServerIndex:
        """Connect to `settings.url` (":memory:" = in-process) and open or create the collection."""
        lib = _client_lib()
        if settings.url == ":memory:":
            client = lib.QdrantClient(location=":memory:")
        else:
            client = lib.QdrantClient(
                url=settings.url,
                api_key=settings.api_key.get_secret_value() if settings.api_key else None,
                https=settings.https,
                timeout=math.ceil(settings.timeout_s),
                verify=settings.verify_tls,
                check_compatibility=False,
            )
        return cls.attach(client, settings, identity, create=create, where=settings.url)

    @classmethod
    def attach(
        cls, client: Any, settings: IndexSettings, identity: EmbedderIdentity, *, create: bool, where: str
    ) -> ServerIndex:
        """Open (or create) `settings.collection` through an existing client (e.g. local mode)."""
        name = settings.collection
        label = f"Collection {name!r} on {where}"
        with _guard(where):
            if not client.collection_exists(name):
                if not create:
                    raise IndexNotFoundError(
                        f"{label} does not exist: run `govrag ingest` first (or check index.collection)."
                    )
                cls._create(client, settings, identity)
            else:
                cls._check(client, name, identity, label)
                check_layout(client.get_collection(name).config.params, settings, label)
            index = cls(client, name, identity, settings, where)
            cls._ensure_payload_indexes(client, name, index._local)
        return index

    @staticmethod
    def _create(client: Any, settings: IndexSettings, identity: EmbedderIdentity) -> None:
        from qdrant_client import models

        client.create_collection(
            settings.collection,
            vectors_config={
                DENSE: models.VectorParams(
                    size=identity.dim, distance=models.Distance.COSINE, on_disk=settings.vectors_on_disk
                )
            },
            sparse_vectors_config={BM25: models.SparseVectorParams(modifier=models.Modifier.IDF)},
            hnsw_config=models.HnswConfigDiff(**base.hnsw_options(settings)),
            quantization_config=(
                models.ScalarQuantization(
                    scalar=models.ScalarQuantizationConfig(
                        type=models.ScalarType.INT8, quantile=0.99, always_ram=True
                    )
                )
                if settings.quantization == "int8"
                else None
            ),
            shard_number=settings.shards,
            replication_factor=settings.replication,
            write_consistency_factor=settings.write_consistency,
            on_disk_payload=settings.on_disk_payload,
            metadata={META_KEY: {"format": FORMAT_VERSION, "embedder": identity.as_dict()}},
        )
        logger.info("created collection %s (dim %d)", settings.collection, identity.dim)

    @staticmethod
    def _ensure_payload_indexes(client: Any, name: str, local: bool) -> None:
        """Create the missing payload indexes (all on creation; after a crash or a schema change, some).

        Skipped in local mode, which ignores payload indexes (and warns about them)."""
        from qdrant_client import models

        if local:
            return
        existing = set(client.get_collection(name).payload_schema or {})
        for field, kind, hnsw in payload_index_plan():
            if field in existing:
                continue
            schema: Any
            if kind == "keyword":
                schema = models.KeywordIndexParams(type=models.KeywordIndexType.KEYWORD, enable_hnsw=hnsw)
            elif kind == "integer":
                schema = models.IntegerIndexParams(
                    type=models.IntegerIndexType.INTEGER, lookup=True, range=True, enable_hnsw=hnsw
                )
            else:
                schema = models.FloatIndexParams(type=models.FloatIndexType.FLOAT, enable_hnsw=hnsw)
            client.create_payload_index(name, field, field_schema=schema, wait=True)

    @staticmethod
    def _check(client: Any, name: str, identity: EmbedderIdentity, label: str) -> None:
        config = client.get_collection(name).config
        fix = "a new collection (change index.collection), or delete this collection first"
        meta = (config.metadata or {}).get(META_KEY)
        stored = identity_from_dict(meta.get("embedder") if isinstance(meta, dict) else None)
        if stored is not None:
            check_identity(stored, identity, label, fix)
            return
        vectors = config.params.vectors
        dense = vectors.get(DENSE) if isinstance(vectors, dict) else None
        if dense is None:
            raise IndexCorruptError(
                f"{label} exists but was not created by govrag (no '{DENSE}' vector): choose another "
                "index.collection, or delete this collection and re-run `govrag ingest`."
            )
        if int(dense.size) != identity.dim:
            stored = EmbedderIdentity("unknown (no metadata)", int(dense.size), "unknown")
            check_identity(stored, identity, label, fix)
        logger.warning("%s has no embedder metadata; recording %s", label, identity.name)
        client.update_collection(
            name, metadata={META_KEY: {"format": FORMAT_VERSION, "embedder": identity.as_dict()}}
        )

    def create_snapshot(self) -> str:
        """Ask the server for a snapshot of the collection (on every node that holds a shard of it); returns
        the snapshot's name, to be recovered with Qdrant's `recover_snapshot`."""
        with _guard(self.where):
            made = self._client.create_snapshot(collection_name=self.collection, wait=True)
        if made is None:
            raise IndexUnavailableError(f"{self.where} made no snapshot of {self.collection!r}")
        return str(made.name)

    def optimize(self) -> None:
        """Wait until the server's background optimizer has indexed the collection (status green)."""
        deadline = time.monotonic() + self._optimize_timeout_s
        with _guard(self.where):
            while True:
                status = str(self._client.get_collection(self.collection).status).lower()
                if status.endswith("green") or time.monotonic() > deadline:
                    logger.info("collection %s status: %s", self.collection, status)
                    return
                time.sleep(0.5)

    def close(self) -> None:
        """Close the client connection (idempotent)."""
        if self._client is not None:
            client, self._client = self._client, None
            client.close()

    # ------------------------------------------------------------------ primitives

    def _upsert_batch(self, points: Sequence[IndexPoint]) -> None:
        from qdrant_client import models

        batch = [
            models.PointStruct(
                id=p.record.point_id,
                vector={DENSE: list(p.dense), BM25: _sparse(p.sparse)},
                payload=p.record.payload(),
            )
            for p in points
        ]
        with _guard(self.where):
            self._client.upsert(self.collection, points=batch, wait=True)

    def _delete(self, spec: FilterSpec) -> None:
        from qdrant_client import models

        flt = base.delete_filter(spec, to_client_filter)
        if flt is None:
            return
        with _guard(self.where):
            self._client.delete(self.collection, points_selector=models.FilterSelector(filter=flt), wait=True)

    def _count(self, spec: FilterSpec) -> int:
        with _guard(self.where):
            return int(
                self._client.count(self.collection, count_filter=to_client_filter(spec), exact=True).count
            )

    def _scroll(self, spec: FilterSpec, fields: list[str] | None) -> Iterator[dict[str, Any]]:
        flt = to_client_filter(spec)

        def page(offset: Any) -> Any:
            with _guard(self.where):
                return self._client.scroll(
                    self.collection,
                    scroll_filter=flt,
                    limit=base.SCROLL_PAGE,
                    offset=offset,
                    with_payload=base.payload_fields(fields),
                    with_vectors=False,
                )

        yield from base.scroll_payloads(page)

    def _scan(self, offset: Any, limit: int) -> tuple[list[ScannedPoint], Any]:
        with _guard(self.where):
            records, nxt = self._client.scroll(
                self.collection, limit=limit, offset=offset, with_payload=True, with_vectors=[DENSE]
            )
        out: list[ScannedPoint] = []
        for rec in records:
            vectors = rec.vector if isinstance(rec.vector, dict) else {}
            dense = vectors.get(DENSE)
            out.append((str(rec.id), dict(rec.payload or {}), dense if isinstance(dense, list) else None))
        return out, nxt

    def _doc_counts(self, spec: FilterSpec, limit: int) -> dict[str, int]:
        with _guard(self.where):
            res = self._client.facet(
                self.collection,
                "doc_id",
                facet_filter=to_client_filter(spec),
                limit=max(1, limit),
                exact=True,
            )
        return base.facet_counts(res.hits)

    def _retrieve(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        if not ids:
            return {}
        with _guard(self.where):
            records = self._client.retrieve(self.collection, ids, with_payload=True, with_vectors=False)
        return base.payloads_by_id(records)

    def _params(self, exact: bool) -> Any:
        from qdrant_client import models

        if self._local:
            return None  # local mode is always exact brute force and warns about search params
        return self._search_params(models, exact)

    @staticmethod
    def _vector(vector: list[float] | SparseVec) -> Any:
        return _sparse(vector) if isinstance(vector, SparseVec) else vector

    def _nearest(
        self,
        using: str,
        vector: list[float] | SparseVec,
        spec: FilterSpec,
        limit: int,
        exact: bool,
        fields: list[str] | None,
    ) -> list[RawHit]:
        with _guard(self.where):
            res = self._client.query_points(
                self.collection,
                query=self._vector(vector),
                using=using,
                query_filter=to_client_filter(spec),
                search_params=self._params(exact),
                limit=limit,
                with_payload=base.payload_fields(fields),
            )
        return base.raw_hits(res.points)

    def _nearest_per_doc(
        self, using: str, vector: list[float] | SparseVec, spec: FilterSpec, limit: int, exact: bool
    ) -> list[RawHit]:
        """Qdrant's group-by query: the best chunk of each of the top `limit` documents, one call."""
        with _guard(self.where):
            res = self._client.query_points_groups(
                self.collection,
                group_by="doc_id",
                query=self._vector(vector),
                using=using,
                query_filter=to_client_filter(spec),
                search_params=self._params(exact),
                limit=limit,
                group_size=1,
                with_payload=["doc_id"],
            )
        return base.raw_hits(h for g in res.groups for h in g.hits[:1])

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
        from qdrant_client import models

        flt = to_client_filter(spec)
        with _guard(self.where):
            res = self._client.query_points(
                self.collection,
                prefetch=[
                    models.Prefetch(
                        query=dense, using=DENSE, filter=flt, params=self._params(exact), limit=prefetch
                    ),
                    models.Prefetch(query=_sparse(sparse), using=BM25, filter=flt, limit=prefetch),
                ],
                query=models.RrfQuery(rrf=models.Rrf(k=self.rrf_k)),
                query_filter=flt,
                limit=limit,
                with_payload=base.payload_fields(fields),
            )
        return base.raw_hits(res.points)


def check_layout(params: Any, settings: IndexSettings, label: str) -> None:
    """Refuse an existing collection whose cluster layout differs from the settings, saying how to fix it.

    Shards are fixed at creation; replication and write consistency can be changed on a live collection;
    payload/vector storage changes need a new collection. Values the server does not report (local mode
    reports none) are not compared.
    """
    problems: list[str] = []

    def compare(name: str, stored: Any, wanted: Any, fix: str) -> None:
        if stored is not None and stored != wanted:
            problems.append(f"{name} is {stored} there but {wanted} in the settings ({fix})")

    recreate = "set it to match, or ingest into a new index.collection"
    compare("shard_number", params.shard_number, settings.shards, f"fixed at creation: {recreate}")
    live = "set it to match, or change it on the live collection with Qdrant's update_collection"
    compare("replication_factor", params.replication_factor, settings.replication, live)
    compare("write_consistency_factor", params.write_consistency_factor, settings.write_consistency, live)
    compare("on_disk_payload", params.on_disk_payload, settings.on_disk_payload, recreate)
    vectors = params.vectors
    dense = vectors.get(DENSE) if isinstance(vectors, dict) else None
    if dense is not None:
        compare("dense vectors on_disk", bool(dense.on_disk), settings.vectors_on_disk, recreate)
    if problems:
        raise IndexLayoutError(
            f"{label} does not have the layout the settings ask for: " + "; ".join(problems) + "."
        )
