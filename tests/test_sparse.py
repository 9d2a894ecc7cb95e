"""The BM25 sparse encoder: segmentation per script, document/query agreement, normalization, stable ids,
and keyword retrieval through a real Qdrant Edge shard with the IDF modifier (as the index uses it)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from indices.schema import SparseVec
from indices.segment import _units_km, _units_lo, _units_my, _units_th
from indices.sparse import BIGRAM_BIT, SparseEncoder, SparseEncoderSettings, term_id

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def enc() -> SparseEncoder:
    return SparseEncoder()


@pytest.fixture(scope="module")
def words_only() -> SparseEncoder:
    """Dictionary words without the unit bigrams: what the ICU segmentation itself produced."""
    return SparseEncoder(SparseEncoderSettings(unit_bigrams=False))


# ---------------------------------------------------------------- segmentation, one script at a time


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Thai: "The Ministry of Public Health announced new measures"
        ("กระทรวงสาธารณสุขประกาศมาตรการใหม่", ["กระทรวง", "สาธารณสุข", "ประกาศ", "มาตรการ", "ใหม่"]),
        # Chinese: "The State Council issued a new tax policy." (了 and 的 are stop words)
        ("国务院发布了新的税收政策。", ["国务院", "发布", "新的", "税收", "政策"]),
        # Burmese: "The Ministry of Health released a new vaccine." (က, ကို, ခဲ့, သည် are particles)
        (
            "ကျန်းမာရေးဝန်ကြီးဌာနက ကာကွယ်ဆေးအသစ်ကို ထုတ်ပြန်ခဲ့သည်။",
            ["ကျန်းမာရေး", "ဝန်ကြီးဌာန", "ကာကွယ်ဆေး", "အသစ်", "ထုတ်", "ပြန်"],
        ),
        # Khmer: "The Ministry of Health announced new measures"
        ("ក្រសួងសុខាភិបាលបានប្រកាសវិធានការថ្មី", ["ក្រសួងសុខាភិបាល", "បាន", "ប្រកាស", "វិធានការ", "ថ្មី"]),
        # Lao: "The Ministry of Public Health announced new measures"
        ("ກະຊວງສາທາລະນະສຸກໄດ້ປະກາດມາດຕະການໃໝ່", ["ກະຊວງສາທາລະນະສຸກ", "ໄດ້", "ປະກາດ", "ມາດ", "ຕະການ", "ໃໝ່"]),
        # Vietnamese keeps its diacritics (bán/bàn/bạn differ); đã/về are stop words; hòa -> hoà.
        (
            "Bộ Y tế đã công bố biện pháp mới về hòa bình",
            ["bộ", "y", "tế", "công", "bố", "biện", "pháp", "mới", "hoà", "bình"],
        ),
        # English: stop words out, Snowball stems.
        ("The Ministry of Health announced new measures", ["ministri", "health", "announc", "new", "measur"]),
        # Malay: reduplication splits into two words; no English stemming damage.
        (
            "Kementerian Kesihatan mengumumkan langkah-langkah baharu",
            ["kementerian", "kesihatan", "mengumumkan", "langkah", "langkah", "baharu"],
        ),
        # Tamil: Snowball Tamil stem plus a 5-code-point prefix for longer words.
        ("சுகாதார அமைச்சகம் அறிவித்தது", ["சுகாதார", "சுகாத", "அமைச்சகம்", "அமைச்", "அறிவி"]),
    ],
)
def test_dictionary_words_per_script(words_only: SparseEncoder, text: str, expected: list[str]) -> None:
    assert words_only.tokens(text) == expected


def test_burmese_syllables() -> None:
    # Kinzi (င်္) stays with its syllable; the asat-killed consonant closes the syllable before it.
    assert _units_my("ကျန်းမာရေးဝန်ကြီးဌာန") == ["ကျန်း", "မာ", "ရေး", "ဝန်", "ကြီး", "ဌာ", "န"]
    assert _units_my("အင်္ဂလိပ်") == ["အင်္ဂ", "လိပ်"]


def test_khmer_clusters() -> None:
    # Subscripts (COENG) stay with their cluster; a bantoc-marked final stays in its syllable.
    assert _units_km("ក្រសួងសុខាភិបាល") == ["ក្រ", "សួ", "ង", "សុ", "ខា", "ភិ", "បា", "ល"]
    assert _units_km("កាត់") == ["កាត់"]


def test_thai_and_lao_clusters() -> None:
    # Leading vowels (เ, ເ) stay with the consonant they precede; marks stay with their consonant.
    assert _units_lo("ເຂົ້າໃຈ") == ["ເຂົ້າ", "ໃຈ"]
    assert _units_th("เรียนรู้") == ["เรี", "ย", "น", "รู้"]


def test_unspaced_scripts_add_unit_bigrams(enc: SparseEncoder) -> None:
    # The ICU dictionary keeps "Ministry of Health" as one compound; bigrams let "health" alone match.
    assert enc.tokens("ក្រសួងសុខាភិបាល") == [
        "ក្រសួងសុខាភិបាល",
        "ក្រ_សួ",
        "សួ_ង",
        "ង_សុ",
        "សុ_ខា",
        "ខា_ភិ",
        "ភិ_បា",
        "បា_ល",
    ]
    assert enc.tokens("税收政策") == ["税收", "政策", "税_收", "收_政", "政_策"]


def test_rules_segmenter_needs_no_dictionary() -> None:
    rules = SparseEncoder(SparseEncoderSettings(segmenter="rules", unit_bigrams=False))
    assert rules.tokens("ကျန်းမာရေး") == ["ကျန်း", "မာ", "ရေး"]
    assert rules.tokens("税收") == ["税", "收"]
    assert rules.identity != SparseEncoder().identity


def test_astral_han_characters_keep_their_text(words_only: SparseEncoder) -> None:
    # ICU reports UTF-16 offsets; a CJK Extension B character must not shift the words after it.
    tokens = words_only.tokens("𠀀税收政策")
    assert "".join(tokens).endswith("税收政策")
    assert "".join(tokens) == "𠀀税收政策"


# ---------------------------------------------------------------- documents vs queries


@pytest.mark.parametrize(
    "text",
    [
        "กรมสรรพากรขยายเวลายื่นแบบภาษีเงินได้บุคคลธรรมดา",
        "国家税务总局延长了个人所得税申报期限。",
        "အခွန်ဦးစီးဌာနက ဝင်ငွေခွန်ပေးဆောင်ရမည့်ရက်ကို တိုးမြှင့်ခဲ့သည်။",
        "The Revenue Department extended the income-tax deadline to 30 April 2025.",
        "Tổng cục Thuế gia hạn nộp thuế thu nhập cá nhân",
    ],
)
def test_query_and_document_share_terms(enc: SparseEncoder, text: str) -> None:
    doc, query = enc.encode_document(text), enc.encode_query(text)
    assert query.indices == doc.indices == sorted(set(doc.indices))
    assert query.values == [1.0] * len(query.indices)
    assert all(0 < v < enc.settings.k + 1 for v in doc.values)


def test_document_weights_are_bm25_tf(enc: SparseEncoder) -> None:
    s = enc.settings
    vec = enc.encode_document("budget budget budget health")  # 4 words, no bigrams
    weights = dict(zip(vec.indices, vec.values, strict=True))
    norm = s.k * (1 - s.b + s.b * 4 / s.avg_len)
    assert weights[term_id("budget")] == pytest.approx(3 * (s.k + 1) / (3 + norm))
    assert weights[term_id("health")] == pytest.approx((s.k + 1) / (1 + norm))


def test_bigrams_are_marked_and_weighted_down(enc: SparseEncoder) -> None:
    vec = enc.encode_document("税收")  # one word, one bigram, each once
    assert len(vec.indices) == 2
    word, bigram = sorted(zip(vec.indices, vec.values, strict=True), key=lambda p: p[0] & BIGRAM_BIT)
    assert not word[0] & BIGRAM_BIT
    assert bigram[0] & BIGRAM_BIT
    assert bigram[1] == pytest.approx(word[1] * enc.settings.bigram_weight)
    assert all(i < 2**31 for i in vec.indices)


@pytest.mark.parametrize("text", ["", "   ", "\n\t ", "\u200b\u200b", "... !!! ??? — ។ ။", "the of and"])
def test_empty_text_gives_empty_vectors(enc: SparseEncoder, text: str) -> None:
    assert enc.encode_query(text) == SparseVec(indices=[], values=[])
    assert enc.encode_document(text) == SparseVec(indices=[], values=[])
    assert enc.encode_documents([]) == []


# ---------------------------------------------------------------- normalization


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Thuế thu nhập cá nhân", unicodedata.normalize("NFD", "thuế thu nhập cá nhân")),  # NFC/NFD, case
        ("hòa bình, thủy lợi, khỏe", "hoà bình, thuỷ lợi, khoẻ"),  # old/new Vietnamese tone placement
        ("\uff21\uff33\uff25\uff21\uff2e \uff12\uff10\uff12\uff15", "asean 2025"),  # full-width forms
        ("ปี ๒๕๖๗", "ปี 2567"),  # Thai digits
        ("ឆ្នាំ ២០២៤", "ឆ្នាំ 2024"),  # Khmer digits
        ("ដៃ\u200bរបស់\u200bអ្នក", "ដៃរបស់អ្នក"),  # ZWSP between Khmer words
        ("ทํางาน", "ทำงาน"),  # SARA AM typed (or PDF-extracted) as NIKHAHIT + SARA AA
        ("ທັງຫມົດ", "ທັງໝົດ"),  # Lao HO MO as two letters or as the ligature
    ],
)
def test_normalization_is_consistent(enc: SparseEncoder, a: str, b: str) -> None:
    assert enc.tokens(a) == enc.tokens(b)
    assert enc.encode_query(a) == enc.encode_query(b)


def test_vietnamese_tones_are_not_folded(enc: SparseEncoder) -> None:
    assert len({tuple(enc.encode_query(w).indices) for w in ["bán", "bàn", "bạn", "ban"]}) == 4
    assert enc.tokens("mùa quý") == ["mùa", "quý"]  # ua and qu+y are not oa/oe/uy: untouched


# ---------------------------------------------------------------- identity and stable ids


def test_ids_are_pinned() -> None:
    # BLAKE2b-derived: these numbers must never change, or every stored index silently breaks.
    assert term_id("health") == 87905423
    assert term_id("ភិ_បា") == 1630430952


def test_ids_are_the_same_in_another_process(enc: SparseEncoder) -> None:
    text = "Ministry of Health กระทรวงสาธารณสุข 卫生部 ကျန်းမာရေး ក្រសួងសុខាភិបាល ກະຊວງສາທາລະນະສຸກ"
    code = (
        "import json, sys; from indices.sparse import SparseEncoder; e = SparseEncoder(); "
        "d = e.encode_document(sys.argv[1]); print(json.dumps([e.identity, d.indices, d.values]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, text],
        cwd=REPO,
        env={"PYTHONHASHSEED": "12345", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        check=True,
    )
    identity, indices, values = json.loads(out.stdout)
    doc = enc.encode_document(text)
    assert identity == enc.identity
    assert indices == doc.indices
    assert values == pytest.approx(doc.values)


def test_identity_follows_tokenization_settings(enc: SparseEncoder) -> None:
    assert SparseEncoder().identity == enc.identity
    assert SparseEncoder(SparseEncoderSettings(cache_size=10)).identity == enc.identity  # memory only
    for change in (
        {"segmenter": "rules"},
        {"unit_bigrams": False},
        {"latin_stemmer": "none"},
        {"stopword_languages": ["en"]},
        {"extra_stopwords": ["kerajaan"]},
        {"k": 1.5},
        {"avg_len": 300.0},
    ):
        assert SparseEncoder(SparseEncoderSettings(**change)).identity != enc.identity, change


def test_missing_icu_says_how_to_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    from indices import segment

    segment._icu.cache_clear()
    monkeypatch.setitem(sys.modules, "icu", None)  # what an environment without PyICU looks like
    try:
        with pytest.raises(ImportError, match=r"pyicu-wheels.*segmenter='rules'"):
            SparseEncoder()
        assert SparseEncoder(SparseEncoderSettings(segmenter="rules")).tokens("税收") == ["税", "收", "税_收"]
    finally:
        segment._icu.cache_clear()


def test_unknown_stopword_language_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"stopword_languages.*'xx'"):
        SparseEncoder(SparseEncoderSettings(stopword_languages=["en", "xx"]))


def test_cache_eviction_does_not_change_vectors(enc: SparseEncoder) -> None:
    tiny = SparseEncoder(SparseEncoderSettings(cache_size=3))
    texts = ["one two three four five six", "กรมสรรพากรขยายเวลา ภาษี", "ក្រសួង សុខាភិបាល", "one two"] * 3
    assert [tiny.encode_document(t) for t in texts] == [enc.encode_document(t) for t in texts]
    assert len(tiny._ids) <= 3


def test_threads_get_the_same_vectors(enc: SparseEncoder) -> None:
    texts = ["กรมสรรพากรขยายเวลายื่นแบบภาษี", "ក្រសួងសុខាភិបាល", "ကျန်းမာရေးဝန်ကြီးဌာန", "国务院发布"] * 25
    expected = [SparseEncoder().encode_document(t) for t in texts]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(enc.encode_document, texts))
    assert got == expected


# ---------------------------------------------------------------- keyword retrieval, real Qdrant Edge shard

PASSAGES = {
    "th": [
        "กระทรวงสาธารณสุขประกาศมาตรการป้องกันไข้เลือดออกในโรงเรียน",
        "กรมสรรพากรขยายเวลายื่นแบบภาษีเงินได้บุคคลธรรมดา",
        "การรถไฟแห่งประเทศไทยเปิดให้บริการเส้นทางใหม่",
    ],
    "zh": [
        "卫生部宣布在学校开展登革热预防措施。",
        "国家税务总局延长了个人所得税申报期限。",
        "铁路局开通了一条新的高速铁路线路。",
    ],
    "my": [
        "ကျန်းမာရေးဝန်ကြီးဌာနက ကျောင်းများတွင် သွေးလွန်တုပ်ကွေးကာကွယ်ရေးအစီအစဉ်ကို ကြေညာခဲ့သည်။",
        "အခွန်ဦးစီးဌာနက ဝင်ငွေခွန်ပေးဆောင်ရမည့်ရက်ကို တိုးမြှင့်ခဲ့သည်။",
        "မြန်မာ့မီးရထားက ရထားလမ်းကြောင်းအသစ်ကို ဖွင့်လှစ်ခဲ့သည်။",
    ],
    "km": [
        "ក្រសួងសុខាភិបាលបានប្រកាសវិធានការការពារជំងឺគ្រុនឈាមនៅតាមសាលារៀន។",
        "អគ្គនាយកដ្ឋានពន្ធដារបានពន្យារពេលបង់ពន្ធលើប្រាក់ចំណូល។",
        "រថភ្លើងកម្ពុជាបានបើកផ្លូវថ្មីទៅខេត្តបាត់ដំបង។",
    ],
    "lo": [
        "ກະຊວງສາທາລະນະສຸກໄດ້ປະກາດມາດຕະການປ້ອງກັນໄຂ້ເລືອດອອກໃນໂຮງຮຽນ",
        "ກົມສ່ວຍສາອາກອນໄດ້ຂະຫຍາຍເວລາຍື່ນເສຍອາກອນລາຍໄດ້",
        "ທາງລົດໄຟລາວ-ຈີນໄດ້ເປີດບໍລິການເສັ້ນທາງໃໝ່",
    ],
}

# (language, keyword as a user would type it, passage it must find): health, tax, train.
KEYWORDS = [
    ("th", "ไข้เลือดออก", 0),
    ("th", "ภาษี", 1),
    ("th", "รถไฟ", 2),
    ("zh", "登革热", 0),
    ("zh", "所得税", 1),
    ("zh", "铁路", 2),
    ("my", "ကျန်းမာရေး", 0),
    ("my", "ဝင်ငွေခွန်", 1),
    ("my", "ရထား", 2),
    ("km", "សុខាភិបាល", 0),
    ("km", "ពន្ធ", 1),
    ("km", "រថភ្លើង", 2),
    ("lo", "ສາທາລະນະສຸກ", 0),
    ("lo", "ອາກອນ", 1),
    ("lo", "ລົດໄຟ", 2),
]


@pytest.fixture(scope="module")
def shard(enc: SparseEncoder, tmp_path_factory: pytest.TempPathFactory) -> object:
    qe = pytest.importorskip("qdrant_edge")
    path = tmp_path_factory.mktemp("bm25") / "shard"
    config = qe.EdgeConfig(
        vectors={}, sparse_vectors={"bm25": qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)}
    )
    shard = qe.EdgeShard.create(str(path), config)
    texts = [(lang, i, t) for lang, passages in PASSAGES.items() for i, t in enumerate(passages)]
    vectors = enc.encode_documents([t for _, _, t in texts])
    points = [
        qe.Point(n, {"bm25": qe.SparseVector(v.indices, v.values)}, {"lang": lang, "i": i})
        for n, ((lang, i, _), v) in enumerate(zip(texts, vectors, strict=True))
    ]
    shard.update(qe.UpdateOperation.upsert_points(points))
    return shard


@pytest.mark.parametrize(("lang", "keyword", "want"), KEYWORDS)
def test_keyword_finds_its_passage(
    enc: SparseEncoder, shard: object, lang: str, keyword: str, want: int
) -> None:
    import qdrant_edge as qe

    q = enc.encode_query(keyword)
    assert q.indices, f"{keyword!r} gave no terms"
    hits = shard.query(  # type: ignore[attr-defined]
        qe.QueryRequest(
            limit=3,
            query=qe.Query.Nearest(qe.SparseVector(q.indices, q.values), using="bm25"),
            with_payload=True,
        )
    )
    assert hits, f"{keyword!r} found nothing"
    assert (hits[0].payload["lang"], hits[0].payload["i"]) == (lang, want)
    assert math.isfinite(hits[0].score)
    assert hits[0].score > 0
