"""Officer sign-in: OpenID Connect bearer tokens from the agency's identity provider (section `api.oidc`).

An intranet page that embeds the widget already knows who is signed in; it passes that officer's ID or
access token (a JWT signed by the identity provider) instead of a page-wide API key, so each officer sees
the documents of their own groups. A token is accepted when its signature verifies with a key of the
provider's JWKS, with an asymmetric algorithm of `algorithms` (never `none`, never HS*: an HMAC "signed"
with the public key would verify, see `_check_algorithm`), and its `iss`, `aud`, `exp` and `nbf` are right.
The claims named by `agency_claim` and `groups_claims` become the caller's agency and access groups; a
value of `admin_claim` listed in `admin_values` adds the admin scope (limited to the token's agency, as for
agency-bound admin keys).

The provider's keys are cached by `rag.api.jwks` (refreshed for an unknown key id at a bounded rate; an
unreachable provider is a 503). The caller's name is `oidc:<subject>`, which the audit log records.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlparse

from pydantic import BaseModel, Field, field_validator, model_validator

from rag.api.jwks import Fetch, JwksCache, fetch_url
from rag.api.security import SUBJECT_PREFIX, AuthError, Principal

#: Asymmetric algorithms pyjwt verifies, by the key type they need.
_KEY_TYPES = {
    **{f"RS{n}": "RSA" for n in (256, 384, 512)},
    **{f"PS{n}": "RSA" for n in (256, 384, 512)},
    **{f"ES{n}": "EC" for n in (256, 384, 512)},
    "EdDSA": "OKP",
}


def _utc(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts))


class OidcSettings(BaseModel):
    """Bearer tokens from an OpenID Connect identity provider (section `api.oidc`)."""

    enabled: bool = Field(default=False, description="Accept the provider's tokens beside API keys.")
    issuer: str = Field(default="", description="The provider's issuer URL; a token's `iss` must equal it.")
    audience: list[str] = Field(
        default_factory=list, description="Accepted `aud` values (the client id the tokens are issued for)."
    )
    jwks_url: str = Field(
        default="",
        description="The provider's JWKS (signing keys), e.g. Keycloak's "
        "`<issuer>/protocol/openid-connect/certs`.",
    )
    algorithms: list[str] = Field(
        default_factory=lambda: ["RS256", "ES256"],
        description="Accepted signature algorithms (asymmetric only: `none` and HS* are refused).",
    )
    leeway_s: float = Field(default=30, ge=0, le=300, description="Clock skew allowed on `exp`/`nbf`/`iat`.")
    jwks_cache_s: float = Field(default=3600, ge=1, description="How long fetched keys are used unrefreshed.")
    refresh_min_interval_s: float = Field(
        default=60,
        ge=0,
        description="Least time between two JWKS fetches (unknown key ids, failures): bounds the load a "
        "flood of forged tokens puts on the provider.",
    )
    http_timeout_s: float = Field(default=5, gt=0, le=60, description="Timeout of a JWKS fetch.")
    subject_claim: str = Field(default="sub", description="Claim naming the officer (audit: `oidc:<value>`).")
    agency_claim: str | None = Field(
        default="agency", description="Dotted path of the claim holding the officer's agency; null: none."
    )
    groups_claims: list[str] = Field(
        default_factory=lambda: ["groups"],
        description="Dotted paths of claims holding access groups (a string or a list; e.g. "
        "`realm_access.roles`); their values are merged.",
    )
    default_groups: list[str] = Field(
        default_factory=lambda: ["public"], description="Groups every signed-in officer has."
    )
    admin_claim: str = Field(default="groups", description="Dotted path of the claim that can grant admin.")
    admin_values: list[str] = Field(
        default_factory=list,
        description="Values of `admin_claim` that grant the admin scope, limited to the token's agency "
        "(no agency claim: all agencies); empty: tokens never grant admin.",
    )
    rate_per_minute: float | None = Field(
        default=None, ge=0, description="Rate per officer; null: api.security.rate_per_minute."
    )

    @field_validator("audience", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("algorithms")
    @classmethod
    def _asymmetric_only(cls, value: list[str]) -> list[str]:
        for alg in value:
            if alg.lower() == "none" or alg.upper().startswith("HS"):
                raise ValueError(
                    f"{alg!r} is refused: tokens must be signed with the provider's private key "
                    f"(choose from {', '.join(_KEY_TYPES)})"
                )
            if alg not in _KEY_TYPES:
                raise ValueError(f"unknown algorithm {alg!r}; choose from {', '.join(_KEY_TYPES)}")
        if not value:
            raise ValueError("at least one algorithm is needed (e.g. RS256)")
        return value

    @model_validator(mode="after")
    def _complete(self) -> OidcSettings:
        if self.enabled:
            missing = [n for n in ("issuer", "audience", "jwks_url") if not getattr(self, n)]
            if missing:
                raise ValueError(f"api.oidc is enabled but {', '.join(missing)} is not set")
            if urlparse(self.jwks_url).scheme not in ("http", "https"):
                raise ValueError(f"api.oidc.jwks_url {self.jwks_url!r} is not an http(s) URL")
        return self

    def problems(self) -> list[str]:
        """Insecure choices (refused in production): keys fetched over plain http from another machine."""
        url = urlparse(self.jwks_url)
        if self.enabled and url.scheme == "http" and url.hostname not in ("127.0.0.1", "localhost", "::1"):
            return [f"api.oidc.jwks_url is plain http ({self.jwks_url}): use https so keys cannot be forged"]
        return []


def looks_like_jwt(token: str) -> bool:
    """A compact JWS (`header.payload.signature`, header base64url of a JSON object): not an API key."""
    return token.startswith("eyJ") and token.count(".") == 2


def claim(claims: Mapping[str, Any], path: str) -> Any:
    """The claim at a dotted `path` (`realm_access.roles`); a top-level name with dots (namespaced claims
    such as `https://agency.example/groups`) is tried first. None when absent."""
    if path in claims:
        return claims[path]
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _strings(value: Any, path: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise AuthError(f"token claim {path!r} must be a string or a list of strings")


class OidcVerifier:
    """Turns a provider's bearer token into the caller it names, or refuses it with a precise reason."""

    def __init__(self, settings: OidcSettings, fetch: Fetch = fetch_url) -> None:
        self.settings = settings
        self.jwks = JwksCache(
            settings.jwks_url,
            ttl_s=settings.jwks_cache_s,
            min_interval_s=settings.refresh_min_interval_s,
            timeout_s=settings.http_timeout_s,
            fetch=fetch,
        )

    @classmethod
    def from_settings(cls, settings: OidcSettings) -> OidcVerifier | None:
        """A verifier when `api.oidc.enabled`, else None."""
        return cls(settings) if settings.enabled else None

    def principal(self, token: str) -> Principal:
        """The caller of a valid token; raises `AuthError` saying what is wrong with it."""
        claims = self.verify(token)
        s = self.settings
        subject = claim(claims, s.subject_claim)
        if not isinstance(subject, str) or not subject:
            raise AuthError(f"the token has no {s.subject_claim!r} claim naming the officer")
        agency = None
        if s.agency_claim:
            value = claim(claims, s.agency_claim)
            if value is not None and not isinstance(value, str):
                raise AuthError(f"token claim {s.agency_claim!r} (agency) must be a string")
            agency = value or None
        groups = list(s.default_groups)
        for path in s.groups_claims:
            groups += [g for g in _strings(claim(claims, path), path) if g not in groups]
        scopes: tuple[str, ...] = ("query",)
        admin = _strings(claim(claims, s.admin_claim), s.admin_claim)
        if set(admin) & set(s.admin_values):
            scopes = ("query", "admin")
        return Principal(SUBJECT_PREFIX + subject, agency, tuple(groups), scopes, False, s.rate_per_minute)

    def verify(self, token: str) -> dict[str, Any]:
        """The claims of a token whose signature, issuer, audience and validity period are right."""
        import jwt

        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError as exc:
            raise AuthError(f"the token is malformed: {exc}") from None
        alg = header.get("alg")
        self._check_algorithm(alg)
        kid = header.get("kid")
        jwk = self.jwks.key(None if kid is None else str(kid))
        if jwk.key_type != _KEY_TYPES[str(alg)]:
            raise AuthError(f"the token's algorithm {alg} does not fit key {kid!r} (key type {jwk.key_type})")
        s = self.settings
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=jwk.key,
                algorithms=[str(alg)],
                audience=s.audience,
                issuer=s.issuer,
                leeway=s.leeway_s,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.InvalidSignatureError:
            raise AuthError(
                "the token's signature does not verify: it was altered or not signed by the identity provider"
            ) from None
        except jwt.ExpiredSignatureError:
            raise AuthError(
                f"the token expired at {_utc(self._unverified(token)['exp'])}; sign in again"
            ) from None
        except jwt.ImmatureSignatureError:
            raise AuthError(self._not_yet(self._unverified(token))) from None
        except jwt.InvalidAudienceError:
            aud = self._unverified(token).get("aud")
            raise AuthError(
                f"the token's audience {aud!r} is not this API's ({', '.join(s.audience)}; api.oidc.audience)"
            ) from None
        except jwt.InvalidIssuerError:
            iss = self._unverified(token).get("iss")
            raise AuthError(f"the token's issuer {iss!r} is not {s.issuer!r} (api.oidc.issuer)") from None
        except jwt.MissingRequiredClaimError as exc:
            raise AuthError(f"the token lacks the {exc.claim!r} claim") from None
        except jwt.PyJWTError as exc:
            raise AuthError(f"the token is invalid: {exc}") from None
        return claims

    def _check_algorithm(self, alg: Any) -> None:
        accepted = ", ".join(self.settings.algorithms)
        if not isinstance(alg, str) or alg.lower() == "none":
            raise AuthError("the token is unsigned (alg 'none'); only signed tokens are accepted")
        if alg.upper().startswith("HS"):
            # An HMAC keyed with the provider's *public* key verifies against that key: never accept one.
            raise AuthError(f"the token's algorithm {alg} (a shared secret) is refused; accepted: {accepted}")
        if alg not in self.settings.algorithms:
            raise AuthError(f"the token's algorithm {alg} is not accepted; accepted: {accepted}")

    @staticmethod
    def _unverified(token: str) -> dict[str, Any]:
        """Claims of a token whose signature has already been checked (to say what was wrong)."""
        import jwt

        claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
        return claims

    @staticmethod
    def _not_yet(claims: dict[str, Any]) -> str:
        nbf, iat = claims.get("nbf"), claims.get("iat")
        if isinstance(nbf, int | float) and nbf > time.time():
            return f"the token is not valid before {_utc(nbf)} (nbf)"
        if isinstance(iat, int | float):
            return f"the token was issued in the future ({_utc(iat)}, iat); check the clocks"
        return "the token is not valid yet"
