"""Operating the API: admin document endpoints, authentication, CORS, rate limits, a missing index and the
production safety check; each through HTTP against the real app and a real embedded index."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_support import (
    FINANCE_DOC,
    FLOOD_PDF,
    FOLDER_AGENCIES,
    HR_DOC,
    KEYS,
    PASSPORT_EN,
    SampleIndex,
    api_keys,
    api_settings,
    app_client,
    bearer,
    clone_home,
)
from fastapi.testclient import TestClient

from rag.api.security import hash_key

pytest_plugins = ["api_fixtures"]

ORIGIN = "https://portal.example.gov"


@pytest.fixture(scope="module")
def home(sample_index: SampleIndex, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the sample data dir: this module deletes documents."""
    return clone_home(sample_index.home, tmp_path_factory.mktemp("admin-home"))


@pytest.fixture(scope="module")
def client(home: Path, embedder: Any, sparse_encoder: Any) -> Iterator[TestClient]:
    """Keys required (no anonymous access), one allowed browser origin."""
    settings = api_settings(
        home,
        api={"security": {"api_keys": api_keys(), "allow_anonymous": False, "cors_origins": [ORIGIN]}},
    )
    with app_client(settings, embedder, sparse_encoder) as c:
        yield c


def _error(r: Any) -> tuple[str, str]:
    body = r.json()["error"]
    return body["code"], body["message"]


# ---- authentication ----------------------------------------------------------------------------------------


def test_missing_wrong_and_malformed_keys_are_401(client: TestClient) -> None:
    r = client.post("/v1/search", json={"query": "passport"})
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert _error(r) == (
        "unauthorized",
        "an API key is required: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'.",
    )
    r = client.post("/v1/search", json={"query": "passport"}, headers={"Authorization": "Bearer grk_nope"})
    assert r.status_code == 401
    assert _error(r) == ("unauthorized", "invalid API key")
    r = client.post("/v1/search", json={"query": "passport"}, headers={"Authorization": KEYS["public"]})
    assert r.status_code == 401
    assert "Bearer <API key>" in _error(r)[1]
    r = client.post(
        "/v1/search",
        json={"query": "passport"},
        headers={"Authorization": f"Bearer {KEYS['public']}", "X-API-Key": KEYS["hr"]},
    )
    assert r.status_code == 401
    assert "different keys" in _error(r)[1]


def test_key_in_either_header_authenticates(client: TestClient) -> None:
    for headers in (bearer("public"), {"X-API-Key": KEYS["public"]}):
        r = client.post("/v1/search", json={"query": "passport renewal"}, headers=headers)
        assert r.status_code == 200, r.text
        assert PASSPORT_EN in {h["doc_id"] for h in r.json()["hits"]}


def test_scopes_separate_query_and_admin(client: TestClient) -> None:
    r = client.get("/v1/documents", headers=bearer("public"))
    assert r.status_code == 403
    assert _error(r) == ("forbidden", "key 'citizen-portal' lacks the 'admin' scope")
    r = client.post("/v1/query", json={"question": "passport fee"}, headers=bearer("adminonly"))
    assert r.status_code == 200  # admin implies query
    r = client.get("/v1/documents", headers=bearer("adminonly"))
    assert r.status_code == 200


# ---- admin documents ---------------------------------------------------------------------------------------


