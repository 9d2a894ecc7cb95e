"""The record of `govrag ingest` runs: when each ran, over which roots, what it did and what failed.

The index itself holds no history (a failed file simply leaves its older version, or nothing), so an
operator could not tell why a document is missing or stale. Each run is one row in a small SQLite file in
the data directory (`ingest_runs.sqlite3`, beside the key store), written by the ingest command and read by
the API's operator console. It lives in `indices` because both sides reach it there: `ingest` writes it,
`rag` reads it, and neither imports the other.

A run is recorded when it starts (status `running`) and closed when it ends: `completed` (every document
ingested or unchanged), `completed_with_failures`, or `failed` (the run itself stopped: disk full, model
missing, Ctrl-C), always with what it had counted and the failures found so far. A run killed outright
(SIGKILL, power loss) stays `running` in the file; readers on the same machine report it `interrupted`
once its process is gone. Every call opens its own short connection, so the command line and the server
use the file concurrently (WAL) and a missing file simply means no run yet.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)

#: File name in the data directory.
RUNS_FILE = "ingest_runs.sqlite3"
#: Failures kept per run (a broken export can fail millions of records; the count is kept in full).
MAX_FAILURES_PER_RUN = 1000
#: Characters of a failure's reason kept.
MAX_REASON_CHARS = 2000

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        started REAL NOT NULL,
        ended REAL,
        status TEXT NOT NULL,
        roots TEXT NOT NULL DEFAULT '[]',
        agency TEXT NOT NULL DEFAULT '',
        dry_run INTEGER NOT NULL DEFAULT 0,
        added INTEGER NOT NULL DEFAULT 0,
        updated INTEGER NOT NULL DEFAULT 0,
        unchanged INTEGER NOT NULL DEFAULT 0,
        failed INTEGER NOT NULL DEFAULT 0,
        pruned INTEGER NOT NULL DEFAULT 0,
        chunks INTEGER NOT NULL DEFAULT 0,
        error TEXT NOT NULL DEFAULT '',
        host TEXT NOT NULL DEFAULT '',
        pid INTEGER
    )""",
    """CREATE TABLE IF NOT EXISTS failures (
        run_id INTEGER NOT NULL,
        doc_id TEXT NOT NULL,
        source TEXT NOT NULL,
        reason TEXT NOT NULL,
        time REAL NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS failures_run ON failures(run_id)",
    "CREATE INDEX IF NOT EXISTS failures_doc ON failures(doc_id, time)",
)
_RUN_COLUMNS = (
    "id, started, ended, status, roots, agency, dry_run, added, updated, unchanged, failed, pruned, chunks, "
    "error, host, pid"
)


@dataclass(frozen=True, slots=True)
class RunFailure:
    """One document or source a run could not ingest, and why."""

    doc_id: str
    source: str
    reason: str
    time: float


@dataclass(frozen=True, slots=True)
class RunCounts:
    """What a run did, by document."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    pruned: int = 0
    chunks: int = 0


@dataclass(frozen=True, slots=True)
class IngestRun:
    """One recorded run (`failures`: at most `MAX_FAILURES_PER_RUN`; `counts.failed` is the full count)."""

    id: int
    started: float
    ended: float | None
    status: str  # running | interrupted | completed | completed_with_failures | failed
    roots: list[str]
    agency: str
    dry_run: bool
    counts: RunCounts
    error: str
    failures: list[RunFailure] = field(default_factory=list)


def _alive(host: str, pid: int | None) -> bool:
    """Whether the process that wrote a `running` row may still be running (unknown: assume it is)."""
    if pid is None or host != socket.gethostname():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists but is not ours to signal
        return True
    return True


