"""Citation verification (`rag.citations.verify`) on real sample-corpus text: markers are checked against
the sources given to the model, never trusted, and each kept citation quotes the sentence supporting it."""

from __future__ import annotations

from typing import Any

import pytest

from govrag import sample_corpus
from indices.schema import ChunkRecord, Hit
from rag.citations import attribute, find_markers, numbers, strip_markers, verify


def _hit(doc_id: str, text: str, page: int | None = None) -> Hit:
    return Hit(ChunkRecord(doc_id=doc_id, chunk_no=0, text=text, title=doc_id, page=page, lang="en"), 1.0)


FEE = (
    "You need a recent colour photograph with a white background, taken within the last three months, and "
    "your current passport. The renewal fee is 70 dollars, paid by card when you submit the application."
)
COLLECT = (
    "Your new passport is ready for collection within 10 working days. Bring your old passport, which will "
    "be cancelled and returned to you."
)
SOURCES = [_hit("passport-fee", FEE), _hit("passport-collect", COLLECT, page=3)]


def test_markers_in_all_the_shapes_models_write() -> None:
    text = "A [1]. B [1, 2]. C [1][2]. D 【2】. E \uff3b1\uff3d. F [3\uff0c4]."
    assert [nums for _, _, nums in find_markers(text)] == [[1], [1, 2], [1], [2], [2], [1], [3, 4]]
    assert strip_markers("The fee is 70 dollars [1].") == "The fee is 70 dollars ."


def test_out_of_range_markers_are_removed_and_valid_ones_quoted() -> None:
    v = verify("The renewal fee is 70 dollars [1][7]. Collection takes 10 working days [2, 9].", SOURCES)
    assert v.text == "The renewal fee is 70 dollars [1]. Collection takes 10 working days [2]."
    assert v.removed_markers == [7, 9]
    assert [(c.n, c.doc_id) for c in v.citations] == [(1, "passport-fee"), (2, "passport-collect")]
    assert (
        v.citations[0].quote == "The renewal fee is 70 dollars, paid by card when you submit the application."
    )
    assert v.citations[1].quote == "Your new passport is ready for collection within 10 working days."
    assert v.citations[1].page == 3
    assert v.grounded


@pytest.mark.parametrize("answer", ["The fee is 70 dollars [3].", "The fee is 70 dollars.", "[0] Seventy."])
def test_answer_without_a_valid_marker_is_not_grounded(answer: str) -> None:
    v = verify(answer, SOURCES)
    assert v.citations == []
    assert not v.grounded
    assert "[3]" not in v.text
    assert "[0]" not in v.text


def test_marker_cleanup_keeps_punctuation_tidy() -> None:
    v = verify("The fee is 70 dollars [9]. It is paid by card [1] .", SOURCES)
    assert v.text == "The fee is 70 dollars. It is paid by card [1]."


def test_each_citation_quotes_the_sentence_supporting_its_claim() -> None:
    pdf_page_2 = " ".join(sample_corpus.FLOOD_EN_PDF_PAGES[1])
    v = verify("An officer inspects the house within 7 days [1].", [_hit("flood", pdf_page_2, page=2)])
    [c] = v.citations
    assert c.quote == "An officer will inspect the house within 7 days."
    assert c.page == 2


def test_thai_and_chinese_answers_are_verified_too() -> None:
    th = " ".join(t for kind, t in sample_corpus.BUSINESS_TH if kind == "text")
    v = verify("ค่าธรรมเนียมการจดทะเบียนครั้งแรกคือ 50 บาท [1]", [_hit("th", th)])
    assert v.citations[0].quote == "ค่าธรรมเนียมการจดทะเบียนครั้งแรกคือ 50 บาท"
    zh = sample_corpus.PASSPORT_ZH.split("## 领取护照")[1].strip()
    v = verify("新护照十个工作日内可领取【1】。", [_hit("zh", zh)])
    assert v.citations[0].quote == "新护照将在十个工作日内可供领取。"
    assert v.text == "新护照十个工作日内可领取[1]。"


def test_claims_and_cited_sentences_are_embedded_in_one_pass(embedder: Any) -> None:
    """Verification embeds every claim and every sentence of the cited chunks once, in one call (it
    was one call per claim, re-embedding a chunk for each claim citing it), with the same quotes."""
    calls: list[list[str]] = []

    def encode(texts: Any) -> Any:
        calls.append(list(texts))
        return embedder.embed_passages(list(texts))

    answer = "The fee is 70 dollars [1]. Pay by card [1]. Collect it within 10 working days [2][1]."
    v = verify(answer, SOURCES, encode)
    assert len(calls) == 1
    assert len(calls[0]) == len(set(calls[0]))
    single = {c.n: c.quote for c in v.citations}
    assert single == {
        1: "The renewal fee is 70 dollars, paid by card when you submit the application.",
        2: "Your new passport is ready for collection within 10 working days.",
    }
    # the same quotes as embedding each claim with its chunk separately
    per_claim = verify(answer, SOURCES, lambda t: embedder.embed_passages(list(t)))
    assert {c.n: c.quote for c in per_claim.citations} == single


