"""Access control and personal data, through HTTP.

* Keys map to access groups; restricted documents reach only callers sharing a group, through search,
  answers and the SSE `sources` event, whatever filters the caller sends.
* Property test: documents ingested with random group assignments, random callers (every subset of the
  groups, plus anonymous) and random queries and filters: no chunk ever reaches a caller lacking its group.
* Personal data in a question (NRIC, phone, e-mail) never reaches the logs or the audit database.
"""

from __future__ import annotations

import io
import itertools
import json
import logging
import random
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_support import (
    FEES_XLSX,
    FINANCE_DOC,
    HR_DOC,
    INJECTION_DOC,
    PASSPORT_EN,
    SampleIndex,
    api_keys,
    api_settings,
    app_client,
    bearer,
    clone_home,
    ingest_sources,
    parse_sse,
)
from conftest import build_settings
from fake_openai import ErrorReply, FakeOpenAIServer
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from govrag import sample_corpus
from indices.sentences import split_sentences
from rag.api.security import hash_key

pytest_plugins = ["api_fixtures"]


# ---- restricted documents in the sample index --------------------------------------------------------------


@pytest.fixture(scope="module")
def acl_home(sample_index: SampleIndex, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the sample data dir."""
    return clone_home(sample_index.home, tmp_path_factory.mktemp("acl-home"))


@pytest.fixture(scope="module")
def client(acl_home: Path, embedder: Any, sparse_encoder: Any) -> Iterator[TestClient]:
    """The sample index with anonymous access allowed and the test keys."""
    settings = api_settings(
        acl_home, api={"security": {"api_keys": api_keys(), "anonymous_rate_per_minute": 0}}
    )
    with app_client(settings, embedder, sparse_encoder) as c:
        yield c


SALARY_Q = "What is the salary scale for grade MX9 officers?"


def test_group_members_get_restricted_answers_others_do_not(client: TestClient, acl_home: Path) -> None:
    r = client.post("/v1/query", json={"question": SALARY_Q}, headers=bearer("hr"))
    a = r.json()
    with sqlite3.connect(acl_home / "audit.sqlite3") as db:
        row = db.execute(
            "SELECT caller, agency, cited_doc_ids FROM queries WHERE query_id = ?", (a["query_id"],)
        ).fetchone()
    assert row[:2] == ("hr-desk", "Public Service Division")  # the key's name and agency are audited
    assert json.loads(row[2]) == [c["doc_id"] for c in a["citations"]]
    assert a["grounded"] is True
    assert "4,850 dollars" in a["answer"]
    assert a["citations"][0]["doc_id"] == HR_DOC
    for headers in ({}, bearer("public"), bearer("finance")):
        a = client.post("/v1/query", json={"question": SALARY_Q}, headers=headers).json()
        assert HR_DOC not in {c["doc_id"] for c in a["citations"]}
        assert "4,850" not in a["answer"]
    # Admins see every document.
    hits = client.post("/v1/search", json={"query": SALARY_Q, "top_k": 3}, headers=bearer("admin")).json()[
        "hits"
    ]
    assert hits[0]["doc_id"] == HR_DOC


def test_filters_cannot_widen_access(client: TestClient) -> None:
    body = {"query": "budget memo salary scale", "filters": {"doc_ids": [HR_DOC, FINANCE_DOC]}, "top_k": 10}
    assert client.post("/v1/search", json=body).json()["hits"] == []
    hits = client.post("/v1/search", json=body, headers=bearer("finance")).json()["hits"]
    assert [h["doc_id"] for h in hits] == [FINANCE_DOC]
    body = {"query": "salary", "filters": {"agency": "Public Service Division"}}
    assert client.post("/v1/search", json=body, headers=bearer("public")).json()["hits"] == []
    assert [
        h["doc_id"] for h in client.post("/v1/search", json=body, headers=bearer("hr")).json()["hits"]
    ] == [HR_DOC]


def test_sse_sources_respect_groups(client: TestClient) -> None:
    for headers, visible in ((bearer("hr"), True), (bearer("public"), False)):
        r = client.post("/v1/query", json={"question": SALARY_Q, "stream": True}, headers=headers)
        events = parse_sse(r.text)
        sources = {s["doc_id"] for s in events[0][1]["sources"]}
        assert (HR_DOC in sources) is visible
        assert events[-1][0] == "done"


# ---- property: random group assignments, random callers, random queries ------------------------------------

GROUPS = ("public", "hr", "finance", "legal")
AGENCIES = ("Agency A", "Agency B", "Agency C")
CALLERS = [frozenset(c) for r in range(len(GROUPS) + 1) for c in itertools.combinations(GROUPS, r)]


def _key(groups: frozenset[str]) -> str:
    return "grk_prop_" + ("-".join(sorted(groups)) or "none")


def _sentences() -> list[str]:
    texts = [
        sample_corpus.PASSPORT_EN,
        sample_corpus.PASSPORT_ZH,
        sample_corpus.DENGUE_ID,
        sample_corpus.DENGUE_TA,
        *(r["text"] for r in sample_corpus.EXPORT_RECORDS),
        *(t for kind, t in sample_corpus.BUSINESS_TH if kind == "text"),
        *(t for kind, t in sample_corpus.BUSINESS_MS_DOCX if kind == "text"),
    ]
    return [s for t in texts for s in split_sentences(t, min_chars=20) if not s.startswith("#")]


@pytest.fixture(scope="module")
def random_acl(
    tmp_path_factory: pytest.TempPathFactory, embedder: Any, sparse_encoder: Any
) -> dict[str, Any]:
    """40 documents of recombined real sentences, each with a random (possibly empty) set of groups."""
    rng = random.Random(20261126)
    pool = _sentences()
    records, truth = [], {}
    for i in range(40):
        groups = sorted(g for g in GROUPS if rng.random() < 0.35)
        doc_id = f"acl-{i:02d}"
        truth[doc_id] = set(groups)
        text = " ".join(rng.sample(pool, 3))
        records.append(
            {
                "id": doc_id,
                "title": f"Notice {i}",
                "agency": rng.choice(AGENCIES),
                "groups": groups,
                "text": text,
            }
        )
    assert any(not g for g in truth.values())
    assert all(any(g in gs for gs in truth.values()) for g in GROUPS)
    home = tmp_path_factory.mktemp("acl-random")
    export = home / "acl.jsonl"
    export.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    settings = build_settings(home, ingest={"workers": 1})
    ingest_sources(settings, embedder, sparse_encoder, [str(export)])
    return {"home": home, "truth": truth, "vocab": sorted({w for s in pool for w in s.split()})}


@pytest.fixture(scope="module")
def acl_client(random_acl: dict[str, Any], embedder: Any, sparse_encoder: Any) -> Iterator[TestClient]:
    """One key per subset of the groups (the empty one included), and anonymous callers."""
    keys = [
        {
            "name": f"k-{'-'.join(sorted(c)) or 'none'}",
            "hash": hash_key(_key(c)),
            "groups": sorted(c),
            "rate_per_minute": 0,
        }
        for c in CALLERS
    ]
    settings = api_settings(
        random_acl["home"], api={"security": {"api_keys": keys, "anonymous_rate_per_minute": 0}}
    )
    with app_client(settings, embedder, sparse_encoder) as c:
        yield c


@st.composite
def _requests(draw: st.DrawFn, vocab: list[str], doc_ids: list[str]) -> dict[str, Any]:
    caller = draw(st.sampled_from([None, *CALLERS]))
    words = draw(st.lists(st.sampled_from(vocab), min_size=1, max_size=8))
    noise = draw(st.text(min_size=0, max_size=12).filter(lambda t: "\x00" not in t))
    query = (" ".join(words) + " " + noise).strip() or "notice"
    filters: dict[str, Any] = {}
    if draw(st.booleans()):
        filters["doc_ids"] = draw(st.lists(st.sampled_from(doc_ids), min_size=1, max_size=6, unique=True))
    if draw(st.integers(0, 3)) == 0:
        filters["agency"] = draw(st.sampled_from(AGENCIES))
    return {
        "caller": caller,
        "query": query,
        "filters": filters,
        "top_k": draw(st.integers(1, 20)),
        "mode": draw(st.sampled_from(["hybrid", "dense", "bm25"])),
        "one_per_doc": draw(st.booleans()),
    }


def _allowed(caller: frozenset[str] | None, truth: dict[str, set[str]], doc_id: str) -> bool:
    groups = {"public"} if caller is None else caller  # anonymous callers read public documents only
    return bool(groups & truth[doc_id])


def _headers(caller: frozenset[str] | None) -> dict[str, str]:
    return {} if caller is None else {"Authorization": f"Bearer {_key(caller)}"}


def test_no_chunk_ever_reaches_a_caller_without_its_group(
    acl_client: TestClient, random_acl: dict[str, Any]
) -> None:
    truth: dict[str, set[str]] = random_acl["truth"]
    seen_restricted: list[str] = []

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
    @given(req=_requests(random_acl["vocab"], sorted(truth)))
    def search(req: dict[str, Any]) -> None:
        body = {k: req[k] for k in ("query", "filters", "top_k", "mode", "one_per_doc")}
        r = acl_client.post("/v1/search", json=body, headers=_headers(req["caller"]))
        assert r.status_code == 200, r.text
        hits = r.json()["hits"]
        for h in hits:
            assert _allowed(req["caller"], truth, h["doc_id"]), (req, h["doc_id"], truth[h["doc_id"]])
            if "doc_ids" in req["filters"]:
                assert h["doc_id"] in req["filters"]["doc_ids"]
            if "agency" in req["filters"]:
                assert h["agency"] == req["filters"]["agency"]
            if "public" not in truth[h["doc_id"]]:
                seen_restricted.append(h["doc_id"])
        if req["caller"] == frozenset():
            assert hits == []

    search()
    assert seen_restricted  # the property was exercised on restricted documents, not only public ones


def test_no_answer_cites_or_lists_a_document_outside_the_callers_groups(
    acl_client: TestClient, random_acl: dict[str, Any]
) -> None:
    truth: dict[str, set[str]] = random_acl["truth"]

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
    @given(req=_requests(random_acl["vocab"], sorted(truth)), stream=st.booleans())
    def ask(req: dict[str, Any], stream: bool) -> None:
        body = {"question": req["query"], "filters": req["filters"], "top_k": req["top_k"], "stream": stream}
        r = acl_client.post("/v1/query", json=body, headers=_headers(req["caller"]))
        assert r.status_code == 200, r.text
        if stream:
            events = parse_sse(r.text)
            assert events[-1][0] == "done"
            listed = [s["doc_id"] for s in events[0][1]["sources"]]
            answer = events[-1][1]
        else:
            listed, answer = [], r.json()
        for doc_id in [*listed, *(c["doc_id"] for c in answer["citations"])]:
            assert _allowed(req["caller"], truth, doc_id), (req, doc_id, truth[doc_id])

    ask()


# ---- personal data -----------------------------------------------------------------------------------------

PII = {"nric": "S1234567D", "phone": "+65 9123 4567", "email": "tan.ah.kow@example.com"}
PII_Q = f"My NRIC is {PII['nric']}, call {PII['phone']} or mail {PII['email']}: how much is the passport fee?"


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """The production log configuration (`configure_logging`, as `govrag serve` installs it) at DEBUG."""
    from rag.api.logs import configure_logging

    root = logging.getLogger()
    level = root.level
    stream = io.StringIO()
    handler = configure_logging("DEBUG", json=True, stream=stream, capture_uvicorn=False)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def test_personal_data_never_reaches_logs_or_audit(
    sample_index: SampleIndex,
    tmp_path: Path,
    embedder: Any,
    sparse_encoder: Any,
    json_log: io.StringIO,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    home = clone_home(sample_index.home, tmp_path / "home")
    with FakeOpenAIServer() as fake:
        # The LLM server refuses the request and echoes the prompt, question included, in its error.
        fake.script(ErrorReply(400, f"This model's maximum context length is 10 tokens: {PII_Q}"))
        gen = {"backend": "vllm", "base_url": fake.base_url, "model": "fake-model", "max_retries": 0}
        settings = api_settings(home, generator=gen)
        with app_client(settings, embedder, sparse_encoder) as c:
            r = c.post("/v1/query", json={"question": PII_Q})
            assert r.status_code == 200
            a = r.json()
            r = c.post("/v1/query", json={"question": PII_Q, "stream": True})
            assert parse_sse(r.text)[-1][0] == "done"
            c.post(
                "/v1/feedback",
                json={
                    "query_id": a["query_id"],
                    "rating": "down",
                    "comment": f"wrong, write to {PII['email']}",
                },
            )
    assert a["generator"] == "extractive"  # the generator failed ...
    # The passport guide or the fees table says so; the calibrated extractive refusal (issue 11) may also
    # decline a question this padded with personal data: either way no personal data comes back.
    assert "70 dollars" in a["answer"] or a["refused"], a["answer"]
    assert all(value not in a["answer"] for value in PII.values())
    assert {c["doc_id"] for c in a["citations"]} <= {PASSPORT_EN, FEES_XLSX}
    logged = json_log.getvalue()
    assert "generator failed" in logged  # ... and that was logged, with the server's echo redacted
    assert "[NRIC]" in logged
    lines = [json.loads(line) for line in logged.splitlines()]
    assert any(line.get("path") == "/v1/query" for line in lines)
    with sqlite3.connect(home / "audit.sqlite3") as db:
        stored = db.execute("SELECT question FROM queries").fetchall()
        comments = db.execute("SELECT comment FROM feedback").fetchall()
    assert len(stored) >= 1
    assert "[NRIC]" in stored[0][0]
    assert "[EMAIL]" in comments[0][0]
    for where, text in (("log", logged), ("caplog", caplog.text), ("audit", repr(stored + comments))):
        for kind, value in PII.items():
            assert value not in text, f"{kind} in the {where}"
            assert value.replace(" ", "") not in text.replace(" ", ""), f"{kind} in the {where}"


def test_injection_document_is_plain_public_data(client: TestClient) -> None:
    """The document carrying an injection attempt is searchable like any other (fencing: test_answering)."""
    hits = client.post("/v1/search", json={"query": "water meter readings", "top_k": 1}).json()["hits"]
    assert hits[0]["doc_id"] == INJECTION_DOC
