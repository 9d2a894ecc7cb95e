"""`govrag index snapshot|restore`: a verified copy of the embedded index, restored with a rollback."""

from __future__ import annotations

import json
from pathlib import Path

from api_support import HR_DOC, PASSPORT_EN, SampleIndex, clone_home
from test_index_corruption import PAYLOAD, _damage
from typer.testing import CliRunner

from govrag.cli import app
from indices.folder_lock import FolderLock
from indices.registry import IndexSettings

pytest_plugins = ["api_fixtures"]


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "300"})
    return result.exit_code, result.output


def _doc_ids(home: Path) -> set[str]:
    code, output = _run("documents", "list", "--json", "--home", str(home))
    assert code == 0, output
    return {d["doc_id"] for d in json.loads(output)["documents"]}


def test_snapshot_then_restore_brings_deleted_documents_back(
    sample_index: SampleIndex, tmp_path: Path
) -> None:
    home = clone_home(sample_index.home, tmp_path / "home")
    before = _doc_ids(home)
    code, output = _run("index", "snapshot", str(tmp_path / "backups"), "--json", "--home", str(home))
    assert code == 0, output
    made = json.loads(output)
    snap = Path(made["snapshot"])
    assert snap.parent == tmp_path / "backups"
    assert made["documents"] == len(before)
    assert not (snap / ".govrag.lock").exists()

    assert _run("documents", "delete", HR_DOC, PASSPORT_EN, "--yes", "--home", str(home))[0] == 0
    assert _doc_ids(home) == before - {HR_DOC, PASSPORT_EN}

    code, output = _run("index", "restore", str(snap), "--yes", "--home", str(home))
    assert code == 0, output
    assert f"restored {len(before)} documents" in " ".join(output.split())
    assert _doc_ids(home) == before
    assert not list(home.glob("index/*before-restore*"))  # the previous copy is removed once restored


def test_restore_refuses_a_damaged_snapshot_and_keeps_the_index(
    sample_index: SampleIndex, tmp_path: Path
) -> None:
    home = clone_home(sample_index.home, tmp_path / "home")
    code, output = _run("index", "snapshot", str(tmp_path / "backups"), "--json", "--home", str(home))
    assert code == 0, output
    snap = Path(json.loads(output)["snapshot"])
    assert _run("documents", "delete", HR_DOC, "--yes", "--home", str(home))[0] == 0
    kept = _doc_ids(home)

    # _damage works on <home>/index/govrag/shard/segments: lay the snapshot out like that
    fake_home = tmp_path / "damaged"
    (fake_home / "index").mkdir(parents=True)
    (fake_home / "index" / "govrag").symlink_to(snap)
    _damage(fake_home, PAYLOAD)
    code, output = _run("index", "restore", str(snap), "--yes", "--home", str(home))
    assert code == 1
    assert "the index was not changed" in " ".join(output.split())
    assert _doc_ids(home) == kept

    code, output = _run("index", "restore", str(tmp_path), "--yes", "--home", str(home))
    assert code == 1
    assert "is not a govrag index snapshot" in " ".join(output.split())


def test_snapshot_and_restore_refuse_an_index_in_use(sample_index: SampleIndex, tmp_path: Path) -> None:
    home = clone_home(sample_index.home, tmp_path / "home")
    code, output = _run("index", "snapshot", str(tmp_path / "backups"), "--json", "--home", str(home))
    snap = Path(json.loads(output)["snapshot"])
    holder = FolderLock(IndexSettings().embedded_folder(home))  # e.g. `govrag serve`
    try:
        code, output = _run("index", "snapshot", str(tmp_path / "more"), "--home", str(home))
        assert code == 2
        assert "in use by another process" in " ".join(output.split())
        code, output = _run("index", "restore", str(snap), "--yes", "--home", str(home))
        assert code == 1
        assert "in use by another process" in " ".join(output.split())
    finally:
        holder.release()
    assert _doc_ids(home) == set(sample_index.chunks)
