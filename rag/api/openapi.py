"""The OpenAPI schema as callers need it: every status a route can answer, and the configured limits.

Routes declare their error statuses with `errors(...)` (each documented with `ErrorResponse`); the limits
come from settings (`api.limits`), so `document_limits` writes them into the generated schema (question
and history length, `top_k`, page size, body size) where a client generator or a fuzzer reads them.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from rag.api.deps import ApiLimits
from rag.api.schemas import ErrorResponse

_MEANING = {
    400: "The body is not valid JSON, is nested too deeply, or a header is malformed.",
    401: "Missing, malformed or unknown API key, or a refused sign-in token (api.oidc).",
    403: "The key lacks the scope this route needs.",
    404: "No such route, document or answer (answers: only the caller's own).",
    405: "The route does not accept this method.",
    413: "The body, question or history is over its limit (api.limits).",
    422: "A field is missing, of the wrong type, or out of range.",
    429: "Rate limit exceeded; retry after the Retry-After header's seconds.",
    500: "Unexpected server failure (logged).",
    503: "No index is open yet (the message says how to build one), or the identity provider's signing "
    "keys cannot be fetched (code identity_provider_unavailable), or the shared rate-limit store is "
    "down with api.rate_limit.on_error=deny (code rate_limit_unavailable).",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: these statuses (plus 405 and 500, which any route can answer)."""
    return {s: {"model": ErrorResponse, "description": _MEANING[s]} for s in sorted({*statuses, 405, 500})}


def _limit(schema: dict[str, Any], key: str, value: int) -> None:
    """Set `key` on a property schema, inside `anyOf` branches of the right type too."""
    for branch in schema.get("anyOf", [schema]):
        if branch.get("type") in ("integer", "string", "array"):
            branch[key] = value


def document_limits(app: FastAPI, limits: ApiLimits) -> None:
    """Make `app.openapi()` carry the configured limits (generated once, then cached by FastAPI)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        models = schema.get("components", {}).get("schemas", {})
        for name, text_field in (("QueryRequest", "question"), ("SearchRequest", "query")):
            props = models.get(name, {}).get("properties", {})
            if text_field in props:
                _limit(props[text_field], "maxLength", limits.max_question_chars)
            if "top_k" in props:
                _limit(props["top_k"], "maximum", limits.max_top_k)
        history = models.get("QueryRequest", {}).get("properties", {}).get("history")
        if history is not None:
            _limit(history, "maxItems", limits.max_history_turns)
        for operation in schema.get("paths", {}).get("/v1/documents", {}).values():
            for param in operation.get("parameters", []):
                if param.get("name") == "limit":
                    _limit(param["schema"], "maximum", limits.max_page_size)
        schema.setdefault("info", {})["x-limits"] = limits.model_dump()
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
