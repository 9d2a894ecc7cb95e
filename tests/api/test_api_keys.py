"""API keys: hashing, settings validation, authentication outcomes and the production check."""

from __future__ import annotations

import hashlib

import pytest
from pydantic import ValidationError

from rag.api.security import (
    ApiKey,
    AuthError,
    Principal,
    SecuritySettings,
    authenticate,
    check_production,
    generate_key,
    hash_key,
    security_problems,
)

CITIZEN_KEY = "grk_citizen-portal-test-key-0001"
ADMIN_KEY = "grk_admin-test-key-0002"


@pytest.fixture
def settings() -> SecuritySettings:
    return SecuritySettings(
        api_keys=[
            ApiKey(name="moh-portal", hash=hash_key(CITIZEN_KEY), agency="MOH", groups=["public", "moh"]),
            ApiKey(
                name="ops", hash=hash_key(ADMIN_KEY).upper(), scopes=["query", "admin"], rate_per_minute=60
            ),
        ],
        anonymous_rate_per_minute=12,
    )


def test_hash_and_generate() -> None:
    assert hash_key("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    key, digest = generate_key()
    other, _ = generate_key()
    assert key.startswith("grk_")
    assert len(key) >= 40
    assert key != other
    assert digest == hashlib.sha256(key.encode()).hexdigest() == hash_key(key)


def test_bearer_and_header_keys(settings: SecuritySettings) -> None:
    p = authenticate(f"Bearer {CITIZEN_KEY}", None, settings)
    assert p == Principal("moh-portal", "MOH", ("public", "moh"), ("query",), False, None)
    assert authenticate(None, CITIZEN_KEY, settings).name == "moh-portal"
    assert authenticate(f"bearer   {CITIZEN_KEY} ", CITIZEN_KEY, settings).name == "moh-portal"
    admin = authenticate(None, ADMIN_KEY, settings)  # hash configured in upper case still matches
    assert admin.scopes == ("query", "admin")
    assert admin.rate_per_minute == 60
    assert admin.groups == ("public",)


def test_anonymous_caller(settings: SecuritySettings) -> None:
    p = authenticate(None, None, settings)
    assert p == Principal("anonymous", None, ("public",), ("query",), True, 12)
    assert authenticate("  ", "", settings).anonymous
    closed = settings.model_copy(update={"allow_anonymous": False})
    with pytest.raises(AuthError, match="an API key is required") as info:
        authenticate(None, None, closed)
    assert info.value.status == 401


@pytest.mark.parametrize(
    ("authorization", "x_api_key", "message"),
    [
        ("Bearer grk_wrong", None, "invalid API key"),
        (None, "grk_wrong", "invalid API key"),
        (None, hash_key(CITIZEN_KEY), "invalid API key"),  # the stored hash is not a key
        (f"Basic {CITIZEN_KEY}", None, "must be 'Bearer <API key>'"),
        ("Bearer", None, "must be 'Bearer <API key>'"),
        (f"Bearer {CITIZEN_KEY}", ADMIN_KEY, "different keys"),
    ],
)
def test_refusals(
    settings: SecuritySettings, authorization: str | None, x_api_key: str | None, message: str
) -> None:
    """A bad key is refused even though anonymous access is allowed: no silent downgrade."""
    assert settings.allow_anonymous
    with pytest.raises(AuthError, match=message) as info:
        authenticate(authorization, x_api_key, settings)
    assert info.value.status == 401


def test_settings_validation() -> None:
    with pytest.raises(ValidationError, match="not the key itself"):
        ApiKey(name="x", hash=CITIZEN_KEY)
    with pytest.raises(ValidationError, match="reserved"):
        ApiKey(name="anonymous", hash=hash_key("k"))
    with pytest.raises(ValidationError, match="scopes"):
        ApiKey.model_validate({"name": "x", "hash": hash_key("k"), "scopes": ["write"]})
    with pytest.raises(ValidationError, match="name used more than once"):
        SecuritySettings(
            api_keys=[ApiKey(name="a", hash=hash_key("1")), ApiKey(name="a", hash=hash_key("2"))]
        )
    with pytest.raises(ValidationError, match="hash used more than once"):
        SecuritySettings(
            api_keys=[ApiKey(name="a", hash=hash_key("1")), ApiKey(name="b", hash=hash_key("1"))]
        )
    parsed = SecuritySettings.model_validate(
        {
            "api_keys": [{"name": "k", "hash": hash_key("1"), "scopes": ["admin"]}],
            "cors_origins": ["https://a.gov"],
        }
    )
    assert parsed.api_keys[0].scopes == ["admin"]
    assert parsed.api_keys[0].groups == ["public"]


def test_production_check(settings: SecuritySettings) -> None:
    defaults = SecuritySettings()
    assert check_production("development", defaults) == []
    problems = check_production("production", defaults.model_copy(update={"cors_origins": ["*"]}))
    assert len(problems) == 3
    assert any("ALLOW_ANONYMOUS=false" in p for p in problems)
    assert any("no API keys" in p for p in problems)
    assert any("CORS allows any origin" in p for p in problems)
    assert security_problems(defaults) == check_production("production", defaults)
    secure = settings.model_copy(update={"allow_anonymous": False, "cors_origins": ["https://www.gov.sg"]})
    assert check_production("production", secure) == []
