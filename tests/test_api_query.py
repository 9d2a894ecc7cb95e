"""The query API through HTTP with the extractive answerer: answers, citations, SSE, search filters, ops.

Everything runs for real: the sample corpus ingested by the pipeline with the bundled embedder, the
FastAPI app with its lifespan (httpx against the ASGI app), and a real uvicorn socket for streaming.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_support import (
    BUSINESS_TH,
    FLOOD_MS,
    FLOOD_PDF,
    FOLDER_AGENCIES,
    HR_DOC,
    PASSPORT_EN,
    PASSPORT_ZH,
    LiveServer,
    SampleIndex,
    api_keys,
    api_settings,
    clone_home,
    stream_query,
)

from indices.sentences import split_sentences
from rag.prompting import refusal

pytest_plugins = ["api_fixtures"]  # the session-scoped `sample_index`

PASSPORT_Q = "How much does it cost to renew a passport?"
THAI_Q = "ค่าธรรมเนียมจดทะเบียนพาณิชย์เท่าไร"  # how much is the commercial registration fee?
PDF_Q = "How much is the home repair grant after a flood?"


@pytest.fixture(scope="module")
def home(sample_index: SampleIndex, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the sample data dir (this module's app writes its audit log there)."""
    return clone_home(sample_index.home, tmp_path_factory.mktemp("query-home"))


@pytest.fixture(scope="module")
def settings(home: Path) -> Any:
    """Default settings (anonymous callers allowed, extractive answers) plus the test keys."""
    return api_settings(home, api={"security": {"api_keys": api_keys(), "anonymous_rate_per_minute": 0}})


@pytest.fixture(scope="module")
def live(settings: Any, embedder: Any, sparse_encoder: Any) -> Iterator[LiveServer]:
    """The app under a real uvicorn on loopback, started once for the module."""
    from govrag.app import create_app

    with LiveServer(create_app(settings, embedder=embedder, sparse=sparse_encoder)) as server:
        yield server


@pytest.fixture(scope="module")
def client(live: LiveServer) -> Iterator[httpx.Client]:
    """An HTTP client of the live server."""
    with httpx.Client(base_url=live.url, timeout=60) as c:
        yield c


def _ask(client: httpx.Client, question: str, **extra: Any) -> dict[str, Any]:
    r = client.post("/v1/query", json={"question": question, **extra})
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


def _assert_quotes_are_sentences(answer: dict[str, Any], sample: SampleIndex) -> None:
    """Every citation quotes a real sentence of a stored chunk of the cited document."""
    for c in answer["citations"]:
        sentences = {s for text in sample.texts(c["doc_id"]) for s in split_sentences(text, min_chars=2)}
        assert c["quote"] in sentences, (c["doc_id"], c["quote"])


def _markers(text: str) -> set[int]:
    return {int(n) for n in re.findall(r"\[(\d+)\]", text)}


# ---- answers -----------------------------------------------------------------------------------------------


def test_english_question_is_answered_from_the_passport_guide(
    client: httpx.Client, sample_index: SampleIndex
) -> None:
    a = _ask(client, PASSPORT_Q)
    assert a["generator"] == "extractive"
    assert a["language"] == "en"
    assert a["grounded"] is True
    assert a["refused"] is False
    assert "70 dollars" in a["answer"]
    cited = {c["doc_id"]: c for c in a["citations"]}
    assert PASSPORT_EN in cited
    assert cited[PASSPORT_EN]["quote"] == (
        "The renewal fee is 70 dollars, paid by card when you submit the application."
    )
    assert cited[PASSPORT_EN]["title"] == "Renewing your passport"
    assert cited[PASSPORT_EN]["section"][-1] == "Documents and fee"
    # Every marker in the text names a returned citation and vice versa.
    assert _markers(a["answer"]) == {c["n"] for c in a["citations"]}
    _assert_quotes_are_sentences(a, sample_index)
    assert a["warnings"] == []
    assert a["timings"]["total_ms"] > 0
    # Timings are milliseconds only (every key says so); the extractive decision's features are scores.
    assert all(key.endswith("_ms") for key in a["timings"]), sorted(a["timings"])
    assert {"retrieve_embed_ms", "retrieve_search_ms", "generate_ms"} <= set(a["timings"])
    assert 0 < a["scores"]["extractive_cosine"] <= 1


