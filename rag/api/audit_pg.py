"""The audit log in PostgreSQL (`api.audit.backend=postgres`): one trail for every API replica.

Same rows, redaction, owner hashes and console queries as `SqliteAuditLog` (the schema and the row
builders come from `rag.api.audit`, the console's SQL from `rag.api.audit_stats` with its PostgreSQL
dialect). Each answer is committed on its own as it is recorded, so a replica killed mid-stream loses
only the answer it had not finished. The HMAC secret of owner hashes is stored in the database, so
feedback is accepted by whichever replica receives it.

One connection per replica behind a lock (an audit write is one short statement); a connection broken by
a database restart is reopened once before the call fails. The console's scans use a connection of their
own so they never hold up the recording of answers.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
import time as _time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from rag.api import audit_stats
from rag.api.audit import (
    FEEDBACK_COLUMNS,
    INDEXES,
    QUERY_COLUMNS,
    TABLES,
    AuditEntry,
    entries_with_feedback,
    feedback_row,
    query_row,
)
from rag.api.audit_stats import Analytics, FeedbackItem, Period

logger = logging.getLogger(__name__)

#: Key of the advisory lock that serialises schema changes between replicas ("govrag audit").
_MIGRATION_LOCK = 0x676F7672_61756469


def _pg_type(kind: str) -> str:
    """A SQLite column definition of `rag.api.audit.TABLES` in PostgreSQL terms."""
    if "AUTOINCREMENT" in kind:
        return "BIGSERIAL PRIMARY KEY"
    return kind.replace("REAL", "DOUBLE PRECISION")  # SQLite REAL is 8 bytes; PostgreSQL's is 4


def _where(url: str) -> str:
    """host:port/db of a connection URL, without the password it may carry."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or 5432}{parts.path}"


