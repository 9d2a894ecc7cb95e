"""Sentence segmentation (indices.sentences): the unit of quotes in citations and extractive answers."""

from __future__ import annotations

import pytest

from indices.sentences import sentence_spans, split_sentences


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "The fee is 70 dollars. Apply online, e.g. at a kiosk. Dr. Tan signs it.",
            ["The fee is 70 dollars.", "Apply online, e.g. at a kiosk.", "Dr. Tan signs it."],
        ),
        ("Rates rose 1.5 percent! Why? Costs.", ["Rates rose 1.5 percent!", "Why?", "Costs."]),
        ("护照续签需要七天。费用为七十元！", ["护照续签需要七天。", "费用为七十元！"]),
        ("ยื่นคำขอทางออนไลน์ได้ ค่าธรรมเนียม 1,000 บาท", ["ยื่นคำขอทางออนไลน์ได้", "ค่าธรรมเนียม 1,000 บาท"]),
        ("လျှောက်လွှာတင်ပါ။ အခကြေးငွေပေးပါ။", ["လျှောက်လွှာတင်ပါ။", "အခကြေးငွေပေးပါ။"]),
        ("ដាក់ពាក្យតាមអ៊ីនធឺណិត។ បង់ថ្លៃ។", ["ដាក់ពាក្យតាមអ៊ីនធឺណិត។", "បង់ថ្លៃ។"]),
    ],
)
def test_sentences_per_script(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


def test_a_wrapped_line_does_not_end_the_sentence() -> None:
    text = (
        "Applicants who renew their passport at a kiosk must bring\n"
        "the old passport and one photograph.\n"
        "Section 4\n"
        "Fees are paid by card.\n\n"
        "applications close in May.\n"
        "- bring the form\n"
        "- bring a photo\n"
        "护照续签需要\n七天。"
    )
    assert split_sentences(text) == [
        "Applicants who renew their passport at a kiosk must bring\nthe old passport and one photograph.",
        "Section 4",  # next line starts upper-case: a heading, its own unit
        "Fees are paid by card.",
        "applications close in May.",  # a blank line always ends a sentence
        "- bring the form",
        "- bring a photo",
        "护照续签需要\n七天。",
    ]


def test_thai_lines_and_spans_point_into_the_text() -> None:
    text = "  ยื่นคำขอทางออนไลน์\nชำระค่าธรรมเนียม  "
    spans = sentence_spans(text)
    assert [text[a:b] for a, b in spans] == ["ยื่นคำขอทางออนไลน์", "ชำระค่าธรรมเนียม"]
    assert split_sentences("a. Bb") == ["a. Bb"]  # a single-letter initial does not end a sentence
    assert split_sentences("Ok. Fine.", min_chars=4) == ["Fine."]