@pytest.mark.parametrize("answer", ["[1] [2][3]", "[1]", "【2】。", " [1], [2] "])
def test_markers_without_a_claim_cite_nothing(answer: str) -> None:
    """The 0.5B model answered "[1] [2][3]" and it passed as grounded: a marker states nothing."""
    v = verify(answer, SOURCES)
    assert v.citations == []
    assert v.grounded is False


def test_markers_on_their_own_line_cite_the_claim_before_them() -> None:
    v = verify("The renewal fee is 70 dollars.\n[1]", SOURCES)
    assert [c.n for c in v.citations] == [1]
    assert v.citations[0].quote.startswith("The renewal fee is 70 dollars")


# ---- numbers pick the quote, and cite what a small model left unmarked

RENEW = (
    "Renew your passport online at least six months before it expires. You need a recent digital photo and "
    "your current passport. The renewal fee is 70 dollars, paid by card when you submit the application. "
    "Collect the new passport within 30 days."
)
FLOOD = (
    "Households affected by floods receive a one-off grant of 1,000 ringgit. Payment is credited to the "
    "applicant's bank account within 14 days after verification."
)
FEE_MS = "Bayaran untuk memperbaharui pasport adalah 70 dollars."  # what the 0.5B model wrote, no marker


def _encoder(embedder: Any) -> Any:
    return lambda texts: embedder.embed_passages(list(texts))


def test_numbers_are_read_across_scripts_and_separators() -> None:
    assert numbers("ค่าธรรมเนียม ๗๐ ดอลลาร์") == {"70"}  # Thai digits
    assert numbers("၇၀ ဒေါ်လာ") == {"70"}  # Burmese digits
    assert numbers("100.000 đồng") == numbers("100,000 dong") == numbers("100000") == {"100000"}
    assert numbers("1,5 km and 2.25 kg") == {"1.5", "2.25"}
    assert numbers("no digits here") == set()


def test_cross_language_quote_is_the_sentence_stating_the_claims_number(embedder: Any) -> None:
    """e5-small ranks "Collect the new passport within 30 days." above the fee sentence for this Malay
    claim; the number decides."""
    v = verify(FEE_MS.replace(".", " [1]."), [_hit("renew", RENEW)], _encoder(embedder))
    assert [c.quote for c in v.citations] == [
        "The renewal fee is 70 dollars, paid by card when you submit the application."
    ]


def test_unmarked_claim_is_cited_where_a_source_states_its_number(embedder: Any) -> None:
    sources = [_hit("flood", FLOOD), _hit("renew", RENEW)]
    encode = _encoder(embedder)
    v = attribute(verify(FEE_MS, sources, encode), sources, encode, min_score=0.5)
    assert v.text == "Bayaran untuk memperbaharui pasport adalah 70 dollars [2]."
    assert v.grounded
    [c] = v.citations
    assert (c.n, c.doc_id, c.attributed) == (2, "renew", True)
    assert c.quote == "The renewal fee is 70 dollars, paid by card when you submit the application."
    assert verify(v.text, sources, encode).citations[0].quote == c.quote  # the marker now checks out


@pytest.mark.parametrize(
    "answer",
    [
        "Phí gia hạn hộ chiếu là 100.000 đồng.",  # a number no source states (the 0.5B made it up)
        "Anda boleh memperbaharui pasport dalam talian.",  # no number: meaning alone is not evidence
    ],
)
def test_unmarked_claims_without_a_stated_number_stay_uncited(embedder: Any, answer: str) -> None:
    sources = [_hit("flood", FLOOD), _hit("renew", RENEW)]
    encode = _encoder(embedder)
    v = attribute(verify(answer, sources, encode), sources, encode, min_score=0.5)
    assert v.text == answer
    assert not v.grounded


def test_attribution_keeps_marked_citations_and_respects_the_floor(embedder: Any) -> None:
    sources = [_hit("collect", COLLECT), _hit("renew", RENEW)]
    encode = _encoder(embedder)
    answer = "Collect it within 10 working days [1]. The fee is 70 dollars."
    v = attribute(verify(answer, sources, encode), sources, encode, min_score=0.5)
    assert v.text == "Collect it within 10 working days [1]. The fee is 70 dollars [2]."
    assert [(c.doc_id, c.attributed) for c in v.citations] == [("collect", False), ("renew", True)]
    strict = attribute(verify(answer, sources, encode), sources, encode, min_score=0.99)
    assert strict.text == answer
    assert [c.doc_id for c in strict.citations] == ["collect"]
