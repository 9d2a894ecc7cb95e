"""The audit trail: who asked what, when, and how it was answered; plus the feedback given on answers.

Agencies must be able to show which questions were answered from which documents, and to see what went
wrong when a citizen reports a bad answer. Questions and comments are stored redacted (`redact`), so the
trail holds no identity numbers, phones or e-mails; rows older than `retention_days` are purged.

Each answer also records its owner, so feedback is accepted only from the caller who got the answer
(`owned_by`). The owner is a keyed hash (HMAC-SHA-256 with a random secret kept in the file) of the key
name or, for anonymous callers, of `anonymous@<client address>`: it can be compared, not read back, so the
trail holds no client addresses.

`SqliteAuditLog` is one SQLite file under the data directory in WAL mode (the CLI can read it while the
server writes). The API calls it from a thread pool, so one connection is shared behind a lock. The schema
is created with `CREATE TABLE IF NOT EXISTS` and missing columns are added on open, so an older file keeps
working after an upgrade.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import sqlite3
import threading
import time as _time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, Field

from rag.api import audit_stats
from rag.api.audit_stats import Analytics, FeedbackItem, Period
from rag.api.redaction import redact

logger = logging.getLogger(__name__)

_SCHEMA_VERSION = 2  # 2: answer, citations and asked_agency of each question
TABLES = {
    "queries": {
        "query_id": "TEXT PRIMARY KEY",
        "time": "REAL NOT NULL",
        "caller": "TEXT NOT NULL DEFAULT 'anonymous'",
        "agency": "TEXT",
        "question": "TEXT NOT NULL DEFAULT ''",
        "language": "TEXT",
        "generator": "TEXT",
        "grounded": "INTEGER NOT NULL DEFAULT 0",
        "refused": "INTEGER NOT NULL DEFAULT 0",
        "cited_doc_ids": "TEXT NOT NULL DEFAULT '[]'",
        "latency_ms": "REAL",
        "owner": "TEXT",
        "answer": "TEXT NOT NULL DEFAULT ''",
        "citations": "TEXT NOT NULL DEFAULT '[]'",
        "asked_agency": "TEXT",
    },
    "feedback": {
        "id": "INTEGER PRIMARY KEY AUTOINCREMENT",
        "query_id": "TEXT NOT NULL",
        "time": "REAL NOT NULL",
        "rating": "TEXT NOT NULL",
        "comment": "TEXT NOT NULL DEFAULT ''",
        "caller": "TEXT NOT NULL DEFAULT 'anonymous'",
    },
    "meta": {
        "key": "TEXT PRIMARY KEY",
        "value": "TEXT NOT NULL",
    },
}
QUERY_COLUMNS = ", ".join(c for c in TABLES["queries"] if c != "owner")
#: Characters of each cited quote kept with an answer (enough to recognise the passage).
MAX_QUOTE_CHARS = 500
FEEDBACK_COLUMNS = "query_id, time, rating, comment, caller"
INDEXES = (
    "CREATE INDEX IF NOT EXISTS queries_time ON queries(time)",
    "CREATE INDEX IF NOT EXISTS feedback_query ON feedback(query_id)",
    "CREATE INDEX IF NOT EXISTS feedback_time ON feedback(time)",
    "CREATE INDEX IF NOT EXISTS queries_asked_agency ON queries(asked_agency, time)",
)


def _marks(n: int) -> str:
    return ",".join("?" * n)


def _added_column(kind: str) -> str:
    """A column definition SQLite accepts in ALTER TABLE (no key; NOT NULL only with a default)."""
    kind = kind.replace("PRIMARY KEY", "").replace("AUTOINCREMENT", "")
    return kind if "DEFAULT" in kind else kind.replace("NOT NULL", "")


def query_row(
    query_id: str, caller: str, agency: str | None, question: str, language: str | None,
    generator: str | None, grounded: bool, refused: bool, cited_doc_ids: list[str],
    latency_ms: float | None, time: float | None, answer: str, citations: list[dict[str, Any]] | None,
    asked_agency: str | None, owner_hash: str,
) -> tuple[Any, ...]:  # fmt: skip
    """The stored row of an answered question (`QUERY_COLUMNS`, then `owner`): redacted, quotes cut."""
    cited = [{**c, "quote": str(c.get("quote", ""))[:MAX_QUOTE_CHARS]} for c in citations or []]
    return (query_id, _time.time() if time is None else time, caller or "anonymous", agency,
            redact(question), language, generator, int(grounded), int(refused),
            json.dumps(list(cited_doc_ids)), latency_ms, redact(answer or ""),
            json.dumps(cited, ensure_ascii=False), asked_agency or agency, owner_hash)  # fmt: skip


def feedback_row(query_id: str, rating: str, comment: str, caller: str) -> tuple[Any, ...]:
    """The stored row of a rating (`FEEDBACK_COLUMNS`), comment redacted."""
    return (query_id, _time.time(), rating, redact(comment or ""), caller or "anonymous")


def entries_with_feedback(rows: list[tuple[Any, ...]], feedback: list[tuple[Any, ...]]) -> list[AuditEntry]:
    """`AuditEntry`s of `SELECT {QUERY_COLUMNS}` rows, each with its `SELECT {FEEDBACK_COLUMNS}` rows."""
    by_query: dict[str, list[Feedback]] = {}
    for f in feedback:
        by_query.setdefault(f[0], []).append(Feedback(*f))
    return [_entry(r, by_query.get(r[0], [])) for r in rows]


def _entry(r: tuple[Any, ...], feedback: list[Feedback]) -> AuditEntry:
    """An `AuditEntry` from a `SELECT {QUERY_COLUMNS}` row."""
    return AuditEntry(
        query_id=r[0], time=r[1], caller=r[2], agency=r[3], question=r[4], language=r[5], generator=r[6],
        grounded=bool(r[7]), refused=bool(r[8]), cited_doc_ids=json.loads(r[9]), latency_ms=r[10],
        answer=r[11], citations=json.loads(r[12]), asked_agency=r[13], feedback=feedback,
    )  # fmt: skip


class AuditSettings(BaseModel):
    """The audit log (section `api.audit`)."""

    enabled: bool = Field(default=True, description="Record every answered question and all feedback.")
    backend: Literal["sqlite", "postgres"] = Field(
        default="sqlite",
        description="`sqlite`: one file in the data directory (one replica); `postgres`: one database "
        "shared by every replica (`postgres_url`).",
    )
    path: str = Field(default="audit.sqlite3", description="SQLite file, relative to the data directory.")
    postgres_url: str = Field(
        default="",
        description="PostgreSQL connection URL for `backend=postgres`, e.g. "
        "`postgresql://govrag:PASSWORD@postgres:5432/govrag` (tables are created on first use).",
    )
    retention_days: int = Field(default=365, ge=1, description="Rows older than this are purged.")


@dataclass(frozen=True, slots=True)
class Feedback:
    """A rating given on one answer."""

    query_id: str
    time: float
    rating: str
    comment: str
    caller: str


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One answered question as recorded (question already redacted), with its feedback."""

    query_id: str
    time: float
    caller: str
    agency: str | None
    question: str
    language: str | None
    generator: str | None
    grounded: bool
    refused: bool
    cited_doc_ids: list[str]
    latency_ms: float | None
    answer: str = ""
    #: The verified citations as shown: `n`, `doc_id`, `title`, `page`, `quote` (cut to MAX_QUOTE_CHARS).
    citations: list[dict[str, Any]] = field(default_factory=list)
    #: The agency the question was put to (the request's agency filter, else the caller's agency).
    asked_agency: str | None = None
    feedback: list[Feedback] = field(default_factory=list)


