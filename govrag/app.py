"""`create_app(settings)`: the FastAPI application factory (composition root of the HTTP API).

The index and the models are opened in the lifespan and hung on `app.state.services`; routes receive
them through dependencies. A missing index does not stop the server: queries answer 503 with the
command that builds it, and `/readyz` says not ready.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse

import govrag
from govrag.components import Components, open_components, open_query_stack
from govrag.settings import Settings
from indices.errors import IndexError_, IndexNotFoundError
from indices.ingest_runs import IngestRunLog
from indices.registry import open_index
from indices.sparse import SparseEncoder
from indices.text_embedder import TextEmbedder
from indices.vector_index import VectorIndex
from rag.api.admin_routes import router as admin_router
from rag.api.audit import open_audit_log
from rag.api.deps import Services
from rag.api.errors import install_error_handlers
from rag.api.guard import RequestGuard
from rag.api.keystore import KeyStore
from rag.api.metrics import Metrics
from rag.api.oidc import OidcVerifier
from rag.api.openapi import document_limits
from rag.api.ratelimit import RateLimiter
from rag.api.routes import router
from rag.api.security import check_production
from rag.api.settings import ApiSettings
from rag.api.shared_limits import RedisRateLimiter
from rag.retrieval import Retriever

logger = logging.getLogger(__name__)


class InsecureSettingsError(RuntimeError):
    """Production mode with insecure defaults (anonymous access, open CORS, no keys)."""


#: An absolute path or file URI inside a message (never shown to API callers: issue 10).
_PATH = re.compile(r"(?<![\w:/.])(?:file://)?/[^\s;,()'\"]+")


def public_message(message: str) -> str:
    """`message` without the server's paths, for API callers (`/readyz`, 503 errors)."""
    return _PATH.sub("<path>", message)


def _index_health(index: VectorIndex) -> str:
    """The quick integrity check of the open index: "" when healthy, else a path-free problem."""
    try:
        report = index.check(quick=True)
    except NotImplementedError:
        return ""
    except IndexError_ as exc:
        return public_message(str(exc))
    return "" if report.ok else public_message(f"the index is damaged: {report.summary()}")


def _static_dir() -> Path:
    return Path(str(resources.files("rag").joinpath("static")))


def _open_components(
    settings: Settings, embedder: TextEmbedder | None, sparse: SparseEncoder | None
) -> Components:
    """The configured components; models already loaded by the caller are reused (tests, benchmarks)."""
    if embedder is None or sparse is None:
        return open_components(settings, create=False)
    index = open_index(settings.index, embedder.identity, settings.home, create=False)
    return Components(embedder=embedder, sparse=sparse, index=index)


def _warm_up(retriever: Retriever) -> None:
    """Load what loads lazily (language-id model, first forward pass) so the first caller does not wait."""
    t0 = time.perf_counter()
    retriever.detector.detect("warm-up question")
    retriever.embedder.embed_queries(["warm-up question"])
    logger.info("models warmed up in %.0f ms", (time.perf_counter() - t0) * 1000)


def _limiter(api: ApiSettings) -> RateLimiter | RedisRateLimiter:
    """In-process buckets, or buckets shared by every replica through Redis (`api.rate_limit`)."""
    if api.rate_limit.backend == "redis":
        return RedisRateLimiter(api.rate_limit, api.security.rate_per_minute, burst=api.rate_burst)
    return RateLimiter(api.security.rate_per_minute, burst=api.rate_burst)


def _open_services(
    settings: Settings, embedder: TextEmbedder | None = None, sparse: SparseEncoder | None = None
) -> Services:
    api = settings.api
    audit = open_audit_log(api.audit, settings.home)
    services = Services(
        security=api.security,
        limits=api.limits,
        limiter=_limiter(api),
        metrics=Metrics(),
        audit=audit,
        static_dir=_static_dir(),
        public_urls=dict(api.public_urls),
    )
    try:
        comps = _open_components(settings, embedder, sparse)
    except IndexNotFoundError as exc:
        services.index_problem = public_message(str(exc))
        logger.warning("no index yet: %s", exc)
        return services
    except IndexError_ as exc:
        services.index_problem = public_message(str(exc))
        logger.error("index cannot be opened: %s", exc)
        return services
    # Concurrent requests share forward passes of the model (rag.embed_batcher).
    stack = open_query_stack(settings, comps, embed_batch=api.embed_batch)
    _warm_up(stack.retriever)
    services.index = stack.index
    services.index_check = lambda: _index_health(stack.index)
    services.retriever = stack.retriever
    services.answerer = stack.answerer
    services.answers = stack.answers
    services.metrics.set_documents(stack.index.count_documents())
    return services