class _Qmark:
    """A psycopg connection taking the `?` placeholders of the shared SQL (`audit_stats`)."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Any = ()) -> Any:
        return self._conn.execute(sql.replace("%", "%%").replace("?", "%s"), list(params))


class PostgresAuditLog:
    """`AuditLog` in a PostgreSQL database shared by the API replicas."""

    def __init__(self, url: str, connect_timeout_s: float = 10) -> None:
        if not url:
            raise RuntimeError(
                "api.audit.backend=postgres needs api.audit.postgres_url "
                "(GOVRAG_API__AUDIT__POSTGRES_URL=postgresql://user:password@host:5432/db)"
            )
        try:
            import psycopg
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError(
                "api.audit.backend=postgres needs psycopg: pip install 'govrag[scale]'"
            ) from exc
        self._psycopg = psycopg
        self.url = url
        self.where = _where(url)
        self._timeout = int(max(1, connect_timeout_s))
        self._lock = threading.Lock()
        with self._lock:
            self._conn = self._connect()
            self._migrate()
            self._secret = self._owner_secret()

    def _connect(self) -> Any:
        try:
            return self._psycopg.connect(self.url, autocommit=True, connect_timeout=self._timeout)
        except self._psycopg.Error as exc:
            raise RuntimeError(
                f"cannot open the audit log in PostgreSQL at {self.where}: {str(exc).strip()}; check "
                "api.audit.postgres_url or set GOVRAG_API__AUDIT__BACKEND=sqlite"
            ) from exc

    def _run(self, sql: str, params: Any = ()) -> Any:
        """Execute on the shared connection (caller holds the lock), reconnecting once if it broke."""
        try:
            return _Qmark(self._conn).execute(sql, params)
        except self._psycopg.OperationalError:
            if not self._conn.closed:
                raise
            logger.warning("audit log %s: connection lost, reconnecting", self.where)
            self._conn = self._connect()
            return _Qmark(self._conn).execute(sql, params)

    def _migrate(self) -> None:
        """Create missing tables, add columns an older schema lacks, create indexes. Replicas starting
        together would race (two `CREATE TABLE IF NOT EXISTS` can both try to create the table's type
        and one fails), so the schema is changed under a transaction-scoped advisory lock, one replica
        at a time."""
        with self._conn.transaction():
            self._run("SELECT pg_advisory_xact_lock(?)", (_MIGRATION_LOCK,))
            self._create_schema()

    def _create_schema(self) -> None:
        for table, columns in TABLES.items():
            spec = ", ".join(f"{name} {_pg_type(kind)}" for name, kind in columns.items())
            self._run(f"CREATE TABLE IF NOT EXISTS {table} ({spec})")
            for name, kind in columns.items():
                added = _pg_type(kind).replace("PRIMARY KEY", "").replace("BIGSERIAL", "BIGINT")
                self._run(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {name} {added}")
        for statement in INDEXES:
            self._run(statement)

    def record(
        self, query_id: str, caller: str, agency: str | None, question: str, language: str | None,
        generator: str | None, grounded: bool, refused: bool, cited_doc_ids: list[str],
        latency_ms: float | None, time: float | None = None, owner: str | None = None,
        answer: str = "", citations: list[dict[str, Any]] | None = None, asked_agency: str | None = None,
    ) -> None:  # fmt: skip
        """Store an answered question (redacted), committed at once; a repeated id replaces the row."""
        owner_hash = self._owner_hash(owner or caller or "anonymous")
        row = query_row(
            query_id, caller, agency, question, language, generator, grounded, refused, cited_doc_ids,
            latency_ms, time, answer, citations, asked_agency, owner_hash,
        )  # fmt: skip
        columns = [c.strip() for c in f"{QUERY_COLUMNS}, owner".split(",")]
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c != "query_id")
        sql = (
            f"INSERT INTO queries ({', '.join(columns)}) VALUES ({', '.join('?' * len(row))}) "
            f"ON CONFLICT (query_id) DO UPDATE SET {updates}"
        )
        with self._lock:
            self._run(sql, row)

    def record_feedback(self, query_id: str, rating: str, comment: str, caller: str) -> None:
        """Store a rating on an answer (comment redacted)."""
        row = feedback_row(query_id, rating, comment, caller)
        with self._lock:
            self._run(f"INSERT INTO feedback ({FEEDBACK_COLUMNS}) VALUES ({', '.join('?' * len(row))})", row)

    def _owner_secret(self) -> bytes:
        """The HMAC secret of owner hashes, created by the first replica (called under the lock)."""
        self._run(
            "INSERT INTO meta (key, value) VALUES ('owner_secret', ?) ON CONFLICT (key) DO NOTHING",
            (secrets.token_hex(32),),
        )
        row = self._run("SELECT value FROM meta WHERE key = 'owner_secret'").fetchone()
        return bytes.fromhex(row[0])

    def _owner_hash(self, owner: str) -> str:
        return hmac.new(self._secret, owner.encode("utf-8"), hashlib.sha256).hexdigest()

    def owned_by(self, query_id: str, owner: str) -> bool:
        """Whether `query_id` was answered to `owner` (False when unknown, purged, or someone else's)."""
        with self._lock:
            row = self._run("SELECT owner FROM queries WHERE query_id = ?", (query_id,)).fetchone()
        return row is not None and row[0] is not None and hmac.compare_digest(row[0], self._owner_hash(owner))

    def _entries(self, where: str, params: tuple[object, ...]) -> list[AuditEntry]:
        with self._lock:
            rows = self._run(f"SELECT {QUERY_COLUMNS} FROM queries {where}", params).fetchall()
            ids = [r[0] for r in rows]
            feedback = []
            if ids:
                feedback = self._run(
                    f"SELECT {FEEDBACK_COLUMNS} FROM feedback WHERE query_id = ANY(?) ORDER BY time, id",
                    (ids,),
                ).fetchall()
        return entries_with_feedback(rows, feedback)

    def recent(self, limit: int = 50) -> list[AuditEntry]:
        """The newest `limit` entries, newest first."""
        return self._entries("ORDER BY time DESC, query_id DESC LIMIT ?", (max(0, int(limit)),))

    def get(self, query_id: str) -> AuditEntry | None:
        """One entry with its feedback, or None when the id was never recorded (or was purged)."""
        found = self._entries("WHERE query_id = ?", (query_id,))
        return found[0] if found else None

    def purge_older_than(self, days: float) -> int:
        """Delete entries and feedback older than `days` days; returns how many rows went."""
        cutoff = _time.time() - days * 86400
        with self._lock:
            n = int(self._run("DELETE FROM queries WHERE time < ?", (cutoff,)).rowcount)
            n += int(self._run("DELETE FROM feedback WHERE time < ?", (cutoff,)).rowcount)
        if n:
            logger.info("audit log %s: purged %s rows older than %s days", self.where, n, days)
        return n

    @contextmanager
    def _reader(self) -> Iterator[_Qmark]:
        """A connection of its own for the console's scans (they never hold the writers' lock)."""
        conn = self._connect()
        try:
            yield _Qmark(conn)
        finally:
            conn.close()

    def analytics(self, period: Period, top_unanswered: int = 50) -> Analytics:
        """Usage over `period` for the operator console (`rag.api.audit_stats.analytics`)."""
        with self._reader() as db:
            return audit_stats.analytics(db, period, top_unanswered, audit_stats.POSTGRES)

    def feedback_page(
        self, period: Period, rating: str | None = None, offset: int = 0, limit: int = 50
    ) -> tuple[int, list[FeedbackItem]]:
        """Feedback given in `period`, newest first, with its question and answer: (total, page)."""
        with self._reader() as db:
            return audit_stats.feedback(db, period, rating, offset, limit)

    def close(self) -> None:
        """Close the connection (further calls fail)."""
        with self._lock:
            self._conn.close()
