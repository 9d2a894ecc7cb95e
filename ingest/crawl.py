"""Crawling an agency website into documents to ingest (`govrag ingest URL --crawl`).

From the start URL the crawler reads the site's sitemaps (`/sitemap.xml` and robots.txt `Sitemap:`
lines, indexes included) and follows links breadth first, never leaving the start URL's host (links and
redirects to other hosts are not followed), within `ingest.crawl` (depth, pages, include/exclude globs,
redirect hops) and `ingest.fetch` (robots.txt, per-host rate limit, timeout, size cap). Pages and linked
files (PDF, Office, text) are spooled to a temporary folder and ingested like files, each under its
canonical URL as document id (`ingest.site_links`), so ids are stable across crawls.

A re-crawl sends the validators of the last crawl (`ingest.crawl_state`); a `304 Not Modified` page is
reported unchanged when the index still holds exactly that version, else fetched again in full.

What may be pruned is decided per URL: a page answering 404/410, disallowed by robots.txt, moved to
another host or marked noindex is removed; a page no longer linked is removed only when the crawl of
the site was complete (no page limit hit, no server error on a page whose links are unknown). Server
errors (5xx, 408, 429), timeouts, connection errors and redirect loops never prune: the stored
version is kept and the URL is reported as failed.
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
import tempfile
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

from indices.schema import SearchFilter
from indices.vector_index import VectorIndex
from ingest.crawl_settings import CrawlSettings
from ingest.crawl_state import CrawlState, PageState
from ingest.fetch import Disallowed, Fetcher, FetchError, FetchSettings, Response, TooLarge, filename_for
from ingest.parsed import ParseError
from ingest.site_links import canonical_url, html_links, matches, normalize_url, site_of, sitemap_locs
from ingest.sniff import DocFormat, sniff_format
from ingest.sources import SourceItem

logger = logging.getLogger(__name__)

_REDIRECTS = (301, 302, 303, 307, 308)
#: A progress line (`govrag -v ingest ...`) every this many URLs of a site.
_PROGRESS_EVERY = 50
_HTML_TYPES = ("text/html", "application/xhtml+xml")
_BINARY_EXT = {
    DocFormat.PDF: ".pdf",
    DocFormat.DOCX: ".docx",
    DocFormat.PPTX: ".pptx",
    DocFormat.XLSX: ".xlsx",
}
#: (doc id, root, sha256 of the body) -> whether the index holds exactly that version, complete.
IsCurrent = Callable[[str, str, str], bool]


@dataclass(slots=True)
class SiteCrawl:
    """The outcome of crawling one site: documents to ingest and what happened to every other URL."""

    start: str
    root: str
    host: str
    items: list[SourceItem] = field(default_factory=list)
    #: (doc id, url) of pages answered 304 whose stored version is current
    unchanged: list[tuple[str, str]] = field(default_factory=list)
    #: (doc id, url, reason): transient errors; the stored version is kept
    failed: list[tuple[str, str, str]] = field(default_factory=list)
    #: (url, reason): not ingested and not a failure (broken link, robots, size, off-site redirect...)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    #: doc ids never pruned by this run
    keep: set[str] = field(default_factory=set)
    #: doc id -> reason: pruned when stored, whether or not the crawl was complete
    gone: dict[str, str] = field(default_factory=dict)
    #: doc id -> why it is out of scope now: pruned (with this reason) only after a complete crawl
    out_of_scope: dict[str, str] = field(default_factory=dict)
    complete: bool = True
    stopped: str = ""
    requested: int = 0
    not_modified: int = 0
    seen: set[str] = field(default_factory=set)

    def stale(self, index: VectorIndex) -> list[tuple[str, str, str]]:
        """(doc id, source, reason) of stored documents of this site that this crawl says are gone."""
        out = []
        for doc in index.iter_documents(SearchFilter(roots=[self.root])):
            if doc.doc_id in self.keep:
                continue
            reason = self.gone.get(doc.doc_id)
            if reason is None:
                if not self.complete:
                    continue
                reason = self.out_of_scope.get(doc.doc_id, "no longer linked from the site or its sitemap")
            out.append((doc.doc_id, doc.source, reason))
        return out

    def summary(self) -> dict[str, Any]:
        """The site's part of the `--json` report."""
        return {
            "start": self.start,
            "root": self.root,
            "requested": self.requested,
            "fetched": len(self.items),
            "not_modified": self.not_modified,
            "complete": self.complete,
            "stopped": self.stopped,
            "skipped": [{"url": u, "reason": r} for u, r in self.skipped],
        }