def test_document_list_filters_and_pages(client: TestClient, sample_index: SampleIndex) -> None:
    r = client.get("/v1/documents", headers=bearer("admin"))
    assert r.status_code == 200
    listing = r.json()
    ids = [d["doc_id"] for d in listing["documents"]]
    assert ids == sorted(sample_index.chunks)  # admins see every document, restricted ones included
    assert listing["total"] == len(sample_index.chunks)
    by_id = {d["doc_id"]: d for d in listing["documents"]}
    assert by_id[HR_DOC]["groups"] == ["hr"]
    assert by_id[HR_DOC]["agency"] == "Public Service Division"
    assert by_id[FLOOD_PDF]["n_chunks"] == len(sample_index.chunks[FLOOD_PDF])

    agency = FOLDER_AGENCIES["immigration"]
    r = client.get("/v1/documents", params={"agency": agency}, headers=bearer("admin"))
    assert {d["doc_id"] for d in r.json()["documents"]} == {PASSPORT_EN, "immigration/passport-renewal.zh.md"}
    r = client.get("/v1/documents", params={"lang": "th"}, headers=bearer("admin"))
    assert [d["doc_id"] for d in r.json()["documents"]] == ["business/commercial-registration.th.docx"]

    first = client.get("/v1/documents", params={"limit": 3}, headers=bearer("admin")).json()
    second = client.get("/v1/documents", params={"limit": 3, "offset": 3}, headers=bearer("admin")).json()
    assert [d["doc_id"] for d in first["documents"] + second["documents"]] == ids[:6]
    assert first["total"] == listing["total"]
    r = client.get("/v1/documents", params={"limit": 501}, headers=bearer("admin"))
    assert r.status_code == 422
    assert _error(r) == ("limit_too_large", "limit is 501; the maximum is 500")


def test_document_detail_returns_its_chunks(client: TestClient, sample_index: SampleIndex) -> None:
    r = client.get(f"/v1/documents/{FLOOD_PDF}", headers=bearer("admin"))
    assert r.status_code == 200
    doc = r.json()
    assert doc["doc_id"] == FLOOD_PDF
    assert doc["title"] == "Flood Relief Assistance Guide"
    assert [c["text"] for c in doc["chunks"]] == sample_index.texts(FLOOD_PDF)
    assert {c["page"] for c in doc["chunks"]} == {1, 2}
    r = client.get("/v1/documents/no/such/doc", headers=bearer("admin"))
    assert r.status_code == 404
    assert _error(r) == ("not_found", "no document with id 'no/such/doc'")
    assert client.get(f"/v1/documents/{FLOOD_PDF}", headers=bearer("hr")).status_code == 403


def test_delete_removes_the_document_from_search_and_listing(
    client: TestClient, sample_index: SampleIndex
) -> None:
    query = {"query": "internal budget memo coastal flood barrier", "top_k": 20, "one_per_doc": False}
    before = client.post("/v1/search", json=query, headers=bearer("finance")).json()["hits"]
    assert before[0]["doc_id"] == FINANCE_DOC
    assert client.delete(f"/v1/documents/{FINANCE_DOC}", headers=bearer("finance")).status_code == 403
    r = client.delete(f"/v1/documents/{FINANCE_DOC}", headers=bearer("admin"))
    assert r.status_code == 200
    assert r.json() == {"deleted": FINANCE_DOC, "chunks": len(sample_index.chunks[FINANCE_DOC])}
    after = client.post("/v1/search", json=query, headers=bearer("finance")).json()["hits"]
    assert FINANCE_DOC not in {h["doc_id"] for h in after}
    assert client.get(f"/v1/documents/{FINANCE_DOC}", headers=bearer("admin")).status_code == 404
    assert client.delete(f"/v1/documents/{FINANCE_DOC}", headers=bearer("admin")).status_code == 404
    listing = client.get("/v1/documents", headers=bearer("admin")).json()
    assert listing["total"] == len(sample_index.chunks) - 1
    metrics = client.get("/metrics").text
    assert f"govrag_index_documents {float(len(sample_index.chunks) - 1)}" in metrics


# ---- CORS --------------------------------------------------------------------------------------------------


def test_cors_preflight_allows_only_listed_origins(client: TestClient) -> None:
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    r = client.options("/v1/query", headers={"Origin": ORIGIN, **preflight})
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == ORIGIN
    assert "POST" in r.headers["access-control-allow-methods"]
    assert "authorization" in r.headers["access-control-allow-headers"].lower()
    r = client.options("/v1/query", headers={"Origin": "https://evil.example.com", **preflight})
    assert r.status_code == 400
    assert "access-control-allow-origin" not in r.headers
    # A simple request from an unlisted origin gets no CORS header, so the browser hides the answer.
    r = client.post(
        "/v1/search",
        json={"query": "passport"},
        headers={"Origin": "https://evil.example.com", **bearer("public")},
    )
    assert "access-control-allow-origin" not in r.headers
    r = client.post("/v1/search", json={"query": "passport"}, headers={"Origin": ORIGIN, **bearer("public")})
    assert r.headers["access-control-allow-origin"] == ORIGIN


