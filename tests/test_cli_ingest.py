"""`govrag ingest` as a user runs it: in-process through Typer's CliRunner, and once as a real subprocess.

Exit status: 0 all ingested or unchanged, 1 some document or source failed, 2 usage/configuration errors.
`--json` prints one object on stdout; the human summary table goes to stderr.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO
from typer.testing import CliRunner

from govrag.cli import app

SUMMARY_KEYS = {
    "dry_run",
    "documents",
    "chunks",
    "pages",
    "pages_ocr",
    "stage_seconds",
    "elapsed_seconds",
    "failures",
}
SAMPLE_DOCS = 14  # files + export records in govrag.sample_corpus


@pytest.fixture
def home(tmp_path: Path, make_settings: Callable[..., Any]) -> Path:
    make_settings(tmp_path / "home")  # links the shared model cache
    return tmp_path / "home"


def _run(*args: str) -> Any:
    return CliRunner().invoke(app, ["ingest", *args], catch_exceptions=False)


def _json(result: Any) -> dict[str, Any]:
    return dict(json.loads(result.stdout))


def test_json_output_shape_and_unchanged_rerun(
    home: Path,
    sample_corpus_dir: Path,
    tmp_path: Path,
    make_settings: Callable[..., Any],
    stored: Callable[..., Any],
) -> None:
    first = _run(str(sample_corpus_dir), "--home", str(home), "--workers", "1", "--json")
    assert first.exit_code == 0, first.output
    summary = _json(first)
    assert set(summary) == SUMMARY_KEYS
    assert summary["dry_run"] is False
    assert summary["documents"] == {
        "new": SAMPLE_DOCS,
        "changed": 0,
        "unchanged": 0,
        "failed": 0,
        "pruned": 0,
    }
    assert summary["failures"] == []
    assert summary["chunks"] >= SAMPLE_DOCS
    assert summary["pages"] >= 2
    assert {"discover", "hash", "embed", "write"} <= set(summary["stage_seconds"])
    assert all(isinstance(v, float) for v in summary["stage_seconds"].values())
    assert summary["elapsed_seconds"] > 0
    docs = stored(make_settings(home))
    assert len(docs) == SAMPLE_DOCS
    assert sum(len(v) for v in docs.values()) == summary["chunks"]

    again = _run(str(sample_corpus_dir), "--home", str(home), "--json")
    assert again.exit_code == 0
    rerun = _json(again)
    assert rerun["documents"] == {"new": 0, "changed": 0, "unchanged": SAMPLE_DOCS, "failed": 0, "pruned": 0}
    assert rerun["chunks"] == 0
    assert set(rerun["stage_seconds"]) == {"discover", "hash"}


def test_failures_give_exit_status_1_and_are_listed(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from govrag import cli

    monkeypatch.setattr(cli.console, "width", 1000)  # no wrapping of long paths in the summary
    root = tmp_path / "docs"
    root.mkdir()
    (root / "ok.md").write_text("# Hours\n\nOffices open at eight.", encoding="utf-8")
    (root / "empty.pdf").write_bytes(b"")
    result = _run(str(root), str(tmp_path / "missing-folder"), "--home", str(home))
    assert result.exit_code == 1
    stderr = result.stderr
    assert "Ingestion summary" in stderr
    assert "documents new" in stderr
    assert f"failed {(root / 'empty.pdf').resolve().as_uri()}: empty file (0 bytes)" in stderr
    assert f"failed {tmp_path / 'missing-folder'}: no such file or folder" in stderr
    assert result.stdout == ""
    fixed = _run(str(root), "--home", str(home), "--exclude", "*.pdf", "--json")
    assert fixed.exit_code == 0
    assert _json(fixed)["documents"]["unchanged"] == 1


def test_usage_errors_give_exit_status_2(
    home: Path, tmp_path: Path, open_edge_index: Callable[..., Any], make_settings: Callable[..., Any]
) -> None:
    (tmp_path / "a.md").write_text("text", encoding="utf-8")
    bad_lang = _run(str(tmp_path / "a.md"), "--home", str(home), "--lang", "th-1")
    assert bad_lang.exit_code == 2
    assert "--lang must be 'auto' or a language code" in bad_lang.stderr
    assert _run("--home", str(home)).exit_code == 2  # no SOURCE
    bad_setting = CliRunner().invoke(
        app, ["ingest", str(tmp_path / "a.md"), "--home", str(home)], env={"GOVRAG_INGEST__EMBED_BATCH": "0"}
    )
    assert bad_setting.exit_code == 2
    assert "invalid settings" in bad_setting.stderr
    holder = open_edge_index(make_settings(home))  # another writer holds the index folder
    locked = _run(str(tmp_path / "a.md"), "--home", str(home))
    holder.close()
    assert locked.exit_code == 2
    assert "is in use" in locked.stderr.replace("\n", " ")


def test_options_reach_the_stored_chunks(
    home: Path, tmp_path: Path, make_settings: Callable[..., Any], stored: Callable[..., Any], local_site: Any
) -> None:
    root = tmp_path / "docs"
    (root / "skip").mkdir(parents=True)
    (root / "a.md").write_text("# Fees\n\nThe fee is 70 dollars.", encoding="utf-8")
    (root / "b.txt").write_text("Excluded by the include glob.", encoding="utf-8")
    (root / "skip" / "c.md").write_text("Excluded by the exclude glob.", encoding="utf-8")
    page = local_site.add("/robots.txt", "", "text/plain") and local_site.add(
        "/hours.html", "<h1>Hours</h1><p>Open from eight to five on weekdays.</p>"
    )
    urls = tmp_path / "urls.txt"
    urls.write_text(page + "\n", encoding="utf-8")
    dry = _run(
        str(root),
        "--home",
        str(home),
        "--include",
        "*.md",
        "--exclude",
        "skip/",
        "--urls",
        str(urls),
        "--dry-run",
        "--json",
    )
    assert dry.exit_code == 0, dry.output
    assert _json(dry)["dry_run"] is True
    assert _json(dry)["documents"]["new"] == 2
    assert not (home / "index").exists()
    result = CliRunner().invoke(
        app,
        [
            "ingest",
            str(root),
            "--home",
            str(home),
            "--include",
            "*.md",
            "--exclude",
            "skip/",
            "--urls",
            str(urls),
            "--agency",
            "moh",
            "--groups",
            "staff, residents",
            "--lang",
            "en",
            "--json",
        ],
        env={"GOVRAG_INGEST__FETCH__MIN_INTERVAL_S": "0"},
    )
    assert result.exit_code == 0, result.output
    docs = stored(make_settings(home))
    assert sorted(docs) == ["docs/a.md", page]
    for chunks in docs.values():
        assert {(c.agency, tuple(c.groups), c.lang) for c in chunks} == {
            ("moh", ("staff", "residents"), "en")
        }


def test_real_subprocess_with_prune(sample_corpus_dir: Path, tmp_path: Path, home: Path) -> None:
    corpus = tmp_path / "sample-corpus"
    subprocess.run(["cp", "-r", str(sample_corpus_dir), str(corpus)], check=True)
    cmd = [sys.executable, "-m", "govrag.cli", "ingest", str(corpus), "--home", str(home), "--json"]
    first = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=600, check=False)
    assert first.returncode == 0, first.stderr[-3000:]
    assert json.loads(first.stdout)["documents"]["new"] == SAMPLE_DOCS
    (corpus / "health" / "demam-berdarah.id.txt").unlink()
    (corpus / "fees" / "service-fees.xlsx").write_bytes(b"PK\x03\x04 not really a spreadsheet")
    second = subprocess.run(
        [*cmd, "--prune"], capture_output=True, text=True, cwd=REPO, timeout=600, check=False
    )
    assert second.returncode == 1
    summary = json.loads(second.stdout)
    assert summary["documents"] == {
        "new": 0,
        "changed": 0,
        "unchanged": SAMPLE_DOCS - 2,
        "failed": 1,
        "pruned": 1,
    }
    (failure,) = summary["failures"]
    assert failure["doc_id"] == "sample-corpus/fees/service-fees.xlsx"
    assert failure["reason"] == "corrupt zip container (DOCX/PPTX/XLSX?): File is not a zip file"
