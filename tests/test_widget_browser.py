"""Browser tests of the `<govrag-chat>` widget (rag/static/widget.js) in Debian's Chromium via Playwright.

Most tests load the demo page and the widget from a real `govrag serve` process on loopback (the `server`
fixture) and talk to its API. Its data dir holds the sample corpus (`govrag sample`, ingested with the real
pipeline), a JSONL record whose title, text and source carry `<script>` and `<img onerror>` payloads, and a
two-page PDF ingested from an http URL. The English and Thai answers and their citations, the no-answer
state, feedback (read back from the server's audit log), the 429 of a rate-limited key, 401, 422 and an
unreachable API are all real. A page on another origin embeds the widget with the two-line snippet and a
CORS-allowlisted, query-scoped key.

Streamed text (`event: delta`) only comes from an LLM, so the streaming and Stop tests run the same app
(`create_app` under uvicorn in this process) with its generator pointed at the scripted OpenAI-compatible
server of tests/fake_openai.py. What no server produces on demand (HTTP 500, `event: error`, a stream cut
off before `done`) is served by Playwright's request interception. Screenshots of the main states go to
test-output/widget/. Without Chromium the browser tests skip; GOVRAG_REQUIRE_BROWSER=1 makes them fail.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest
from api_support import (
    FOLDER_AGENCIES,
    HR_DOC,
    PASSPORT_EN,
    LiveServer,
    SampleIndex,
    api_settings,
    clone_home,
    free_port,
    ingest_sources,
)
from conftest import LocalSite, build_settings
from fake_openai import FakeOpenAIServer, StreamReply
from oidc_support import JwksServer, SigningKey, mint, oidc_settings, rsa_key

from govrag import sample_corpus
from govrag.sample_corpus import write_simple_pdf
from rag.api.security import hash_key
from rag.prompting import refusal

pytest_plugins = ["api_fixtures"]

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "test-output" / "widget"
STATIC_DIR = ROOT / "rag" / "static"
WIDGET_JS = STATIC_DIR / "widget.js"
CHROMIUM = Path(os.environ.get("GOVRAG_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: How long an assertion may wait (answers included): generous, CI runs on a loaded 2-core machine.
EXPECT_TIMEOUT_MS = 60_000
#: How long `govrag serve` may take to load the model and open the index.
SERVER_START_TIMEOUT_S = 600.0

# ---- what the sample corpus answers (govrag/sample_corpus.py) ----------------------------------------------
EN_QUESTION = "How much does it cost to renew a passport?"
EN_FEE = "The renewal fee is 70 dollars, paid by card when you submit the application."
PASSPORT_TITLE = "Renewing your passport"
IMMIGRATION = FOLDER_AGENCIES["immigration"]  # the agency the passport folder was ingested with
FOLLOW_UP = "And how long does it take?"
TH_QUESTION = "ค่าธรรมเนียมจดทะเบียนพาณิชย์เท่าไร"
TH_FEE = "ค่าธรรมเนียมการจดทะเบียนครั้งแรกคือ 50 บาท"
TH_TITLE = sample_corpus.BUSINESS_TH[0][1]
TH_SECTION = sample_corpus.BUSINESS_TH[2][1]
NO_ANSWER_QUESTION = "What will the weather be tomorrow?"
DENGUE_QUESTION = "How often should I check my home for stagnant water?"
DENGUE_URL = sample_corpus.EXPORT_RECORDS[0]["url"]

# ---- documents added to the sample corpus ------------------------------------------------------------------
SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(2)>"
HOSTILE_TITLE = f"Staff parking {SCRIPT} permits"
HOSTILE_SENTENCE = (
    f"Staff parking permits cost 15 dollars a month {IMG} and are issued by the facilities office "
    f"{SCRIPT} within two working days."
)
HOSTILE_SOURCE = "javascript:alert(3)"
HOSTILE_RECORD = {
    "id": "staff-parking-notice",
    "title": HOSTILE_TITLE,
    "lang": "en",
    "url": HOSTILE_SOURCE,
    "text": f"{HOSTILE_SENTENCE} Permits must be displayed on the dashboard.",
}
HOSTILE_QUESTION = "How much does a staff parking permit cost?"
LEAVE_SENTENCE = "Up to 10 days of unused annual leave may be carried forward to the next year."
LEAVE_PDF_PAGES = [
    ["Annual Leave Circular", "Public Service Division", "", "Officers earn 18 days of annual leave a year."],
    ["Carrying leave forward", "", LEAVE_SENTENCE],
]
LEAVE_QUESTION = "How many days of unused annual leave may be carried forward?"

# ---- who may call the server -------------------------------------------------------------------------------
WIDGET_KEY = "grk_test_intranet_widget_key_0123456789"
WIDGET_CALLER = "intranet-widget"
THROTTLED_KEY = "grk_test_throttled_widget_key_01234567"
THROTTLED_CALLER = "throttled-site"

LANGS = ("en", "ms", "id", "th", "vi", "tl", "ta", "zh", "my", "km", "lo")
# The Send button and the conversation's label in each language: catches a string table out of step.
SEND = {
    "en": "Send",
    "ms": "Hantar",
    "id": "Kirim",
    "th": "ส่ง",
    "vi": "Gửi",
    "tl": "Ipadala",
    "ta": "அனுப்பு",
    "zh": "发送",
    "my": "ပို့ရန်",
    "km": "ផ្ញើ",
    "lo": "ສົ່ງ",
}
LOG = {
    "en": "Conversation",
    "ms": "Perbualan",
    "id": "Percakapan",
    "th": "การสนทนา",
    "vi": "Cuộc trò chuyện",
    "tl": "Usapan",
    "ta": "உரையாடல்",
    "zh": "对话",
    "my": "စကားဝိုင်း",
    "km": "ការសន្ទនា",
    "lo": "ການສົນທະນາ",
}
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}

browser_test = pytest.mark.browser


# ---------------------------------------------------------------------------------------------- servers
@dataclass
class Api:
    """A running govrag API: its base URL and data dir (audit log: `<home>/audit.sqlite3`)."""

    url: str
    home: Path
    fake: FakeOpenAIServer | None = None

    def audit(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        """Rows of a query on the server's audit log (read-only; the server keeps writing)."""
        db = sqlite3.connect(f"file:{self.home / 'audit.sqlite3'}?mode=ro", uri=True, timeout=30)
        try:
            return db.execute(sql, params).fetchall()
        finally:
            db.close()


@dataclass
class Corpus:
    """The data dir served by `govrag serve` and the URL its PDF was ingested from."""

    home: Path
    leave_pdf_url: str


def _log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    """Until `/readyz` says ready; fails at once if the server exits or has no index."""
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"govrag serve exited with {proc.returncode}:\n{_log_tail(log)}")
        try:
            r = httpx.get(f"{url}/readyz", timeout=5)
        except httpx.TransportError:
            time.sleep(0.3)
            continue
        if r.status_code == 200 and r.json().get("ready") is True:
            return
        raise AssertionError(f"govrag serve is up but not ready: {r.status_code} {r.text}\n{_log_tail(log)}")
    raise AssertionError(f"govrag serve was not ready within {SERVER_START_TIMEOUT_S} s:\n{_log_tail(log)}")


