"""Metrics: separate registries per instance, and the exposition text parsed back."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from rag.api.metrics import Metrics


def _samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    body, content_type = metrics.render()
    assert content_type.startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
    }


def test_exposition_holds_every_series() -> None:
    m = Metrics()
    m.observe_request("/v1/query", "POST", 200, 1.7)
    m.observe_request("/v1/query", "POST", 200, 0.3)
    m.observe_request("unmatched", "GET", 404, 0.001)
    m.observe_query("vllm", grounded=True, refused=False)
    m.observe_query("extractive", grounded=False, refused=True)
    m.observe_query("vllm", grounded=True, refused=False)
    m.observe_retrieval(0.042)
    m.observe_generator_error("vllm", "timeout")
    m.observe_feedback("down")
    m.set_documents(1234)
    s = _samples(m)
    requests = "govrag_http_requests_total"
    assert s[(requests, (("method", "POST"), ("route", "/v1/query"), ("status", "200")))] == 2
    assert s[(requests, (("method", "GET"), ("route", "unmatched"), ("status", "404")))] == 1
    post = (("method", "POST"), ("route", "/v1/query"))
    assert s[("govrag_http_request_duration_seconds_count", post)] == 2
    assert s[("govrag_http_request_duration_seconds_sum", post)] == pytest.approx(2.0)
    assert s[("govrag_http_request_duration_seconds_bucket", (("le", "0.5"), *post))] == 1
    queries = "govrag_queries_total"
    assert s[(queries, (("generator", "vllm"), ("grounded", "true"), ("refused", "false")))] == 2
    assert s[(queries, (("generator", "extractive"), ("grounded", "false"), ("refused", "true")))] == 1
    assert s[("govrag_retrieval_duration_seconds_count", ())] == 1
    assert s[("govrag_retrieval_duration_seconds_bucket", (("le", "0.05"),))] == 1
    assert s[("govrag_retrieval_duration_seconds_bucket", (("le", "0.025"),))] == 0
    assert s[("govrag_generator_errors_total", (("generator", "vllm"), ("kind", "timeout")))] == 1
    assert s[("govrag_feedback_total", (("rating", "down"),))] == 1
    assert s[("govrag_index_documents", ())] == 1234


def test_instances_do_not_share_or_collide() -> None:
    first, second = Metrics(), Metrics()  # the global registry would raise "Duplicated timeseries"
    first.set_documents(5)
    first.observe_feedback("up")
    s2 = _samples(second)
    assert s2[("govrag_index_documents", ())] == 0
    assert not any(name == "govrag_feedback_total" for name, _ in s2)
    assert _samples(first)[("govrag_feedback_total", (("rating", "up"),))] == 1
