"""Ruled tables in PDFs come out as rows with their headers, in Thai and Chinese, text layer and scans."""

from __future__ import annotations

import re
import shutil

import docgen
import pytest

from ingest.parsed import ElementKind, ParsedDocument
from ingest.parsers import parse_bytes
from ingest.parsers.pdf_tables import Rules, Word, find_tables

TH = docgen.SAMPLES["th"][1]
ZH = docgen.SAMPLES["zh"][1]

TH_ROWS = [
    ["บริการ", "ค่าธรรมเนียม (บาท)", "ระยะเวลา"],
    ["ทำบัตรใหม่", "100", "7 วัน"],
    ["บัตรหาย ต้องแจ้งความที่สถานีตำรวจก่อนยื่นคำขอ พร้อมสำเนาทะเบียนบ้าน", "20", "1 วัน"],
]
ZH_ROWS = [
    ["服务", "费用", "办理时间"],
    ["居民身份证首次申领", "20元", "7个工作日"],
    ["护照", "120元", "14个工作日，加急办理需另行缴纳费用并提供相关证明材料"],
]


def _fonts_or_skip(*scripts: str) -> None:
    try:
        for script in scripts:
            docgen.font_path(script)
    except docgen.FontMissing as exc:
        pytest.skip(str(exc))


def _tables(doc: ParsedDocument) -> list[tuple[str, int | None, list[str]]]:
    return [(e.text, e.page, e.section) for e in doc.elements if e.kind is ElementKind.TABLE]


def test_thai_pdf_table_rows_keep_headers_and_wrapped_cells_whole() -> None:
    _fonts_or_skip("thai", "latin")
    data = docgen.table_pdf([TH[1]], TH_ROWS, [TH[2]], "thai", heading=TH[0])
    doc = parse_bytes(data, "fees.pdf")
    # the wrapped first cell is one cell again (fpdf2 drops the space it wrapped at), and the
    # vertically centred fee stays in its row instead of following the wrapped lines
    assert _tables(doc) == [
        (
            "บริการ: ทำบัตรใหม่ | ค่าธรรมเนียม (บาท): 100 | ระยะเวลา: 7 วัน\n"
            "บริการ: บัตรหายต้องแจ้งความที่สถานีตำรวจก่อนยื่นคำขอ พร้อมสำเนาทะเบียนบ้าน"
            " | ค่าธรรมเนียม (บาท): 20 | ระยะเวลา: 1 วัน",
            1,
            [TH[0]],
        )
    ]
    texts = [e.text for e in doc.elements if e.kind is ElementKind.TEXT]
    assert texts == [TH[1], TH[2]]  # the text around the table is untouched and in order


def test_chinese_pdf_table_rows_keep_headers() -> None:
    _fonts_or_skip("cjk", "latin")
    data = docgen.table_pdf([ZH[1]], ZH_ROWS, [ZH[2]], "cjk", heading=ZH[0])
    doc = parse_bytes(data, "fees.pdf")
    assert _tables(doc) == [
        (
            "服务: 居民身份证首次申领 | 费用: 20元 | 办理时间: 7个工作日\n"
            "服务: 护照 | 费用: 120元 | 办理时间: 14个工作日，加急办理需另行缴纳费用并提供相关证明材料",
            1,
            [ZH[0]],
        )
    ]
    assert [e.text for e in doc.elements if e.kind is ElementKind.TEXT] == [ZH[1], ZH[2]]


def test_pdf_without_rules_keeps_the_plain_text_flow() -> None:
    _fonts_or_skip("thai", "latin")
    data = docgen.text_pdf([[("h1", TH[0]), ("p", TH[1]), ("p", TH[2])]], "thai")
    doc = parse_bytes(data, "notice.pdf")
    assert _tables(doc) == []
    assert [e.text for e in doc.elements if e.kind is ElementKind.TEXT] == [f"{TH[1]}\n{TH[2]}"]


def test_grid_cells_from_rules_in_image_coordinates() -> None:
    # a 2x3 grid in pixels (y down), a word per cell plus a wrapped Thai cell and a stray word outside
    rules = Rules(
        horizontal=[(y, 100.0, 700.0) for y in (100.0, 160.0, 260.0)],
        vertical=[(x, 100.0, 260.0) for x in (100.0, 300.0, 500.0, 700.0)],
    )
    words = [
        Word("บริการ", 110, 130, 30),
        Word("ค่าธรรมเนียม", 310, 130, 30),
        Word("ระยะเวลา", 510, 130, 30),
        Word("บัตรหายต้องแจ้ง", 110, 190, 30),
        Word("ความ", 110, 230, 30),
        Word("20", 310, 210, 30),
        Word("1", 510, 210, 30),
        Word("วัน", 540, 210, 30),
        Word("outside", 110, 400, 30),
    ]
    tables = find_tables(words, rules, y_up=False, scale=300 / 72)
    assert [t.rows for t in tables] == [
        [["บริการ", "ค่าธรรมเนียม", "ระยะเวลา"], ["บัตรหายต้องแจ้งความ", "20", "1 วัน"]]
    ]


needs_tesseract = pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract-ocr not installed")

TH_SCAN = [
    ["หัวข้อ", "ค่าธรรมเนียม", "ระยะเวลา"],
    ["ทำบัตรใหม่", "หนึ่งร้อยบาท", "เจ็ดวัน"],
    ["บัตรหาย", "ยี่สิบบาท", "หนึ่งวัน"],
]
ZH_SCAN = [["服务", "费用", "办理时间"], ["身份证", "二十元", "七天"], ["护照", "一百元", "十四天"]]


@pytest.mark.ocr
@needs_tesseract
def test_scanned_thai_table_pdf_is_read_as_rows_after_ocr() -> None:
    _fonts_or_skip("thai")
    doc = parse_bytes(docgen.scanned_table_pdf([TH[1]], TH_SCAN, "thai"), "scan.pdf")
    assert doc.pages_ocr == 1
    assert _tables(doc) == [
        (
            "หัวข้อ: ทำบัตรใหม่ | ค่าธรรมเนียม: หนึ่งร้อยบาท | ระยะเวลา: เจ็ดวัน\n"
            "หัวข้อ: บัตรหาย | ค่าธรรมเนียม: ยี่สิบบาท | ระยะเวลา: หนึ่งวัน",
            1,
            [],
        )
    ]
    assert [e.text for e in doc.elements if e.kind is ElementKind.TEXT] == [TH[1]]  # no "|" from the rules


@pytest.mark.ocr
@needs_tesseract
def test_scanned_chinese_table_image_keeps_each_value_under_its_header() -> None:
    _fonts_or_skip("cjk")
    import io

    buf = io.BytesIO()
    docgen.scanned_table_image([ZH[1]], ZH_SCAN, "cjk").save(buf, "PNG", dpi=(300, 300))
    doc = parse_bytes(buf.getvalue(), "scan.png")
    tables = _tables(doc)
    assert len(tables) == 1
    rows = tables[0][0].split("\n")
    # the structure is exact; single strokes of Chinese numerals (二/三, 百/自) are Tesseract's to misread
    assert len(rows) == 2
    assert re.fullmatch(r"服务: 身份证 \| 费用: .十元 \| 办理时间: 七天", rows[0]), rows[0]
    assert re.fullmatch(r"服务: 护照 \| 费用: 一.元 \| 办理时间: 十四天", rows[1]), rows[1]
    assert tables[0][1] == 1
    assert [e.text for e in doc.elements if e.kind is ElementKind.TEXT] == [ZH[1]]
