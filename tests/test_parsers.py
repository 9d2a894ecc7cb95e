"""Parsers on real generated documents: multilingual text, pages, headings, tables, encodings, e-mail,
OCR of scanned pages, and the exact reason for every kind of bad input."""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import shutil
import socket
from pathlib import Path

import docgen
import pytest

from ingest.parsed import ElementKind, ParsedDocument, ParseError
from ingest.parser_settings import ParserSettings
from ingest.parsers import PARSERS, parse_bytes, parse_path
from ingest.sniff import DocFormat, sniff_format

TH = docgen.SAMPLES["th"][1]
ZH = docgen.SAMPLES["zh"][1]
KM = docgen.SAMPLES["km"][1]
VI = docgen.SAMPLES["vi"][1]

needs_tesseract = pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract-ocr not installed")


def _fonts_or_skip(*scripts: str) -> None:
    try:
        for script in scripts:
            docgen.font_path(script)
    except docgen.FontMissing as exc:
        pytest.skip(str(exc))


def _titles(doc: ParsedDocument) -> list[tuple[str, int]]:
    return [(e.text, e.level) for e in doc.elements if e.kind is ElementKind.TITLE]


def _kind(doc: ParsedDocument, kind: ElementKind) -> list[str]:
    return [e.text for e in doc.elements if e.kind is kind]


@pytest.fixture(scope="module")
def thai_pdf() -> bytes:
    _fonts_or_skip("thai", "latin")
    return docgen.text_pdf(
        [[("h1", TH[0]), ("p", TH[1]), ("p", TH[2])], [("h2", "หมวด ๒ เอกสารประกอบ"), ("p", TH[3])]],
        "thai",
        title="ประกาศสำนักงานเขต",
    )


@pytest.fixture(scope="module")
def khmer_docx() -> bytes:
    table = [["សេវា", "តម្លៃ", "រយៈពេល"], ["អត្តសញ្ញាណប័ណ្ណ", "5000", "7"], ["លិខិតឆ្លងដែន", "100000", "14"]]
    return docgen.docx_bytes(
        [("h1", KM[0]), ("p", KM[1]), ("h2", "ឯកសារ"), ("li", KM[2]), ("table", table), ("p", KM[3])],
        title="សេចក្តីជូនដំណឹង",
    )


PAGE_HTML = """<!DOCTYPE html>
<html lang="th-TH"><head><meta charset="utf-8"><title>กรมการปกครอง - ประกาศ</title>
<style>body { color: red }</style><script>var tracking = "SCRIPT-NOISE";</script></head>
<body>
<header><img alt="logo"><div>HEADER-NOISE ตราสัญลักษณ์</div>
  <nav><ul><li><a href="/">NAV-NOISE หน้าแรก</a></li><li><a href="/a">เกี่ยวกับเรา</a></li></ul></nav></header>
<main><article>
  <header><h1>ประกาศ เรื่อง การยื่นคำขอมีบัตรประจำตัวประชาชน</h1></header>
  <p>ผู้ยื่นคำขอ<strong>ต้อง</strong>ยื่นเอกสารภายในวันที่ห้า มกราคม</p>
  <h2>เอกสารที่ต้องใช้</h2>
  <ul><li>สำเนาทะเบียนบ้าน</li><li>รูปถ่าย</li></ul>
  <h3>ค่าธรรมเนียม</h3>
  <table><thead><tr><th>บริการ</th><th>ค่าธรรมเนียม (บาท)</th></tr></thead>
  <tbody><tr><td>ทำบัตรใหม่</td><td>100</td></tr><tr><td>บัตรหาย</td><td>20</td></tr></tbody></table>
  <div hidden>HIDDEN-NOISE</div><p style="display:none">HIDDEN-NOISE</p>
</article></main>
<aside>ASIDE-NOISE ลิงก์ที่เกี่ยวข้อง</aside>
<footer>FOOTER-NOISE © 2025</footer>
<script>console.log("SCRIPT-NOISE")</script>
</body></html>"""


# -- PDF -------------------------------------------------------------------------------------------


