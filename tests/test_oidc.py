"""Officer sign-in (rag.api.oidc): real tokens signed by keys made here, checked against a JWKS served on
loopback, through the real app over the sample index.

A valid token is an officer with the agency and groups of its claims, filtered like an API key of those
groups; every kind of bad token is refused with 401 and a message that says what is wrong; the provider's
keys are fetched once, refetched for an unknown key id (a rotation) but never more than the refresh interval
allows; a provider that cannot be reached is a 503 that says so."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from api_support import (
    FINANCE_DOC,
    FOLDER_AGENCIES,
    HR_DOC,
    PASSPORT_EN,
    SampleIndex,
    api_keys,
    api_settings,
    app_client,
    bearer,
    free_port,
)
from fastapi.testclient import TestClient
from oidc_support import (
    AUDIENCE,
    ISSUER,
    JwksServer,
    ec_key,
    mint,
    oidc_settings,
    rsa_key,
    tampered,
    unsigned,
)
from pydantic import ValidationError

from rag.api.jwks import IdentityProviderUnavailable, JwksCache, _parse_jwks
from rag.api.oidc import OidcSettings, OidcVerifier, claim
from rag.api.security import ApiKey, AuthError, SecuritySettings, check_production

pytest_plugins = ["api_fixtures"]

IMMIGRATION = FOLDER_AGENCIES["immigration"]
WELFARE = FOLDER_AGENCIES["welfare"]
SALARY = {"query": "salary scale for grade MX9 officers", "top_k": 10}
BARRIER = {"query": "budget memo coastal flood barrier tenders", "top_k": 10}
HR_OFFICER = {"agency": "Public Service Division", "groups": ["hr"]}
FINANCE_OFFICER = {"agency": "Ministry of Finance", "realm_access": {"roles": ["finance"]}}

RSA = rsa_key("rsa-1")
EC = ec_key("ec-1")


@pytest.fixture(scope="module")
def idp() -> Iterator[JwksServer]:
    with JwksServer([RSA, EC]) as server:
        yield server


@pytest.fixture(scope="module")
def client(
    sample_index: SampleIndex, idp: JwksServer, embedder: Any, sparse_encoder: Any
) -> Iterator[TestClient]:
    """The app over the sample index (read-only): sign-in tokens, the test API keys, no anonymous callers."""
    security = {"api_keys": api_keys(), "allow_anonymous": False}
    settings = api_settings(sample_index.home, api={"security": security, "oidc": oidc_settings(idp.url)})
    with app_client(settings, embedder, sparse_encoder) as c:
        yield c


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _docs(client: TestClient, body: dict[str, Any], token: str) -> set[str]:
    r = client.post("/v1/search", json=body, headers=_auth(token))
    assert r.status_code == 200, r.text
    return {h["doc_id"] for h in r.json()["hits"]}


def _refused(client: TestClient, token: str) -> str:
    r = client.post("/v1/search", json=SALARY, headers=_auth(token))
    assert r.status_code == 401, r.text
    assert r.headers["www-authenticate"] == "Bearer"
    assert r.json()["error"]["code"] == "unauthorized"
    message: str = r.json()["error"]["message"]
    return message


def test_officers_see_their_groups_documents_only(client: TestClient, sample_index: SampleIndex) -> None:
    hr = mint(RSA, "officer-hr", **HR_OFFICER)
    finance = mint(EC, "officer-fin", **FINANCE_OFFICER)  # ES256, groups from a nested claim
    assert HR_DOC in _docs(client, SALARY, hr)
    assert FINANCE_DOC not in _docs(client, BARRIER, hr)
    assert FINANCE_DOC in _docs(client, BARRIER, finance)
    assert HR_DOC not in _docs(client, SALARY, finance)
    assert PASSPORT_EN not in _docs(client, {"query": "passport renewal fee"}, finance)  # no 'public' group
    # API keys keep working beside tokens
    r = client.post("/v1/search", json=SALARY, headers=bearer("hr"))
    assert HR_DOC in {h["doc_id"] for h in r.json()["hits"]}

    # the audit log names the officer (its subject)
    r = client.post(
        "/v1/query", json={"question": "What is the salary scale for grade MX9?"}, headers=_auth(hr)
    )
    assert r.status_code == 200, r.text
    qid = r.json()["query_id"]
    with sqlite3.connect(sample_index.home / "audit.sqlite3") as db:
        row = db.execute("SELECT caller, agency FROM queries WHERE query_id = ?", (qid,)).fetchone()
    assert row == ("oidc:officer-hr", "Public Service Division")


def test_admin_token_administers_its_agency_only(client: TestClient) -> None:
    admin = mint(RSA, "imm-lead", agency=IMMIGRATION, groups=["public", "govrag-admin"])
    own = client.get("/v1/documents", headers=_auth(admin))
    assert own.status_code == 200, own.text
    assert {d["agency"] for d in own.json()["documents"]} == {IMMIGRATION}
    other = client.get("/v1/documents", params={"agency": WELFARE}, headers=_auth(admin))
    assert other.status_code == 403
    assert (
        other.json()["error"]["message"]
        == f"key 'oidc:imm-lead' administers the documents of {IMMIGRATION!r} only"
    )
    officer = mint(RSA, "imm-officer", agency=IMMIGRATION, groups=["public"])
    r = client.get("/v1/documents", headers=_auth(officer))
    assert r.status_code == 403
    assert r.json()["error"]["message"] == "key 'oidc:imm-officer' lacks the 'admin' scope"


def test_bad_tokens_are_refused_with_the_reason(client: TestClient) -> None:
    now = int(time.time())
    expired = mint(RSA, exp=now - 3600, iat=now - 7200)
    assert _refused(client, expired) == f"the token expired at {_utc(now - 3600)}; sign in again"
    early = mint(RSA, nbf=now + 3600)
    assert _refused(client, early) == f"the token is not valid before {_utc(now + 3600)} (nbf)"
    assert _refused(client, mint(EC, aud="another-app")) == (
        f"the token's audience 'another-app' is not this API's ({AUDIENCE}; api.oidc.audience)"
    )
    evil = "https://evil.example/realms/officers"
    assert (
        _refused(client, mint(RSA, iss=evil))
        == f"the token's issuer {evil!r} is not {ISSUER!r} (api.oidc.issuer)"
    )
    assert (
        _refused(client, unsigned()) == "the token is unsigned (alg 'none'); only signed tokens are accepted"
    )
    # algorithm confusion: an HMAC keyed with the provider's public key (pyjwt itself refuses to make one)
    header = {"alg": "HS256", "kid": RSA.kid, "typ": "JWT"}
    hmac_token = _hs256(
        header, {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": now + 300}, RSA.public_pem()
    )
    assert _refused(client, hmac_token) == (
        "the token's algorithm HS256 (a shared secret) is refused; accepted: RS256, ES256"
    )
    promoted = tampered(mint(RSA, "officer-hr", **HR_OFFICER), groups=["hr", "finance"])
    assert _refused(client, promoted) == (
        "the token's signature does not verify: it was altered or not signed by the identity provider"
    )
    assert _refused(client, mint(RSA, exp=None)) == "the token lacks the 'exp' claim"
    assert (
        _refused(client, mint(EC, kid=RSA.kid))
        == "the token's algorithm ES256 does not fit key 'rsa-1' (key type RSA)"
    )
    assert _refused(client, "eyJhbGciOi.broken.token").startswith("the token is malformed: ")


def _utc(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts))


def _hs256(header: dict[str, Any], payload: dict[str, Any], secret: bytes) -> str:
    import hashlib
    import hmac

    from oidc_support import b64

    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    sig = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(sig)}"


def test_unknown_key_refetches_once_and_rotation_is_picked_up(client: TestClient, idp: JwksServer) -> None:
    assert _docs(client, SALARY, mint(RSA, "warm", **HR_OFFICER))  # keys held
    before = idp.hits
    stranger = rsa_key("rsa-stranger")
    assert _refused(client, mint(stranger)) == (
        "the token's key id 'rsa-stranger' is not one of the identity provider's signing keys"
    )
    # fetched again once for the unknown kid, then refused (by the guard, before the body is read)
    assert idp.hits == before + 1

    rotated = rsa_key("rsa-2")
    idp.keys.append(rotated)
    before = idp.hits
    assert HR_DOC in _docs(client, SALARY, mint(rotated, "officer-hr", **HR_OFFICER))
    assert idp.hits == before + 1  # fetched once: the route's own check found the key in the cache

    # the provider goes down: keys already held keep working, an unknown one is still refused
    idp.fail = True
    try:
        assert HR_DOC in _docs(client, SALARY, mint(RSA, "officer-hr", **HR_OFFICER))
        assert "not one of the identity provider's signing keys" in _refused(client, mint(stranger))
    finally:
        idp.fail = False


def test_provider_unreachable_is_a_503_that_says_so(
    tmp_path: Path, embedder: Any, sparse_encoder: Any
) -> None:
    dead = f"http://127.0.0.1:{free_port()}/certs"  # nothing listens there
    settings = api_settings(tmp_path, api={"oidc": oidc_settings(dead, refresh_min_interval_s=60)})
    with app_client(settings, embedder, sparse_encoder) as c:
        for _ in range(3):  # the second and third do not try again within the refresh interval
            r = c.post("/v1/search", json=SALARY, headers=_auth(mint(RSA)))
            assert r.status_code == 503, r.text
            error = r.json()["error"]
            assert error["code"] == "identity_provider_unavailable"
            assert error["message"].startswith("the identity provider's signing keys could not be fetched (")
            assert error["message"].endswith("); try again shortly")
        assert c.app.state.services.oidc.jwks.fetches == 1


def test_what_the_provider_sends_is_checked() -> None:
    """An error status, a body that is not a key set, and keys for encryption are not signing keys."""
    with JwksServer([RSA], fail=True) as idp:
        verifier = OidcVerifier(OidcSettings(**oidc_settings(idp.url)))
        with pytest.raises(IdentityProviderUnavailable, match=r"could not be fetched \(HTTP 500\)"):
            verifier.principal(mint(RSA))
    assert _parse_jwks(json.dumps({"keys": [{**EC.jwk, "use": "enc"}, RSA.jwk]}).encode()).keys() == {"rsa-1"}
    with pytest.raises(OSError, match='no "keys" list'):
        _parse_jwks(b'{"keys": {}}')
    with pytest.raises(OSError, match="not JSON"):
        _parse_jwks(b"<html>")


def test_a_flood_of_unknown_key_ids_costs_one_fetch_per_interval() -> None:
    fetched: list[str] = []
    body = b'{"keys": []}'
    now = [1000.0]
    cache = JwksCache(
        "http://idp/certs",
        ttl_s=3600,
        min_interval_s=60,
        timeout_s=1,
        fetch=lambda url, timeout: fetched.append(url) or body,
        clock=lambda: now[0],
    )
    for i in range(50):
        with pytest.raises(AuthError, match=f"key id 'random-{i}' is not one"):
            cache.key(f"random-{i}")
        now[0] += 0.5
    assert len(fetched) == 1
    now[0] += 60
    with pytest.raises(AuthError):
        cache.key("random-x")
    assert len(fetched) == 2


def test_a_slow_provider_holds_up_only_callers_that_need_a_fetch() -> None:
    """While one caller waits for the provider (an unknown key id), a caller whose key is held is answered
    at once; past the cache time the set is renewed and a key the provider dropped is refused."""
    served = [json.dumps({"keys": [RSA.jwk]}).encode()]
    release, entered = threading.Event(), threading.Event()
    now = [1000.0]

    def fetch(url: str, timeout: float) -> bytes:
        if len(served) > 1:
            entered.set()
            assert release.wait(30), "the test never released the fetch"
        return served[-1]

    cache = JwksCache(
        "http://idp/certs", ttl_s=600, min_interval_s=0, timeout_s=1, fetch=fetch, clock=lambda: now[0]
    )
    assert cache.key("rsa-1").key_id == "rsa-1"
    served.append(json.dumps({"keys": [EC.jwk]}).encode())  # the provider rotates RSA out, slowly
    outcome: list[Any] = []
    waiting = threading.Thread(target=lambda: outcome.append(cache.key("ec-1")), daemon=True)
    waiting.start()
    assert entered.wait(30)
    assert cache.key("rsa-1").key_id == "rsa-1"  # not held up by the fetch in flight
    release.set()
    waiting.join(30)
    assert [k.key_id for k in outcome] == ["ec-1"]
    assert cache.fetches == 2
    with pytest.raises(AuthError, match="key id 'rsa-1' is not one"):  # the new set has no rsa-1
        cache.key("rsa-1")


def test_settings_refuse_shared_secret_algorithms_and_incomplete_sections() -> None:
    for alg in ("HS256", "none"):
        with pytest.raises(ValidationError, match=f"'{alg}' is refused"):
            OidcSettings(algorithms=[alg])
    with pytest.raises(ValidationError, match=r"api\.oidc is enabled but issuer, jwks_url is not set"):
        OidcSettings(enabled=True, audience=["x"])
    assert OidcSettings(audience="one").audience == ["one"]
    with pytest.raises(ValidationError, match="reserved for signed-in officers"):
        ApiKey(name="oidc:someone", hash="0" * 64)
    assert claim({"https://agency.example/groups": ["a"]}, "https://agency.example/groups") == ["a"]
    assert claim({"realm_access": {"roles": ["r"]}}, "realm_access.roles") == ["r"]
    assert claim({"realm_access": {}}, "realm_access.roles") is None
    plain = OidcSettings(
        enabled=True, issuer=ISSUER, audience=[AUDIENCE], jwks_url="http://idp.agency.example/c"
    )
    assert plain.problems() == [
        "api.oidc.jwks_url is plain http (http://idp.agency.example/c): use https so keys cannot be forged"
    ]
    assert jwt.get_unverified_header(mint(RSA))["kid"] == "rsa-1"
    # production: sign-in is enough without API keys; keys fetched over http from another host are not
    closed = SecuritySettings(allow_anonymous=False)
    assert check_production("production", closed) == [
        "no API keys are configured: make one with `govrag keys create NAME` (or add api.security.api_keys; "
        "make a key and hash with `python -m rag.api.security`)"
    ]
    secure = plain.model_copy(update={"jwks_url": "https://idp.agency.example/c"})
    assert check_production("production", closed, 0, secure) == []
    assert check_production("production", closed, 0, plain) == plain.problems()
