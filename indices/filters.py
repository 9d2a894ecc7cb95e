"""Payload filters shared by both Qdrant adapters.

A `SearchFilter` (and the adapters' internal needs: one document, "not this content hash") is first
turned into a backend-neutral `FilterSpec`, then translated to the filter class of the backend:
`qdrant_edge.Filter` for the embedded adapter, `qdrant_client.models.Filter` for the server adapter.
Keeping the semantics in `build_spec` means both adapters filter identically, and every condition is
applied inside Qdrant's query (before top-k), never on the results.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from indices.schema import FLOAT_FIELDS, INTEGER_FIELDS, KEYWORD_FIELDS, SearchFilter

#: Payload fields read when only document bookkeeping is needed (no chunk text).
STATE_FIELDS = ["doc_id", "content_hash", "n_chunks", "chunk_no", "root", "agency"]
SUMMARY_FIELDS = [
    "doc_id",
    "chunk_no",
    "title",
    "source",
    "lang",
    "agency",
    "groups",
    "n_chunks",
    "content_hash",
    "ingested_at",
    "root",
]
#: Payload fields read to resolve document versions (`QdrantIndexBase.versions`).
VERSION_FIELDS = ["doc_id", "title", "series", "effective_from", "extra"]

#: Fields that search filters use: only these get payload-aware HNSW links (extra graph edges per
#: value so a filtered graph search stays connected). The other indexed fields serve bookkeeping
#: (doc_id, content_hash, root...) with small or unselective sets where exact scans are cheaper, and
#: building links for them would multiply the HNSW build time.
SEARCH_FILTER_FIELDS = frozenset({"agency", "lang", "groups", "doc_date"})


def payload_index_plan() -> list[tuple[str, str, bool]]:
    """(field, "keyword" | "integer" | "float", payload-aware HNSW links?) for every indexed field."""
    kinds = (
        *((f, "keyword") for f in KEYWORD_FIELDS),
        *((f, "integer") for f in INTEGER_FIELDS),
        *((f, "float") for f in FLOAT_FIELDS),
    )
    return [(name, kind, name in SEARCH_FILTER_FIELDS) for name, kind in kinds]


@dataclass(frozen=True, slots=True)
class Cond:
    """One payload condition: `key` matches any of `values`, or lies in [`gte`, `lte`]."""

    key: str
    values: tuple[str | int, ...] | None = None
    gte: float | None = None
    lte: float | None = None


@dataclass(slots=True)
class FilterSpec:
    """A conjunction of conditions plus negated ones; `matches_nothing` short-circuits queries.

    `matches_nothing` is set when the caller may see no chunk at all (an empty access-group list, or
    an empty list of documents to act on): adapters then return empty results without asking Qdrant.
    """

    must: list[Cond] = field(default_factory=list)
    must_not: list[Cond] = field(default_factory=list)
    matches_nothing: bool = False

    @property
    def is_empty(self) -> bool:
        """True when the spec puts no condition on the points."""
        return not self.must and not self.must_not and not self.matches_nothing

    def and_(self, other: FilterSpec) -> FilterSpec:
        """The conjunction of two specs."""
        return FilterSpec(
            must=[*self.must, *other.must],
            must_not=[*self.must_not, *other.must_not],
            matches_nothing=self.matches_nothing or other.matches_nothing,
        )


def build_spec(flt: SearchFilter | None) -> FilterSpec:
    """Translate a `SearchFilter` into a `FilterSpec` (see `SearchFilter` for the semantics).

    Empty lists mean "no condition", except `groups=[]`: a caller without any group sees nothing.
    """
    spec = FilterSpec()
    if flt is None:
        return spec
    for key, values in (
        ("agency", flt.agencies),
        ("lang", flt.langs),
        ("doc_id", flt.doc_ids),
        ("root", flt.roots),
    ):
        if values:
            spec.must.append(Cond(key, values=tuple(dict.fromkeys(values))))
    if flt.groups is not None:
        if flt.groups:
            spec.must.append(Cond("groups", values=tuple(dict.fromkeys(flt.groups))))
        else:
            spec.matches_nothing = True
    if flt.exclude_doc_ids:
        spec.must_not.append(Cond("doc_id", values=tuple(dict.fromkeys(flt.exclude_doc_ids))))
    if flt.date_from is not None or flt.date_to is not None:
        spec.must.append(Cond("doc_date", gte=flt.date_from, lte=flt.date_to))
    return spec


def docs_spec(doc_ids: list[str]) -> FilterSpec:
    """Points of any of these documents."""
    return FilterSpec(must=[Cond("doc_id", values=tuple(doc_ids))], matches_nothing=not doc_ids)


def stale_spec(doc_id: str, content_hash: str) -> FilterSpec:
    """Points of `doc_id` that belong to a version other than `content_hash`."""
    return FilterSpec(
        must=[Cond("doc_id", values=(doc_id,))],
        must_not=[Cond("content_hash", values=(content_hash,))],
    )


def versions_spec(series: list[str]) -> FilterSpec:
    """The first chunk of every document carrying any of these series keys (one point per document)."""
    return FilterSpec(
        must=[Cond("series", values=tuple(series)), Cond("chunk_no", values=(0,))],
        matches_nothing=not series,
    )


def exclude_docs_spec(doc_ids: list[str]) -> FilterSpec:
    """Points of none of these documents (used to page through one-chunk-per-document results)."""
    return FilterSpec(must_not=[Cond("doc_id", values=tuple(doc_ids))]) if doc_ids else FilterSpec()


# ---------------------------------------------------------------------------------------- translators


def to_edge_filter(spec: FilterSpec) -> Any:
    """The `qdrant_edge.Filter` for `spec` (None when it has no condition)."""
    if not spec.must and not spec.must_not:
        return None
    import qdrant_edge as qe

    def cond(c: Cond) -> Any:
        if c.values is not None:
            values = list(c.values)
            match = qe.MatchValue(values[0]) if len(values) == 1 else qe.MatchAny(values)  # type: ignore[arg-type]
            return qe.FieldCondition(c.key, match=match)
        return qe.FieldCondition(c.key, range=qe.RangeFloat(gte=c.gte, lte=c.lte))

    return qe.Filter(
        must=[cond(c) for c in spec.must] or None,
        must_not=[cond(c) for c in spec.must_not] or None,
    )


def to_client_filter(spec: FilterSpec) -> Any:
    """The `qdrant_client.models.Filter` for `spec` (None when it has no condition)."""
    if not spec.must and not spec.must_not:
        return None
    from qdrant_client import models

    def cond(c: Cond) -> Any:
        if c.values is not None:
            values = list(c.values)
            match: Any = (
                models.MatchValue(value=values[0]) if len(values) == 1 else models.MatchAny(any=values)  # type: ignore[arg-type]
            )
            return models.FieldCondition(key=c.key, match=match)
        return models.FieldCondition(key=c.key, range=models.Range(gte=c.gte, lte=c.lte))

    return models.Filter(
        must=[cond(c) for c in spec.must] or None,
        must_not=[cond(c) for c in spec.must_not] or None,
    )
