"""What the operator console reads from the audit log: analytics over a period, and the feedback given.

An agency needs three things from its trail: how much the assistant is used (questions per day, languages
asked), how often it cannot answer (refusal rate), and *what* it could not answer: the unanswered
questions, grouped and counted, are the content gap the agency must fill with documents. Each function
takes a DB-API connection of the audit log (SQLite, or PostgreSQL through `rag.api.audit_pg`, with `?`
placeholders either way), its `Dialect` and a `Period`; an agency-bound operator passes its agency, and
sees only the questions put to it (`queries.asked_agency`).

Days are calendar days at the operator's UTC offset (`Period.tz_offset_min`), so "today" in Bangkok is
the Bangkok day. Latency is the whole answer's wall time as recorded (`timings.total_ms`).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Dialect:
    """The SQL that differs between the stores: the operator's calendar day of `time` (one `?`: the UTC
    offset in seconds), and the value of a column in the latest row of a group."""

    day: str
    latest: Callable[[str], str]


#: SQLite takes a bare column from the row holding MAX(time) of its group: the latest wording.
SQLITE = Dialect(day="date(time + ?, 'unixepoch')", latest=lambda column: column)
POSTGRES = Dialect(
    day="to_char(to_timestamp(time + ?) AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
    latest=lambda column: f"(array_agg({column} ORDER BY time DESC))[1]",
)


@dataclass(frozen=True, slots=True)
class Period:
    """Calendar days `since`..`until` (both included) at UTC offset `tz_offset_min`; `agency`: only the
    questions put to that agency (None: all)."""

    since: dt.date
    until: dt.date
    tz_offset_min: int = 0
    agency: str | None = None

    @property
    def bounds(self) -> tuple[float, float]:
        """Unix times of the period's first instant and of the instant after its last day."""
        tz = dt.timezone(dt.timedelta(minutes=self.tz_offset_min))
        start = dt.datetime.combine(self.since, dt.time(), tz)
        end = dt.datetime.combine(self.until + dt.timedelta(days=1), dt.time(), tz)
        return start.timestamp(), end.timestamp()

    def days(self) -> list[dt.date]:
        """Every day of the period, in order."""
        return [self.since + dt.timedelta(days=i) for i in range((self.until - self.since).days + 1)]


@dataclass(frozen=True, slots=True)
class DayCount:
    """Questions and refusals on one day."""

    date: str
    questions: int
    refused: int


@dataclass(frozen=True, slots=True)
class LanguageCount:
    """Questions asked in one language (`""`: undetermined)."""

    language: str
    questions: int


@dataclass(frozen=True, slots=True)
class UnansweredQuestion:
    """A question refused or answered without a citation, with how often it was asked (grouped by text,
    ignoring case and surrounding space)."""

    question: str
    count: int
    refused: int
    language: str
    last_asked: float


@dataclass(frozen=True, slots=True)
class Analytics:
    """Usage of the assistant over a period (see the module docstring)."""

    questions: int
    refused: int
    unanswered: int
    days: list[DayCount]
    languages: list[LanguageCount]
    latency_median_ms: float | None
    latency_p90_ms: float | None
    feedback_up: int
    feedback_down: int
    unanswered_questions: list[UnansweredQuestion] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class FeedbackItem:
    """One rating with the question, answer and citations it was given on (those are empty when the
    question has been purged from the log)."""

    id: int
    query_id: str
    time: float
    rating: str
    comment: str
    question: str
    answer: str
    citations: list[dict[str, Any]]
    language: str
    refused: bool
    agency: str


def _scope(period: Period, column: str = "time", prefix: str = "") -> tuple[str, list[Any]]:
    start, end = period.bounds
    where = f"{column} >= ? AND {column} < ?"
    params: list[Any] = [start, end]
    if period.agency is not None:
        where += f" AND {prefix}asked_agency = ?"
        params.append(period.agency)
    return where, params


