"""The sample corpus is written deterministically, so a second quickstart re-embeds nothing."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

from govrag.sample_corpus import EXPORT_RECORDS, FIXED_TIME, write_sample_corpus


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_two_writes_give_identical_bytes(tmp_path: Path) -> None:
    write_sample_corpus(tmp_path / "a")
    write_sample_corpus(tmp_path / "b")
    a, b = _tree(tmp_path / "a"), _tree(tmp_path / "b")
    assert a == b
    assert {name.rsplit(".", 1)[1] for name in a} == {"md", "html", "txt", "jsonl", "docx", "pdf", "xlsx"}
    # 12 files, the JSONL export holding two records: the 14 documents the docs promise.
    assert len(a) + len(EXPORT_RECORDS) - 1 == 14


def test_rewrite_leaves_unchanged_files_alone(tmp_path: Path) -> None:
    files = write_sample_corpus(tmp_path)
    old = 1_600_000_000
    for path in files:
        os.utime(path, (old, old))
    write_sample_corpus(tmp_path)
    assert [p.stat().st_mtime for p in files] == [old] * len(files)


def test_office_files_carry_fixed_timestamps(tmp_path: Path) -> None:
    files = write_sample_corpus(tmp_path)
    office = [p for p in files if p.suffix in {".docx", ".xlsx"}]
    assert len(office) == 3
    for path in office:
        with zipfile.ZipFile(path) as zf:
            assert {info.date_time for info in zf.infolist()} == {FIXED_TIME.timetuple()[:6]}
            core = zf.read("docProps/core.xml").decode()
        assert "2026-01-01T00:00:00Z" in core, path.name


def test_changed_file_is_restored(tmp_path: Path) -> None:
    files = write_sample_corpus(tmp_path)
    md = next(p for p in files if p.suffix == ".md")
    original = md.read_bytes()
    md.write_text("tampered", encoding="utf-8")
    write_sample_corpus(tmp_path)
    assert md.read_bytes() == original
