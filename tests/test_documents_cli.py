"""`govrag documents list|show|delete` and `govrag status` over a copy of the ingested sample index."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from api_support import FOLDER_AGENCIES, HR_DOC, PASSPORT_EN, RESTRICTED_RECORDS, SampleIndex, clone_home
from typer.testing import CliRunner

from govrag.cli import app

pytest_plugins = ["api_fixtures"]


@pytest.fixture
def home(sample_index: SampleIndex, tmp_path: Path) -> Path:
    return clone_home(sample_index.home, tmp_path / "home")


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.output


def _listed(home: Path, *filters: str) -> dict[str, dict[str, object]]:
    code, output = _run("documents", "list", "--json", "--home", str(home), *filters)
    assert code == 0, output
    data = json.loads(output)
    assert data["total"] == len(data["documents"])
    return {d["doc_id"]: d for d in data["documents"]}


def test_list_shows_every_document_and_filters(home: Path, sample_index: SampleIndex) -> None:
    docs = _listed(home)
    assert set(docs) == set(sample_index.chunks)
    assert docs[PASSPORT_EN]["title"] == "Renewing your passport"
    assert docs[PASSPORT_EN]["n_chunks"] == len(sample_index.chunks[PASSPORT_EN])

    immigration = _listed(home, "--agency", FOLDER_AGENCIES["immigration"])
    assert PASSPORT_EN in immigration
    assert all(d["agency"] == FOLDER_AGENCIES["immigration"] for d in immigration.values())
    assert HR_DOC in _listed(home, "--group", "hr")
    assert HR_DOC not in _listed(home, "--group", "public")
    assert set(_listed(home, "--lang", "th")) == {
        d for d, c in sample_index.chunks.items() if c[0].lang == "th"
    }

    code, table = _run("documents", "list", "--home", str(home))
    assert code == 0
    assert f"{len(sample_index.chunks)} documents" in table
    assert PASSPORT_EN in table  # ids are folded, never cut, so they can be copied


def test_show_prints_provenance_and_every_chunk(home: Path, sample_index: SampleIndex) -> None:
    code, output = _run("documents", "show", PASSPORT_EN, "--home", str(home))
    assert code == 0, output
    flat = " ".join(output.split())
    assert "Renewing your passport" in flat
    assert "The renewal fee is 70 dollars" in flat
    assert f"chunks: {len(sample_index.chunks[PASSPORT_EN])}" in flat

    code, output = _run("documents", "show", PASSPORT_EN, "--json", "--home", str(home))
    chunks = json.loads(output)["chunks"]
    assert [c["chunk_no"] for c in chunks] == list(range(len(chunks)))

    code, output = _run("documents", "show", "no-such-doc", "--home", str(home))
    assert code == 1
    assert "no document with id 'no-such-doc'" in output


def test_delete_refuses_unknown_ids_and_removes_known_ones(home: Path, sample_index: SampleIndex) -> None:
    code, output = _run("documents", "delete", HR_DOC, "missing-doc", "--yes", "--home", str(home))
    assert code == 1
    assert "'missing-doc'" in output
    assert "nothing deleted" in output
    assert HR_DOC in _listed(home)

    code, output = _run(
        "documents", "delete", HR_DOC, "--home", str(home)
    )  # confirmation declined (no input)
    assert code == 1
    assert HR_DOC in _listed(home)

    code, output = _run("documents", "delete", HR_DOC, "--yes", "--json", "--home", str(home))
    assert code == 0, output
    assert json.loads(output) == {"deleted": [HR_DOC], "chunks": len(sample_index.chunks[HR_DOC])}
    left = _listed(home)
    assert HR_DOC not in left
    assert len(left) == len(sample_index.chunks) - 1


def test_status_reports_index_embedder_and_generator(
    home: Path, sample_index: SampleIndex, tmp_path: Path
) -> None:
    code, output = _run("status", "--json", "--home", str(home))
    assert code == 0, output
    report = json.loads(output)
    assert report["index"]["state"] == "ready"
    assert report["index"]["documents"] == len(sample_index.chunks)
    assert report["index"]["chunks"] == sum(len(c) for c in sample_index.chunks.values())
    assert report["index"]["languages"]["en"] >= 1 + len(RESTRICTED_RECORDS)
    assert report["embedder"]["dim"] == 384
    assert report["generator"] == {"backend": "extractive"}

    from conftest import link_models

    empty = tmp_path / "empty"
    link_models(empty)
    code, output = _run("status", "--json", "--home", str(empty))
    assert code == 0
    assert json.loads(output)["index"]["state"].startswith("empty")

    # An LLM endpoint that is down is reported, not fatal.
    result = CliRunner().invoke(
        app,
        ["status", "--json", "--home", str(home)],
        env={"GOVRAG_GENERATOR__BACKEND": "vllm", "GOVRAG_GENERATOR__BASE_URL": "http://127.0.0.1:9/v1"},
    )
    gen = json.loads(result.output)["generator"]
    assert gen["backend"] == "vllm"
    assert gen["reachable"] is False
