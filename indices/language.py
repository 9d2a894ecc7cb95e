"""Offline language identification for documents, chunks and questions (11 Southeast-Asian languages).

Lives in `indices` so that both `ingest` (per document and per chunk) and `rag` (per question) can use
it without `rag` importing `ingest`.

How a text is decided, cheapest step first:

1. Script routing. Thai, Lao, Khmer, Burmese, Tamil and Han characters each belong to one of our
   languages, so counting letters per script settles those texts without any model (Han with kana is
   Japanese, which we do not serve, so it is "und").
2. Latin-script text goes to the naive-Bayes byte n-gram model shipped inside the `py3langid` wheel,
   whose probabilities are restricted to the Latin-script languages we serve (en, ms, id, tl, vi). Text
   that the full model confidently puts in another language (French, Spanish...) is "und".
3. Malay and Indonesian share most of their vocabulary and the model often swaps them, so when the
   best guess is one of the two, a lexicon of spellings and words that differ between the standards
   (kerana/karena, wang/uang, kerajaan/pemerintah, -iti/-itas...) adds its evidence to the model's
   log-odds.

Everything is offline: the model is data inside the pip package. A short Latin-script question takes
about 0.1 ms, a non-Latin one a few microseconds; long documents are sampled (`max_chars`).
"""

from __future__ import annotations

import logging
import math
import re
import threading
from typing import TYPE_CHECKING, Any, NamedTuple

from pydantic import BaseModel, Field, field_validator

if TYPE_CHECKING:
    from collections.abc import Iterable

logger = logging.getLogger(__name__)

#: Every language the detector can answer with (ISO 639-1).
SUPPORTED_LANGUAGES: tuple[str, ...] = ("en", "ms", "id", "th", "vi", "tl", "ta", "zh", "my", "km", "lo")
#: The languages written in Latin script; the statistical model decides among these.
LATIN_LANGUAGES: tuple[str, ...] = ("en", "ms", "id", "tl", "vi")
#: The code for "undetermined" (ISO 639-2 `und`), used for empty, foreign or unreadable text.
UNDETERMINED = "und"

# Model labels that are close relatives (or frequent confusions) of the languages we serve: their mass
# counts as "ours" when deciding whether a text is foreign, so Indonesian scored as Acehnese or English
# scored as Nigerian Pidgin is not rejected.
_RELATIVES = ("pcm", "ace", "jv", "bcl")  # Nigerian Pidgin ~ en, Acehnese/Javanese ~ id, Bikol ~ tl

# One character class per non-Latin script we route on. Ranges are the Unicode blocks (including
# extension blocks) of each script; combining vowel signs live inside the blocks, so they count too.
_SCRIPT_PATTERNS: dict[str, str] = {
    "th": "\u0e00-\u0e7f",
    "lo": "\u0e80-\u0eff",
    "km": "\u1780-\u17ff\u19e0-\u19ff",
    "my": "\u1000-\u109f\ua9e0-\ua9ff\uaa60-\uaa7f",
    "ta": "\u0b80-\u0bff\U00011fc0-\U00011fff",
    "zh": "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f",
    "kana": "\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f",
    "other": (  # scripts of languages we do not serve: Cyrillic, Greek, Arabic, Hebrew, Devanagari, Hangul
        "\u0370-\u03ff\u0400-\u052f\u0590-\u06ff\u0750-\u077f\u0900-\u0b7f\u0c00-\u0dff\u1100-\u11ff\uac00-\ud7af"
    ),
}
_SCRIPT_RES: dict[str, re.Pattern[str]] = {k: re.compile(f"[{v}]") for k, v in _SCRIPT_PATTERNS.items()}
_ANY_NON_LATIN_RE = re.compile("[" + "".join(_SCRIPT_PATTERNS.values()) + "]")
_LATIN_LETTER_RE = re.compile("[A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u1e00-\u1eff]")
# One Han character carries about as much text as two or three Latin letters (a syllable, often a
# word); weighting it keeps "Chinese with a few English names" Chinese and vice versa.
_HAN_WEIGHT = 2.5
_SCRIPT_MIN_SHARE = 0.2
# URLs and e-mail addresses say nothing about the language and skew byte n-grams.
_URL_RE = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_WORD_RE = re.compile(r"[^\W\d_]+")

