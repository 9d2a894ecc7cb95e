"""What the operator console reads from the audit log (rag/api/audit_stats.py): questions per day at the
operator's UTC offset, refusals, the unanswered questions grouped and counted, languages, latency, the
feedback with its question, answer and citations, one agency's rows only; and an older log file keeps its
rows when the new columns are added."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from rag.api.audit import SqliteAuditLog
from rag.api.audit_stats import Period

DAY1 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC).timestamp()
HOUR = 3600.0
CITED = [{"n": 1, "doc_id": "passport.md", "title": "Renewing your passport", "page": 2, "quote": "x" * 900}]

pytest_plugins = ["pg_fixtures"]


def _ask(log: SqliteAuditLog, qid: str, question: str, at: float, **kw: object) -> None:
    args: dict[str, object] = dict(
        query_id=qid, caller="portal", agency=None, question=question, language="en", generator="extractive",
        grounded=True, refused=False, cited_doc_ids=["passport.md"], latency_ms=100.0, time=at,
        answer="The renewal fee is 70 dollars [1].", citations=CITED,
    )  # fmt: skip
    args.update(kw)
    log.record(**args)  # type: ignore[arg-type]


@pytest.fixture(params=["sqlite", "postgres"])
def log(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """The same questions on both stores: the console's SQL runs on SQLite and PostgreSQL."""
    if request.param == "postgres":
        from rag.api.audit_pg import PostgresAuditLog

        log: Any = PostgresAuditLog(request.getfixturevalue("postgres_database")())
    else:
        log = SqliteAuditLog(tmp_path / "audit.sqlite3")
    _ask(log, "a", "How much is a passport?", DAY1 + 2 * HOUR, asked_agency="ICA", latency_ms=100.0)
    _ask(log, "b", "What is the weather tomorrow?", DAY1 + 3 * HOUR, refused=True, grounded=False,
         cited_doc_ids=[], citations=[], answer="", asked_agency="ICA", latency_ms=300.0)  # fmt: skip
    _ask(log, "c", "  what is the WEATHER tomorrow?  ", DAY1 + 23.5 * HOUR, refused=True, grounded=False,
         cited_doc_ids=[], citations=[], answer="", latency_ms=200.0)  # fmt: skip
    _ask(log, "d", "ค่าธรรมเนียมเท่าไร", DAY1 + 26 * HOUR, language="th", cited_doc_ids=[], citations=[],
         latency_ms=400.0, agency="MOF")  # answered, but without a citation: also a gap  # fmt: skip
    _ask(log, "old", "Out of the period", DAY1 - 5 * 24 * HOUR)
    log.record_feedback("a", "down", "fee is wrong, call 9123 4567", "portal")
    log.record_feedback("d", "up", "", "portal")
    if isinstance(log, SqliteAuditLog):  # rated the day they were answered
        with sqlite3.connect(log.path) as db:
            db.execute("UPDATE feedback SET time = ? + 3600", (DAY1,))
    else:
        import psycopg

        with psycopg.connect(log.url) as conn:
            conn.execute("UPDATE feedback SET time = %s + 3600", (DAY1,))
    return log


def test_analytics_counts_days_refusals_gaps_languages_and_latency(log: SqliteAuditLog) -> None:
    day1, day2 = dt.date(2026, 3, 1), dt.date(2026, 3, 2)
    a = log.analytics(Period(day1, day2 + dt.timedelta(days=1)))
    assert [(d.date, d.questions, d.refused) for d in a.days] == [
        ("2026-03-01", 3, 2),
        ("2026-03-02", 1, 0),
        ("2026-03-03", 0, 0),  # a day without questions is there, at zero: the chart has no holes
    ]
    assert (a.questions, a.refused, a.unanswered) == (4, 2, 3)
    assert [(lang.language, lang.questions) for lang in a.languages] == [("en", 3), ("th", 1)]
    assert (a.latency_median_ms, a.latency_p90_ms) == (250.0, 400.0)
    assert (a.feedback_up, a.feedback_down) == (1, 1)
    gap = [(u.question, u.count, u.refused, u.language) for u in a.unanswered_questions]
    # grouped ignoring case and spaces, shown as last asked, most asked first
    assert gap == [("  what is the WEATHER tomorrow?  ", 2, 2, "en"), ("ค่าธรรมเนียมเท่าไร", 1, 0, "th")]


