"""What the API exposes to whom (issue 10, item 9).

* Non-admin callers never see the ingest machine's absolute paths: a source is shown relative to the
  ingest root, or through `api.public_urls`, or as the bare file name; admins see the full URI.
* Anonymous callers are rate-limited per client address; `X-Forwarded-For` counts only from
  `api.security.trusted_proxies`.
* `/metrics` can require a token (`api.security.metrics_key_hash`).
* Feedback is accepted only on the caller's own answers.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_support import SampleIndex, api_keys, api_settings, bearer, clone_home
from fastapi.testclient import TestClient

from rag.api.exposure import client_address, parse_networks, public_source
from rag.api.security import hash_key

pytest_plugins = ["api_fixtures"]

ROOT = "file:///srv/shared/moh"
SOURCE = "file:///srv/shared/moh/circulars/2026%2003.pdf"


# ---- sources ----------------------------------------------------------------------------------------------


def test_sources_are_shown_relative_to_the_ingest_root() -> None:
    assert public_source(SOURCE, ROOT) == "circulars/2026 03.pdf"
    assert public_source(SOURCE, ROOT + "/") == "circulars/2026 03.pdf"
    # The root recorded as a folder name (chunks ingested before the root URI was stored).
    assert public_source(SOURCE, "moh") == "moh/circulars/2026 03.pdf"
    # No root, or a root that is not above the file: the file name only, never the machine's layout.
    assert public_source(SOURCE) == "2026 03.pdf"
    assert public_source(SOURCE, "file:///elsewhere") == "2026 03.pdf"
    assert public_source("C:\\share\\moh\\a.docx") == "a.docx"
    assert public_source("https://www.moh.example/fees") == "https://www.moh.example/fees"


def test_a_prefix_map_turns_sources_into_public_urls() -> None:
    urls = {"file:///srv/shared/": "https://intranet.example/all/", ROOT + "/": "https://moh.example/docs/"}
    assert public_source(SOURCE, ROOT, urls) == "https://moh.example/docs/circulars/2026%2003.pdf"  # longest
    assert public_source("file:///srv/shared/mof/x.pdf", "", urls) == "https://intranet.example/all/mof/x.pdf"


@pytest.fixture(scope="module")
def home(sample_index: SampleIndex, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return clone_home(sample_index.home, tmp_path_factory.mktemp("exposure-home"))


def _client(home: Path, embedder: Any, sparse: Any, security: dict[str, Any], **kw: Any) -> TestClient:
    from govrag.app import create_app

    api = {"rate_burst": 1, "security": {"api_keys": api_keys(), **security}}
    settings = api_settings(home, api=api)
    return TestClient(create_app(settings, embedder=embedder, sparse=sparse), **kw)


def test_search_hides_absolute_paths_from_non_admins(home: Path, embedder: Any, sparse_encoder: Any) -> None:
    body = {"query": "passport renewal fee", "top_k": 5}
    with _client(home, embedder, sparse_encoder, {"anonymous_rate_per_minute": 0}) as c:
        shown = {h["doc_id"]: h["source"] for h in c.post("/v1/search", json=body).json()["hits"]}
        full = {
            h["doc_id"]: h["source"]
            for h in c.post("/v1/search", json=body, headers=bearer("admin")).json()["hits"]
        }
        answer = c.post("/v1/query", json={"question": "How much is the passport fee?"}).json()
    local = {d: s for d, s in full.items() if s.startswith("file:")}
    assert local, full
    for doc_id, source in local.items():
        assert source.startswith("file:///")  # admins: the full URI
        assert not shown[doc_id].startswith(("file:", "/")), shown[doc_id]
        assert source.endswith(shown[doc_id].split("/")[-1].replace(" ", "%20"))
    for cite in answer["citations"]:
        assert not cite["source"].startswith(("file:", "/")), cite
    assert str(home) not in str(answer)
    assert str(home) not in str(shown)


# ---- client addresses and rate limits ----------------------------------------------------------------------


def test_forwarded_for_is_believed_only_from_trusted_proxies() -> None:
    proxies = parse_networks(["10.0.0.0/8"])
    assert client_address("10.0.0.5", "203.0.113.7", proxies) == "203.0.113.7"
    # A client cannot choose its address by sending the header itself...
    assert client_address("198.51.100.9", "203.0.113.7", proxies) == "198.51.100.9"
    # ...nor by prepending to the proxy's header: the right-most untrusted hop counts.
    assert client_address("10.0.0.5", "1.2.3.4, 203.0.113.7, 10.0.0.6", proxies) == "203.0.113.7"
    assert client_address("10.0.0.5", "not-an-ip", proxies) == "10.0.0.5"
    assert client_address("10.0.0.5", "203.0.113.7", []) == "10.0.0.5"
    with pytest.raises(ValueError, match=r"'10\.0\.0\.300' is not an IP address"):
        parse_networks(["10.0.0.300"])


def test_anonymous_callers_are_limited_per_address(home: Path, embedder: Any, sparse_encoder: Any) -> None:
    security = {"anonymous_rate_per_minute": 1, "trusted_proxies": ["127.0.0.1"]}
    body = {"query": "passport fee"}
    with _client(home, embedder, sparse_encoder, security, client=("127.0.0.1", 5000)) as c:
        first = {"X-Forwarded-For": "203.0.113.7"}
        assert c.post("/v1/search", json=body, headers=first).status_code == 200
        r = c.post("/v1/search", json=body, headers=first)
        assert r.status_code == 429
        assert r.json()["error"]["message"].startswith("rate limit exceeded for this address; retry in")
        # Another citizen behind the same proxy is not locked out by the first one.
        r = c.post("/v1/search", json=body, headers={"X-Forwarded-For": "203.0.113.8"})
        assert r.status_code == 200, r.text
    with _client(home, embedder, sparse_encoder, security, client=("198.51.100.9", 5000)) as c:
        # Not a trusted proxy: rotating the header does not buy fresh buckets.
        assert c.post("/v1/search", json=body, headers={"X-Forwarded-For": "1.1.1.1"}).status_code == 200
        r = c.post("/v1/search", json=body, headers={"X-Forwarded-For": "2.2.2.2"})
        assert r.status_code == 429, r.text


# ---- /metrics ---------------------------------------------------------------------------------------------


def test_metrics_can_require_a_token(home: Path, embedder: Any, sparse_encoder: Any) -> None:
    token = "metrics-scraper-token-0123456789"
    with _client(home, embedder, sparse_encoder, {"metrics_key_hash": hash_key(token)}) as c:
        r = c.get("/metrics")
        assert r.status_code == 401
        assert "api.security.metrics_key_hash" in r.json()["error"]["message"]
        assert c.get("/metrics", headers=bearer("public")).status_code == 401  # a query key is not enough
        ok = c.get("/metrics", headers={"Authorization": f"Bearer {token}"})
        assert ok.status_code == 200
        assert ok.headers["content-type"].startswith("text/plain")
        assert "govrag" in ok.text
        assert c.get("/metrics", headers=bearer("admin")).status_code == 200
    with _client(home, embedder, sparse_encoder, {}) as c:
        assert c.get("/metrics").status_code == 200  # open by default


# ---- feedback -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shared(home: Path, embedder: Any, sparse_encoder: Any) -> Iterator[TestClient]:
    security = {"anonymous_rate_per_minute": 0, "trusted_proxies": ["127.0.0.1"]}
    with _client(home, embedder, sparse_encoder, security, client=("127.0.0.1", 5000)) as c:
        yield c


def test_feedback_only_on_the_callers_own_answers(shared: TestClient) -> None:
    question = {"question": "How much is the passport fee?"}
    hr_answer = shared.post("/v1/query", json=question, headers=bearer("hr")).json()["query_id"]
    anon = {"X-Forwarded-For": "203.0.113.7"}
    anon_answer = shared.post("/v1/query", json=question, headers=anon).json()["query_id"]
    rating = {"rating": "down", "comment": "wrong"}
    for who, qid in ((bearer("finance"), hr_answer), ({"X-Forwarded-For": "203.0.113.8"}, anon_answer)):
        r = shared.post("/v1/feedback", json={"query_id": qid, **rating}, headers=who)
        assert r.status_code == 404
        assert r.json()["error"]["message"] == f"no answer of yours with query_id {qid!r}"
    # Someone else's id is answered exactly like an unknown one.
    r = shared.post("/v1/feedback", json={"query_id": "0" * 32, **rating}, headers=bearer("finance"))
    assert r.status_code == 404
    r = shared.post("/v1/feedback", json={"query_id": hr_answer, **rating}, headers=bearer("hr"))
    assert r.status_code == 200, r.text
    r = shared.post("/v1/feedback", json={"query_id": anon_answer, **rating}, headers=anon)
    assert r.status_code == 200, r.text
