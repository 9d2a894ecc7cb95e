"""Response bodies of the operator console's endpoints (`/v1/admin/...`, see `rag.api.admin_routes`).

They map from the domain objects (`rag.api.audit_stats`, `indices.ingest_runs`) with `from_attributes`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from rag.api.schemas import DocumentOut

_FROM = ConfigDict(from_attributes=True)


class AdminIdentity(BaseModel):
    """GET /v1/admin/me: who the console is signed in as."""

    name: str
    agency: str | None = Field(description="The one agency this admin administers; null: every agency.")
    scopes: list[str]


class DocumentFailure(BaseModel):
    """The latest ingestion failure recorded for a document."""

    model_config = _FROM

    source: str
    reason: str
    time: float


class AdminDocument(DocumentOut):
    """A document with its ingestion status."""

    status: Literal["indexed", "update_failed"] = Field(
        description="`update_failed`: the latest ingest run could not read the source again; the index "
        "still serves the version of `ingested_at`."
    )
    last_failure: DocumentFailure | None = None


class Facets(BaseModel):
    """The values the document filters can take (within the admin's agency)."""

    agencies: list[str]
    languages: list[str]
    groups: list[str]


class AdminDocumentList(BaseModel):
    """GET /v1/admin/documents."""

    total: int
    documents: list[AdminDocument]
    facets: Facets


class RunCountsOut(BaseModel):
    """What a run did, by document."""

    model_config = _FROM

    added: int
    updated: int
    unchanged: int
    failed: int
    pruned: int
    chunks: int


class RunFailureOut(BaseModel):
    """A document or source a run could not ingest."""

    model_config = _FROM

    doc_id: str
    source: str
    reason: str
    time: float


class IngestRunOut(BaseModel):
    """One `govrag ingest` run."""

    model_config = _FROM

    id: int
    started: float
    ended: float | None
    status: Literal["running", "interrupted", "completed", "completed_with_failures", "failed"]
    roots: list[str]
    agency: str
    dry_run: bool
    counts: RunCountsOut
    error: str = Field(description="Why the run itself stopped (status `failed`), else empty.")
    failures: list[RunFailureOut]


class IngestRunList(BaseModel):
    """GET /v1/admin/ingest-runs."""

    runs: list[IngestRunOut]


class DayCountOut(BaseModel):
    """Questions and refusals on one day (the period's days, zeros included)."""

    model_config = _FROM

    date: str
    questions: int
    refused: int


class LanguageCountOut(BaseModel):
    """Questions asked in one language (`""`: undetermined)."""

    model_config = _FROM

    language: str
    questions: int


class UnansweredOut(BaseModel):
    """A question refused or answered without citation, with how often it was asked."""

    model_config = _FROM

    question: str
    count: int
    refused: int
    language: str
    last_asked: float


class AnalyticsOut(BaseModel):
    """GET /v1/admin/analytics."""

    model_config = _FROM

    since: str
    until: str
    tz_offset_min: int
    agency: str | None
    questions: int
    refused: int
    refusal_rate: float | None = Field(description="refused / questions (null when no question).")
    unanswered: int = Field(description="Questions refused or answered without a citation.")
    days: list[DayCountOut]
    languages: list[LanguageCountOut]
    latency_median_ms: float | None
    latency_p90_ms: float | None
    feedback_up: int
    feedback_down: int
    unanswered_questions: list[UnansweredOut]


class FeedbackOut(BaseModel):
    """A rating with the question, answer and citations it was given on."""

    model_config = _FROM

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


class FeedbackList(BaseModel):
    """GET /v1/admin/feedback."""

    total: int
    feedback: list[FeedbackOut]