def test_thai_question_is_answered_in_thai_from_the_thai_document(
    client: httpx.Client, sample_index: SampleIndex
) -> None:
    a = _ask(client, THAI_Q)
    assert a["language"] == "th"
    assert a["grounded"] is True
    assert a["refused"] is False
    assert "50 บาท" in a["answer"]
    assert a["citations"][0]["doc_id"] == BUSINESS_TH
    assert a["citations"][0]["lang"] == "th"
    assert "ค่าธรรมเนียมการจดทะเบียนครั้งแรกคือ 50 บาท" in a["citations"][0]["quote"]
    _assert_quotes_are_sentences(a, sample_index)


def test_pdf_citation_carries_its_page(client: httpx.Client, sample_index: SampleIndex) -> None:
    a = _ask(client, PDF_Q)
    assert a["grounded"] is True
    pdf = [c for c in a["citations"] if c["doc_id"] == FLOOD_PDF]
    assert pdf, a
    assert pdf[0]["page"] == 2  # the repair grant is on the guide's second page
    assert "repair grant" in pdf[0]["quote"]
    assert all(c["page"] is None for c in a["citations"] if c["doc_id"].endswith(".md"))
    _assert_quotes_are_sentences(a, sample_index)


@pytest.mark.parametrize(
    ("question", "lang"),
    [
        ("What is the capital of France?", "en"),
        ("ดาวอังคารอยู่ห่างจากโลกกี่กิโลเมตร", "th"),  # how many km is Mars from Earth?
        ("火星离地球有多远\uff1f", "zh"),  # how far is Mars from Earth?
    ],
)
def test_unanswerable_question_is_refused_in_its_language(
    client: httpx.Client, question: str, lang: str
) -> None:
    a = _ask(client, question)
    assert a["language"] == lang
    assert a["refused"] is True
    assert a["grounded"] is False
    assert a["answer"] == refusal(lang)
    assert a["citations"] == []


def test_filters_restrict_the_sources_of_an_answer(client: httpx.Client) -> None:
    a = _ask(client, PASSPORT_Q, filters={"lang": "zh"})
    assert {c["doc_id"] for c in a["citations"]} <= {PASSPORT_ZH}
    b = _ask(client, PASSPORT_Q, filters={"agency": FOLDER_AGENCIES["welfare"]})
    assert all(c["doc_id"].startswith("welfare/") for c in b["citations"])


def test_agency_widget_filter_leaving_few_sources_still_answers(client: httpx.Client) -> None:
    """An agency's widget filters to its own documents; two passport guides remain. The fee sentence must
    be quoted, not refused (the top source's z-score over two candidates is ~0 and once decided it)."""
    a = _ask(client, PASSPORT_Q, filters={"agency": FOLDER_AGENCIES["immigration"]})
    assert a["refused"] is False, a["answer"]
    assert "The renewal fee is 70 dollars" in a["answer"]
    assert {c["doc_id"] for c in a["citations"]} <= {PASSPORT_EN, PASSPORT_ZH}


@pytest.mark.parametrize(
    "question", ["What is the capital of France?", "How far is Mars from Earth in kilometres?"]
)
def test_agency_widget_filter_still_refuses_what_its_documents_do_not_say(
    client: httpx.Client, question: str
) -> None:
    """The small-pool hit score is neutral, not a pass: an off-topic question in that widget is refused."""
    a = _ask(client, question, filters={"agency": FOLDER_AGENCIES["immigration"]})
    assert a["refused"] is True, a["answer"]
    assert a["citations"] == []


