"""The BM25 sparse encoder: text -> `SparseVec` for the index's "bm25" vector (Qdrant IDF modifier).

The index applies IDF at search time (`Modifier.IDF`), so this encoder only computes the term-frequency
half of BM25 for documents, `tf * (k + 1) / (tf + k * (1 - b + b * len / avg_len))` (bigram terms
scaled by `bigram_weight`; `len` counts words, not bigrams), and weight 1.0 for each distinct query
term. Terms come from `indices.segment.Segmenter` (real word/syllable segmentation
for Thai, Lao, Khmer, Burmese and Chinese, which Qdrant's own tokenizers lack) and are hashed to term
ids with BLAKE2b (stable across processes and machines, unlike Python's `hash()`).

Any change to tokenization changes `SparseEncoder.identity`; ingestion stores it with the index, and an
index built with another identity must be rebuilt.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from indices.schema import SparseVec
from indices.segment import (
    BIGRAM_JOIN,
    SEGMENTER_VERSION,
    Segmenter,
    icu_version,
    normalize_term,
    snowball_version,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

logger = logging.getLogger(__name__)

#: Version of the built-in stop word lists below (part of the identity).
STOPWORDS_VERSION = 1

#: Function and question words per language, written for this project. Only words that carry no topic:
#: questions are full of them ("what", "อะไร", "什么") and, in an index mixing eleven languages, IDF
#: alone does not silence them. Matched after normalization, before stemming.
BUILTIN_STOPWORDS: dict[str, str] = {
    "en": """a an and are as at be been being but by can could did do does for from had has have he her
        his how i if in into is it its may might of on or our she should so than that the their them then
        there these they this those to was we were what when where which while who whom whose why will with
        would you your according passage""",
    "ms": """ada adalah agar akan antara apa apakah atas atau bagaimana bagi bahawa bahwa banyak beberapa
        berapa bila boleh dalam dan dapat dari daripada dengan di dia ia ialah ini itu juga kami kapan
        karena kerana ke kepada kita maka mana manakah masih mengapa mereka oleh pada para saja sangat satu
        sebagai sebuah sedang sejak seorang sepanjang seperti serta siapa siapakah sudah supaya tetapi tidak
        untuk yang""",
    "tl": """ang ano anong ay bakit dahil din di hindi ilan iyon ito kailan kanino kay mga na nang ng ni niya
        noong paano pa para saan sa si sino siya at ngunit o""",
    "vi": """ai bao các cái cho có của cũng gì hay khi không là làm lại mà mấy một nào này nhiêu những nơi
        sao sẽ tại thì theo trong từ và vào với về đã đâu đó đang được để""",
    "th": """กับ การ ของ ความ คือ จะ จาก ซึ่ง ด้วย ได้ ต่อ ถึง ที่ นั้น นี้ เป็น เพื่อ แต่ โดย ใน ให้
        และ หรือ อยู่ อะไร อย่างไร เท่าไร เท่าใด ไหน ใด ใคร เมื่อไร เมื่อไหร่ ทำไม กี่ ไม่ มี ว่า ก็ แล้ว ไป มา""",
    "zh": """的 了 是 在 和 与 及 或 也 都 就 而 着 之 于 被 把 对 从 为 以 其 这 那 这个 那个 这些
        那些 一个 有 没有 什么 哪 哪个 哪些 哪里 谁 怎么 怎样 如何 为什么 多少 几 吗 呢 吧 啊
        根据 文章 段落""",
    "my": """သည် ကို ၏ များ နှင့် တွင် မှ ပါ သော ၍ လည်း ဖြင့် အတွက် က မှာ ရန် သို့ ပြီး ခဲ့ သည့်
        နေ ဘာ ဘယ် မည်သည့် မည်သူ ဘယ်လို""",
}


class SparseEncoderSettings(BaseModel):
    """How BM25 terms are made and weighted. Changing any field except `cache_size` needs an index rebuild."""

    k: float = Field(default=1.2, ge=0.0, description="BM25 term-frequency saturation.")
    b: float = Field(default=0.75, ge=0.0, le=1.0, description="BM25 length normalization (0 none, 1 full).")
    avg_len: float = Field(
        default=150.0,
        gt=0.0,
        description="Average BM25 words per chunk (terms other than bigrams, after stop words): about 90 "
        "for a 550-character passage, 120-200 for a 320-token chunk. Recall is flat from 100 to 250.",
    )
    lowercase: bool = Field(default=True, description="Lower-case before segmenting.")
    segmenter: Literal["icu", "rules"] = Field(
        default="icu",
        description="Thai/Lao/Khmer/Burmese/Chinese words: 'icu' = ICU dictionaries (needs pyicu-wheels), "
        "'rules' = orthographic syllables/characters only (no dependency, slightly lower recall).",
    )
    unit_bigrams: bool = Field(
        default=True, description="Also index bigrams of syllables/clusters/characters of unspaced scripts."
    )
    bigram_weight: float = Field(
        default=0.5,
        gt=0.0,
        le=1.0,
        description="Document weight of a bigram term relative to a word (queries weigh all terms 1.0).",
    )
    latin_stemmer: Literal["english", "none"] = Field(
        default="english", description="Snowball stemmer applied to pure-ASCII words."
    )
    tamil_stemmer: bool = Field(default=True, description="Snowball Tamil stem for Tamil words.")
    tamil_prefix: int = Field(
        default=5, ge=0, description="Also index the first N code points of longer Tamil words (0: off)."
    )
    vietnamese_tones: bool = Field(
        default=True, description="Unify old/new Vietnamese tone placement (hòa/hoà, thủy/thuỷ)."
    )
    stopword_languages: list[str] = Field(
        default_factory=lambda: sorted(BUILTIN_STOPWORDS),
        description="Built-in stop word lists to apply (keys of BUILTIN_STOPWORDS).",
    )
    extra_stopwords: list[str] = Field(default_factory=list, description="More stop words (any language).")
    max_token_chars: int = Field(default=40, ge=1, description="Drop longer terms (hashes, URLs, junk).")
    cache_size: int = Field(
        default=200_000, ge=1, description="Entries in each of the two id caches (run -> ids, term -> id)."
    )


#: Set in the id of every bigram term: a bigram is recognizable from its id alone (for `bigram_weight`).
BIGRAM_BIT = 1 << 30


def term_id(term: str) -> int:
    """The stable id of a term: 30 bits of BLAKE2b (identical in every process, unlike `hash()`), plus
    `BIGRAM_BIT` for unit bigrams. Always below 2**31, so any Qdrant client takes it."""
    digest = hashlib.blake2b(term.encode("utf-8"), digest_size=4).digest()
    h = int.from_bytes(digest, "little") & (BIGRAM_BIT - 1)
    return h | BIGRAM_BIT if BIGRAM_JOIN in term else h


def _evict(cache: dict[str, Any]) -> None:
    """Drop the older half of a cache (dicts keep insertion order); frequent entries soon come back.

    `list(cache)` copies the keys in one step under the GIL, so another thread inserting meanwhile
    cannot break the iteration."""
    keys = list(cache)
    for key in keys[: len(keys) // 2 + 1]:
        cache.pop(key, None)


class SparseEncoder:
    """Encodes documents (BM25 TF weights) and queries (unique terms, weight 1.0) for the "bm25" vector.

    Thread-safe for concurrent use (caches are plain dicts; ICU iterators are per thread).
    """

    def __init__(self, settings: SparseEncoderSettings | None = None) -> None:
        """Build the segmenter; raises ImportError (with the fix) when a needed package is missing."""
        self.settings = s = settings or SparseEncoderSettings()
        unknown = sorted(set(s.stopword_languages) - set(BUILTIN_STOPWORDS))
        if unknown:
            raise ValueError(
                f"sparse.stopword_languages has {unknown}, which have no built-in list; "
                f"choose from {sorted(BUILTIN_STOPWORDS)} and put other words in sparse.extra_stopwords"
            )
        words = [w for lang in s.stopword_languages for w in BUILTIN_STOPWORDS[lang].split()]
        words += s.extra_stopwords
        stop = frozenset(normalize_term(w, s.lowercase, s.vietnamese_tones) for w in words)
        self._segmenter = Segmenter(
            segmenter=s.segmenter,
            unit_bigrams=s.unit_bigrams,
            lowercase=s.lowercase,
            latin_stemmer=s.latin_stemmer,
            tamil_stemmer=s.tamil_stemmer,
            tamil_prefix=s.tamil_prefix,
            stopwords=stop,
            max_token_chars=s.max_token_chars,
            vietnamese_tones=s.vietnamese_tones,
        )
        self._ids: dict[str, list[int]] = {}  # run -> its term ids
        self._known: dict[str, int] = {}  # term -> id
        self.identity = self._identity(stop)
        logger.info("BM25 encoder ready: %s", self.identity)

    def _identity(self, stop: frozenset[str]) -> str:
        s = self.settings
        parts = [
            f"seg{SEGMENTER_VERSION}",
            icu_version() if s.segmenter == "icu" else "rules",
            f"bigrams={int(s.unit_bigrams)}x{s.bigram_weight:g}",
            f"lower={int(s.lowercase)}",
            f"latin={s.latin_stemmer}",
            f"ta={int(s.tamil_stemmer)}/{s.tamil_prefix}",
            f"vi={int(s.vietnamese_tones)}",
            f"max={s.max_token_chars}",
            f"k={s.k:g}",
            f"b={s.b:g}",
            f"avg_len={s.avg_len:g}",
        ]
        if s.latin_stemmer != "none" or s.tamil_stemmer:
            parts.append(f"pystemmer{snowball_version()}")
        stop_digest = hashlib.blake2b("\n".join(sorted(stop)).encode(), digest_size=4).hexdigest()
        parts.append(f"stop{STOPWORDS_VERSION}-{stop_digest}")
        return "bm25:" + ";".join(parts)

    def tokens(self, text: str) -> list[str]:
        """The terms of `text` in order, with repeats (what a document is made of; for tests, debugging)."""
        return self._segmenter.terms(text)

    def _term_ids(self, text: str) -> list[int]:
        """Term ids of `text` in order, cached per run (a word or an unspaced phrase): runs repeat."""
        cache = self._ids
        seg = self._segmenter
        out: list[int] = []
        for run in seg.runs(text):
            ids = cache.get(run)
            if ids is None:
                ids = self._ids_of(seg.run_terms(run))
                if len(run) <= 64:  # long runs (Thai/Chinese sentences) rarely repeat; their terms do
                    if len(cache) >= self.settings.cache_size:
                        _evict(cache)
                    cache[run] = ids
            out += ids
        return out

    def _ids_of(self, terms: list[str]) -> list[int]:
        known = self._known
        out = [known.get(t, -1) for t in terms]
        if -1 in out:
            for i, t in enumerate(terms):
                if out[i] == -1:
                    if len(known) >= self.settings.cache_size:
                        _evict(known)
                    out[i] = known[t] = term_id(t)
        return out

    def encode_document(self, text: str) -> SparseVec:
        """BM25 TF weights of one document (indices sorted; empty text gives an empty vector).

        The length that BM25 normalizes by counts words only, not bigrams: a Thai passage is not
        "longer" than its English translation because its syllable pairs are indexed too.
        """
        ids = self._term_ids(text)
        if not ids:
            return SparseVec(indices=[], values=[])
        s = self.settings
        counts = sorted(Counter(ids).items())
        length = sum(tf for i, tf in counts if not i & BIGRAM_BIT)
        norm = s.k * (1.0 - s.b + s.b * length / s.avg_len)
        k1 = s.k + 1.0
        weak = s.bigram_weight * k1
        return SparseVec(
            indices=[i for i, _ in counts],
            values=[tf * (weak if i & BIGRAM_BIT else k1) / (tf + norm) for i, tf in counts],
        )

    def encode_documents(self, texts: Sequence[str]) -> list[SparseVec]:
        """`encode_document` for each text, in order."""
        return [self.encode_document(t) for t in texts]

    def encode_query(self, text: str) -> SparseVec:
        """The distinct terms of a query, weight 1.0 each (the index multiplies by IDF)."""
        ids = sorted(set(self._term_ids(text)))
        return SparseVec(indices=ids, values=[1.0] * len(ids))
