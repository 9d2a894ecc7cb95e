"""What the operator-console tests share: the keys (a global admin, an agency's admin, a query-only key) and
the questions they ask through the real API before looking at the console (tests/test_admin_*.py)."""

from __future__ import annotations

from typing import Any

import httpx
from api_support import FOLDER_AGENCIES, PASSPORT_EN, api_keys, bearer

from rag.api.security import hash_key

IMMIGRATION = FOLDER_AGENCIES["immigration"]
WELFARE = FOLDER_AGENCIES["welfare"]
AGENCY_ADMIN = "imm-admin"
AGENCY_ADMIN_KEY = "grk_test_immigration_admin_0123456789"

PASSPORT_Q = "How much does it cost to renew a passport?"
PASSPORT_TITLE = "Renewing your passport"
REFUSED_Q = "What is the capital of France?"
THAI_Q = "ค่าธรรมเนียมจดทะเบียนพาณิชย์เท่าไร"  # how much is the commercial registration fee?
COMMENT = "The fee was 80 dollars at the counter."


def console_keys() -> list[dict[str, Any]]:
    """The API test keys plus an admin of the immigration department only."""
    agency_admin = {
        "name": AGENCY_ADMIN,
        "hash": hash_key(AGENCY_ADMIN_KEY),
        "agency": IMMIGRATION,
        "groups": [],
        "scopes": ["admin"],
        "rate_per_minute": 0,
    }
    return [*api_keys(), agency_admin]


def agency_admin() -> dict[str, str]:
    """Authorization header of the immigration department's admin."""
    return {"Authorization": f"Bearer {AGENCY_ADMIN_KEY}"}


def ask_and_rate(client: httpx.Client) -> dict[str, Any]:
    """Three real questions (two put to the immigration department through its widget's agency filter, one
    of them refused; a Thai one to nobody in particular) and a thumbs-down with a comment on the passport
    answer. Returns the answers by question."""
    answers: dict[str, Any] = {}
    for question, filters in ((PASSPORT_Q, {"agency": IMMIGRATION}), (REFUSED_Q, {"agency": IMMIGRATION}),
                              (THAI_Q, {})):  # fmt: skip
        r = client.post("/v1/query", json={"question": question, "filters": filters}, headers=bearer("admin"))
        assert r.status_code == 200, r.text
        answers[question] = r.json()
    assert answers[PASSPORT_Q]["refused"] is False
    assert PASSPORT_EN in {c["doc_id"] for c in answers[PASSPORT_Q]["citations"]}
    assert answers[REFUSED_Q]["refused"] is True
    assert answers[THAI_Q]["refused"] is False
    r = client.post(
        "/v1/feedback",
        json={"query_id": answers[PASSPORT_Q]["query_id"], "rating": "down", "comment": COMMENT},
        headers=bearer("admin"),
    )
    assert r.status_code == 200, r.text
    return answers