# ---- streaming ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("question", [PASSPORT_Q, THAI_Q, "What is the capital of France?"])
def test_sse_events_end_with_the_same_answer_as_json(
    client: httpx.Client, live: LiveServer, question: str
) -> None:
    expected = _ask(client, question)
    events = stream_query(live.url, {"question": question})
    names = [e for e, _ in events]
    assert names[0] == "sources"
    assert names[-1] == "done"
    assert set(names[1:-1]) <= {"delta"}
    assert "error" not in names
    sources = events[0][1]["sources"]
    done = events[-1][1]
    assert done["query_id"] == events[0][1]["query_id"]
    for key in ("answer", "language", "citations", "grounded", "refused", "generator", "warnings"):
        assert done[key] == expected[key], key
    for c in done["citations"]:  # [n] is the n-th source announced first
        assert sources[c["n"] - 1]["doc_id"] == c["doc_id"]
    # extractive answers stream too: one delta per quoted sentence, adding up to the answer (docs/widget.md)
    deltas = [d["text"] for e, d in events if e == "delta"]
    if done["refused"]:
        assert deltas == []
    else:
        assert deltas
        assert "".join(deltas) == done["answer"]
        if done["citations"] and any(c["effective_from"] or c["doc_date"] for c in done["citations"]):
            assert deltas.pop().startswith("\n\n")  # the "as of <date>" line comes last (docs/ingestion.md)
        assert all(re.search(r"\[\d+\]$", d.rstrip()) for d in deltas)  # each sentence ends with its [n]


# ---- search ------------------------------------------------------------------------------------------------


def _search(client: httpx.Client, query: str, **extra: Any) -> list[dict[str, Any]]:
    r = client.post("/v1/search", json={"query": query, **extra})
    assert r.status_code == 200, r.text
    hits: list[dict[str, Any]] = r.json()["hits"]
    return hits


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_search_modes_find_the_passport_guide(client: httpx.Client, mode: str) -> None:
    hits = _search(client, "passport renewal fee", mode=mode, top_k=3)
    assert hits[0]["doc_id"] in {PASSPORT_EN, "fees/service-fees.xlsx"}
    assert PASSPORT_EN in {h["doc_id"] for h in hits}
    assert [h["rank"] for h in hits] == list(range(1, len(hits) + 1))
    scores = [h["score"] for h in hits]
    assert scores == sorted(scores, reverse=True)


def test_search_filters(client: httpx.Client) -> None:
    agency = FOLDER_AGENCIES["immigration"]
    hits = _search(client, "passport", filters={"agency": agency}, top_k=10)
    assert hits
    assert all(h["agency"] == agency for h in hits)
    assert {h["doc_id"] for h in hits} == {PASSPORT_EN, PASSPORT_ZH}

    hits = _search(client, "flood assistance", filters={"lang": "ms"}, top_k=10)
    assert hits
    assert all(h["lang"] == "ms" for h in hits)
    assert FLOOD_MS in {h["doc_id"] for h in hits}

    wanted = [FLOOD_PDF, BUSINESS_TH]
    hits = _search(client, "flood assistance", filters={"doc_ids": wanted}, top_k=10, one_per_doc=False)
    assert hits
    assert {h["doc_id"] for h in hits} <= set(wanted)
    assert len(hits) > len({h["doc_id"] for h in hits})  # several chunks of the PDF without one_per_doc


def test_anonymous_search_never_sees_restricted_documents(client: httpx.Client) -> None:
    hits = _search(client, "salary scale grade MX9 officers", top_k=20, one_per_doc=False)
    assert HR_DOC not in {h["doc_id"] for h in hits}
    hits = _search(client, "salary scale grade MX9 officers", filters={"doc_ids": [HR_DOC]})
    assert hits == []


# ---- limits ------------------------------------------------------------------------------------------------


