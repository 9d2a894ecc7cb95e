"""Browser tests of the `<govrag-chat>` widget (rag/static/widget.js) in Debian's Chromium via Playwright.

They load the demo page and the widget from a server and talk to its API over loopback: by default the
stand-in of tests/widget_server.py (canned answers, records what it receives); override the `base_url`
fixture to point the same tests at a real `govrag serve`. Error states (500, 429, broken streams) and the
injection payload are served by Playwright's request interception, so they do not depend on the server.
Screenshots of the main states go to test-output/widget/.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from widget_server import (
    EN_ANSWER,
    EN_UNSUPPORTED,
    REFUSE_WORD,
    SLOW_WORD,
    STATIC_DIR,
    TH_ANSWER,
    StandInServer,
)

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "test-output" / "widget"
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
WIDGET_JS = STATIC_DIR / "widget.js"
EN_QUESTION = "How much does it cost to renew a passport?"
TH_QUESTION = "ต่ออายุหนังสือเดินทางใช้เวลากี่วัน"
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


# ---------------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def stand_in() -> Iterator[StandInServer]:
    """The stand-in API serving the widget, the demo page and canned answers."""
    with StandInServer() as server:
        yield server


@pytest.fixture(scope="module")
def base_url(stand_in: StandInServer) -> str:
    """Where the demo page, /widget.js and /v1/* are served. Override to test a real `govrag serve`."""
    return stand_in.url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium driven by Playwright (no Playwright-downloaded browser)."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} missing: apt-get install chromium (or set GOVRAG_CHROMIUM)"
        if os.environ.get("GOVRAG_REQUIRE_BROWSER") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    sync_api.expect.set_options(timeout=15_000)
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@contextmanager
def tab(browser: Any, **context: Any) -> Iterator[Any]:
    """A fresh browser tab (own sessionStorage) that fails the test on page errors or off-machine requests."""
    ctx = browser.new_context(**{"viewport": {"width": 1024, "height": 768}, "locale": "en-US", **context})
    external: list[str] = []
    errors: list[str] = []

    def guard(route: Any) -> None:  # the widget must make no request off this machine (fonts, CDNs)
        host = urlparse(route.request.url).hostname or ""
        if host in LOOPBACK:
            route.continue_()
        else:
            external.append(route.request.url)
            route.abort()

    ctx.route("**/*", guard)
    pg = ctx.new_page()
    pg.on("pageerror", lambda e: errors.append(str(e)))
    try:
        yield pg
    finally:
        ctx.close()
    if external or errors:
        pytest.fail(f"external requests: {external}; page errors: {errors}")


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh 1024x768 tab; see `tab`."""
    with tab(browser) as pg:
        yield pg


# ----------------------------------------------------------------------------------------------- helpers
def mount(pg: Any, base_url: str, html_lang: str | None = None, **attrs: str) -> None:
    """Open the demo page and replace its widget by one with these attributes (api_key -> api-key)."""
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


def shot(pg: Any, name: str) -> None:
    """Save a screenshot of the page under test-output/widget/."""
    pg.screenshot(path=str(OUT / f"{name}.png"))


def wait_until(check: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Poll a condition on the server side (a request recorded, a socket closed)."""
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


