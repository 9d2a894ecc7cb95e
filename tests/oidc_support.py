"""An identity provider for the OpenID Connect tests: signing keys made in the test, their JWKS served over
loopback by `http.server` in a thread, and real signed tokens (pyjwt)."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

ISSUER = "https://sso.agency.example/realms/officers"
AUDIENCE = "govrag-api"


@dataclass
class SigningKey:
    """A provider key pair: `kid`, the algorithm it signs with, the private key and its public JWK."""

    kid: str
    alg: str
    private: Any
    jwk: dict[str, Any]

    def public_pem(self) -> bytes:
        """The public key as PEM (what an algorithm-confusion attacker would use as an HMAC secret)."""
        pem: bytes = self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return pem


def rsa_key(kid: str) -> SigningKey:
    """A new 2048-bit RSA key signing RS256."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(private.public_key()))
    return SigningKey(kid, "RS256", private, {**jwk, "kid": kid, "use": "sig", "alg": "RS256"})


def ec_key(kid: str) -> SigningKey:
    """A new P-256 key signing ES256."""
    private = ec.generate_private_key(ec.SECP256R1())
    jwk: dict[str, Any] = json.loads(ECAlgorithm.to_jwk(private.public_key()))
    return SigningKey(kid, "ES256", private, {**jwk, "kid": kid, "use": "sig", "alg": "ES256"})


def claims(subject: str, **extra: Any) -> dict[str, Any]:
    """Claims of a token valid for five minutes from now, for this test provider and audience (an `extra`
    of None drops that claim)."""
    now = int(time.time())
    made = {"iss": ISSUER, "aud": AUDIENCE, "sub": subject, "iat": now, "exp": now + 300, **extra}
    return {k: v for k, v in made.items() if v is not None}


def mint(key: SigningKey, subject: str = "officer-1", *, kid: str | None = "", **extra: Any) -> str:
    """A token for `subject` signed by `key` (header `kid` = key's unless given; None: no kid)."""
    headers = {} if kid is None else {"kid": kid or key.kid}
    return jwt.encode(claims(subject, **extra), key.private, algorithm=key.alg, headers=headers)


def b64(data: bytes) -> str:
    """base64url without padding (JWS segments)."""
    import base64

    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(subject: str = "officer-1", **extra: Any) -> str:
    """A token with `alg: none` and no signature."""
    header = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{b64(json.dumps(claims(subject, **extra)).encode())}."


def tampered(token: str, **changes: Any) -> str:
    """`token` with its payload changed and the original signature kept."""
    head, payload, sig = token.split(".")
    import base64

    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return f"{head}.{b64(json.dumps({**data, **changes}).encode())}.{sig}"


@dataclass
class JwksServer:
    """The provider's JWKS endpoint on loopback: `keys` are served as they are now; `fail` makes it answer
    500; `hits` counts requests. Use as a context manager (the thread stops at exit)."""

    keys: list[SigningKey] = field(default_factory=list)
    fail: bool = False
    hits: int = 0

    def __post_init__(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.hits += 1
                if owner.fail:
                    self.send_error(500, "provider down")
                    return
                body = json.dumps({"keys": [k.jwk for k in owner.keys]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._httpd.timeout = 10
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The JWKS URL."""
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/certs"

    def __enter__(self) -> JwksServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)


def oidc_settings(jwks_url: str, **overrides: Any) -> dict[str, Any]:
    """The `api.oidc` section for the test provider: agency, groups, admin by the `govrag-admin` group."""
    return {
        "enabled": True,
        "issuer": ISSUER,
        "audience": [AUDIENCE],
        "jwks_url": jwks_url,
        "refresh_min_interval_s": 0,
        "agency_claim": "agency",
        "groups_claims": ["groups", "realm_access.roles"],
        "default_groups": [],
        "admin_values": ["govrag-admin"],
        **overrides,
    }
