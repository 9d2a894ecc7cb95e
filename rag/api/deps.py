"""What routes receive: the services hung on `app.state` by the app factory, and the caller.

Routes declare `Annotated[...]` aliases (`ServicesDep`, `CallerDep`, `AdminDep`) and stay thin.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Header, HTTPException, Request
from pydantic import BaseModel, Field

from indices.vector_index import VectorIndex
from rag.answerers import Answerer
from rag.answering import AnswerService
from rag.api.audit import AuditLog
from rag.api.metrics import Metrics
from rag.api.ratelimit import RateLimiter
from rag.api.security import AuthError, Principal, SecuritySettings, authenticate
from rag.retrieval import Retriever


class ApiLimits(BaseModel):
    """Request limits; each violation is a 4xx naming the limit and the setting."""

    max_question_chars: int = Field(default=2000, ge=1)
    max_history_turns: int = Field(default=20, ge=0)
    max_history_chars: int = Field(default=16000, ge=0)
    max_top_k: int = Field(default=20, ge=1)
    max_page_size: int = Field(default=500, ge=1)


class ApiError(Exception):
    """An error answered as `{"error": {"code", "message"}}` with an HTTP status."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


@dataclass
class Services:
    """Everything the routes use, opened once in the app's lifespan."""

    security: SecuritySettings
    limits: ApiLimits
    limiter: RateLimiter
    metrics: Metrics
    audit: AuditLog | None
    static_dir: Path
    index: VectorIndex | None = None
    retriever: Retriever | None = None
    answers: AnswerService | None = None
    answerer: Answerer | None = None
    index_problem: str = ""
    #: The quick integrity check of the open index (`/readyz`): "" when healthy, else what is wrong.
    index_check: Callable[[], str] | None = None
    ingest_hint: str = "run `govrag ingest <folder>` on this machine, then restart `govrag serve`"

    def require_index(self) -> tuple[Retriever, AnswerService, VectorIndex]:
        """The index-backed services, or a 503 that says how to build the index."""
        if self.index is None or self.retriever is None or self.answers is None:
            raise ApiError(
                503, "index_unavailable", f"{self.index_problem or 'no index is open'}; {self.ingest_hint}"
            )
        return self.retriever, self.answers, self.index


def get_services(request: Request) -> Services:
    """The services of this app instance."""
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_caller(
    services: ServicesDep,
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
) -> Principal:
    """Authenticate the caller and apply its rate limit."""
    try:
        principal = authenticate(authorization, x_api_key, services.security)
    except AuthError as exc:
        raise ApiError(exc.status, "unauthorized", str(exc), {"WWW-Authenticate": "Bearer"}) from exc
    allowed, retry_after = services.limiter.check(principal.name, principal.rate_per_minute)
    if not allowed:
        wait = max(1, int(retry_after + 0.999))
        raise ApiError(
            429,
            "rate_limited",
            f"rate limit exceeded for {principal.name!r}; retry in {wait} s",
            {"Retry-After": str(wait)},
        )
    return principal


CallerDep = Annotated[Principal, Depends(get_caller)]


def get_query_caller(caller: CallerDep) -> Principal:
    """A caller allowed to query."""
    if "query" not in caller.scopes and "admin" not in caller.scopes:
        raise ApiError(403, "forbidden", f"key {caller.name!r} lacks the 'query' scope")
    return caller


def get_admin(caller: CallerDep) -> Principal:
    """A caller with the admin scope."""
    if "admin" not in caller.scopes:
        raise ApiError(403, "forbidden", f"key {caller.name!r} lacks the 'admin' scope")
    return caller


QueryCallerDep = Annotated[Principal, Depends(get_query_caller)]
AdminDep = Annotated[Principal, Depends(get_admin)]


def http_error(exc: HTTPException) -> dict[str, Any]:
    """Body for FastAPI's own HTTP errors, in our error shape."""
    return {"error": {"code": f"http_{exc.status_code}", "message": str(exc.detail)}}