# ------------------------------------------------------------------------------------------ browser tests
@browser_test
def test_english_answer_streams_then_verified_answer_replaces_it(
    page: Any, base_url: str, stand_in: StandInServer
) -> None:
    mount(page, base_url, agency="immigration", api_key="k-123")
    assert page.evaluate("() => customElements.get('govrag-chat').version") == re.search(
        r"const VERSION = '([^']+)'", WIDGET_JS.read_text()
    ).group(1)
    page.evaluate("""() => {
        const d = document.querySelector('govrag-chat').shadowRoot.querySelector('.draft .body');
        window.__snaps = [];
        new MutationObserver(() => window.__snaps.push(d.textContent))
            .observe(d, {childList: true, characterData: true, subtree: true});
    }""")
    ask(page, EN_QUESTION)
    answer = answers(page).last
    from playwright.sync_api import expect

    expect(answer).to_contain_text("costs RM200")
    snaps: list[str] = page.evaluate("() => window.__snaps")
    streamed = [s for s in snaps if s.startswith("An adult passport")]
    assert streamed, f"no streamed text was shown before the answer: {snaps}"
    assert any(len(s) < len(streamed[-1]) for s in streamed), "text should grow as deltas arrive"
    assert any(EN_UNSUPPORTED in s for s in streamed)
    # The verified answer replaced the streamed draft: the unsupported sentence is gone.
    expect(answer).not_to_contain_text(EN_UNSUPPORTED)
    expect(w(page, ".draft")).to_be_hidden()
    expect(answer.locator(".cite")).to_have_text(["[1]", "[2]"])
    expect(answer.locator(".slist button")).to_have_text(
        ["[1] Passport Renewal Guide 2024 · Page 3", "[2] Immigration Department FAQ"]
    )
    # Announced once: the log is a polite live region and the draft is not inside it.
    log = w(page, "[role=log]")
    expect(log).to_have_attribute("aria-live", "polite")
    assert page.evaluate("""() => !document.querySelector('govrag-chat').shadowRoot
        .querySelector('[role=log]').contains(document.querySelector('govrag-chat').shadowRoot.querySelector('.draft'))""")
    expect(answer).to_be_focused()
    rec = stand_in.log.queries[-1]
    assert rec.body == {
        "question": EN_QUESTION,
        "history": [],
        "filters": {"agency": "immigration"},
        "stream": True,
    }
    assert rec.authorization == "Bearer k-123"
    shot(page, "01-english-answer")


@browser_test
def test_thai_question_gets_thai_ui_answer_and_citation(page: Any, base_url: str) -> None:
    from playwright.sync_api import expect

    mount(page, base_url, lang="th")
    expect(w(page, "button.send")).to_have_text("ส่ง")
    expect(w(page, "textarea#gc-q")).to_have_attribute("placeholder", "พิมพ์คำถามของคุณ…")
    expect(w(page, "h2")).to_have_text("ผู้ช่วยค้นเอกสาร")
    ask(page, TH_QUESTION)
    answer = answers(page).last
    expect(answer.locator(".body")).to_have_attribute("lang", "th")
    expect(answer.locator(".body")).to_have_text(TH_ANSWER)
    expect(answer.locator(".sources h3")).to_have_text("แหล่งที่มา")
    expect(answer.locator(".cite")).to_have_count(2)
    answer.locator(".cite").nth(1).click()
    panel = w(page, ".src")
    expect(panel).to_be_visible()
    expect(panel.locator("h3")).to_have_text("แหล่งที่มา [2]")
    expect(panel).to_contain_text("ประกาศกรมการกงสุล เรื่องเอกสารประกอบคำขอ")
    expect(panel.locator("dd").last).to_contain_text("ไทย")
    expect(panel.locator("blockquote")).to_have_attribute("lang", "th")
    shot(page, "02-thai-answer-source")


@browser_test
def test_citation_opens_source_panel_with_quote_link_page_language(page: Any, base_url: str) -> None:
    from playwright.sync_api import expect

    mount(page, base_url)
    ask(page, EN_QUESTION)
    answer = answers(page).last
    cite = answer.locator(".cite").first
    expect(cite).to_have_attribute("aria-label", "[1] Passport Renewal Guide 2024")
    cite.click()
    panel = w(page, ".src")
    expect(panel).to_be_visible()
    expect(panel).to_have_attribute("role", "dialog")
    expect(panel.locator("h3")).to_be_focused()
    expect(panel.locator(".stitle")).to_have_text("Passport Renewal Guide 2024")
    expect(panel.locator("dd")).to_have_text(["3", "Fees \u203a Renewal fees", "English (en)"])
    expect(panel.locator("blockquote")).to_have_text("The renewal fee for an adult passport is RM200.")
    link = panel.locator("a")
    expect(link).to_have_attribute("href", "https://docs.example.gov/passport-guide-2024.pdf#page=3")
    expect(link).to_have_attribute("rel", "noopener noreferrer")
    expect(link).to_have_text("Open the source document")
    shot(page, "03-source-panel")
    panel.get_by_role("button", name="Close").click()
    expect(panel).to_be_hidden()
    expect(cite).to_be_focused()
    answer.locator(".slist button").nth(1).click()
    expect(panel.locator("a")).to_have_attribute("href", "https://docs.example.gov/immigration-faq.html")


