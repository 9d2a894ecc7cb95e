"""API keys, the caller they identify, and the production safety check.

Keys are stored as the SHA-256 hex digest of the key, never the key itself. A slow password hash (PBKDF2,
bcrypt) exists to protect low-entropy human passwords against offline guessing; our keys are 256-bit random
strings from `generate_key`, for which one SHA-256 is already infeasible to invert, and a slow hash would
cost ~50-100 ms of CPU on every request. This is how most API-token systems store tokens. The lookup
compares the digest with every configured key using `hmac.compare_digest` and does not stop early, so the
time taken does not reveal which key (or how much of a digest) matched.

A wrong key is always refused, even when anonymous access is allowed: a caller who sends a key expects
its groups, and silently downgrading would hide a misconfiguration.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from rag.api.exposure import parse_networks

if TYPE_CHECKING:
    from rag.api.keystore import KeyStore
    from rag.api.oidc import OidcSettings, OidcVerifier

Scope = Literal["query", "admin"]
ANONYMOUS = "anonymous"
KEY_PREFIX = "grk_"
_HEX64 = re.compile(r"[0-9a-f]{64}")
#: How the caller name of a signed-in officer (`rag.api.oidc`) starts: `oidc:<subject>`; no key may use it.
SUBJECT_PREFIX = "oidc:"


class AuthError(Exception):
    """The caller could not be authenticated; `status` and `code` are the HTTP status and error code."""

    def __init__(self, message: str, status: int = 401) -> None:
        super().__init__(message)
        self.status = status
        self.code = "unauthorized"

    @property
    def headers(self) -> dict[str, str]:
        """Headers of the error response: the challenge of a refusal."""
        return {"WWW-Authenticate": "Bearer"} if self.status == 401 else {}


def hash_key(key: str) -> str:
    """The stored form of an API key: SHA-256 hex of its UTF-8 bytes."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def generate_key() -> tuple[str, str]:
    """A new random key (256 bits, `grk_` prefix so secret scanners can spot it) and its hash to configure."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    return key, hash_key(key)


def _default_scopes() -> list[Scope]:
    return ["query"]


class ApiKey(BaseModel):
    """One configured key: who holds it, which documents it may see and what it may do."""

    name: str = Field(min_length=1, max_length=64, description="Caller name in logs, audit and rate limits.")
    hash: str = Field(description="SHA-256 hex of the key (see `generate_key`); never the key itself.")
    agency: str | None = Field(default=None, description="Agency the caller belongs to (audit log).")
    groups: list[str] = Field(default_factory=lambda: ["public"], description="Access groups it may read.")
    scopes: list[Scope] = Field(default_factory=_default_scopes, description="`query` and/or `admin`.")
    rate_per_minute: float | None = Field(default=None, ge=0, description="Overrides the default rate.")

    @field_validator("hash")
    @classmethod
    def _check_hash(cls, value: str) -> str:
        value = value.strip().lower()
        if not _HEX64.fullmatch(value):
            raise ValueError(
                "must be the SHA-256 hex digest of the key (64 hex characters), not the key itself; "
                "make a key and its hash with `python -m rag.api.security`"
            )
        return value

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if value == ANONYMOUS:
            raise ValueError(f"{ANONYMOUS!r} is reserved for callers without a key; choose another name")
        if value.startswith(SUBJECT_PREFIX):
            raise ValueError(
                f"names starting {SUBJECT_PREFIX!r} are reserved for signed-in officers (api.oidc)"
            )
        return value


class SecuritySettings(BaseModel):
    """Who may call the API (section `api.security`)."""

    api_keys: list[ApiKey] = Field(default_factory=list, description="Configured keys.")
    allow_anonymous: bool = Field(
        default=True, description="Callers without a key may query public documents (refused in production)."
    )
    anonymous_rate_per_minute: float = Field(
        default=30, ge=0, description="Rate for anonymous callers, per client address."
    )
    rate_per_minute: float = Field(default=60, ge=0, description="Default rate per key (0: unlimited).")
    cors_origins: list[str] = Field(default_factory=list, description="Browser origins allowed (CORS).")
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses or CIDR blocks of reverse proxies whose X-Forwarded-For is believed (the "
        "client address that anonymous rate limits are keyed by); empty: the header is ignored.",
    )
    metrics_key_hash: str | None = Field(
        default=None,
        description="SHA-256 hex of a bearer token `/metrics` requires (admin keys work too); null: open.",
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, value: list[str]) -> list[str]:
        parse_networks(value)
        return value

    @field_validator("metrics_key_hash")
    @classmethod
    def _check_metrics_hash(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().lower()
        if not _HEX64.fullmatch(value):
            raise ValueError("must be the SHA-256 hex digest of the token (64 hex characters)")
        return value

    @model_validator(mode="after")
    def _unique(self) -> SecuritySettings:
        names = [k.name for k in self.api_keys]
        hashes = [k.hash for k in self.api_keys]
        for label, values in (("name", names), ("hash", hashes)):
            dupes = sorted({v for v in values if values.count(v) > 1})
            if dupes:
                shown = dupes if label == "name" else [d[:8] + "..." for d in dupes]
                raise ValueError(f"api_keys: {label} used more than once: {shown}; each key needs its own")
        return self


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller: what the routes filter and limit by."""

    name: str
    agency: str | None
    groups: tuple[str, ...]
    scopes: tuple[str, ...]
    anonymous: bool
    rate_per_minute: float | None = None
    #: The client address (behind trusted proxies: the forwarded one); anonymous callers are told apart by it.
    client: str = ""

    @property
    def owner(self) -> str:
        """Who this caller is for rate limits and for owning answers: the key name, or anonymous@address."""
        return f"{ANONYMOUS}@{self.client or 'unknown'}" if self.anonymous else self.name


