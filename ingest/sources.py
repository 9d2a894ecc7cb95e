"""Discovery: turn the SOURCE arguments of `govrag ingest` into documents to ingest.

A document's id is stable across runs and reveals no absolute path: `<root name>/<path relative to the
root>` for files under a directory, the file name for a file given directly, the record `id` for
JSONL/CSV exports and the URL for web sources.

A document's *root* is where it was found, resolved: the `file://` URI of the folder (or of the file or
export given directly; "urls" for web sources). It is stored with every chunk, so `--prune` removes only
documents of exactly the roots of its run, and an id already stored from another root or agency is
refused instead of overwritten (`ingest.pipeline`). Nothing here depends on the data dir: moving
`GOVRAG_HOME` keeps every identity; moving the *source* folder makes a new root (docs/ingestion.md).

Discovery never reads document content except export records; problems (unreadable folders, symlink
loops, malformed export lines) become `SourceProblem`s that the run reports without stopping.
"""

from __future__ import annotations

import csv
import fnmatch
import io
import json
import logging
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

logger = logging.getLogger(__name__)

IGNORE_FILE = ".govragignore"
EXPORT_SUFFIXES = (".jsonl", ".ndjson")
_ALWAYS_SKIPPED = (".git", ".svn", ".hg", "__pycache__", ".DS_Store", "Thumbs.db", IGNORE_FILE)


#: The root of documents fetched from http(s) URLs.
URL_ROOT = "urls"


def root_uri(path: Path) -> str:
    """The identity of a source root: the `file://` URI of its resolved path (symlinks followed)."""
    return path.resolve().as_uri()


def is_legacy_root(root: str) -> bool:
    """A root stored before roots were URIs: a bare folder or file name (no scheme, not "urls")."""
    return root != URL_ROOT and "://" not in root


def legacy_root_name(root: str) -> str:
    """The bare name a `file://` root was stored under before roots were URIs (its last component)."""
    return Path(unquote(urlparse(root).path)).name or "root"


@dataclass(slots=True)
class SourceItem:
    """One document to ingest, located but not yet read."""

    doc_id: str
    #: `root_uri` of the folder/file/export it was found under, or `URL_ROOT`.
    root: str
    uri: str
    path: Path | None = None
    url: str | None = None
    record: dict[str, Any] | None = None
    size: int = 0


@dataclass(slots=True)
class SourceProblem:
    """Something found during discovery that cannot be ingested (reported, the run goes on)."""

    uri: str
    reason: str
    doc_id: str = ""


@dataclass(slots=True)
class Discovery:
    """Everything discovery found: items to ingest, problems, and the roots that were fully listed."""

    items: list[SourceItem] = field(default_factory=list)
    problems: list[SourceProblem] = field(default_factory=list)
    #: roots whose listing completed without error: only these may be pruned.
    complete_roots: set[str] = field(default_factory=set)


class _IgnoreRules:
    """Gitignore-style patterns from `.govragignore` files and `--exclude` globs.

    Supported: `*`, `?`, `[...]` globs; a pattern with a `/` is anchored to the folder of its
    ignore file, otherwise it matches a name at any depth; a trailing `/` matches folders only;
    `!pattern` re-includes.
    """

    def __init__(self, patterns: Sequence[tuple[str, str]] = ()) -> None:
        self._rules: list[tuple[str, str, bool, bool]] = []  # (base, pattern, negate, dir_only)
        for base, pat in patterns:
            self.add(base, pat)

    def add(self, base: str, line: str) -> None:
        line = line.strip()
        if not line or line.startswith("#"):
            return
        negate = line.startswith("!")
        if negate:
            line = line[1:]
        dir_only = line.endswith("/")
        line = line.rstrip("/")
        self._rules.append((base, line, negate, dir_only))

    def copy(self) -> _IgnoreRules:
        other = _IgnoreRules()
        other._rules = list(self._rules)
        return other

    def ignored(self, rel: str, is_dir: bool) -> bool:
        verdict = False
        name = rel.rsplit("/", 1)[-1]
        for base, pat, negate, dir_only in self._rules:
            if dir_only and not is_dir:
                continue
            if base and not (rel == base or rel.startswith(base + "/")):
                continue
            local = rel[len(base) + 1 :] if base else rel
            if "/" in pat:
                hit = fnmatch.fnmatchcase(local, pat.lstrip("/"))
            else:
                hit = fnmatch.fnmatchcase(name, pat)
            if hit:
                verdict = not negate
        return verdict


