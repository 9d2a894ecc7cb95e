"""A small agency website served on loopback for the crawler tests: pages with ETag/Last-Modified that
answer conditional requests with 304, redirects, errors and slow pages; every request is recorded with
its headers so tests can assert what the crawler sent."""

from __future__ import annotations

import http.server
import threading
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Page:
    """What the site answers at one path."""

    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    etag: str = ""
    last_modified: str = ""
    location: str = ""
    delay: float = 0.0


@dataclass
class Request:
    """One request the site received: its path, its headers and the status it was answered with."""

    path: str
    headers: dict[str, str]
    status: int = 0


@dataclass
class Site:
    """The site: `pages` by path (set them before or between crawls); `requests` as received."""

    pages: dict[str, Page] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    base: str = ""
    _server: Any = None

    def page(self, path: str, body: str | bytes = b"", content_type: str = "text/html", **kw: Any) -> str:
        """Serve `body` at `path` (see `Page` for the keywords); returns the absolute URL."""
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.pages[path] = Page(body=data, content_type=content_type, **kw)
        return self.base + path

    def html(self, path: str, title: str, text: str, links: list[str] = (), **kw: Any) -> str:  # type: ignore[assignment]
        """An HTML page with a title, a paragraph and links (hrefs as given)."""
        anchors = "".join(f'<li><a href="{href}">{href}</a></li>' for href in links)
        body = (
            f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head>"
            f"<body><h1>{title}</h1><p>{text}</p><ul>{anchors}</ul></body></html>"
        )
        return self.page(path, body, **kw)

    def asked(self, path: str) -> list[Request]:
        """The requests received for `path`."""
        return [r for r in self.requests if r.path == path]

    def start(self) -> None:
        """Serve on 127.0.0.1 (an ephemeral port) from a daemon thread."""
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                req = Request(self.path, {k.lower(): v for k, v in self.headers.items()})
                site.requests.append(req)
                page = site.pages.get(self.path, Page(b"not found", "text/plain", 404))
                if page.delay:
                    time.sleep(page.delay)
                status, body = page.status, page.body
                inm = req.headers.get("if-none-match")
                ims = req.headers.get("if-modified-since")
                if status == 200 and (
                    (page.etag and inm == page.etag)
                    or (not inm and page.last_modified and ims == page.last_modified)
                ):
                    status, body = 304, b""
                req.status = status
                try:
                    self.send_response(status)
                    if status != 304:
                        self.send_header("Content-Type", page.content_type)
                    self.send_header("Content-Length", str(len(body)))
                    if page.etag:
                        self.send_header("ETag", page.etag)
                    if page.last_modified:
                        self.send_header("Last-Modified", page.last_modified)
                    if page.location:
                        self.send_header("Location", page.location)
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):  # the crawler gave up (timeout test)
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()
