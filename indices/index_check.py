"""Integrity check of a stored index: can every payload be decoded, is every dense vector sane.

Found by fault injection (issue 10, item 5): random bytes in a segment's payload storage made every search
fail while the service said it was ready; random bytes in its vector storage gave NaN or non-unit vectors
and silently wrong rankings. What is checked, per point:

* the payload decodes and carries the fields ingestion writes (`doc_id` text, `chunk_no` integer, `text`);
* the dense vector has the embedder's dimension, only finite numbers, and unit norm: the collection uses
  cosine distance, for which Qdrant stores vectors normalised (and e5 embeddings are unit-norm anyway),
  so any other norm means the bytes changed on disk;
* the points read equal the points counted;
* the backend's own metadata (the embedded adapter: every segment's `segment.json` and `version.info`).

`quick=True` reads the metadata and the first `sample` points only (milliseconds: run when the index is
opened and by `/readyz`); `govrag index check` reads everything.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

#: How far a stored dense vector's norm may be from 1 before it counts as damaged.
NORM_TOLERANCE = 1e-3
#: Points read by the quick check.
QUICK_SAMPLE = 64
#: Problems listed before the rest are only counted.
MAX_LISTED = 20

#: (point id, payload, dense vector or None) as read by an adapter.
ScannedPoint = tuple[str, dict[str, Any], Sequence[float] | None]
#: `scan(offset, limit)` -> (points, next offset or None)
Scanner = Callable[[Any, int], tuple[list[ScannedPoint], Any]]


@dataclass(slots=True)
class IndexCheckReport:
    """The outcome of a check: how much was read and what was wrong (empty `problems` = healthy)."""

    quick: bool
    points_counted: int = 0
    points_checked: int = 0
    problems: list[str] = field(default_factory=list)
    more_problems: int = 0

    @property
    def ok(self) -> bool:
        """True when nothing was found wrong."""
        return not self.problems

    def add(self, problem: str) -> None:
        """Record a problem (the first `MAX_LISTED` are kept verbatim, the rest counted)."""
        if len(self.problems) < MAX_LISTED:
            self.problems.append(problem)
        else:
            self.more_problems += 1

    def summary(self) -> str:
        """One line: healthy, or the first problem and how many more."""
        if self.ok:
            return f"ok: {self.points_checked} of {self.points_counted} points checked"
        extra = len(self.problems) - 1 + self.more_problems
        return self.problems[0] + (f" (and {extra} more problems)" if extra else "")

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form (`govrag index check --json`)."""
        return {
            "ok": self.ok,
            "quick": self.quick,
            "points_counted": self.points_counted,
            "points_checked": self.points_checked,
            "problems": list(self.problems),
            "more_problems": self.more_problems,
        }


def check_point(pid: str, payload: dict[str, Any], dense: Sequence[float] | None, dim: int) -> list[str]:
    """What is wrong with one stored point (empty when nothing)."""
    out: list[str] = []
    if not isinstance(payload.get("doc_id"), str) or not payload.get("doc_id"):
        out.append(f"point {pid}: payload has no document id")
    if not isinstance(payload.get("chunk_no"), int):
        out.append(f"point {pid}: payload has no integer chunk_no")
    if not isinstance(payload.get("text"), str):
        out.append(f"point {pid}: payload has no text")
    if dense is None:
        out.append(f"point {pid}: no dense vector stored")
        return out
    if len(dense) != dim:
        out.append(f"point {pid}: dense vector has {len(dense)} dimensions, expected {dim}")
        return out
    if not all(math.isfinite(x) for x in dense):
        out.append(f"point {pid}: dense vector holds NaN or infinite values")
        return out
    norm = math.sqrt(sum(x * x for x in dense))
    if abs(norm - 1.0) > NORM_TOLERANCE:
        out.append(f"point {pid}: dense vector norm is {norm:.4f}, expected 1 (cosine vectors are unit-norm)")
    return out


def run_check(
    scan: Scanner,
    count: Callable[[], int],
    dim: int,
    metadata_problems: Iterable[str] = (),
    *,
    quick: bool,
    sample: int = QUICK_SAMPLE,
    page: int = 256,
) -> IndexCheckReport:
    """Check an index through its adapter's `scan` and `count` primitives (see the module docstring)."""
    report = IndexCheckReport(quick=quick)
    for problem in metadata_problems:
        report.add(problem)
    try:
        report.points_counted = count()
    except Exception as exc:  # the backend's own error type varies: report it, never crash the check
        report.add(f"the points cannot be counted: {exc}")
        return report
    offset: Any = None
    while True:
        limit = min(page, sample - report.points_checked) if quick else page
        if limit <= 0:
            break
        try:
            points, offset = scan(offset, limit)
        except Exception as exc:
            report.add(f"stored points cannot be read after {report.points_checked} points: {exc}")
            return report
        for pid, payload, dense in points:
            for problem in check_point(pid, payload, dense, dim):
                report.add(problem)
        report.points_checked += len(points)
        if offset is None:
            break
    complete = offset is None
    if complete and report.points_checked != report.points_counted:
        report.add(f"{report.points_counted} points counted but {report.points_checked} read")
    return report