# Malay (Malaysia/Brunei/Singapore standard) versus Indonesian: words whose spelling or choice differs
# between the two standards, grouped by how exclusive they are; positive weights (log-odds) for Malay,
# negative for Indonesian. Compiled from the well-known spelling and vocabulary differences and from
# government vocabulary; words that are everyday in the other standard too were left out or weighted
# low (Indonesian uses negeri "state", pejabat "official", berlaku "in force", kenyataan "reality",
# kerajaan "kingdom"; Malay uses harus, kota, rapat "close", desa).
_MALAY_WORDS: dict[float, str] = {
    2.0: "kerana bahawa sahaja iaitu wang percuma kenderaan syarikat cukai universiti polis telefon "
    "televisyen peratus nombor maklumat perkhidmatan kesihatan antarabangsa pertubuhan jawatankuasa "
    "selepas sebarang menerusi berbanding manakala sentiasa sempadan tentera kanak projek ubat kedai "
    "teksi ogos julai disember seksyen perenggan isnin khamis jumaat mesyuarat pentadbiran kewangan "
    "perniagaan perbadanan borang lesen insurans pencen majikan doktor jenayah pengerusi setiausaha "
    "kakitangan soalan jawapan kemaskini pengurusan bilakah kelmarin sebahagian bahagian saintis tandas",
    1.5: "baharu mahu pelbagai jawatan tempoh hendaklah berkenaan mengikut cuba percubaan majlis faham kos "
    "bertanggungjawab bas kad berkemungkinan berikutan",
    1.0: "sekiranya perkara betul tiada kemudahan mendapati kebangsaan warganegara cadangan semasa jun mac "
    "amalan hospital",
    0.7: "kerajaan boleh bilik kerap semula fasal",
    0.5: "bandar mesti",
    0.3: "bagi ialah apabila ramai mempunyai daripada",
}
_INDONESIAN_WORDS: dict[float, str] = {
    2.0: "karena bahwa yaitu uang kantor perusahaan kendaraan telepon televisi persen nomor kesehatan "
    "agustus maret desember senin kamis jumat serikat dokter obat formulir asuransi pensiun keuangan "
    "toko kartu proyek provinsi kabupaten kecamatan manajemen administrasi biaya ongkos lowongan libur "
    "kemarin kapan kapankah nggak enggak banget internasional jawaban sebagian",
    1.5: "pemerintah bisa saja mobil kamar layanan juli juni gedung bisnis paham praktik coba percobaan "
    "sekretaris fasilitas lisensi gak dong kok aja sih bagian ilmuwan",
    1.0: "gratis mau sesudah dimana kejahatan mahasiswa jasa resiko pasal",
    0.7: "informasi tapi",
    0.5: "setelah berbagai",
    0.3: "memiliki terjadi meskipun",
}
MALAY_INDONESIAN_WEIGHTS: dict[str, float] = {
    **{w: -weight for weight, words in _INDONESIAN_WORDS.items() for w in words.split()},
    **{w: weight for weight, words in _MALAY_WORDS.items() for w in words.split()},
}
# Malay spells Latin -ity loans -iti (kualiti, universiti, komuniti, aktiviti, realiti, majoriti,
# komoditi), Indonesian -itas (kualitas...). Other -iti words (graffiti, Indonesian teliti) don't count.
_MALAY_ITI_RE = re.compile(r"[a-z]{3,}[lnrstvd]iti")
_INDONESIAN_ITI = frozenset({"teliti", "peneliti", "meneliti", "diteliti"})


def malay_indonesian_suffix_weight(word: str) -> float:
    """Evidence from loanword endings: Malay -iti/-syen (kualiti, televisyen), Indonesian -itas (kualitas)."""
    if len(word) >= 6:
        if word.endswith("itas"):
            return -1.5
        if word.endswith("syen"):
            return 2.0
        if _MALAY_ITI_RE.fullmatch(word) and word not in _INDONESIAN_ITI:
            return 1.5
    return 0.0