def _presented_key(authorization: str | None, x_api_key: str | None) -> str | None:
    bearer: str | None = None
    if authorization is not None and authorization.strip():
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError("the Authorization header must be 'Bearer <API key>'")
        bearer = token.strip()
    header = x_api_key.strip() if x_api_key is not None and x_api_key.strip() else None
    if bearer is not None and header is not None and not hmac.compare_digest(bearer, header):
        raise AuthError("the Authorization and X-API-Key headers carry different keys; send one")
    return bearer if bearer is not None else header


def authenticate(
    authorization: str | None,
    x_api_key: str | None,
    settings: SecuritySettings,
    store: KeyStore | None = None,
    oidc: OidcVerifier | None = None,
) -> Principal:
    """The caller named by `Authorization: Bearer <key>` or `X-API-Key: <key>`, or the anonymous caller.

    Keys come from the settings, then from `store` (`govrag keys`). With `oidc` (api.oidc), a bearer that
    looks like a JWT is an officer's token, checked by the identity provider's keys. Raises `AuthError` for
    a malformed header, an unknown, expired or revoked key, a refused token, or no key when anonymous
    access is off.
    """
    key = _presented_key(authorization, x_api_key)
    if key is None:
        if not settings.allow_anonymous:
            raise AuthError(
                "an API key is required: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'."
            )
        return Principal(ANONYMOUS, None, ("public",), ("query",), True, settings.anonymous_rate_per_minute)
    if oidc is not None:
        from rag.api.oidc import looks_like_jwt

        if looks_like_jwt(key):
            return oidc.principal(key)
    digest = hash_key(key)
    match: ApiKey | None = None
    for candidate in settings.api_keys:  # no early exit: time does not depend on which key matched
        if hmac.compare_digest(candidate.hash, digest):
            match = candidate
    if match is None and store is not None:
        from rag.api.keystore import check_stored

        stored = store.find(digest)
        if stored is not None:
            problem = check_stored(stored)
            if problem:
                raise AuthError(problem)
            match = stored.as_api_key()
    if match is None:
        from rag.api.oidc import looks_like_jwt

        hint = " (a sign-in token was sent, but api.oidc is not enabled here)" if looks_like_jwt(key) else ""
        raise AuthError("invalid API key" + hint)
    return Principal(
        match.name, match.agency, tuple(match.groups), tuple(match.scopes), False, match.rate_per_minute
    )


def security_problems(
    security: SecuritySettings, stored_keys: int = 0, oidc: OidcSettings | None = None
) -> list[str]:
    """Insecure settings, whatever the environment (development may log them as warnings).
    `stored_keys`: active keys in the data directory's key store (`govrag keys`); `oidc`: officer sign-in
    (with it, no API key is needed)."""
    problems: list[str] = []
    if security.allow_anonymous:
        problems.append("anonymous access is allowed: set GOVRAG_API__SECURITY__ALLOW_ANONYMOUS=false")
    if oidc is not None:
        problems += oidc.problems()
    if not security.api_keys and not stored_keys and not (oidc is not None and oidc.enabled):
        problems.append(
            "no API keys are configured: make one with `govrag keys create NAME` (or add "
            "api.security.api_keys; make a key and hash with `python -m rag.api.security`)"
        )
    if any(origin.strip() == "*" for origin in security.cors_origins):
        problems.append(
            "CORS allows any origin ('*'): list the sites that embed the widget in api.security.cors_origins"
        )
    return problems


def check_production(
    settings_env: str, security: SecuritySettings, stored_keys: int = 0, oidc: OidcSettings | None = None
) -> list[str]:
    """The problems that must stop start-up: all of `security_problems` in production, none elsewhere."""
    return security_problems(security, stored_keys, oidc) if settings_env == "production" else []


def _main(argv: list[str] | None = None) -> int:
    """`python -m rag.api.security`: make a new API key and the hash to configure for it."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m rag.api.security",
        description="Generate a new API key: give the key to the caller (it is shown once) and put its "
        "hash in api.security.api_keys[].hash. The key itself is never stored.",
    )
    parser.add_argument("--json", action="store_true", help="print {key, hash} as JSON")
    args = parser.parse_args(argv)
    new_key, new_hash = generate_key()
    if args.json:
        import json

        print(json.dumps({"key": new_key, "hash": new_hash}))
    else:
        print(f"key (give to the caller, shown once): {new_key}")
        print(f"hash (put in api.security.api_keys[].hash): {new_hash}")
    return 0


if __name__ == "__main__":  # pragma: no cover - exercised as a subprocess in tests
    raise SystemExit(_main())