def _not_regular(mode: int) -> str:
    """Why a non-regular file is skipped (reading a FIFO with no writer would block the run forever)."""
    kind = (
        "a FIFO (named pipe)"
        if stat.S_ISFIFO(mode)
        else "a socket"
        if stat.S_ISSOCK(mode)
        else "a device"
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
        else "an unknown file type"
    )
    return f"not a regular file: {kind}; only regular files are ingested"


def _read_ignore(folder: Path, base: str, rules: _IgnoreRules) -> _IgnoreRules:
    path = folder / IGNORE_FILE
    try:  # an unreadable folder raises here already (is_file() only swallows "not found")
        if not path.is_file():
            return rules
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        logger.warning("cannot read %s: %s", path, exc)
        return rules
    rules = rules.copy()
    for line in lines:
        rules.add(base, line)
    return rules


def _walk(
    root: Path,
    root_name: str,
    root_id: str,
    include: Sequence[str],
    rules: _IgnoreRules,
    out: Discovery,
) -> bool:
    """List the files under `root`; returns False when part of the tree could not be listed."""
    complete = True
    seen_dirs: set[tuple[int, int]] = set()
    stack: list[tuple[Path, str, _IgnoreRules]] = [(root, "", rules)]
    while stack:
        folder, rel, folder_rules = stack.pop()
        try:
            st = folder.stat()
        except OSError as exc:
            out.problems.append(SourceProblem(str(folder), f"cannot open folder: {exc.strerror}"))
            complete = False
            continue
        key = (st.st_dev, st.st_ino)
        if key in seen_dirs:
            out.problems.append(SourceProblem(str(folder), "symlink loop: folder already visited"))
            continue
        seen_dirs.add(key)
        folder_rules = _read_ignore(folder, rel, folder_rules)
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            out.problems.append(SourceProblem(str(folder), f"cannot list folder: {exc.strerror}"))
            complete = False
            continue
        subdirs: list[tuple[Path, str, _IgnoreRules]] = []
        for entry in entries:
            if entry.name in _ALWAYS_SKIPPED:
                continue
            child_rel = f"{rel}/{entry.name}" if rel else entry.name
            try:
                is_dir = entry.is_dir(follow_symlinks=True)
            except OSError:
                is_dir = False
            if entry.is_symlink() and not os.path.exists(entry.path):
                out.problems.append(SourceProblem(entry.path, "broken or looping symlink"))
                continue
            if folder_rules.ignored(child_rel, is_dir):
                continue
            if is_dir:
                subdirs.append((Path(entry.path), child_rel, folder_rules))
                continue
            if include and not any(fnmatch.fnmatchcase(entry.name.lower(), p.lower()) for p in include):
                continue
            path = Path(entry.path)
            if entry.name.lower().endswith(EXPORT_SUFFIXES):
                # Records belong to the folder's root, so --prune on the folder removes the records of
                # an export that was deleted or shrank; a damaged export makes the listing incomplete.
                if not read_export(path, out, root=root_id):
                    complete = False
                continue
            try:
                st_file = entry.stat(follow_symlinks=True)
            except OSError as exc:
                out.problems.append(SourceProblem(str(path), f"cannot stat file: {exc.strerror}"))
                complete = False  # do not prune what we could not look at
                continue
            if not stat.S_ISREG(st_file.st_mode):
                # A FIFO, socket or device would block or never end when read: report, never open.
                out.problems.append(SourceProblem(str(path), _not_regular(st_file.st_mode)))
                continue
            size = st_file.st_size
            doc_id = f"{root_name}/{child_rel}"
            out.items.append(
                SourceItem(doc_id=doc_id, root=root_id, uri=path.resolve().as_uri(), path=path, size=size)
            )
        stack.extend(reversed(subdirs))
    return complete


def _record_item(rec: dict[str, Any], where: str, root: str, out: Discovery) -> None:
    rid = rec.get("id")
    text = rec.get("text")
    if rid is None or str(rid).strip() == "":
        out.problems.append(SourceProblem(where, "record has no 'id' field"))
        return
    if not isinstance(text, str) or not text.strip():
        out.problems.append(SourceProblem(where, "record has no non-empty 'text' field", doc_id=str(rid)))
        return
    doc_id = str(rid)
    uri = str(rec.get("url") or rec.get("source") or where)
    out.items.append(SourceItem(doc_id=doc_id, root=root, uri=uri, record=rec, size=len(text.encode())))


