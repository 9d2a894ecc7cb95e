"""`govrag ingest URL --crawl` against an agency website served on loopback (`tests/crawl_site.py`):
sitemaps and links, robots.txt, depth and page limits, include/exclude, redirects (same-site followed,
off-site not, loops bounded), 404/500/slow/oversized URLs, conditional re-crawls and pruning."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from crawl_site import Site
from docgen import FontMissing, docx_bytes, text_pdf
from typer.testing import CliRunner

from govrag.cli import app
from ingest.site_links import canonical_url, html_links, normalize_url, sitemap_locs

TH = "ประกาศสำนักงานเขต เรื่อง การยื่นคำขอมีบัตรประจำตัวประชาชน ผู้ยื่นคำขอต้องยื่นเอกสารภายในวันที่ห้า มกราคม"
MS = "Bantuan wang ihsan banjir sebanyak lima ratus ringgit dibayar kepada setiap keluarga mangsa."
EN = "The agency office is open from eight to five on weekdays; passport renewals cost seventy dollars."
HTML = "text/html; charset=utf-8"


@pytest.fixture
def site() -> Iterator[Site]:
    served = Site()
    served.start()
    yield served
    served.close()


def _settings(make_settings: Callable[..., Any], home: Path, **fetch: Any) -> Any:
    return make_settings(
        home,
        ingest={"workers": 1, "fetch": {"min_interval_s": 0.0, **fetch}, "crawl": {"max_depth": 2}},
    )


def _crawl(ingest: Callable[..., Any], settings: Any, start: str, **options: Any) -> Any:
    state = settings.home / "crawl-state.sqlite"
    return ingest(settings, [start], crawl=True, crawl_state=state, agency="moi", **options)


def _failures(report: Any) -> dict[str, str]:
    return {o.uri: o.reason for o in report.failed}


def _skipped(report: Any) -> dict[str, str]:
    return {s["url"]: s["reason"] for site in report.crawl for s in site["skipped"]}


def _pruned(report: Any) -> dict[str, str]:
    return {p["doc_id"]: p["reason"] for site in report.crawl for p in site["pruned"]}


def _search(settings: Any, embedder: Any, sparse: Any, query: str) -> list[Any]:
    from indices.registry import open_index
    from indices.schema import SearchQuery

    index = open_index(settings.index, embedder.identity, settings.home, create=False)
    try:
        dense = embedder.embed_queries([query])[0].tolist()
        return index.search(SearchQuery(dense=dense, sparse=sparse.encode_query(query), limit=3))
    finally:
        index.close()


def test_canonical_urls_name_a_page_once() -> None:
    drop = ["utm_*"]
    same = [
        "HTTP://Agency.Example:80/forms/../th.html?utm_source=mail#top",
        "http://agency.example/./th.html",
        "http://agency.example/th.html",
    ]
    assert {canonical_url(u, drop) for u in same} == {"http://agency.example/th.html"}
    assert canonical_url("https://agency.example:443") == "https://agency.example/"
    assert canonical_url("https://agency.example/en/about/") == "https://agency.example/en/about"
    assert canonical_url("https://agency.example/en/about/", trailing_slash="keep") == (
        "https://agency.example/en/about/"
    )
    assert normalize_url("https://agency.example/en/about/") == "https://agency.example/en/about/"
    assert (
        canonical_url("http://agency.example:8080/a?b=1&utm_x=2", drop) == "http://agency.example:8080/a?b=1"
    )
    thai = "http://agency.example/ข่าว/ประกาศ.html"
    assert canonical_url(thai) == canonical_url(
        "http://agency.example/%e0%b8%82%e0%b9%88%e0%b8%b2%e0%b8%a7/"
        "%E0%B8%9B%E0%B8%A3%E0%B8%B0%E0%B8%81%E0%B8%B2%E0%B8%A8.html"
    )
    assert canonical_url("http://agency.example/a%2Fb/c d") == "http://agency.example/a%2Fb/c%20d"
    assert canonical_url("mailto:info@agency.example") is None
    assert canonical_url("javascript:void(0)") is None


def test_links_sitemaps_and_robots_hints_are_read() -> None:
    import gzip

    page = (
        b"<html><head><base href='/th/'><link rel='canonical' href='notice.html?utm_source=x'>"
        b"<meta name='ROBOTS' content='noindex, follow'></head><body>"
        b"<a href='form.pdf#page=2'>form</a><a href='/login' rel='nofollow'>x</a><area href='../map.html'>"
        b"</body></html>"
    )
    found = html_links(page, "http://agency.example/index.html")
    assert found.links == ["http://agency.example/th/form.pdf#page=2", "http://agency.example/map.html"]
    assert found.canonical == "http://agency.example/th/notice.html?utm_source=x"
    assert (found.noindex, found.nofollow) == (True, False)
    urlset = b"<urlset><url><loc> http://agency.example/a?x=1&amp;y=2 </loc></url></urlset>"
    assert sitemap_locs(gzip.compress(urlset), 10_000) == (False, ["http://agency.example/a?x=1&y=2"])
    index = b"<?xml version='1.0'?><sitemapindex><sitemap><loc>/s1.xml</loc></sitemap></sitemapindex>"
    assert sitemap_locs(index, 10_000) == (True, ["/s1.xml"])


def test_first_crawl_discovers_follows_and_reports_every_url(
    site: Site,
    tmp_path: Path,
    make_settings: Callable[..., Any],
    ingest: Callable[..., Any],
    stored: Callable[..., Any],
    embedder: Any,
    sparse_encoder: Any,
) -> None:
    try:
        pdf = text_pdf([[("h1", "Fee schedule"), ("p", "Business registration costs fifty baht.")]], "latin")
    except FontMissing as exc:
        pytest.skip(str(exc))
    b = site.base
    site.page("/robots.txt", f"User-agent: *\nDisallow: /private/\nSitemap: {b}/sitemap.xml\n", "text/plain")
    site.page(
        "/sitemap.xml",
        f"<?xml version='1.0'?><sitemapindex><sitemap><loc>{b}/sitemap-pages.xml</loc></sitemap>"
        "</sitemapindex>",
        "application/xml",
    )
    site.page(
        "/sitemap-pages.xml",
        f"<urlset><url><loc>{b}/ms.html</loc></url><url><loc>{b}/th.html</loc></url></urlset>",
        "application/xml",
    )
    links = [
        "th.html#top", "/./th.html", "/en/about/", "/old-about", "/docs/fees.pdf", "/docs/guide.docx",
        "/private/secret.html", "/away", "/loop-a", "/missing.html", "/broken.html", "/slow.html",
        "/big.pdf", "/skip/x.html", "/level1.html", "mailto:info@agency.example", "http://other.invalid/x",
    ]  # fmt: skip
    site.html("/", "Agency home", "Welcome to the district office.", links)
    site.html("/th.html", "บัตรประจำตัวประชาชน", TH, ["/", "/en/about"])
    site.html("/ms.html", "Bantuan banjir", MS)
    site.html("/en/about/", "About the office", EN, ["/en/about"])
    site.page("/old-about", status=301, location="/en/about/")
    site.page("/away", status=302, location="http://other.invalid/elsewhere")
    site.page("/loop-a", status=302, location="/loop-b")
    site.page("/loop-b", status=302, location=f"{b}/loop-a")
    site.page("/docs/fees.pdf", pdf, "application/pdf")
    guide = docx_bytes(
        [("h1", "Application guide"), ("p", "Bring two photographs and the house registration.")]
    )
    site.page("/docs/guide.docx", guide, "application/octet-stream")  # sniffed, not trusted
    site.html("/private/secret.html", "Secret", "Internal memo.")
    site.html("/broken.html", "Broken", "never served", status=500)
    site.html("/slow.html", "Slow", "too late", delay=3.0)
    site.page("/big.pdf", b"%PDF-1.4\n" + b"0" * 300_000, "application/pdf")
    site.html("/skip/x.html", "Excluded", "never requested")
    site.html("/level1.html", "Level one", "First level page about opening hours.", ["/level2.html"])
    site.html("/level2.html", "Level two", "Second level page about holidays.", ["/level3.html"])
    site.html("/level3.html", "Level three", "beyond max_depth")

    settings = _settings(make_settings, tmp_path / "home", timeout_s=0.5, max_bytes=200_000)
    settings.ingest.crawl.exclude = ["/skip/*"]
    report = _crawl(ingest, settings, b + "/")

    docs = stored(settings)
    expected = ["/", "/docs/fees.pdf", "/docs/guide.docx", "/en/about", "/level1.html", "/level2.html"]
    assert sorted(docs) == sorted(b + p for p in [*expected, "/ms.html", "/th.html"])
    assert {c.root for chunks in docs.values() for c in chunks} == {b + "/"}
    assert {c.agency for chunks in docs.values() for c in chunks} == {"moi"}
    assert docs[b + "/en/about"][0].source == b + "/en/about/"  # where it was read, under its canonical id
    assert "fifty baht" in " ".join(c.text for c in docs[b + "/docs/fees.pdf"])
    assert "two photographs" in " ".join(c.text for c in docs[b + "/docs/guide.docx"])
    hits = _search(settings, embedder, sparse_encoder, "ยื่นคำขอมีบัตรประจำตัวประชาชน")
    assert hits[0].record.doc_id == b + "/th.html"
    assert "บัตรประจำตัวประชาชน" in hits[0].record.text

    assert _failures(report) == {
        b + "/broken.html": "HTTP 500 Internal Server Error; may be transient, so a stored copy is kept",
        b
        + "/loop-a": f"redirect loop: {b}/loop-a -> {b}/loop-b -> {b}/loop-a; may be transient, so a stored "
        "copy is kept",
        b + "/slow.html": "timed out after 0.5 s (ReadTimeout); may be transient, so a stored copy is kept",
    }
    assert _skipped(report) == {
        b + "/private/secret.html": "disallowed by robots.txt",
        b + "/away": "redirects to another site: http://other.invalid/elsewhere (not followed)",
        b + "/missing.html": "HTTP 404 Not Found",
        b + "/big.pdf": "response is 300,009 bytes > limit 200,000 (ingest.fetch.max_bytes)",
    }
    asked = [r.path for r in site.requests]
    assert asked.count("/th.html") == 1  # one page, however it is spelled
    assert asked.count("/en/about/") == 1  # reached directly and through /old-about's redirect: read once
    for never in ("/private/secret.html", "/skip/x.html", "/level3.html"):
        assert never not in asked
    assert report.crawl[0]["complete"] is False  # /broken.html's links are unknown: nothing unlinked pruned


def _small_site(site: Site) -> None:
    site.html(
        "/", "Home", "District office home page.", ["/th.html", "/en.html", "/gone.html", "/orphan.html"]
    )
    site.pages["/"].etag = '"home-v1"'
    site.html("/th.html", "บัตรประชาชน", TH, ["/flaky.html"], etag='"th-v1"')
    site.html("/en.html", "Opening hours", EN, last_modified="Mon, 01 Dec 2026 08:00:00 GMT")
    site.html("/gone.html", "Old notice", "This notice about road works will be withdrawn.", etag='"g1"')
    site.html("/orphan.html", "Bantuan", MS, etag='"o1"')
    site.html("/flaky.html", "Flood relief", "Flood relief is paid within fourteen days.", etag='"f1"')


def test_recrawl_sends_validators_skips_304s_and_prunes_only_what_vanished(
    site: Site,
    tmp_path: Path,
    make_settings: Callable[..., Any],
    ingest: Callable[..., Any],
    stored: Callable[..., Any],
    embedder: Any,
) -> None:
    b = site.base
    _small_site(site)
    settings = _settings(make_settings, tmp_path / "home")
    first = _crawl(ingest, settings, b + "/")
    assert first.count("new") == 6, first.to_dict()
    before = stored(settings)

    site.requests.clear()  # nothing changed on the site: every page answers 304
    again = _crawl(ingest, settings, b + "/")
    assert again.to_dict()["documents"] == {"new": 0, "changed": 0, "unchanged": 6, "failed": 0, "pruned": 0}
    assert again.crawl[0]["not_modified"] == 6
    assert "embed" not in again.stage_s
    assert "parse_wait" not in again.stage_s
    assert site.asked("/th.html")[0].headers["if-none-match"] == '"th-v1"'
    assert site.asked("/en.html")[0].headers["if-modified-since"] == "Mon, 01 Dec 2026 08:00:00 GMT"
    assert {r.status for r in site.requests if r.path.endswith(".html") or r.path == "/"} == {304}
    assert stored(settings) == before  # same chunks, same ingested_at: nothing rewritten

    # The index lost a page the state file remembers: its 304 is not trusted, the page is fetched again.
    from indices.registry import open_index

    index = open_index(settings.index, embedder.identity, settings.home, create=False)
    index.delete_documents([b + "/th.html"])
    index.close()
    site.requests.clear()
    repaired = _crawl(ingest, settings, b + "/")
    assert [(r.status, "if-none-match" in r.headers) for r in site.asked("/th.html")] == [
        (304, True),
        (200, False),
    ]
    assert repaired.to_dict()["documents"]["new"] == 1
    assert TH.split()[0] in stored(settings)[b + "/th.html"][0].text

    # The site changes: a page is unlinked, one answers 404, one fails with 500 (transient).
    site.html("/", "Home", "District office home page, updated.", ["/th.html", "/en.html", "/gone.html"])
    site.pages["/"].etag = '"home-v2"'
    site.pages["/gone.html"] = type(site.pages["/gone.html"])(b"gone", "text/plain", 404)
    site.pages["/flaky.html"].status = 500
    last = _crawl(ingest, settings, b + "/")
    assert last.to_dict()["documents"] == {"new": 0, "changed": 1, "unchanged": 2, "failed": 1, "pruned": 2}
    assert _pruned(last) == {
        b + "/gone.html": "HTTP 404 Not Found",
        b + "/orphan.html": "no longer linked from the site or its sitemap",
    }
    assert _failures(last) == {
        b + "/flaky.html": "HTTP 500 Internal Server Error; may be transient, so a stored copy is kept"
    }
    docs = stored(settings)
    assert sorted(docs) == [b + p for p in ("/", "/en.html", "/flaky.html", "/th.html")]
    assert "fourteen days" in docs[b + "/flaky.html"][0].text  # the stored version of the 500 page


def test_cli_crawl_with_include_and_page_limit(
    site: Site, tmp_path: Path, make_settings: Callable[..., Any], stored: Callable[..., Any]
) -> None:
    home = tmp_path / "home"
    settings = make_settings(home)
    site.html("/", "Home", "Index of forms.", ["/docs/a.html", "/news.html", "/docs/b.html", "/docs/c.html"])
    site.html("/docs/a.html", "Form A", "Form A registers a birth within fifteen days.")
    site.html("/news.html", "News", "The office moves in January.")
    site.html("/docs/b.html", "Form B", "Form B changes an address.")
    site.html("/docs/c.html", "Form C", "Form C is never reached.")
    args = [
        "ingest",
        site.base,
        "--crawl",
        "--crawl-include",
        "/docs/*",
        "--max-pages",
        "4",
        "--home",
        str(home),
    ]
    result = CliRunner().invoke(
        app, [*args, "--json"], env={"GOVRAG_INGEST__FETCH__MIN_INTERVAL_S": "0"}, catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    (crawl,) = summary["crawl"]
    assert crawl["root"] == site.base + "/"
    assert crawl["requested"] == 4
    assert crawl["complete"] is False
    assert crawl["stopped"].startswith("stopped after 4 URLs (ingest.crawl.max_pages); 1 queued URLs")
    assert sorted(stored(settings)) == [site.base + "/docs/a.html", site.base + "/docs/b.html"]
    assert "/docs/c.html" not in [r.path for r in site.requests]
    assert (home / "crawl-state.sqlite").is_file()


def test_a_page_read_only_for_links_is_fetched_in_full_once_the_include_globs_want_it(
    site: Site, tmp_path: Path
) -> None:
    from ingest.crawl import Crawl
    from ingest.crawl_settings import CrawlSettings
    from ingest.fetch import FetchSettings

    site.html("/", "Home", "Forms and notices.", ["/docs/a.html"], etag='"h1"')
    site.html("/docs/a.html", "Form A", "Form A registers a birth.", etag='"a1"')
    fetch = FetchSettings(min_interval_s=0)
    state = tmp_path / "state.sqlite"

    def crawl_once(include: list[str]) -> Any:
        crawl = Crawl(CrawlSettings(include=include), fetch, state, lambda doc_id, root, raw: True)
        try:
            return crawl.crawl(site.base)
        finally:
            crawl.close(commit=True)

    first = crawl_once(["/docs/*"])
    assert [i.doc_id for i in first.items] == [site.base + "/docs/a.html"]
    site.requests.clear()
    second = crawl_once([])
    assert [(r.status, "if-none-match" in r.headers) for r in site.asked("/")] == [(304, True), (200, False)]
    assert [i.doc_id for i in second.items] == [site.base + "/"]
    assert second.unchanged == [(site.base + "/docs/a.html", site.base + "/docs/a.html")]
