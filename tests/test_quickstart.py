"""`govrag quickstart` (README command 1): ingests the sample corpus and prints cited answers; a second run
re-embeds nothing."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from govrag.cli import app


def test_quickstart_answers_with_citations_and_reruns_unchanged(tmp_path: Path) -> None:
    from conftest import link_models

    link_models(tmp_path)
    runner = CliRunner()
    result = runner.invoke(app, ["quickstart", "--home", str(tmp_path)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    flat = " ".join(result.stdout.split())
    # Each example question gets an answer with a numbered citation quoting the source sentence.
    assert "The renewal fee is 70 dollars, paid by card when you submit the application. [1]" in flat
    assert "[1] Renewing your passport" in flat
    assert "ค่าธรรมเนียมการจดทะเบียนครั้งแรกคือ 50 บาท [1]" in flat
    assert "RM1,000" in flat
    assert "十个工作日" in flat
    assert "score" not in flat  # answers, not search tables

    # Second run: the sample files are byte-identical, so every document is reported unchanged.
    result = runner.invoke(
        app, ["ingest", str(tmp_path / "sample-corpus"), "--json", "--home", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    counts = report["documents"]
    assert counts["unchanged"] == 14, counts
    assert counts["new"] == 0
    assert counts["changed"] == 0