def test_pdf_thai_text_layer_is_exact_with_pages_and_headings(thai_pdf: bytes) -> None:
    doc = parse_bytes(thai_pdf, "notice.pdf")
    assert doc.pages == 2
    assert doc.pages_ocr == 0
    assert doc.title == "ประกาศสำนักงานเขต"
    assert _titles(doc) == [(TH[0], 1), ("หมวด ๒ เอกสารประกอบ", 2)]
    body = [e for e in doc.elements if e.kind is ElementKind.TEXT]
    assert body[0].text == f"{TH[1]}\n{TH[2]}"  # exact: stacked vowels and tone marks intact
    assert body[0].page == 1
    assert body[0].section == [TH[0]]
    assert body[1].text == TH[3]
    assert body[1].page == 2
    assert body[1].section == [TH[0], "หมวด ๒ เอกสารประกอบ"]
    assert "ยื่น" in doc.text


def test_pdf_chinese_text_layer() -> None:
    _fonts_or_skip("cjk", "latin")
    pdf = docgen.text_pdf([[("h1", ZH[0]), ("p", ZH[1]), ("p", ZH[2])]], "cjk")
    doc = parse_bytes(pdf, "zh.pdf")
    assert _titles(doc) == [(ZH[0], 1)]
    assert _kind(doc, ElementKind.TEXT) == [f"{ZH[1]}\n{ZH[2]}"]
    assert "\x00" not in doc.text
    assert doc.pages == 1


def test_pdf_scanned_page_without_ocr_is_reported() -> None:
    _fonts_or_skip("thai")
    doc = parse_bytes(docgen.scanned_pdf([TH[:2]], "thai"), "scan.pdf", ParserSettings(ocr_enabled=False))
    assert doc.pages == 1
    assert doc.pages_ocr == 0
    assert doc.elements == []
    assert any("no text layer and OCR is unavailable" in w for w in doc.warnings)


# -- Office ----------------------------------------------------------------------------------------


def test_docx_khmer_headings_lists_and_table(khmer_docx: bytes) -> None:
    doc = parse_bytes(khmer_docx, "notice.docx")
    assert doc.title == "សេចក្តីជូនដំណឹង"
    assert _titles(doc) == [(KM[0], 1), ("ឯកសារ", 2)]
    assert _kind(doc, ElementKind.TEXT) == [KM[1], KM[3]]
    assert _kind(doc, ElementKind.LIST_ITEM) == [KM[2]]
    (table,) = [e for e in doc.elements if e.kind is ElementKind.TABLE]
    assert table.text == (
        "សេវា: អត្តសញ្ញាណប័ណ្ណ | តម្លៃ: 5000 | រយៈពេល: 7\nសេវា: លិខិតឆ្លងដែន | តម្លៃ: 100000 | រយៈពេល: 14"
    )
    assert table.section == [KM[0], "ឯកសារ"]


def test_pptx_slides_are_pages_with_titles_and_tables() -> None:
    deck = docgen.pptx_bytes(
        [
            ("Pendaftaran kad pengenalan", ["Bawa sijil kelahiran", "Bawa gambar"]),
            ("Yuran", ["Bayaran tunai"]),
        ],
        table=[["Perkhidmatan", "Yuran (RM)"], ["Kad baharu", "10"], ["Kad hilang", "110"]],
    )
    doc = parse_bytes(deck, "slides.pptx")
    assert doc.pages == 2
    assert _titles(doc) == [("Pendaftaran kad pengenalan", 1), ("Yuran", 1)]
    assert [(e.page, e.text) for e in doc.elements if e.kind is ElementKind.TEXT] == [
        (1, "Bawa sijil kelahiran\nBawa gambar"),
        (2, "Bayaran tunai"),
    ]
    (table,) = [e for e in doc.elements if e.kind is ElementKind.TABLE]
    assert table.page == 2
    assert (
        table.text == "Perkhidmatan: Kad baharu | Yuran (RM): 10\nPerkhidmatan: Kad hilang | Yuran (RM): 110"
    )


