"""Which version of a document is in force, decided at query time from the series keys in the index.

Every chunk carries its document's series keys and effective date (`ingest.series`); nothing about
*other* documents is stored with it. Given the retrieved hits, `VersionResolver` asks the index for every
document sharing a key with them (`VectorIndex.versions`, under the caller's access groups) and decides,
for the date asked about (`as_of`, else now):

* version B supersedes version A when B names A in `supersedes`, or both have an effective date and B's
  is later; B only counts once it has taken effect (no effective date: always);
* the version in force is the latest one that has taken effect and that no other one supersedes; two
  versions effective the same day (translations) are both in force;
* a version that takes effect after the date asked about is not in force yet when an older one is.

A hit that is not in force is replaced by the version in force: fetched with the same query vectors when
it was not retrieved, and moved up to the rank of the hit it replaces. The old hit is dropped
(`versions.superseded = "drop"`, the default) or moved after every version in force ("demote"). When the
version in force cannot be shown (the caller's filters exclude it), the old hit stays, marked.

Deciding at query time means ingest order does not matter, and deleting or pruning the newer version puts
the older one back in force with no write to it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from indices.schema import DocumentVersion, Hit, SearchFilter
from indices.vector_index import VectorIndex

logger = logging.getLogger(__name__)


class VersionSettings(BaseModel):
    """How retrieval treats superseded document versions (section `versions`)."""

    enabled: bool = Field(default=True, description="Prefer the version of a document series in force.")
    superseded: Literal["drop", "demote"] = Field(
        default="drop",
        description="What happens to a retrieved version that is not in force when the version in force is "
        "shown instead: dropped, or kept after every version in force (marked superseded).",
    )


@dataclass(slots=True, frozen=True)
class VersionNote:
    """What retrieval found out about one document's version."""

    doc_id: str
    effective_from: float | None
    in_force: bool = True
    #: The version in force in this one's place (None when this one is in force).
    replaced_by: str | None = None
    #: When `replaced_by` took effect (None: it states no date).
    replaced_at: float | None = None
    #: True when a newer version replaced this one (False for a version not in force *yet*).
    superseded: bool = False


def as_of_timestamp(day: date | None) -> float | None:
    """The end of `day` (UTC) as a timestamp: a version effective that day is in force on it."""
    if day is None:
        return None
    return datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=UTC).timestamp()


def _newer(a: DocumentVersion, b: DocumentVersion) -> bool:
    """Does `a` supersede `b` (ignoring when `a` takes effect)?"""
    if b.doc_id in a.supersedes:
        return True
    if a.doc_id in b.supersedes:
        return False
    return (
        a.effective_from is not None and b.effective_from is not None and a.effective_from > b.effective_from
    )


def _started(v: DocumentVersion, at: float) -> bool:
    return v.effective_from is None or v.effective_from <= at


def in_force(group: Sequence[DocumentVersion], at: float) -> list[DocumentVersion]:
    """The versions of `group` in force at `at`: taken effect, and superseded by none that has."""
    live = [m for m in group if _started(m, at)]
    return [m for m in live if not any(_newer(o, m) for o in live if o.doc_id != m.doc_id)]


def note_for(doc: DocumentVersion, members: Sequence[DocumentVersion], at: float) -> VersionNote:
    """The status of `doc` at `at` among `members` (the documents sharing a series key with it)."""
    group = {m.doc_id: m for m in members}
    group[doc.doc_id] = doc
    current = in_force(list(group.values()), at)
    if not current or any(m.doc_id == doc.doc_id for m in current):
        return VersionNote(doc.doc_id, doc.effective_from)
    best = max(current, key=lambda m: (m.effective_from or float("-inf"), m.doc_id))
    return VersionNote(
        doc.doc_id,
        doc.effective_from,
        in_force=False,
        replaced_by=best.doc_id,
        replaced_at=best.effective_from,
        superseded=_started(doc, at),
    )


#: Searches the index again for the best chunk of each of these documents (same query vectors).
Fetch = Callable[[list[str]], list[Hit]]


@dataclass(slots=True)
class Resolved:
    """Hits after version resolution, with a note per document shown."""

    hits: list[Hit]
    notes: dict[str, VersionNote]


class VersionResolver:
    """Applies `VersionSettings` to retrieved hits (module docstring)."""

    def __init__(self, settings: VersionSettings, index: VectorIndex) -> None:
        self.settings = settings
        self.index = index

    def resolve(
        self, hits: list[Hit], flt: SearchFilter, at: float | None, fetch: Fetch, limit: int
    ) -> Resolved:
        """Replace hits not in force at `at` (None: now) by the version in force; at most `limit` hits."""
        keys = [k for h in hits for k in h.record.series]
        if not self.settings.enabled or not keys:
            return Resolved(hits[:limit], {})
        when = at if at is not None else datetime.now(UTC).timestamp()
        members = self.index.versions(keys, SearchFilter(groups=flt.groups))
        notes: dict[str, VersionNote] = {}
        for h in hits:
            rec = h.record
            if rec.doc_id in notes:
                continue
            me = next(
                (m for m in members if m.doc_id == rec.doc_id),
                DocumentVersion(rec.doc_id, rec.title, rec.series, rec.effective_from, []),
            )
            related = [m for m in members if set(me.series) & set(m.series)]
            notes[rec.doc_id] = note_for(me, related, when)
        wanted = {n.replaced_by for n in notes.values() if n.replaced_by and n.replaced_by not in notes}
        allowed = sorted(
            d
            for d in wanted
            if (not flt.doc_ids or d in flt.doc_ids) and d not in (flt.exclude_doc_ids or [])
        )
        fetched: dict[str, Hit] = {}
        for h in fetch(allowed) if allowed else []:
            fetched.setdefault(h.record.doc_id, h)
        for d, h in fetched.items():
            notes[d] = VersionNote(d, h.record.effective_from)
        return self._order(hits, notes, fetched, limit)

    def _order(
        self, hits: list[Hit], notes: dict[str, VersionNote], fetched: dict[str, Hit], limit: int
    ) -> Resolved:
        """Each version in force takes the best rank of the hits it replaces; replaced hits are dropped or
        moved to the end (`superseded`)."""
        best: dict[str, Hit] = {}
        for h in hits:
            best.setdefault(h.record.doc_id, h)
        for d, h in fetched.items():
            best.setdefault(d, h)
        shown: list[Hit] = []
        tail: list[Hit] = []
        placed: set[int] = set()
        for h in hits:
            if id(h) in placed:
                continue
            note = notes[h.record.doc_id]
            instead = best.get(note.replaced_by or "")
            if note.in_force or instead is None:
                shown.append(h)  # in force, or nothing in force can be shown in its place: kept, marked
                placed.add(id(h))
                continue
            if id(instead) not in placed:
                shown.append(instead)
                placed.add(id(instead))
            if self.settings.superseded == "demote":
                tail.append(h)
        out = (shown + tail)[:limit]
        kept = {h.record.doc_id for h in out}
        logger.debug("versions: %d hits -> %d (%d replaced)", len(hits), len(out), len(tail))
        return Resolved(out, {d: n for d, n in notes.items() if d in kept})
