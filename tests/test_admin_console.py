"""The operator console (/admin, rag/static/admin.*) in Debian's Chromium via Playwright.

The app runs under uvicorn in this process over a copy of the sample index; before the browser looks,
three real questions are asked through the API (two to the immigration department, one of them refused,
and a Thai one) and the passport answer is rated down with a comment, and an ingest run with a failed file
is in the data dir's run log. Screenshots go to the test's tmp dir, and to $GOVRAG_SCREENSHOTS_DIR when
set. The browser tab fails the test on any page error, JavaScript dialog or request off this machine, and
the page is served with its strict Content-Security-Policy, so an inline script or style would break it.
Without Chromium these tests skip; GOVRAG_REQUIRE_BROWSER=1 makes them fail.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from admin_support import (
    AGENCY_ADMIN_KEY,
    COMMENT,
    IMMIGRATION,
    PASSPORT_Q,
    PASSPORT_TITLE,
    REFUSED_Q,
    ask_and_rate,
    console_keys,
)
from api_support import (
    FLOOD_MS,
    KEYS,
    PASSPORT_EN,
    PASSPORT_ZH,
    LiveServer,
    SampleIndex,
    api_settings,
    bearer,
    clone_home,
)
from test_widget_browser import browser, playwright_api, tab

from indices.ingest_runs import IngestRunLog, RunCounts, RunFailure

pytest_plugins = ["api_fixtures"]
pytestmark = pytest.mark.browser
__all__ = ["browser", "playwright_api"]  # fixtures shared with the widget's browser tests

BROKEN_FILE = "/srv/intranet/circulars/2026-03.pdf"
BROKEN_REASON = "truncated PDF: no xref/%%EOF at the end of the file (download or export cut short)"


@dataclass
class Console:
    """The running app, its data dir and the answers seeded before the tests."""

    url: str
    home: Path
    answers: dict[str, Any]


@pytest.fixture(scope="module")
def console(
    playwright_api: Any,
    sample_index: SampleIndex,
    tmp_path_factory: pytest.TempPathFactory,
    embedder: Any,
    sparse_encoder: Any,
) -> Iterator[Console]:
    from govrag.app import create_app

    home = clone_home(sample_index.home, tmp_path_factory.mktemp("console-browser-home"))
    runs = IngestRunLog.in_home(home)
    run = runs.start(["/srv/intranet/circulars"], agency=IMMIGRATION)
    runs.finish(run, RunCounts(added=4, unchanged=2, failed=1, chunks=9),
                [RunFailure("circulars/2026-03.pdf", BROKEN_FILE, BROKEN_REASON, 1.0)])  # fmt: skip
    settings = api_settings(home, api={"security": {"api_keys": console_keys(), "allow_anonymous": False}})
    with LiveServer(create_app(settings, embedder=embedder, sparse=sparse_encoder)) as live:
        with httpx.Client(base_url=live.url, timeout=120) as client:
            answers = ask_and_rate(client)
        yield Console(live.url, home, answers)


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    with tab(browser) as pg:
        yield pg


def shot(pg: Any, tmp_path: Path, name: str) -> None:
    """A screenshot in the test's tmp dir, and in $GOVRAG_SCREENSHOTS_DIR when set (CI artifacts)."""
    pg.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)
    artifacts = os.environ.get("GOVRAG_SCREENSHOTS_DIR")
    if artifacts:
        Path(artifacts).mkdir(parents=True, exist_ok=True)
        pg.screenshot(path=str(Path(artifacts) / f"console-{name}.png"), full_page=True)


def sign_in(pg: Any, console: Console, key: str = KEYS["admin"]) -> None:
    pg.goto(console.url + "/admin")
    pg.fill("#key", key)
    pg.keyboard.press("Enter")


def expect() -> Any:
    """Playwright's `expect` (imported once the `playwright_api` fixture has found Playwright)."""
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect


def test_a_non_admin_key_is_refused_with_a_visible_message(
    page: Any, console: Console, tmp_path: Path
) -> None:
    ex = expect()
    sign_in(page, console, KEYS["public"])
    ex(page.locator("#login-error")).to_contain_text("This key is not an admin key")
    ex(page.locator("#login-error")).to_contain_text("lacks the 'admin' scope")
    ex(page.locator("[role=tablist]")).to_have_count(0)
    assert page.evaluate("() => sessionStorage.getItem('govrag-admin:key')") is None
    shot(page, tmp_path, "01-refused")
    page.fill("#key", "grk_nope")
    page.keyboard.press("Enter")
    ex(page.locator("#login-error")).to_contain_text("This key was refused. invalid API key")