def test_xlsx_rows_keep_their_headers_per_sheet() -> None:
    import datetime as dt

    book = docgen.xlsx_bytes(
        {
            "ค่าธรรมเนียม": [
                ["อัตราค่าธรรมเนียม 2568"],
                [],
                ["บริการ", "ค่าธรรมเนียม", "วันที่มีผล"],
                ["บัตรประชาชน", 100, dt.datetime(2025, 1, 5)],
                ["หนังสือเดินทาง", 1000, None],
            ],
            "Contacts": [["Office", "Phone"], ["Bangkok", "02-123-4567"]],
        }
    )
    doc = parse_bytes(book, "fees.xlsx")
    assert doc.pages == 2
    assert _titles(doc) == [("ค่าธรรมเนียม", 1), ("Contacts", 1)]
    assert [(e.page, e.kind, e.text) for e in doc.elements if e.kind is not ElementKind.TITLE] == [
        (1, ElementKind.TEXT, "อัตราค่าธรรมเนียม 2568"),
        (
            1,
            ElementKind.TABLE,
            "บริการ: บัตรประชาชน | ค่าธรรมเนียม: 100 | วันที่มีผล: 2025-01-05\nบริการ: หนังสือเดินทาง | ค่าธรรมเนียม: 1000",
        ),
        (2, ElementKind.TABLE, "Office: Bangkok | Phone: 02-123-4567"),
    ]


def test_large_table_is_split_into_blocks_that_each_carry_headers() -> None:
    rows = [["Kode", "Layanan"]] + [[i, f"Layanan {i}"] for i in range(1, 101)]
    doc = parse_bytes(
        docgen.xlsx_bytes({"Data": rows}), "big.xlsx", ParserSettings(table_rows_per_element=40)
    )
    tables = _kind(doc, ElementKind.TABLE)
    assert [t.count("\n") + 1 for t in tables] == [40, 40, 20]
    assert tables[2].splitlines()[-1] == "Kode: 100 | Layanan: Layanan 100"


def test_csv_in_tis620_with_semicolons() -> None:
    data = "บริการ;ค่าธรรมเนียม\nบัตรประชาชน;100\nหนังสือเดินทาง;1000\n".encode("cp874")
    doc = parse_bytes(data, "fees.csv")
    assert doc.metadata["encoding"] == "cp874"
    assert _kind(doc, ElementKind.TABLE) == [
        "บริการ: บัตรประชาชน | ค่าธรรมเนียม: 100\nบริการ: หนังสือเดินทาง | ค่าธรรมเนียม: 1000"
    ]


# -- HTML / Markdown / text ------------------------------------------------------------------------


def test_html_boilerplate_stripped_headings_kept() -> None:
    doc = parse_bytes(PAGE_HTML.encode(), "notice.html")
    for noise in (
        "NAV-NOISE",
        "HEADER-NOISE",
        "FOOTER-NOISE",
        "ASIDE-NOISE",
        "SCRIPT-NOISE",
        "HIDDEN-NOISE",
        "color",
    ):
        assert noise not in doc.text
    assert doc.lang == "th"
    assert doc.title == "กรมการปกครอง - ประกาศ"
    assert _titles(doc) == [
        ("ประกาศ เรื่อง การยื่นคำขอมีบัตรประจำตัวประชาชน", 1),
        ("เอกสารที่ต้องใช้", 2),
        ("ค่าธรรมเนียม", 3),
    ]
    assert _kind(doc, ElementKind.TEXT) == ["ผู้ยื่นคำขอต้องยื่นเอกสารภายในวันที่ห้า มกราคม"]
    assert _kind(doc, ElementKind.LIST_ITEM) == ["สำเนาทะเบียนบ้าน", "รูปถ่าย"]
    (table,) = [e for e in doc.elements if e.kind is ElementKind.TABLE]
    assert table.text == "บริการ: ทำบัตรใหม่ | ค่าธรรมเนียม (บาท): 100\nบริการ: บัตรหาย | ค่าธรรมเนียม (บาท): 20"
    assert table.section == [_titles(doc)[0][0], "เอกสารที่ต้องใช้", "ค่าธรรมเนียม"]


