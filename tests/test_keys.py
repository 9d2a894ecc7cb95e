"""`govrag keys create|list|revoke|rotate` and the key store behind the API (`rag.api.keystore`).

Keys are made with the real CLI in a copy of the sample data dir and used against the real app (the same
process, the same file): a new key works without a restart, a revoked or expired one is refused with a
message that says which and when, a rotated one is replaced at once, and an agency's admin administers
that agency's documents only."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from api_support import FOLDER_AGENCIES, PASSPORT_EN, SampleIndex, api_settings, app_client, clone_home
from typer.testing import CliRunner

from govrag.cli import app
from rag.api.keystore import FILE_NAME, KeyStore, KeyStoreError
from rag.api.security import AuthError, SecuritySettings, authenticate, hash_key

pytest_plugins = ["api_fixtures"]

IMMIGRATION = FOLDER_AGENCIES["immigration"]
WELFARE_DOC = "welfare/flood-relief-guide.en.pdf"


@pytest.fixture
def home(sample_index: SampleIndex, tmp_path: Path) -> Path:
    return clone_home(sample_index.home, tmp_path / "home")


def _keys(home: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["keys", *args, "--home", str(home)], env={"COLUMNS": "200"})
    return result.exit_code, result.output


def _create(home: Path, name: str, *args: str) -> dict[str, Any]:
    code, output = _keys(home, "create", name, "--json", *args)
    assert code == 0, output
    data: dict[str, Any] = json.loads(output)
    return data


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_keys_are_shown_once_and_stored_as_hashes_only(home: Path) -> None:
    made = _create(home, "desk-1", "--group", "public", "--group", "hr", "--expires-in-days", "30")
    key = made["key"]
    assert key.startswith("grk_")
    assert len(key) > 40
    assert made["groups"] == ["public", "hr"]
    assert made["scopes"] == ["query"]
    assert made["state"] == "active"
    raw = (home / FILE_NAME).read_bytes() + b"".join(p.read_bytes() for p in home.glob(FILE_NAME + "-*"))
    assert key.encode() not in raw
    with sqlite3.connect(home / FILE_NAME) as db:
        assert db.execute("SELECT hash FROM api_keys").fetchall() == [(hash_key(key),)]

    code, listed = _keys(home, "list", "--json")
    assert code == 0, listed
    rows = json.loads(listed)["keys"]
    assert [(r["name"], r["state"], r["source"]) for r in rows] == [("desk-1", "active", "store")]
    assert key not in listed
    assert hash_key(key) not in listed
    code, table = _keys(home, "list")
    assert "desk-1" in table
    assert "active" in table

    code, output = _keys(home, "create", "desk-1")
    assert code == 2
    assert "a key named 'desk-1' exists" in output
    code, output = _keys(home, "create", "desk-2", "--scope", "owner")
    assert code == 2
    assert "desk-2" in output
    assert "scopes" in output


def test_new_revoked_rotated_and_expired_keys_against_the_running_api(
    home: Path, embedder: Any, sparse_encoder: Any
) -> None:
    settings = api_settings(home)
    with app_client(settings, embedder, sparse_encoder) as client:
        search = {"query": "passport renewal fee", "top_k": 3}
        # made while the server runs: works on the next request, no restart
        key = _create(home, "desk-1")["key"]
        r = client.post("/v1/search", json=search, headers=_bearer(key))
        assert r.status_code == 200, r.text
        assert r.json()["hits"]

        assert _keys(home, "revoke", "desk-1")[0] == 0
        r = client.post("/v1/search", json=search, headers=_bearer(key))
        assert r.status_code == 401
        assert r.json()["error"]["message"].startswith("API key 'desk-1' was revoked on ")

        key = _create(home, "desk-1")["key"]  # the name is free again once revoked
        code, output = _keys(home, "rotate", "desk-1", "--json")
        assert code == 0, output
        new = json.loads(output)["key"]
        assert client.post("/v1/search", json=search, headers=_bearer(key)).status_code == 401
        assert client.post("/v1/search", json=search, headers=_bearer(new)).status_code == 200

        store = KeyStore.in_home(home)  # the CLI counts in days; a key that expires within the test
        short, _ = store.create("temp", expires_at=time.time() + 1.5)
        store.close()
        assert client.post("/v1/search", json=search, headers=_bearer(short)).status_code == 200
        time.sleep(2.0)
        r = client.post("/v1/search", json=search, headers=_bearer(short))
        assert r.status_code == 401
        assert "API key 'temp' expired on " in r.json()["error"]["message"]

        r = client.post("/v1/search", json=search, headers=_bearer("grk_" + "x" * 43))
        assert r.status_code == 401
        assert r.json()["error"]["message"] == "invalid API key"

    code, listed = _keys(home, "list", "--all", "--json")
    states = sorted((r["name"], r["state"]) for r in json.loads(listed)["keys"])
    assert states == [("desk-1", "active"), ("desk-1", "revoked"), ("desk-1", "revoked"), ("temp", "expired")]


def test_agency_admin_administers_its_own_agency_only(home: Path, embedder: Any, sparse_encoder: Any) -> None:
    agency_admin = _create(home, "imm-admin", "--agency", IMMIGRATION, "--scope", "admin")["key"]
    root = _create(home, "root", "--scope", "admin")["key"]
    with app_client(api_settings(home), embedder, sparse_encoder) as client:
        own = client.get("/v1/documents", headers=_bearer(agency_admin))
        assert own.status_code == 200, own.text
        ids = {d["doc_id"] for d in own.json()["documents"]}
        assert PASSPORT_EN in ids
        assert WELFARE_DOC not in ids
        assert {d["agency"] for d in own.json()["documents"]} == {IMMIGRATION}

        other = client.get(
            "/v1/documents", params={"agency": FOLDER_AGENCIES["welfare"]}, headers=_bearer(agency_admin)
        )
        assert other.status_code == 403
        assert other.json()["error"]["message"] == (
            f"key 'imm-admin' administers the documents of {IMMIGRATION!r} only"
        )
        # another agency's document is answered as unknown, and survives the delete
        assert client.get(f"/v1/documents/{WELFARE_DOC}", headers=_bearer(agency_admin)).status_code == 404
        assert client.delete(f"/v1/documents/{WELFARE_DOC}", headers=_bearer(agency_admin)).status_code == 404
        assert client.get(f"/v1/documents/{WELFARE_DOC}", headers=_bearer(root)).status_code == 200

        everything = client.get("/v1/documents", headers=_bearer(root)).json()["documents"]
        assert WELFARE_DOC in {d["doc_id"] for d in everything}
        deleted = client.delete(f"/v1/documents/{PASSPORT_EN}", headers=_bearer(agency_admin))
        assert deleted.status_code == 200, deleted.text
        assert client.get(f"/v1/documents/{PASSPORT_EN}", headers=_bearer(root)).status_code == 404


def test_store_and_settings_keys_side_by_side(tmp_path: Path) -> None:
    store = KeyStore.in_home(tmp_path)
    assert store.find(hash_key("anything")) is None  # no file yet: nothing stored, nothing created
    assert not (tmp_path / FILE_NAME).exists()
    ops = {"name": "ops", "hash": hash_key("grk_ops"), "scopes": ["admin"]}
    configured = SecuritySettings(api_keys=[ops])
    with pytest.raises(KeyStoreError, match=r"already configured in api\.security\.api_keys"):
        store.create("ops", reserved={"ops"})
    key, _ = store.create("desk", agency="MOH", groups=["moh"])
    caller = authenticate(f"Bearer {key}", None, configured, store)
    assert (caller.name, caller.agency, caller.groups, caller.scopes) == ("desk", "MOH", ("moh",), ("query",))
    assert authenticate("Bearer grk_ops", None, configured, store).name == "ops"
    with pytest.raises(AuthError, match="invalid API key"):
        authenticate(f"Bearer {key}", None, configured)  # without the store the key is unknown
    with pytest.raises(KeyStoreError, match="no key named 'nobody'; keys: desk"):
        store.revoke("nobody")
    with pytest.raises(KeyStoreError, match="in the past"):
        store.create("late", expires_at=time.time() - 1)
    store.close()