class IngestRunLog:
    """The runs file of one data directory (see the module docstring)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    @classmethod
    def in_home(cls, home: Path) -> IngestRunLog:
        """The runs file of data directory `home`."""
        return cls(Path(home) / RUNS_FILE)

    @contextmanager
    def _connect(self, write: bool) -> Iterator[sqlite3.Connection]:
        if write:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            if write:
                db.execute("PRAGMA journal_mode=WAL")
                for statement in _SCHEMA:
                    db.execute(statement)
            yield db
        finally:
            db.close()

    # ---- writing (the ingest command) ---------------------------------------------------------------------
    def start(self, roots: Sequence[str], agency: str = "", dry_run: bool = False) -> int:
        """Record a run that starts now; returns its id."""
        with self._connect(write=True) as db:
            cur = db.execute(
                "INSERT INTO runs (started, status, roots, agency, dry_run, host, pid) "
                "VALUES (?,?,?,?,?,?,?)",
                (time.time(), "running", json.dumps(list(roots), ensure_ascii=False), agency or "",
                 int(dry_run), socket.gethostname(), os.getpid()),
            )  # fmt: skip
            return int(cur.lastrowid or 0)

    def finish(self, run_id: int, counts: RunCounts, failures: Sequence[RunFailure], error: str = "") -> None:
        """Close run `run_id` with its counts and failures; `error` says why the run itself stopped."""
        status = "failed" if error else ("completed_with_failures" if counts.failed else "completed")
        kept = list(failures)[:MAX_FAILURES_PER_RUN]
        with self._connect(write=True) as db:
            db.execute("BEGIN IMMEDIATE")
            db.execute(
                "UPDATE runs SET ended=?, status=?, added=?, updated=?, unchanged=?, failed=?, pruned=?, "
                "chunks=?, error=? WHERE id=?",
                (time.time(), status, counts.added, counts.updated, counts.unchanged, counts.failed,
                 counts.pruned, counts.chunks, error[:MAX_REASON_CHARS], run_id),
            )  # fmt: skip
            db.executemany(
                "INSERT INTO failures (run_id, doc_id, source, reason, time) VALUES (?,?,?,?,?)",
                [(run_id, f.doc_id, f.source, f.reason[:MAX_REASON_CHARS], f.time) for f in kept],
            )
            db.execute("COMMIT")

    # ---- reading (the API) --------------------------------------------------------------------------------
    def _readable(self) -> bool:
        return self.path.is_file()

    def recent(self, limit: int = 50, agency: str | None = None) -> list[IngestRun]:
        """The newest `limit` runs first, with their failures; `agency`: only runs made for that agency."""
        if not self._readable():
            return []
        where, params = ("WHERE agency = ?", [agency]) if agency is not None else ("", [])
        with self._connect(write=False) as db:
            rows = db.execute(
                f"SELECT {_RUN_COLUMNS} FROM runs {where} ORDER BY id DESC LIMIT ?", (*params, int(limit))
            ).fetchall()
            ids = [r[0] for r in rows]
            found: dict[int, list[RunFailure]] = {}
            if ids:
                marks = ",".join("?" * len(ids))
                for run_id, *rest in db.execute(
                    f"SELECT run_id, doc_id, source, reason, time FROM failures WHERE run_id IN ({marks}) "
                    "ORDER BY rowid",
                    ids,
                ):
                    found.setdefault(run_id, []).append(RunFailure(*rest))
        return [self._run(r, found.get(r[0], [])) for r in rows]

    @staticmethod
    def _run(r: tuple[object, ...], failures: list[RunFailure]) -> IngestRun:
        (run_id, started, ended, status, roots, agency, dry_run, added, updated, unchanged, failed, pruned,
         chunks, error, host, pid) = r  # fmt: skip
        if status == "running" and not _alive(str(host), pid if isinstance(pid, int) else None):
            status = "interrupted"
        return IngestRun(
            id=int(str(run_id)), started=float(str(started)),
            ended=float(str(ended)) if ended is not None else None, status=str(status),
            roots=list(json.loads(str(roots))), agency=str(agency), dry_run=bool(dry_run),
            counts=RunCounts(*(int(str(v)) for v in (added, updated, unchanged, failed, pruned, chunks))),
            error=str(error), failures=failures,
        )  # fmt: skip

    def latest_failures(self, doc_ids: Sequence[str]) -> dict[str, RunFailure]:
        """The most recent recorded failure of each of `doc_ids` that has one."""
        if not self._readable() or not doc_ids:
            return {}
        out: dict[str, RunFailure] = {}
        with self._connect(write=False) as db:
            ids = list(doc_ids)
            for start in range(0, len(ids), 500):  # SQLite's bound-parameter limit
                part = ids[start : start + 500]
                marks = ",".join("?" * len(part))
                for doc_id, source, reason, when in db.execute(
                    f"SELECT doc_id, source, reason, MAX(time) FROM failures WHERE doc_id IN ({marks}) "
                    "GROUP BY doc_id",
                    part,
                ):
                    out[doc_id] = RunFailure(doc_id, source, reason, when)
        return out
