"""URLs of an agency website: their canonical form, and the links found in its pages and sitemaps.

A page reached by several spellings must be ingested once under one document id, the same on every
crawl: `canonical_url` lowercases scheme and host, drops the fragment, the default port, tracking
parameters and (by policy) a trailing slash, and resolves `.`/`..` segments.
"""

from __future__ import annotations

import fnmatch
import gzip
import html
import posixpath
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qsl, quote, unquote, urlencode, urljoin, urlsplit, urlunsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}
_LOC = re.compile(rb"<(?:\w+:)?loc>\s*(.*?)\s*</(?:\w+:)?loc>", re.S | re.I)
_SITEMAP_INDEX = re.compile(rb"<(?:\w+:)?sitemapindex[\s>]", re.I)
_ENCODED_SLASH = re.compile(r"%2f", re.I)
#: Characters left as they are in a path; everything else is percent-encoded (upper-case hex).
_PATH_SAFE = "/!$&'()*+,;=:@-._~"


def _encode_path(path: str) -> str:
    """One spelling per path: `/ข่าว` and `/%E0%B8%82...` are the same page (an encoded `/` stays)."""
    return "%2F".join(quote(unquote(part), safe=_PATH_SAFE) for part in _ENCODED_SLASH.split(path))


def normalize_url(url: str, drop_params: Sequence[str] = ()) -> str | None:
    """The URL to request: absolute http(s), no fragment, no default port, dot segments resolved,
    `drop_params` (globs) removed from the query; None for other schemes (mailto:, javascript:...)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:  # "http://[bad" or a port out of range
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    host = parts.hostname.lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    path = parts.path or "/"
    trailing = path.endswith("/")
    path = posixpath.normpath(path) if path != "/" else "/"
    path = "/" + path.lstrip("/")  # normpath keeps a leading "//"
    if trailing and path != "/":
        path += "/"
    path = _encode_path(path)
    query = parts.query
    if query and drop_params:
        kept = [
            (k, v)
            for k, v in parse_qsl(query, keep_blank_values=True)
            if not any(fnmatch.fnmatchcase(k, p) for p in drop_params)
        ]
        query = urlencode(kept)
    return urlunsplit((scheme, netloc, path, query, ""))


def canonical_url(url: str, drop_params: Sequence[str] = (), trailing_slash: str = "strip") -> str | None:
    """A page's identity (its document id): `normalize_url`, then the trailing-slash policy."""
    norm = normalize_url(url, drop_params)
    if norm is None or trailing_slash != "strip":
        return norm
    parts = urlsplit(norm)
    if parts.path != "/" and parts.path.endswith("/"):
        return urlunsplit(parts._replace(path=parts.path.rstrip("/") or "/"))
    return norm


def site_of(url: str) -> str:
    """The host (and non-default port) a URL belongs to: http and https of one host are one site."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    port = parts.port
    return host if port in (None, _DEFAULT_PORTS.get(parts.scheme.lower())) else f"{host}:{port}"


def url_path(url: str) -> str:
    """Path and query of a URL: what include/exclude globs are matched against."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def matches(url: str, patterns: Sequence[str]) -> bool:
    """Whether the URL's path (and query) matches one of the globs (`/forms/*`, `*.pdf`)."""
    path = url_path(url)
    return any(fnmatch.fnmatchcase(path, p) or fnmatch.fnmatchcase(path.lower(), p.lower()) for p in patterns)


@dataclass(slots=True)
class PageLinks:
    """What an HTML page says about links: its outgoing links and its robots/canonical hints."""

    links: list[str] = field(default_factory=list)
    canonical: str = ""
    noindex: bool = False
    nofollow: bool = False


class _LinkParser(HTMLParser):
    def __init__(self, base: str) -> None:
        super().__init__(convert_charrefs=True)
        self.base = base
        self.found = PageLinks()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k.lower(): (v or "") for k, v in attrs}
        if tag == "base" and a.get("href"):
            self.base = urljoin(self.base, a["href"])
        elif tag in ("a", "area") and a.get("href"):
            if "nofollow" not in a.get("rel", "").lower().split():
                self.found.links.append(urljoin(self.base, a["href"]))
        elif tag == "link" and "canonical" in a.get("rel", "").lower().split() and a.get("href"):
            self.found.canonical = urljoin(self.base, a["href"])
        elif tag == "meta" and a.get("name", "").lower() in ("robots", "govrag"):
            words = {w.strip() for w in a.get("content", "").lower().split(",")}
            self.found.noindex |= bool(words & {"noindex", "none"})
            self.found.nofollow |= bool(words & {"nofollow", "none"})


def html_links(data: bytes, url: str) -> PageLinks:
    """Links (absolute), `<link rel=canonical>` and `<meta name=robots>` of an HTML page."""
    charset = "utf-8"
    head = data[:2048].lower()
    m = re.search(rb'charset=["\']?([\w-]+)', head)
    if m:
        charset = m.group(1).decode("ascii", "replace")
    try:
        text = data.decode(charset, errors="replace")
    except LookupError:
        text = data.decode("utf-8", errors="replace")
    parser = _LinkParser(url)
    parser.feed(text)
    parser.close()
    return parser.found


def sitemap_locs(data: bytes, max_bytes: int) -> tuple[bool, list[str]]:
    """(is a sitemap index, the `<loc>` URLs) of a sitemap, gzipped or not, read up to `max_bytes`.

    Read with a pattern, not an XML parser: a sitemap is a flat list, and a pattern cannot be made to
    expand entities (the "billion laughs" of a hostile XML file)."""
    if data[:2] == b"\x1f\x8b":
        try:
            data = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data, max_bytes)
        except (zlib.error, gzip.BadGzipFile):
            return False, []
    is_index = bool(_SITEMAP_INDEX.search(data[:4096]))
    locs = [html.unescape(m.group(1).decode("utf-8", "replace")) for m in _LOC.finditer(data)]
    return is_index, locs
