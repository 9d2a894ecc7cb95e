"""Per-key token-bucket rate limiting for the API.

Each caller (API key name, or "anonymous") has a bucket holding up to `burst` tokens that refills at
`rate_per_minute / 60` tokens per second; a request takes one token or is refused with the number of
seconds until one is back (the `Retry-After` header). Buckets live in memory in this process: with several
server processes each enforces its own share.

Memory stays bounded: buckets are kept in least-recently-used order; a bucket that has refilled completely
holds no information and is dropped, and past `max_keys` the least recently used bucket is dropped anyway
(that caller merely starts again with a full bucket).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float
    rate_per_s: float


class RateLimiter:
    """Token buckets keyed by caller; thread-safe; `clock` is injectable (monotonic seconds)."""

    def __init__(
        self,
        rate_per_minute: float,
        burst: int = 10,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 10_000,
    ) -> None:
        if rate_per_minute < 0:
            raise ValueError(f"rate_per_minute must be >= 0 (0 disables limiting), got {rate_per_minute}")
        if burst < 1:
            raise ValueError(f"burst must be >= 1 (requests allowed at once), got {burst}")
        if max_keys < 1:
            raise ValueError(f"max_keys must be >= 1, got {max_keys}")
        self.rate_per_minute = rate_per_minute
        self.burst = burst
        self.max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, key: str, rate_per_minute: float | None = None) -> tuple[bool, float]:
        """Take one token for `key`: `(True, 0.0)`, or `(False, seconds until a token is available)`.

        `rate_per_minute` overrides the limiter's rate for this key (per-key settings); 0 means unlimited.
        """
        rate = self.rate_per_minute if rate_per_minute is None else rate_per_minute
        if rate <= 0:
            return True, 0.0
        rate_per_s = rate / 60.0
        with self._lock:
            now = self._clock()
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = _Bucket(float(self.burst), now, rate_per_s)
                self._buckets[key] = bucket
            else:
                self._buckets.move_to_end(key)
                elapsed = max(0.0, now - bucket.updated)
                bucket.tokens = min(float(self.burst), bucket.tokens + elapsed * bucket.rate_per_s)
                bucket.updated = now
                bucket.rate_per_s = rate_per_s
            self._evict(now)
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return True, 0.0
            return False, (1.0 - bucket.tokens) / rate_per_s

    def _evict(self, now: float) -> None:
        """Drop refilled buckets from the LRU end, then the oldest ones beyond `max_keys`."""
        while self._buckets:
            key, oldest = next(iter(self._buckets.items()))
            full_at = oldest.updated + (self.burst - oldest.tokens) / oldest.rate_per_s
            if len(self._buckets) > self.max_keys or (now >= full_at and now > oldest.updated):
                del self._buckets[key]
            else:
                break

    def __len__(self) -> int:
        """Buckets currently held (for tests and metrics)."""
        with self._lock:
            return len(self._buckets)
