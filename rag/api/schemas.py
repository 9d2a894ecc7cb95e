"""Request and response bodies of the REST API (the OpenAPI schema at /docs is generated from these).

Request bodies are strict: no coercion (`"top_k": "5"` and `"stream": 0` are refused, not guessed), no
unknown fields, dates finite (`NaN`, `Infinity` and `1e400` are refused). Questions are stripped of
whitespace and invisible characters (zero-width spaces, joiners, BOM, soft hyphens) before their
length is checked, so a question of nothing but those is refused as empty.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

_INVISIBLE = re.compile("[\u00ad\u180e\u200b-\u200f\u2060-\u2064\ufeff]")
_STRICT = ConfigDict(extra="forbid", strict=True)


def _visible(text: str) -> str:
    """`text` without invisible characters and surrounding whitespace; empty text is an error."""
    cleaned = _INVISIBLE.sub("", text).strip()
    if not cleaned:
        raise ValueError("must contain visible text (it was empty, whitespace or invisible characters)")
    return cleaned


#: A question or query: at least one visible character, stored stripped.
VisibleText = Annotated[str, AfterValidator(_visible)]


def _iso_day(text: str) -> str:
    """`text` when it is a calendar date written YYYY-MM-DD."""
    try:
        date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"must be a date written YYYY-MM-DD, got {text[:40]!r}") from None
    return text


#: A day written YYYY-MM-DD (a JSON string: strict mode would refuse a string for a `date` field).
IsoDay = Annotated[str, Field(min_length=10, max_length=10), AfterValidator(_iso_day)]
_AS_OF = (
    "Answer from the document versions in force on this day (YYYY-MM-DD); default: today. Older versions "
    "of a document series stay searchable this way."
)


class Filters(BaseModel):
    """Restrictions on which documents may be used."""

    model_config = _STRICT

    agency: str | None = Field(default=None, max_length=200)
    lang: str | None = Field(default=None, max_length=8)
    doc_ids: list[str] | None = Field(default=None, max_length=1000)
    date_from: float | None = Field(
        default=None, allow_inf_nan=False, description="Unix time: documents dated on/after."
    )
    date_to: float | None = Field(
        default=None, allow_inf_nan=False, description="Unix time: documents dated on/before."
    )


class Turn(BaseModel):
    """One earlier turn of the conversation."""

    model_config = _STRICT

    role: Literal["user", "assistant"]
    content: str


class QueryRequest(BaseModel):
    """POST /v1/query."""

    model_config = _STRICT

    question: VisibleText = Field(min_length=1)
    filters: Filters = Field(default_factory=Filters)
    top_k: int | None = Field(default=None, ge=1)
    history: list[Turn] = Field(default_factory=list)
    stream: bool = False
    as_of: IsoDay | None = Field(default=None, description=_AS_OF)


class SearchRequest(BaseModel):
    """POST /v1/search."""

    model_config = _STRICT

    query: VisibleText = Field(min_length=1)
    filters: Filters = Field(default_factory=Filters)
    top_k: int = Field(default=10, ge=1)
    mode: Literal["hybrid", "dense", "bm25"] = "hybrid"
    one_per_doc: bool = True
    as_of: IsoDay | None = Field(default=None, description=_AS_OF)


class CitationOut(BaseModel):
    """A verified citation."""

    n: int
    doc_id: str
    title: str
    source: str
    page: int | None
    section: list[str]
    quote: str
    lang: str
    score: float
    attributed: bool = Field(
        default=False,
        description="The model wrote no marker for this claim; govrag matched it to this source's sentence "
        "stating the same numbers.",
    )
    doc_date: float | None = Field(default=None, description="Unix time: the document's issue date.")
    effective_from: float | None = Field(
        default=None, description="Unix time: when this version of the document took effect."
    )
    superseded: bool = Field(
        default=False, description="A newer version of this document is in force (see `superseded_by`)."
    )
    superseded_by: str | None = Field(default=None, description="The document id of the version in force.")


class QueryResponse(BaseModel):
    """The verified answer."""

    query_id: str
    answer: str
    language: str
    citations: list[CitationOut]
    grounded: bool
    refused: bool
    generator: str
    timings: dict[str, float] = Field(
        description="Wall time of each stage, in milliseconds (keys end in `_ms`)."
    )
    scores: dict[str, float] = Field(
        default_factory=dict,
        description="What the decision rested on (extractive: sentence and retrieval scores; no unit).",
    )
    warnings: list[str] = Field(default_factory=list)


class SearchHitOut(BaseModel):
    """A retrieved chunk."""

    rank: int
    score: float
    doc_id: str
    chunk_no: int
    title: str
    source: str
    page: int | None
    section: list[str]
    lang: str
    agency: str
    text: str
    doc_date: float | None = None
    effective_from: float | None = None
    superseded: bool = False
    superseded_by: str | None = None


class SearchResponse(BaseModel):
    """Retrieval results."""

    query: str
    language: str
    hits: list[SearchHitOut]
    timings: dict[str, float] = Field(
        description="Wall time of each stage, in milliseconds (keys end in `_ms`)."
    )


class FeedbackRequest(BaseModel):
    """POST /v1/feedback."""

    model_config = _STRICT

    query_id: str = Field(min_length=1, max_length=64)
    rating: Literal["up", "down"]
    comment: str | None = Field(default=None, max_length=2000)


class DocumentOut(BaseModel):
    """A document in the index."""

    doc_id: str
    title: str
    source: str
    lang: str
    agency: str
    groups: list[str]
    n_chunks: int
    ingested_at: float


class DocumentList(BaseModel):
    """GET /v1/documents."""

    total: int
    documents: list[DocumentOut]


class ChunkOut(BaseModel):
    """A chunk of a document."""

    chunk_no: int
    text: str
    page: int | None
    section: list[str]
    lang: str


class DocumentDetail(DocumentOut):
    """GET /v1/documents/{id}."""

    chunks: list[ChunkOut]


class ErrorBody(BaseModel):
    """Error payload: a code a program can switch on and a message a person can act on."""

    code: str
    message: str


class ErrorResponse(BaseModel):
    """Every non-2xx JSON response."""

    error: ErrorBody
