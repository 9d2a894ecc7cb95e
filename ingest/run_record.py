"""Recording an ingestion run in the data directory's run log (`indices.ingest_runs`).

`recorded_run` wraps `Ingestor.run`: the run is written as `running` before the first file is read and
closed however it ends, with the counts and failures found so far, so the operator console shows a run
that stopped on a full disk or a Ctrl-C with what it had done and why it stopped. Recording is best
effort: a run log that cannot be written (read-only data directory) is logged and never fails the ingest.
Dry runs change nothing and are not recorded.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from indices.ingest_runs import IngestRunLog, RunCounts, RunFailure
from ingest.pipeline import IngestOptions, IngestReport

logger = logging.getLogger(__name__)


def run_counts(report: IngestReport) -> RunCounts:
    """What `report` counts, in the run log's terms (new = added, changed = updated)."""
    written = [o for o in report.outcomes if o.status in ("new", "changed")]
    return RunCounts(
        added=report.count("new"),
        updated=report.count("changed"),
        unchanged=report.count("unchanged"),
        failed=report.count("failed"),
        pruned=report.count("pruned"),
        chunks=sum(o.chunks for o in written),
    )


def run_failures(report: IngestReport, when: float) -> list[RunFailure]:
    """The failures of `report`, stamped `when`."""
    return [RunFailure(o.doc_id, o.uri, o.reason, when) for o in report.failed]


def _roots(sources: Sequence[str], opts: IngestOptions) -> list[str]:
    """What the run was given: local paths made absolute (the console shows where), URLs as given."""
    roots = [s if "://" in s else str(Path(s).resolve()) for s in sources]
    return roots + [str(Path(p).resolve()) for p in opts.url_lists]


def _stopped(exc: BaseException) -> str:
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted (Ctrl-C)"
    return f"{type(exc).__name__}: {exc}"


@contextmanager
def recorded_run(log: IngestRunLog, sources: Sequence[str], opts: IngestOptions) -> Iterator[IngestReport]:
    """A report for `Ingestor.run(..., report=)`, recorded in `log` from start to end (see the module)."""
    report = IngestReport(dry_run=opts.dry_run)
    run_id: int | None = None
    if not opts.dry_run:  # a dry run changes nothing and may run before the data directory exists
        try:
            run_id = log.start(_roots(sources, opts), opts.agency, opts.dry_run)
        except (OSError, sqlite3.Error) as exc:
            logger.warning("cannot record this run in %s: %s", log.path, exc)
    error = ""
    try:
        yield report
    except BaseException as exc:
        error = _stopped(exc)
        raise
    finally:
        if run_id is not None:
            try:
                log.finish(run_id, run_counts(report), run_failures(report, time.time()), error)
            except (OSError, sqlite3.Error) as exc:
                logger.warning("cannot close run %s in %s: %s", run_id, log.path, exc)
