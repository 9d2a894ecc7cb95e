"""Every error the API answers, in one shape: `{"error": {"code": "...", "message": "..."}}`.

FastAPI answers its own errors as `{"detail": ...}` (unknown route 404, wrong method 405, validation 422)
and an unexpected exception as plain text; `install_error_handlers` routes all of them through the
documented shape, so a client (the widget included) has one thing to parse. The messages say what to fix:
a body that is not JSON names the parser's complaint and where (and hints at truncation when it ended
early), a validation error names the field.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from rag.api.deps import ApiError, http_error

logger = logging.getLogger(__name__)


def _json_problem(err: dict[str, Any], body: Any) -> str:
    """A clear message for a body the JSON parser refused."""
    reason = str((err.get("ctx") or {}).get("error") or "not JSON")
    loc = err.get("loc", ())
    pos = loc[-1] if loc and isinstance(loc[-1], int) else None
    where = f" at character {pos}" if pos is not None else ""
    size = len(body) if isinstance(body, bytes | str) else None
    truncated = pos is not None and size is not None and pos >= size - 1
    hint = " (the body ends early: was it truncated?)" if truncated else ""
    return f"the request body is not valid JSON: {reason}{where}{hint}"


def _field_problem(err: dict[str, Any]) -> str:
    loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
    return f"{loc or 'body'}: {err.get('msg')}"


def error_body(code: str, message: str) -> dict[str, Any]:
    """The JSON of an error response."""
    return {"error": {"code": code, "message": message}}


def install_error_handlers(app: FastAPI) -> None:
    """Answer every error of `app` as `{"error": {"code", "message"}}` (see the module docstring)."""

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(error_body(exc.code, exc.message), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_exception(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            http_error(exc.status_code, exc.detail), status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = list(exc.errors())
        decode = [e for e in errors if e.get("type") == "json_invalid"]
        if decode:
            return JSONResponse(
                error_body("invalid_json", _json_problem(decode[0], exc.body)), status_code=400
            )
        message = "; ".join(_field_problem(e) for e in errors)
        return JSONResponse(error_body("invalid_request", message), status_code=422)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return JSONResponse(
            error_body("internal", f"the server failed to answer ({type(exc).__name__}); it has been logged"),
            status_code=500,
        )