def test_documents_are_listed_filtered_expanded_and_deleted(
    page: Any, console: Console, tmp_path: Path
) -> None:
    ex = expect()
    sign_in(page, console)
    ex(page.locator("#who")).to_have_text("Signed in as ops · all agencies")
    rows = page.locator("#doc-results tr[data-doc]")
    ex(page.locator("#status")).to_contain_text("documents")
    ex(rows.filter(has_text=PASSPORT_TITLE)).to_have_count(1)
    assert page.evaluate("() => sessionStorage.getItem('govrag-admin:key')") == KEYS["admin"]
    shot(page, tmp_path, "02-documents")

    page.select_option("#doc-agency", IMMIGRATION)
    ex(page.locator("#status")).to_have_text("2 documents")
    assert sorted(rows.evaluate_all("rs => rs.map(r => r.dataset.doc)")) == [PASSPORT_EN, PASSPORT_ZH]
    page.select_option("#doc-agency", "")
    page.fill("#doc-q", "bantuan-banjir")
    page.keyboard.press("Enter")
    ex(rows).to_have_count(1)
    row = rows.first
    assert row.get_attribute("data-doc") == FLOOD_MS
    ex(row).to_contain_text("Indexed")

    show = row.get_by_role("button", name="Show chunks")
    show.click()
    ex(row.get_by_role("button", name="Hide chunks")).to_have_attribute("aria-expanded", "true")
    ex(page.locator(".chunks li").first).to_contain_text("banjir")
    shot(page, tmp_path, "03-chunks")

    row.get_by_role("button", name="Delete").click()
    dialog = page.locator("dialog")
    ex(dialog).to_contain_text("and all its chunks? This cannot be undone.")
    ex(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    shot(page, tmp_path, "04-confirm-delete")
    dialog.get_by_role("button", name="Delete").click()
    ex(page.locator("#status")).to_contain_text("Deleted")
    ex(page.locator(f"#doc-results tr[data-doc='{FLOOD_MS}']")).to_have_count(0)
    r = httpx.get(f"{console.url}/v1/documents/{FLOOD_MS}", headers=bearer("admin"), timeout=30)
    assert r.status_code == 404  # gone from the index, not only from the page


def test_an_agency_admin_sees_only_its_agency(page: Any, console: Console, tmp_path: Path) -> None:
    ex = expect()
    sign_in(page, console, AGENCY_ADMIN_KEY)
    ex(page.locator("#who")).to_have_text(f"Signed in as imm-admin · {IMMIGRATION}")
    ex(page.locator("#status")).to_have_text("2 documents")
    rows = page.locator("#doc-results tr[data-doc]")
    assert sorted(rows.evaluate_all("rs => rs.map(r => r.dataset.doc)")) == [PASSPORT_EN, PASSPORT_ZH]
    assert page.locator("#doc-agency option").all_inner_texts() == ["All", IMMIGRATION]
    page.get_by_role("tab", name="Analytics").click()
    ex(page.locator("#m-questions .v")).to_have_text("2")  # the Thai question was put to nobody in particular
    shot(page, tmp_path, "05-agency-admin")


def test_analytics_show_the_questions_refusals_and_the_content_gap(
    page: Any, console: Console, tmp_path: Path
) -> None:
    ex = expect()
    sign_in(page, console)
    page.get_by_role("tab", name="Analytics").click()
    ex(page.locator("#m-questions .v")).to_have_text("3")
    ex(page.locator("#m-refusal .v")).to_have_text("33.3%")
    ex(page.locator("#m-unanswered .v")).to_have_text("1")
    ex(page.locator("#m-latency .v")).to_have_text(re.compile(r"^[\d,]+ ms$"))
    ex(page.locator("#m-feedback .v")).to_have_text("0 helpful · 1 not helpful")
    ex(page.locator("#unanswered tbody tr")).to_have_count(1)
    ex(page.locator("#unanswered tbody tr")).to_contain_text(REFUSED_Q)
    # the charts are drawn, and each has its table for screen readers
    ex(page.locator("#chart-per-day-cap + svg rect.bar:not(.ref)")).to_have_count(1)
    ex(page.locator("#chart-per-day-cap + svg rect.bar.ref")).to_have_count(1)
    per_day = page.locator("#tbl-per-day tbody tr").all_inner_texts()
    assert [t.split("\t")[1:] for t in per_day if not t.endswith("0\t0")] == [["3", "1"]]
    assert page.locator("#tbl-refusal tbody tr").all_inner_texts()[0].endswith("33.3%")
    languages = dict(t.split("\t") for t in page.locator("#tbl-languages tbody tr").all_inner_texts())
    assert languages == {"English (en)": "2", "ไทย (th)": "1"}
    ex(page.locator("#status")).to_have_text("Questions: 3, Refusal rate: 33.3%")
    shot(page, tmp_path, "06-analytics")


def test_feedback_shows_the_question_answer_and_citation(page: Any, console: Console, tmp_path: Path) -> None:
    ex = expect()
    sign_in(page, console)
    page.get_by_role("tab", name="Feedback").click()
    card = page.locator("article.fb")
    ex(card).to_have_count(1)
    ex(card.locator(".msg.user")).to_have_text(PASSPORT_Q)
    ex(card.locator(".msg.bot")).to_have_text(console.answers[PASSPORT_Q]["answer"])
    first = console.answers[PASSPORT_Q]["citations"][0]
    assert first["title"] == PASSPORT_TITLE
    ex(card).to_contain_text(f"[{first['n']}] {PASSPORT_TITLE}")
    ex(card.locator("blockquote").first).to_have_text(first["quote"])
    ex(card).to_contain_text(f"Comment: {COMMENT}")
    ex(card.locator(".badge")).to_have_text("Not helpful")
    shot(page, tmp_path, "07-feedback")


def test_ingestion_runs_show_their_failures(page: Any, console: Console, tmp_path: Path) -> None:
    ex = expect()
    sign_in(page, console)
    page.get_by_role("tab", name="Ingestion runs").click()
    run = page.locator("article.run")
    ex(run).to_have_count(1)
    ex(run.locator("h3")).to_have_text("Run 1 Completed with failures")
    ex(run).to_contain_text("Added 4 · Updated 0 · Unchanged 2 · Failed 1 · Removed 0")
    ex(run.locator("tbody tr")).to_have_text(f"{BROKEN_FILE}{BROKEN_REASON}")
    shot(page, tmp_path, "08-runs")


def test_tabs_work_from_the_keyboard(page: Any, console: Console) -> None:
    ex = expect()
    sign_in(page, console)
    ex(page.locator("#tab-documents")).to_be_focused()  # signing in lands on the selected tab
    page.keyboard.press("ArrowRight")
    ex(page.locator("#tab-runs")).to_be_focused()
    ex(page.locator("#tab-runs")).to_have_attribute("aria-selected", "true")
    ex(page.locator("#panel-runs")).to_be_visible()
    page.keyboard.press("End")
    ex(page.locator("#tab-analytics")).to_be_focused()
    page.keyboard.press("ArrowRight")  # wraps around
    ex(page.locator("#tab-documents")).to_be_focused()
    page.keyboard.press("ArrowLeft")
    ex(page.locator("#tab-analytics")).to_have_attribute("aria-selected", "true")
    assert page.locator("[role=tab][tabindex='0']").count() == 1  # one tab stop for the whole list
    page.keyboard.press("Tab")
    ex(page.locator("#panel-analytics")).to_be_focused()
    outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"  # focus is visible
    ex(page.locator("#status")).to_have_attribute("aria-live", "polite")


def test_the_console_switches_to_thai(page: Any, console: Console, tmp_path: Path) -> None:
    ex = expect()
    sign_in(page, console)
    ex(page.locator("#status")).to_contain_text("documents")
    page.select_option("#lang", "th")
    ex(page.locator("#title")).to_have_text("คอนโซลผู้ดูแลระบบ")
    assert page.get_by_role("tab").all_inner_texts() == ["เอกสาร", "รอบการนำเข้า", "ความคิดเห็น", "การวิเคราะห์"]
    assert page.evaluate("() => document.documentElement.lang") == "th"
    page.get_by_role("tab", name="การวิเคราะห์").click()
    ex(page.locator("#m-refusal .k")).to_have_text("อัตราการปฏิเสธ")
    ex(page.locator("#unanswered")).to_contain_text(REFUSED_Q)
    shot(page, tmp_path, "09-thai")
    page.reload()  # the choice is kept for the tab, the key too
    ex(page.locator("#title")).to_have_text("คอนโซลผู้ดูแลระบบ")
    ex(page.get_by_role("tab", name="เอกสาร")).to_be_visible()


def test_a_phone_sized_screen_scrolls_only_vertically(browser: Any, console: Console, tmp_path: Path) -> None:
    ex = expect()
    with tab(browser, viewport={"width": 390, "height": 844}) as pg:
        sign_in(pg, console)
        ex(pg.locator("#status")).to_contain_text("documents")
        for name in ("Documents", "Ingestion runs", "Feedback", "Analytics"):
            pg.get_by_role("tab", name=name).click()
            ex(pg.locator("#status")).not_to_have_text("Loading…")
            wide = pg.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
            assert wide <= 0, f"{name}: the page is {wide} px wider than the screen"
        shot(pg, tmp_path, "10-phone-analytics")