def test_html_declared_legacy_charset_and_no_extension() -> None:
    page = (
        '<html><head><meta http-equiv="Content-Type" content="text/html; charset=tis-620"></head>'
        "<body><h1>ประกาศ</h1><p>ยื่นคำขอ</p></body></html>"
    )
    doc = parse_bytes(page.encode("cp874"), "download")
    assert doc.metadata["format"] == "html"
    assert _titles(doc) == [("ประกาศ", 1)]
    assert _kind(doc, ElementKind.TEXT) == ["ยื่นคำขอ"]


def test_markdown_headings_lists_tables_code() -> None:
    md = (
        "---\ntitle: Hướng dẫn\n---\n# Thủ tục cấp căn cước\n\nNgười nộp *đơn* phải nộp hồ sơ.\n\n"
        "## Giấy tờ\n\n- Bản sao sổ hộ khẩu\n- Ảnh chân dung\n\n"
        "| Dịch vụ | Lệ phí |\n|---|---|\n| Cấp mới | 30.000 |\n\n```\nmã = 1\n```\n"
    )
    doc = parse_bytes(md.encode(), "guide.md")
    assert doc.title == "Hướng dẫn"
    assert _titles(doc) == [("Thủ tục cấp căn cước", 1), ("Giấy tờ", 2)]
    assert _kind(doc, ElementKind.TEXT) == ["Người nộp đơn phải nộp hồ sơ."]
    assert _kind(doc, ElementKind.LIST_ITEM) == ["Bản sao sổ hộ khẩu", "Ảnh chân dung"]
    assert _kind(doc, ElementKind.TABLE) == ["Dịch vụ: Cấp mới | Lệ phí: 30.000"]
    assert _kind(doc, ElementKind.CODE) == ["mã = 1"]
    assert doc.elements[-1].section == ["Thủ tục cấp căn cước", "Giấy tờ"]


ENCODED = [
    ("utf-8", "\n".join(TH[:2]), "utf-8"),
    ("utf-8-sig", "\n".join(ZH[:2]), "utf-8-sig"),
    ("utf-16", "\n".join(TH[:2]), "utf-16"),
    ("utf-16-le", "\n".join(TH[:2]), "utf-16-le"),
    ("utf-16-be", "\n".join(ZH[:2]), "utf-16-be"),
    ("utf-16-le", "\n".join(docgen.SAMPLES["en"][1][:2]), "utf-16-le"),
    ("cp874", "\n".join(TH), "cp874"),
    ("gb18030", "\n".join(ZH), "gb18030"),
    ("cp1258", "\n".join(VI), "cp1258"),
    ("big5", "申請人必須在一月五日前向區辦事處提交文件。\n請攜帶戶口簿影本和近期照片。", "big5"),
]


@pytest.mark.parametrize(
    ("encoding", "text", "detected"), ENCODED, ids=[f"{e[0]}-{i}" for i, e in enumerate(ENCODED)]
)
def test_plain_text_encodings_round_trip(encoding: str, text: str, detected: str) -> None:
    doc = parse_bytes(docgen.encode_text(text, encoding), "notice.txt")
    assert doc.text == text
    assert doc.metadata["encoding"].replace("_", "-") == detected


def test_plain_text_paragraphs() -> None:
    doc = parse_bytes(b"First paragraph\nstill first.\n\n\nSecond paragraph.\r\n", "a.txt")
    assert [e.text for e in doc.elements] == ["First paragraph\nstill first.", "Second paragraph."]


# -- e-mail ----------------------------------------------------------------------------------------


