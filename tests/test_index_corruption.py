"""Damaged index files (issue 10, item 5): random bytes written into a real Qdrant Edge index's payload
storage and dense vector storage. Before: `/readyz` said ready while every search answered a plain-text
500 (payload), or searches silently ranked by garbage vectors (vectors). Now `govrag index check` names
the damage, opening the index refuses it, `govrag search` exits 2 with the fix, and the API answers JSON
503 (`/readyz` not ready, queries `index_unavailable`) without showing server paths.
"""

from __future__ import annotations

import random
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from api_support import app_client
from conftest import link_models
from typer.testing import CliRunner

from govrag.cli import app as cli_app

DOCS = {
    "passport.md": "# Passport renewal\n\nA passport renewal costs 70 dollars and takes ten working days.",
    "clinic.md": "# Clinic hours\n\nPublic clinics open from eight in the morning until five.",
    "tax.md": "# Tax rebate\n\nA one-off tax rebate of 200 dollars is paid to every resident taxpayer.",
}
PAYLOAD = "payload_storage/page_0.dat"
VECTORS = "vector_storage-dense/vectors/chunk_0.mmap"


@pytest.fixture(scope="module")
def healthy_home(tmp_path_factory: pytest.TempPathFactory, embedder: Any, sparse_encoder: Any) -> Path:
    from conftest import build_settings, ingest_now

    base = tmp_path_factory.mktemp("corruption")
    corpus = base / "corpus"
    corpus.mkdir()
    for name, text in DOCS.items():
        (corpus / name).write_text(text, encoding="utf-8")
    settings = build_settings(base / "home", ingest={"workers": 1})
    report = ingest_now(settings, embedder, sparse_encoder, [corpus])
    assert report.failed == []
    return base / "home"


@pytest.fixture
def home(healthy_home: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "home"
    shutil.copytree(healthy_home / "index", dest / "index")
    link_models(dest)
    return dest


def _damage(home: Path, rel: str, n_bytes: int = 4000, seed: int = 7) -> list[Path]:
    """Overwrite the first `n_bytes` of `rel` in every segment with random bytes."""
    rng = random.Random(seed)
    hit = []
    for seg in sorted((home / "index" / "govrag" / "shard" / "segments").iterdir()):
        path = seg / rel
        if not path.is_file():
            continue
        data = bytearray(path.read_bytes())
        for i in range(min(n_bytes, len(data))):
            data[i] = rng.randrange(256)
        path.write_bytes(bytes(data))
        hit.append(path)
    assert hit, f"no {rel} found under {home}: the Edge layout changed, update the test"
    return hit


def _cli(*args: str) -> Any:
    return CliRunner().invoke(cli_app, list(args))


def test_healthy_index_checks_clean(home: Path) -> None:
    result = _cli("index", "check", "--home", str(home))
    assert result.exit_code == 0, result.output
    assert "index ok: 3 of 3 points checked" in result.output


@pytest.mark.parametrize(
    ("target", "problem"),
    [
        (
            PAYLOAD,
            "stored points cannot be read after 0 points: Service runtime error: Failed to decode value",
        ),
        (VECTORS, "dense vector holds NaN or infinite values"),
    ],
)
def test_damaged_storage_is_found_refused_and_answered_as_json_503(
    home: Path,
    target: str,
    problem: str,
    embedder: Any,
    sparse_encoder: Any,
    make_settings: Callable[..., Any],
) -> None:
    _damage(home, target)

    check = _cli("index", "check", "--home", str(home))
    assert check.exit_code == 1
    assert "index damaged" in check.output
    assert problem in " ".join(check.output.split())

    search = _cli("search", "passport fee", "--home", str(home))
    assert search.exit_code == 2
    flat = " ".join(search.output.split())
    assert "is damaged" in flat
    assert problem.split(":")[0] in flat
    assert "`govrag index check`" in flat

    settings = make_settings(home)
    with app_client(settings, embedder, sparse_encoder) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 503
        body = ready.json()
        assert body["ready"] is False
        assert body["checks"]["index"] is False
        assert "damaged" in body["checks"]["index_problem"]
        assert str(home) not in ready.text
        assert "/tmp" not in ready.text
        answer = client.post("/v1/query", json={"question": "How much is a passport renewal?"})
        assert answer.status_code == 503
        assert answer.headers["content-type"].startswith("application/json")
        assert answer.json()["error"]["code"] == "index_unavailable"
        assert "damaged" in answer.json()["error"]["message"]
        assert str(home) not in answer.text
        assert "/tmp" not in answer.text


def test_payload_damaged_while_serving_turns_not_ready_and_json_503(
    home: Path, embedder: Any, sparse_encoder: Any, make_settings: Callable[..., Any]
) -> None:
    settings = make_settings(home)
    with app_client(settings, embedder, sparse_encoder) as client:
        assert client.get("/readyz").json()["checks"]["index"] is True
        ok = client.post("/v1/query", json={"question": "How much is a passport renewal?"})
        assert ok.status_code == 200, ok.text
        _damage(home, PAYLOAD, n_bytes=1 << 20)
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert "cannot be read" in ready.json()["checks"]["index_problem"]
        answer = client.post("/v1/query", json={"question": "How much is a passport renewal?"})
        assert answer.status_code == 503
        assert answer.json()["error"]["code"] == "index_unavailable"
        assert "Failed to decode value" in answer.json()["error"]["message"]
        assert "/tmp" not in answer.text
