"""Text -> BM25 terms for the 11 languages we serve: normalization, script runs, word/syllable segmentation.

Why this exists: Qdrant's stock "multilingual" tokenizer returns a whole Khmer, Lao or Burmese phrase
(everything between two spaces) as one token, strips Thai tone marks and Vietnamese diacritics (so
"bán", "bàn" and "bạn" become one term) and strips Tamil vowel signs. Measured on the shared eval set
(`benchmarks/bm25_eval.py`) this segmenter lifts BM25 recall@5 for Burmese from 0.27 to 0.83 (all
questions: 0.85 to 0.93).

How a text becomes terms:

1. Normalization: NFKC, invisible characters (ZWSP, ZWJ, ZWNJ, word joiner, soft hyphen, BOM) removed
   (ingestion removes ZWSP too, and typed questions never have it), Thai/Lao/Khmer/Burmese/Tamil
   digits mapped to ASCII, lower case, Vietnamese "oà/òa"-style tone placement unified.
2. The text is cut into runs of one script. Runs of unspaced scripts (Thai, Lao, Khmer, Burmese, Han)
   give (a) dictionary words from ICU's word break iterator (`segmenter="icu"`, the dictionaries ship
   inside the `pyicu-wheels` wheel) or orthographic units (`segmenter="rules"`, no dependency), plus
   (b) bigrams of orthographic units: Burmese syllables, Khmer/Thai/Lao character clusters, Han
   characters. Bigrams let a multi-syllable word match whatever the dictionary did with it.
3. Other runs are words. Pure-ASCII words are stemmed with the English Snowball stemmer (helps English,
   neutral for Malay/Indonesian/Tagalog); Tamil words give their Snowball Tamil stem and a prefix.
4. Built-in stop words (function and question words) are dropped: in one index holding eleven
   languages, an English "the" is rare corpus-wide, so IDF alone does not silence it.

Documents and queries go through exactly this function, so they always agree.
"""

from __future__ import annotations

import itertools
import threading
import unicodedata
from functools import lru_cache
from typing import Any, Literal

import regex

#: Bump when any rule here changes the terms produced for some text: it is part of the encoder identity.
SEGMENTER_VERSION = 1

#: Joins the two units of a bigram term. Never part of a unit (units are letters and marks only).
BIGRAM_JOIN = "_"

_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\u00ad\ufeff"))
_DIGIT_BLOCKS = (0x0BE6, 0x0E50, 0x0ED0, 0x1040, 0x1090, 0x17E0)  # Tamil, Thai, Lao, Burmese, Shan, Khmer


def _translation_table() -> dict[int, Any]:
    table: dict[int, Any] = dict(_INVISIBLE)
    for start in _DIGIT_BLOCKS:
        for cp in range(start, start + 10):
            table[cp] = str(cp - start)
    return table


_TABLE = _translation_table()
_TRANSLATED = regex.compile("[" + "".join(map(chr, _TABLE)) + "]")

# Letters and marks of each unspaced script (digits and punctuation excluded: digits are ASCII by now).
_TH = "\u0e01-\u0e3a\u0e40-\u0e4e"
_LO = "\u0e81-\u0ec6\u0ec8-\u0ece\u0edc-\u0edf"
_KM = "\u1780-\u17d3\u17dc\u17dd\u19e0-\u19ff"
_MY = "\u1000-\u103f\u104c-\u104f\u1050-\u108f\u109a-\u109f\ua9e0-\ua9ef\ua9fa-\ua9fe\uaa60-\uaa7f"
_HAN = r"\p{Han}\u3005\u3007"
_SPECIAL = _TH + _LO + _KM + _MY + _HAN
_RUN = regex.compile(
    rf"[{_TH}]+|[{_LO}]+|[{_KM}]+|[{_MY}]+|[{_HAN}]+|[[\p{{L}}\p{{M}}\p{{N}}]--[{_SPECIAL}\u0e00-\u0eff]]+",
    flags=regex.V1,
)
_HAN_CHAR = regex.compile(rf"[{_HAN}]")
_TAMIL = regex.compile(r"[\u0b80-\u0bff]")
#: Repetition/abbreviation signs that segmenters return as words of their own.
_NON_WORDS = frozenset({"\u0e46", "\u0e2f", "\u0ec6", "\u0e2f\u0e25\u0e2f"})

