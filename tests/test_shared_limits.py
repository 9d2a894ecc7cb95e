"""Rate limits shared by API replicas through Redis (issue 13, `api.rate_limit.backend=redis`).

A real `redis-server` (Debian's package, started here on a free loopback port with no persistence) holds
the buckets. Two limiters on separate connections stand for two replicas; then two real `govrag serve`
processes, each with its own copy of the index, share one key's limit exactly. Without redis-server the
tests are skipped with the reason, unless `GOVRAG_REQUIRE_REDIS=1` (CI), where that fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_support import (
    KEYS,
    SampleIndex,
    api_keys,
    clone_home,
    free_port,
    start_replica,
    stop_replicas,
    wait_ready,
)
from conftest import build_settings

from rag.api.shared_limits import LimitStoreUnavailable, RateLimitSettings, RedisRateLimiter

pytest_plugins = ["api_fixtures"]


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    exe = shutil.which("redis-server")
    if exe is None:
        reason = "redis-server is not installed (Debian: apt-get install redis-server; make system-deps)"
        if os.environ.get("GOVRAG_REQUIRE_REDIS") == "1":
            pytest.fail(f"GOVRAG_REQUIRE_REDIS=1 but {reason}")
        pytest.skip(reason)
    import redis

    port = free_port()
    folder = tmp_path_factory.mktemp("redis")
    cmd = [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    proc = subprocess.Popen([*cmd, "--dir", str(folder)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    client = redis.Redis(port=port, socket_timeout=1)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, f"redis-server exited with {proc.returncode}"
            try:
                if client.ping():
                    break
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        client.close()
        proc.terminate()
        proc.wait(timeout=10)


def _replicas(url: str, n: int = 2, **limits: Any) -> list[RedisRateLimiter]:
    """`n` limiters with their own connections: what `n` API replicas hold."""
    settings = RateLimitSettings(backend="redis", redis_url=url, **limits)
    return [RedisRateLimiter(settings, rate_per_minute=1, burst=5) for _ in range(n)]


def test_two_replicas_share_one_bucket_exactly(redis_url: str) -> None:
    a, b = _replicas(redis_url, key_prefix="t1:")
    results = [(a if i % 2 else b).check("hr-desk") for i in range(12)]
    assert [ok for ok, _ in results] == [True] * 5 + [False] * 7  # burst 5 across both, not 5 each
    wait = results[5][1]
    assert 55 < wait <= 60  # 1 per minute: the next token is about a minute away
    assert a.check("finance-desk") == (True, 0.0)  # another caller has its own bucket
    assert b.check("hr-desk", rate_per_minute=0) == (True, 0.0)  # a key without a limit
    assert a.errors == b.errors == 0


def test_concurrent_requests_on_both_replicas_never_exceed_the_burst(redis_url: str) -> None:
    replicas = _replicas(redis_url, key_prefix="t2:")
    allowed: list[bool] = []
    lock = threading.Lock()

    def hammer(limiter: RedisRateLimiter) -> None:
        for _ in range(25):
            ok, _ = limiter.check("burst")
            with lock:
                allowed.append(ok)

    threads = [threading.Thread(target=hammer, args=(r,)) for r in replicas for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(allowed) == 150
    assert sum(allowed) == 5  # the Lua script takes tokens atomically on the server


def test_buckets_expire_once_refilled(redis_url: str) -> None:
    import redis

    [limiter] = _replicas(redis_url, n=1, key_prefix="t3:")
    limiter.check("short-lived")
    ttl_ms = redis.Redis.from_url(redis_url).pttl("t3:short-lived")
    assert 1_000 < ttl_ms <= 61_000  # one token missing at 1/min: full again in a minute (+1 s margin)


def test_unreachable_store_lets_requests_through_or_refuses_as_configured() -> None:
    dead = f"redis://:secret@127.0.0.1:{free_port()}/0"
    [lenient] = _replicas(dead, n=1, timeout_s=0.2)
    assert lenient.check("hr-desk") == (True, 0.0)
    assert lenient.errors == 1
    assert lenient.ping() is False
    [strict] = _replicas(dead, n=1, timeout_s=0.2, on_error="deny")
    with pytest.raises(LimitStoreUnavailable, match="cannot be reached"):
        strict.check("hr-desk")


def test_api_with_a_strict_store_down_says_503_and_is_not_ready(
    sample_index: SampleIndex, embedder: Any, sparse_encoder: Any, tmp_path: Path
) -> None:
    from fastapi.testclient import TestClient

    from govrag.app import create_app

    settings = build_settings(
        clone_home(sample_index.home, tmp_path / "home"),
        api={
            "security": {"api_keys": api_keys(rate_per_minute=60)},
            "rate_limit": {
                "backend": "redis",
                "redis_url": f"redis://127.0.0.1:{free_port()}/0",
                "timeout_s": 0.2,
                "on_error": "deny",
            },
        },
    )
    with TestClient(create_app(settings, embedder=embedder, sparse=sparse_encoder)) as client:
        r = client.get("/v1/documents", headers={"Authorization": f"Bearer {KEYS['admin']}"})
        assert r.status_code == 503
        assert r.json()["error"]["code"] == "rate_limit_unavailable"
        assert "rate-limit store cannot be reached" in r.json()["error"]["message"]
        assert r.headers["Retry-After"] == "5"
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["rate_limit_store"] is False


def test_two_served_replicas_enforce_one_limit(
    sample_index: SampleIndex, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    import json

    env = {
        **os.environ,
        "GOVRAG_API__SECURITY__API_KEYS": json.dumps(api_keys(rate_per_minute=1)),
        "GOVRAG_API__RATE_BURST": "4",
        "GOVRAG_API__RATE_LIMIT__BACKEND": "redis",
        "GOVRAG_API__RATE_LIMIT__REDIS_URL": redis_url,
        "GOVRAG_API__RATE_LIMIT__KEY_PREFIX": "served:",
    }
    servers = [
        start_replica(clone_home(sample_index.home, tmp_path_factory.mktemp(f"replica{i}")), env)
        for i in range(2)
    ]
    try:
        for proc, url in servers:
            assert wait_ready(url, proc)["checks"]["rate_limit_store"] is True
        headers = {"Authorization": f"Bearer {KEYS['admin']}"}
        statuses = []
        for i in range(10):
            _, url = servers[i % 2]
            r = httpx.get(f"{url}/v1/documents", headers=headers, timeout=60)
            statuses.append(r.status_code)
            if r.status_code == 429:
                assert "rate limit exceeded for 'ops'" in r.json()["error"]["message"]
                assert int(r.headers["Retry-After"]) >= 1
        assert statuses == [200] * 4 + [429] * 6  # 4 in all, not 4 per replica
    finally:
        stop_replicas([proc for proc, _ in servers])