def test_request_limits_answer_4xx_naming_the_limit(client: httpx.Client) -> None:
    r = client.post("/v1/query", json={"question": "x" * 2001})
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "question_too_long"
    assert "2,001" in r.json()["error"]["message"]
    assert "max_question_chars" in r.json()["error"]["message"]

    history = [{"role": "user", "content": "hello"}] * 21
    r = client.post("/v1/query", json={"question": "and then?", "history": history})
    assert r.status_code == 413
    assert "max_history_turns" in r.json()["error"]["message"]

    history = [{"role": "user", "content": "y" * 9000}, {"role": "assistant", "content": "z" * 9000}]
    r = client.post("/v1/query", json={"question": "and then?", "history": history})
    assert r.status_code == 413
    assert "max_history_chars" in r.json()["error"]["message"]

    for path, body in (
        ("/v1/query", {"question": "fees", "top_k": 21}),
        ("/v1/search", {"query": "fees", "top_k": 21}),
    ):
        r = client.post(path, json=body)
        assert r.status_code == 422, path
        assert r.json()["error"]["code"] == "top_k_too_large"
        assert "the limit is 20" in r.json()["error"]["message"]

    r = client.post("/v1/query", json={"question": ""})
    assert r.status_code == 422
    assert r.json()["error"]["message"].startswith("question:")
    r = client.post("/v1/query", json={"question": "fees", "colour": "blue"})
    assert r.status_code == 422
    assert "colour" in r.json()["error"]["message"]
    r = client.post("/v1/search", json={"query": "fees", "mode": "fuzzy"})
    assert r.status_code == 422
    assert "mode" in r.json()["error"]["message"]


# ---- feedback, ops, static ---------------------------------------------------------------------------------


def test_feedback_is_recorded_against_the_answer(client: httpx.Client, home: Path) -> None:
    a = _ask(client, PASSPORT_Q)
    r = client.post(
        "/v1/feedback", json={"query_id": a["query_id"], "rating": "down", "comment": "too short"}
    )
    assert r.status_code == 200
    assert r.json() == {"status": "recorded", "query_id": a["query_id"]}
    with sqlite3.connect(home / "audit.sqlite3") as db:
        row = db.execute(
            "SELECT rating, comment, caller FROM feedback WHERE query_id = ?", (a["query_id"],)
        ).fetchone()
        asked = db.execute(
            "SELECT question, grounded, cited_doc_ids FROM queries WHERE query_id = ?", (a["query_id"],)
        ).fetchone()
    assert row == ("down", "too short", "anonymous")
    assert asked[0] == PASSPORT_Q
    assert asked[1] == 1
    assert PASSPORT_EN in asked[2]

    r = client.post("/v1/feedback", json={"query_id": "0" * 32, "rating": "up"})
    assert r.status_code == 404
    assert "0" * 32 in r.json()["error"]["message"]
    r = client.post("/v1/feedback", json={"query_id": a["query_id"], "rating": "meh"})
    assert r.status_code == 422
    assert r.json()["error"]["message"].startswith("rating:")


def test_health_readiness_and_metrics(client: httpx.Client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    r = client.get("/readyz")
    assert r.status_code == 200
    assert r.json() == {"ready": True, "checks": {"index": True}}
    _ask(client, PASSPORT_Q)
    _ask(client, "What is the capital of France?")
    _search(client, "passport")
    r = client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    samples = {}
    for line in r.text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    assert samples['govrag_queries_total{generator="extractive",grounded="true",refused="false"}'] >= 1
    assert samples['govrag_queries_total{generator="extractive",grounded="false",refused="true"}'] >= 1
    assert samples['govrag_http_requests_total{method="POST",route="/v1/search",status="200"}'] >= 1
    assert samples["govrag_retrieval_duration_seconds_count"] >= 1
    assert samples["govrag_index_documents"] >= 14


def test_openapi_docs_widget_and_demo_page(client: httpx.Client) -> None:
    r = client.get("/docs")
    assert r.status_code == 200
    assert "swagger" in r.text.lower()
    # the UI's assets come from this server (an intranet has no CDN), and they are really there
    assets = re.findall(r'(?:src|href)="([^"]+)"', r.text)
    assert assets
    assert all(a.startswith("docs-assets/") for a in assets), assets
    for asset in assets:
        got = client.get("/" + asset)
        assert got.status_code == 200, asset
        assert len(got.content) > 500, asset
    spec = client.get("/openapi.json").json()
    assert {"/v1/query", "/v1/search", "/v1/feedback", "/v1/documents", "/healthz", "/readyz"} <= set(
        spec["paths"]
    )
    assert "QueryRequest" in spec["components"]["schemas"]
    assert "/widget.js" not in spec["paths"]
    r = client.get("/widget.js")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/javascript")
    assert "customElements.define" in r.text
    assert "govrag-chat" in r.text
    r = client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert "<govrag-chat" in r.text
    assert "widget.js" in r.text
