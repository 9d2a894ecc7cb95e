"""LanguageDetector: script routing, the Latin-script model, Malay vs Indonesian, settings, eval data."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from pydantic import ValidationError

from indices.language import (
    SUPPORTED_LANGUAGES,
    Detection,
    LanguageDetector,
    LanguageSettings,
    malay_indonesian_evidence,
)

EVAL_DIR = Path(__file__).resolve().parents[2] / "shared" / "eval"

# Sentences written for these tests (government-service register), one per language.
SENTENCES = {
    "en": "Applications for the small business grant must be submitted online before the end of September.",
    "ms": "Permohonan geran perniagaan kecil hendaklah dihantar secara dalam talian sebelum akhir bulan "
    "September kerana kerajaan akan menutup sistem selepas tarikh tersebut.",
    "id": "Permohonan bantuan usaha kecil harus diajukan secara daring sebelum akhir bulan September karena "
    "pemerintah akan menutup sistem setelah tanggal tersebut.",
    "tl": "Ang mga aplikasyon para sa tulong sa maliliit na negosyo ay dapat isumite online bago matapos "
    "ang buwan ng Setyembre.",
    "vi": "Hồ sơ xin trợ cấp cho doanh nghiệp nhỏ phải được nộp trực tuyến trước cuối tháng Chín.",
    "th": "ผู้ประกอบการขนาดเล็กต้องยื่นคำขอรับเงินช่วยเหลือทางออนไลน์ก่อนสิ้นเดือนกันยายน",
    "lo": "ຜູ້ປະກອບການຂະໜາດນ້ອຍຕ້ອງຍື່ນຄຳຮ້ອງຂໍເງິນຊ່ວຍເຫຼືອທາງອອນລາຍກ່ອນທ້າຍເດືອນກັນຍາ",
    "km": "សហគ្រាសខ្នាតតូចត្រូវដាក់ពាក្យស្នើសុំជំនួយតាមប្រព័ន្ធអនឡាញមុនចុងខែកញ្ញា។",
    "my": "အသေးစားလုပ်ငန်းများသည် စက်တင်ဘာလကုန်မတိုင်မီ အွန်လိုင်းမှ အထောက်အပံ့ လျှောက်ထားရမည်။",
    "ta": "சிறு வணிக மானியத்திற்கான விண்ணப்பங்களை செப்டம்பர் இறுதிக்குள் இணையத்தில் சமர்ப்பிக்க வேண்டும்.",
    "zh": "小型企业补助申请必须在九月底之前通过网上提交。",
}

QUESTIONS = {
    "en": "How do I renew my passport?",
    "ms": "Bagaimanakah cara memohon lesen perniagaan daripada pejabat kerajaan?",
    "id": "Bagaimana cara mengurus izin usaha di kantor pemerintah?",
    "tl": "Paano mag-renew ng pasaporte?",
    "vi": "Làm thế nào để gia hạn hộ chiếu?",
    "th": "ต่ออายุหนังสือเดินทางอย่างไร",
    "lo": "ຕໍ່ອາຍຸໜັງສືຜ່ານແດນແນວໃດ?",
    "km": "តើខ្ញុំអាចបន្តលិខិតឆ្លងដែនដោយរបៀបណា?",
    "my": "နိုင်ငံကူးလက်မှတ် သက်တမ်းတိုးရန် ဘယ်လိုလုပ်ရမလဲ။",
    "ta": "கடவுச்சீட்டை எவ்வாறு புதுப்பிப்பது?",
    "zh": "如何更新护照？",
}


@pytest.fixture(scope="module")
def detector() -> LanguageDetector:
    det = LanguageDetector()
    det.warm_up()
    return det


@pytest.mark.parametrize("lang", sorted(SENTENCES))
def test_sentence_in_each_language(detector: LanguageDetector, lang: str) -> None:
    found = detector.detect_with_confidence(SENTENCES[lang])
    assert found.lang == lang
    assert found.confidence >= 0.5
    assert detector.detect(SENTENCES[lang]) == lang


@pytest.mark.parametrize("lang", sorted(QUESTIONS))
def test_short_question_in_each_language(detector: LanguageDetector, lang: str) -> None:
    assert detector.detect(QUESTIONS[lang]) == lang


def test_all_supported_languages_covered() -> None:
    assert set(SENTENCES) == set(SUPPORTED_LANGUAGES)


def test_non_latin_script_wins_over_latin_names(detector: LanguageDetector) -> None:
    assert detector.detect("อะไรคือ ASUS Eee PC") == "th"
    assert detector.detect("ASUS Eee PC က ဘာလဲ။") == "my"
    assert detector.detect("Wiki Loves Monuments คืออะไร") == "th"
    # ...but a Thai name inside a long English sentence leaves it English.
    english = (
        "The Ministry of Finance (กระทรวงการคลัง) published its annual budget report for small businesses."
    )
    assert detector.detect(english) == "en"


def test_empty_and_letterless_text_is_undetermined(detector: LanguageDetector) -> None:
    assert detector.detect_with_confidence("") == Detection("und", 0.0)
    assert detector.detect_with_confidence("  12/09/2024 — 45.6% !! ") == Detection("und", 0.0)
    assert detector.detect("x") == "und"


def test_unserved_languages_are_undetermined(detector: LanguageDetector) -> None:
    assert detector.detect("Comment puis-je renouveler mon passeport auprès de la préfecture ?") == "und"
    assert detector.detect("Wie kann ich meinen Reisepass bei der Stadtverwaltung verlängern?") == "und"
    assert detector.detect("パスポートを更新するにはどうすればよいですか") == "und"
    assert detector.detect("여권을 갱신하려면 어떻게 해야 하나요?") == "und"
    assert detector.detect("Как продлить паспорт?") == "und"


def test_malay_indonesian_evidence_sign() -> None:
    assert malay_indonesian_evidence("Kerajaan akan memberi wang percuma kerana undang-undang baharu") > 4
    assert malay_indonesian_evidence("Pemerintah akan memberi uang gratis karena undang-undang baru") < -4
    assert malay_indonesian_evidence("kualiti universiti dan televisyen") == pytest.approx(5.5)
    assert malay_indonesian_evidence("kualitas universitas dan peneliti") == pytest.approx(-3.0)
    assert malay_indonesian_evidence("Saya pergi ke pasar") == 0.0


def test_malay_indonesian_pairs(detector: LanguageDetector) -> None:
    pairs = [
        ("Sila isi borang permohonan dan hantar ke pejabat daerah.", "ms"),
        ("Silakan isi formulir permohonan dan kirim ke kantor kecamatan.", "id"),
        ("Berapakah peratus cukai yang dikenakan oleh kerajaan negeri?", "ms"),
        ("Berapa persen pajak yang dikenakan oleh pemerintah provinsi?", "id"),
    ]
    assert [(detector.detect(text), want) for text, want in pairs] == [(want, want) for _, want in pairs]


def test_lexicon_can_be_switched_off() -> None:
    text = "Apakah syarat untuk memohon bantuan daripada kerajaan negeri?"
    with_lexicon = LanguageDetector().detect_with_confidence(text)
    without = LanguageDetector(LanguageSettings(malay_indonesian_lexicon=False)).detect_with_confidence(text)
    assert with_lexicon.lang == "ms"
    assert with_lexicon.confidence > without.confidence or without.lang != "ms"


def test_allowed_languages_restrict_answers() -> None:
    det = LanguageDetector(LanguageSettings(allowed=["en", "ms"]))
    assert det.detect(SENTENCES["th"]) == "und"
    assert det.detect(SENTENCES["ms"]) == "ms"
    assert det.detect(SENTENCES["id"]) == "und"  # Indonesian is not Malay, even when id is not allowed
    only_malay = LanguageDetector(LanguageSettings(allowed=["ms"]))
    assert only_malay.detect(SENTENCES["ms"]) == "ms"
    assert only_malay.detect(SENTENCES["en"]) == "und"
    only_thai = LanguageDetector(LanguageSettings(allowed=["th"], default="xx"))
    assert only_thai.detect(SENTENCES["en"]) == "xx"
    assert only_thai.detect(SENTENCES["th"]) == "th"


def test_min_confidence_turns_guesses_into_default() -> None:
    det = LanguageDetector(LanguageSettings(min_confidence=0.99))
    guess = det.detect_with_confidence("Apa itu GST?")
    assert guess.lang in ("ms", "id")
    assert guess.confidence < 0.99
    assert det.detect("Apa itu GST?") == "und"
    assert det.detect(SENTENCES["th"]) == "th"  # pure Thai script: confidence 1.0


def test_settings_reject_unknown_codes() -> None:
    with pytest.raises(ValidationError, match=r"unsupported code\(s\) \['fil'\].*Filipino is 'tl'"):
        LanguageSettings(allowed=["en", "fil"])
    with pytest.raises(ValidationError, match="empty"):
        LanguageSettings(allowed=[])


def test_long_documents_are_sampled(detector: LanguageDetector) -> None:
    body = (SENTENCES["vi"] + "\n") * 5000
    assert len(body) > 100 * detector.settings.max_chars
    assert detector.detect(body) == "vi"
    mixed = SENTENCES["th"] * 200 + SENTENCES["en"] * 20
    assert detector.detect(mixed) == "th"


def test_detect_many_keeps_order(detector: LanguageDetector) -> None:
    langs = ["km", "en", "zh", "tl", "lo"]
    found = detector.detect_many(SENTENCES[lang] for lang in langs)
    assert [d.lang for d in found] == langs


def test_urls_and_emails_do_not_decide(detector: LanguageDetector) -> None:
    text = "Sila hubungi kami di https://www.example.gov.my/en/contact atau info@example.gov.my"
    text += " untuk maklumat"
    assert detector.detect(text) == "ms"


@pytest.mark.skipif(not EVAL_DIR.is_dir(), reason="shared eval data not present")
def test_eval_sample_accuracy(detector: LanguageDetector) -> None:
    per_lang: dict[str, list[str]] = defaultdict(list)
    for path in sorted((EVAL_DIR / "corpus").glob("*.jsonl")):
        if path.name == "xling-en.jsonl":
            continue
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                row = json.loads(line)
                if len(per_lang[row["lang"]]) < 40:
                    per_lang[row["lang"]].append(row["text"])
    assert set(per_lang) == set(SUPPORTED_LANGUAGES)
    correct = Counter(lang for lang, texts in per_lang.items() for t in texts if detector.detect(t) == lang)
    for lang, texts in per_lang.items():
        assert correct[lang] / len(texts) >= 0.9, (lang, correct[lang], len(texts))