def _percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile of sorted `values` (None when empty)."""
    if not values:
        return None
    rank = max(1, -(-len(values) * q // 1))  # ceil(n * q), at least the first
    return round(values[int(rank) - 1], 1)


def _median(values: list[float]) -> float | None:
    if not values:
        return None
    mid = len(values) // 2
    value = values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2
    return round(value, 1)


def analytics(db: Any, period: Period, top_unanswered: int = 50, dialect: Dialect = SQLITE) -> Analytics:
    """Questions per day, refusals, languages, latency, feedback and the `top_unanswered` most asked
    unanswered questions of `period`."""
    where, params = _scope(period)
    offset_s = period.tz_offset_min * 60
    by_day = {
        d: (n, int(r or 0))
        for d, n, r in db.execute(
            f"SELECT {dialect.day} AS d, COUNT(*), SUM(refused) FROM queries WHERE {where} GROUP BY d",
            [offset_s, *params],
        )
    }
    days = [DayCount(d.isoformat(), *by_day.get(d.isoformat(), (0, 0))) for d in period.days()]
    languages = [
        LanguageCount(lang, n)
        for lang, n in db.execute(
            f"SELECT COALESCE(language, '') AS l, COUNT(*) AS n FROM queries WHERE {where} GROUP BY l "
            "ORDER BY n DESC, l",
            params,
        )
    ]
    latencies = [
        float(v)
        for (v,) in db.execute(
            f"SELECT latency_ms FROM queries WHERE {where} AND latency_ms IS NOT NULL ORDER BY latency_ms",
            params,
        )
    ]
    gap = f"{where} AND (refused = 1 OR cited_doc_ids = '[]')"
    (unanswered,) = db.execute(f"SELECT COUNT(*) FROM queries WHERE {gap}", params).fetchone()
    latest = dialect.latest
    top = [
        UnansweredQuestion(question, n, int(r or 0), lang or "", last)
        for question, n, r, lang, last in db.execute(
            f"SELECT {latest('question')}, COUNT(*) AS n, SUM(refused), {latest('language')}, "
            f"MAX(time) AS last FROM queries WHERE {gap} GROUP BY lower(trim(question)) "
            "ORDER BY n DESC, last DESC LIMIT ?",
            [*params, max(0, top_unanswered)],
        )
    ]
    fb_where, fb_params = _scope(period, "f.time", "q.")
    ratings = dict(
        db.execute(
            f"SELECT f.rating, COUNT(*) FROM feedback f LEFT JOIN queries q ON q.query_id = f.query_id "
            f"WHERE {fb_where} GROUP BY f.rating",
            fb_params,
        ).fetchall()
    )
    return Analytics(
        questions=sum(d.questions for d in days),
        refused=sum(d.refused for d in days),
        unanswered=int(unanswered),
        days=days,
        languages=languages,
        latency_median_ms=_median(latencies),
        latency_p90_ms=_percentile(latencies, 0.9),
        feedback_up=int(ratings.get("up", 0)),
        feedback_down=int(ratings.get("down", 0)),
        unanswered_questions=top,
    )


def feedback(
    db: Any, period: Period, rating: str | None, offset: int, limit: int
) -> tuple[int, list[FeedbackItem]]:
    """The feedback given in `period` (newest first), optionally of one `rating`: (total, one page)."""
    where, params = _scope(period, "f.time", "q.")
    if rating is not None:
        where += " AND f.rating = ?"
        params.append(rating)
    base = f"FROM feedback f LEFT JOIN queries q ON q.query_id = f.query_id WHERE {where}"
    (total,) = db.execute(f"SELECT COUNT(*) {base}", params).fetchone()
    rows = db.execute(
        "SELECT f.id, f.query_id, f.time, f.rating, f.comment, q.question, q.answer, q.citations, "
        f"q.language, q.refused, q.asked_agency {base} ORDER BY f.time DESC, f.id DESC LIMIT ? OFFSET ?",
        [*params, limit, offset],
    ).fetchall()
    return int(total), [_feedback_item(r) for r in rows]


def _feedback_item(r: tuple[Any, ...]) -> FeedbackItem:
    return FeedbackItem(
        id=r[0], query_id=r[1], time=r[2], rating=r[3], comment=r[4], question=r[5] or "",
        answer=r[6] or "", citations=json.loads(r[7] or "[]"), language=r[8] or "",
        refused=bool(r[9]), agency=r[10] or "",
    )  # fmt: skip
