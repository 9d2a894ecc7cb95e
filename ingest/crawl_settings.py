"""Settings of the site crawler (`GOVRAG_INGEST__CRAWL__...`); request limits are `ingest.fetch`'s."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

#: Links to these are not fetched: site furniture and media no parser reads.
_SKIPPED_EXTENSIONS = [
    ".css", ".js", ".json", ".xml", ".ico", ".svg", ".gif", ".webp", ".mp3", ".mp4", ".avi", ".mov",
    ".webm", ".zip", ".gz", ".tgz", ".rar", ".7z", ".exe", ".dmg", ".iso", ".woff", ".woff2", ".ttf",
]  # fmt: skip


class CrawlSettings(BaseModel):
    """How `govrag ingest URL --crawl` walks an agency website (one host; rate limit, timeout and size
    cap come from `ingest.fetch`)."""

    max_depth: int = Field(default=5, ge=0, description="Links followed from the start page (0: it alone).")
    max_pages: int = Field(
        default=2000, ge=1, description="Most URLs requested per site and run (pages and files)."
    )
    include: list[str] = Field(
        default_factory=list,
        description="Only URL paths matching these globs are ingested (others are still read for links).",
    )
    exclude: list[str] = Field(
        default_factory=list, description="URL paths matching these globs are never requested."
    )
    sitemaps: bool = Field(default=True, description="Also read sitemap.xml and robots.txt `Sitemap:` lines.")
    max_sitemaps: int = Field(default=50, ge=0, description="Most sitemap files read (indexes included).")
    max_redirects: int = Field(default=5, ge=0, description="Redirect hops followed per URL.")
    trailing_slash: Literal["strip", "keep"] = Field(
        default="strip", description="'strip': /a/ and /a are one page (one document id); 'keep': two."
    )
    drop_query_params: list[str] = Field(
        default_factory=lambda: ["utm_*", "fbclid", "gclid"],
        description="Query parameters (globs) removed from URLs before they are compared.",
    )
    skip_extensions: list[str] = Field(
        default_factory=lambda: list(_SKIPPED_EXTENSIONS),
        description="Links whose path ends with one of these are not requested.",
    )
    skip_content_types: list[str] = Field(
        default_factory=lambda: ["image/", "video/", "audio/", "font/", "application/zip"],
        description="Responses of these media types (prefixes) are not ingested.",
    )
    state_file: str = Field(
        default="",
        description="SQLite file of ETag/Last-Modified per URL ('': crawl-state.sqlite in the data dir).",
    )
