"""The operator console's JSON (`/v1/admin/...`) through HTTP against the real app and index: documents
searched and filtered with their facets and status, analytics and feedback from questions really asked,
one agency's admin confined to its agency everywhere, the OpenAPI description, and the page's headers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from admin_support import (
    COMMENT,
    IMMIGRATION,
    PASSPORT_Q,
    PASSPORT_TITLE,
    REFUSED_Q,
    THAI_Q,
    WELFARE,
    agency_admin,
    ask_and_rate,
    console_keys,
)
from api_support import (
    BUSINESS_TH,
    FINANCE_DOC,
    HR_DOC,
    PASSPORT_EN,
    PASSPORT_ZH,
    SampleIndex,
    api_settings,
    app_client,
    bearer,
    clone_home,
)
from fastapi.testclient import TestClient

pytest_plugins = ["api_fixtures"]


@pytest.fixture(scope="module")
def client(
    sample_index: SampleIndex, tmp_path_factory: pytest.TempPathFactory, embedder: Any, sparse_encoder: Any
) -> Iterator[TestClient]:
    home = clone_home(sample_index.home, tmp_path_factory.mktemp("console-home"))
    settings = api_settings(home, api={"security": {"api_keys": console_keys(), "allow_anonymous": False}})
    with app_client(settings, embedder, sparse_encoder) as c:
        yield c


@pytest.fixture(scope="module")
def answers(client: TestClient) -> dict[str, Any]:
    return ask_and_rate(client)


def _period() -> dict[str, str]:
    """Yesterday to tomorrow (UTC): today's questions, whatever the hour."""
    today = dt.datetime.now(dt.UTC).date()
    return {"since": str(today - dt.timedelta(days=1)), "until": str(today + dt.timedelta(days=1))}


def test_who_is_signed_in(client: TestClient) -> None:
    assert client.get("/v1/admin/me", headers=bearer("admin")).json() == {
        "name": "ops", "agency": None, "scopes": ["query", "admin"],
    }  # fmt: skip
    assert client.get("/v1/admin/me", headers=agency_admin()).json() == {
        "name": "imm-admin", "agency": IMMIGRATION, "scopes": ["admin"],
    }  # fmt: skip
    r = client.get("/v1/admin/me", headers=bearer("public"))
    assert r.status_code == 403
    assert r.json() == {
        "error": {"code": "forbidden", "message": "key 'citizen-portal' lacks the 'admin' scope"}
    }
    r = client.get("/v1/admin/analytics")
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "unauthorized"


def test_documents_are_searched_and_filtered_with_facets(
    client: TestClient, sample_index: SampleIndex
) -> None:
    def ids(**params: Any) -> list[str]:
        r = client.get("/v1/admin/documents", params=params, headers=bearer("admin"))
        assert r.status_code == 200, r.text
        return [d["doc_id"] for d in r.json()["documents"]]

    everything = client.get("/v1/admin/documents", headers=bearer("admin")).json()
    assert everything["total"] == len(sample_index.chunks)
    assert {d["status"] for d in everything["documents"]} == {"indexed"}  # no run failed on any
    facets = everything["facets"]
    assert {IMMIGRATION, WELFARE, "Public Service Division"} <= set(facets["agencies"])
    assert {"en", "th", "zh", "ms"} <= set(facets["languages"])
    assert {"public", "hr", "finance"} <= set(facets["groups"])
    assert ids(q="PASSPORT") == [PASSPORT_EN, PASSPORT_ZH]  # title, id or source, any case
    assert ids(q="renewing your") == [PASSPORT_EN]  # the English title (the Chinese one differs)
    assert ids(group="hr") == [HR_DOC]
    assert ids(lang="th") == [BUSINESS_TH]
    assert ids(agency=IMMIGRATION, lang="zh") == [PASSPORT_ZH]
    assert ids(q="passport", offset=1, limit=1) == [PASSPORT_ZH]
    r = client.get("/v1/admin/documents", params={"limit": 100_000}, headers=bearer("admin"))
    assert r.status_code == 422
    assert r.json()["error"] == {"code": "limit_too_large", "message": "limit is 100000; the maximum is 500"}


def test_an_agency_admin_sees_its_agency_only(client: TestClient, answers: dict[str, Any]) -> None:
    own = client.get("/v1/admin/documents", headers=agency_admin()).json()
    assert [d["doc_id"] for d in own["documents"]] == [PASSPORT_EN, PASSPORT_ZH]
    assert own["facets"]["agencies"] == [IMMIGRATION]
    assert FINANCE_DOC not in {d["doc_id"] for d in own["documents"]}
    for path in ("/v1/admin/documents", "/v1/admin/analytics", "/v1/admin/feedback"):
        r = client.get(path, params={"agency": WELFARE}, headers=agency_admin())
        assert r.status_code == 403, path
        assert r.json()["error"] == {
            "code": "forbidden", "message": f"key 'imm-admin' administers {IMMIGRATION!r} only",
        }  # fmt: skip
    a = client.get("/v1/admin/analytics", params=_period(), headers=agency_admin()).json()
    assert a["agency"] == IMMIGRATION
    assert (a["questions"], a["refused"], a["refusal_rate"]) == (2, 1, 0.5)  # not the Thai question
    assert [u["question"] for u in a["unanswered_questions"]] == [REFUSED_Q]
    fb = client.get("/v1/admin/feedback", params=_period(), headers=agency_admin()).json()
    assert [f["question"] for f in fb["feedback"]] == [PASSPORT_Q]


