"""normalize_text: exact outputs for each cleaning step, and no change to clean text in any script."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.normalize import normalize_text

# Realistic, already clean sentences (NFC, single spaces): normalization must leave them untouched.
CLEAN_SENTENCES = {
    "th": "กระทรวงการคลังประกาศมาตรการช่วยเหลือผู้ประกอบการขนาดเล็ก โดยให้ยื่นคำขอผ่านเว็บไซต์ภายในวันที่ 30 กันยายน 2567",
    "lo": "ກະຊວງສາທາລະນະສຸກ ແຈ້ງໃຫ້ປະຊາຊົນໄປສັກຢາກັນພະຍາດ ຢູ່ໂຮງໝໍໃກ້ບ້ານ ຕາມຄຳແນະນຳຂອງແພດ.",
    "km": "ក្រសួងសុខាភិបាលបានណែនាំឱ្យប្រជាពលរដ្ឋទៅចាក់វ៉ាក់សាំងនៅមណ្ឌលសុខភាពជិតផ្ទះ។",
    "my": "ကျန်းမာရေးဝန်ကြီးဌာနက ပြည်သူများ ကာကွယ်ဆေး ထိုးနှံရန် အကြံပြုထားသည့် ကြေညာချက်။",
    "ta": "சுகாதார அமைச்சகம் பொதுமக்கள் அருகிலுள்ள மருத்துவமனையில் தடுப்பூசி போட்டுக்கொள்ள வேண்டும் என்று அறிவுறுத்தியுள்ளது.",
    "zh": "财政部宣布为小型企业提供援助措施，申请截止日期为9月30日。",
    "vi": "Bộ Tài chính công bố các biện pháp hỗ trợ doanh nghiệp nhỏ và vừa trong năm 2024.",
    "ms": "Kerajaan mengumumkan bantuan tunai kepada isi rumah berpendapatan rendah mulai bulan Julai.",
    "id": "Pemerintah mengumumkan bantuan langsung tunai bagi keluarga berpenghasilan rendah.",
    "tl": "Inanunsyo ng pamahalaan ang tulong pinansyal para sa mga pamilyang may mababang kita.",
    "en": "The Ministry of Finance announced relief measures for small businesses.\n\nApply online.",
}


@pytest.mark.parametrize("lang", sorted(CLEAN_SENTENCES))
def test_clean_sentences_round_trip_unchanged(lang: str) -> None:
    text = CLEAN_SENTENCES[lang]
    assert unicodedata.is_normalized("NFC", text)
    assert normalize_text(text) == text


def test_empty_and_whitespace_only() -> None:
    assert normalize_text("") == ""
    assert normalize_text(" \n\t\u00a0\u200b\n ") == ""


def test_bom_zero_width_bidi_and_controls_removed() -> None:
    text = "\ufeffTax\u200b form\u2060 A\x00B\x07C \u200eD\u202bE\u202c\x7f\x9f"
    assert normalize_text(text) == "Tax form ABC DE"


def test_khmer_zwsp_removed_words_rejoined_as_readers_see_them() -> None:
    text = "ក្រសួង\u200bសុខាភិបាល\u200bបាន\u200bណែនាំ ឱ្យ\u200bប្រជាពលរដ្ឋ"
    assert normalize_text(text) == "ក្រសួងសុខាភិបាលបានណែនាំ ឱ្យប្រជាពលរដ្ឋ"


def test_zwsp_after_space_from_machine_translation() -> None:
    assert normalize_text("The AI \u200b\u200bsystem is now") == "The AI system is now"
    assert normalize_text("ที่อยู่\u200bอาศัย") == "ที่อยู่อาศัย"


def test_meaningful_joiners_kept() -> None:
    tamil_no_ligature = "க்\u200cஷ"  # ZWNJ blocks the க்ஷ conjunct
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    khmer = "ព្រះ\u200cរាជ"
    assert normalize_text(tamil_no_ligature) == tamil_no_ligature
    assert normalize_text(family) == family
    assert normalize_text(khmer) == khmer


def test_useless_joiners_removed() -> None:
    assert normalize_text("shelf\u200cful of 2\u200d0 files") == "shelfful of 20 files"
    assert normalize_text("\u200dstart and end\u200c \u200cword\u200d\nnext") == "start and end word\nnext"


def test_soft_hyphens_removed_and_line_break_joined() -> None:
    assert normalize_text("co\u00adoperation") == "cooperation"
    assert normalize_text("infor\u00ad\nmation and infor\u00ad \r\n mation") == "information and information"


def test_latin_ligatures_and_spaces() -> None:
    text = "\ufb01nance o\ufb03ce\u00a0\u00a0and\u2003staff\t\tlist"
    assert normalize_text(text) == "finance office and staff list"


def test_line_endings_and_paragraph_breaks() -> None:
    text = "Line one  \r\nline two\r\n\r\n\r\n\r\n  Para two\x0cPage two\u2029Para three\rend"
    assert normalize_text(text) == "Line one\nline two\n\nPara two\n\nPage two\n\nPara three\nend"


def test_hyphenation_joined_for_broken_latin_words() -> None:
    assert normalize_text("The govern-\nment and the minis-  \n  try") == "The government and the ministry"
    assert normalize_text("kesejah-\nteraan rakyat") == "kesejahteraan rakyat"


def test_hyphenation_kept_for_compounds_reduplication_and_names() -> None:
    text = "A well-known rule, well-\nknown again; undang-\nundang; Kuala-\nLumpur; COVID-\n19"
    expected = "A well-known rule, well-known again; undang-undang; Kuala-\nLumpur; COVID-\n19"
    assert normalize_text(text) == expected


def test_hyphenation_left_alone_across_paragraphs_and_chains() -> None:
    assert normalize_text("govern-\n\nment") == "govern-\n\nment"
    assert normalize_text("state-of-the-\nart") == "state-of-the-\nart"


def test_thai_decomposed_sara_am_composed() -> None:
    assert normalize_text("สําหรับ") == "สำหรับ"  # ส + ํ + า -> ส + ำ
    assert normalize_text("น\u0e49\u0e4d\u0e32") == "น\u0e49\u0e33"  # tone mark before nikhahit
    assert normalize_text("น\u0e4d\u0e49\u0e32") == "น\u0e49\u0e33"  # tone mark after nikhahit
    assert normalize_text("สิ่งอํานวยความสะดวก") == "สิ่งอำนวยความสะดวก"


def test_thai_leading_vowels_and_lone_nikhahit_untouched() -> None:
    text = "เมื่อ แม่ โรงเรียน ใจ ไป สํ"
    assert normalize_text(text) == text


def test_lao_am_only_when_asked() -> None:
    decomposed = "ນ\u0ec9\u0ecd\u0eb2 ແລະ ຄ\u0ecd\u0eb2"
    assert normalize_text(decomposed) == decomposed
    assert normalize_text(decomposed, lao_am=True) == "ນ\u0ec9\u0eb3 ແລະ ຄ\u0eb3"


def test_vietnamese_decomposed_and_windows_1258_composed() -> None:
    nfd = unicodedata.normalize("NFD", CLEAN_SENTENCES["vi"])
    assert nfd != CLEAN_SENTENCES["vi"]
    assert normalize_text(nfd) == CLEAN_SENTENCES["vi"]
    # Windows-1258 style: precomposed base vowel (ê, ô, ơ) plus a combining tone mark.
    assert normalize_text("Vi\u00ea\u0323t Nam") == "Vi\u1ec7t Nam"
    assert normalize_text("Th\u00e0nh ph\u00f4\u0301 H\u00f4\u0300 Ch\u00ed Minh") == "Thành phố Hồ Chí Minh"
    assert normalize_text("th\u01a1\u0300i gian") == "thời gian"
    assert normalize_text("kho\u0341a") == "khóa"  # deprecated U+0341 tone mark


def test_burmese_asat_dot_below_canonically_ordered() -> None:
    # U+103A U+1037 and U+1037 U+103A are canonically equivalent; NFC stores the latter.
    assert normalize_text("သည\u103a\u1037") == "သည\u1037\u103a"


_ALPHABET = [*"ab Zé-\n\r\t", "\u00ad", "\u200b", "\u200c", "\u200d", "\ufeff", "\u0301", "\u00a0", "\x0c"]
_ALPHABET += ["ก", "\u0e4d", "\u0e32", "\u0e49", "ນ", "\u0ecd", "\u0eb2", "\u103a", "\u1037"]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(_ALPHABET), max_size=40))
def test_idempotent_and_clean(text: str) -> None:
    once = normalize_text(text)
    assert normalize_text(once) == once
    assert unicodedata.is_normalized("NFC", once)
    assert not any(ch in once for ch in "\u00ad\u200b\ufeff\r\t\x0c\u00a0")
    assert "  " not in once
    assert "\n\n\n" not in once
    assert once == once.strip()
