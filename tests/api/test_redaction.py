"""Redaction of personal data before logging: positives and negatives per kind, in SEA-language sentences."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from rag.api.redaction import (
    RedactingFilter,
    cccd_plausible,
    luhn_ok,
    mykad_plausible,
    nik_plausible,
    nric_checksum_ok,
    redact,
    thai_id_ok,
)

POSITIVES = [
    # Singapore NRIC/FIN: valid checksums, a wrong one (still redacted), lower case, glued to CJK text.
    ("My NRIC is S1234567D, please check", "My NRIC is [NRIC], please check"),
    ("FIN F1234567N / G1234567X / M1234567K", "FIN [NRIC] / [NRIC] / [NRIC]"),
    ("born 2001: T0123456G.", "born 2001: [NRIC]."),
    ("typo S1234567A still personal", "typo [NRIC] still personal"),
    ("nric s1234567d", "nric [NRIC]"),
    ("我的身份证号码是S1234567D，谢谢", "我的身份证号码是[NRIC]，谢谢"),
    # Malaysian MyKad: dashed, spaced, bare 12 digits.
    ("IC saya 900101-14-5678.", "IC saya [MYKAD]."),
    ("No. KP 040229 10 1234", "No. KP [MYKAD]"),
    ("IC 900101145678 hilang", "IC [MYKAD] hilang"),
    # Vietnamese CCCD.
    ("Số CCCD 079203012345 của tôi", "Số CCCD [CCCD] của tôi"),
    ("CCCD:001090123456", "CCCD:[CCCD]"),
    # Indonesian NIK (woman: day + 40; man).
    ("NIK saya 3201014101900001", "NIK saya [NIK]"),
    ("NIK 3174052508850003 atas nama Budi", "NIK [NIK] atas nama Budi"),
    # Thai ID: bare with checksum, printed 1-4-5-2-1, glued to Thai script.
    ("เลขบัตรประชาชน 1101700203450 ครับ", "เลขบัตรประชาชน [THAI_ID] ครับ"),
    ("เลขบัตร1-1017-00203-45-0ค่ะ", "เลขบัตร[THAI_ID]ค่ะ"),
    ("ID 3101200123453", "ID [THAI_ID]"),
    # Philippine IDs and cards.
    ("Ang SSS ko ay 34-1234567-8.", "Ang SSS ko ay [PH_ID]."),
    ("TIN 123-456-789-000", "TIN [PH_ID]"),
    ("PhilSys PCN 1234-5678-9012-3451", "PhilSys PCN [PH_ID]"),
    ("card 4111 1111 1111 1111", "card [CARD]"),
    ("card 4111111111111111 expired", "card [CARD] expired"),
    # Phones, international.
    ("call +65 9123 4567", "call [PHONE]"),
    ("(+65) 6123-4567", "[PHONE]"),
    ("+6591234567", "[PHONE]"),
    ("0065 9123 4567", "[PHONE]"),
    ("+60 12-345 6789", "[PHONE]"),
    ("+60 3-2161 2345", "[PHONE]"),
    ("+62 812-3456-7890", "[PHONE]"),
    ("+66 81 234 5678", "[PHONE]"),
    ("+84 912 345 678", "[PHONE]"),
    ("+63 917 123 4567", "[PHONE]"),
    ("+95 9 123 456 789", "[PHONE]"),
    ("+855 12 345 678", "[PHONE]"),
    ("+1 415 555 0100", "[PHONE]"),
    # Phones, local forms.
    ("9123 4567", "[PHONE]"),
    ("hp 91234567", "hp [PHONE]"),
    ("012-345 6789", "[PHONE]"),
    ("03-2161 2345", "[PHONE]"),
    ("0812-3456-7890", "[PHONE]"),
    ("021.555.1234", "[PHONE]"),
    ("081-234-5678", "[PHONE]"),
    ("02-123-4567", "[PHONE]"),
    ("0912 345 678", "[PHONE]"),
    ("024 3825 1234", "[PHONE]"),
    ("0917 123 4567", "[PHONE]"),
    ("(02) 8123 4567", "[PHONE]"),
    ("6591234567", "[PHONE]"),
    ("60 12-345 6789", "[PHONE]"),
    # E-mail.
    ("mail ali.bin-abu+gov@jpn.gov.my now", "mail [EMAIL] now"),
    ("联系ali@example.com谢谢", "联系[EMAIL]谢谢"),
    ("<somchai.s@mail.go.th>", "<[EMAIL]>"),
]

NEGATIVES = [
    "RM1,000",
    "Bantuan RM 1,000 dibayar pada 15 Januari",
    "70 dollars",
    "S$ 91234567",
    "100.000 đồng",
    "phí 1.000.000 đồng",
    "90.000.000 đồng",
    "Rp 1.500.000.000",
    "ค่าธรรมเนียม 2,500 บาท",
    "฿12000",
    "in 2026 and 2027",
    "2021 2022 2023 2024",
    "on 2026-11-26",
    "from 01.02.2026 - 05.02.2026",
    "ngày 26/11/2026",
    "09.30 - 10.30",
    "Section 12.3.4 of Act 1955",
    "Form IR8A, page 12-34",
    "postcode 50450 Kuala Lumpur",
    "version 1.2.3 on 192.168.1.10",
    "0.5 0.25 0.125",
    "8000 9000",
    "+10.000.000",
    "account 123456789012",
    "ref 1234567890123",
    "serial 1234567890123456",
    "IC 991331-14-5678",
    "MyKad 900101005678",
    "NIK 9901014101900001",
    "order A1234567B2",
    "sha 3f2a1234567890123456b",
    "1 2 3 4 5 6 7 8 9",
    "question: คุณสมบัติของผู้ขอรับเงินอุดหนุนคืออะไร",
    "",
]


@pytest.mark.parametrize(("text", "expected"), POSITIVES)
def test_redacts_personal_data(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize("text", NEGATIVES)
def test_keeps_ordinary_text_and_numbers(text: str) -> None:
    assert redact(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "สวัสดีครับ ผมชื่อสมชาย เลขบัตรประชาชน 1101700203450 โทร 081-234-5678 อีเมล somchai@example.co.th "
            "ขอสอบถามเรื่องเบี้ยยังชีพ 600 บาท ปี 2569",
            "สวัสดีครับ ผมชื่อสมชาย เลขบัตรประชาชน [THAI_ID] โทร [PHONE] อีเมล [EMAIL] "
            "ขอสอบถามเรื่องเบี้ยยังชีพ 600 บาท ปี 2569",
        ),
        (
            "我的身份证号码是S1234567D，电话+65 9123 4567，请帮我查询2026年的70元津贴。",
            "我的身份证号码是[NRIC]，电话[PHONE]，请帮我查询2026年的70元津贴。",
        ),
        (
            "Saya ada IC 900101-14-5678 dan nombor telefon 012-345 6789, bayaran RM1,000 pada 2026-11-26.",
            "Saya ada IC [MYKAD] dan nombor telefon [PHONE], bayaran RM1,000 pada 2026-11-26.",
        ),
        (
            "NIK saya 3201014101900001, HP 0812-3456-7890, bantuan Rp 1.500.000 bulan 11.2026.",
            "NIK saya [NIK], HP [PHONE], bantuan Rp 1.500.000 bulan 11.2026.",
        ),
        (
            "Số CCCD 079203012345, điện thoại 0912 345 678, phí 100.000 đồng, hạn 01.02.2026.",
            "Số CCCD [CCCD], điện thoại [PHONE], phí 100.000 đồng, hạn 01.02.2026.",
        ),
        (
            "Ang SSS ko ay 34-1234567-8 at cellphone 0917 123 4567; email juan@dole.gov.ph.",
            "Ang SSS ko ay [PH_ID] at cellphone [PHONE]; email [EMAIL].",
        ),
        (
            "Called 01.02.2026 0812 3456 7890 twice",
            "Called 01.02.2026 [PHONE] twice",
        ),
    ],
)
def test_mixed_sentences(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_unicode_digits_are_recognised() -> None:
    thai_digits = "".join(chr(0x0E50 + int(c)) for c in "1101700203450")
    assert redact(f"เลขบัตร {thai_digits}") == "เลขบัตร [THAI_ID]"
    fullwidth = "9123 4567".translate({ord(c): 0xFF10 + int(c) for c in "0123456789"})
    assert redact(f"電話 {fullwidth}") == "電話 [PHONE]"


def test_redaction_is_idempotent() -> None:
    once = redact(POSITIVES[0][0] + " " + POSITIVES[6][0] + " +65 9123 4567 ali@gov.sg")
    assert redact(once) == once
    assert "[NRIC]" in once
    assert "[MYKAD]" in once
    assert "[PHONE]" in once
    assert "[EMAIL]" in once


def test_checksum_helpers() -> None:
    assert nric_checksum_ok("S1234567D")
    assert nric_checksum_ok("m1234567k")
    assert nric_checksum_ok("T0123456G")
    assert not nric_checksum_ok("S1234567A")
    assert not nric_checksum_ok("X1234567D")
    assert thai_id_ok("1101700203450")
    assert not thai_id_ok("1101700203451")
    assert not thai_id_ok("0101700203450")
    assert nik_plausible("3201014101900001")
    assert not nik_plausible("3201017201900001")
    assert mykad_plausible("000229141234")
    assert not mykad_plausible("010229141234")
    assert not mykad_plausible("900101171234")
    assert mykad_plausible("900101171234", check_place=False)
    assert cccd_plausible("079203012345")
    assert not cccd_plausible("079503012345")
    assert luhn_ok("4111111111111111")
    assert not luhn_ok("4111111111111112")


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s|%(who)s|%(items)s"))
    handler.addFilter(RedactingFilter())
    log = logging.getLogger("tests.redaction.filter")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    yield log, stream
    log.removeHandler(handler)


def test_filter_redacts_args_and_extras(captured: tuple[logging.Logger, io.StringIO]) -> None:
    log, stream = captured
    log.info(
        "question from %s: %s",
        "ali@example.com",
        "my NRIC is S1234567D",
        extra={"who": "+65 9123 4567", "items": ["S1234567D", {"mail": "bob@example.org"}, 42]},
    )
    out = stream.getvalue()
    expected = "question from [EMAIL]: my NRIC is [NRIC]|[PHONE]|['[NRIC]', {'mail': '[EMAIL]'}, 42]"
    assert out.strip() == expected
    for secret in ("ali@example.com", "S1234567D", "9123 4567", "bob@example.org"):
        assert secret not in out


Captured = tuple[logging.Logger, io.StringIO]


def test_filter_redacts_tracebacks_and_survives_bad_args(captured: Captured) -> None:
    log, stream = captured
    try:
        raise ValueError("no citizen with IC 900101-14-5678")
    except ValueError:
        log.exception("lookup failed for %s", "0812-3456-7890", extra={"who": "x", "items": []})
    log.info("wrong %d args %s", "S1234567D", extra={"who": "y", "items": []})
    out = stream.getvalue()
    assert "lookup failed for [PHONE]" in out
    assert "ValueError: no citizen with IC [MYKAD]" in out
    assert "900101-14-5678" not in out
    assert "0812-3456-7890" not in out
    assert "wrong %d args %s ('[NRIC]',)" in out
    assert "S1234567D" not in out


def test_filter_leaves_record_formatting_consistent() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "id %s n=%d", ("S1234567D", 3), None)
    assert RedactingFilter().filter(record) is True
    assert record.getMessage() == "id [NRIC] n=3"
    assert record.args is None
