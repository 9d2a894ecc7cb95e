"""HTTP routes. Thin: validate limits, call the services, shape the response."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import anyio
from fastapi import APIRouter, Query, Response
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, StreamingResponse

from indices.schema import SearchFilter, SearchMode
from rag.answering import Answer, Question
from rag.api.deps import AdminDep, ApiError, MetricsAccessDep, QueryCallerDep, Services, ServicesDep
from rag.api.exposure import public_source
from rag.api.openapi import errors
from rag.api.schemas import (
    ChunkOut,
    CitationOut,
    DocumentDetail,
    DocumentList,
    DocumentOut,
    FeedbackRequest,
    Filters,
    QueryRequest,
    QueryResponse,
    SearchHitOut,
    SearchRequest,
    SearchResponse,
)
from rag.api.security import Principal
from rag.api.shared_limits import RedisRateLimiter
from rag.versions import as_of_timestamp

logger = logging.getLogger(__name__)
router = APIRouter()


def _check_limits(
    services: Services, question: str, top_k: int | None, history_len: int = 0, history_chars: int = 0
) -> None:
    lim = services.limits
    if len(question) > lim.max_question_chars:
        raise ApiError(
            413,
            "question_too_long",
            f"question is {len(question):,} characters; the limit is {lim.max_question_chars:,} "
            "(api.limits.max_question_chars)",
        )
    if top_k is not None and top_k > lim.max_top_k:
        raise ApiError(
            422, "top_k_too_large", f"top_k is {top_k}; the limit is {lim.max_top_k} (api.limits.max_top_k)"
        )
    if history_len > lim.max_history_turns:
        raise ApiError(
            413,
            "history_too_long",
            f"history has {history_len} turns; the limit is {lim.max_history_turns} "
            "(api.limits.max_history_turns)",
        )
    if history_chars > lim.max_history_chars:
        raise ApiError(
            413,
            "history_too_long",
            f"history has {history_chars:,} characters; the limit is {lim.max_history_chars:,} "
            "(api.limits.max_history_chars)",
        )


def _global_admin(caller: Principal) -> bool:
    """An admin key bound to no agency; an agency's admin administers that agency's documents only."""
    return "admin" in caller.scopes and caller.agency is None


def _groups(caller: Principal) -> list[str] | None:
    """Global admins see everything; everyone else (an agency's admin too, when asking questions) only
    documents sharing one of their groups."""
    return None if _global_admin(caller) else list(caller.groups)


def _admin_agency(admin: Principal, asked: str | None = None) -> str | None:
    """The agency an admin's document commands are limited to (None: all); another agency is a 403."""
    if admin.agency is None:
        return asked
    if asked is not None and asked != admin.agency:
        raise ApiError(
            403, "forbidden", f"key {admin.name!r} administers the documents of {admin.agency!r} only"
        )
    return admin.agency


def _filter(filters: Filters, caller: Principal) -> SearchFilter:
    agency = filters.agency
    return SearchFilter(
        agencies=[agency] if agency else None,
        langs=[filters.lang] if filters.lang else None,
        doc_ids=filters.doc_ids,
        groups=_groups(caller),
        date_from=filters.date_from,
        date_to=filters.date_to,
    )


def _source_view(services: Services, caller: Principal | None) -> Any:
    """How sources are shown to `caller`: in full to admins (and the CLI), else `public_source`."""
    if caller is None or _global_admin(caller):
        return lambda source, root: source
    return lambda source, root: public_source(source, root, services.public_urls)


def query_response(answer: Answer, show: Any = None) -> QueryResponse:
    """The API form of an answer (also printed by `govrag ask --json`); `show(source, root)` is how
    sources appear (default: in full)."""
    roots = {h.record.doc_id: h.record.root for h in answer.sources}
    view = show or (lambda source, root: source)
    return QueryResponse(
        query_id=answer.query_id,
        answer=answer.answer,
        language=answer.language,
        citations=[
            CitationOut(
                n=c.n,
                doc_id=c.doc_id,
                title=c.title,
                source=view(c.source, roots.get(c.doc_id, "")),
                page=c.page,
                section=c.section,
                quote=c.quote,
                lang=c.lang,
                score=c.score,
                attributed=c.attributed,
                doc_date=c.doc_date,
                effective_from=c.effective_from,
                superseded=c.superseded,
                superseded_by=c.superseded_by,
            )
            for c in answer.citations
        ],
        grounded=answer.grounded,
        refused=answer.refused,
        generator=answer.generator,
        timings={k: round(v, 2) for k, v in answer.timings.items()},
        scores=answer.scores,
        warnings=answer.warnings,
    )


async def _after_answer(
    services: Services, caller: Principal, answer: Answer, asked_agency: str | None = None
) -> None:
    services.metrics.observe_query(answer.generator, answer.grounded, answer.refused)
    if services.answerer is not None:
        for kind in answer.generator_errors:
            services.metrics.observe_generator_error(services.answerer.name, kind)
    if services.audit is not None:
        audit = services.audit
        await anyio.to_thread.run_sync(
            lambda: audit.record(
                query_id=answer.query_id,
                caller=caller.name,
                owner=caller.owner,
                agency=caller.agency,
                question=answer.question,
                language=answer.language,
                generator=answer.generator,
                grounded=answer.grounded,
                refused=answer.refused,
                cited_doc_ids=[c.doc_id for c in answer.citations],
                latency_ms=answer.timings.get("total_ms", 0.0),
                answer=answer.answer,
                citations=[
                    {"n": c.n, "doc_id": c.doc_id, "title": c.title, "page": c.page, "quote": c.quote}
                    for c in answer.citations
                ],
                asked_agency=asked_agency or caller.agency,
            )
        )


def _shown_sources(data: dict[str, Any], show: Any) -> dict[str, Any]:
    """The `sources` event with each source as `show` presents it (the ingest root is never sent)."""
    shown = []
    for item in data.get("sources", []):
        item = dict(item)
        item["source"] = show(item.get("source", ""), item.pop("root", ""))
        shown.append(item)
    return {**data, "sources": shown}


#: One Server-Sent Event of a streamed answer, as OpenAPI describes it (`data` is a JSON text).
_SSE_EVENT = {
    "type": "object",
    "description": "Events in order: `sources`, `token`..., then `done` (the full answer) or `error`.",
    "properties": {"event": {"type": "string"}, "data": {"type": "string"}},
    "required": ["event", "data"],
}


def _sse(event: str, data: Any) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


@router.post(
    "/v1/query",
    response_model=QueryResponse,
    tags=["query"],
    responses={
        200: {"content": {"text/event-stream": {"schema": _SSE_EVENT}}},
        **errors(400, 401, 403, 413, 422, 429, 503),
    },
)
async def query(body: QueryRequest, services: ServicesDep, caller: QueryCallerDep) -> Any:
    """Answer a question with verified citations; `stream: true` answers with Server-Sent Events."""
    history_chars = sum(len(t.content) for t in body.history)
    _check_limits(services, body.question, body.top_k, len(body.history), history_chars)
    _, answers, _ = services.require_index()
    flt = _filter(body.filters, caller)
    q = Question(
        text=body.question.strip(),
        history=[t.model_dump() for t in body.history],
        agency=body.filters.agency,
        lang=body.filters.lang,
        doc_ids=body.filters.doc_ids,
        date_from=body.filters.date_from,
        date_to=body.filters.date_to,
        top_k=body.top_k,
        groups=flt.groups,
        as_of=date.fromisoformat(body.as_of) if body.as_of else None,
    )
    show = _source_view(services, caller)
    if not body.stream:
        answer = await answers.answer(q)
        await _after_answer(services, caller, answer, body.filters.agency)
        return query_response(answer, show)

    async def events() -> AsyncIterator[bytes]:
        try:
            async for event, data in answers.stream(q):
                if event == "done":
                    answer: Answer = data["answer"]
                    await _after_answer(services, caller, answer, body.filters.agency)
                    yield _sse("done", query_response(answer, show).model_dump())
                elif event == "sources":
                    yield _sse(event, _shown_sources(data, show))
                else:
                    yield _sse(event, data)
        except Exception as exc:  # the stream has started: report in-band, never a broken socket
            logger.exception("query stream failed")
            yield _sse(
                "error", {"error": {"code": "internal", "message": f"answer failed: {type(exc).__name__}"}}
            )

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.post(
    "/v1/search",
    response_model=SearchResponse,
    tags=["query"],
    responses=errors(400, 401, 403, 413, 422, 429, 503),
)
async def search(body: SearchRequest, services: ServicesDep, caller: QueryCallerDep) -> SearchResponse:
    """Retrieval only: ranked chunks for a query, filtered by the caller's access groups."""
    _check_limits(services, body.query, body.top_k)
    retriever, _, _ = services.require_index()
    flt = _filter(body.filters, caller)
    t0 = time.perf_counter()
    res = await anyio.to_thread.run_sync(
        lambda: retriever.search(
            body.query,
            k=body.top_k,
            mode=SearchMode(body.mode),
            flt=flt,
            one_per_doc=body.one_per_doc,
            as_of=as_of_timestamp(date.fromisoformat(body.as_of)) if body.as_of else None,
        )
    )
    services.metrics.observe_retrieval(time.perf_counter() - t0)
    show = _source_view(services, caller)
    hits = [
        SearchHitOut(
            rank=i,
            score=round(h.score, 5),
            doc_id=h.record.doc_id,
            chunk_no=h.record.chunk_no,
            title=h.record.title,
            source=show(h.record.source, h.record.root),
            page=h.record.page,
            section=h.record.section,
            lang=h.record.lang,
            agency=h.record.agency,
            text=h.record.text,
            doc_date=h.record.doc_date,
            effective_from=h.record.effective_from,
            superseded=bool(note and note.superseded),
            superseded_by=note.replaced_by if note and note.superseded else None,
        )
        for i, h in enumerate(res.hits, start=1)
        for note in [res.versions.get(h.record.doc_id)]
    ]
    return SearchResponse(
        query=body.query,
        language=res.language,
        hits=hits,
        timings={k: round(v, 2) for k, v in res.timings_ms.items()},
    )


def _doc_out(d: Any) -> DocumentOut:
    return DocumentOut(
        doc_id=d.doc_id,
        title=d.title,
        source=d.source,
        lang=d.lang,
        agency=d.agency,
        groups=d.groups,
        n_chunks=d.n_chunks,
        ingested_at=d.ingested_at,
    )


@router.get(
    "/v1/documents", response_model=DocumentList, tags=["admin"], responses=errors(401, 403, 422, 429, 503)
)
async def list_documents(
    services: ServicesDep,
    admin: AdminDep,
    agency: str | None = None,
    lang: str | None = None,
    offset: int = Query(default=0, ge=0),
    limit: int = Query(default=100, ge=1),
) -> DocumentList:
    """Documents in the index (admin scope)."""
    if limit > services.limits.max_page_size:
        raise ApiError(
            422, "limit_too_large", f"limit is {limit}; the maximum is {services.limits.max_page_size}"
        )
    _, _, index = services.require_index()
    agency = _admin_agency(admin, agency)
    flt = SearchFilter(agencies=[agency] if agency else None, langs=[lang] if lang else None)

    def page() -> tuple[int, list[DocumentOut]]:
        docs = sorted(index.iter_documents(flt), key=lambda d: d.doc_id)
        return len(docs), [_doc_out(d) for d in docs[offset : offset + limit]]

    total, docs = await anyio.to_thread.run_sync(page)
    return DocumentList(total=total, documents=docs)


@router.get(
    "/v1/documents/{doc_id:path}",
    response_model=DocumentDetail,
    tags=["admin"],
    responses=errors(401, 403, 404, 422, 429, 503),
)
async def get_document(doc_id: str, services: ServicesDep, admin: AdminDep) -> DocumentDetail:
    """One document with its chunks (admin scope)."""
    _, _, index = services.require_index()
    chunks = await anyio.to_thread.run_sync(lambda: index.get_chunks(doc_id))
    if not chunks or _admin_agency(admin) not in (None, chunks[0].agency):  # another agency's: unknown
        raise ApiError(404, "not_found", f"no document with id {doc_id!r}")
    first = chunks[0]
    return DocumentDetail(
        doc_id=doc_id,
        title=first.title,
        source=first.source,
        lang=first.lang,
        agency=first.agency,
        groups=first.groups,
        n_chunks=len(chunks),
        ingested_at=first.ingested_at,
        chunks=[
            ChunkOut(chunk_no=c.chunk_no, text=c.text, page=c.page, section=c.section, lang=c.lang)
            for c in chunks
        ],
    )


@router.delete("/v1/documents/{doc_id:path}", tags=["admin"], responses=errors(401, 403, 404, 422, 429, 503))
async def delete_document(doc_id: str, services: ServicesDep, admin: AdminDep) -> dict[str, Any]:
    """Remove a document and all its chunks (admin scope)."""
    _, _, index = services.require_index()
    states = await anyio.to_thread.run_sync(lambda: index.document_states([doc_id]))
    own = _admin_agency(admin)
    if own is not None and doc_id in states:
        chunks = await anyio.to_thread.run_sync(lambda: index.get_chunks(doc_id))
        if not chunks or chunks[0].agency != own:  # another agency's document is answered as unknown
            states.pop(doc_id)
    if doc_id not in states:
        raise ApiError(404, "not_found", f"no document with id {doc_id!r}")
    await anyio.to_thread.run_sync(lambda: index.delete_documents([doc_id]))
    services.metrics.documents.dec()
    logger.info("document deleted by %s: %s", admin.name, doc_id)
    return {"deleted": doc_id, "chunks": states[doc_id].n_points}


@router.post("/v1/feedback", tags=["query"], responses=errors(400, 401, 403, 404, 413, 422, 429))
async def feedback(body: FeedbackRequest, services: ServicesDep, caller: QueryCallerDep) -> dict[str, str]:
    """Thumbs up/down on one of the caller's own answers, with an optional comment."""
    if services.audit is not None:
        audit = services.audit
        # Someone else's answer id is answered exactly like an unknown one: ids are not an oracle.
        if not await anyio.to_thread.run_sync(lambda: audit.owned_by(body.query_id, caller.owner)):
            raise ApiError(404, "not_found", f"no answer of yours with query_id {body.query_id!r}")
        await anyio.to_thread.run_sync(
            lambda: audit.record_feedback(body.query_id, body.rating, body.comment or "", caller.name)
        )
    services.metrics.observe_feedback(body.rating)
    return {"status": "recorded", "query_id": body.query_id}


@router.get("/healthz", tags=["ops"])
async def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/readyz", tags=["ops"], responses={503: {"description": "Not ready (checks say why)."}})
async def readyz(services: ServicesDep) -> JSONResponse:
    """Readiness: index open, generator reachable (when one is configured)."""
    checks: dict[str, Any] = {"index": services.index is not None}
    if services.index is None:
        checks["index_problem"] = services.index_problem
    elif services.index_check is not None:
        problem = await anyio.to_thread.run_sync(services.index_check)
        if problem:
            checks["index"], checks["index_problem"] = False, problem
    if services.answerer is not None:
        try:
            with anyio.fail_after(5):
                healthy = await services.answerer.health()
        except Exception:
            healthy = False
        if healthy is not None:  # None: extractive, no model server to check
            checks["generator"] = healthy
    store_down = False
    limiter = services.limiter
    if isinstance(limiter, RedisRateLimiter):  # shared rate limits: every replica needs the store
        checks["rate_limit_store"] = await anyio.to_thread.run_sync(limiter.ping)
        store_down = not checks["rate_limit_store"] and limiter.settings.on_error == "deny"
    ready = bool(checks["index"]) and checks.get("generator", True) is not False and not store_down
    # An unreachable LLM degrades to extractive answers: ready, but say so (likewise an unreachable
    # rate-limit store whose failures let requests through).
    status = 200 if checks["index"] and not store_down else 503
    return JSONResponse({"ready": ready, "checks": checks}, status_code=status)


@router.get(
    "/metrics",
    tags=["ops"],
    response_class=PlainTextResponse,
    responses={
        200: {
            "content": {"text/plain": {"schema": {"type": "string"}}},
            "description": "Prometheus text format.",
        },
        **errors(401, 422),
    },
)
async def metrics(services: ServicesDep, _access: MetricsAccessDep) -> Response:
    """Prometheus metrics (the metrics token or an admin key is needed when metrics_key_hash is set)."""
    body, ctype = services.metrics.render()
    return Response(content=body, media_type=ctype)


@router.get("/widget.js", include_in_schema=False)
async def widget(services: ServicesDep) -> FileResponse:
    """The `<govrag-chat>` web component."""
    return FileResponse(
        services.static_dir / "widget.js",
        media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": "public, max-age=3600"},
    )


@router.get("/", include_in_schema=False)
async def demo(services: ServicesDep) -> FileResponse:
    """Demo page embedding the widget."""
    return FileResponse(services.static_dir / "demo.html", media_type="text/html; charset=utf-8")