@pytest.fixture(scope="session")
def playwright_api() -> Any:
    """Playwright's sync API once Chromium is known to be there: skip without it (fail when
    GOVRAG_REQUIRE_BROWSER=1). Session-scoped so that it runs before the session's index is built."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} missing: apt-get install chromium (or set GOVRAG_CHROMIUM)"
        if os.environ.get("GOVRAG_REQUIRE_BROWSER") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return sync_api


@pytest.fixture(scope="module")
def corpus(
    playwright_api: Any,
    sample_index: SampleIndex,
    tmp_path_factory: pytest.TempPathFactory,
    embedder: Any,
    sparse_encoder: Any,
) -> Corpus:
    """The ingested sample corpus plus, through the real pipeline, a JSONL export with an HTML/JS payload
    in its title, text and source, and a two-page PDF fetched from an http URL."""
    home = clone_home(sample_index.home, tmp_path_factory.mktemp("widget-home"))
    export = home / "intranet-notices.jsonl"
    export.write_text(json.dumps(HOSTILE_RECORD, ensure_ascii=False) + "\n", encoding="utf-8")
    pdf = home / "annual-leave.pdf"
    write_simple_pdf(pdf, LEAVE_PDF_PAGES)
    site = LocalSite()
    try:
        url = site.add("/circulars/annual-leave.pdf", pdf.read_bytes(), "application/pdf")
        settings = build_settings(home, ingest={"workers": 1})
        ingest_sources(settings, embedder, sparse_encoder, [str(export), url])
    finally:
        site.close()
    return Corpus(home, url)


@pytest.fixture(scope="module")
def intranet_port() -> int:
    """Port of the 'agency intranet' page on another origin (allowed by the server's CORS list)."""
    return free_port()


@pytest.fixture(scope="module")
def server(corpus: Corpus, intranet_port: int) -> Iterator[Api]:
    """`govrag serve` as a subprocess on loopback over `corpus` (extractive answers): anonymous callers
    unlimited, a query-scoped widget key, a key limited to one request a minute, CORS for the intranet page.
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    keys = [
        {
            "name": WIDGET_CALLER,
            "hash": hash_key(WIDGET_KEY),
            "agency": IMMIGRATION,
            "groups": ["public"],
            "scopes": ["query"],
            "rate_per_minute": 0,
        },
        {
            "name": THROTTLED_CALLER,
            "hash": hash_key(THROTTLED_KEY),
            "groups": ["public"],
            "scopes": ["query"],
            "rate_per_minute": 1,
        },
    ]
    env = {
        **os.environ,
        "GOVRAG_ENVIRONMENT": "development",
        "GOVRAG_LOG_LEVEL": "WARNING",
        "GOVRAG_GENERATOR__BACKEND": "extractive",
        "GOVRAG_API__SECURITY__ALLOW_ANONYMOUS": "true",
        "GOVRAG_API__SECURITY__ANONYMOUS_RATE_PER_MINUTE": "0",
        "GOVRAG_API__SECURITY__API_KEYS": json.dumps(keys),
        "GOVRAG_API__SECURITY__CORS_ORIGINS": json.dumps([f"http://127.0.0.1:{intranet_port}"]),
        "GOVRAG_API__RATE_BURST": "1",  # so the throttled key's second request within a minute is refused
    }
    cmd = [sys.executable, "-m", "govrag.cli", "serve", "--home", str(corpus.home)]
    cmd += ["--host", "127.0.0.1", "--port", str(port)]
    log = corpus.home / "serve.log"
    with log.open("ab") as sink:  # a file, not a pipe: nobody reads a pipe while the tests run
        proc = subprocess.Popen(cmd, env=env, stdout=sink, stderr=subprocess.STDOUT)
    try:
        _wait_ready(url, proc, log)
        yield Api(url, corpus.home)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def base_url(server: Api) -> str:
    """Where the demo page, /widget.js and /v1/* are served (the real `govrag serve`)."""
    return server.url


@pytest.fixture(scope="module")
def llm_server(
    playwright_api: Any,
    sample_index: SampleIndex,
    tmp_path_factory: pytest.TempPathFactory,
    embedder: Any,
    sparse_encoder: Any,
) -> Iterator[Api]:
    """The govrag app (`create_app`, under uvicorn in this process) generating with the scripted
    OpenAI-compatible server of tests/fake_openai.py: the only way to get `event: delta` text on demand."""
    from govrag.app import create_app

    home = clone_home(sample_index.home, tmp_path_factory.mktemp("widget-llm-home"))
    with FakeOpenAIServer(models=("fake-model",)) as fake:
        generator = {
            "backend": "vllm",
            "base_url": fake.base_url,
            "model": "fake-model",
            "max_retries": 0,
            "breaker_failure_threshold": 1000,
            "read_timeout_s": 60,
            "connect_timeout_s": 5,
        }
        settings = api_settings(home, generator=generator, api={"security": {"anonymous_rate_per_minute": 0}})
        with LiveServer(create_app(settings, embedder=embedder, sparse=sparse_encoder)) as live:
            yield Api(live.url, home, fake)


@pytest.fixture
def llm(llm_server: Api) -> Iterator[Api]:
    """`llm_server` with no scripted replies left over (and none left behind)."""
    assert llm_server.fake is not None
    llm_server.fake.reset()
    yield llm_server
    llm_server.fake.reset()


@contextmanager
def serve_page(port: int, html: str) -> Iterator[str]:
    """Serve `html` at every path of http://127.0.0.1:{port}/ (a page of another site)."""
    data = html.encode("utf-8")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


# ---------------------------------------------------------------------------------------------- browser
@pytest.fixture(scope="module")
def browser(playwright_api: Any) -> Iterator[Any]:
    """Headless Debian Chromium driven by Playwright (no Playwright-downloaded browser)."""
    playwright_api.expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    OUT.mkdir(parents=True, exist_ok=True)
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@contextmanager
def tab(browser: Any, **context: Any) -> Iterator[Any]:
    """A fresh browser tab (own sessionStorage) that fails the test on page errors, JavaScript dialogs
    (an injected `alert()`) or off-machine requests."""
    ctx = browser.new_context(**{"viewport": {"width": 1024, "height": 768}, "locale": "en-US", **context})
    external: list[str] = []
    errors: list[str] = []
    dialogs: list[str] = []

    def guard(route: Any) -> None:  # the widget must make no request off this machine (fonts, CDNs)
        host = urlparse(route.request.url).hostname or ""
        if host in LOOPBACK:
            route.continue_()
        else:
            external.append(route.request.url)
            route.abort()

    def dialog(d: Any) -> None:
        dialogs.append(f"{d.type}: {d.message}")
        d.dismiss()

    ctx.route("**/*", guard)
    pg = ctx.new_page()
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("dialog", dialog)
    try:
        yield pg
    finally:
        ctx.close()
    if external or errors or dialogs:
        pytest.fail(f"external requests: {external}; page errors: {errors}; dialogs: {dialogs}")


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh 1024x768 tab; see `tab`."""
    with tab(browser) as pg:
        yield pg


# ----------------------------------------------------------------------------------------------- helpers
def mount(pg: Any, base_url: str, html_lang: str | None = None, **attrs: str) -> None:
    """Open the demo page and replace its widget by one with these attributes (api_key -> api-key).

    Each finished answer's `govrag-answer` event detail is kept in `window.__answers`.
    """
    pg.goto(base_url + "/")
    pg.wait_for_function("() => !!customElements.get('govrag-chat')")
    attrs.setdefault("mode", "inline")
    pg.evaluate(
        """([attrs, htmlLang]) => {
            if (htmlLang !== null) {
                if (htmlLang) document.documentElement.lang = htmlLang;
                else document.documentElement.removeAttribute('lang');
            }
            document.querySelectorAll('govrag-chat').forEach((e) => e.remove());
            const w = document.createElement('govrag-chat');
            for (const [k, v] of Object.entries(attrs)) w.setAttribute(k, v);
            window.__answers = window.__answers || [];
            w.addEventListener('govrag-answer', (e) => window.__answers.push(e.detail));
            (document.getElementById('slot') || document.body).append(w);
        }""",
        [{k.replace("_", "-"): v for k, v in attrs.items()}, html_lang],
    )


def w(pg: Any, css: str) -> Any:
    """A locator inside the widget's shadow DOM (Playwright's CSS pierces open shadow roots)."""
    return pg.locator(f"govrag-chat {css}")


def ask(pg: Any, question: str) -> None:
    """Type a question and press Enter."""
    box = w(pg, "textarea#gc-q")
    box.fill(question)
    box.press("Enter")


def answers(pg: Any) -> Any:
    """The finished assistant messages in the conversation log."""
    return w(pg, "[role=log] .msg.bot")


def last_query_id(pg: Any) -> str:
    """The server's `query_id` of the last finished answer (from the widget's `govrag-answer` event)."""
    qid = pg.evaluate("() => (window.__answers || []).map((d) => d.query_id).pop() || null")
    assert qid, "no govrag-answer event yet"
    return str(qid)


def query_requests(pg: Any) -> list[Any]:
    """Every `POST /v1/query` the page sends from now on (Playwright requests: `post_data_json`, headers)."""
    sent: list[Any] = []

    def keep(req: Any) -> None:
        if req.method == "POST" and urlparse(req.url).path == "/v1/query":
            sent.append(req)

    pg.on("request", keep)
    return sent


def is_query(response: Any) -> bool:
    """A response to `POST /v1/query`."""
    return urlparse(response.url).path == "/v1/query"


def shot(pg: Any, name: str) -> None:
    """Save a screenshot of the page under test-output/widget/."""
    pg.screenshot(path=str(OUT / f"{name}.png"))


def wait_until(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """Poll a condition on the server side (a row in the audit log)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def sse(*events: tuple[str, Any]) -> str:
    """An SSE body."""
    return "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events)