@runtime_checkable
class AuditLog(Protocol):
    """What the API needs from an audit store (SQLite here; tests or deployments may swap it)."""

    def record(
        self, query_id: str, caller: str, agency: str | None, question: str, language: str | None,
        generator: str | None, grounded: bool, refused: bool, cited_doc_ids: list[str],
        latency_ms: float | None, time: float | None = None, owner: str | None = None,
        answer: str = "", citations: list[dict[str, Any]] | None = None, asked_agency: str | None = None,
    ) -> None:  # fmt: skip
        """Store an answered question; `question` and `answer` are redacted, `owner` (who may rate it)
        hashed."""

    def record_feedback(self, query_id: str, rating: str, comment: str, caller: str) -> None:
        """Store a rating on an answer; `comment` is redacted before it is written."""

    def owned_by(self, query_id: str, owner: str) -> bool:
        """Whether `query_id` was answered to `owner` (False for unknown ids too)."""

    def recent(self, limit: int = 50) -> list[AuditEntry]:
        """The newest entries first."""

    def get(self, query_id: str) -> AuditEntry | None:
        """One entry with its feedback, or None."""

    def purge_older_than(self, days: float) -> int:
        """Delete entries and feedback older than `days`; returns the number of rows deleted."""

    def analytics(self, period: Period, top_unanswered: int = 50) -> Analytics:
        """Usage over `period` for the operator console (`rag.api.audit_stats.analytics`)."""

    def feedback_page(
        self, period: Period, rating: str | None = None, offset: int = 0, limit: int = 50
    ) -> tuple[int, list[FeedbackItem]]:
        """Feedback given in `period`, newest first, with its question and answer: (total, page)."""

    def close(self) -> None:
        """Release the store."""