class Crawl:
    """One run's crawl of one or more sites: owns the fetcher, the state file and the spool folder."""

    def __init__(
        self,
        settings: CrawlSettings,
        fetch: FetchSettings,
        state_path: Path | None,
        is_current: IsCurrent,
    ) -> None:
        self.settings = settings
        self._max_bytes = fetch.max_bytes
        self._fetcher = Fetcher(fetch)
        self._state = CrawlState(state_path)
        self._spool = Path(tempfile.mkdtemp(prefix="govrag-crawl-"))
        self._is_current = is_current
        self._files = 0

    def close(self, commit: bool) -> None:
        """Save the state (unless `commit` is false), close connections, delete the spooled files."""
        self._fetcher.close()
        self._state.close(commit)
        shutil.rmtree(self._spool, ignore_errors=True)

    # -- URLs -------------------------------------------------------------------------------------------
    def _normalize(self, url: str) -> str | None:
        return normalize_url(url, self.settings.drop_query_params)

    def _identity(self, url: str) -> str:
        key = canonical_url(url, self.settings.drop_query_params, self.settings.trailing_slash)
        return key or url

    def crawl(self, start: str) -> SiteCrawl:
        """Crawl the site of `start` (breadth first from it and from its sitemaps)."""
        norm = self._normalize(start)
        if norm is None:
            site = SiteCrawl(start, start, "", complete=False)
            site.failed.append((start, start, "not an http(s) URL"))
            return site
        site = SiteCrawl(start, self._identity(norm), site_of(norm))
        queue: deque[tuple[str, str, int]] = deque([(site.root, norm, 0)])
        site.seen.add(site.root)
        if self.settings.sitemaps and self.settings.max_depth >= 1:
            for loc in self._sitemap_pages(site, norm):
                self._enqueue(site, queue, loc, 1)
        first = True
        while queue:
            if site.requested >= self.settings.max_pages:
                site.complete = False
                site.stopped = (
                    f"stopped after {self.settings.max_pages} URLs (ingest.crawl.max_pages); "
                    f"{len(queue)} queued URLs not requested, nothing unlinked is pruned"
                )
                break
            key, url, depth = queue.popleft()
            if site.requested and site.requested % _PROGRESS_EVERY == 0:
                logger.info(
                    "crawling %s: %d URLs requested, %d queued", site.root, site.requested, len(queue)
                )
            links, ok = self._visit(site, key, url)
            if first and not ok:
                site.complete = False
                if not any(f[0] == key for f in site.failed):
                    why = next((r for u, r in site.skipped if u == url), "nothing could be read")
                    site.failed.append((key, url, f"start page not crawled: {why}"))
            first = False
            if depth < self.settings.max_depth:
                for link in links:
                    self._enqueue(site, queue, link, depth + 1)
        logger.info(
            "crawled %s: %d URLs requested, %d documents fetched, %d not modified",
            site.root,
            site.requested,
            len(site.items),
            site.not_modified,
        )
        return site

    def _included(self, url: str) -> bool:
        """Whether `ingest.crawl.include` lets the URL be ingested (not only read for its links)."""
        return not self.settings.include or matches(url, self.settings.include)

    def _enqueue(self, site: SiteCrawl, queue: deque[tuple[str, str, int]], link: str, depth: int) -> None:
        norm = self._normalize(link)
        if norm is None or site_of(norm) != site.host:
            return  # another site (or mailto:, javascript:...): never followed
        key = self._identity(norm)
        if key in site.seen:
            return
        site.seen.add(key)
        if self.settings.exclude and matches(norm, self.settings.exclude):
            site.out_of_scope[key] = "excluded by ingest.crawl.exclude"
            return
        if urlsplit(norm).path.lower().endswith(tuple(self.settings.skip_extensions)):
            site.out_of_scope[key] = "its extension is in ingest.crawl.skip_extensions"
            return
        queue.append((key, norm, depth))

    def _sitemap_pages(self, site: SiteCrawl, start: str) -> list[str]:
        """Page URLs listed by the site's sitemaps (read recursively through sitemap indexes)."""
        origin = f"{urlsplit(start).scheme}://{urlsplit(start).netloc}"
        todo = [*self._fetcher.robots_sitemaps(start), origin + "/sitemap.xml"]
        done: set[str] = set()
        pages: list[str] = []
        while todo and len(done) < self.settings.max_sitemaps:
            url = self._normalize(todo.pop(0))
            if url is None or url in done or site_of(url) != site.host:
                continue
            done.add(url)
            try:
                resp = self._fetcher.request(url)
            except (Disallowed, TooLarge) as exc:
                site.skipped.append((url, f"sitemap not read: {exc}"))
                continue
            except FetchError as exc:  # transient: pages only listed there must not be pruned
                site.complete = False
                site.skipped.append((url, f"sitemap not read: {exc}"))
                continue
            if resp.status >= 500:
                site.complete = False
                site.skipped.append((url, f"sitemap not read: HTTP {resp.status} {resp.reason}"))
            if resp.status != 200:
                continue
            is_index, locs = sitemap_locs(resp.data, self._max_bytes)
            (todo if is_index else pages).extend(urljoin(url, loc) for loc in locs)
        return pages

    # -- one URL ----------------------------------------------------------------------------------------
    def _visit(self, site: SiteCrawl, key: str, url: str) -> tuple[list[str], bool]:
        """Request one URL (following same-site redirects); returns its links and whether it was read."""
        site.requested += 1
        prev = self._state.get(key)
        headers = prev.conditional_headers() if prev else {}
        for _ in range(2):  # a second, unconditional request when a 304 cannot be trusted
            got = self._follow(site, key, url, headers)
            if got is None:
                prev = self._state.get(key)
                return (prev.links if prev else []), False
            key, final, resp = got
            prev = self._state.get(key)
            if resp.status != 304:
                return self._answer(site, key, final, resp, prev)
            if prev is None or not headers:
                return self._transient(site, key, final, "HTTP 304 to a request without validators", prev)
            if prev.ingest and self._is_current(prev.doc_id, site.root, prev.sha256):
                site.not_modified += 1
                site.unchanged.append((prev.doc_id, final))
                site.keep.add(prev.doc_id)
                return prev.links, True
            if not prev.ingest and not self._included(final):
                site.not_modified += 1  # read for its links only, and still not to be ingested
                site.out_of_scope[prev.doc_id] = "not matched by ingest.crawl.include"
                return prev.links, True
            # The index lacks that version (or holds another, or the include globs changed): fetch in full.
            headers = {}
        return [], False  # unreachable: the second request sends no validators

    def _follow(
        self, site: SiteCrawl, key: str, url: str, headers: dict[str, str]
    ) -> tuple[str, str, Response] | None:
        """GET `url`, following redirects within the site; None when the URL ended in a reported outcome.

        URLs that redirect are pruned (when stored) only once the chain ends somewhere; a loop, a broken
        Location or a transient error on the way keeps them all."""
        chain = [url]
        current = url
        moved: dict[str, str] = {}  # key left behind -> "redirects to ..."

        def settle(keep: bool) -> None:
            for old, why in moved.items():
                if keep:
                    site.keep.add(old)
                else:
                    site.gone[old] = why
                    self._state.forget(old)

        while True:
            try:
                resp = self._fetcher.request(current, headers, follow_redirects=False)
            except Disallowed as exc:
                settle(keep=False)
                self._drop(site, key, current, str(exc))
                return None
            except TooLarge as exc:
                settle(keep=True)
                site.skipped.append((current, f"{exc} (ingest.fetch.max_bytes)"))
                site.keep.add(key)
                return None
            except FetchError as exc:
                settle(keep=True)
                self._transient(site, key, current, str(exc), self._state.get(key))
                return None
            if resp.status not in _REDIRECTS:
                settle(keep=False)
                return key, current, resp
            location = resp.headers.get("location", "")
            target = self._normalize(urljoin(current, location)) if location else None
            problem = ""
            if target is None:
                problem = f"HTTP {resp.status} without a usable Location header"
            elif target in chain:
                problem = f"redirect loop: {' -> '.join([*chain, target])}"
            elif len(chain) > self.settings.max_redirects:
                hops = " -> ".join([*chain, target])
                problem = (
                    f"more than {self.settings.max_redirects} redirects (ingest.crawl.max_redirects): {hops}"
                )
            if problem or target is None:
                settle(keep=True)
                first = self._identity(url)
                self._transient(site, first, url, problem, self._state.get(first))
                site.keep.add(key)
                return None
            if site_of(target) != site.host:
                settle(keep=False)
                self._drop(site, key, current, f"redirects to another site: {target} (not followed)")
                return None
            chain.append(target)
            new_key = self._identity(target)
            if new_key != key:
                moved[key] = f"redirects to {target}"
                if new_key in site.seen or matches(target, self.settings.exclude):
                    settle(keep=False)
                    return None  # the target is (or will be) crawled under its own URL, or is excluded
                site.seen.add(new_key)
                key = new_key
                prev = self._state.get(key)
                headers = prev.conditional_headers() if prev else {}
            current = target

    def _answer(
        self, site: SiteCrawl, key: str, url: str, resp: Response, prev: PageState | None
    ) -> tuple[list[str], bool]:
        status, reason = resp.status, f"HTTP {resp.status} {resp.reason}"
        if status in (404, 410):
            self._drop(site, key, url, reason)
            if prev is not None and prev.doc_id != key:
                site.gone[prev.doc_id] = reason
            return [], False
        if status >= 500 or status in (408, 429):
            return self._transient(site, key, url, reason, prev)
        if not 200 <= status < 300 or not resp.data:
            site.skipped.append((url, reason if status >= 300 else f"{reason}: empty response"))
            site.keep.add(prev.doc_id if prev else key)
            return (prev.links if prev else []), False
        return self._page(site, key, url, resp), True

    def _page(self, site: SiteCrawl, key: str, url: str, resp: Response) -> list[str]:
        """A 2xx body: its links, and a document to ingest unless out of scope."""
        data, ctype = resp.data, resp.content_type
        try:
            fmt: DocFormat | None = sniff_format(data)
        except ParseError:
            fmt = None  # the parser will say what is wrong with it
        if fmt == DocFormat.IMAGE or any(ctype.startswith(t) for t in self.settings.skip_content_types):
            self._drop(site, key, url, f"content type {ctype or 'image'} is not ingested")
            return []
        links: list[str] = []
        doc_id, why_not = key, ""
        is_html = fmt not in _BINARY_EXT and (ctype in _HTML_TYPES or fmt == DocFormat.HTML)
        if is_html:
            found = html_links(data, url)
            links = [] if found.nofollow else found.links
            if found.noindex:
                why_not = "the page asks not to be indexed (meta robots noindex)"
            canonical = self._normalize(found.canonical) if found.canonical else None
            if canonical is not None and site_of(canonical) == site.host:
                named = self._identity(canonical)
                if named != key:
                    doc_id = named  # <link rel=canonical>: the page's own name for itself
                    site.seen.add(named)
        if not self._included(url):
            site.out_of_scope[doc_id] = "not matched by ingest.crawl.include"
            why_not = why_not or "include"
        elif doc_id in site.keep:
            why_not = why_not or f"same document as {doc_id} (already crawled)"
        headers = resp.headers
        self._state.put(
            key,
            PageState(
                doc_id=doc_id,
                etag=headers.get("etag", ""),
                last_modified=headers.get("last-modified", ""),
                sha256=hashlib.sha256(data).hexdigest(),
                ingest=not why_not,
                links=links,
            ),
        )
        if why_not:
            if why_not != "include":
                site.skipped.append((url, why_not))
                site.gone.setdefault(doc_id, why_not)
            return links
        path = self._spool_file(url, ctype, fmt, data)
        site.items.append(SourceItem(doc_id=doc_id, root=site.root, uri=url, path=path, size=len(data)))
        site.keep.add(doc_id)
        return links

    def _spool_file(self, url: str, ctype: str, fmt: DocFormat | None, data: bytes) -> Path:
        """Write a body where the parser pool can read it, under a name that says its format."""
        name = re.sub(r"[^\w.\-]+", "_", unquote(filename_for(url, ctype)))[-100:].lstrip(".") or "index"
        ext = _BINARY_EXT.get(fmt) if fmt is not None else None
        if ext and not name.lower().endswith(ext):
            name += ext  # e.g. /download?id=7 sent as application/octet-stream
        elif fmt == DocFormat.HTML and "." not in name:
            name += ".html"
        self._files += 1
        folder = self._spool / f"{self._files:06d}"
        folder.mkdir()
        path = folder / name
        path.write_bytes(data)
        return path

    # -- outcomes ---------------------------------------------------------------------------------------
    def _drop(self, site: SiteCrawl, key: str, url: str, reason: str) -> None:
        """A URL that is gone or out of bounds: reported, forgotten, and pruned when stored."""
        site.skipped.append((url, reason))
        site.gone[key] = reason
        self._state.forget(key)

    def _transient(
        self, site: SiteCrawl, key: str, url: str, reason: str, prev: PageState | None
    ) -> tuple[list[str], bool]:
        """An error that may pass: reported as failed, the stored version kept, the old links followed."""
        doc_id = prev.doc_id if prev else key
        site.failed.append((doc_id, url, f"{reason}; may be transient, so a stored copy is kept"))
        site.keep.add(doc_id)
        if prev is None:
            site.complete = False  # its links are unknown: pages only it links to must not be pruned
        return (prev.links if prev else []), False
