"""The CLI prints results, not logs: INFO lines appear only with `-v` (run as a real subprocess)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from api_support import SampleIndex

pytest_plugins = ["api_fixtures"]

REPO = Path(__file__).resolve().parents[1]


def _search(home: Path, *pre: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    run_env = {k: v for k, v in os.environ.items() if k != "GOVRAG_LOG_LEVEL"}
    run_env.update({"PYTHONPATH": str(REPO), "COLUMNS": "200", **(env or {})})
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "govrag.cli",
            *pre,
            "search",
            "passport renewal fee",
            "--top-k",
            "1",
            "--home",
            str(home),
        ],
        capture_output=True,
        text=True,
        env=run_env,
        timeout=300,
    )


def test_search_is_quiet_unless_verbose(sample_index: SampleIndex) -> None:
    quiet = _search(sample_index.home)
    assert quiet.returncode == 0, quiet.stderr
    assert "Renewing your passport" in quiet.stdout
    assert " INFO " not in quiet.stderr, quiet.stderr

    loud = _search(sample_index.home, "-v")
    assert loud.returncode == 0, loud.stderr
    assert "INFO indices.embedder" in loud.stderr
    assert "Renewing your passport" in loud.stdout

    configured = _search(sample_index.home, env={"GOVRAG_LOG_LEVEL": "INFO"})
    assert "INFO indices.embedder" in configured.stderr
