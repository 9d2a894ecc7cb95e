"""Records that cross the index port: what is stored per chunk, what a search returns, how to filter.

Plain dataclasses (not pydantic) because ingestion builds hundreds of thousands of them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

#: Namespace for deterministic point ids: the same (document, chunk number) always maps to the same
#: point, so a re-run after a crash overwrites instead of duplicating.
POINT_NAMESPACE = uuid.UUID("6f1c2b9e-3a57-4d0e-9b7c-0f5a8d3e2c41")

#: Payload fields that carry a keyword/integer/float payload index (the fields we filter on).
KEYWORD_FIELDS = ("doc_id", "lang", "agency", "groups", "content_hash", "source", "root", "series")
INTEGER_FIELDS = ("chunk_no",)
FLOAT_FIELDS = ("ingested_at", "doc_date", "effective_from")


def point_id(doc_id: str, chunk_no: int) -> str:
    """The stable point id of chunk `chunk_no` of document `doc_id`."""
    return str(uuid.uuid5(POINT_NAMESPACE, f"{doc_id}\x1f{chunk_no}"))


@dataclass(slots=True)
class SparseVec:
    """A sparse vector: parallel lists of term ids and weights."""

    indices: list[int]
    values: list[float]


@dataclass(slots=True)
class ChunkRecord:
    """One chunk as stored in the index: its text, its provenance and its access control.

    `content_hash` is the hash of the whole *document* version this chunk came from and `n_chunks`
    the number of chunks of that version: together they let ingestion tell a complete, current
    document from a stale or half-written one without any state outside the index.
    """

    doc_id: str
    chunk_no: int
    text: str
    title: str = ""
    source: str = ""
    page: int | None = None
    section: list[str] = field(default_factory=list)
    lang: str = "und"
    agency: str = ""
    groups: list[str] = field(default_factory=lambda: ["public"])
    content_hash: str = ""
    n_chunks: int = 1
    ingested_at: float = 0.0
    doc_date: float | None = None
    #: Where the document was found: the `file://` URI of the resolved source folder (or of the file or
    #: export given directly), or "urls"; `govrag ingest --prune` only removes documents of exactly the
    #: roots it was given, and a document id belongs to one root (ingest.sources).
    root: str = ""
    #: Keys of the document series this document is a version of (`ingest.series`); documents sharing a
    #: key are versions of each other, the one with the latest `effective_from` supersedes the others.
    series: list[str] = field(default_factory=list)
    #: When this version takes effect (UTC midnight timestamp): its effective-from date, else its issue date.
    effective_from: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def point_id(self) -> str:
        """The deterministic id of this chunk's point."""
        return point_id(self.doc_id, self.chunk_no)

    def payload(self) -> dict[str, Any]:
        """The payload dictionary stored with the point."""
        out: dict[str, Any] = {
            "doc_id": self.doc_id,
            "chunk_no": self.chunk_no,
            "text": self.text,
            "title": self.title,
            "source": self.source,
            "page": self.page,
            "section": list(self.section),
            "lang": self.lang,
            "agency": self.agency,
            "groups": list(self.groups),
            "content_hash": self.content_hash,
            "n_chunks": self.n_chunks,
            "ingested_at": self.ingested_at,
            "root": self.root,
        }
        if self.doc_date is not None:
            out["doc_date"] = self.doc_date
        if self.series:
            out["series"] = list(self.series)
        if self.effective_from is not None:
            out["effective_from"] = self.effective_from
        if self.extra:
            out["extra"] = dict(self.extra)
        return out

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> ChunkRecord:
        """Rebuild a record from a stored payload (unknown keys are ignored)."""
        return cls(
            doc_id=str(payload["doc_id"]),
            chunk_no=int(payload["chunk_no"]),
            text=str(payload.get("text", "")),
            title=str(payload.get("title", "")),
            source=str(payload.get("source", "")),
            page=payload.get("page"),
            section=list(payload.get("section") or []),
            lang=str(payload.get("lang", "und")),
            agency=str(payload.get("agency", "")),
            groups=list(payload.get("groups") or []),
            content_hash=str(payload.get("content_hash", "")),
            n_chunks=int(payload.get("n_chunks", 1)),
            ingested_at=float(payload.get("ingested_at", 0.0)),
            doc_date=payload.get("doc_date"),
            root=str(payload.get("root", "")),
            series=[str(k) for k in payload.get("series") or []],
            effective_from=payload.get("effective_from"),
            extra=dict(payload.get("extra") or {}),
        )


