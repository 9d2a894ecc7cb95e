"""`python -m rag.api.security`, the operator's key generator, as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from rag.api.security import KEY_PREFIX, hash_key

REPO = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "rag.api.security", *args], capture_output=True, text=True, env=env, timeout=60
    )


def test_help_prints_usage_and_makes_no_key() -> None:
    done = _run("--help")
    assert done.returncode == 0
    assert "usage: python -m rag.api.security" in done.stdout
    assert KEY_PREFIX not in done.stdout


def test_json_key_matches_its_hash() -> None:
    done = _run("--json")
    assert done.returncode == 0, done.stderr
    made = json.loads(done.stdout)
    assert made["key"].startswith(KEY_PREFIX)
    assert made["hash"] == hash_key(made["key"])


def test_unknown_option_is_refused() -> None:
    done = _run("--nope")
    assert done.returncode == 2
    assert "unrecognized arguments: --nope" in done.stderr
