"""Ingestion stores each document's dates, so `doc_date` filters find documents (they found none before)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from api_support import ingest_sources
from conftest import build_settings
from docgen import docx_bytes

from indices.registry import open_index
from indices.schema import SearchFilter


def _ts(y: int, m: int, d: int) -> float:
    return datetime(y, m, d, tzinfo=UTC).timestamp()


def test_ingested_documents_carry_their_dates_and_date_filters_work(
    tmp_path: Path, embedder: Any, sparse_encoder: Any
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "fees-2019.th.docx").write_bytes(
        docx_bytes([("h1", "อัตราค่าธรรมเนียม"), ("p", "ประกาศ ณ วันที่ 1 มีนาคม พ.ศ. 2562 ค่าธรรมเนียม 30 บาท")])
    )
    (corpus / "circular.html").write_text(
        '<html lang="en"><head><title>Fee circular</title><script type="application/ld+json">'
        '{"@type": "GovernmentService", "datePublished": "2026-01-15"}</script></head>'
        "<body><p>The passport renewal fee is 70 dollars from this year.</p></body></html>",
        encoding="utf-8",
    )
    (corpus / "export.jsonl").write_text(
        json.dumps(
            {
                "id": "scheme-2025",
                "title": "Flood scheme",
                "effective_from": "2025-07-01",
                "text": "Flood relief of 500 ringgit per household is available to registered victims.",
            }
        )
        + "\n"
        + json.dumps({"id": "undated", "title": "Undated note", "text": "A note with no date at all."})
        + "\n",
        encoding="utf-8",
    )
    settings = build_settings(tmp_path / "home")
    ingest_sources(settings, embedder, sparse_encoder, [str(corpus)])
    index = open_index(settings.index, embedder.identity, settings.home, create=False)
    try:
        docs = {d.doc_id: d for d in index.iter_documents()}
        chunks = {doc_id: index.get_chunks(doc_id)[0] for doc_id in docs}
        by_title = {c.title: c for c in chunks.values()}
        thai = by_title["อัตราค่าธรรมเนียม"]
        assert thai.doc_date == _ts(2019, 3, 1)  # Buddhist era 2562 = 2019
        assert thai.extra["dates"]["issued_source"] == "text"
        html = by_title["Fee circular"]
        assert html.doc_date == _ts(2026, 1, 15)
        assert html.extra["dates"]["issued_source"] == "metadata:datePublished"
        scheme = chunks["scheme-2025"]
        assert scheme.doc_date == _ts(2025, 7, 1)
        assert scheme.extra["dates"] == {
            "effective_from": "2025-07-01",
            "effective_from_source": "metadata:effective_from",
        }
        assert chunks["undated"].doc_date is None

        def titles(flt: SearchFilter) -> set[str]:
            return {d.title for d in index.iter_documents(flt)}

        assert titles(SearchFilter(date_from=_ts(2025, 1, 1))) == {"Fee circular", "Flood scheme"}
        assert titles(SearchFilter(date_to=_ts(2020, 1, 1))) == {"อัตราค่าธรรมเนียม"}
    finally:
        index.close()