def test_eml_subject_body_and_attachment() -> None:
    csv_bytes = "บริการ,ค่าธรรมเนียม\nบัตรประชาชน,100\n".encode()
    eml = docgen.eml_bytes(
        "ประกาศ: ค่าธรรมเนียมใหม่",
        f"{TH[1]}\n\n{TH[2]}\n",
        attachments=[
            ("fees.csv", csv_bytes, "text/csv"),
            ("notice.pdf", b"%PDF-1.4 fake", "application/pdf"),
        ],
        html="<p>HTML-ALTERNATIVE</p>",
    )
    forwarded = docgen.eml_bytes("Fwd: ตารางเวลา", "วันจันทร์ถึงวันศุกร์")
    eml = _with_forwarded(eml, forwarded)
    doc = parse_bytes(eml, "mail.eml")
    assert doc.title == "ประกาศ: ค่าธรรมเนียมใหม่"
    assert _titles(doc) == [("ประกาศ: ค่าธรรมเนียมใหม่", 1)]
    assert _kind(doc, ElementKind.TEXT) == [TH[1], TH[2]]
    assert "HTML-ALTERNATIVE" not in doc.text
    assert doc.metadata["from"] == "Office <office@example.gov>"
    assert [(a.filename, a.content_type) for a in doc.attachments] == [
        ("fees.csv", "text/csv"),
        ("notice.pdf", "application/pdf"),
        ("Fwd: ตารางเวลา.eml", "message/rfc822"),
    ]
    assert "วันจันทร์ถึงวันศุกร์" not in doc.text  # the forwarded mail is its own document
    assert _kind(parse_bytes(doc.attachments[2].data, "fwd.eml"), ElementKind.TEXT) == ["วันจันทร์ถึงวันศุกร์"]
    assert doc.attachments[0].data == csv_bytes
    inner = parse_bytes(doc.attachments[0].data, doc.attachments[0].filename)
    assert _kind(inner, ElementKind.TABLE) == ["บริการ: บัตรประชาชน | ค่าธรรมเนียม: 100"]


def _with_forwarded(eml: bytes, forwarded: bytes) -> bytes:
    from email import message_from_bytes, policy

    outer = message_from_bytes(eml, policy=policy.default)
    outer.add_attachment(message_from_bytes(forwarded, policy=policy.default))  # type: ignore[attr-defined]
    return outer.as_bytes()


def test_eml_html_only_body_goes_through_the_html_parser() -> None:
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["Subject"] = "Thông báo"
    msg["From"] = "a@example.gov"
    msg.set_content(
        "<html><body><nav>NAV-NOISE</nav><h1>Lịch làm việc</h1><p>Thứ Hai đến thứ Sáu</p></body></html>",
        subtype="html",
    )
    doc = parse_bytes(msg.as_bytes(), "m.eml")
    assert _titles(doc) == [("Thông báo", 1), ("Lịch làm việc", 2)]
    assert _kind(doc, ElementKind.TEXT) == ["Thứ Hai đến thứ Sáu"]
    assert "NAV-NOISE" not in doc.text


# -- sniffing --------------------------------------------------------------------------------------


def test_sniff_trusts_content_over_name(thai_pdf: bytes, khmer_docx: bytes) -> None:
    assert sniff_format(thai_pdf, "download.bin") is DocFormat.PDF
    assert sniff_format(khmer_docx, "x") is DocFormat.DOCX
    assert sniff_format(PAGE_HTML.encode(), "") is DocFormat.HTML
    assert sniff_format(docgen.eml_bytes("s", "b"), "") is DocFormat.EML
    assert sniff_format(b"BMW annual report 2024\nRevenue grew.", "") is DocFormat.TEXT
    assert sniff_format("ประกาศ".encode("utf-16"), "") is DocFormat.TEXT
    assert set(PARSERS) == {f.value for f in DocFormat}


# -- bad input: the error says why ------------------------------------------------------------------

