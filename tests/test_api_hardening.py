"""The API under hostile or careless input: body limits, validation, one error shape (issue 10, items 2, 8).

What matters for the body limits is what the app did *not* read, so those tests drive the ASGI app
directly with a `receive` that counts what was taken; the memory of a real server under oversized bodies
is measured in `test_api_body_memory.py`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from api_support import SampleIndex, api_keys, api_settings, app_client, bearer, clone_home

pytest_plugins = ["api_fixtures"]

KIB = 1024


@pytest.fixture(scope="module")
def settings(sample_index: SampleIndex, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Test keys, anonymous callers allowed, default limits (64 KiB bodies, JSON depth 32)."""
    home = clone_home(sample_index.home, tmp_path_factory.mktemp("hardening-home"))
    return api_settings(home, api={"security": {"api_keys": api_keys(), "anonymous_rate_per_minute": 0}})


@pytest.fixture(scope="module")
def client(settings: Any, embedder: Any, sparse_encoder: Any) -> Iterator[Any]:
    with app_client(settings, embedder, sparse_encoder) as c:
        yield c


# ---- bodies are refused before they are read ---------------------------------------------------------------


class _Body:
    """An ASGI `receive` that serves `total` bytes in `chunk`-sized messages and counts what was taken."""

    def __init__(self, total: int, chunk: int = 16 * KIB) -> None:
        self.total, self.chunk, self.taken, self.calls = total, chunk, 0, 0

    async def __call__(self) -> dict[str, Any]:
        self.calls += 1
        n = min(self.chunk, self.total - self.taken)
        self.taken += n
        return {"type": "http.request", "body": b"x" * n, "more_body": self.taken < self.total}


