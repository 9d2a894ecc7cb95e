"""What the last crawl learnt about each URL (validators, content digest, links), kept in SQLite.

Only an optimisation: the index decides whether a document is current (`ingest.pipeline`), so a lost
or stale state file costs a full download, never a wrong answer. With it, a re-crawl sends
`If-None-Match`/`If-Modified-Since`, and a `304 Not Modified` page costs one request: its links come
from here, and it is neither parsed nor embedded again.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS page (
    url TEXT PRIMARY KEY,
    doc_id TEXT NOT NULL,
    etag TEXT NOT NULL,
    last_modified TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    ingest INTEGER NOT NULL,
    links TEXT NOT NULL,
    checked_at REAL NOT NULL
)
"""


@dataclass(slots=True)
class PageState:
    """One URL as last fetched: its validators, the digest of its body and its outgoing links."""

    doc_id: str
    etag: str = ""
    last_modified: str = ""
    sha256: str = ""
    #: whether the body was handed to ingestion (not only read for its links)
    ingest: bool = True
    links: list[str] = field(default_factory=list)

    def conditional_headers(self) -> dict[str, str]:
        """Request headers that let the server answer 304 when nothing changed."""
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers


class CrawlState:
    """The state file (`ingest.crawl.state_file`); changes are written by `close(commit=True)`."""

    def __init__(self, path: Path | None) -> None:
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path) if path is not None else ":memory:", timeout=60)
        self._db.execute(_SCHEMA)
        self._db.commit()

    def get(self, url: str) -> PageState | None:
        """The stored state of a canonical URL, or None."""
        row = self._db.execute(
            "SELECT doc_id, etag, last_modified, sha256, ingest, links FROM page WHERE url = ?", (url,)
        ).fetchone()
        if row is None:
            return None
        doc_id, etag, modified, digest, ingest, links = row
        return PageState(doc_id, etag, modified, digest, bool(ingest), list(json.loads(links)))

    def put(self, url: str, state: PageState) -> None:
        """Remember what was fetched at `url`."""
        self._db.execute(
            "INSERT OR REPLACE INTO page VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                url,
                state.doc_id,
                state.etag,
                state.last_modified,
                state.sha256,
                int(state.ingest),
                json.dumps(state.links, ensure_ascii=False),
                time.time(),
            ),
        )

    def forget(self, url: str) -> None:
        """Drop a URL that is gone (404/410) or out of scope."""
        self._db.execute("DELETE FROM page WHERE url = ?", (url,))

    def close(self, commit: bool) -> None:
        """Write this run's changes (or drop them, e.g. for a dry run) and close the file."""
        if commit:
            self._db.commit()
        else:
            self._db.rollback()
        self._db.close()
