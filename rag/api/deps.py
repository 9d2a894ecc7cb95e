"""What routes receive: the services hung on `app.state` by the app factory, and the caller.

Routes declare `Annotated[...]` aliases (`ServicesDep`, `CallerDep`, `AdminDep`) and stay thin.
"""

from __future__ import annotations

import dataclasses
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from pydantic import BaseModel, Field

from indices.vector_index import VectorIndex
from rag.answerers import Answerer
from rag.answering import AnswerService
from rag.api.audit import AuditLog
from rag.api.exposure import Network, client_address, parse_networks
from rag.api.keystore import KeyStore
from rag.api.metrics import Metrics
from rag.api.oidc import OidcVerifier
from rag.api.ratelimit import RateLimiter
from rag.api.security import AuthError, Principal, SecuritySettings, authenticate, hash_key
from rag.api.shared_limits import LimitStoreUnavailable, RedisRateLimiter
from rag.retrieval import Retriever


class ApiLimits(BaseModel):
    """Request limits; each violation is a 4xx naming the limit and the setting."""

    max_question_chars: int = Field(default=2000, ge=1, description="Characters of a question (413 above).")
    max_history_turns: int = Field(default=20, ge=0, description="Earlier turns sent with a question.")
    max_history_chars: int = Field(default=16000, ge=0, description="Characters of all history turns.")
    max_top_k: int = Field(default=20, ge=1, description="Largest `top_k` a caller may ask for.")
    max_page_size: int = Field(default=500, ge=1, description="Largest `limit` of GET /v1/documents.")
    max_body_bytes: int = Field(
        default=64 * 1024,
        ge=1024,
        description="Bytes of a request body; larger ones are refused with 413 before they are buffered "
        "(a question with the full history fits in ~40 KB).",
    )
    max_json_depth: int = Field(
        default=32, ge=2, description="Nesting of arrays/objects in a JSON body (400 above)."
    )


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
    limiter: RateLimiter | RedisRateLimiter
    metrics: Metrics
    audit: AuditLog | None
    static_dir: Path
    keys: KeyStore | None = None
    oidc: OidcVerifier | None = None
    index: VectorIndex | None = None
    retriever: Retriever | None = None
    answers: AnswerService | None = None
    answerer: Answerer | None = None
    public_urls: dict[str, str] = field(default_factory=dict)
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


def _proxies(services: Services) -> list[Network]:
    return parse_networks(services.security.trusted_proxies)


def _authenticate(
    request: Request, services: Services, authorization: str | None, x_api_key: str | None
) -> Principal:
    try:
        principal = authenticate(authorization, x_api_key, services.security, services.keys, services.oidc)
    except AuthError as exc:
        raise ApiError(exc.status, exc.code, str(exc), exc.headers) from exc
    peer = request.client.host if request.client else None
    address = client_address(peer, request.headers.get("x-forwarded-for"), _proxies(services))
    return dataclasses.replace(principal, client=address)


def get_caller(
    request: Request,
    services: ServicesDep,
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
) -> Principal:
    """Authenticate the caller and apply its rate limit (anonymous callers: one bucket per client address)."""
    principal = _authenticate(request, services, authorization, x_api_key)
    try:
        allowed, retry_after = services.limiter.check(principal.owner, principal.rate_per_minute)
    except LimitStoreUnavailable as exc:
        message = f"{exc}; try again shortly"
        raise ApiError(503, "rate_limit_unavailable", message, {"Retry-After": "5"}) from exc
    if not allowed:
        wait = max(1, int(retry_after + 0.999))
        who = "this address" if principal.anonymous else repr(principal.name)
        raise ApiError(
            429,
            "rate_limited",
            f"rate limit exceeded for {who}; retry in {wait} s",
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


def check_metrics_access(
    request: Request,
    services: ServicesDep,
    authorization: Annotated[str | None, Header()] = None,
) -> None:
    """`/metrics` is open unless `api.security.metrics_key_hash` is set: then its token or an admin key."""
    expected = services.security.metrics_key_hash
    if expected is None:
        return
    scheme, _, token = (authorization or "").strip().partition(" ")
    if scheme.lower() == "bearer" and hmac.compare_digest(hash_key(token.strip()), expected):
        return
    try:
        caller = _authenticate(request, services, authorization, request.headers.get("x-api-key"))
    except ApiError:
        caller = None
    if caller is None or caller.anonymous or "admin" not in caller.scopes:
        raise ApiError(
            401,
            "unauthorized",
            "/metrics needs 'Authorization: Bearer <metrics token>' (api.security.metrics_key_hash) "
            "or an admin key",
            {"WWW-Authenticate": "Bearer"},
        )


QueryCallerDep = Annotated[Principal, Depends(get_query_caller)]
AdminDep = Annotated[Principal, Depends(get_admin)]
MetricsAccessDep = Annotated[None, Depends(check_metrics_access)]

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "body_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    500: "internal",
    503: "unavailable",
}


def http_error(status: int, detail: Any) -> dict[str, Any]:
    """Body for Starlette's and FastAPI's own HTTP errors (404 route, 405 method...), in our error shape."""
    return {"error": {"code": _HTTP_CODES.get(status, f"http_{status}"), "message": str(detail)}}