def _call(
    app: Any, headers: dict[str, str], receive: Any, path: str = "/v1/query"
) -> tuple[int, dict[str, Any]]:
    """One POST through the ASGI app (no lifespan: the guard answers before any route runs)."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 8080),
    }  # fmt: skip
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    import json

    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], json.loads(body)


def test_a_bogus_key_is_refused_without_reading_the_body(
    settings: Any, embedder: Any, sparse_encoder: Any
) -> None:
    from govrag.app import create_app

    app = create_app(settings, embedder=embedder, sparse=sparse_encoder)
    huge = _Body(300 * 1024 * KIB)
    status, body = _call(
        app,
        {
            "authorization": "Bearer not-a-key",
            "content-type": "application/json",
            "content-length": str(huge.total),
        },
        huge,
    )
    assert (status, body["error"]["code"]) == (401, "unauthorized")
    assert body["error"]["message"] == "invalid API key"
    assert huge.calls == 0  # not one byte read


def test_bodies_over_the_cap_are_413_before_buffering_past_it(
    settings: Any, embedder: Any, sparse_encoder: Any
) -> None:
    from govrag.app import create_app

    app = create_app(settings, embedder=embedder, sparse=sparse_encoder)
    cap = settings.api.limits.max_body_bytes
    assert cap == 64 * KIB
    declared = _Body(50 * 1024 * KIB)
    status, body = _call(
        app, {"content-type": "application/json", "content-length": str(declared.total)}, declared
    )
    assert (status, body["error"]["code"]) == (413, "body_too_large")
    assert body["error"]["message"] == (
        "the request body is 52,428,800 bytes; the limit is 65,536 (api.limits.max_body_bytes)"
    )
    assert declared.calls == 0
    chunked = _Body(50 * 1024 * KIB)  # no Content-Length: counted as it arrives
    status, body = _call(app, {"content-type": "application/json", "transfer-encoding": "chunked"}, chunked)
    assert (status, body["error"]["code"]) == (413, "body_too_large")
    assert "more than 65,536 bytes" in body["error"]["message"]
    assert chunked.taken <= cap + chunked.chunk  # stopped at the first chunk past the cap


def test_bodies_under_the_cap_reach_the_app_intact(client: Any) -> None:
    question = "How much does it cost to renew a passport? " + " " * 40_000  # ~40 KB, stripped by validation
    r = client.post("/v1/search", json={"query": question})
    assert r.status_code == 200, r.text
    assert r.json()["query"] == question.strip()


def test_deeply_nested_json_is_400(client: Any) -> None:
    deep = '{"question": "passport", "filters": {"doc_ids": ' + "[" * 200 + "]" * 200 + "}}"
    r = client.post("/v1/query", content=deep, headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.json()["error"] == {
        "code": "json_too_deep",
        "message": "the JSON body is nested 202 levels deep; the limit is 32 (api.limits.max_json_depth)",
    }
    # Brackets inside strings are text, not nesting.
    r = client.post("/v1/search", json={"query": "passport " + "[" * 100})
    assert r.status_code == 200, r.text


# ---- validation --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("blank", ["   ", "\u200b\u200b", " \ufeff\u200d\t\n", "\u2060\u00ad"])
def test_blank_or_invisible_questions_are_422(client: Any, blank: str) -> None:
    for path, field in (("/v1/query", "question"), ("/v1/search", "query")):
        r = client.post(path, json={field: blank})
        assert r.status_code == 422, (path, blank, r.text)
        assert r.json()["error"]["code"] == "invalid_request"
        assert r.json()["error"]["message"].startswith(f"{field}: Value error, must contain visible text")


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_dates_must_be_finite(client: Any, value: str) -> None:
    raw = '{"question": "passport fee", "filters": {"date_from": ' + value + "}}"
    r = client.post("/v1/query", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["message"] == "filters.date_from: Input should be a finite number"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"stream": 0}, "stream: Input should be a valid boolean"),
        ({"stream": "true"}, "stream: Input should be a valid boolean"),
        ({"top_k": "5"}, "top_k: Input should be a valid integer"),
        ({"top_k": 5.0}, "top_k: Input should be a valid integer"),
    ],
)
def test_types_are_strict(client: Any, extra: dict[str, Any], message: str) -> None:
    r = client.post("/v1/query", json={"question": "passport fee", **extra})
    assert r.status_code == 422, r.text
    assert r.json()["error"] == {"code": "invalid_request", "message": message}


# ---- one error shape ---------------------------------------------------------------------------------------


def test_truncated_json_says_so(client: Any) -> None:
    r = client.post(
        "/v1/query",
        content='{"question": "passport fee", "top_k":',
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["code"] == "invalid_json"
    assert error["message"].startswith("the request body is not valid JSON: Expecting value at character")
    assert error["message"].endswith("(the body ends early: was it truncated?)")
    r = client.post("/v1/query", content="question=passport", headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert "truncated" not in r.json()["error"]["message"]


def test_framework_errors_use_the_error_shape(client: Any) -> None:
    r = client.get("/v1/nothing-here")
    assert (r.status_code, r.json()) == (404, {"error": {"code": "not_found", "message": "Not Found"}})
    r = client.get("/v1/query")
    assert r.status_code == 405
    assert r.json() == {"error": {"code": "method_not_allowed", "message": "Method Not Allowed"}}
    r = client.post("/v1/query", content=b"x" * (65 * KIB), headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "body_too_large"
    r = client.post("/v1/query", json={"question": "passport"}, headers={"Authorization": "Basic abc"})
    assert r.status_code == 401
    assert r.json()["error"]["message"] == "the Authorization header must be 'Bearer <API key>'"
    for r in (client.get("/v1/documents", headers=bearer("public")), client.post("/v1/feedback", json={})):
        assert "detail" not in r.json()
        assert set(r.json()["error"]) == {"code", "message"}


def test_openapi_documents_every_status_and_limit(client: Any) -> None:
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    error_ref = {"$ref": "#/components/schemas/ErrorResponse"}
    expected = {
        ("/v1/query", "post"): {"400", "401", "403", "405", "413", "422", "429", "500", "503"},
        ("/v1/search", "post"): {"400", "401", "403", "405", "413", "422", "429", "500", "503"},
        ("/v1/feedback", "post"): {"400", "401", "403", "404", "405", "413", "422", "429", "500"},
        ("/v1/documents", "get"): {"401", "403", "405", "422", "429", "500", "503"},
        ("/v1/documents/{doc_id}", "get"): {"401", "403", "404", "405", "422", "429", "500", "503"},
        ("/v1/documents/{doc_id}", "delete"): {"401", "403", "404", "405", "422", "429", "500", "503"},
    }
    for (path, method), statuses in expected.items():
        responses = paths[path][method]["responses"]
        assert set(responses) - {"200"} == statuses, (path, method)
        for status in statuses:
            assert responses[status]["content"]["application/json"]["schema"] == error_ref, (path, status)
    models = schema["components"]["schemas"]
    assert "HTTPValidationError" not in models
    query = models["QueryRequest"]["properties"]
    assert query["question"]["maxLength"] == 2000
    assert {"type": "integer", "minimum": 1, "maximum": 20} in query["top_k"]["anyOf"]
    assert query["history"]["maxItems"] == 20
    assert models["SearchRequest"]["properties"]["top_k"]["maximum"] == 20
    limit = next(p for p in paths["/v1/documents"]["get"]["parameters"] if p["name"] == "limit")
    assert limit["schema"]["maximum"] == 500
    assert schema["info"]["x-limits"]["max_body_bytes"] == 65536
    metrics = paths["/metrics"]["get"]["responses"]["200"]["content"]
    assert list(metrics) == ["text/plain"]
