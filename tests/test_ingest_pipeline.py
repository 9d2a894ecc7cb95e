"""The ingestion pipeline end to end on generated documents, with the real embedder and embedded index.

A multi-format, multilingual corpus (Thai PDF, Khmer DOCX, XLSX table, e-mail with a DOCX attachment,
JSONL export, TIS-620 / GB18030 / Windows-1258 text, Lao Markdown, Burmese HTML; scanned Thai and Chinese
pages under the `ocr` marker) is ingested and read back with `get_chunks`; then the increments: an
unchanged rerun writes nothing, an edit re-ingests only that document with no stale chunks, dry runs
write nothing, groups/agency land on chunks and changing them re-ingests, `--prune`, `--lang`, URLs.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docgen
import pytest
from conftest import build_settings, ingest_now, read_index

TH, KM, VI, ZH, EN = (docgen.SAMPLES[k][1] for k in ("th", "km", "vi", "zh", "en"))
MS, ID, LO, MY = (docgen.SAMPLES[k][1] for k in ("ms", "id", "lo", "my"))
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _fonts_or_skip(*scripts: str) -> None:
    try:
        for script in scripts:
            docgen.font_path(script)
    except docgen.FontMissing as exc:
        pytest.skip(str(exc))


def write_corpus(root: Path) -> None:
    """The multi-format corpus (no OCR): one document per format/language of interest."""
    _fonts_or_skip("thai", "latin")
    records = [
        {
            "id": "faq-ms-1",
            "title": "Kad pengenalan",
            "text": "\n\n".join(MS),
            "lang": "ms",
            "url": "https://jpn.example.gov.my/faq/1",
        },
        {"id": "faq-id-1", "title": "KTP", "text": "\n\n".join(ID), "lang": "id"},
    ]
    guide = docgen.docx_bytes([("h1", "Hướng dẫn"), ("p", VI[1]), ("p", VI[2])])
    files: dict[str, bytes] = {
        "th/notice.pdf": docgen.text_pdf(
            [[("h1", TH[0]), ("p", TH[1]), ("p", TH[2])], [("h2", "หมวด ๒ เอกสารประกอบ"), ("p", TH[3])]],
            "thai",
            title="ประกาศสำนักงานเขต",
        ),
        "km/notice.docx": docgen.docx_bytes(
            [("h1", KM[0]), ("p", KM[1]), ("h2", "ឯកសារ"), ("li", KM[2]), ("p", KM[3])], title="សេចក្តីជូនដំណឹង"
        ),
        "fees.xlsx": docgen.xlsx_bytes(
            {
                "Fees": [
                    ["Service", "Fee (USD)", "Days"],
                    ["Passport renewal", 70, 10],
                    ["Birth certificate", 5, 3],
                ]
            }
        ),
        "mail/reply.eml": docgen.eml_bytes(
            "Re: household registration",
            "Dear citizen,\n\nPlease find the guide attached. " + EN[2],
            attachments=[("guide.docx", guide, DOCX_TYPE)],
        ),
        "legacy/th-tis620.txt": "\n".join(TH).encode("tis-620"),
        "legacy/zh-gb18030.txt": "\n".join(ZH).encode("gb18030"),
        "legacy/vi-1258.txt": docgen.encode_text("\n".join(VI), "cp1258"),
        "exports/faq.jsonl": "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode(),
        "lo/notice.md": ("# " + LO[0] + "\n\n" + "\n\n".join(LO[1:])).encode(),
        "my/notice.html": (
            "<html><body><nav>Home | Contact</nav><h1>"
            + MY[0]
            + "</h1>"
            + "".join(f"<p>{line}</p>" for line in MY[1:])
            + "</body></html>"
        ).encode(),
    }
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


@pytest.fixture(scope="module")
def corpus_run(
    tmp_path_factory: pytest.TempPathFactory, embedder: Any, sparse_encoder: Any
) -> dict[str, Any]:
    """The corpus ingested once into a fresh index; the chunks read back by document."""
    base = tmp_path_factory.mktemp("pipeline")
    root = base / "corpus"
    write_corpus(root)
    settings = build_settings(base / "home", ingest={"workers": 1})
    report = ingest_now(settings, embedder, sparse_encoder, [root])
    return {"root": root, "settings": settings, "report": report, "docs": read_index(settings, embedder)}


def _texts(chunks: list[Any]) -> str:
    return "\n".join(c.text for c in chunks)


# -- the multi-format corpus ---------------------------------------------------------------------------


def test_report_counts_every_document_as_new(corpus_run: dict[str, Any]) -> None:
    summary = corpus_run["report"].to_dict()
    docs = corpus_run["docs"]
    assert summary["failures"] == []
    assert summary["documents"] == {"new": 11, "changed": 0, "unchanged": 0, "failed": 0, "pruned": 0}
    assert len(docs) == 11  # nine files and two export records
    assert summary["chunks"] == sum(len(v) for v in docs.values())
    assert summary["pages"] == 3  # two PDF pages + one sheet
    assert summary["pages_ocr"] == 0
    for doc_id, chunks in docs.items():
        assert [c.chunk_no for c in chunks] == list(range(len(chunks))), doc_id
        assert {c.n_chunks for c in chunks} == {len(chunks)}
        assert len({c.content_hash for c in chunks}) == 1
        assert {c.groups[0] for c in chunks} == {"public"}


def test_document_ids_roots_and_sources(corpus_run: dict[str, Any]) -> None:
    docs, root = corpus_run["docs"], corpus_run["root"]
    assert sorted(docs) == [
        "corpus/fees.xlsx",
        "corpus/km/notice.docx",
        "corpus/legacy/th-tis620.txt",
        "corpus/legacy/vi-1258.txt",
        "corpus/legacy/zh-gb18030.txt",
        "corpus/lo/notice.md",
        "corpus/mail/reply.eml",
        "corpus/my/notice.html",
        "corpus/th/notice.pdf",
        "faq-id-1",
        "faq-ms-1",
    ]
    assert {c.root for chunks in docs.values() for c in chunks} == {root.resolve().as_uri()}
    assert docs["corpus/th/notice.pdf"][0].source == (root / "th/notice.pdf").resolve().as_uri()
    assert docs["faq-ms-1"][0].source == "https://jpn.example.gov.my/faq/1"
    assert docs["faq-id-1"][0].source == f"{root / 'exports/faq.jsonl'}:2"


def test_thai_pdf_text_is_exact_with_pages_and_sections(corpus_run: dict[str, Any]) -> None:
    chunks = corpus_run["docs"]["corpus/th/notice.pdf"]
    assert [(c.page, c.section) for c in chunks] == [
        (1, [TH[0]]),
        (2, [TH[0], "หมวด ๒ เอกสารประกอบ"]),
    ]
    assert chunks[0].text == f"{TH[0]}\n\n{TH[1]}\n{TH[2]}"
    assert chunks[1].text == f"หมวด ๒ เอกสารประกอบ\n\n{TH[3]}"
    assert {c.lang for c in chunks} == {"th"}
    assert {c.title for c in chunks} == {"ประกาศสำนักงานเขต"}


def test_khmer_docx_sections_and_language(corpus_run: dict[str, Any]) -> None:
    chunks = corpus_run["docs"]["corpus/km/notice.docx"]
    assert [c.section for c in chunks] == [[KM[0]], [KM[0], "ឯកសារ"]]
    assert chunks[0].text == f"{KM[0]}\n\n{KM[1]}"
    assert KM[2] in chunks[1].text
    assert KM[3] in chunks[1].text
    assert {c.lang for c in chunks} == {"km"}
    assert {c.page for c in chunks} == {None}
    assert chunks[0].title == "សេចក្តីជូនដំណឹង"


def test_xlsx_rows_keep_their_headers(corpus_run: dict[str, Any]) -> None:
    (chunk,) = corpus_run["docs"]["corpus/fees.xlsx"]
    assert chunk.page == 1
    assert chunk.section == ["Fees"]
    assert "Service: Passport renewal | Fee (USD): 70 | Days: 10" in chunk.text
    assert "Service: Birth certificate | Fee (USD): 5 | Days: 3" in chunk.text
    assert chunk.lang == "en"


def test_email_and_its_attachment_are_one_document(corpus_run: dict[str, Any]) -> None:
    body, attachment = corpus_run["docs"]["corpus/mail/reply.eml"]
    assert body.title == attachment.title == "Re: household registration"
    assert body.section == ["Re: household registration"]
    assert EN[2] in body.text
    assert body.lang == "en"
    assert attachment.section == ["Attachment: guide.docx", "Hướng dẫn"]
    assert attachment.text.startswith("Attachment: guide.docx\n\nHướng dẫn\n\n")
    assert VI[1] in attachment.text
    assert VI[2] in attachment.text
    assert attachment.lang == "vi"


def test_jsonl_records_keep_title_and_declared_language(corpus_run: dict[str, Any]) -> None:
    docs = corpus_run["docs"]
    (ms,) = docs["faq-ms-1"]
    (id_,) = docs["faq-id-1"]
    assert ms.title == "Kad pengenalan"
    assert id_.title == "KTP"
    assert ms.text == "\n\n".join(MS)
    assert (ms.lang, id_.lang) == ("ms", "id")


def test_legacy_encodings_are_decoded_exactly(corpus_run: dict[str, Any]) -> None:
    docs = corpus_run["docs"]
    assert _texts(docs["corpus/legacy/th-tis620.txt"]) == "\n".join(TH)
    assert _texts(docs["corpus/legacy/zh-gb18030.txt"]) == "\n".join(ZH)
    assert _texts(docs["corpus/legacy/vi-1258.txt"]) == "\n".join(VI)
    assert [
        docs[f"corpus/legacy/{n}"][0].lang for n in ("th-tis620.txt", "zh-gb18030.txt", "vi-1258.txt")
    ] == [
        "th",
        "zh",
        "vi",
    ]


def test_lao_markdown_and_burmese_html(corpus_run: dict[str, Any]) -> None:
    docs = corpus_run["docs"]
    (lo,) = docs["corpus/lo/notice.md"]
    assert lo.section == [LO[0]]
    assert lo.title == LO[0]
    assert all(line in lo.text for line in LO)
    assert lo.lang == "lo"
    (my,) = docs["corpus/my/notice.html"]
    assert my.section == [MY[0]]
    assert all(line in my.text for line in MY)
    assert "Home | Contact" not in my.text  # navigation boilerplate stripped
    assert my.lang == "my"


def test_unchanged_rerun_ingests_nothing(
    corpus_run: dict[str, Any], embedder: Any, sparse_encoder: Any
) -> None:
    settings, root = corpus_run["settings"], corpus_run["root"]
    report = ingest_now(settings, embedder, sparse_encoder, [root])
    summary = report.to_dict()
    assert summary["documents"] == {"new": 0, "changed": 0, "unchanged": 11, "failed": 0, "pruned": 0}
    assert summary["chunks"] == 0
    assert "embed" not in summary["stage_seconds"]
    assert "optimize" not in summary["stage_seconds"]
    after = read_index(settings, embedder)
    before = corpus_run["docs"]
    assert {d: [(c.text, c.ingested_at) for c in v] for d, v in after.items()} == {
        d: [(c.text, c.ingested_at) for c in v] for d, v in before.items()
    }


@pytest.mark.ocr
def test_scanned_thai_and_chinese_pages_are_ocrd(
    tmp_path: Path, make_settings: Callable[..., Any], ingest: Callable[..., Any], stored: Callable[..., Any]
) -> None:
    if shutil.which("tesseract") is None or shutil.which("pdftoppm") is None:
        pytest.skip("tesseract-ocr / poppler-utils not installed")
    _fonts_or_skip("thai", "cjk")
    root = tmp_path / "scans"
    root.mkdir()
    (root / "thai-scan.pdf").write_bytes(docgen.scanned_pdf([TH], "thai"))
    (root / "chinese-scan.png").write_bytes(docgen.scanned_image(ZH, "cjk"))
    settings = make_settings(tmp_path / "home", ingest={"workers": 1})
    summary = ingest(settings, [root]).to_dict()
    assert summary["failures"] == []
    assert summary["pages_ocr"] == 2
    docs = stored(settings)
    th = docs["scans/thai-scan.pdf"]
    assert {c.page for c in th} == {1}
    assert {c.lang for c in th} == {"th"}
    for word in ("บัตรประจำตัวประชาชน", "สำเนาทะเบียนบ้าน", "ศูนย์บริการประชาชน"):
        assert word in _texts(th)
    zh = docs["scans/chinese-scan.png"]
    assert {c.lang for c in zh} == {"zh"}
    for word in ("居民身份证", "区办事处", "提交文件"):
        assert word in _texts(zh)


# -- increments ----------------------------------------------------------------------------------------

SMALL_CHUNKS = {"workers": 1, "chunker": {"chunk_tokens": 40, "overlap_tokens": 8, "min_chunk_tokens": 0}}


def _paragraphs(topic: str, n: int) -> str:
    return "\n\n".join(
        f"{topic} rule {i}: applicants bring form {i} to the district office." for i in range(n)
    )


def _write_texts(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


@pytest.fixture
def small(tmp_path: Path, make_settings: Callable[..., Any]) -> tuple[Path, Any]:
    """A folder of three multi-chunk English documents and settings with small chunks."""
    root = tmp_path / "docs"
    _write_texts(
        root,
        {
            "a.txt": _paragraphs("Alpha", 8),
            "b.txt": _paragraphs("Beta", 8),
            "c/c.md": _paragraphs("Gamma", 3),
        },
    )
    return root, make_settings(tmp_path / "home", ingest=SMALL_CHUNKS)


def test_editing_one_file_reingests_only_it_and_leaves_no_stale_chunks(
    small: tuple[Path, Any], ingest: Callable[..., Any], stored: Callable[..., Any]
) -> None:
    root, settings = small
    first = ingest(settings, [root]).to_dict()
    assert first["documents"]["new"] == 3
    before = stored(settings)
    assert len(before["docs/a.txt"]) >= 4
    (root / "a.txt").write_text(_paragraphs("Delta", 2), encoding="utf-8")  # fewer chunks than before
    report = ingest(settings, [root])
    outcome = {o.doc_id: o.status for o in report.outcomes}
    assert outcome == {"docs/a.txt": "changed", "docs/b.txt": "unchanged", "docs/c/c.md": "unchanged"}
    after = stored(settings)
    new_a = after["docs/a.txt"]
    assert "Alpha" not in "".join(c.text for c in new_a)
    assert "Delta rule 1" in "".join(c.text for c in new_a)
    assert [c.chunk_no for c in new_a] == list(range(len(new_a)))
    assert len(new_a) < len(before["docs/a.txt"])
    assert {c.n_chunks for c in new_a} == {len(new_a)}
    assert len({c.content_hash for c in new_a}) == 1
    assert new_a[0].content_hash != before["docs/a.txt"][0].content_hash
    for untouched in ("docs/b.txt", "docs/c/c.md"):
        assert [(c.text, c.ingested_at) for c in after[untouched]] == [
            (c.text, c.ingested_at) for c in before[untouched]
        ]
    assert report.to_dict()["chunks"] == len(new_a)
    # growing it again re-ingests it again, with more chunks
    (root / "a.txt").write_text(_paragraphs("Epsilon", 12), encoding="utf-8")
    assert ingest(settings, [root]).to_dict()["documents"]["changed"] == 1
    grown = stored(settings)["docs/a.txt"]
    assert len(grown) > len(before["docs/a.txt"])
    assert all("Epsilon" in c.text for c in grown)


def test_dry_run_writes_nothing(
    small: tuple[Path, Any], ingest: Callable[..., Any], stored: Callable[..., Any]
) -> None:
    root, settings = small
    folder = settings.index.embedded_folder(settings.home)
    first = ingest(settings, [root], dry_run=True).to_dict()
    assert first["dry_run"] is True
    assert first["documents"]["new"] == 3
    assert first["chunks"] == 0
    assert not folder.exists(), "a dry run must not create the index"
    ingest(settings, [root])
    before = stored(settings)
    (root / "a.txt").write_text("changed text", encoding="utf-8")
    (root / "new.txt").write_text("a new document", encoding="utf-8")
    (root / "b.txt").unlink()
    report = ingest(settings, [root], dry_run=True, prune=True)
    assert {o.doc_id: o.status for o in report.outcomes} == {
        "docs/a.txt": "changed",
        "docs/new.txt": "new",
        "docs/c/c.md": "unchanged",
        "docs/b.txt": "pruned",
    }
    assert report.to_dict()["chunks"] == 0
    assert stored(settings) == before


def test_agency_and_groups_are_stored_and_a_groups_change_reingests(
    small: tuple[Path, Any], ingest: Callable[..., Any], stored: Callable[..., Any]
) -> None:
    root, settings = small
    (root / "records.jsonl").write_text(
        json.dumps({"id": "rec-1", "text": "Internal memo text.", "groups": ["staff"], "agency": "moh"})
        + "\n",
        encoding="utf-8",
    )
    ingest(settings, [root], agency="immigration", groups=["public", "residents"])
    docs = stored(settings)
    for doc_id in ("docs/a.txt", "docs/b.txt", "docs/c/c.md"):
        assert {(c.agency, tuple(c.groups)) for c in docs[doc_id]} == {
            ("immigration", ("public", "residents"))
        }
    assert {(c.agency, tuple(c.groups)) for c in docs["rec-1"]} == {("moh", ("staff",))}
    same = ingest(settings, [root], agency="immigration", groups=["residents", "public"]).to_dict()
    assert same["documents"]["unchanged"] == 4  # group order does not matter
    changed = ingest(settings, [root], agency="immigration", groups=["staff"]).to_dict()
    assert changed["documents"]["changed"] == 4
    docs = stored(settings)
    assert {tuple(c.groups) for c in docs["docs/a.txt"]} == {("staff",)}
    assert len({c.content_hash for c in docs["docs/a.txt"]}) == 1
    agency = ingest(settings, [root], agency="health", groups=["staff"]).to_dict()
    assert agency["documents"]["changed"] == 4
    assert {c.agency for c in stored(settings)["docs/b.txt"]} == {"health"}


def test_prune_removes_vanished_documents_of_the_given_roots_only(
    small: tuple[Path, Any], tmp_path: Path, ingest: Callable[..., Any], stored: Callable[..., Any]
) -> None:
    root, settings = small
    other = tmp_path / "other"
    _write_texts(other, {"keep.txt": "Another root: never pruned by runs that do not name it."})
    (root / "faq.jsonl").write_text(
        "".join(
            json.dumps({"id": f"q{i}", "text": f"Question {i} and its answer."}) + "\n" for i in range(3)
        ),
        encoding="utf-8",
    )
    ingest(settings, [root, other])
    assert sorted(stored(settings)) == [
        "docs/a.txt",
        "docs/b.txt",
        "docs/c/c.md",
        "other/keep.txt",
        "q0",
        "q1",
        "q2",
    ]
    (root / "b.txt").unlink()
    shutil.rmtree(root / "c")
    (root / "faq.jsonl").write_text(
        json.dumps({"id": "q0", "text": "Question 0 and its answer."}) + "\n", encoding="utf-8"
    )
    without = ingest(settings, [root])
    assert without.count("pruned") == 0
    assert len(stored(settings)) == 7
    report = ingest(settings, [root], prune=True)
    assert sorted(o.doc_id for o in report.outcomes if o.status == "pruned") == [
        "docs/b.txt",
        "docs/c/c.md",
        "q1",
        "q2",
    ]
    assert sorted(stored(settings)) == ["docs/a.txt", "other/keep.txt", "q0"]
    again = ingest(settings, [root], prune=True)
    assert again.count("pruned") == 0
    assert again.count("unchanged") == 2


def test_forced_language(
    small: tuple[Path, Any], ingest: Callable[..., Any], stored: Callable[..., Any]
) -> None:
    root, settings = small
    ingest(settings, [root / "a.txt"], lang="ms")
    (chunks,) = stored(settings).values()
    assert {c.lang for c in chunks} == {"ms"}
    # --lang is part of the fingerprint: going back to auto re-ingests with detection
    report = ingest(settings, [root / "a.txt"])
    assert report.count("changed") == 1
    assert {c.lang for c in stored(settings)["a.txt"]} == {"en"}


def test_urls_from_a_local_site_respect_robots_txt(
    tmp_path: Path,
    make_settings: Callable[..., Any],
    ingest: Callable[..., Any],
    stored: Callable[..., Any],
    local_site: Any,
) -> None:
    local_site.add("/robots.txt", "User-agent: *\nDisallow: /private/\n", "text/plain")
    page = local_site.add(
        "/services/passport.php",
        f"<html lang='vi'><head><title>Hộ chiếu</title></head><body><h1>Hộ chiếu</h1><p>{VI[1]}</p>"
        f"<p>{VI[2]}</p></body></html>",
    )
    text = local_site.add("/notices/th.txt", "\n".join(TH), "text/plain; charset=utf-8")
    secret = local_site.add("/private/memo.html", "<p>internal</p>")
    url_list = tmp_path / "urls.txt"
    url_list.write_text(f"# pages\n{text}\n{secret}\n", encoding="utf-8")
    settings = make_settings(tmp_path / "home", ingest={"workers": 1, "fetch": {"min_interval_s": 0.0}})
    report = ingest(settings, [page], url_lists=[url_list])
    assert {o.doc_id: (o.status, o.reason) for o in report.outcomes} == {
        page: ("new", ""),
        text: ("new", ""),
        secret: ("failed", "disallowed by robots.txt"),
    }
    assert "/private/memo.html" not in local_site.requests
    docs = stored(settings)
    assert sorted(docs) == sorted([page, text])
    (vi,) = docs[page]
    assert vi.source == page
    assert vi.title == "Hộ chiếu"
    assert vi.section == ["Hộ chiếu"]
    assert VI[1] in vi.text
    assert vi.lang == "vi"
    assert _texts(docs[text]) == "\n".join(TH)
    assert {c.root for c in docs[text]} == {"urls"}
    # unchanged pages are fetched again (to hash them) but not re-ingested
    again = ingest(settings, [page], url_lists=[url_list])
    assert again.count("unchanged") == 2
