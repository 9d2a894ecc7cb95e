"""Discovery (`ingest.sources.discover`) on real folders: ids, `.govragignore`, include/exclude globs,
JSONL/CSV exports, URL lists, duplicates, and the problems it reports instead of stopping (symlink
loops, broken links, FIFOs, malformed export lines)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ingest.sources import Discovery, discover


def _write(root: Path, files: dict[str, str | bytes]) -> None:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def _ids(found: Discovery) -> list[str]:
    return sorted(it.doc_id for it in found.items)


def _problems(found: Discovery) -> dict[str, str]:
    return {p.uri: p.reason for p in found.problems}


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    _write(
        root,
        {
            "a.md": "# A",
            "b.txt": "b",
            "sub/c.pdf": b"%PDF-1.4",
            "sub/d.tmp": "scratch",
            "sub/deep/e.html": "<p>e</p>",
            "drafts/f.md": "draft",
            "build/g.md": "build output",
            ".git/HEAD": "ref",
        },
    )
    return root


def test_folder_ids_are_root_name_plus_relative_path(tree: Path) -> None:
    found = discover([str(tree)])
    assert _ids(found) == [
        "docs/a.md",
        "docs/b.txt",
        "docs/build/g.md",
        "docs/drafts/f.md",
        "docs/sub/c.pdf",
        "docs/sub/d.tmp",
        "docs/sub/deep/e.html",
    ]
    item = next(it for it in found.items if it.doc_id == "docs/sub/c.pdf")
    assert item.root == tree.resolve().as_uri()  # the resolved root, not its name (issue 10)
    assert item.uri == (tree / "sub/c.pdf").resolve().as_uri()
    assert item.size == len(b"%PDF-1.4")
    assert found.problems == []
    assert found.complete_roots == {tree.resolve().as_uri()}


def test_ids_do_not_depend_on_how_the_root_is_spelled(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tree.parent)
    relative = discover(["docs/"])
    absolute = discover([str(tree.resolve())])
    dotted = discover([str(tree / "sub" / "..")])
    assert _ids(relative) == _ids(absolute) == _ids(dotted)
    assert relative.complete_roots == absolute.complete_roots == dotted.complete_roots


def test_same_name_folders_are_different_roots(tmp_path: Path) -> None:
    _write(tmp_path, {"a/corpus/x.md": "one", "b/corpus/x.md": "two"})
    (tmp_path / "link").symlink_to(tmp_path / "a" / "corpus")
    a, b = discover([str(tmp_path / "a/corpus")]), discover([str(tmp_path / "b/corpus")])
    assert _ids(a) == _ids(b) == ["corpus/x.md"]
    assert a.items[0].root == (tmp_path / "a/corpus").as_uri()
    assert b.items[0].root == (tmp_path / "b/corpus").as_uri()
    # a symlink to a root is that root (resolved), whatever it is called
    assert discover([str(tmp_path / "link")]).items[0].root == a.items[0].root


def test_govragignore_patterns(tree: Path) -> None:
    (tree / ".govragignore").write_text(
        "# comments and blank lines are ignored\n\n*.tmp\ndrafts/\n/build\n!keep.tmp\n", encoding="utf-8"
    )
    (tree / "sub" / "keep.tmp").write_text("kept by negation", encoding="utf-8")
    (tree / "sub" / "deep" / ".govragignore").write_text("e.html\n", encoding="utf-8")
    (tree / "sub" / "drafts").write_text(
        "a FILE named drafts: dir-only rule does not apply", encoding="utf-8"
    )
    found = discover([str(tree)])
    assert _ids(found) == [
        "docs/a.md",
        "docs/b.txt",
        "docs/sub/c.pdf",
        "docs/sub/drafts",
        "docs/sub/keep.tmp",
    ]


def test_nested_ignore_file_is_anchored_to_its_folder(tree: Path) -> None:
    (tree / "sub" / ".govragignore").write_text("deep/e.html\n", encoding="utf-8")
    _write(tree, {"deep/e.html": "same relative name outside sub/"})
    ids = _ids(discover([str(tree)]))
    assert "docs/sub/deep/e.html" not in ids
    assert "docs/deep/e.html" in ids


def test_include_and_exclude_globs(tree: Path) -> None:
    only_md = discover([str(tree)], include=["*.MD"])  # case-insensitive on names
    assert _ids(only_md) == ["docs/a.md", "docs/build/g.md", "docs/drafts/f.md"]
    no_sub = discover([str(tree)], exclude=["sub/", "*.txt"])
    assert _ids(no_sub) == ["docs/a.md", "docs/build/g.md", "docs/drafts/f.md"]
    both = discover([str(tree)], include=["*.md", "*.html"], exclude=["drafts"])
    assert _ids(both) == ["docs/a.md", "docs/build/g.md", "docs/sub/deep/e.html"]


def test_single_files_and_missing_sources(tree: Path) -> None:
    found = discover([str(tree / "a.md"), str(tree / "nope.pdf")])
    assert _ids(found) == ["a.md"]
    assert found.items[0].root == (tree / "a.md").resolve().as_uri()
    assert _problems(found) == {str(tree / "nope.pdf"): "no such file or folder"}
    assert found.complete_roots == {(tree / "a.md").resolve().as_uri()}


def test_jsonl_and_csv_exports(tmp_path: Path) -> None:
    records = [
        {"id": "r1", "title": "One", "text": "first record", "lang": "en", "url": "https://x.gov/1"},
        {"id": 2, "text": "second record"},
    ]
    lines = [json.dumps(r) for r in records] + [
        "",
        "{not json",
        json.dumps(["a", "list"]),
        json.dumps({"text": "no id"}),
        json.dumps({"id": "r3", "text": "  "}),
    ]
    export = tmp_path / "export.jsonl"
    export.write_text("\n".join(lines) + "\n", encoding="utf-8")
    csv_export = tmp_path / "records.csv"
    csv_export.write_text("id,title,text\nc1,T,csv record\nc2,,\n", encoding="utf-8")
    table = tmp_path / "table.csv"
    table.write_text("service,fee\npassport,70\n", encoding="utf-8")
    found = discover([str(export), str(csv_export), str(table)])
    assert _ids(found) == ["2", "c1", "r1", "table.csv"]
    r1 = next(it for it in found.items if it.doc_id == "r1")
    assert r1.uri == "https://x.gov/1"
    assert r1.record is not None
    assert r1.record["title"] == "One"
    assert r1.root == export.resolve().as_uri()
    c1 = next(it for it in found.items if it.doc_id == "c1")
    assert c1.uri == f"{csv_export}:2"
    probs = _problems(found)
    assert probs[f"{export}:4"].startswith("malformed JSON: Expecting property name")
    assert probs[f"{export}:5"] == "line is not a JSON object"
    assert probs[f"{export}:6"] == "record has no 'id' field"
    assert probs[f"{export}:7"] == "record has no non-empty 'text' field"
    assert probs[f"{csv_export}:3"] == "record has no non-empty 'text' field"
    assert len(probs) == 5
    # an export with a malformed line is not a complete listing: never prune from it
    assert found.complete_roots == {csv_export.resolve().as_uri(), table.resolve().as_uri()}


def test_export_inside_a_folder_belongs_to_the_folder_root(tmp_path: Path) -> None:
    root = tmp_path / "site"
    _write(
        root, {"page.md": "# P", "exports/faq.jsonl": json.dumps({"id": "faq-1", "text": "Q and A"}) + "\n"}
    )
    found = discover([str(root)])
    assert _ids(found) == ["faq-1", "site/page.md"]
    assert {it.root for it in found.items} == {root.resolve().as_uri()}
    assert found.complete_roots == {root.resolve().as_uri()}
    (root / "exports" / "faq.jsonl").write_text("{broken\n", encoding="utf-8")
    broken = discover([str(root)])
    assert _ids(broken) == ["site/page.md"]
    assert broken.complete_roots == set()  # prune must not delete faq-1 from a listing that lost it


def test_urls_and_url_lists(tmp_path: Path) -> None:
    url_list = tmp_path / "urls.txt"
    url_list.write_text(
        "# agency pages\nhttp://127.0.0.1:1/a\n\n  https://127.0.0.1:1/b  \nftp://example.org/c\nhttp://127.0.0.1:1/a\n",
        encoding="utf-8",
    )
    found = discover(
        ["http://127.0.0.1:1/a", "https://127.0.0.1:1/z"], url_lists=[url_list, tmp_path / "none.txt"]
    )
    assert [it.doc_id for it in found.items] == [
        "http://127.0.0.1:1/a",
        "https://127.0.0.1:1/z",
        "https://127.0.0.1:1/b",
    ]
    assert all(it.root == "urls" and it.url == it.doc_id for it in found.items)
    probs = _problems(found)
    assert probs["ftp://example.org/c"] == "not an http(s) URL"
    assert probs[str(tmp_path / "none.txt")] == "cannot read URL list: No such file or directory"


def test_duplicate_ids_are_reported_once_and_the_first_wins(tmp_path: Path) -> None:
    a = tmp_path / "one" / "x.md"
    b = tmp_path / "two" / "x.md"
    _write(tmp_path, {"one/x.md": "first", "two/x.md": "second"})
    found = discover([str(a), str(b)])
    assert _ids(found) == ["x.md"]
    assert found.items[0].path == a
    assert _problems(found) == {
        b.resolve().as_uri(): f"duplicate document id 'x.md' (also {a.resolve().as_uri()})"
    }


def test_symlink_loops_broken_links_and_fifos_are_reported_not_followed(tree: Path) -> None:
    (tree / "sub" / "loop").symlink_to(tree, target_is_directory=True)
    (tree / "self").symlink_to(tree / "self")
    (tree / "dangling.md").symlink_to(tree / "gone.md")
    (tree / "alias.md").symlink_to(tree / "a.md")  # a symlink to a file is a document of its own
    os.mkfifo(tree / "pipe.txt")
    (tree / "folder.pdf").mkdir()  # a folder named like a file is just a folder
    (tree / "folder.pdf" / "inner.md").write_text("inner", encoding="utf-8")
    found = discover([str(tree)])
    ids = _ids(found)
    assert "docs/alias.md" in ids
    assert "docs/folder.pdf/inner.md" in ids
    assert not any("loop" in i or "self" in i or "dangling" in i or "pipe" in i for i in ids)
    assert _problems(found) == {
        str(tree / "sub" / "loop"): "symlink loop: folder already visited",
        str(tree / "self"): "broken or looping symlink",
        str(tree / "dangling.md"): "broken or looping symlink",
        str(tree / "pipe.txt"): "not a regular file: a FIFO (named pipe); only regular files are ingested",
    }
    # Loops and dangling links do not make the listing incomplete: pruning still works.
    assert found.complete_roots == {tree.resolve().as_uri()}


def test_fifo_given_directly_is_reported(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "direct.pdf")
    found = discover([str(tmp_path / "direct.pdf")])
    assert found.items == []
    assert _problems(found) == {
        str(
            tmp_path / "direct.pdf"
        ): "not a regular file: a FIFO (named pipe); only regular files are ingested"
    }