# Orthographic units. Thai/Lao: optional leading vowel + consonant + following vowels/marks (a final
# consonant is its own unit: it cannot be told from the next syllable's initial without a dictionary).
_TH_UNIT = regex.compile(r"[\u0e40-\u0e44]?[\u0e01-\u0e2e][\u0e30-\u0e3a\u0e45\u0e47-\u0e4e]*|.")
_LO_UNIT = regex.compile(r"[\u0ec0-\u0ec4]?[\u0e81-\u0eae\u0edc-\u0edf][\u0eb0-\u0ebd\u0ec8-\u0ece]*|.")
# Khmer: a cluster starts at a consonant or independent vowel not subscripted by COENG (U+17D2) and not
# marked as a final/silent letter (bantoc U+17CB, toandakhiat U+17CD).
_KM_BREAK = regex.compile(r"(?<!\u17d2)(?=[\u1780-\u17b3](?![\u17cb\u17cd]))")
# Burmese: a syllable starts at a consonant/independent vowel/symbol not stacked under a virama (U+1039)
# and not killed by an asat (U+103A) or itself stacking the next consonant.
_MY_BREAK = regex.compile(
    r"(?<!\u1039)(?=[\u1000-\u1021\u1023-\u1027\u1029\u102a\u103f\u104c-\u104f](?![\u103a\u1039]))"
)
# Vietnamese syllables ending in oa/oe/uy written with the tone on the first vowel ("hòa", "thúy") are
# rewritten with it on the second ("hoà", "thuý"): both spellings are in everyday use.
_VI_TONES = "\u0300\u0301\u0303\u0309\u0323"
_VI_OLD_TONE = regex.compile(rf"(?<![qg])(o(?=[{_VI_TONES}][ae]$)|u(?=[{_VI_TONES}]y$))([{_VI_TONES}])(.)$")


def _units_th(run: str) -> list[str]:
    units: list[str] = _TH_UNIT.findall(run)
    return units


def _units_lo(run: str) -> list[str]:
    units: list[str] = _LO_UNIT.findall(run)
    return units


def _units_km(run: str) -> list[str]:
    return [u for u in _KM_BREAK.split(run) if u]


def _units_my(run: str) -> list[str]:
    return [u for u in _MY_BREAK.split(run) if u]


def _units_zh(run: str) -> list[str]:
    return list(run)


_UNITS = {"th": _units_th, "lo": _units_lo, "km": _units_km, "my": _units_my, "zh": _units_zh}
_ICU_LOCALES = {"th": "th", "lo": "lo", "km": "km", "my": "my", "zh": "zh"}


def _vi_tone(word: str) -> str:
    """Move a tone mark from the first to the second vowel of a final oa/oe/uy (see `_VI_OLD_TONE`)."""
    decomposed = unicodedata.normalize("NFD", word)
    fixed = _VI_OLD_TONE.sub(r"\1\3\2", decomposed)
    return word if fixed == decomposed else unicodedata.normalize("NFC", fixed)


#: NFKC decomposes Thai/Lao SARA AM and the Lao ligatures HO NO/HO MO; the dictionaries (and readers)
#: use the single characters, so they are put back. "ຫນ"/"ຫມ" typed as two letters become the ligature.
_RECOMPOSE = (
    ("\u0e4d\u0e32", "\u0e33"),
    ("\u0ecd\u0eb2", "\u0eb3"),
    ("\u0eab\u0e99", "\u0edc"),
    ("\u0eab\u0ea1", "\u0edd"),
)


def normalize(text: str, lowercase: bool = True) -> str:
    """NFKC (Thai/Lao SARA AM kept whole), invisibles removed, native digits to ASCII, lower case."""
    out = unicodedata.normalize("NFKC", text)
    if _TRANSLATED.search(out):
        out = out.translate(_TABLE)
    for a, b in _RECOMPOSE:
        if a in out:
            out = out.replace(a, b)
    return out.lower() if lowercase else out


def normalize_term(word: str, lowercase: bool = True, vietnamese_tones: bool = True) -> str:
    """A stop word normalized as a word of running text would be (before stemming)."""
    w = normalize(word, lowercase)
    return _vi_tone(w) if vietnamese_tones else w


@lru_cache(maxsize=1)
def _icu() -> Any:
    try:
        import icu  # type: ignore[import-not-found,unused-ignore]
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the BM25 segmenter 'icu' needs PyICU: `pip install pyicu-wheels==2.15.2` (the wheel bundles ICU "
            "and its Thai/Lao/Khmer/Burmese/Chinese dictionaries), or set sparse.segmenter='rules' "
            "(GOVRAG_SPARSE__SEGMENTER=rules) and rebuild the index"
        ) from exc
    return icu


def icu_version() -> str:
    """The ICU and Unicode versions PyICU was built with (part of the encoder identity)."""
    icu = _icu()
    return f"icu{icu.ICU_VERSION}-uni{icu.UNICODE_VERSION}"


