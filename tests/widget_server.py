"""Stand-in for `govrag serve` used by the widget's browser tests until they run against the real API.

It implements the API contract the widget relies on (`POST /v1/query` with `stream: true` answering
Server-Sent Events, `POST /v1/feedback`, `GET /widget.js`, `GET /`) with canned answers, validates
every request body strictly (as the real pydantic models do) and records what it received so that tests
can assert on it. SSE frames are written in small pieces split at awkward places (inside a line, inside a
multi-byte UTF-8 character) so that the widget's frame reassembly is exercised over a real socket.

Scenarios are picked from the question: Thai script gets a Thai answer, a question mentioning
`REFUSE_WORD` is refused (no answer in the documents), one mentioning `SLOW_WORD` streams slowly (for
the stop button), anything else gets an English answer with two citations.

Run by hand for a demo: `python tests/widget_server.py --port 8765`, then open http://127.0.0.1:8765/.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent.parent / "rag" / "static"
REFUSE_WORD = "weather"
SLOW_WORD = "everything"
_THAI = re.compile(r"[\u0e00-\u0e7f]")
_CHUNK_SIZES = (1, 7, 3, 13, 2, 29, 5, 64)

EN_CITATIONS: list[dict[str, Any]] = [
    {
        "n": 1,
        "doc_id": "passport-guide-2024",
        "title": "Passport Renewal Guide 2024",
        "source": "https://docs.example.gov/passport-guide-2024.pdf",
        "page": 3,
        "section": ["Fees", "Renewal fees"],
        "quote": "The renewal fee for an adult passport is RM200.",
        "lang": "en",
        "score": 0.83,
    },
    {
        "n": 2,
        "doc_id": "immigration-faq",
        "title": "Immigration Department FAQ",
        "source": "https://docs.example.gov/immigration-faq.html",
        "page": None,
        "section": ["Processing times"],
        "quote": "Most applications are processed within three working days.",
        "lang": "en",
        "score": 0.71,
    },
]
EN_DELTAS = [
    "An adult passport renewal ",
    "costs RM200 [1]. ",
    "Applications are usually processed within three working days [2]. ",
    "You may also be asked for a birth certificate.",
]
EN_ANSWER = (
    "An adult passport renewal costs RM200 [1]. "
    "Applications are usually processed within three working days [2]."
)
# The last streamed sentence has no support; the verified answer drops it (tests check that it is gone).
EN_UNSUPPORTED = "birth certificate"

TH_CITATIONS: list[dict[str, Any]] = [
    {
        "n": 1,
        "doc_id": "th-passport-manual",
        "title": "คู่มือการขอหนังสือเดินทาง",
        "source": "https://docs.example.go.th/passport-manual.pdf",
        "page": 5,
        "section": ["ระยะเวลาดำเนินการ"],
        "quote": "ระยะเวลาดำเนินการต่ออายุหนังสือเดินทางประมาณ 3 วันทำการ",
        "lang": "th",
        "score": 0.88,
    },
    {
        "n": 2,
        "doc_id": "th-consular-notice-12",
        "title": "ประกาศกรมการกงสุล เรื่องเอกสารประกอบคำขอ",
        "source": "https://docs.example.go.th/announcement-12.html",
        "page": None,
        "section": ["เอกสารที่ต้องใช้"],
        "quote": "ผู้ยื่นคำขอต้องแสดงบัตรประจำตัวประชาชนฉบับจริง",
        "lang": "th",
        "score": 0.74,
    },
]
TH_ANSWER = "การต่ออายุหนังสือเดินทางใช้เวลาประมาณ 3 วันทำการ [1] และต้องแสดงบัตรประจำตัวประชาชนฉบับจริง [2]"
TH_DELTAS = ["การต่ออายุหนังสือเดินทาง", "ใช้เวลาประมาณ 3 วันทำการ [1] ", "และต้องแสดงบัตรประจำตัวประชาชนฉบับจริง [2]"]


@dataclass
class QueryRecord:
    """One `POST /v1/query` as received: JSON body, Authorization header and the query id sent back."""

    body: dict[str, Any]
    authorization: str | None
    query_id: str


@dataclass
class ServerLog:
    """What the stand-in received, shared between request threads (guarded by `lock`)."""

    queries: list[QueryRecord] = field(default_factory=list)
    feedback: list[dict[str, Any]] = field(default_factory=list)
    aborted: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _source_entry(c: dict[str, Any]) -> dict[str, Any]:
    return {k: c[k] for k in ("n", "doc_id", "title", "source", "page", "section", "lang", "score")}


def _validate_query(body: Any) -> str | None:
    """The problem with a query body, or None; mirrors the real API's strict (extra="forbid") models."""
    if not isinstance(body, dict):
        return "body must be a JSON object"
    extra = set(body) - {"question", "history", "filters", "top_k", "stream"}
    if extra:
        return f"unknown fields: {sorted(extra)}"
    if not isinstance(body.get("question"), str) or not body["question"].strip():
        return "question must be a non-empty string"
    history = body.get("history", [])
    if not isinstance(history, list) or not all(
        isinstance(t, dict)
        and set(t) == {"role", "content"}
        and t["role"] in ("user", "assistant")
        and isinstance(t["content"], str)
        for t in history
    ):
        return "history must be a list of {role: user|assistant, content: str}"
    filters = body.get("filters", {})
    if not isinstance(filters, dict) or set(filters) - {"agency", "lang"}:
        return "filters may only hold agency and lang"
    if "top_k" in body and (not isinstance(body["top_k"], int) or body["top_k"] < 1):
        return "top_k must be a positive integer"
    if body.get("stream") is not True:
        return "the widget must ask for stream: true"
    return None