def _offline_docs(app: FastAPI) -> None:
    """`/docs`: Swagger UI from the `swagger-ui-bundle` package, so it works on an intranet offline."""
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.staticfiles import StaticFiles
    from swagger_ui_bundle import swagger_ui_path

    app.mount("/docs-assets", StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> Response:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} API",
            swagger_js_url="docs-assets/swagger-ui-bundle.js",
            swagger_css_url="docs-assets/swagger-ui.css",
            swagger_favicon_url="docs-assets/favicon-32x32.png",
        )


def create_app(
    settings: Settings, *, embedder: TextEmbedder | None = None, sparse: SparseEncoder | None = None
) -> FastAPI:
    """Build the API for these settings (nothing is opened until the app starts).

    `embedder`/`sparse` reuse models this process already loaded (tests and benchmarks start several apps);
    by default the app loads its own from the settings.
    """
    keys = KeyStore.in_home(settings.home)  # `govrag keys`; read on each request, so new keys work at once
    oidc = OidcVerifier.from_settings(settings.api.oidc)  # officer sign-in; its key cache lives with the app
    problems = check_production(
        settings.environment, settings.api.security, keys.count_active(), settings.api.oidc
    )
    if problems and settings.environment == "production":
        raise InsecureSettingsError("refusing to start in production: " + "; ".join(problems))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = _open_services(settings, embedder, sparse)
        services.keys = keys
        services.oidc = oidc
        app.state.services = services
        try:
            yield
        finally:
            if services.answerer is not None:
                await services.answerer.aclose()
            if services.index is not None:
                services.index.close()
            if services.audit is not None:
                services.audit.close()
            keys.close()

    app = FastAPI(
        title="govrag",
        version=govrag.__version__,
        description="Answers with checkable citations over government documents.",
        lifespan=lifespan,
        docs_url=None,  # served below from the bundled Swagger UI: FastAPI's default loads it from a CDN
        redoc_url=None,
    )
    _offline_docs(app)
    document_limits(app, settings.api.limits)
    # Innermost of the middlewares added here (CORS answers preflights before it): keys and body size are
    # checked from the headers, before a byte of the body is read (rag.api.guard).
    app.add_middleware(
        RequestGuard, security=settings.api.security, limits=settings.api.limits, keys=keys, oidc=oidc
    )
    if settings.api.security.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.api.security.cors_origins,
            allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "X-API-Key"],
            expose_headers=["Retry-After"],
            max_age=600,
        )

    @app.middleware("http")
    async def observe(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        t0 = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        elapsed = time.perf_counter() - t0
        services = getattr(request.app.state, "services", None)
        if services is not None:
            services.metrics.observe_request(path, request.method, response.status_code, elapsed)
        logger.info(
            "request",
            extra={
                "path": path,
                "method": request.method,
                "status": response.status_code,
                "duration_ms": round(elapsed * 1000, 1),
            },
        )
        return response

    install_error_handlers(app)

    @app.exception_handler(IndexError_)
    async def index_error(request: Request, exc: IndexError_) -> JSONResponse:
        # A damaged or vanished index found while serving: 503 with what is wrong, never a server path.
        logger.error("index error while serving %s: %s", request.url.path, exc)
        message = f"the index cannot be read: {public_message(str(exc))}"
        return JSONResponse({"error": {"code": "index_unavailable", "message": message}}, status_code=503)

    app.include_router(router)
    app.include_router(admin_router)
    app.state.ingest_runs = IngestRunLog.in_home(settings.home)  # written by `govrag ingest`
    return app