@dataclass(slots=True)
class IndexPoint:
    """A chunk with its vectors, ready to upsert."""

    record: ChunkRecord
    dense: list[float]
    sparse: SparseVec


class SearchMode(StrEnum):
    """Which retrieval signal(s) a search uses."""

    HYBRID = "hybrid"
    DENSE = "dense"
    BM25 = "bm25"


@dataclass(slots=True)
class SearchFilter:
    """Conditions every returned chunk must meet; `None`/empty means "no condition".

    `groups` is the caller's access groups: a chunk is visible when it shares at least one group
    with the caller. `groups=None` means unrestricted (admin/internal use only); an empty list
    means the caller may see nothing.
    """

    agencies: list[str] | None = None
    langs: list[str] | None = None
    doc_ids: list[str] | None = None
    exclude_doc_ids: list[str] | None = None
    groups: list[str] | None = None
    date_from: float | None = None
    date_to: float | None = None
    roots: list[str] | None = None


@dataclass(slots=True)
class SearchQuery:
    """A query's vectors plus how to run it."""

    dense: list[float] | None
    sparse: SparseVec | None
    limit: int = 10
    mode: SearchMode = SearchMode.HYBRID
    filter: SearchFilter = field(default_factory=SearchFilter)
    #: Return at most one chunk per document (the best one).
    one_per_doc: bool = True
    #: Candidates drawn from each signal before fusion.
    prefetch: int = 50
    #: Use exact (brute-force) dense search instead of HNSW.
    exact: bool = False


@dataclass(slots=True)
class Hit:
    """One search result: a stored chunk and its score (fused rank score for hybrid)."""

    record: ChunkRecord
    score: float
    id: str = ""


@dataclass(slots=True)
class DocumentState:
    """What the index holds for one document: used to decide skip / replace / repair."""

    doc_id: str
    content_hashes: set[str]
    n_points: int
    n_chunks_expected: int
    #: The roots and agencies its stored chunks carry (one each unless something went wrong).
    roots: set[str] = field(default_factory=set)
    agencies: set[str] = field(default_factory=set)

    @property
    def complete_hash(self) -> str | None:
        """The document's content hash when it is stored exactly once and completely, else None."""
        if len(self.content_hashes) == 1 and self.n_points == self.n_chunks_expected:
            return next(iter(self.content_hashes))
        return None


@dataclass(slots=True)
class DocumentSummary:
    """A document as listed by the index."""

    doc_id: str
    title: str
    source: str
    lang: str
    agency: str
    groups: list[str]
    n_chunks: int
    content_hash: str
    ingested_at: float
    root: str = ""


@dataclass(slots=True)
class DocumentVersion:
    """One version of a document series as stored (from its first chunk): what version resolution needs.

    `supersedes` lists the document ids this one explicitly replaces (an export's `supersedes` field)."""

    doc_id: str
    title: str
    series: list[str]
    effective_from: float | None
    supersedes: list[str] = field(default_factory=list)


@dataclass(slots=True)
class EmbedderIdentity:
    """Who made the dense vectors: an index refuses to be opened with a different embedder."""

    name: str
    dim: int
    fingerprint: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form, stored in the index metadata."""
        return {"name": self.name, "dim": self.dim, "fingerprint": self.fingerprint}
