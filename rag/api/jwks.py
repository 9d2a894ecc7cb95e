"""The identity provider's signing keys (JWKS), fetched over HTTP and cached for `rag.api.oidc`.

Fetched on first use, kept `ttl_s`, fetched again early when a token names a key id the cache does not
hold (the provider rotated its keys), but never twice within `min_interval_s`: a flood of tokens with
made-up key ids costs the provider one request per interval. A failed fetch keeps the keys already held;
with none held, the caller gets `IdentityProviderUnavailable` (a 503 that says why, never a 500).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rag.api.security import AuthError

if TYPE_CHECKING:
    from jwt import PyJWK

logger = logging.getLogger(__name__)

#: The most bytes read of a JWKS response (a provider's key set is a few KB).
MAX_JWKS_BYTES = 1024 * 1024


class IdentityProviderUnavailable(AuthError):
    """The provider's keys could not be fetched and none are held: a 503, not a refusal of the token."""

    def __init__(self, message: str) -> None:
        super().__init__(message, status=503)
        self.code = "identity_provider_unavailable"


Fetch = Callable[[str, float], bytes]


def fetch_url(url: str, timeout_s: float) -> bytes:
    """GET `url` (no redirects, at most `MAX_JWKS_BYTES`); raises `OSError` with the reason."""
    import httpx

    try:
        with (
            httpx.Client(timeout=timeout_s, follow_redirects=False) as client,
            client.stream("GET", url, headers={"Accept": "application/json"}) as response,
        ):
            if response.status_code != 200:
                raise OSError(f"HTTP {response.status_code}")
            body = b""
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_JWKS_BYTES:
                    raise OSError(f"the response is larger than {MAX_JWKS_BYTES:,} bytes")
            return body
    except httpx.TimeoutException:
        raise OSError(f"no answer within {timeout_s:g} s (api.oidc.http_timeout_s)") from None
    except httpx.HTTPError as exc:
        raise OSError(str(exc) or type(exc).__name__) from None


def _parse_jwks(body: bytes) -> dict[str, PyJWK]:
    """Signing keys by key id (a key without one under ""); unusable keys are skipped with a warning."""
    from jwt import PyJWK, PyJWKError

    try:
        data = json.loads(body)
    except ValueError as exc:
        raise OSError(f"the key set is not JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise OSError('the key set has no "keys" list')
    keys: dict[str, PyJWK] = {}
    for entry in data["keys"]:
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
            continue
        try:
            keys[str(entry.get("kid", ""))] = PyJWK(entry)
        except (PyJWKError, ValueError, TypeError) as exc:
            logger.warning("JWKS key %r skipped: %s", entry.get("kid"), exc)
    return keys


@dataclass(frozen=True, slots=True)
class _Held:
    """The keys of the last good fetch and when it was (swapped whole, so readers need no lock)."""

    keys: dict[str, PyJWK]
    at: float

    def find(self, kid: str | None) -> PyJWK | None:
        if kid is None:
            return next(iter(self.keys.values())) if len(self.keys) == 1 else None
        return self.keys.get(kid)


class JwksCache:
    """The provider's signing keys: fetched once, kept `ttl_s`, refreshed early for an unknown key id, never
    fetched twice within `min_interval_s`. Thread-safe. One fetch at a time, and a slow provider holds up
    only the callers that need it: a key already held is returned at once (past `ttl_s` too, while one
    caller renews the set)."""

    def __init__(
        self,
        url: str,
        *,
        ttl_s: float,
        min_interval_s: float,
        timeout_s: float,
        fetch: Fetch = fetch_url,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.ttl_s = ttl_s
        self.min_interval_s = min_interval_s
        self.timeout_s = timeout_s
        self.fetches = 0  #: fetches tried (tests and metrics)
        self._fetch = fetch
        self._clock = clock
        self._fetching = threading.Lock()
        self._held: _Held | None = None
        self._tried_at: float | None = None
        self._error = ""

    def key(self, kid: str | None) -> PyJWK:
        """The signing key `kid` names (no kid: the only key); raises `AuthError` (401) when the provider
        does not have it, `IdentityProviderUnavailable` (503) when no keys could be fetched."""
        held, now = self._held, self._clock()
        found = held.find(kid) if held is not None else None
        if held is not None and found is not None:
            if now - held.at < self.ttl_s or not self._fetching.acquire(blocking=False):
                return found
            try:  # past its time, and no one else is renewing the set: renew it for everyone
                self._refresh(now)
            finally:
                self._fetching.release()
            return self._require(kid)  # a key the provider has since dropped is no longer accepted
        with self._fetching:  # unknown key or nothing held: wait for (or make) a fetch
            held = self._held
            if held is None or held.find(kid) is None or self._clock() - held.at >= self.ttl_s:
                self._refresh(self._clock())
            return self._require(kid)

    def _require(self, kid: str | None) -> PyJWK:
        held = self._held
        if held is None:
            raise IdentityProviderUnavailable(
                "the identity provider's signing keys could not be fetched "
                f"({self._error}); try again shortly"
            )
        found = held.find(kid)
        if found is not None:
            return found
        if kid is None:
            raise AuthError(
                f"the token names no key id (kid) and the identity provider has {len(held.keys)} keys"
            )
        raise AuthError(f"the token's key id {kid!r} is not one of the identity provider's signing keys")

    def _refresh(self, now: float) -> None:
        """Fetch the key set unless the last try was under `min_interval_s` ago (caller holds `_fetching`);
        a failure keeps the keys held."""
        if self._tried_at is not None and now - self._tried_at < self.min_interval_s:
            return
        self._tried_at = now
        self.fetches += 1
        try:
            keys = _parse_jwks(self._fetch(self.url, self.timeout_s))
        except OSError as exc:
            self._error = str(exc)
            held = "keeping the keys held" if self._held is not None else "no keys held"
            logger.warning("JWKS fetch from %s failed: %s (%s)", self.url, exc, held)
            return
        self._held, self._error = _Held(keys, now), ""