def _validate_feedback(body: Any) -> str | None:
    """The problem with a feedback body, or None."""
    if not isinstance(body, dict) or set(body) - {"query_id", "rating", "comment"}:
        return "feedback takes query_id, rating and comment"
    if not isinstance(body.get("query_id"), str) or not body["query_id"]:
        return "query_id must be a non-empty string"
    if body.get("rating") not in ("up", "down"):
        return "rating must be up or down"
    if "comment" in body and not isinstance(body["comment"], str):
        return "comment must be a string"
    return None


class _Handler(BaseHTTPRequestHandler):
    """Serves the static widget files and the canned API. HTTP/1.0: a streamed body ends when we close."""

    server: _StandInHTTPServer
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("stand-in: " + format, *args)

    def _cors(self) -> None:
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Allow-Headers", "Authorization, Content-Type")
        self.send_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
        self.send_header("Access-Control-Expose-Headers", "Retry-After")

    def _json(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self._cors()
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_OPTIONS(self) -> None:
        self.send_response(204)
        self._cors()
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        files = {
            "/": ("demo.html", "text/html"),
            "/demo.html": ("demo.html", "text/html"),
            "/widget.js": ("widget.js", "text/javascript"),
        }
        if path not in files:
            self._json(404, {"detail": f"no such page: {path}"})
            return
        name, ctype = files[path]
        data = (self.server.static_dir / name).read_bytes()
        self.send_response(200)
        self._cors()
        self.send_header("Content-Type", f"{ctype}; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            return json.loads(self.rfile.read(length) or b"null")
        except ValueError:
            return None

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0]
        body = self._body()
        log = self.server.log
        if path == "/v1/feedback":
            problem = _validate_feedback(body)
            if problem:
                self._json(422, {"detail": problem})
                return
            with log.lock:
                log.feedback.append(body)
            self._json(200, {"ok": True})
        elif path == "/v1/query":
            problem = _validate_query(body)
            if problem:
                self._json(422, {"detail": problem})
                return
            query_id = uuid.uuid4().hex
            with log.lock:
                log.queries.append(QueryRecord(body, self.headers.get("Authorization"), query_id))
            self._stream(body["question"], query_id)
        else:
            self._json(404, {"error": {"code": "not_found", "message": f"no such endpoint: {path}"}})

    def _write(self, data: bytes, pause: float) -> None:
        """Write in pieces of uneven size, each flushed, so that frames arrive split across reads."""
        i = 0
        k = 0
        while i < len(data):
            size = _CHUNK_SIZES[k % len(_CHUNK_SIZES)]
            self.wfile.write(data[i : i + size])
            self.wfile.flush()
            i += size
            k += 1
            time.sleep(pause)

    def _event(self, name: str, payload: Any, pause: float = 0.002) -> None:
        frame = f"event: {name}\r\ndata: {json.dumps(payload, ensure_ascii=False)}\r\n\r\n"
        self._write(frame.encode(), pause)

    def _stream(self, question: str, query_id: str) -> None:
        if _THAI.search(question):
            cits, deltas, answer, lang = TH_CITATIONS, TH_DELTAS, TH_ANSWER, "th"
        elif REFUSE_WORD in question.lower():
            cits, deltas, answer, lang = [], [], "", "en"
        else:
            cits, deltas, answer, lang = EN_CITATIONS, EN_DELTAS, EN_ANSWER, "en"
        slow = SLOW_WORD in question.lower()
        self.send_response(200)
        self._cors()
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        try:
            self.wfile.write(b": stand-in stream\n\n")  # a comment frame: must be ignored
            self._event("sources", {"query_id": query_id, "sources": [_source_entry(c) for c in cits]})
            if slow:
                for i in range(60):
                    self._event("delta", {"text": f"word{i} "})
                    time.sleep(0.1)
            for d in deltas:
                self._event("delta", {"text": d})
                time.sleep(0.05)
            done = {
                "query_id": query_id,
                "answer": answer,
                "language": lang,
                "citations": cits,
                "grounded": bool(cits),
                "refused": not cits,
                "generator": "extractive",
                "timings": {"retrieve_ms": 12.5, "generate_ms": 31.0, "total_ms": 45.1},
                "warnings": [],
            }
            self._event("done", done)
        except (BrokenPipeError, ConnectionResetError):
            with self.server.log.lock:
                self.server.log.aborted.append(query_id)


class _StandInHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], static_dir: Path) -> None:
        super().__init__(address, _Handler)
        self.static_dir = static_dir
        self.log = ServerLog()


class StandInServer:
    """The stand-in API on a loopback port, served from a background thread; use as a context manager."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, static_dir: Path = STATIC_DIR) -> None:
        self._httpd = _StandInHTTPServer((host, port), static_dir)
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="widget-stand-in", daemon=True)

    @property
    def url(self) -> str:
        """Base URL, e.g. http://127.0.0.1:40123 (no trailing slash)."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def log(self) -> ServerLog:
        """Requests received so far."""
        return self._httpd.log

    def start(self) -> StandInServer:
        """Start serving in the background."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> StandInServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> None:
    """Serve the stand-in until interrupted (for trying the widget by hand)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    with StandInServer(args.host, args.port) as server:
        print(f"widget stand-in on {server.url}/ (Ctrl+C to stop)")
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