class LanguageSettings(BaseModel):
    """How the language detector decides (section `language` of the application settings)."""

    allowed: list[str] = Field(
        default_factory=lambda: list(SUPPORTED_LANGUAGES),
        description="Languages the detector may answer with; anything else becomes `default`.",
    )
    default: str = Field(default=UNDETERMINED, description="Answer for empty, foreign or too uncertain text.")
    min_letters: int = Field(default=2, ge=1, description="Texts with fewer letters than this are `default`.")
    min_confidence: float = Field(
        default=0.35, ge=0.0, le=1.0, description="`detect` answers `default` below this confidence."
    )
    max_chars: int = Field(
        default=3000,
        ge=200,
        description="Longer texts are sampled (start, middle, end) down to this many chars.",
    )
    reject_foreign: bool = Field(
        default=True,
        description="Answer `default` for Latin text the model confidently puts in another language.",
    )
    foreign_min_letters: int = Field(
        default=15, ge=1, description="Only texts this long can be called foreign."
    )
    malay_indonesian_lexicon: bool = Field(
        default=True,
        description="Add Malay/Indonesian vocabulary evidence when the model picks one of the two.",
    )

    @field_validator("allowed")
    @classmethod
    def _check_allowed(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(SUPPORTED_LANGUAGES))
        if unknown:
            raise ValueError(
                f"language.allowed has unsupported code(s) {unknown}; use ISO 639-1 codes from "
                f"{', '.join(SUPPORTED_LANGUAGES)} (Filipino is 'tl', Burmese 'my')"
            )
        if not value:
            raise ValueError(
                "language.allowed is empty; list at least one of " + ", ".join(SUPPORTED_LANGUAGES)
            )
        return list(dict.fromkeys(value))


class Detection(NamedTuple):
    """A detected language and how sure the detector is (0..1; roughly a probability)."""

    lang: str
    confidence: float


class LanguageDetector:
    """Detects the language of a text among the 11 supported ones; thread-safe, model loaded lazily.

    Build one per process and reuse it: the first Latin-script text loads the py3langid model
    (about 0.7 s); every later call is pure computation.
    """

    def __init__(self, settings: LanguageSettings | None = None) -> None:
        """Keep the settings; nothing is loaded until the first Latin-script text."""
        self.settings = settings or LanguageSettings()
        self._allowed = frozenset(self.settings.allowed)
        self._model: Any = None
        self._lock = threading.Lock()

    # -- public API -------------------------------------------------------------------------------

    def detect(self, text: str) -> str:
        """The ISO 639-1 code of `text`'s language, or `settings.default` when unsure or empty."""
        found = self.detect_with_confidence(text)
        if found.lang == self.settings.default or found.confidence < self.settings.min_confidence:
            return self.settings.default
        return found.lang

    def detect_with_confidence(self, text: str) -> Detection:
        """The best guess and its confidence, even for short or ambiguous text.

        The guess is `settings.default` only when there is nothing to go on (no letters), when the
        script or the model points to a language outside `settings.allowed`, or when the text is
        confidently foreign. Callers that want a threshold use `detect`.
        """
        sample = self._sample(text)
        counts = self._script_counts(sample)
        total = sum(counts.values())
        if total < self.settings.min_letters:
            return Detection(self.settings.default, 0.0)
        latin = counts["latin"]
        script, weight = max(
            ((k, v) for k, v in counts.items() if k != "latin"), key=_second, default=("", 0.0)
        )
        share = weight / total
        # Latin-script names and terms are common inside Thai, Burmese, Chinese... text, the reverse is
        # rare: a non-Latin script wins from a fifth of the letters on ("อะไรคือ ASUS Eee PC" is Thai).
        if weight > latin or share >= _SCRIPT_MIN_SHARE:
            if script == "zh" and counts.get("kana", 0.0) > 0.1 * counts["zh"]:
                script = "kana"  # Japanese: Han plus kana
            confidence = round(min(1.0, 0.5 + share), 4)
            if script in self._allowed:
                return Detection(script, confidence)
            return Detection(self.settings.default, confidence)
        lang, prob = self._detect_latin(sample, int(latin), other_scripts=len(counts) > 1)
        return Detection(lang, round(latin / total * prob, 4))

    def detect_many(self, texts: Iterable[str]) -> list[Detection]:
        """`detect_with_confidence` for each text, in order (one chunk or question each)."""
        return [self.detect_with_confidence(t) for t in texts]

    def warm_up(self) -> None:
        """Load the statistical model now (e.g. at server start) instead of on the first query."""
        self._get_model()

    # -- steps ------------------------------------------------------------------------------------

    def _sample(self, text: str) -> str:
        limit = self.settings.max_chars
        if len(text) <= limit:
            return text
        part = limit // 3
        mid = (len(text) - part) // 2
        return " ".join((text[:part], text[mid : mid + part], text[-part:]))

    @staticmethod
    def _script_counts(text: str) -> dict[str, float]:
        counts: dict[str, float] = {"latin": float(len(_LATIN_LETTER_RE.findall(text)))}
        if _ANY_NON_LATIN_RE.search(text) is None:
            return counts
        for script, rx in _SCRIPT_RES.items():
            n = len(rx.findall(text))
            if n:
                counts[script] = n * (_HAN_WEIGHT if script in ("zh", "kana") else 1.0)
        return counts

    def _detect_latin(self, text: str, n_letters: int, other_scripts: bool) -> tuple[str, float]:
        """Best Latin-script language and its probability among the five we serve.

        The model decides among all five even when fewer are allowed, so that Indonesian text is
        "not allowed" rather than "Malay" when only Malay is allowed.
        """
        if not any(code in self._allowed for code in LATIN_LANGUAGES):
            return self.settings.default, 1.0
        probs = dict(self._get_model().rank(_strip_noise(text, other_scripts)))
        ours = {code: probs.get(code, 0.0) for code in LATIN_LANGUAGES}
        mass = sum(ours.values())
        if self.settings.reject_foreign and n_letters >= self.settings.foreign_min_letters:
            related = mass + sum(probs.get(label, 0.0) for label in _RELATIVES)
            top_label, top_prob = max(probs.items(), key=_second)
            if related < 0.2 and top_prob >= 0.5:
                logger.debug("text looks like %s (p=%.2f), not a served language", top_label, top_prob)
                return self.settings.default, top_prob
        if mass <= 0.0:  # no usable n-grams at all: nothing to choose on
            return self.settings.default, 0.0
        posterior = {code: p / mass for code, p in ours.items()}
        best = max(posterior, key=posterior.__getitem__)
        if self.settings.malay_indonesian_lexicon and best in ("ms", "id"):
            posterior = _adjust_malay_indonesian(text, posterior)
            best = max(posterior, key=posterior.__getitem__)
        if best not in self._allowed:
            return self.settings.default, posterior[best]
        return best, posterior[best]

    def _get_model(self) -> Any:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = _load_model()
        return self._model