def read_export(path: Path, out: Discovery, root: str | None = None) -> bool:
    """Records of a JSONL export (one JSON object per line) or a CSV export with `id` and `text` columns.

    The records' root is `root` (the URI of the folder the export was found in) or else the export's own
    `root_uri`, which then counts as a root of its own. Returns False when some line could not be read.
    """
    given = root
    root = root or root_uri(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        out.problems.append(SourceProblem(str(path), f"cannot read export: {exc.strerror}"))
        return False
    text = raw.decode("utf-8-sig", errors="replace")
    ok = True
    if path.suffix.lower() == ".csv":
        for n, row in enumerate(csv.DictReader(io.StringIO(text)), start=2):
            _record_item(dict(row), f"{path}:{n}", root, out)
    else:
        for n, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                out.problems.append(
                    SourceProblem(f"{path}:{n}", f"malformed JSON: {exc.msg} at column {exc.colno}")
                )
                ok = False
                continue
            if not isinstance(rec, dict):
                out.problems.append(SourceProblem(f"{path}:{n}", "line is not a JSON object"))
                ok = False
                continue
            _record_item(rec, f"{path}:{n}", root, out)
    if ok and given is None:
        out.complete_roots.add(root)
    return ok


def is_csv_export(path: Path) -> bool:
    """A CSV file whose header has `id` and `text` columns is an export of records, not a table."""
    try:
        with path.open(encoding="utf-8-sig", errors="replace", newline="") as fh:
            header = next(csv.reader(fh), [])
    except OSError:
        return False
    cols = {h.strip().lower() for h in header}
    return {"id", "text"} <= cols


def discover(
    sources: Sequence[str],
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    url_lists: Sequence[Path] = (),
) -> Discovery:
    """Expand SOURCE arguments (files, folders, exports, URLs) into items and problems."""
    out = Discovery()
    rules = _IgnoreRules([("", p) for p in exclude])
    urls: list[str] = [s for s in sources if s.startswith(("http://", "https://"))]
    for list_file in url_lists:
        try:
            lines = Path(list_file).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            out.problems.append(SourceProblem(str(list_file), f"cannot read URL list: {exc.strerror}"))
            continue
        urls.extend(ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#"))
    for src in sources:
        if src.startswith(("http://", "https://")):
            continue
        path = Path(src)
        if not path.exists():
            out.problems.append(SourceProblem(src, "no such file or folder"))
            continue
        if path.is_dir():
            name = path.resolve().name or "root"
            rid = root_uri(path)
            if _walk(path, name, rid, include, rules, out):
                out.complete_roots.add(rid)
        elif path.name.lower().endswith(EXPORT_SUFFIXES) or (
            path.suffix.lower() == ".csv" and is_csv_export(path)
        ):
            read_export(path, out)
        else:
            try:
                st_file = path.stat()
            except OSError as exc:
                out.problems.append(SourceProblem(src, f"cannot stat file: {exc.strerror}"))
                continue
            if not stat.S_ISREG(st_file.st_mode):
                out.problems.append(SourceProblem(src, _not_regular(st_file.st_mode)))
                continue
            size = st_file.st_size
            rid = root_uri(path)
            out.items.append(SourceItem(doc_id=path.name, root=rid, uri=rid, path=path, size=size))
            out.complete_roots.add(rid)
    for url in dict.fromkeys(urls):
        if not url.startswith(("http://", "https://")):
            out.problems.append(SourceProblem(url, "not an http(s) URL"))
            continue
        out.items.append(SourceItem(doc_id=url, root=URL_ROOT, uri=url, url=url))
    seen: dict[str, SourceItem] = {}
    unique: list[SourceItem] = []
    for item in out.items:
        if item.doc_id in seen:
            out.problems.append(
                SourceProblem(
                    item.uri, f"duplicate document id {item.doc_id!r} (also {seen[item.doc_id].uri})"
                )
            )
            continue
        seen[item.doc_id] = item
        unique.append(item)
    out.items = unique
    return out