class SqliteAuditLog:
    """`AuditLog` in one SQLite file (WAL, one shared connection behind a lock)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        except (OSError, sqlite3.Error) as exc:
            raise RuntimeError(
                f"cannot open the audit log {self.path}: {exc}; make the data directory writable or set "
                "GOVRAG_API__AUDIT__ENABLED=false"
            ) from exc
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._migrate()
            self._secret = self._owner_secret()

    @classmethod
    def from_settings(cls, settings: AuditSettings, data_dir: Path) -> SqliteAuditLog | None:
        """Open the configured log (None when disabled) and purge rows past the retention period."""
        if not settings.enabled:
            return None
        log = cls(data_dir / settings.path)
        log.purge_older_than(settings.retention_days)
        return log

    def _migrate(self) -> None:
        """Create missing tables, add columns an older file lacks, create indexes."""
        for table, columns in TABLES.items():
            spec = ", ".join(f"{name} {kind}" for name, kind in columns.items())
            self._db.execute(f"CREATE TABLE IF NOT EXISTS {table} ({spec})")
            have = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
            for name, kind in columns.items():
                if name not in have:
                    logger.info("audit log %s: adding column %s.%s", self.path, table, name)
                    self._db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {_added_column(kind)}")
                    if (table, name) == ("queries", "asked_agency"):  # rows of version 1: the caller's
                        self._db.execute("UPDATE queries SET asked_agency = agency")
        for statement in INDEXES:
            self._db.execute(statement)
        self._db.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")

    def record(
        self, query_id: str, caller: str, agency: str | None, question: str, language: str | None,
        generator: str | None, grounded: bool, refused: bool, cited_doc_ids: list[str],
        latency_ms: float | None, time: float | None = None, owner: str | None = None,
        answer: str = "", citations: list[dict[str, Any]] | None = None, asked_agency: str | None = None,
    ) -> None:  # fmt: skip
        """Store an answered question (redacted); a repeated `query_id` replaces the earlier row.

        `owner` is who may rate the answer (default: `caller`); only its keyed hash is stored. `answer` is
        redacted too, `citations` keep their quotes cut to `MAX_QUOTE_CHARS`; `asked_agency` (default: the
        caller's `agency`) is the agency whose operators see the row in the console.
        """
        owner_hash = self._owner_hash(owner or caller or "anonymous")
        row = query_row(
            query_id, caller, agency, question, language, generator, grounded, refused, cited_doc_ids,
            latency_ms, time, answer, citations, asked_agency, owner_hash,
        )  # fmt: skip
        sql = f"INSERT OR REPLACE INTO queries ({QUERY_COLUMNS}, owner) VALUES ({_marks(len(row))})"
        with self._lock:
            self._db.execute(sql, row)

    def record_feedback(self, query_id: str, rating: str, comment: str, caller: str) -> None:
        """Store a rating on an answer (comment redacted)."""
        row = feedback_row(query_id, rating, comment, caller)
        with self._lock:
            self._db.execute(f"INSERT INTO feedback ({FEEDBACK_COLUMNS}) VALUES ({_marks(len(row))})", row)

    def _owner_secret(self) -> bytes:
        """The HMAC secret of owner hashes, created once per file (called under the lock)."""
        self._db.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('owner_secret', ?)", (secrets.token_hex(32),)
        )
        row = self._db.execute("SELECT value FROM meta WHERE key = 'owner_secret'").fetchone()
        return bytes.fromhex(row[0])

    def _owner_hash(self, owner: str) -> str:
        return hmac.new(self._secret, owner.encode("utf-8"), hashlib.sha256).hexdigest()

    def owned_by(self, query_id: str, owner: str) -> bool:
        """Whether `query_id` was answered to `owner` (False when unknown, purged, or someone else's)."""
        with self._lock:
            row = self._db.execute("SELECT owner FROM queries WHERE query_id = ?", (query_id,)).fetchone()
        return row is not None and row[0] is not None and hmac.compare_digest(row[0], self._owner_hash(owner))

    def _entries(self, where: str, params: tuple[object, ...]) -> list[AuditEntry]:
        with self._lock:
            rows = self._db.execute(f"SELECT {QUERY_COLUMNS} FROM queries {where}", params).fetchall()
            ids = [r[0] for r in rows]
            feedback = []
            if ids:
                feedback = self._db.execute(
                    f"SELECT {FEEDBACK_COLUMNS} FROM feedback WHERE query_id IN ({_marks(len(ids))}) "
                    "ORDER BY time, id",
                    ids,
                ).fetchall()
        return entries_with_feedback(rows, feedback)

    def recent(self, limit: int = 50) -> list[AuditEntry]:
        """The newest `limit` entries, newest first."""
        return self._entries("ORDER BY time DESC, rowid DESC LIMIT ?", (max(0, int(limit)),))

    def get(self, query_id: str) -> AuditEntry | None:
        """One entry with its feedback, or None when the id was never recorded (or was purged)."""
        found = self._entries("WHERE query_id = ?", (query_id,))
        return found[0] if found else None

    def purge_older_than(self, days: float) -> int:
        """Delete entries and feedback older than `days` days; returns how many rows went."""
        cutoff = _time.time() - days * 86400
        with self._lock:
            n = self._db.execute("DELETE FROM queries WHERE time < ?", (cutoff,)).rowcount
            n += self._db.execute("DELETE FROM feedback WHERE time < ?", (cutoff,)).rowcount
        if n:
            logger.info("audit log %s: purged %s rows older than %s days", self.path, n, days)
        return n

    @contextmanager
    def _reader(self) -> Iterator[sqlite3.Connection]:
        """A read-only connection of its own: the console's scans (about a second over 100,000 questions
        on 2 cores) run beside the writes of answers (WAL) instead of holding the shared lock."""
        db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
        try:
            yield db
        finally:
            db.close()

    def analytics(self, period: Period, top_unanswered: int = 50) -> Analytics:
        """Usage over `period` for the operator console (`rag.api.audit_stats.analytics`)."""
        with self._reader() as db:
            return audit_stats.analytics(db, period, top_unanswered)

    def feedback_page(
        self, period: Period, rating: str | None = None, offset: int = 0, limit: int = 50
    ) -> tuple[int, list[FeedbackItem]]:
        """Feedback given in `period`, newest first, with its question and answer: (total, page)."""
        with self._reader() as db:
            return audit_stats.feedback(db, period, rating, offset, limit)

    def close(self) -> None:
        """Close the connection (further calls fail)."""
        with self._lock:
            self._db.close()


def open_audit_log(settings: AuditSettings, data_dir: Path) -> AuditLog | None:
    """The configured audit log (None when disabled), rows past the retention period purged."""
    if not settings.enabled:
        return None
    if settings.backend == "postgres":
        from rag.api.audit_pg import PostgresAuditLog

        log: AuditLog = PostgresAuditLog(settings.postgres_url)
    else:
        log = SqliteAuditLog(data_dir / settings.path)
    log.purge_older_than(settings.retention_days)
    return log
