"""Fetching web sources for ingestion: timeouts, size caps, content-type sniffing, robots.txt and a
per-host rate limit, so that pointing govrag at an agency website does not hammer it."""

from __future__ import annotations

import logging
import threading
import time
import urllib.robotparser
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, Field

logger = logging.getLogger(__name__)

USER_AGENT = "govrag-ingest/0.1 (+https://github.com/govrag)"
#: The longest robots.txt `Crawl-delay` honoured between two requests to one host.
MAX_CRAWL_DELAY_S = 30.0


class FetchSettings(BaseModel):
    """Limits for web sources."""

    timeout_s: float = Field(default=20.0, gt=0, description="Connect/read timeout per request.")
    max_bytes: int = Field(default=50_000_000, gt=0, description="Largest response body accepted.")
    min_interval_s: float = Field(default=1.0, ge=0, description="Minimum delay between requests to a host.")
    respect_robots: bool = Field(default=True, description="Skip URLs that robots.txt disallows.")
    user_agent: str = USER_AGENT


class FetchError(Exception):
    """A URL could not be fetched; the message says why."""


class Disallowed(FetchError):
    """robots.txt of the site disallows the URL."""


class TooLarge(FetchError):
    """The response is larger than `max_bytes`."""


@dataclass(slots=True)
class Response:
    """One HTTP response (`Fetcher.request`): any status; the body only for 2xx, capped."""

    url: str
    status: int
    reason: str
    headers: httpx.Headers
    data: bytes

    @property
    def content_type(self) -> str:
        """The media type without parameters, lower case ("" when absent)."""
        return str(self.headers.get("content-type", "")).split(";")[0].strip().lower()


@dataclass(slots=True)
class Fetched:
    """A downloaded web document."""

    url: str
    data: bytes
    content_type: str
    filename: str


_EXT_BY_TYPE = {
    "text/html": ".html",
    "application/xhtml+xml": ".html",
    "application/pdf": ".pdf",
    "text/plain": ".txt",
    "text/markdown": ".md",
    "text/csv": ".csv",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": ".pptx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    "message/rfc822": ".eml",
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/tiff": ".tiff",
}


class Fetcher:
    """A polite HTTP client shared by the ingestion run (thread-safe)."""

    def __init__(self, settings: FetchSettings) -> None:
        self._settings = settings
        self._client = httpx.Client(
            timeout=settings.timeout_s,
            follow_redirects=True,
            headers={"User-Agent": settings.user_agent},
        )
        self._lock = threading.Lock()
        self._next_slot: dict[str, float] = {}
        self._robots: dict[str, urllib.robotparser.RobotFileParser | None] = {}
        self._crawl_delay: dict[str, float] = {}

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def _wait_turn(self, host: str) -> None:
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next_slot.get(host, now))
            interval = max(self._settings.min_interval_s, self._crawl_delay.get(host, 0.0))
            self._next_slot[host] = slot + interval
        if slot > now:
            time.sleep(slot - now)

    def _allowed(self, url: str) -> bool:
        if not self._settings.respect_robots:
            return True
        base = _site(url)
        with self._lock:
            known = base in self._robots
            parser = self._robots.get(base)
        if not known:
            parser = urllib.robotparser.RobotFileParser()
            try:
                resp = self._client.get(base + "/robots.txt")
                if resp.status_code == 200:
                    parser.parse(resp.text.splitlines())
                else:
                    parser = None  # no robots.txt (or an error page): everything allowed
            except httpx.HTTPError:
                parser = None
            delay = parser.crawl_delay(self._settings.user_agent) if parser is not None else None
            with self._lock:
                self._robots[base] = parser
                if delay:  # robots.txt's Crawl-delay, capped: a typo of 86400 must not stall the run
                    self._crawl_delay[urlsplit(url).netloc] = min(float(delay), MAX_CRAWL_DELAY_S)
        return parser is None or parser.can_fetch(self._settings.user_agent, url)

    def robots_sitemaps(self, url: str) -> list[str]:
        """The `Sitemap:` lines of the robots.txt of `url`'s site (empty when robots.txt is not read)."""
        self._allowed(url)  # reads and caches robots.txt of the site
        with self._lock:
            parser = self._robots.get(_site(url))
        return list((parser.site_maps() if parser is not None else None) or [])

    def request(
        self, url: str, headers: dict[str, str] | None = None, *, follow_redirects: bool = True
    ) -> Response:
        """One GET within the limits, whatever its status: robots.txt checked, rate limited, the body of
        a 2xx response read up to `max_bytes` (other statuses carry no body).

        Raises `Disallowed` (robots.txt), `TooLarge` (over `max_bytes`) or `FetchError` (timeouts and
        connection errors, the transient kind)."""
        if not self._allowed(url):
            raise Disallowed("disallowed by robots.txt")
        self._wait_turn(urlsplit(url).netloc)
        cap = self._settings.max_bytes
        try:
            with self._client.stream(
                "GET", url, headers=headers or {}, follow_redirects=follow_redirects
            ) as resp:
                buf = bytearray()
                if 200 <= resp.status_code < 300:
                    declared = resp.headers.get("content-length")
                    if declared and declared.isdigit() and int(declared) > cap:
                        raise TooLarge(f"response is {int(declared):,} bytes > limit {cap:,}")
                    for part in resp.iter_bytes():
                        buf.extend(part)
                        if len(buf) > cap:
                            raise TooLarge(f"response exceeds the {cap:,}-byte limit")
                return Response(
                    url=str(resp.url),
                    status=resp.status_code,
                    reason=resp.reason_phrase,
                    headers=resp.headers,
                    data=bytes(buf),
                )
        except httpx.TimeoutException as exc:
            raise FetchError(
                f"timed out after {self._settings.timeout_s:g} s ({type(exc).__name__})"
            ) from exc
        except httpx.HTTPError as exc:
            raise FetchError(f"request failed: {exc}") from exc

    def fetch(self, url: str) -> Fetched:
        """Download one URL within the limits, or raise `FetchError` with the reason."""
        resp = self.request(url)
        if resp.status >= 400:
            raise FetchError(f"HTTP {resp.status} {resp.reason}")
        ctype = resp.content_type
        return Fetched(
            url=resp.url, data=resp.data, content_type=ctype, filename=filename_for(resp.url, ctype)
        )


def _site(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def filename_for(url: str, content_type: str) -> str:
    """A file name for a downloaded document: the URL's last path segment (or "index"), with the
    extension of its content type added when the name has none it is known by (`/page.php` as HTML)."""
    name = urlsplit(url).path.rsplit("/", 1)[-1] or "index"
    known = set(_EXT_BY_TYPE.values()) | {".htm", ".jpeg", ".tif", ".markdown"}
    if content_type in _EXT_BY_TYPE and not name.lower().endswith(tuple(known)):
        name += _EXT_BY_TYPE[content_type]
    return name
