"""Document dates in every supported language and calendar (`ingest.dates`)."""

from __future__ import annotations

from datetime import date

import pytest

from ingest.dates import ascii_digits, dates_in_text, document_dates, parse_date_value

JAN_15 = date(2026, 1, 15)


@pytest.mark.parametrize(
    ("lang", "text"),
    [
        ("en", "Circular No. 4/2026, issued 15 January 2026 by the Ministry of Health."),
        ("en-us", "Issued January 15, 2026."),
        ("ms", "Pekeliling ini dikeluarkan pada 15 Januari 2026."),
        ("id", "Surat edaran ditetapkan di Jakarta pada tanggal 15 Januari 2026."),
        ("tl", "Inilabas noong Enero 15, 2026."),
        ("th-be", "ประกาศ ณ วันที่ 15 มกราคม พ.ศ. 2569"),
        ("th-digits", "ประกาศ ณ วันที่ ๑๕ มกราคม ๒๕๖๙"),
        ("th-abbr", "ลงวันที่ 15 ม.ค. 2569"),
        ("vi", "Hà Nội, ngày 15 tháng 01 năm 2026"),
        ("zh", "本通知于2026年1月15日发布。"),
        ("my", "၂၀၂၆ ခုနှစ် ဇန်နဝါရီလ ၁၅ ရက်"),
        ("km", "ធ្វើនៅភ្នំពេញ ថ្ងៃទី១៥ ខែមករា ឆ្នាំ២០២៦"),
        ("lo", "ນະຄອນຫຼວງວຽງຈັນ, ວັນທີ 15 ມັງກອນ 2026"),
        ("lo-digits", "ວັນທີ ໑໕ ມັງກອນ ໒໐໒໖"),
        ("ta", "வெளியிடப்பட்ட நாள்: 15 ஜனவரி 2026"),
        ("iso", "Version of 2026-01-15"),
        ("numeric", "Tarikh: 15/01/2026"),
    ],
)
def test_issue_date_in_every_language_and_calendar(lang: str, text: str) -> None:
    found = dates_in_text(text)
    assert [(d, kind) for _, d, kind in found] == [(JAN_15, "issued")], lang
    assert document_dates({}, text).issued.value == JAN_15  # type: ignore[union-attr]


EFFECTIVE = [  # one case per language: (text, effective from, effective until)
    "The new fees are effective from 1 March 2026 until 28 February 2027.",
    "Kadar baharu berkuat kuasa mulai 1 Mac 2026 hingga 28 Februari 2027.",
    "มีผลใช้บังคับตั้งแต่วันที่ 1 มีนาคม 2569 จนถึงวันที่ 28 กุมภาพันธ์ 2570",
    "Quyết định có hiệu lực từ ngày 01 tháng 3 năm 2026 đến ngày 28 tháng 2 năm 2027.",
    "本办法自2026年3月1日起施行，至2027年2月28日止。",
]


@pytest.mark.parametrize("text", EFFECTIVE)
def test_effective_period(text: str) -> None:
    start, end = date(2026, 3, 1), date(2027, 2, 28)
    dates = document_dates({}, text)
    assert dates.effective_from is not None
    assert dates.effective_from.value == start
    assert dates.effective_until is not None
    assert dates.effective_until.value == end
    assert dates.effective_until.source == "text:effective_until"
    assert dates.doc_date is not None  # the effective-from date stands in for a missing issue date


def test_metadata_wins_over_text_and_text_over_file_properties() -> None:
    text = "Issued 15 January 2026."
    published = document_dates({"datePublished": "2026-02-01T09:00:00+08:00"}, text).issued
    assert published is not None
    assert published.value == date(2026, 2, 1)
    from_text = document_dates({"created": "2019-05-05T00:00:00"}, text).issued
    assert from_text is not None
    assert (from_text.value, from_text.source) == (JAN_15, "text")
    from_file = document_dates({"pdf_created": "D:20240301120000+07'00'"}, "No date here.").issued
    assert from_file is not None
    assert (from_file.value, from_file.source) == (date(2024, 3, 1), "metadata:pdf_created")


def test_impossible_and_implausible_dates_are_ignored() -> None:
    assert dates_in_text("31 February 2026, 2026-13-01, 15 January 1066, page 12/2026") == []
    assert document_dates({"date": "not a date"}, "").issued is None
    assert document_dates({}, "").doc_date is None


def test_values_and_digits() -> None:
    assert ascii_digits("๒๕๖๙ ၂၀၂၆ ២០២៦ ໒໐໒໖ ２０２６") == "2569 2026 2026 2026 2026"
    assert parse_date_value("D:20260115") == JAN_15
    assert parse_date_value("15 มกราคม 2569") == JAN_15
    assert parse_date_value(None) is None
    payload = document_dates({"effective_from": "2026-03-01"}, "Issued 15 January 2026.").as_payload()
    assert payload == {
        "issued": "2026-01-15",
        "issued_source": "text",
        "effective_from": "2026-03-01",
        "effective_from_source": "metadata:effective_from",
    }
