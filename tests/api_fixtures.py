"""Fixtures of the API tests, loaded as a plugin (`pytest_plugins = ["api_fixtures"]` in each test module)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from api_support import SampleIndex, build_sample_home, read_chunks


@pytest.fixture(scope="session")
def sample_index(
    tmp_path_factory: pytest.TempPathFactory, sample_corpus_dir: Path, embedder: Any, sparse_encoder: Any
) -> SampleIndex:
    """A data dir whose embedded index holds the sample corpus and the restricted export (read-only)."""
    home = build_sample_home(tmp_path_factory.mktemp("api-home"), sample_corpus_dir, embedder, sparse_encoder)
    return SampleIndex(home, read_chunks(home, embedder))
