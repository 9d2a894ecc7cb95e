"""`create_app(settings)`: the FastAPI application factory (composition root of the HTTP API).

The index and the models are opened in the lifespan and hung on `app.state.services`; routes receive
them through dependencies. A missing index does not stop the server: queries answer 503 with the
command that builds it, and `/readyz` says not ready.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import cast

from fastapi import FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware

import govrag
from govrag.components import Components, make_retriever, open_components
from govrag.settings import Settings
from indices.embedder import Embedder
from indices.errors import IndexError_, IndexNotFoundError
from indices.registry import open_index
from indices.sparse import SparseEncoder
from rag.answering import AnswerService
from rag.api.audit import SqliteAuditLog
from rag.api.deps import Services
from rag.api.errors import install_error_handlers
from rag.api.guard import RequestGuard
from rag.api.metrics import Metrics
from rag.api.openapi import document_limits
from rag.api.ratelimit import RateLimiter
from rag.api.routes import router
from rag.api.security import check_production
from rag.embed_batcher import BatchingEmbedder
from rag.generators import build_generator
from rag.prompting import PromptBuilder, TokenCounter
from rag.retrieval import Retriever

logger = logging.getLogger(__name__)


class InsecureSettingsError(RuntimeError):
    """Production mode with insecure defaults (anonymous access, open CORS, no keys)."""


def _static_dir() -> Path:
    return Path(str(resources.files("rag").joinpath("static")))


def _open_components(
    settings: Settings, embedder: Embedder | None, sparse: SparseEncoder | None
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


def _open_services(
    settings: Settings, embedder: Embedder | None = None, sparse: SparseEncoder | None = None
) -> Services:
    api = settings.api
    audit = SqliteAuditLog.from_settings(api.audit, settings.home)
    services = Services(
        security=api.security,
        limits=api.limits,
        limiter=RateLimiter(api.security.rate_per_minute, burst=api.rate_burst),
        metrics=Metrics(),
        audit=audit,
        static_dir=_static_dir(),
        public_urls=dict(api.public_urls),
    )
    try:
        comps = _open_components(settings, embedder, sparse)
    except IndexNotFoundError as exc:
        services.index_problem = str(exc)
        logger.warning("no index yet: %s", exc)
        return services
    except IndexError_ as exc:
        services.index_problem = str(exc)
        logger.error("index cannot be opened: %s", exc)
        return services
    index = comps.index
    assert index is not None  # opened with with_index=True
    generator = build_generator(settings.generator)
    # Concurrent requests share forward passes of the model (rag.embed_batcher).
    embedder = cast(Embedder, BatchingEmbedder(comps.embedder, max_items=api.embed_batch))
    retriever = make_retriever(settings, comps, embedder)
    prompts = PromptBuilder(settings.answer.prompt, TokenCounter(settings.answer.prompt.tokenizer))
    _warm_up(retriever)
    services.index = index
    services.retriever = retriever
    services.generator = generator
    services.answers = AnswerService(settings.answer, retriever, embedder, prompts, generator)
    services.metrics.set_documents(index.count_documents())
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
    settings: Settings, *, embedder: Embedder | None = None, sparse: SparseEncoder | None = None
) -> FastAPI:
    """Build the API for these settings (nothing is opened until the app starts).

    `embedder`/`sparse` reuse models this process already loaded (tests and benchmarks start several apps);
    by default the app loads its own from the settings.
    """
    problems = check_production(settings.environment, settings.api.security)
    if problems and settings.environment == "production":
        raise InsecureSettingsError("refusing to start in production: " + "; ".join(problems))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = _open_services(settings, embedder, sparse)
        app.state.services = services
        try:
            yield
        finally:
            if services.generator is not None:
                await services.generator.aclose()
            if services.index is not None:
                services.index.close()
            if services.audit is not None:
                services.audit.close()

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
    app.add_middleware(RequestGuard, security=settings.api.security, limits=settings.api.limits)
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
    app.include_router(router)
    return app
