"""RateLimiter: token buckets on a fake clock, per-key overrides, eviction, thread safety."""

from __future__ import annotations

import threading

import pytest

from rag.api.ratelimit import RateLimiter


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _refused(limiter: RateLimiter, key: str, rate_per_minute: float | None = None) -> float:
    """Assert that `key` is refused now; return the advertised wait."""
    allowed, retry_after = limiter.check(key, rate_per_minute)
    assert allowed is False
    return retry_after


def test_burst_then_refill_with_retry_after() -> None:
    clock = FakeClock()
    limiter = RateLimiter(60, burst=3, clock=clock)  # one token per second
    assert [limiter.check("k") for _ in range(3)] == [(True, 0.0)] * 3
    assert _refused(limiter, "k") == pytest.approx(1.0)
    clock.now += 0.25
    assert _refused(limiter, "k") == pytest.approx(0.75)
    clock.now += 0.75
    assert limiter.check("k") == (True, 0.0)
    assert limiter.check("k")[0] is False
    clock.now += 10  # refills to the burst, not beyond
    assert [limiter.check("k")[0] for _ in range(4)] == [True, True, True, False]


def test_keys_are_independent_and_overrides_apply() -> None:
    clock = FakeClock()
    limiter = RateLimiter(6, burst=1, clock=clock)  # one token per 10 s
    assert limiter.check("a") == (True, 0.0)
    assert _refused(limiter, "a") == pytest.approx(10.0)
    assert limiter.check("b") == (True, 0.0)
    assert limiter.check("fast", rate_per_minute=120) == (True, 0.0)
    assert _refused(limiter, "fast", rate_per_minute=120) == pytest.approx(0.5)
    assert all(limiter.check("free", rate_per_minute=0) == (True, 0.0) for _ in range(100))
    unlimited = RateLimiter(0, burst=1, clock=clock)
    assert all(unlimited.check("x")[0] for _ in range(100))


def test_idle_buckets_are_evicted_and_memory_is_bounded() -> None:
    clock = FakeClock()
    limiter = RateLimiter(60, burst=2, clock=clock, max_keys=3)
    for key in ("a", "b", "c", "d", "e"):
        limiter.check(key)
    assert len(limiter) == 3  # oldest dropped past max_keys
    clock.now += 5  # every bucket has refilled: no information left to keep
    limiter.check("f")
    assert len(limiter) == 1
    # A key dropped while empty merely starts again full.
    limiter.check("f")
    assert limiter.check("f")[0] is False


def test_thread_safe_token_accounting() -> None:
    clock = FakeClock()  # frozen: no refill during the test
    limiter = RateLimiter(60, burst=50, clock=clock)
    allowed: list[bool] = []
    lock = threading.Lock()

    def work() -> None:
        mine = [limiter.check("shared")[0] for _ in range(100)]
        with lock:
            allowed.extend(mine)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(allowed) == 400
    assert allowed.count(True) == 50


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rate_per_minute": -1}, "rate_per_minute must be >= 0"),
        ({"rate_per_minute": 10, "burst": 0}, "burst must be >= 1"),
        ({"rate_per_minute": 10, "max_keys": 0}, "max_keys must be >= 1"),
    ],
)
def test_invalid_settings(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RateLimiter(**kwargs)  # type: ignore[arg-type]
