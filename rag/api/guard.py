"""`RequestGuard`: ASGI middleware that refuses bad callers and oversized bodies before the app reads them.

FastAPI reads and parses a request body before it resolves the dependencies that check the API key, so
without this guard an unauthenticated caller could make the server buffer and parse any number of
bytes (three 300 MB bodies with a bogus key took a server from 1.26 to 3.27 GB). The guard runs first,
from the headers alone:

1. on `/v1/...` it authenticates the caller (`authenticate`): a wrong, malformed or missing (when
   anonymous access is off) key or a refused sign-in token is answered 401 without reading a byte of the
   body (tokens are checked in a worker thread: the provider's keys may have to be fetched);
2. a `Content-Length` above `api.limits.max_body_bytes` is answered 413 at once; a body without one
   (chunked) is counted as it arrives and cut off with 413 as soon as it passes the cap, so at most the
   cap is ever held in memory;
3. a JSON body nested deeper than `api.limits.max_json_depth` is answered 400 (Python's parser recurses
   per level).

The body that passes is handed to the app unchanged. Every refusal is `{"error": {"code", "message"}}`.
"""

from __future__ import annotations

import json
import re

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rag.api.deps import ApiLimits
from rag.api.keystore import KeyStore
from rag.api.oidc import OidcVerifier, looks_like_jwt
from rag.api.security import AuthError, SecuritySettings, authenticate

_PROTECTED_PREFIX = "/v1/"
_BODYLESS = frozenset({"GET", "HEAD", "OPTIONS"})
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")


def json_depth(data: bytes) -> int:
    """The deepest nesting of arrays/objects in a JSON text (strings skipped; no parsing, no recursion)."""
    depth = deepest = 0
    for m in _BRACKET.finditer(_JSON_STRING.sub(b'""', data)):
        if m.group(0) in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def error_message(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> list[Message]:
    """The ASGI messages of a JSON error response in the API's error shape (the connection is closed)."""
    body = json.dumps({"error": {"code": code, "message": message}}, ensure_ascii=False).encode()
    raw = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
        *((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()),
    ]
    return [
        {"type": "http.response.start", "status": status, "headers": raw},
        {"type": "http.response.body", "body": body, "more_body": False},
    ]


class RequestGuard:
    """Pure ASGI middleware: auth from headers on protected routes, body-size cap, JSON depth cap."""

    def __init__(
        self,
        app: ASGIApp,
        security: SecuritySettings,
        limits: ApiLimits,
        keys: KeyStore | None = None,
        oidc: OidcVerifier | None = None,
    ) -> None:
        self.app = app
        self.security = security
        self.limits = limits
        self.keys = keys
        self.oidc = oidc

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse what can be refused from the headers, read the body under the cap, then call the app."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: dict[str, str] = {}
        for raw_name, raw_value in scope.get("headers", ()):
            name = raw_name.decode("latin-1").lower()
            headers.setdefault(name, raw_value.decode("latin-1"))
        method = scope.get("method", "GET")
        refusal = await self._refuse_caller(scope.get("path", ""), method, headers)
        refusal = refusal or self._refuse_from_headers(headers)
        if refusal is not None:
            await self._send(send, refusal)
            return
        if method in _BODYLESS and "content-length" not in headers and "transfer-encoding" not in headers:
            await self.app(scope, receive, send)
            return
        body, refusal = await self._read_body(receive)
        if refusal is not None:
            await self._send(send, refusal)
            return
        if body is None:  # the client went away
            return
        if body and "json" in headers.get("content-type", ""):
            depth = json_depth(body)
            if depth > self.limits.max_json_depth:
                msg = (
                    f"the JSON body is nested {depth} levels deep; the limit is {self.limits.max_json_depth} "
                    "(api.limits.max_json_depth)"
                )
                await self._send(send, error_message(400, "json_too_deep", msg))
                return
        await self.app(scope, _replay(body, receive), send)

    async def _refuse_caller(self, path: str, method: str, headers: dict[str, str]) -> list[Message] | None:
        if not path.startswith(_PROTECTED_PREFIX) or method == "OPTIONS":
            return None
        authorization, x_api_key = headers.get("authorization"), headers.get("x-api-key")

        def check() -> None:
            authenticate(authorization, x_api_key, self.security, self.keys, self.oidc)

        presented = (authorization or x_api_key or "").strip().rpartition(" ")[2]
        try:
            if self.oidc is not None and looks_like_jwt(presented):
                await anyio.to_thread.run_sync(check)
            else:
                check()
        except AuthError as exc:
            return error_message(exc.status, exc.code, str(exc), exc.headers)
        return None

    def _refuse_from_headers(self, headers: dict[str, str]) -> list[Message] | None:
        length = headers.get("content-length")
        if length is not None:
            if not length.strip().isdigit():
                return error_message(
                    400, "bad_request", f"Content-Length {length!r} is not a number of bytes"
                )
            if int(length) > self.limits.max_body_bytes:
                return self._too_large(int(length))
        return None

    def _too_large(self, size: int | None) -> list[Message]:
        cap = self.limits.max_body_bytes
        what = f"{size:,} bytes" if size is not None else f"more than {cap:,} bytes"
        return error_message(
            413,
            "body_too_large",
            f"the request body is {what}; the limit is {cap:,} (api.limits.max_body_bytes)",
        )

    async def _read_body(self, receive: Receive) -> tuple[bytes | None, list[Message] | None]:
        """The whole body if it fits under the cap; a 413 as soon as it does not (never buffered past it)."""
        cap = self.limits.max_body_bytes
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None, None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > cap:
                return None, self._too_large(None)
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks), None

    @staticmethod
    async def _send(send: Send, messages: list[Message]) -> None:
        for message in messages:
            await send(message)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the app the body already read, then defers to the server (disconnects)."""
    pending = True

    async def replay() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