@browser_test
def test_keyboard_only(page: Any, base_url: str, stand_in: StandInServer) -> None:
    from playwright.sync_api import expect

    mount(page, base_url, mode="launcher")
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
    sent = len(stand_in.log.queries)
    page.keyboard.type("What is the fee?")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("And how long does it take?")
    expect(box).to_have_value("What is the fee?\nAnd how long does it take?")
    assert len(stand_in.log.queries) == sent, "Shift+Enter must not send"
    page.keyboard.press("Enter")
    answer = answers(page).last
    expect(answer).to_contain_text("costs RM200")
    expect(answer).to_be_focused()
    assert stand_in.log.queries[-1].body["question"] == "What is the fee?\nAnd how long does it take?"
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
    # On through the second citation and the source list to the feedback buttons.
    up = answer.get_by_role("button", name="Helpful", exact=True)
    for _ in range(6):
        page.keyboard.press("Tab")
        if (
            page.evaluate("() => document.querySelector('govrag-chat').shadowRoot.activeElement?.title")
            == "Helpful"
        ):
            break
    expect(up).to_be_focused()
    page.keyboard.press("Enter")
    expect(up).to_have_attribute("aria-pressed", "true")
    wait_until(lambda: any(f.get("rating") == "up" for f in stand_in.log.feedback), "keyboard feedback")
    page.keyboard.press("Escape")
    expect(w(page, "#gc-panel")).to_be_hidden()
    expect(fab).to_be_focused()
    expect(fab).to_have_attribute("aria-expanded", "false")


@browser_test
def test_no_answer_in_documents_state(page: Any, base_url: str) -> None:
    from playwright.sync_api import expect

    mount(page, base_url)
    ask(page, f"What will the {REFUSE_WORD} be tomorrow?")
    answer = answers(page).last
    refused = answer.locator(".refused")
    expect(refused).to_be_visible()
    expect(refused.locator("strong")).to_have_text("No answer in the documents")
    expect(refused).to_contain_text("Try rephrasing, or contact the agency.")
    expect(answer.locator(".cite")).to_have_count(0)
    expect(answer.locator(".sources")).to_have_count(0)
    expect(answer.get_by_role("button", name="Not helpful")).to_be_visible()
    shot(page, "05-no-answer")


