"""The operator console: its page (`/admin`) and the JSON it reads (`/v1/admin/...`), admin scope only.

An admin key bound to an agency sees that agency's data only, everywhere: its documents, the questions
put to it (analytics and feedback: `queries.asked_agency`) and the ingest runs made for it (`--agency`).
Asking for another agency is a 403, as on `/v1/documents`. Documents, chunks and deletion reuse
`/v1/documents`; what is added here is what the console needs besides: search and facets with each
document's ingestion status, the ingest runs, analytics and feedback.

The page is static (rag/static/admin.*), served with a strict Content-Security-Policy: no inline script or
style, no request off this origin.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from pathlib import Path
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse

from indices.ingest_runs import IngestRunLog
from indices.schema import SearchFilter
from rag.api.admin_schemas import (
    AdminDocument,
    AdminDocumentList,
    AdminIdentity,
    AnalyticsOut,
    DocumentFailure,
    Facets,
    FeedbackList,
    FeedbackOut,
    IngestRunList,
    IngestRunOut,
)
from rag.api.audit import AuditLog
from rag.api.audit_stats import Period
from rag.api.deps import AdminDep, ApiError, Services, ServicesDep
from rag.api.openapi import errors
from rag.api.schemas import DocumentOut
from rag.api.security import Principal

logger = logging.getLogger(__name__)
router = APIRouter()

#: Longest analytics/feedback period, in days.
MAX_PERIOD_DAYS = 366
#: The days a period may cover (the audit log holds Unix times; the last day must have a next day).
FIRST_DAY, LAST_DAY = dt.date(1970, 1, 1), dt.date(9999, 12, 30)
#: Largest `offset` of a page (SQLite integers are 64-bit; no log holds a billion ratings).
MAX_OFFSET = 1_000_000_000
#: Most unanswered questions listed by GET /v1/admin/analytics.
MAX_TOP_UNANSWERED = 200
#: The console page's policy: its own scripts, styles and API only.
CONSOLE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_ASSETS = {"admin.js": "text/javascript; charset=utf-8", "admin.css": "text/css; charset=utf-8"}

Since = Annotated[
    dt.date | None, Query(description="First day (YYYY-MM-DD); default: 29 days before `until`.")
]
Until = Annotated[dt.date | None, Query(description="Last day (YYYY-MM-DD), included; default: today.")]
TzOffset = Annotated[
    int, Query(ge=-14 * 60, le=14 * 60, description="The operator's UTC offset in minutes (days are theirs).")
]


def scoped_agency(admin: Principal, asked: str | None = None) -> str | None:
    """The agency `admin` may see (None: all); asking for another agency than its own is a 403."""
    if admin.agency is None:
        return asked or None
    if asked and asked != admin.agency:
        raise ApiError(403, "forbidden", f"key {admin.name!r} administers {admin.agency!r} only")
    return admin.agency


def _period(since: dt.date | None, until: dt.date | None, tz_offset_min: int, agency: str | None) -> Period:
    tz = dt.timezone(dt.timedelta(minutes=tz_offset_min))
    for name, day in (("since", since), ("until", until)):
        if day is not None and not FIRST_DAY <= day <= LAST_DAY:
            raise ApiError(422, "invalid_period", f"{name} ({day}) is outside {FIRST_DAY}..{LAST_DAY}")
    until = until or dt.datetime.now(tz).date()
    since = since or max(FIRST_DAY, until - dt.timedelta(days=29))
    if since > until:
        raise ApiError(422, "invalid_period", f"since ({since}) is after until ({until})")
    if (until - since).days + 1 > MAX_PERIOD_DAYS:
        raise ApiError(
            422,
            "period_too_long",
            f"the period has {(until - since).days + 1} days; the most is {MAX_PERIOD_DAYS}",
        )
    return Period(since, until, tz_offset_min, agency)


def _audit(services: Services) -> AuditLog:
    if services.audit is None:
        raise ApiError(
            503, "audit_disabled", "the audit log is disabled (api.audit.enabled): no questions are recorded"
        )
    return services.audit


def _runs(request: Request) -> IngestRunLog:
    log: IngestRunLog = request.app.state.ingest_runs
    return log


def _page_size(services: Services, limit: int) -> None:
    if limit > services.limits.max_page_size:
        raise ApiError(
            422, "limit_too_large", f"limit is {limit}; the maximum is {services.limits.max_page_size}"
        )


@router.get(
    "/v1/admin/me", response_model=AdminIdentity, tags=["admin"], responses=errors(401, 403, 422, 429)
)
async def me(admin: AdminDep) -> AdminIdentity:
    """Who the console is signed in as (and which agency it is limited to)."""
    return AdminIdentity(name=admin.name, agency=admin.agency, scopes=list(admin.scopes))


def _matches(d: Any, q: str, lang: str | None, group: str | None) -> bool:
    if lang and d.lang != lang:
        return False
    if group and group not in d.groups:
        return False
    return not q or any(q in str(v).casefold() for v in (d.doc_id, d.title, d.source))


@router.get(
    "/v1/admin/documents",
    response_model=AdminDocumentList,
    tags=["admin"],
    responses=errors(401, 403, 422, 429, 503),
)
async def admin_documents(
    request: Request,
    services: ServicesDep,
    admin: AdminDep,
    q: Annotated[str, Query(max_length=200, description="Words in the title, id or source.")] = "",
    agency: str | None = None,
    lang: str | None = None,
    group: str | None = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1)] = 100,
) -> AdminDocumentList:
    """Documents with their ingestion status, searched and filtered, and the values each filter can take."""
    _page_size(services, limit)
    _, _, index = services.require_index()
    own = scoped_agency(admin, agency)
    runs = _runs(request)
    needle = q.strip().casefold()

    def page() -> AdminDocumentList:
        docs = sorted(
            index.iter_documents(SearchFilter(agencies=[own] if own else None)), key=lambda d: d.doc_id
        )
        facets = Facets(
            agencies=sorted({d.agency for d in docs if d.agency}),
            languages=sorted({d.lang for d in docs if d.lang}),
            groups=sorted({g for d in docs for g in d.groups}),
        )
        found = [d for d in docs if _matches(d, needle, lang, group)]
        shown = found[offset : offset + limit]
        failures = runs.latest_failures([d.doc_id for d in shown])
        out = []
        for d in shown:
            failure = failures.get(d.doc_id)
            stale = failure is not None and failure.time > d.ingested_at
            out.append(
                AdminDocument.model_validate(
                    {
                        **{f: getattr(d, f) for f in DocumentOut.model_fields},
                        "status": "update_failed" if stale else "indexed",
                        "last_failure": DocumentFailure.model_validate(failure) if failure else None,
                    }
                )
            )
        return AdminDocumentList(total=len(found), documents=out, facets=facets)

    return await anyio.to_thread.run_sync(page)


@router.get(
    "/v1/admin/ingest-runs",
    response_model=IngestRunList,
    tags=["admin"],
    responses=errors(401, 403, 422, 429),
)
async def ingest_runs(
    request: Request, admin: AdminDep, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> IngestRunList:
    """The latest `govrag ingest` runs, newest first, each with its failures (file and reason)."""
    own = scoped_agency(admin)
    runs = await anyio.to_thread.run_sync(lambda: _runs(request).recent(limit, own))
    return IngestRunList(runs=[IngestRunOut.model_validate(r) for r in runs])


@router.get(
    "/v1/admin/analytics",
    response_model=AnalyticsOut,
    tags=["admin"],
    responses=errors(401, 403, 422, 429, 503),
)
async def analytics(
    services: ServicesDep,
    admin: AdminDep,
    since: Since = None,
    until: Until = None,
    tz_offset_min: TzOffset = 0,
    agency: str | None = None,
    top: Annotated[int, Query(ge=0, le=MAX_TOP_UNANSWERED, description="Unanswered questions listed.")] = 50,
) -> AnalyticsOut:
    """Questions per day, refusal rate, languages asked, latency, and the unanswered questions (the
    content gap: what people asked that the documents do not answer), most asked first."""
    audit = _audit(services)
    period = _period(since, until, tz_offset_min, scoped_agency(admin, agency))
    stats = await anyio.to_thread.run_sync(lambda: audit.analytics(period, top))
    rate = round(stats.refused / stats.questions, 4) if stats.questions else None
    return AnalyticsOut.model_validate(
        {
            **dataclasses.asdict(stats),
            "since": period.since.isoformat(),
            "until": period.until.isoformat(),
            "tz_offset_min": tz_offset_min,
            "agency": period.agency,
            "refusal_rate": rate,
        }
    )


@router.get(
    "/v1/admin/feedback",
    response_model=FeedbackList,
    tags=["admin"],
    responses=errors(401, 403, 422, 429, 503),
)
async def feedback_list(
    services: ServicesDep,
    admin: AdminDep,
    since: Since = None,
    until: Until = None,
    tz_offset_min: TzOffset = 0,
    agency: str | None = None,
    rating: Literal["up", "down"] | None = None,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    limit: Annotated[int, Query(ge=1)] = 50,
) -> FeedbackList:
    """Feedback given on answers, newest first, with the question, the answer and its citations."""
    _page_size(services, limit)
    audit = _audit(services)
    period = _period(since, until, tz_offset_min, scoped_agency(admin, agency))
    total, items = await anyio.to_thread.run_sync(lambda: audit.feedback_page(period, rating, offset, limit))
    return FeedbackList(total=total, feedback=[FeedbackOut.model_validate(i) for i in items])


def _static(services: Services, name: str) -> Path:
    return services.static_dir / name


@router.get("/admin", include_in_schema=False)
async def console(services: ServicesDep) -> FileResponse:
    """The operator console page (it asks for an admin key; nothing is shown without one)."""
    headers = {
        "Content-Security-Policy": CONSOLE_CSP,
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    }
    return FileResponse(
        _static(services, "admin.html"), media_type="text/html; charset=utf-8", headers=headers
    )


@router.get("/admin/{asset}", include_in_schema=False)
async def console_asset(asset: str, services: ServicesDep) -> FileResponse:
    """The console's script and style sheet."""
    if asset not in _ASSETS:
        raise ApiError(404, "not_found", f"no console asset {asset!r}")
    return FileResponse(
        _static(services, asset), media_type=_ASSETS[asset], headers={"Cache-Control": "no-cache"}
    )
