"""Look-alike forms of personal data (full-width, spaced, dashed, invisible characters) are redacted in
every sink: the audit database's questions, feedback comments, and log lines."""

from __future__ import annotations

import io
import json
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.api.audit import SqliteAuditLog
from rag.api.logs import configure_logging
from rag.api.redaction import redact

#: (text as a citizen may type it, the personal data in it as written, the token it must become)
FORMS = [
    ("ＮＲＩＣ Ｓ１２３４５６７Ｄ", "Ｓ１２３４５６７Ｄ", "[NRIC]"),
    ("mail siti＠example.com please", "siti＠example.com", "[EMAIL]"),
    ("my IC is S 1234567 D", "S 1234567 D", "[NRIC]"),
    ("my IC is S-1234567-D", "S-1234567-D", "[NRIC]"),
    ("call 6012 345 6789 after 5pm", "6012 345 6789", "[PHONE]"),
    ("IC S\u200b1234567\u200dD here", "1234567", "[NRIC]"),
    ("hp 6012\u2013345\u20136789", "345\u20136789", "[PHONE]"),
    ("我的电话是６０１２ ３４５ ６７８９，谢谢", "６０１２ ３４５ ６７８９", "[PHONE]"),
]

#: Ordinary text that looks a little like the forms above and must come back unchanged.
ORDINARY = [
    "护照续签费用为７０新元，请在（３０）天内办理。",
    "Form S 1234 D is for sole proprietors.",
    "Grade S 1234567 Dollars is not a number we use.",
    "Section 12 345 of the Act applies from 2026-11-26.",
    "Fees: RM１,０００ or S$ 70; office hours 8.30-5.30.",
    "Use the e-mail form (no address needed) at counter Ｂ.",
    "สำนักงานเปิด ๘.๓๐ น. ถึง ๑๖.๓๐ น.",
]


@pytest.mark.parametrize(("text", "secret", "token"), FORMS)
def test_look_alike_forms_are_redacted(text: str, secret: str, token: str) -> None:
    out = redact(text)
    assert token in out
    assert secret not in out
    assert redact(out) == out


def test_text_around_a_redaction_keeps_its_characters() -> None:
    assert redact("我的电话是６０１２ ３４５ ６７８９，谢谢") == "我的电话是[PHONE]，谢谢"
    assert redact("ＮＲＩＣ Ｓ１２３４５６７Ｄ") == "ＮＲＩＣ [NRIC]"


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_text_is_not_redacted(text: str) -> None:
    assert redact(text) == text


@pytest.fixture
def audit(tmp_path: Path) -> Iterator[SqliteAuditLog]:
    log = SqliteAuditLog(tmp_path / "audit.sqlite3")
    yield log
    log.close()


@pytest.mark.parametrize(("text", "secret", "token"), FORMS)
def test_audit_question_and_feedback_comment(
    audit: SqliteAuditLog, text: str, secret: str, token: str
) -> None:
    audit.record(
        query_id="q1", caller="portal", agency=None, question=text, language="en", generator="extractive",
        grounded=True, refused=False, cited_doc_ids=[], latency_ms=1.0,
    )  # fmt: skip
    audit.record_feedback("q1", "down", f"wrong answer; {text}", "portal")
    entry = audit.get("q1")
    assert entry is not None
    assert token in entry.question
    assert token in entry.feedback[0].comment
    dump = "\n".join(sqlite3.connect(audit.path).iterdump())
    assert secret not in dump
    assert secret.replace("\u200b", "") not in dump


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for h in list(root.handlers):
        if h not in handlers:
            root.removeHandler(h)
    root.setLevel(level)


@pytest.mark.usefixtures("restore_logging")
@pytest.mark.parametrize(("text", "secret", "token"), FORMS)
def test_log_lines(text: str, secret: str, token: str) -> None:
    stream = io.StringIO()
    configure_logging("INFO", json=True, stream=stream, capture_uvicorn=False)
    logging.getLogger("govrag.test.redaction").info("question: %s", text, extra={"comment": text})
    raw = stream.getvalue()
    line = json.loads(raw.splitlines()[-1])
    assert token in line["message"]
    assert token in line["comment"]
    assert secret not in raw
    assert json.dumps(secret)[1:-1] not in raw  # nor in its JSON-escaped form