@browser_test
@pytest.mark.parametrize(
    ("case", "fulfil", "expected"),
    [
        (
            "500",
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
        (
            "422",
            {
                "status": 422,
                "content_type": "application/json",
                "body": json.dumps({"detail": "question too long"}),
            },
            ["Something went wrong. Please try again.", "question too long"],
        ),
        (
            "401",
            {"status": 401, "content_type": "application/json", "body": json.dumps({"detail": "bad key"})},
            ["This website's access key was refused."],
        ),
        (
            "sse-error",
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
        (
            "cut-off",
            {"status": 200, "content_type": "text/event-stream", "body": sse(("delta", {"text": "Partial"}))},
            ["The answer was interrupted. Please try again."],
        ),
        ("network", None, ["The service could not be reached."]),
    ],
)
def test_errors_are_shown_in_words(
    page: Any, base_url: str, case: str, fulfil: dict[str, Any] | None, expected: list[str]
) -> None:
    from playwright.sync_api import expect

    mount(page, base_url)
    if fulfil is None:
        page.route("**/v1/query", lambda route: route.abort("connectionrefused"))
    else:
        page.route("**/v1/query", lambda route: route.fulfill(**fulfil))
    ask(page, EN_QUESTION)
    alert = w(page, "[role=alert]")
    for text in expected:
        expect(alert).to_contain_text(text)
    # Nothing half-done stays behind; the question is back in the box to try again.
    expect(w(page, "textarea#gc-q")).to_have_value(EN_QUESTION)
    expect(w(page, "[role=log] .msg")).to_have_count(0)
    expect(w(page, ".draft")).to_be_hidden()
    expect(w(page, "button.send")).to_be_visible()
    if case == "500":
        shot(page, "06-error-500")


@browser_test
@pytest.mark.parametrize(
    ("lang", "expected", "again"),
    [
        ("en", "Too many questions. Try again in 17 s.", r"^Too many questions\. Try again in 1[0-7] s\.$"),
        ("th", "มีคำถามมากเกินไป โปรดลองอีกครั้งใน 17 วินาที", r"^มีคำถามมากเกินไป โปรดลองอีกครั้งใน 1[0-7] วินาที$"),
    ],
)
def test_rate_limit_429_says_when_to_retry(
    page: Any, base_url: str, lang: str, expected: str, again: str
) -> None:
    from playwright.sync_api import expect

    mount(page, base_url, lang=lang)
    calls: list[str] = []

    def limited(route: Any) -> None:
        calls.append(route.request.url)
        route.fulfill(
            status=429,
            headers={"Retry-After": "17"},
            content_type="application/json",
            body=json.dumps({"error": {"code": "rate_limited", "message": "slow down"}}),
        )

    page.route("**/v1/query", limited)
    ask(page, EN_QUESTION)
    alert = w(page, "[role=alert]")
    expect(alert).to_have_text(expected)
    # Asking again before the wait is over is answered locally, without another request.
    w(page, "textarea#gc-q").press("Enter")
    expect(alert).to_have_text(re.compile(again))
    assert len(calls) == 1
    if lang == "en":
        shot(page, "07-rate-limited")


@browser_test
def test_document_and_answer_text_is_never_html(page: Any, base_url: str) -> None:
    from playwright.sync_api import expect

    img = '<img src=x onerror="window.__pwned=1">'
    script = "<script>window.__pwned=2</script>"
    citations = [
        {
            "n": 1,
            "doc_id": "evil",
            "title": f"{script} Guide",
            "source": "javascript:window.__pwned=3",
            "page": 1,
            "section": [img],
            "quote": f"Quote {img}",
            "lang": "en",
            "score": 0.5,
        },
        {
            "n": 2,
            "doc_id": "ok",
            "title": "Safe <b>bold</b>",
            "source": "https://docs.example.gov/a.pdf",
            "page": 2,
            "section": ["Part 2"],
            "quote": "fine",
            "lang": "en",
            "score": 0.4,
        },
        {
            "n": 3,
            "doc_id": "data",
            "title": "Data URL",
            "source": " JAVASCRIPT:alert(1)",
            "page": None,
            "section": [],
            "quote": "x",
            "lang": "en",
            "score": 0.3,
        },
    ]
    body = sse(
        ("sources", {"query_id": "q-evil", "sources": citations}),
        ("delta", {"text": f"Streaming {img} {script}"}),
        (
            "done",
            {
                "query_id": "q-evil",
                "answer": f"Answer with {img} and {script} [1][2] [3]",
                "language": "en",
                "citations": citations,
                "grounded": True,
                "refused": False,
                "generator": "extractive",
                "timings": {},
                "warnings": [],
            },
        ),
    )
    mount(page, base_url)
    page.route(
        "**/v1/query", lambda route: route.fulfill(status=200, content_type="text/event-stream", body=body)
    )
    ask(page, "<img src=y onerror=window.__pwned=4>")
    answer = answers(page).last
    expect(answer.locator(".body")).to_contain_text(f"Answer with {img} and {script}")
    expect(w(page, "[role=log] .msg.user")).to_contain_text("<img src=y onerror=window.__pwned=4>")
    expect(answer.locator(".slist button").first).to_contain_text(f"[1] {script} Guide")
    answer.locator(".cite").first.click()
    panel = w(page, ".src")
    expect(panel.locator(".stitle")).to_have_text(f"{script} Guide")
    expect(panel.locator("blockquote")).to_have_text(f"Quote {img}")
    expect(panel.locator("a")).to_have_count(0)  # javascript: is never a link
    expect(panel.locator(".path")).to_have_text("javascript:window.__pwned=3")
    shot(page, "08-injection-as-text")
    answer.locator(".cite").nth(2).click()
    expect(panel.locator("a")).to_have_count(0)
    answer.locator(".cite").nth(1).click()
    expect(panel.locator("a")).to_have_attribute("href", "https://docs.example.gov/a.pdf#page=2")
    counts = page.evaluate("""() => {
        const r = document.querySelector('govrag-chat').shadowRoot;
        const inShadow = r.querySelectorAll('img, script, b, iframe, object').length;
        return [inShadow, document.querySelectorAll('img').length];
    }""")
    assert counts == [0, 0]
    assert page.evaluate("() => window.__pwned") is None


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
        expect(answers(page).last).to_contain_text("costs RM200")
        for css in ("#gc-panel", "button.send", "textarea#gc-q", "[role=log] .msg.bot"):
            box = w(page, css).last.bounding_box()
            assert box is not None, css
            assert 0 <= box["x"] <= box["x"] + box["width"] <= 320, f"{css} overflows 320 px: {box}"
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 320
        if mode == "inline":
            w(page, "#gc-panel").scroll_into_view_if_needed()
        shot(page, f"10-narrow-{mode}-answer")


@browser_test
def test_stop_button_aborts_the_stream(page: Any, base_url: str, stand_in: StandInServer) -> None:
    from playwright.sync_api import expect

    mount(page, base_url)
    ask(page, f"Explain {SLOW_WORD} about passports")
    draft = w(page, ".draft .body")
    expect(draft).to_contain_text("word2")
    stop = w(page, "button.stop")
    expect(stop).to_have_text("Stop")
    expect(w(page, "button.send")).to_be_hidden()
    qid = stand_in.log.queries[-1].query_id
    stop.click()
    answer = answers(page).last
    expect(answer.locator(".note")).to_have_text("Stopped.")
    expect(answer.locator(".body")).to_contain_text("word0 word1 word2")
    expect(answer).not_to_contain_text("word59")
    expect(stop).to_be_hidden()
    expect(w(page, "button.send")).to_be_visible()
    wait_until(lambda: qid in stand_in.log.aborted, "the server to see the connection closed")
    # A stopped answer is not sent back as history.
    ask(page, EN_QUESTION)
    expect(answers(page).last).to_contain_text("costs RM200")
    assert stand_in.log.queries[-1].body["history"] == []


@browser_test
def test_feedback_is_posted_with_optional_comment(page: Any, base_url: str, stand_in: StandInServer) -> None:
    from playwright.sync_api import expect

    mount(page, base_url)
    ask(page, EN_QUESTION)
    answer = answers(page).last
    expect(answer).to_contain_text("costs RM200")
    qid = stand_in.log.queries[-1].query_id
    down = answer.get_by_role("button", name="Not helpful")
    down.click()
    expect(down).to_have_attribute("aria-pressed", "true")
    wait_until(lambda: {"query_id": qid, "rating": "down"} in stand_in.log.feedback, "the rating")
    comment = answer.get_by_role("textbox", name="Add a comment (optional)")
    expect(comment).to_be_focused()
    comment.fill("The fee changed last month.")
    answer.get_by_role("button", name="Send comment").click()
    expect(answer).to_contain_text("Thank you for your feedback.")
    wait_until(
        lambda: (
            {"query_id": qid, "rating": "down", "comment": "The fee changed last month."}
            in stand_in.log.feedback
        ),
        "the comment",
    )
    shot(page, "11-feedback")
    page.reload()  # the demo page's launcher widget shares the storage key: the rating is remembered
    page.evaluate("() => document.querySelector('govrag-chat').open()")
    expect(answers(page).last.get_by_role("button", name="Not helpful")).to_have_attribute(
        "aria-pressed", "true"
    )


@browser_test
def test_conversation_kept_per_tab_with_history_and_reset(
    page: Any, base_url: str, stand_in: StandInServer
) -> None:
    from playwright.sync_api import expect

    mount(page, base_url)
    ask(page, EN_QUESTION)
    expect(answers(page)).to_have_count(1)
    ask(page, "And how long does it take?")
    expect(answers(page)).to_have_count(2)
    assert stand_in.log.queries[-1].body["history"] == [
        {"role": "user", "content": EN_QUESTION},
        {"role": "assistant", "content": EN_ANSWER},
    ]
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
    page.evaluate("() => document.querySelector('govrag-chat').open()")
    ask(page, EN_QUESTION)
    expect(answers(page)).to_have_count(1)
    assert stand_in.log.queries[-1].body["history"] == []


@browser_test
def test_cross_origin_api_base_with_key(page: Any, base_url: str) -> None:
    from playwright.sync_api import expect

    with StandInServer() as api:
        mount(page, base_url, api_base=api.url + "/", api_key="public-query-key")
        ask(page, EN_QUESTION)
        answer = answers(page).last
        expect(answer).to_contain_text("costs RM200")
        assert api.log.queries[-1].authorization == "Bearer public-query-key"
        answer.get_by_role("button", name="Helpful", exact=True).click()
        wait_until(lambda: len(api.log.feedback) == 1, "feedback at the cross-origin API")


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
    expect(answers(page).last.locator(".cite")).to_have_count(2)
    # The widget's styles still apply although inline <style> is forbidden.
    styles = page.evaluate("""() => {
        const r = document.querySelector('govrag-chat').shadowRoot;
        const s = getComputedStyle(r.querySelector('button.send'));
        return [s.backgroundColor, s.color];
    }""")
    assert styles == ["rgb(255, 215, 0)", "rgb(0, 0, 0)"]