def _load_model() -> Any:
    """The full py3langid naive-Bayes model with probabilities (softmax-normalised) switched on."""
    try:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier
    except ImportError as exc:  # pragma: no cover - exercised only without the dependency
        raise ImportError(
            "Language detection needs the 'py3langid' package (it ships its model, no download): "
            "pip install 'py3langid==0.4.0'"
        ) from exc
    logger.info("loading the py3langid language model")
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def _strip_noise(text: str, other_scripts: bool) -> str:
    """Drop what says nothing about a Latin-script language: URLs, e-mail addresses, other scripts."""
    if other_scripts:  # e.g. a Thai name in parentheses inside English text
        text = _ANY_NON_LATIN_RE.sub(" ", text)
    if "://" in text or "www." in text:
        text = _URL_RE.sub(" ", text)
    if "@" in text:
        text = _EMAIL_RE.sub(" ", text)
    return text


def _second(item: tuple[str, float]) -> float:
    return item[1]


def malay_indonesian_evidence(text: str) -> float:
    """Lexical log-odds that `text` is Malay rather than Indonesian (> 0 Malay, < 0 Indonesian).

    Sums the weights of words whose spelling or choice differs between the Malaysian and Indonesian
    standards (e.g. kerana/karena, wang/uang, kerajaan/pemerintah, universiti/universitas).
    """
    score = 0.0
    for word in _WORD_RE.findall(text.lower()):
        weight = MALAY_INDONESIAN_WEIGHTS.get(word)
        score += weight if weight is not None else malay_indonesian_suffix_weight(word)
    return score


def _adjust_malay_indonesian(text: str, posterior: dict[str, float]) -> dict[str, float]:
    """Re-split the ms+id probability mass with the model's log-odds plus the lexicon's."""
    p_ms, p_id = posterior["ms"], posterior["id"]
    pair = p_ms + p_id
    if pair <= 0.0:
        return posterior
    model_log_odds = math.log(max(p_ms, 1e-9) / max(p_id, 1e-9))
    log_odds = model_log_odds + malay_indonesian_evidence(text)
    share_ms = 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, log_odds))))
    adjusted = dict(posterior)
    adjusted["ms"], adjusted["id"] = pair * share_ms, pair * (1.0 - share_ms)
    return adjusted
