"""The audit log, on SQLite and on PostgreSQL (a private server, `pg_fixtures`): rows written and read back,
redaction, feedback, retention, concurrency; SQLite's own: WAL, old files, unwritable locations."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rag.api.audit import AuditLog, AuditSettings, SqliteAuditLog

pytest_plugins = ["pg_fixtures"]

QUESTION = "How do I renew my passport?"


def _record(log: SqliteAuditLog, query_id: str, question: str = QUESTION, **kw: object) -> None:
    args: dict[str, object] = dict(
        query_id=query_id, caller="moh-portal", agency="MOH", question=question, language="en",
        generator="vllm", grounded=True, refused=False, cited_doc_ids=["doc-a", "doc-b"], latency_ms=812.5,
    )  # fmt: skip
    args.update(kw)
    log.record(**args)  # type: ignore[arg-type]


@pytest.fixture(params=["sqlite", "postgres"])
def log(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """Each test of the port runs on both stores."""
    if request.param == "postgres":
        from rag.api.audit_pg import PostgresAuditLog

        store: Any = PostgresAuditLog(request.getfixturevalue("postgres_database")())
    else:
        store = SqliteAuditLog(tmp_path / "data" / "audit.sqlite3")
    yield store
    store.close()


def raw_rows(log: Any, sql: str) -> list[tuple[Any, ...]]:
    """Rows as stored, read past the adapter."""
    if isinstance(log, SqliteAuditLog):
        return sqlite3.connect(log.path).execute(sql).fetchall()
    import psycopg

    with psycopg.connect(log.url) as conn:
        return [tuple(r) for r in conn.execute(sql).fetchall()]  # type: ignore[arg-type]


def test_rows_are_read_back_with_content(log: SqliteAuditLog) -> None:
    assert isinstance(log, AuditLog)
    _record(log, "q1", time=1_000.0)
    _record(log, "q2", question="Syarat bantuan?", language="ms", generator="extractive", grounded=False,
            refused=True, cited_doc_ids=[], latency_ms=None, caller="", agency=None, time=2e3)  # fmt: skip
    one = log.get("q1")
    assert one is not None
    assert (one.query_id, one.caller, one.agency, one.question) == ("q1", "moh-portal", "MOH", QUESTION)
    assert (one.language, one.generator, one.grounded, one.refused) == ("en", "vllm", True, False)
    assert one.cited_doc_ids == ["doc-a", "doc-b"]
    assert one.latency_ms == 812.5
    assert one.time == 1_000.0
    two = log.get("q2")
    assert two is not None
    assert two.caller == "anonymous"
    assert two.refused
    assert not two.grounded
    assert two.cited_doc_ids == []
    assert two.latency_ms is None
    assert two.agency is None
    assert [e.query_id for e in log.recent(10)] == ["q2", "q1"]
    assert [e.query_id for e in log.recent(1)] == ["q2"]
    assert log.get("missing") is None


def test_question_and_comment_are_stored_redacted(log: SqliteAuditLog) -> None:
    _record(log, "q1", question="NRIC S1234567D, hp +65 9123 4567, email ali@example.com: CPF top-up?")
    log.record_feedback("q1", "down", "call me at 0812-3456-7890", "anonymous")
    log.record_feedback("q1", "up", "", "moh-portal")
    entry = log.get("q1")
    assert entry is not None
    assert entry.question == "NRIC [NRIC], hp [PHONE], email [EMAIL]: CPF top-up?"
    assert [(f.rating, f.comment, f.caller) for f in entry.feedback] == [
        ("down", "call me at [PHONE]", "anonymous"), ("up", "", "moh-portal"),
    ]  # fmt: skip
    raw = raw_rows(log, "SELECT question FROM queries")
    assert raw == [("NRIC [NRIC], hp [PHONE], email [EMAIL]: CPF top-up?",)]
    dump = "\n".join(
        map(str, raw_rows(log, "SELECT * FROM queries") + raw_rows(log, "SELECT * FROM feedback"))
    )
    assert "S1234567D" not in dump
    assert "0812-3456-7890" not in dump
    assert "ali@example.com" not in dump


def test_wal_mode_and_reopen_keeps_rows(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite3"
    first = SqliteAuditLog(path)
    _record(first, "q1")
    first.close()
    second = SqliteAuditLog(path)
    assert second.get("q1") is not None
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone() == ("wal",)
    second.close()


def test_purge_older_than_removes_old_rows(log: SqliteAuditLog) -> None:
    now = time.time()
    _record(log, "old", time=now - 400 * 86400)
    _record(log, "new", time=now - 10 * 86400)
    assert log.purge_older_than(365) == 1
    assert log.get("old") is None
    assert log.get("new") is not None
    assert log.purge_older_than(365) == 0


def test_from_settings(tmp_path: Path) -> None:
    assert SqliteAuditLog.from_settings(AuditSettings(enabled=False), tmp_path) is None
    opened = SqliteAuditLog.from_settings(AuditSettings(path="logs/a.sqlite3", retention_days=30), tmp_path)
    assert opened is not None
    assert opened.path == tmp_path / "logs" / "a.sqlite3"
    assert opened.path.is_file()
    with pytest.raises(ValueError, match="retention_days"):
        AuditSettings(retention_days=0)


def test_concurrent_writes_from_threads(log: SqliteAuditLog) -> None:
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            for i in range(40):
                _record(log, f"t{t}-{i}", question=f"thread {t} question {i} from ali{t}@example.com")
                log.record_feedback(f"t{t}-{i}", "up", f"ok {i}", f"k{t}")
                log.recent(5)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    entries = log.recent(1000)
    assert len(entries) == 240
    assert {e.query_id for e in entries} == {f"t{t}-{i}" for t in range(6) for i in range(40)}
    sample = log.get("t3-17")
    assert sample is not None
    assert sample.question == "thread 3 question 17 from [EMAIL]"
    assert [(f.comment, f.caller) for f in sample.feedback] == [("ok 17", "k3")]


def test_older_file_gains_missing_columns(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite3"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE queries (query_id TEXT PRIMARY KEY, time REAL NOT NULL, question TEXT NOT NULL)")
    db.execute("INSERT INTO queries VALUES ('legacy', 5.0, 'old question')")
    db.commit()
    db.close()
    log = SqliteAuditLog(path)
    legacy = log.get("legacy")
    assert legacy is not None
    assert legacy.question == "old question"
    assert legacy.caller == "anonymous"
    assert legacy.cited_doc_ids == []
    assert legacy.grounded is False
    assert legacy.language is None
    _record(log, "q-new", time=10.0)
    assert [e.query_id for e in log.recent(5)] == ["q-new", "legacy"]
    columns = {row[1] for row in sqlite3.connect(path).execute("PRAGMA table_info(queries)")}
    assert {"caller", "agency", "latency_ms", "cited_doc_ids"} <= columns


def test_unwritable_location_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(RuntimeError, match=r"cannot open the audit log .*GOVRAG_API__AUDIT__ENABLED=false"):
        SqliteAuditLog(blocker / "audit.sqlite3")


def test_replicas_opening_a_new_database_at_once_all_start(request: pytest.FixtureRequest) -> None:
    """Two `govrag serve` replicas started together once died with exit 3: their `CREATE TABLE IF NOT
    EXISTS` raced on PostgreSQL's catalog. The schema is now created under an advisory lock."""
    from rag.api.audit_pg import PostgresAuditLog

    url = request.getfixturevalue("postgres_database")()
    opened: list[Any] = []
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def open_one() -> None:
        start.wait(timeout=30)
        try:
            opened.append(PostgresAuditLog(url))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert len(opened) == 6
    opened[0].record_feedback("q", "up", "", "a")  # one schema, one owner secret for all
    assert {log._secret for log in opened} == {opened[0]._secret}
    for log in opened:
        log.close()
