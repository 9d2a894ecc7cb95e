"""Access control across two agencies, as a property (issue 10, reliability suite).

Two agencies' documents share one index: each document is public, restricted to its agency's staff group,
or restricted to a unit inside it. Callers are each agency's staff and unit keys, a public key, anonymous
callers and an admin. Hypothesis draws callers, queries and hostile filters (the other agency's name and
look-alikes of it, the other agency's document ids, date ranges) and checks every hit, citation, listed
source, document read and feedback against the ground truth: nothing restricted ever reaches a caller
outside its groups, and someone else's answer cannot be rated.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from typing import Any

import pytest
from api_support import api_settings, app_client, ingest_sources, parse_sse
from conftest import build_settings
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from govrag import sample_corpus
from indices.sentences import split_sentences
from rag.api.security import hash_key

pytest_plugins = ["api_fixtures"]

AGENCIES = {"moh": "Ministry of Health", "mof": "Ministry of Finance"}
#: caller -> (key, groups, scopes); None: anonymous
CALLERS: dict[str, tuple[str, list[str], list[str]]] = {
    "moh-staff": ("grk_agency_moh_staff_0123456789ab", ["moh", "public"], ["query"]),
    "moh-audit": ("grk_agency_moh_audit_0123456789ab", ["moh-audit"], ["query"]),
    "mof-staff": ("grk_agency_mof_staff_0123456789ab", ["mof", "public"], ["query"]),
    "mof-audit": ("grk_agency_mof_audit_0123456789ab", ["mof-audit"], ["query"]),
    "public": ("grk_agency_public_key_0123456789a", ["public"], ["query"]),
    "admin": ("grk_agency_admin_key_01234567890a", ["public"], ["query", "admin"]),
}
LOOKALIKES = [
    "Ministry of Health ",
    "ministry of health",
    "Ministry of Heal",
    "Ministry of Health\u200b",
    "*",
    "",
]


def _groups(caller: str | None) -> set[str]:
    return {"public"} if caller is None else set(CALLERS[caller][1])


def _headers(caller: str | None) -> dict[str, str]:
    return {} if caller is None else {"Authorization": f"Bearer {CALLERS[caller][0]}"}


def _allowed(caller: str | None, truth: dict[str, set[str]], doc_id: str) -> bool:
    return caller == "admin" or bool(_groups(caller) & truth[doc_id])


@pytest.fixture(scope="module")
def two_agencies(
    tmp_path_factory: pytest.TempPathFactory, embedder: Any, sparse_encoder: Any
) -> dict[str, Any]:
    """24 documents per agency, each public, agency-only or unit-only, in one index."""
    rng = random.Random(10_2026)
    texts = [
        sample_corpus.PASSPORT_EN,
        sample_corpus.DENGUE_ID,
        *(r["text"] for r in sample_corpus.EXPORT_RECORDS),
    ]
    pool = [s for t in texts for s in split_sentences(t, min_chars=20) if not s.startswith("#")]
    home = tmp_path_factory.mktemp("two-agencies")
    settings_ = build_settings(home, ingest={"workers": 1})
    truth: dict[str, set[str]] = {}
    for short, agency in AGENCIES.items():
        folder = home / "corpora" / short / "corpus"  # the same folder name for both agencies
        folder.mkdir(parents=True)
        records = []
        for i in range(24):
            groups = rng.choice([["public"], [short], [f"{short}-audit"], [short, f"{short}-audit"]])
            doc_id = f"{short}-{i:02d}"
            truth[doc_id] = set(groups)
            text = " ".join(rng.sample(pool, 3))
            records.append({"id": doc_id, "title": f"{agency} notice {i}", "agency": agency, "groups": groups,
                            "text": text})  # fmt: skip
        export = folder / "notices.jsonl"
        export.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
        ingest_sources(settings_, embedder, sparse_encoder, [str(export)], agency=agency)
    vocab = sorted({w for s in pool for w in s.split()})
    return {"home": home, "truth": truth, "vocab": vocab}


@pytest.fixture(scope="module")
def client(two_agencies: dict[str, Any], embedder: Any, sparse_encoder: Any) -> Iterator[TestClient]:
    keys = [
        {"name": name, "hash": hash_key(key), "groups": groups, "scopes": scopes, "rate_per_minute": 0,
         "agency": AGENCIES.get(name.split("-")[0])}
        for name, (key, groups, scopes) in CALLERS.items()
    ]  # fmt: skip
    api = {"security": {"api_keys": keys, "anonymous_rate_per_minute": 0}}
    with app_client(api_settings(two_agencies["home"], api=api), embedder, sparse_encoder) as c:
        yield c


@st.composite
def _requests(draw: st.DrawFn, vocab: list[str], doc_ids: list[str]) -> dict[str, Any]:
    caller = draw(st.sampled_from([None, *CALLERS]))
    words = draw(st.lists(st.sampled_from(vocab), min_size=1, max_size=8))
    query = " ".join(words)
    filters: dict[str, Any] = {}
    if draw(st.booleans()):
        filters["doc_ids"] = draw(st.lists(st.sampled_from(doc_ids), min_size=1, max_size=8, unique=True))
    if draw(st.booleans()):
        filters["agency"] = draw(st.sampled_from([*AGENCIES.values(), *LOOKALIKES]))
    if draw(st.integers(0, 4)) == 0:
        filters["date_from"] = draw(st.floats(0, 2e9))
    return {"caller": caller, "query": query, "filters": filters, "top_k": draw(st.integers(1, 20))}


def test_search_never_crosses_groups_between_agencies(
    client: TestClient, two_agencies: dict[str, Any]
) -> None:
    truth: dict[str, set[str]] = two_agencies["truth"]
    restricted_seen: set[str] = set()

    @settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
    @given(
        req=_requests(two_agencies["vocab"], sorted(truth)), mode=st.sampled_from(["hybrid", "dense", "bm25"])
    )
    def search(req: dict[str, Any], mode: str) -> None:
        body = {"query": req["query"], "filters": req["filters"], "top_k": req["top_k"], "mode": mode}
        r = client.post("/v1/search", json=body, headers=_headers(req["caller"]))
        assert r.status_code == 200, r.text
        for h in r.json()["hits"]:
            assert _allowed(req["caller"], truth, h["doc_id"]), (req, h["doc_id"], truth[h["doc_id"]])
            if "agency" in req["filters"] and req["filters"]["agency"]:
                assert h["agency"] == req["filters"]["agency"]  # exact match, no look-alikes
            if "public" not in truth[h["doc_id"]]:
                restricted_seen.add(h["doc_id"])

    search()
    assert {d[:3] for d in restricted_seen} == set(AGENCIES)  # both agencies' restricted documents exercised


def test_answers_documents_and_feedback_never_cross_agencies(
    client: TestClient, two_agencies: dict[str, Any]
) -> None:
    truth: dict[str, set[str]] = two_agencies["truth"]
    answered: dict[str | None, str] = {}

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
    @given(
        req=_requests(two_agencies["vocab"], sorted(truth)),
        stream=st.booleans(),
        doc_id=st.sampled_from(sorted(truth)),
        rater=st.sampled_from([None, *CALLERS]),
    )
    def ask(req: dict[str, Any], stream: bool, doc_id: str, rater: str | None) -> None:
        caller = req["caller"]
        body = {"question": req["query"], "filters": req["filters"], "top_k": req["top_k"], "stream": stream}
        r = client.post("/v1/query", json=body, headers=_headers(caller))
        assert r.status_code == 200, r.text
        if stream:
            events = parse_sse(r.text)
            listed = [s["doc_id"] for s in events[0][1]["sources"]]
            answer = events[-1][1]
        else:
            listed, answer = [], r.json()
        for cited in [*listed, *(c["doc_id"] for c in answer["citations"])]:
            assert _allowed(caller, truth, cited), (req, cited, truth[cited])
        answered[caller] = answer["query_id"]
        # Reading a document is admin-only, whatever agency it belongs to.
        r = client.get(f"/v1/documents/{doc_id}", headers=_headers(caller))
        if caller == "admin":
            assert r.status_code == 200, r.text
            assert r.json()["doc_id"] == doc_id
        else:
            assert r.status_code == 403, r.text
            assert r.json()["error"]["message"].endswith("lacks the 'admin' scope")
        # Rating: only one's own answer (anonymous callers here share one address, so they are one owner).
        if rater != caller:
            r = client.post(
                "/v1/feedback", json={"query_id": answer["query_id"], "rating": "up"}, headers=_headers(rater)
            )
            assert r.status_code == 404, (caller, rater, r.text)

    ask()
    assert len(answered) >= 3
