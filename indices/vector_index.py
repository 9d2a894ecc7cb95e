"""The vector-index port: what `ingest` and `rag` need from a Qdrant backend.

Adapters: `indices.edge_index.EdgeIndex` (embedded Qdrant Edge, the default) and
`indices.server_index.ServerIndex` (qdrant-client against a server, a cluster or ":memory:").
Both pass the same contract suite (tests/test_index_contract.py).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol, runtime_checkable

from indices.index_check import IndexCheckReport
from indices.schema import (
    ChunkRecord,
    DocumentState,
    DocumentSummary,
    DocumentVersion,
    EmbedderIdentity,
    Hit,
    IndexPoint,
    SearchFilter,
    SearchQuery,
)


@runtime_checkable
class VectorIndex(Protocol):
    """A collection of chunks with a named dense vector ("dense", cosine) and a named sparse BM25
    vector ("bm25", IDF modifier), plus payload indexes on the filter fields."""

    @property
    def identity(self) -> EmbedderIdentity:
        """The embedder the index was built with."""
        ...

    def upsert(self, points: Sequence[IndexPoint]) -> None:
        """Insert or overwrite points (ids are deterministic per document and chunk number)."""
        ...

    def delete_documents(self, doc_ids: Sequence[str]) -> None:
        """Remove every chunk of the given documents."""
        ...

    def delete_stale_chunks(self, doc_id: str, content_hash: str) -> None:
        """Remove the chunks of `doc_id` that belong to another version than `content_hash`."""
        ...

    def document_states(self, doc_ids: Sequence[str]) -> dict[str, DocumentState]:
        """What is stored for each of these documents (absent ones are left out)."""
        ...

    def iter_documents(self, flt: SearchFilter | None = None) -> Iterator[DocumentSummary]:
        """Every document (one summary each, from its first chunk), optionally filtered."""
        ...

    def versions(self, series: Sequence[str], flt: SearchFilter | None = None) -> list[DocumentVersion]:
        """Every document visible under `flt` carrying any of these series keys (from its first chunk),
        in doc-id order: the versions of the series, for `rag.versions` to tell which one is in force."""
        ...

    def count_documents(self, flt: SearchFilter | None = None) -> int:
        """Number of distinct documents."""
        ...

    def count_chunks(self, flt: SearchFilter | None = None) -> int:
        """Number of stored chunks."""
        ...

    def get_chunks(self, doc_id: str) -> list[ChunkRecord]:
        """All chunks of one document in chunk order."""
        ...

    def search(self, query: SearchQuery) -> list[Hit]:
        """Filtered dense, BM25 or hybrid (RRF) search."""
        ...

    def check(self, quick: bool = True) -> IndexCheckReport:
        """Integrity check of the stored points (`indices.index_check`); `quick` reads the first few."""
        ...

    def optimize(self) -> None:
        """Build or refresh the HNSW index after a bulk load."""
        ...

    def close(self) -> None:
        """Flush and release the index (and its folder lock)."""
        ...