BAD_INPUTS = [
    ("empty", lambda: b"", "empty.txt", None, "empty file (0 bytes)"),
    (
        "binary-as-txt",
        docgen.binary_with_text_extension,
        "notes.txt",
        None,
        "binary content with a text extension: notes.txt holds binary data "
        "(control bytes, no known encoding), not text",
    ),
    (
        "pdf-as-txt",
        lambda: docgen.text_pdf([[("p", "x")]], "latin"),
        "notes.txt",
        None,
        "binary content with a text extension: notes.txt is a PDF document, not .txt text "
        "(rename it to its real extension or fix the export)",
    ),
    ("encrypted-pdf", docgen.encrypted_pdf, "secret.pdf", None, "encrypted PDF (password required)"),
    (
        "truncated-pdf",
        docgen.truncated_pdf,
        "cut.pdf",
        None,
        "truncated PDF: no xref/%%EOF at the end of the file (download or export cut short)",
    ),
    ("corrupt-pdf", docgen.corrupt_pdf, "bad.pdf", None, "corrupt PDF"),
    (
        "html-saved-as-pdf",
        lambda: b"<!DOCTYPE html><html><body>Login required</body></html>",
        "report.pdf",
        None,
        "not a PDF: report.pdf has no PDF signature; its content looks like HTML (an error or login page?)",
    ),
    (
        "zip-bomb-docx",
        lambda: docgen.zip_bomb("docx"),
        "bomb.docx",
        None,
        "zip bomb: DOCX expands to 1.2 GB > limit 200 MB (ingest.parser.max_decompressed_bytes)",
    ),
    (
        "zip-bomb-xlsx",
        lambda: docgen.zip_bomb("xlsx"),
        "bomb.xlsx",
        None,
        "zip bomb: XLSX expands to 1.2 GB > limit 200 MB (ingest.parser.max_decompressed_bytes)",
    ),
    (
        "zip-bomb-ratio",
        lambda: docgen.real_zip_bomb_xlsx(40),
        "ratio.xlsx",
        None,
        "zip bomb: XLSX member xl/media/padding.bin expands 1,02",
    ),
    (
        "too-large",
        lambda: b"a" * 5000,
        "big.txt",
        ParserSettings(max_file_bytes=4096),
        "file too large: 4.9 KB > limit 4 KB (ingest.parser.max_file_bytes)",
    ),
    (
        "legacy-doc",
        lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600,
        "old.doc",
        None,
        "unsupported OLE compound file: not a Word, Excel, PowerPoint or Outlook file "
        "(root streams: none readable)",
    ),
    (
        "encrypted-ooxml",
        lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + "EncryptedPackage".encode("utf-16-le") + b"\0" * 600,
        "locked.docx",
        None,
        "encrypted Office document (password required): save an unprotected copy",
    ),
    (
        "plain-zip",
        lambda: _zip({"a.txt": b"hello"}),
        "files.zip",
        None,
        "unsupported format: a zip archive (unpack it and ingest the files inside)",
    ),
    (
        "docx-without-body",
        lambda: _zip({"[Content_Types].xml": b"<Types/>"}),
        "broken.docx",
        None,
        "unsupported Office Open XML package: no word/, ppt/ or xl/ main part",
    ),
    (
        "corrupt-docx-xml",
        lambda: _zip({"[Content_Types].xml": b"<Types", "word/document.xml": b"<w:document"}),
        "broken.docx",
        None,
        "corrupt DOCX",
    ),
    (
        "truncated-png",
        lambda: docgen.scanned_image(["abc"], "latin")[:300],
        "scan.png",
        None,
        "truncated or corrupt image",
    ),
    (
        "image-too-large",
        lambda: docgen.scanned_image(["abc"], "latin"),
        "scan.png",
        ParserSettings(max_image_pixels=1000),
        "image too large: 2200x288 = 633,600 pixels > limit 1,000 (ingest.parser.max_image_pixels)",
    ),
    (
        "corrupt-msg",
        lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600,
        "mail.msg",
        None,
        "corrupt Outlook MSG",
    ),
    (
        "gzip",
        lambda: b"\x1f\x8b\x08\x00" + b"\0" * 100,
        "data.gz",
        None,
        "unsupported format: the file is a gzip archive",
    ),
]


def _zip(members: dict[str, bytes]) -> bytes:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as out:
        for name, data in members.items():
            out.writestr(name, data)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("make", "filename", "settings", "reason"), [b[1:] for b in BAD_INPUTS], ids=[b[0] for b in BAD_INPUTS]
)
def test_bad_input_fails_with_the_reason(
    make, filename: str, settings: ParserSettings | None, reason: str
) -> None:  # type: ignore[no-untyped-def]
    if filename.endswith(".png") and not shutil.which("tesseract"):
        pytest.skip("image parsing needs tesseract")
    with pytest.raises(ParseError) as info:
        parse_bytes(make(), filename, settings)
    assert str(info.value).startswith(reason)