class _IcuWords:
    """Dictionary word segmentation with one ICU BreakIterator per script and thread (they keep state)."""

    def __init__(self) -> None:
        self._local = threading.local()

    def _iterator(self, script: str) -> Any:
        cache: dict[str, Any] | None = getattr(self._local, "its", None)
        if cache is None:
            cache = self._local.its = {}
        it = cache.get(script)
        if it is None:
            icu = _icu()
            it = cache[script] = icu.BreakIterator.createWordInstance(icu.Locale(_ICU_LOCALES[script]))
        return it

    def words(self, script: str, run: str) -> list[str]:
        """The dictionary words of `run` (a run of one script's letters, no spaces)."""
        it = self._iterator(script)
        it.setText(run)
        bounds = list(it)
        if bounds and bounds[-1] != len(run):  # astral characters: ICU counts UTF-16 code units
            pos = [0]
            for ch in run:
                pos.append(pos[-1] + (2 if ord(ch) > 0xFFFF else 1))
            index = {u: i for i, u in enumerate(pos)}
            bounds = [index[b] for b in bounds]
        out: list[str] = []
        start = 0
        for end in bounds:
            out.append(run[start:end])
            start = end
        return out


class Segmenter:
    """Turns text into BM25 terms (strings); see the module docstring for the rules and why.

    Split in two steps so that callers can cache per run: `runs` (normalize and cut into one-script
    runs, C-speed regex) and `run_terms` (the terms of one run).
    """

    def __init__(
        self,
        *,
        segmenter: Literal["icu", "rules"] = "icu",
        unit_bigrams: bool = True,
        lowercase: bool = True,
        latin_stemmer: Literal["english", "none"] = "english",
        tamil_stemmer: bool = True,
        tamil_prefix: int = 5,
        stopwords: frozenset[str] = frozenset(),
        max_token_chars: int = 40,
        vietnamese_tones: bool = True,
    ) -> None:
        """Configure the rules; `stopwords` must already be normalized with `normalize_term`."""
        self._icu = _IcuWords() if segmenter == "icu" else None
        if self._icu is not None:
            _icu()  # fail now, with the actionable message, rather than on the first document
        self._bigrams = unit_bigrams
        self._lowercase = lowercase
        self._stop = stopwords
        self._max = max_token_chars
        self._vi = vietnamese_tones
        self._tamil_prefix = tamil_prefix
        self._en = _snowball("english") if latin_stemmer == "english" else None
        self._ta = _snowball("tamil") if tamil_stemmer else None

    def runs(self, text: str) -> list[str]:
        """`text` normalized and cut into runs: words of spaced scripts, whole runs of unspaced ones."""
        runs: list[str] = _RUN.findall(normalize(text, self._lowercase))
        return runs

    def terms(self, text: str) -> list[str]:
        """The terms of `text`, in order, with repeats (the document side counts them)."""
        return [t for run in self.runs(text) for t in self.run_terms(run)]

    def run_terms(self, run: str) -> list[str]:
        """The terms of one run returned by `runs`."""
        script = _script(run[0])
        return self._word(run) if script is None else self._unspaced(script, run)

    def _word(self, word: str) -> list[str]:
        if self._vi:
            word = _vi_tone(word)
        if word in self._stop or len(word) > self._max:
            return []
        if self._en is not None and word.isascii():
            return [self._en.stemWord(word)]
        if _TAMIL.match(word):
            # Tamil is agglutinative: the stem and a short prefix both match inflected forms.
            out = [self._ta.stemWord(word)] if self._ta is not None else [word]
            if self._tamil_prefix and len(word) > self._tamil_prefix:
                out.append(word[: self._tamil_prefix])
            return list(dict.fromkeys(out))
        return [word]

    def _unspaced(self, script: str, run: str) -> list[str]:
        units = _UNITS[script](run)
        words = self._icu.words(script, run) if self._icu is not None else units
        stop = self._stop
        out = [w for w in words if w not in stop and w not in _NON_WORDS and len(w) <= self._max]
        if self._bigrams:
            for a, b in itertools.pairwise(units):
                if a + b not in stop:
                    out.append(a + BIGRAM_JOIN + b)
        return out


def _script(ch: str) -> str | None:
    """The unspaced script `ch` (the first letter of a run) belongs to, None for spaced scripts."""
    o = ord(ch)
    if 0x0E00 <= o <= 0x0E7F:
        return "th"
    if 0x0E80 <= o <= 0x0EFF:
        return "lo"
    if 0x1780 <= o <= 0x17FF or 0x19E0 <= o <= 0x19FF:
        return "km"
    if 0x1000 <= o <= 0x109F or 0xA9E0 <= o <= 0xA9FF or 0xAA60 <= o <= 0xAA7F:
        return "my"
    if _HAN_CHAR.match(ch):
        return "zh"
    return None


def _snowball(language: str) -> Any:
    try:
        import Stemmer  # type: ignore[import-not-found,unused-ignore]
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the BM25 encoder's stemming needs `pip install PyStemmer==3.1.0` (Snowball stemmers in C), or "
            "set sparse.latin_stemmer='none' and sparse.tamil_stemmer=false (and rebuild the index)"
        ) from exc
    return Stemmer.Stemmer(language)


def snowball_version() -> str:
    """The installed PyStemmer version (part of the encoder identity: stems may change between versions)."""
    import Stemmer  # type: ignore[import-not-found,unused-ignore]

    return str(Stemmer.version())
