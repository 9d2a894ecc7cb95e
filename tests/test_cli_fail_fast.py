"""`govrag ask`/`search` say "index locked" or "no index" at once, before loading the embedding model."""

from __future__ import annotations

from pathlib import Path

import pytest
from api_support import SampleIndex, clone_home
from typer.testing import CliRunner

from govrag.cli import app
from indices.folder_lock import FolderLock
from indices.registry import IndexSettings

pytest_plugins = ["api_fixtures"]


@pytest.fixture
def no_model_load(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loading the model is the slow step these checks must come before: make it an error."""

    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("the embedding model was loaded before the index was checked")

    monkeypatch.setattr("indices.embedder.Embedder.__init__", refuse)


@pytest.mark.usefixtures("no_model_load")
@pytest.mark.parametrize("command", ["ask", "search"])
def test_locked_index_fails_before_the_model_loads(
    command: str, sample_index: SampleIndex, tmp_path: Path
) -> None:
    home = clone_home(sample_index.home, tmp_path / "home")
    folder = IndexSettings().embedded_folder(home)
    holder = FolderLock(folder)  # another process (here: another open file) serving the index
    try:
        result = CliRunner().invoke(
            app, [command, "passport fee", "--home", str(home)], env={"COLUMNS": "300"}
        )
    finally:
        holder.release()
    assert result.exit_code == 2, result.output
    flat = " ".join(result.output.split())
    assert "is in use by another process" in flat
    assert str(folder) in flat


@pytest.mark.usefixtures("no_model_load")
def test_missing_index_fails_before_the_model_loads(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["ask", "passport fee", "--home", str(tmp_path)], env={"COLUMNS": "300"})
    assert result.exit_code == 2, result.output
    assert "run `govrag ingest` first" in " ".join(result.output.split())
