"""One audit trail for every API replica: the audit log in PostgreSQL (issue 13, `api.audit.backend`).

Two real `govrag serve` processes, each with its own copy of the index, record into one database of a
private PostgreSQL server (`pg_fixtures`): every answer from both is a row of one table, feedback on an
answer is accepted by the other replica (the owner secret is shared), the console's analytics count
both, and a replica killed with SIGKILL in the middle of a streamed answer loses none of the rows of the
answers it had completed.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import httpx
import pytest
from api_support import (
    KEYS,
    SampleIndex,
    api_keys,
    clone_home,
    start_replica,
    stop_replicas,
    wait_ready,
)

pytest_plugins = ["api_fixtures", "pg_fixtures"]

QUESTIONS = [
    "How much does it cost to renew a passport?",
    "ค่าธรรมเนียมจดทะเบียนพาณิชย์เท่าไร",
    "Berapakah bantuan banjir untuk isi rumah?",
    "What should I do to prevent dengue?",
]


def _rows(url: str) -> dict[str, tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT query_id, question, refused, cited_doc_ids FROM queries").fetchall()
    return {r[0]: tuple(r[1:]) for r in rows}


def test_two_replicas_write_one_audit_trail_and_a_killed_one_loses_no_completed_answer(
    sample_index: SampleIndex, postgres_database: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    db_url = postgres_database()
    env = {
        **os.environ,
        "GOVRAG_API__SECURITY__ANONYMOUS_RATE_PER_MINUTE": "0",
        "GOVRAG_API__SECURITY__API_KEYS": json.dumps(api_keys(rate_per_minute=0)),
        "GOVRAG_API__AUDIT__BACKEND": "postgres",
        "GOVRAG_API__AUDIT__POSTGRES_URL": db_url,
    }
    servers = [
        start_replica(clone_home(sample_index.home, tmp_path_factory.mktemp(f"audit-replica{i}")), env)
        for i in range(2)
    ]
    try:
        for proc, url in servers:
            wait_ready(url, proc)
        answered: dict[str, str] = {}
        for i, question in enumerate(QUESTIONS):
            _, url = servers[i % 2]
            body = httpx.post(f"{url}/v1/query", json={"question": question}, timeout=120).json()
            answered[body["query_id"]] = question
        rows = _rows(db_url)
        assert {qid: rows[qid][0] for qid in answered} == answered  # both replicas, one table
        # Feedback on replica B for an answer replica A gave: the owner check holds across replicas.
        first = next(iter(answered))
        r = httpx.post(f"{servers[1][1]}/v1/feedback", json={"query_id": first, "rating": "up"}, timeout=30)
        assert r.status_code == 200, r.text
        # The console of either replica counts every question.
        admin = {"Authorization": f"Bearer {KEYS['admin']}"}
        today = time.strftime("%Y-%m-%d", time.gmtime())
        stats = httpx.get(
            f"{servers[0][1]}/v1/admin/analytics",
            params={"since": today, "until": today},
            headers=admin,
            timeout=60,
        )
        assert stats.status_code == 200, stats.text
        assert stats.json()["questions"] == len(QUESTIONS)
        # Replica A dies (SIGKILL) while it streams an answer: what it completed stays recorded.
        proc_a, url_a = servers[0]
        with httpx.stream(
            "POST", f"{url_a}/v1/query", json={"question": QUESTIONS[0], "stream": True}, timeout=120
        ) as stream:
            for line in stream.iter_lines():
                if line.startswith("event: sources"):
                    proc_a.kill()
                    break
        proc_a.wait(timeout=30)
        after = _rows(db_url)
        assert set(answered) <= set(after)  # 0 rows lost
        assert all(after[qid] == rows[qid] for qid in answered)
        # The survivor keeps recording.
        body = httpx.post(f"{servers[1][1]}/v1/query", json={"question": QUESTIONS[1]}, timeout=120).json()
        assert body["query_id"] in _rows(db_url)
    finally:
        stop_replicas([proc for proc, _ in servers])