def test_days_are_the_operators_days(log: SqliteAuditLog) -> None:
    # At UTC+7 the question of 23:30 UTC on 1 March was asked on 2 March.
    a = log.analytics(Period(dt.date(2026, 3, 1), dt.date(2026, 3, 2), tz_offset_min=7 * 60))
    assert [(d.date, d.questions) for d in a.days] == [("2026-03-01", 2), ("2026-03-02", 2)]


def test_an_agency_sees_the_questions_put_to_it(log: SqliteAuditLog) -> None:
    period = Period(dt.date(2026, 3, 1), dt.date(2026, 3, 2), agency="ICA")
    a = log.analytics(period)
    assert (a.questions, a.refused, a.unanswered) == (2, 1, 1)
    assert [u.question for u in a.unanswered_questions] == ["What is the weather tomorrow?"]
    assert (a.feedback_up, a.feedback_down) == (0, 1)
    # the caller's agency counts when the question named none
    assert log.analytics(Period(dt.date(2026, 3, 1), dt.date(2026, 3, 2), agency="MOF")).questions == 1
    total, items = log.feedback_page(period)
    assert total == 1
    assert [i.query_id for i in items] == ["a"]


def test_feedback_comes_with_its_question_answer_and_citations(log: SqliteAuditLog) -> None:
    period = Period(dt.date(2026, 3, 1), dt.date(2026, 3, 2))
    total, items = log.feedback_page(period)
    assert total == 2
    down = next(i for i in items if i.rating == "down")
    assert (down.question, down.answer) == ("How much is a passport?", "The renewal fee is 70 dollars [1].")
    assert down.comment == "fee is wrong, call [PHONE]"  # stored redacted
    assert down.citations == [{**CITED[0], "quote": "x" * 500}]  # quotes cut to MAX_QUOTE_CHARS
    assert down.agency == "ICA"
    assert [i.rating for i in log.feedback_page(period, rating="up")[1]] == ["up"]
    assert (
        log.feedback_page(period, limit=1, offset=1)[1][0].id != log.feedback_page(period, limit=1)[1][0].id
    )


def test_an_empty_period_has_no_rate_and_no_latency(log: SqliteAuditLog) -> None:
    a = log.analytics(Period(dt.date(2020, 1, 1), dt.date(2020, 1, 2)))
    assert (a.questions, a.latency_median_ms, a.latency_p90_ms, a.unanswered_questions) == (0, None, None, [])


def test_a_version_1_log_keeps_its_rows_and_gains_the_new_columns(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite3"
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE queries (query_id TEXT PRIMARY KEY, time REAL NOT NULL, "
        "caller TEXT NOT NULL DEFAULT 'anonymous', agency TEXT, question TEXT NOT NULL DEFAULT '', "
        "language TEXT, generator TEXT, grounded INTEGER NOT NULL DEFAULT 0, "
        "refused INTEGER NOT NULL DEFAULT 0, cited_doc_ids TEXT NOT NULL DEFAULT '[]', latency_ms REAL, "
        "owner TEXT)"
    )
    db.execute(
        "INSERT INTO queries VALUES ('q-old', ?, 'portal', 'ICA', 'Passport fee?', 'en', 'extractive', 0, 1, "
        "'[]', 90.0, NULL)",
        (DAY1,),
    )
    db.execute("PRAGMA user_version=1")
    db.commit()
    db.close()
    log = SqliteAuditLog(path)
    old = log.get("q-old")
    assert old is not None
    assert (old.question, old.refused, old.answer, old.citations, old.asked_agency) == (
        "Passport fee?", True, "", [], "ICA",
    )  # fmt: skip
    a = log.analytics(Period(dt.date(2026, 3, 1), dt.date(2026, 3, 1), agency="ICA"))
    assert (a.questions, a.refused) == (1, 1)
    with sqlite3.connect(path) as check:
        assert check.execute("PRAGMA user_version").fetchone() == (2,)


def test_console_reads_do_not_wait_for_the_writers_lock(log: SqliteAuditLog) -> None:
    """The console's scans use a connection of their own, so answers keep being recorded meanwhile (and
    a writer holding the log's lock does not hold up the console)."""
    period = Period(dt.date(2026, 3, 1), dt.date(2026, 3, 2))
    results: list[object] = []
    with log._lock:  # a writer is busy
        reader = threading.Thread(
            target=lambda: results.extend([log.analytics(period).questions, log.feedback_page(period)[0]])
        )
        reader.start()
        reader.join(timeout=60)
        alive = reader.is_alive()
    reader.join()
    assert not alive, "the console's read waited for the writers' lock"
    assert results == [4, 2]