def contrast(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """WCAG 2 contrast ratio of two sRGB colours (0-255)."""

    def lum(c: tuple[float, ...]) -> float:
        f = [(v / 255) / 12.92 if v / 255 <= 0.04045 else ((v / 255 + 0.055) / 1.055) ** 2.4 for v in c[:3]]
        return 0.2126 * f[0] + 0.7152 * f[1] + 0.0722 * f[2]

    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def rgb(css: str) -> tuple[float, ...]:
    """Parse `rgb(r, g, b)` / `#rrggbb`."""
    if css.startswith("#"):
        return tuple(int(css[i : i + 2], 16) for i in (1, 3, 5))
    return tuple(float(x) for x in re.findall(r"[\d.]+", css)[:3])


def watch_draft(pg: Any) -> None:
    """Record every text the streaming draft shows in `window.__snaps`."""
    pg.evaluate("""() => {
        const d = document.querySelector('govrag-chat').shadowRoot.querySelector('.draft .body');
        window.__snaps = [];
        new MutationObserver(() => window.__snaps.push(d.textContent))
            .observe(d, {childList: true, characterData: true, subtree: true});
    }""")


# ----------------------------------------------------------------------------- static checks (no browser)
def test_widget_fits_budget_and_makes_no_external_requests() -> None:
    raw = WIDGET_JS.read_bytes()
    packed = gzip.compress(raw, compresslevel=9)
    assert len(packed) <= 30 * 1024, f"widget.js is {len(packed)} bytes gzipped; the budget is 30 KB"
    text = raw.decode().replace("'http://www.w3.org/2000/svg'", "")  # a namespace name, never fetched
    assert re.search(r"const VERSION = '\d+\.\d+\.\d+';", text), "widget.js needs a VERSION constant"
    for needle in (
        "http://",
        "https://",
        "@import",
        "@font-face",
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
    ):
        assert needle not in text, f"widget.js must not contain {needle!r}"
    demo = (STATIC_DIR / "demo.html").read_text()
    assert '<script src="widget.js"' in demo
    assert "<govrag-chat" in demo


def test_expected_answers_are_in_the_sample_corpus() -> None:
    """The texts the browser tests expect are the corpus's own (not made up here)."""
    assert EN_FEE in sample_corpus.PASSPORT_EN
    assert f"# {PASSPORT_TITLE}" in sample_corpus.PASSPORT_EN
    assert TH_FEE in sample_corpus.BUSINESS_TH[3][1]
    assert (TH_TITLE, TH_SECTION) == ("การจดทะเบียนพาณิชย์สำหรับร้านค้าออนไลน์", "เอกสารที่ต้องใช้")
    assert DENGUE_URL.startswith("https://")


# ------------------------------------------------------------------------------------------ browser tests
@browser_test
def test_english_answer_streams_from_the_server_with_its_citation(page: Any, server: Api) -> None:
    from playwright.sync_api import expect

    mount(page, server.url, agency=IMMIGRATION, api_key=WIDGET_KEY)
    assert page.evaluate("() => customElements.get('govrag-chat').version") == re.search(
        r"const VERSION = '([^']+)'", WIDGET_JS.read_text()
    ).group(1)
    watch_draft(page)
    sent = query_requests(page)
    with page.expect_response(is_query) as got:
        ask(page, EN_QUESTION)
    answer = answers(page).last
    expect(answer.locator(".body")).to_contain_text(EN_FEE)
    response = got.value
    assert response.status == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    qid = last_query_id(page)
    # The server's record of this answer: the widget's key, grounded, and only the passport guide cited
    # (the agency filter kept the fee table, which has no agency, out).
    rows = server.audit(
        "SELECT caller, grounded, refused, generator, language, cited_doc_ids FROM queries "
        "WHERE query_id = ?",
        qid,
    )
    assert rows == [(WIDGET_CALLER, 1, 0, "extractive", "en", json.dumps([PASSPORT_EN]))]
    # The verified answer: sentences quoted from the guide, each followed by a [1] button.
    text = answer.locator(".body").text_content() or ""
    sentences = [s.strip() for s in text.split("[1]") if s.strip()]
    assert sentences
    assert EN_FEE in sentences
    assert all(" ".join(s.split()) in " ".join(sample_corpus.PASSPORT_EN.split()) for s in sentences), (
        sentences
    )
    expect(answer.locator(".cite")).to_have_count(len(sentences))
    expect(answer.locator(".cite")).to_have_text(["[1]"] * len(sentences))
    expect(answer.locator(".slist button")).to_have_text([f"[1] {PASSPORT_TITLE}"])
    # While the server worked the draft said so; it is gone now.
    assert "Searching the documents…" in page.evaluate("() => window.__snaps")
    expect(w(page, ".draft")).to_be_hidden()
    # Announced once: the log is a polite live region and the draft is not inside it.
    log = w(page, "[role=log]")
    expect(log).to_have_attribute("aria-live", "polite")
    assert page.evaluate("""() => !document.querySelector('govrag-chat').shadowRoot
        .querySelector('[role=log]').contains(document.querySelector('govrag-chat').shadowRoot.querySelector('.draft'))""")
    expect(answer).to_be_focused()
    assert sent[-1].post_data_json == {
        "question": EN_QUESTION,
        "history": [],
        "filters": {"agency": IMMIGRATION},
        "stream": True,
    }
    assert sent[-1].headers["authorization"] == f"Bearer {WIDGET_KEY}"
    shot(page, "01-english-answer")


@browser_test
def test_llm_answer_streams_then_verified_answer_replaces_it(page: Any, llm: Api) -> None:
    from playwright.sync_api import expect

    assert llm.fake is not None
    # The model streams three deltas, then stalls until released; the third cites a source that does
    # not exist ([7]), which the server's verification removes from the final answer.
    llm.fake.script(
        StreamReply(
            deltas=["The renewal fee is ", "70 dollars [1]. ", "Payment is by card [7].", " Never sent."],
            stall_after=3,
        )
    )
    mount(page, llm.url)
    watch_draft(page)
    ask(page, EN_QUESTION)
    draft = w(page, ".draft .body")
    expect(draft).to_have_text("The renewal fee is 70 dollars [1]. Payment is by card [7].")
    expect(w(page, "button.stop")).to_be_visible()
    expect(answers(page)).to_have_count(0)
    shot(page, "01b-streaming-draft")
    llm.fake.reset()  # the model's stream ends here
    answer = answers(page).last
    expect(answer.locator(".body")).to_have_text("The renewal fee is 70 dollars [1]. Payment is by card.")
    expect(answer).not_to_contain_text("[7]")
    expect(answer).not_to_contain_text("Never sent")
    expect(w(page, ".draft")).to_be_hidden()
    expect(answer.locator(".cite")).to_have_text(["[1]"])
    expect(answer.locator(".slist button")).to_have_text([f"[1] {PASSPORT_TITLE}"])
    snaps: list[str] = page.evaluate("() => window.__snaps")
    assert snaps[0] == "Searching the documents…"
    assert any(s.startswith("The renewal fee is") for s in snaps), f"no streamed text was shown: {snaps}"
    rows = llm.audit("SELECT generator, grounded FROM queries WHERE query_id = ?", last_query_id(page))
    assert rows == [("vllm", 1)]
    shot(page, "01c-verified-answer")


@browser_test
def test_thai_question_gets_thai_ui_answer_and_citation(page: Any, base_url: str) -> None:
    from playwright.sync_api import expect

    mount(page, base_url, lang="th")
    expect(w(page, "button.send")).to_have_text("ส่ง")
    expect(w(page, "textarea#gc-q")).to_have_attribute("placeholder", "พิมพ์คำถามของคุณ…")
    expect(w(page, "h2")).to_have_text("ผู้ช่วยค้นเอกสาร")
    ask(page, TH_QUESTION)
    answer = answers(page).last
    body = answer.locator(".body")
    expect(body).to_contain_text(TH_FEE)
    expect(body).to_have_attribute("lang", "th")
    expect(answer.locator(".sources h3")).to_have_text("แหล่งที่มา")
    # the DOCX states no date in its text: its "created" property (sample_corpus.FIXED_TIME) dates it
    expect(answer.locator(".slist button").first).to_have_text(f"[1] {TH_TITLE} · 2026-01-01")
    answer.locator(".cite").first.click()
    panel = w(page, ".src")
    expect(panel).to_be_visible()
    expect(panel.locator("h3")).to_have_text("แหล่งที่มา [1]")
    expect(panel.locator(".stitle")).to_have_text(TH_TITLE)
    expect(panel.locator("dd")).to_have_text(
        [f"{TH_TITLE} \u203a {TH_SECTION}", re.compile(r"^ไทย"), "2026-01-01"]
    )
    expect(panel.locator("blockquote")).to_have_attribute("lang", "th")
    expect(panel.locator("blockquote")).to_contain_text(TH_FEE)
    shot(page, "02-thai-answer-source")


@browser_test
def test_citation_opens_source_panel_with_quote_page_language_and_safe_link(
    page: Any, server: Api, corpus: Corpus
) -> None:
    from playwright.sync_api import expect

    mount(page, server.url)
    ask(page, EN_QUESTION)
    answer = answers(page).last
    expect(answer.locator(".slist button").first).to_have_text(f"[1] {PASSPORT_TITLE}")
    cite = answer.locator(".cite").first
    expect(cite).to_have_attribute("aria-label", f"[1] {PASSPORT_TITLE}")
    cite.click()
    panel = w(page, ".src")
    expect(panel).to_be_visible()
    expect(panel).to_have_attribute("role", "dialog")
    expect(panel.locator("h3")).to_be_focused()
    expect(panel.locator(".stitle")).to_have_text(PASSPORT_TITLE)
    expect(panel.locator("dd")).to_have_text([f"{PASSPORT_TITLE} \u203a Documents and fee", "English (en)"])
    expect(panel.locator("blockquote")).to_have_text(EN_FEE)
    # A file on the server is named, not linked: only http(s) sources become links. An anonymous visitor
    # sees its path under the ingested folder, never the server's own path (a file:// URI).
    expect(panel.locator("a")).to_have_count(0)
    expect(panel.locator(".path")).to_have_text("passport-renewal.en.md")
    expect(panel).not_to_contain_text("file:")
    shot(page, "03-source-panel")
    panel.get_by_role("button", name="Close").click()
    expect(panel).to_be_hidden()
    expect(cite).to_be_focused()
    # A PDF ingested from an http URL: the link opens it at the cited page.
    ask(page, LEAVE_QUESTION)
    leave = answers(page).nth(1)
    expect(leave.locator(".body")).to_contain_text(LEAVE_SENTENCE)
    leave.locator(".cite").first.click()
    expect(panel.locator("dd").first).to_have_text("2")
    expect(panel.locator("blockquote")).to_have_text(LEAVE_SENTENCE)
    link = panel.locator("a")
    expect(link).to_have_attribute("href", corpus.leave_pdf_url + "#page=2")
    expect(link).to_have_attribute("rel", "noopener noreferrer")
    expect(link).to_have_attribute("target", "_blank")
    expect(link).to_have_text("Open the source document")
    # A JSONL record's https URL is linked as it is.
    ask(page, DENGUE_QUESTION)
    dengue_title = sample_corpus.EXPORT_RECORDS[0]["title"]
    answers(page).nth(2).locator(".slist button", has_text=dengue_title).click()
    expect(panel.locator(".stitle")).to_have_text(dengue_title)
    expect(panel.locator("a")).to_have_attribute("href", DENGUE_URL)


@browser_test
def test_keyboard_only(page: Any, server: Api) -> None:
    from playwright.sync_api import expect

    mount(page, server.url, mode="launcher")
    fab = w(page, "button.fab")
    for _ in range(30):  # Tab through the page until the launcher has focus
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement && document.activeElement.tagName") == "GOVRAG-CHAT":
            break
    expect(fab).to_be_focused()
    assert (
        page.evaluate("""() => getComputedStyle(document.querySelector('govrag-chat').shadowRoot
        .querySelector('.fab')).outlineStyle""")
        != "none"
    ), "focus must be visible"
    page.keyboard.press("Enter")
    expect(w(page, "#gc-panel")).to_be_visible()
    expect(fab).to_have_attribute("aria-expanded", "true")
    box = w(page, "textarea#gc-q")
    expect(box).to_be_focused()
    sent = query_requests(page)
    page.keyboard.type("How much does it cost")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("to renew a passport?")
    expect(box).to_have_value("How much does it cost\nto renew a passport?")
    assert sent == [], "Shift+Enter must not send"
    page.keyboard.press("Enter")
    answer = answers(page).last
    expect(answer.locator(".body")).to_contain_text(EN_FEE)
    expect(answer).to_be_focused()
    assert sent[-1].post_data_json["question"] == "How much does it cost\nto renew a passport?"
    page.keyboard.press("Tab")
    cite = answer.locator(".cite").first
    expect(cite).to_be_focused()
    assert (
        page.evaluate("""() => getComputedStyle(document.querySelector('govrag-chat').shadowRoot
        .activeElement).outlineStyle""")
        == "solid"
    )
    shot(page, "04-keyboard-citation-focus")
    page.keyboard.press("Enter")
    expect(w(page, ".src")).to_be_visible()
    expect(w(page, ".src h3")).to_be_focused()
    page.keyboard.press("Escape")
    expect(w(page, ".src")).to_be_hidden()
    expect(cite).to_be_focused()
    # On through the other citations and the source list to the feedback buttons.
    up = answer.get_by_role("button", name="Helpful", exact=True)
    for _ in range(8):
        page.keyboard.press("Tab")
        if (
            page.evaluate("() => document.querySelector('govrag-chat').shadowRoot.activeElement?.title")
            == "Helpful"
        ):
            break
    expect(up).to_be_focused()
    page.keyboard.press("Enter")
    expect(up).to_have_attribute("aria-pressed", "true")
    qid = last_query_id(page)
    wait_until(
        lambda: server.audit("SELECT rating FROM feedback WHERE query_id = ?", qid) == [("up",)],
        "the rating in the server's audit log",
    )
    page.keyboard.press("Escape")
    expect(w(page, "#gc-panel")).to_be_hidden()
    expect(fab).to_be_focused()
    expect(fab).to_have_attribute("aria-expanded", "false")


@browser_test
def test_no_answer_in_documents_state(page: Any, server: Api) -> None:
    from playwright.sync_api import expect

    mount(page, server.url)
    ask(page, NO_ANSWER_QUESTION)
    answer = answers(page).last
    refused = answer.locator(".refused")
    expect(refused).to_be_visible()
    expect(refused.locator("strong")).to_have_text("No answer in the documents")
    expect(refused.locator(".body")).to_have_text(refusal("en"))
    expect(answer.locator(".cite")).to_have_count(0)
    expect(answer.locator(".sources")).to_have_count(0)
    expect(answer.get_by_role("button", name="Not helpful")).to_be_visible()
    rows = server.audit("SELECT refused, grounded FROM queries WHERE query_id = ?", last_query_id(page))
    assert rows == [(1, 0)]
    shot(page, "05-no-answer")


DEAD_API = "DEAD-API"  # replaced by the URL of a loopback port nobody listens on


@browser_test
@pytest.mark.parametrize(
    ("case", "attrs", "fulfil", "expected"),
    [
        (  # no server answers 500 on demand: intercepted
            "500",
            {},
            {
                "status": 500,
                "content_type": "application/json",
                "body": json.dumps({"error": {"code": "internal", "message": "index not loaded"}}),
            },
            [
                "The service is not available right now (error 500). Please try again later.",
                "index not loaded",
            ],
        ),
        (  # the server's own limit on top_k
            "422",
            {"top_k": "50"},
            None,
            [
                "Something went wrong. Please try again.",
                "top_k is 50; the limit is 20 (api.limits.max_top_k)",
            ],
        ),
        (
            "401",
            {"api_key": "grk_not_a_key_this_server_knows"},
            None,
            ["This website's access key was refused."],
        ),
        (  # the server sends `event: error` only when answering crashes: intercepted
            "sse-error",
            {},
            {
                "status": 200,
                "content_type": "text/event-stream",
                "body": sse(
                    ("sources", {"query_id": "q1", "sources": []}),
                    ("delta", {"text": "Partial"}),
                    ("error", {"error": {"code": "internal", "message": "answer failed: RuntimeError"}}),
                ),
            },
            ["Something went wrong. Please try again.", "answer failed: RuntimeError"],
        ),
        (  # a stream cut off before `done`: intercepted
            "cut-off",
            {},
            {"status": 200, "content_type": "text/event-stream", "body": sse(("delta", {"text": "Partial"}))},
            ["The answer was interrupted. Please try again."],
        ),
        ("network", {"api_base": DEAD_API}, None, ["The service could not be reached."]),
    ],
)
def test_errors_are_shown_in_words(
    page: Any,
    base_url: str,
    case: str,
    attrs: dict[str, str],
    fulfil: dict[str, Any] | None,
    expected: list[str],
) -> None:
    from playwright.sync_api import expect

    if attrs.get("api_base") == DEAD_API:
        attrs = {**attrs, "api_base": f"http://127.0.0.1:{free_port()}"}
    mount(page, base_url, **attrs)
    statuses: list[int] = []
    page.on("response", lambda r: statuses.append(r.status) if is_query(r) else None)
    if fulfil is not None:
        page.route("**/v1/query", lambda route: route.fulfill(**fulfil))
    ask(page, EN_QUESTION)
    alert = w(page, "[role=alert]")
    for text in expected:
        expect(alert).to_contain_text(text)
    if case in ("422", "401"):
        assert statuses == [int(case)], "the real server's status"
    # Nothing half-done stays behind; the question is back in the box to try again.
    expect(w(page, "textarea#gc-q")).to_have_value(EN_QUESTION)
    expect(w(page, "[role=log] .msg")).to_have_count(0)
    expect(w(page, ".draft")).to_be_hidden()
    expect(w(page, "button.send")).to_be_visible()
    if case == "500":
        shot(page, "06-error-500")


def _use_up_rate_limit(url: str, key: str) -> None:
    """Spend the throttled key's only token (burst 1, one a minute) so that its next request gets a 429."""
    with httpx.Client(base_url=url, timeout=60, headers={"Authorization": f"Bearer {key}"}) as client:
        for _ in range(3):
            if client.post("/v1/search", json={"query": "passport", "top_k": 1}).status_code == 429:
                return
    raise AssertionError("the throttled key was never limited")


@browser_test
@pytest.mark.parametrize(
    ("lang", "message", "again"),
    [
        ("en", "Too many questions. Try again in {n} s.", r"^Too many questions\. Try again in (\d+) s\.$"),
        ("th", "มีคำถามมากเกินไป โปรดลองอีกครั้งใน {n} วินาที", r"^มีคำถามมากเกินไป โปรดลองอีกครั้งใน (\d+) วินาที$"),
    ],
)
def test_rate_limit_429_says_when_to_retry(
    page: Any, server: Api, lang: str, message: str, again: str
) -> None:
    from playwright.sync_api import expect

    _use_up_rate_limit(server.url, THROTTLED_KEY)
    mount(page, server.url, lang=lang, api_key=THROTTLED_KEY)
    sent = query_requests(page)
    with page.expect_response(is_query) as got:
        ask(page, EN_QUESTION)
    assert got.value.status == 429
    retry = int(got.value.headers["retry-after"])
    assert 1 <= retry <= 60
    alert = w(page, "[role=alert]")
    expect(alert).to_have_text(message.format(n=retry))
    # Asking again before the wait is over is answered locally, without another request.
    w(page, "textarea#gc-q").press("Enter")
    expect(alert).to_have_text(re.compile(again))
    found = re.match(again, alert.text_content() or "")
    assert found, alert.text_content()
    assert int(found.group(1)) <= retry
    assert len(sent) == 1
    if lang == "en":
        shot(page, "07-rate-limited")


@browser_test
def test_ingested_html_and_script_are_shown_as_text(page: Any, server: Api) -> None:
    from playwright.sync_api import expect

    mount(page, server.url)
    user_payload = "<img src=y onerror=alert(4)>"
    ask(page, f"{HOSTILE_QUESTION} {user_payload}")
    answer = answers(page).last
    body = answer.locator(".body")
    expect(body).to_contain_text(HOSTILE_SENTENCE)
    text = body.text_content() or ""
    assert SCRIPT in text
    assert IMG in text
    expect(w(page, "[role=log] .msg.user")).to_contain_text(user_payload)
    expect(answer.locator(".slist button").first).to_have_text(f"[1] {HOSTILE_TITLE}")
    answer.locator(".cite").first.click()
    panel = w(page, ".src")
    expect(panel.locator(".stitle")).to_have_text(HOSTILE_TITLE)
    expect(panel.locator("blockquote")).to_have_text(HOSTILE_SENTENCE)
    expect(panel.locator("a")).to_have_count(0)  # javascript: is never a link
    expect(panel.locator(".path")).to_have_text(HOSTILE_SOURCE)
    shot(page, "08-injection-as-text")
    counts = page.evaluate("""() => {
        const r = document.querySelector('govrag-chat').shadowRoot;
        const inShadow = r.querySelectorAll('img, script, iframe, object, embed').length;
        return [inShadow, document.querySelectorAll('img').length];
    }""")
    assert counts == [0, 0]
    # (An alert() that ran would fail the test in `tab`: dialogs are recorded there.)


@browser_test
@pytest.mark.parametrize("mode", ["launcher", "inline"])
def test_usable_at_320_px(browser: Any, base_url: str, mode: str) -> None:
    from playwright.sync_api import expect

    with tab(browser, viewport={"width": 320, "height": 640}) as page:
        mount(page, base_url, mode=mode)
        if mode == "launcher":
            fab = w(page, "button.fab")
            box = fab.bounding_box()
            assert box
            assert 0 <= box["x"] <= box["x"] + box["width"] <= 320
            shot(page, "09-narrow-launcher-closed")
            fab.click()
        ask(page, EN_QUESTION)
        expect(answers(page).last.locator(".body")).to_contain_text(EN_FEE)
        for css in ("#gc-panel", "button.send", "textarea#gc-q", "[role=log] .msg.bot"):
            box = w(page, css).last.bounding_box()
            assert box is not None, css
            assert 0 <= box["x"] <= box["x"] + box["width"] <= 320, f"{css} overflows 320 px: {box}"
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 320
        if mode == "inline":
            w(page, "#gc-panel").scroll_into_view_if_needed()
        shot(page, f"10-narrow-{mode}-answer")
        # The source panel, with its long file path, fits too.
        answers(page).last.locator(".cite").first.click()
        box = w(page, ".src").bounding_box()
        assert box is not None
        assert 0 <= box["x"] <= box["x"] + box["width"] <= 320, f"the source panel overflows 320 px: {box}"
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 320


@browser_test
def test_stop_button_aborts_the_stream(page: Any, llm: Api) -> None:
    from playwright.sync_api import expect

    assert llm.fake is not None
    stopped_question = "How do I renew my passport online?"
    llm.fake.script(
        # Past the language check's 40 held characters before the stall, so the draft has text to show.
        StreamReply(
            deltas=["Citizens aged 16 and above ", "who hold a valid passport ", "can renew online [1]."],
            stall_after=2,
        ),
        StreamReply(deltas=["The renewal fee is 70 dollars [1]."]),
    )
    mount(page, llm.url)
    sent = query_requests(page)
    ask(page, stopped_question)
    draft = w(page, ".draft .body")
    expect(draft).to_have_text("Citizens aged 16 and above who hold a valid passport")
    stop = w(page, "button.stop")
    expect(stop).to_have_text("Stop")
    expect(w(page, "button.send")).to_be_hidden()
    stop.click()
    answer = answers(page).last
    expect(answer.locator(".note")).to_have_text("Stopped.")
    expect(answer.locator(".body")).to_have_text("Citizens aged 16 and above who hold a valid passport")
    expect(stop).to_be_hidden()
    expect(w(page, "button.send")).to_be_visible()
    # A stopped answer is not sent back as history; the next question is answered as usual.
    ask(page, EN_QUESTION)
    expect(answers(page).last.locator(".body")).to_have_text("The renewal fee is 70 dollars [1].")
    assert [r.post_data_json["history"] for r in sent] == [[], []]
    # The server gave up on the stopped answer when the browser hung up: had it read on, it would
    # have finished (and recorded) the answer after the model's stream was released.
    llm.fake.reset()
    time.sleep(1.0)
    questions = [q for (q,) in llm.audit("SELECT question FROM queries")]
    assert stopped_question not in questions
    assert EN_QUESTION in questions


@browser_test
def test_feedback_is_recorded_by_the_server_with_optional_comment(page: Any, server: Api) -> None:
    from playwright.sync_api import expect

    mount(page, server.url)
    ask(page, EN_QUESTION)
    answer = answers(page).last
    expect(answer.locator(".body")).to_contain_text(EN_FEE)
    qid = last_query_id(page)
    down = answer.get_by_role("button", name="Not helpful")
    down.click()
    expect(down).to_have_attribute("aria-pressed", "true")

    def feedback() -> list[tuple[Any, ...]]:
        return server.audit(
            "SELECT rating, comment, caller FROM feedback WHERE query_id = ? ORDER BY id", qid
        )

    wait_until(lambda: feedback() == [("down", "", "anonymous")], "the rating in the server's audit log")
    comment = answer.get_by_role("textbox", name="Add a comment (optional)")
    expect(comment).to_be_focused()
    comment.fill("The fee changed last month.")
    answer.get_by_role("button", name="Send comment").click()
    expect(answer).to_contain_text("Thank you for your feedback.")
    wait_until(
        lambda: (
            feedback() == [("down", "", "anonymous"), ("down", "The fee changed last month.", "anonymous")]
        ),
        "the comment in the server's audit log",
    )
    shot(page, "11-feedback")
    page.reload()  # the demo page's launcher widget shares the storage key: the rating is remembered
    page.evaluate("() => document.querySelector('govrag-chat').open()")
    expect(answers(page).last.get_by_role("button", name="Not helpful")).to_have_attribute(
        "aria-pressed", "true"
    )


@browser_test
def test_conversation_kept_per_tab_with_history_and_reset(page: Any, server: Api) -> None:
    from playwright.sync_api import expect

    mount(page, server.url)
    sent = query_requests(page)
    ask(page, EN_QUESTION)
    expect(answers(page)).to_have_count(1)
    first = answers(page).first.locator(".body").text_content() or ""
    assert EN_FEE in first
    ask(page, FOLLOW_UP)
    expect(answers(page)).to_have_count(2)
    # The follow-up is answered in the context of the first question (the fee table's processing time).
    expect(answers(page).last.locator(".body")).to_contain_text("10 working days")
    history = sent[-1].post_data_json["history"]
    assert [t["role"] for t in history] == ["user", "assistant"]
    assert history[0]["content"] == EN_QUESTION
    assert EN_FEE in history[1]["content"]
    page.reload()  # the demo page's own widget uses the same storage key: same api-base, no agency
    expect(answers(page)).to_have_count(2)
    expect(w(page, "[role=log] .msg.user").first).to_have_text("You: " + EN_QUESTION)
    # Changing an attribute redraws in the new language and keeps the conversation.
    page.evaluate("() => document.querySelector('govrag-chat').setAttribute('lang', 'vi')")
    expect(w(page, "button.send")).to_have_text("Gửi")
    expect(answers(page)).to_have_count(2)
    expect(w(page, "[role=log] .msg.user").first).to_have_text("Bạn: " + EN_QUESTION)
    page.evaluate("() => document.querySelector('govrag-chat').open()")
    w(page, "header").get_by_role("button", name="Cuộc trò chuyện mới").click()
    expect(w(page, "[role=log] .msg")).to_have_count(0)
    assert (
        page.evaluate("() => Object.keys(sessionStorage).filter((k) => k.startsWith('govrag-chat:'))") == []
    )
    page.reload()
    expect(w(page, "[role=log] .msg")).to_have_count(0)
    sent = query_requests(page)
    page.evaluate("() => document.querySelector('govrag-chat').open()")
    ask(page, EN_QUESTION)
    expect(answers(page)).to_have_count(1)
    assert sent[-1].post_data_json["history"] == []


INTRANET_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Agency intranet</title></head>
<body>
<h1>Staff intranet</h1>
<p>Questions about passports? Ask the assistant below.</p>
<script src="{api}/widget.js" defer></script>
<govrag-chat api-key="{key}" agency="{agency}" mode="inline" title="Ask Immigration"></govrag-chat>
</body>
</html>
"""


@browser_test
def test_embed_snippet_on_another_origin_with_a_query_key(page: Any, server: Api, intranet_port: int) -> None:
    from playwright.sync_api import expect

    html = INTRANET_PAGE.format(api=server.url, key=WIDGET_KEY, agency=IMMIGRATION)
    started = time.time()
    with serve_page(intranet_port, html) as intranet:
        assert urlparse(intranet).netloc != urlparse(server.url).netloc  # another origin: CORS applies
        sent = query_requests(page)
        page.goto(intranet)
        expect(w(page, "h2")).to_have_text("Ask Immigration")
        with page.expect_response(is_query) as got:
            ask(page, EN_QUESTION)
        answer = answers(page).last
        expect(answer.locator(".body")).to_contain_text(EN_FEE)
        # api-base defaulted to the folder widget.js came from: the API, not the intranet page.
        assert sent[-1].url == f"{server.url}/v1/query"
        assert sent[-1].headers["authorization"] == f"Bearer {WIDGET_KEY}"
        assert got.value.headers["access-control-allow-origin"] == intranet.rstrip("/")
        rows = server.audit(
            "SELECT query_id FROM queries WHERE caller = ? AND time > ? ORDER BY time", WIDGET_CALLER, started
        )
        assert len(rows) == 1, rows
        qid = rows[0][0]
        with page.expect_response(lambda r: urlparse(r.url).path == "/v1/feedback", timeout=60_000) as fb:
            answer.get_by_role("button", name="Helpful", exact=True).click()
        assert fb.value.status == 200, fb.value.text()
        assert fb.value.headers["access-control-allow-origin"] == intranet.rstrip("/")
        feedback = lambda: server.audit("SELECT rating, caller FROM feedback WHERE query_id = ?", qid)  # noqa: E731
        wait_until(lambda: bool(feedback()), "the feedback at the cross-origin API", timeout=60)
        assert set(feedback()) == {("up", WIDGET_CALLER)}, feedback()
        shot(page, "13-intranet-embed")
    # A site the server's CORS list does not name gets nothing back: the browser blocks the response.
    with serve_page(free_port(), html) as elsewhere:
        page.goto(elsewhere)
        ask(page, EN_QUESTION)
        expect(w(page, "[role=alert]")).to_contain_text("The service could not be reached.")
        expect(answers(page)).to_have_count(0)


@browser_test
def test_sse_parser_reassembles_frames_split_anywhere(page: Any, base_url: str) -> None:
    mount(page, base_url)
    bad = page.evaluate(r"""() => {
        const P = customElements.get('govrag-chat').sseParser;
        const stream = ': comment\r\nevent: sources\r\ndata: {"a":1}\r\n\r\n' +
            'event: delta\ndata: {"text":"ก ข"}\n\n' +
            'data: line1\ndata:line2\n\nretry: 10\nid: 7\nevent: done\rdata: {}\r\r';
        const want = JSON.stringify([['sources', '{"a":1}'], ['delta', '{"text":"ก ข"}'],
                                     ['message', 'line1\nline2'], ['done', '{}']]);
        const run = (parts) => {
            const got = [];
            const feed = P((e, d) => got.push([e, d]));
            parts.forEach((p) => feed(p));
            feed('', true);
            return JSON.stringify(got);
        };
        const bad = [];
        for (let i = 0; i <= stream.length; i++)
            for (let j = i; j <= stream.length; j += 3)
                if (run([stream.slice(0, i), stream.slice(i, j), stream.slice(j)]) !== want) bad.push([i, j]);
        if (run(stream.split('')) !== want) bad.push('char by char');
        return bad;
    }""")
    assert bad == []


@browser_test
def test_ui_language_from_attribute_page_then_browser(browser: Any, base_url: str) -> None:
    from playwright.sync_api import expect

    with tab(browser, locale="ms-MY") as page:
        mount(page, base_url)  # the demo page says lang="en"
        expect(w(page, "button.send")).to_have_text("Send")
        mount(page, base_url, html_lang="km")
        expect(w(page, "button.send")).to_have_text("ផ្ញើ")
        mount(page, base_url, html_lang="")  # no page language: the browser's (ms-MY)
        expect(w(page, "button.send")).to_have_text("Hantar")
        mount(page, base_url, html_lang="km", lang="fil")  # the attribute wins; fil is Filipino
        expect(w(page, "button.send")).to_have_text("Ipadala")
        strings = page.evaluate("() => customElements.get('govrag-chat').strings")
        assert sorted(strings) == sorted(LANGS)
        keys = set(strings["en"])
        for lang in LANGS:
            table = strings[lang]
            assert set(table) == keys, lang
            assert all(isinstance(v, str) and v.strip() for v in table.values()), lang
            assert (table["send"], table["log"]) == (SEND[lang], LOG[lang]), f"{lang} strings out of step"
            assert "{n}" in table["rateLimit"], lang
            assert "{n}" in table["server"], lang
            if lang != "en":
                assert table["welcome"] != strings["en"]["welcome"], f"{lang} is untranslated"
        for lang in ("my", "km", "lo", "ta", "zh"):
            mount(page, base_url, lang=lang)
            expect(w(page, "h2")).to_have_text(strings[lang]["title"])
            w(page, "#gc-panel").screenshot(path=str(OUT / f"12-lang-{lang}.png"))


@browser_test
@pytest.mark.parametrize("accent", ["#ffd700", "#003366", "#7fbfff", "red", "not a colour"])
def test_accent_colour_keeps_aa_contrast(page: Any, base_url: str, accent: str) -> None:
    mount(page, base_url, accent=accent)
    styles = page.evaluate("""() => {
        const r = document.querySelector('govrag-chat').shadowRoot;
        const s = getComputedStyle(r.querySelector('button.send'));
        const h = getComputedStyle(r.querySelector('header'));
        const root = r.querySelector('.root');
        return {fg: s.color, bg: s.backgroundColor, hfg: h.color, hbg: h.backgroundColor,
                ink: root.style.getPropertyValue('--ink'), a: root.style.getPropertyValue('--a')};
    }""")
    assert contrast(rgb(styles["fg"]), rgb(styles["bg"])) >= 4.5, styles
    assert contrast(rgb(styles["hfg"]), rgb(styles["hbg"])) >= 4.5, styles
    # Links, citation buttons and focus rings use the ink colour on white and on the answer bubble.
    assert contrast(rgb(styles["ink"]), (241, 243, 246)) >= 4.5, styles
    assert contrast(rgb(styles["ink"]), (255, 255, 255)) >= 4.5, styles
    if accent == "#ffd700":
        assert rgb(styles["fg"]) == (0, 0, 0)
    if accent == "#003366":
        assert rgb(styles["fg"]) == (255, 255, 255)
    if accent == "not a colour":
        assert styles["a"] == "#0b5cad"


@browser_test
def test_works_under_strict_content_security_policy(page: Any, base_url: str) -> None:
    from playwright.sync_api import expect

    origin = urlparse(base_url)
    csp = f"default-src 'self'; connect-src 'self' {origin.scheme}://{origin.netloc}; style-src 'self'"

    def with_csp(route: Any) -> None:
        resp = route.fetch()
        route.fulfill(response=resp, headers={**resp.headers, "content-security-policy": csp})

    page.route(base_url + "/", with_csp)
    mount(page, base_url, accent="#ffd700")
    ask(page, EN_QUESTION)
    answer = answers(page).last
    expect(answer.locator(".body")).to_contain_text(EN_FEE)
    expect(answer.locator(".cite").first).to_have_text("[1]")
    # The widget's styles still apply although inline <style> is forbidden.
    styles = page.evaluate("""() => {
        const r = document.querySelector('govrag-chat').shadowRoot;
        const s = getComputedStyle(r.querySelector('button.send'));
        return [s.backgroundColor, s.color];
    }""")
    assert styles == ["rgb(255, 215, 0)", "rgb(0, 0, 0)"]


# ------------------------------------------------------------------------------------- officer sign-in
SALARY_QUESTION = "What is the salary scale for grade MX9 officers?"
SALARY_TITLE = "Salary scales for grade MX9 officers"


@pytest.fixture(scope="module")
def officer_server(
    playwright_api: Any,
    sample_index: SampleIndex,
    tmp_path_factory: pytest.TempPathFactory,
    embedder: Any,
    sparse_encoder: Any,
) -> Iterator[tuple[Api, SigningKey]]:
    """The app (in this process, under uvicorn) accepting officers' tokens signed by a key of a JWKS served
    on loopback, and no anonymous callers; yields it and the provider's signing key."""
    from govrag.app import create_app

    key = rsa_key("intranet-sso")
    home = clone_home(sample_index.home, tmp_path_factory.mktemp("widget-oidc-home"))
    with JwksServer([key]) as idp:
        api = {"security": {"allow_anonymous": False}, "oidc": oidc_settings(idp.url)}
        with LiveServer(
            create_app(api_settings(home, api=api), embedder=embedder, sparse=sparse_encoder)
        ) as live:
            yield Api(live.url, home), key


@browser_test
def test_officer_token_from_the_provider_is_asked_for_each_request(
    page: Any, officer_server: tuple[Api, SigningKey]
) -> None:
    from playwright.sync_api import expect

    api, key = officer_server
    hr = mint(key, "officer-hr", agency="Public Service Division", groups=["hr"])
    finance = mint(key, "officer-fin", agency="Ministry of Finance", groups=["finance"])
    mount(page, api.url, token_provider="intranet.officerToken")
    # The page's sign-in library: a Promise of whichever token is current, counted.
    page.evaluate(
        """(t) => {
            window.__token = t;
            window.__calls = 0;
            const officerToken = () => { window.__calls++; return Promise.resolve(window.__token); };
            window.intranet = { officerToken };
        }""",
        hr,
    )
    sent = query_requests(page)
    ask(page, SALARY_QUESTION)
    first = answers(page).last
    expect(first.locator(".body")).to_contain_text("4,850 dollars per month")
    expect(first.locator(".slist button")).to_have_text([f"[1] {SALARY_TITLE}"])
    assert sent[-1].headers["authorization"] == f"Bearer {hr}"
    hr_qid = last_query_id(page)

    # The officer changes (or the token is renewed): the next request carries the provider's new token,
    # and the finance officer's groups do not reach the HR document.
    page.evaluate("(t) => { window.__token = t; }", finance)
    ask(page, SALARY_QUESTION)
    expect(answers(page)).to_have_count(2)
    assert sent[-1].headers["authorization"] == f"Bearer {finance}"
    assert page.evaluate("() => window.__calls") == 2
    expect(answers(page).last).not_to_contain_text("4,850")
    fin_qid = last_query_id(page)
    rows = dict(api.audit("SELECT query_id, caller FROM queries WHERE query_id IN (?, ?)", hr_qid, fin_qid))
    assert rows == {hr_qid: "oidc:officer-hr", fin_qid: "oidc:officer-fin"}
    cited = api.audit("SELECT cited_doc_ids FROM queries WHERE query_id = ?", fin_qid)[0][0]
    assert HR_DOC not in json.loads(cited)

    # A provider that fails (signed out) is said in words, with its reason; nothing is sent.
    page.evaluate("() => { window.intranet.officerToken = () => Promise.reject(new Error('signed out')); }")
    ask(page, SALARY_QUESTION)
    alert = w(page, "[role=alert]")
    expect(alert).to_contain_text("access key was refused")
    expect(alert).to_contain_text("token provider failed: signed out")
    assert len(sent) == 2
    shot(page, "20-officer-token")


@browser_test
def test_superseded_citation_shows_its_date_and_a_badge(page: Any, server: Api) -> None:
    """The sample corpus's fee circular No. 12/2025 was replaced by No. 12/2026: asked about it alone (the
    request is narrowed to it on the way), the server marks the citation superseded and the widget says so."""
    from playwright.sync_api import expect

    from govrag.sample_corpus import FEE_2025

    def only_the_old_circular(route: Any) -> None:
        body = json.loads(route.request.post_data or "{}")
        body["filters"]["doc_ids"] = [FEE_2025]
        route.continue_(post_data=json.dumps(body))

    page.route("**/v1/query", only_the_old_circular)
    mount(page, server.url)
    ask(page, "How much is the fee for replacing a lost identity card?")
    answer = answers(page).last
    expect(answer.locator(".body")).to_contain_text("100 dollars")
    expect(answer.locator(".body")).to_contain_text("As of 2025-01-01.")
    item = answer.locator(".slist li").first
    expect(item.locator("button")).to_contain_text("2025-01-01")
    expect(item.locator(".badge")).to_have_text("Superseded")
    item.locator("button").click()
    panel = w(page, ".src")
    expect(panel.locator(".badge")).to_have_text("Superseded")
    expect(panel.locator("dd").last).to_have_text("2025-01-01")
    shot(page, "12-superseded-citation")
