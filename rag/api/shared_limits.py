"""Rate limits shared by every API replica: token buckets kept in Redis (`api.rate_limit.backend=redis`).

With several `govrag serve` replicas behind a load balancer, in-process buckets (`rag.api.ratelimit`)
give each caller the limit once per replica. Here each bucket is a Redis hash updated by one Lua script,
atomically on the server and with the server's clock, so the limit is exact across replicas whatever
their clocks say. A bucket expires once it would have refilled, so Redis holds only active callers.

When Redis cannot be reached the request is let through (`on_error=allow`, the default: answers matter
more than limits) or refused with a 503 (`deny`); either way the failure is logged at most once a
minute and counted, never a 500.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field

logger = logging.getLogger(__name__)

#: KEYS[1]: the bucket; ARGV: refill per second, burst. Returns {allowed (0/1), seconds to wait}.
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(b[1])
local ts = tonumber(b[2])
if tokens == nil or ts == nil then
  tokens = burst
  ts = now
end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local allowed = 0
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  wait = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate * 1000) + 1000)
return {allowed, tostring(wait)}
"""


class RateLimitSettings(BaseModel):
    """Where rate-limit buckets live (section `api.rate_limit`)."""

    backend: Literal["memory", "redis"] = Field(
        default="memory",
        description="`memory`: per process (one replica); `redis`: shared by every replica, exact across "
        "them.",
    )
    redis_url: str = Field(
        default="redis://127.0.0.1:6379/0", description="Redis for `backend=redis` (redis:// or rediss://)."
    )
    key_prefix: str = Field(default="govrag:rl:", description="Prefix of the bucket keys in Redis.")
    timeout_s: float = Field(default=0.5, gt=0, le=10, description="Redis connect and command timeout.")
    on_error: Literal["allow", "deny"] = Field(
        default="allow",
        description="When Redis cannot be reached: let the request through (logged) or refuse it with 503.",
    )


def _where(url: str) -> str:
    """host:port/db of a Redis URL, without the password it may carry."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or 6379}{parts.path}"


class LimitStoreUnavailable(RuntimeError):
    """The shared bucket store cannot be reached and `on_error` is `deny`."""


class RedisRateLimiter:
    """Token buckets keyed by caller, shared through Redis; same `check` as `RateLimiter`."""

    def __init__(
        self, settings: RateLimitSettings, rate_per_minute: float, burst: int = 10, client: Any = None
    ) -> None:
        if rate_per_minute < 0:
            raise ValueError(f"rate_per_minute must be >= 0 (0 disables limiting), got {rate_per_minute}")
        if burst < 1:
            raise ValueError(f"burst must be >= 1 (requests allowed at once), got {burst}")
        if client is None:
            try:
                import redis
            except ImportError as exc:  # pragma: no cover - depends on the environment
                raise ImportError(
                    "api.rate_limit.backend=redis needs the redis client: pip install 'govrag[scale]'"
                ) from exc
            timeout = settings.timeout_s
            client = redis.Redis.from_url(
                settings.redis_url, socket_timeout=timeout, socket_connect_timeout=timeout
            )
        self.settings = settings
        self.rate_per_minute = rate_per_minute
        self.burst = burst
        self.errors = 0
        self._client = client
        self._take = client.register_script(_TAKE)
        self._lock = threading.Lock()
        self._last_warning = float("-inf")

    def check(self, key: str, rate_per_minute: float | None = None) -> tuple[bool, float]:
        """Take one token for `key`: `(True, 0.0)`, or `(False, seconds until a token is available)`."""
        rate = self.rate_per_minute if rate_per_minute is None else rate_per_minute
        if rate <= 0:
            return True, 0.0
        try:
            allowed, wait = self._take(keys=[self.settings.key_prefix + key], args=[rate / 60.0, self.burst])
        except Exception as exc:  # redis.RedisError and socket errors: the store, not the caller
            return self._store_failed(exc)
        return bool(int(allowed)), float(wait)

    def _store_failed(self, exc: Exception) -> tuple[bool, float]:
        with self._lock:
            self.errors += 1
            now = time.monotonic()
            loud = now - self._last_warning >= 60
            if loud:
                self._last_warning = now
        if loud:
            logger.warning(
                "rate-limit store %s unreachable (%s): requests are %s",
                _where(self.settings.redis_url),
                type(exc).__name__,
                "let through" if self.settings.on_error == "allow" else "refused",
            )
        if self.settings.on_error == "deny":
            raise LimitStoreUnavailable(f"the rate-limit store cannot be reached ({type(exc).__name__})")
        return True, 0.0

    def ping(self) -> bool:
        """Whether Redis answers (for /readyz)."""
        try:
            return bool(self._client.ping())
        except Exception:
            return False
