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


class FetchSettings(BaseModel):
    """Limits for web sources."""

    timeout_s: float = Field(default=20.0, gt=0, description="Connect/read timeout per request.")
    max_bytes: int = Field(default=50_000_000, gt=0, description="Largest response body accepted.")
    min_interval_s: float = Field(default=1.0, ge=0, description="Minimum delay between requests to a host.")
    respect_robots: bool = Field(default=True, description="Skip URLs that robots.txt disallows.")
    user_agent: str = USER_AGENT


class FetchError(Exception):
    """A URL could not be fetched; the message says why."""


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

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def _wait_turn(self, host: str) -> None:
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next_slot.get(host, now))
            self._next_slot[host] = slot + self._settings.min_interval_s
        if slot > now:
            time.sleep(slot - now)

    def _allowed(self, url: str) -> bool:
        if not self._settings.respect_robots:
            return True
        parts = urlsplit(url)
        base = f"{parts.scheme}://{parts.netloc}"
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
            with self._lock:
                self._robots[base] = parser
        return parser is None or parser.can_fetch(self._settings.user_agent, url)

    def fetch(self, url: str) -> Fetched:
        """Download one URL within the limits, or raise `FetchError` with the reason."""
        if not self._allowed(url):
            raise FetchError("disallowed by robots.txt")
        self._wait_turn(urlsplit(url).netloc)
        cap = self._settings.max_bytes
        try:
            with self._client.stream("GET", url) as resp:
                if resp.status_code >= 400:
                    raise FetchError(f"HTTP {resp.status_code} {resp.reason_phrase}")
                declared = resp.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > cap:
                    raise FetchError(f"response is {int(declared):,} bytes > limit {cap:,}")
                buf = bytearray()
                for part in resp.iter_bytes():
                    buf.extend(part)
                    if len(buf) > cap:
                        raise FetchError(f"response exceeds the {cap:,}-byte limit")
                ctype = resp.headers.get("content-type", "").split(";")[0].strip().lower()
                final = str(resp.url)
        except httpx.TimeoutException as exc:
            raise FetchError(
                f"timed out after {self._settings.timeout_s:g} s ({type(exc).__name__})"
            ) from exc
        except httpx.HTTPError as exc:
            raise FetchError(f"request failed: {exc}") from exc
        name = urlsplit(final).path.rsplit("/", 1)[-1] or "index"
        known = set(_EXT_BY_TYPE.values()) | {".htm", ".jpeg", ".tif", ".markdown"}
        if ctype in _EXT_BY_TYPE and not name.lower().endswith(tuple(known)):
            name += _EXT_BY_TYPE[ctype]  # e.g. "/page.php" served as text/html
        return Fetched(url=final, data=bytes(buf), content_type=ctype, filename=name)