# ---- rate limits -------------------------------------------------------------------------------------------


def test_rate_limit_answers_429_with_retry_after(
    sample_index: SampleIndex, tmp_path: Path, embedder: Any, sparse_encoder: Any
) -> None:
    home = clone_home(sample_index.home, tmp_path / "home")
    keys = [
        {"name": "slow", "hash": hash_key("grk_slow"), "rate_per_minute": 2},
        {"name": "fast", "hash": hash_key("grk_fast"), "rate_per_minute": 0},
    ]
    settings = api_settings(
        home, api={"rate_burst": 2, "security": {"api_keys": keys, "anonymous_rate_per_minute": 1}}
    )
    with app_client(settings, embedder, sparse_encoder) as c:
        slow = {"Authorization": "Bearer grk_slow"}
        codes = [c.post("/v1/search", json={"query": "fees"}, headers=slow).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        r = c.post("/v1/query", json={"question": "fees"}, headers=slow)
        assert r.status_code == 429
        assert 1 <= int(r.headers["retry-after"]) <= 30  # one token back at 2/minute
        code, message = _error(r)
        assert code == "rate_limited"
        assert message.startswith("rate limit exceeded for 'slow'; retry in ")
        # Other callers have their own buckets.
        assert all(
            c.post(
                "/v1/search", json={"query": "fees"}, headers={"Authorization": "Bearer grk_fast"}
            ).status_code
            == 200
            for _ in range(5)
        )
        anon = [c.post("/v1/search", json={"query": "fees"}).status_code for _ in range(3)]
        assert anon == [200, 200, 429]
        r = c.post("/v1/search", json={"query": "fees"})
        assert int(r.headers["retry-after"]) >= 30  # one token back at 1/minute


# ---- no index, production ----------------------------------------------------------------------------------


def test_missing_index_answers_503_with_the_ingest_hint(
    tmp_path: Path, embedder: Any, sparse_encoder: Any
) -> None:
    settings = api_settings(tmp_path / "empty")
    with app_client(settings, embedder, sparse_encoder) as c:
        assert c.get("/healthz").status_code == 200
        r = c.get("/readyz")
        assert r.status_code == 503
        assert r.json()["ready"] is False
        assert r.json()["checks"]["index"] is False
        assert "govrag ingest" in r.json()["checks"]["index_problem"]
        for path, body in (
            ("/v1/query", {"question": "passport fee"}),
            ("/v1/search", {"query": "passport"}),
        ):
            r = c.post(path, json=body)
            assert r.status_code == 503
            code, message = _error(r)
            assert code == "index_unavailable"
            assert "govrag ingest" in message
            assert "govrag serve" in message
        r = c.get("/v1/documents")
        assert r.status_code == 403  # anonymous: refused before the index is looked at
        assert c.get("/widget.js").status_code == 200


def test_production_mode_refuses_insecure_defaults(tmp_path: Path) -> None:
    from govrag.app import InsecureSettingsError, create_app

    with pytest.raises(InsecureSettingsError) as err:
        create_app(api_settings(tmp_path, environment="production"))
    message = str(err.value)
    assert "anonymous access is allowed" in message
    assert "no API keys are configured" in message
    with pytest.raises(InsecureSettingsError, match=r"CORS allows any origin"):
        create_app(
            api_settings(
                tmp_path,
                environment="production",
                api={"security": {"allow_anonymous": False, "api_keys": api_keys(), "cors_origins": ["*"]}},
            )
        )
    # Locked down: it builds.
    app = create_app(
        api_settings(
            tmp_path,
            environment="production",
            api={"security": {"allow_anonymous": False, "api_keys": api_keys(), "cors_origins": [ORIGIN]}},
        )
    )
    assert app.title == "govrag"