def test_analytics_count_the_questions_asked(client: TestClient, answers: dict[str, Any]) -> None:
    r = client.get("/v1/admin/analytics", params=_period(), headers=bearer("admin"))
    assert r.status_code == 200, r.text
    a = r.json()
    assert (a["questions"], a["refused"], a["unanswered"]) == (3, 1, 1)
    assert a["refusal_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert [d["date"] for d in a["days"]] == [
        _period()["since"],
        str(dt.datetime.now(dt.UTC).date()),
        _period()["until"],
    ]
    assert sum(d["questions"] for d in a["days"]) == 3
    assert {(lang["language"], lang["questions"]) for lang in a["languages"]} == {("en", 2), ("th", 1)}
    assert [(u["question"], u["count"], u["refused"], u["language"]) for u in a["unanswered_questions"]] == [
        (REFUSED_Q, 1, 1, "en")
    ]
    assert a["latency_median_ms"] > 0
    assert a["latency_p90_ms"] >= a["latency_median_ms"]
    assert (a["feedback_up"], a["feedback_down"]) == (0, 1)


def test_feedback_shows_the_question_answer_and_citations(
    client: TestClient, answers: dict[str, Any]
) -> None:
    r = client.get("/v1/admin/feedback", params={**_period(), "rating": "down"}, headers=bearer("admin"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == 1
    (item,) = body["feedback"]
    passport = answers[PASSPORT_Q]
    assert (item["query_id"], item["rating"], item["comment"]) == (passport["query_id"], "down", COMMENT)
    assert (item["question"], item["answer"], item["refused"]) == (PASSPORT_Q, passport["answer"], False)
    assert item["agency"] == IMMIGRATION
    keep = ("n", "doc_id", "title", "page", "quote")
    assert item["citations"] == [{k: c[k] for k in keep} for c in passport["citations"]]
    assert (PASSPORT_EN, PASSPORT_TITLE) in {(c["doc_id"], c["title"]) for c in item["citations"]}
    assert all(c["quote"] for c in item["citations"])
    up = client.get(
        "/v1/admin/feedback", params={**_period(), "rating": "up"}, headers=bearer("admin")
    ).json()
    assert up == {"total": 0, "feedback": []}
    assert THAI_Q not in {f["question"] for f in body["feedback"]}


def test_a_bad_period_is_refused_with_what_is_wrong(client: TestClient) -> None:
    def error(**params: Any) -> tuple[int, dict[str, str]]:
        r = client.get("/v1/admin/analytics", params=params, headers=bearer("admin"))
        return r.status_code, r.json()["error"]

    assert error(since="2026-03-02", until="2026-03-01") == (
        422, {"code": "invalid_period", "message": "since (2026-03-02) is after until (2026-03-01)"},
    )  # fmt: skip
    assert error(since="2024-01-01", until="2026-01-01") == (
        422, {"code": "period_too_long", "message": "the period has 732 days; the most is 366"},
    )  # fmt: skip
    assert error(until="0001-01-01") == (
        422, {"code": "invalid_period", "message": "until (0001-01-01) is outside 1970-01-01..9999-12-30"},
    )  # fmt: skip
    r = client.get("/v1/admin/feedback", params={"offset": 2**63}, headers=bearer("admin"))
    assert (r.status_code, r.json()["error"]["code"]) == (422, "invalid_request")
    status, err = error(since="March")
    assert (status, err["code"]) == (422, "invalid_request")
    assert "since" in err["message"]
    status, err = error(tz_offset_min=24 * 60)
    assert (status, err["code"]) == (422, "invalid_request")
    assert "tz_offset_min" in err["message"]


def test_openapi_describes_the_console_endpoints_and_their_errors(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/v1/admin/me", "/v1/admin/documents", "/v1/admin/ingest-runs", "/v1/admin/analytics",
                 "/v1/admin/feedback"):  # fmt: skip
        op = paths[path]["get"]
        assert op["tags"] == ["admin"], path
        assert op["responses"]["403"]["content"]["application/json"]["schema"]["$ref"].endswith(
            "ErrorResponse"
        )
        assert op["description"] or op["summary"]
    assert "/admin" not in paths


def test_the_console_page_is_served_with_a_strict_policy(client: TestClient) -> None:
    page = client.get("/admin")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "style-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "<script>" not in page.text  # nothing inline for the policy to block
    assert " style=" not in page.text
    assert 'src="admin/admin.js"' in page.text
    js = client.get("/admin/admin.js")
    assert js.headers["content-type"] == "text/javascript; charset=utf-8"
    assert "Authorization: 'Bearer ' + S.key" in js.text  # the header the widget sends its key in
    assert client.get("/admin/admin.css").headers["content-type"] == "text/css; charset=utf-8"
    missing = client.get("/admin/secrets.txt")
    assert missing.status_code == 404
    assert missing.json() == {"error": {"code": "not_found", "message": "no console asset 'secrets.txt'"}}


def test_console_speaks_the_widgets_languages() -> None:
    """The console's string table has the widget's 11 languages, each with every string."""
    import re

    root = Path(__file__).resolve().parent.parent / "rag" / "static"
    widget = (root / "widget.js").read_text(encoding="utf-8")
    console = (root / "admin.js").read_text(encoding="utf-8")

    def langs(src: str) -> list[str]:
        start = src.index("const RAW = {")
        raw = src[start : src.index("\n  };", start)]  # the table only (the widget adds others after it)
        return re.findall(r"^    ([a-z]{2}): \[", raw, flags=re.M)

    assert langs(console) == langs(widget)
    assert len(langs(console)) == 11
