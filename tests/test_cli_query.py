"""The query side of the command line: `govrag ask` in-process, `govrag serve` as a real server process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_support import BUSINESS_TH, PASSPORT_EN, SampleIndex, clone_home, free_port
from typer.testing import CliRunner

from govrag.cli import app
from rag.prompting import refusal

pytest_plugins = ["api_fixtures"]


@pytest.fixture(scope="module")
def home(sample_index: SampleIndex, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the sample data dir."""
    return clone_home(sample_index.home, tmp_path_factory.mktemp("cli-home"))


def test_ask_prints_a_cited_answer_and_json(home: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["ask", "How much does it cost to renew a passport?", "--home", str(home)])
    assert result.exit_code == 0, result.output
    out = " ".join(result.stdout.split())  # rich wraps long lines
    assert "70 dollars" in out
    assert "Renewing your passport" in out  # the citation line names the document ...
    assert "\u201cThe renewal fee is 70 dollars, paid by card when you submit the application.\u201d" in out

    result = runner.invoke(app, ["ask", "ค่าธรรมเนียมจดทะเบียนพาณิชย์เท่าไร", "--json", "--home", str(home)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["language"] == "th"
    assert data["grounded"] is True
    assert data["generator"] == "extractive"
    assert data["citations"][0]["doc_id"] == BUSINESS_TH
    assert "50 บาท" in data["answer"]

    result = runner.invoke(app, ["ask", "What is the capital of France?", "--json", "--home", str(home)])
    data = json.loads(result.stdout)
    assert data["refused"] is True
    assert data["answer"] == refusal("en")


def test_ask_without_an_index_says_how_to_build_one(tmp_path: Path) -> None:
    from conftest import link_models

    link_models(tmp_path)
    result = CliRunner().invoke(app, ["ask", "passport fee", "--home", str(tmp_path)])
    assert result.exit_code == 2
    assert "govrag ingest" in result.output


def test_serve_refuses_insecure_production_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVRAG_ENVIRONMENT", "production")
    result = CliRunner().invoke(app, ["serve", "--home", str(tmp_path)])
    assert result.exit_code == 2
    assert "refusing to start in production" in result.output
    assert "anonymous access is allowed" in result.output


def _wait_healthy(url: str, proc: subprocess.Popen[Any], timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(
                f"govrag serve exited with {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}"
            )
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"govrag serve did not answer /healthz within {timeout} s")


def test_serve_answers_over_http_and_logs_no_personal_data(home: Path) -> None:
    port = free_port()
    env = {**os.environ, "GOVRAG_LOG_LEVEL": "DEBUG", "GOVRAG_API__SECURITY__ANONYMOUS_RATE_PER_MINUTE": "0"}
    cmd = [sys.executable, "-m", "govrag.cli", "serve", "--home", str(home), "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc)
        assert httpx.get(f"{url}/readyz", timeout=10).json()["ready"] is True
        question = "I am S1234567D (tel +65 9123 4567): how much does it cost to renew a passport?"
        r = httpx.post(f"{url}/v1/query", json={"question": question}, timeout=60)
        assert r.status_code == 200, r.text
        a = r.json()
        assert a["grounded"] is True
        assert "70 dollars" in a["answer"]
        assert {c["doc_id"] for c in a["citations"]} & {PASSPORT_EN, "fees/service-fees.xlsx"}
        r = httpx.post(f"{url}/v1/search", json={"query": "renew passport"}, timeout=60)
        assert r.json()["hits"][0]["doc_id"] in {PASSPORT_EN, "immigration/passport-renewal.zh.md"}
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            _, stderr = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, stderr = proc.communicate()
    assert proc.returncode == 0, stderr
    assert f"govrag serving on http://127.0.0.1:{port}/" in stderr
    records = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    assert any(r.get("path") == "/v1/query" and r.get("status") == 200 for r in records)
    assert "S1234567D" not in stderr
    assert "9123 4567" not in stderr


def test_configuration_doc_is_generated_from_the_code() -> None:
    """docs/configuration.md is `govrag config --markdown` under its header: regenerate it after a change."""
    result = CliRunner().invoke(app, ["config", "--markdown"], terminal_width=400)
    assert result.exit_code == 0, result.output
    doc = (Path(__file__).resolve().parents[1] / "docs" / "configuration.md").read_text(encoding="utf-8")
    table = doc[doc.index("| variable |") :]
    assert table.strip() == result.output.strip()
    assert "| `GOVRAG_RERANK__MODEL` | `null` |" in table