def test_parse_path_checks_size_before_reading(tmp_path: Path, thai_pdf: bytes) -> None:
    path = tmp_path / "notice.pdf"
    path.write_bytes(thai_pdf)
    assert parse_path(path).pages == 2
    with pytest.raises(ParseError, match=r"^file too large: .* > limit 1 KB"):
        parse_path(path, ParserSettings(max_file_bytes=1024))
    with pytest.raises(ParseError, match=r"^cannot read"):
        parse_path(tmp_path / "missing.pdf")


# -- offline and process-pool safety -----------------------------------------------------------------


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"parser tried to use the network: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def test_every_format_parses_with_the_network_off(
    no_network: None, thai_pdf: bytes, khmer_docx: bytes
) -> None:
    samples = {
        "a.pdf": thai_pdf,
        "b.docx": khmer_docx,
        "c.pptx": docgen.pptx_bytes([("Title", ["body"])]),
        "d.xlsx": docgen.xlsx_bytes({"S": [["h"], ["v"]]}),
        "e.html": PAGE_HTML.encode(),
        "f.md": b"# T\n\ntext\n",
        "g.txt": "ข้อความ".encode("cp874"),
        "h.csv": b"a,b\n1,2\n",
        "i.eml": docgen.eml_bytes("s", "body text"),
    }
    for name, data in samples.items():
        assert parse_bytes(data, name).text.strip(), name


def test_parsers_run_in_a_process_pool(thai_pdf: bytes) -> None:
    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
        doc = pool.submit(parse_bytes, thai_pdf, "n.pdf", ParserSettings()).result(timeout=120)
    assert TH[1] in doc.text
    assert doc.pages == 2


# -- OCR (Tesseract) -------------------------------------------------------------------------------


@pytest.mark.ocr
@needs_tesseract
def test_ocr_scanned_thai_pdf_detects_script_and_reads_key_words() -> None:
    _fonts_or_skip("thai")
    doc = parse_bytes(docgen.scanned_pdf([TH], "thai"), "scan.pdf")
    assert doc.pages == 1
    assert doc.pages_ocr == 1
    assert doc.metadata["ocr_languages"] == "tha"
    for word in ("บัตรประจำตัวประชาชน", "สำเนาทะเบียนบ้าน", "ศูนย์บริการประชาชน"):
        assert word in doc.text
    assert {e.page for e in doc.elements} == {1}


@pytest.mark.ocr
@needs_tesseract
def test_ocr_chinese_jpeg_image() -> None:
    _fonts_or_skip("cjk")
    doc = parse_bytes(docgen.scanned_image(ZH, "cjk", "JPEG"), "scan.jpg")
    assert doc.metadata["ocr_languages"] == "chi_sim"
    assert doc.pages_ocr == 1
    for word in ("居民身份证", "区办事处", "提交文件"):
        assert word in doc.text
    assert " " not in doc.text.replace("\n", "")  # no spaces between ideographs


@pytest.mark.ocr
@needs_tesseract
def test_ocr_only_for_pages_without_text_layer() -> None:
    _fonts_or_skip("latin", "khmer")
    mixed = docgen.merge_pdfs(
        docgen.text_pdf([[("p", "Page one has a real text layer and needs no OCR at all.")]], "latin"),
        docgen.scanned_pdf([KM[:2]], "khmer"),
    )
    doc = parse_bytes(mixed, "mixed.pdf", ParserSettings(ocr_languages=["khm"]))
    assert doc.pages == 2
    assert doc.pages_ocr == 1
    assert [e.text for e in doc.elements if e.page == 1] == [
        "Page one has a real text layer and needs no OCR at all."
    ]
    page2 = "\n".join(e.text for e in doc.elements if e.page == 2)
    assert "ការិយាល័យខណ្ឌ" in page2
