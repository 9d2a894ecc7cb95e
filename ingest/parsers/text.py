"""Plain text in any common encoding, and the encoding detection every text format shares.

Detection order: a byte-order mark; strict UTF-8; then charset-normalizer's guesses plus the legacy
codecs of the region (TIS-620/cp874 Thai, GB18030, Big5, Windows-1258 Vietnamese, Windows-1252)
and BOM-less UTF-16. Each candidate decoding is scored by script-aware sanity checks (control or
unassigned characters, letters from several unrelated scripts, Thai/Lao/Khmer/Burmese/Tamil
combining marks with no base letter, Latin-1 symbol soup) and the cleanest wins, so a short Thai
text is not taken for Chinese or Cyrillic mojibake.
"""

from __future__ import annotations

import codecs
import logging
import re
import unicodedata
from functools import lru_cache

from ingest.parsed import Element, ParsedDocument, ParseError
from ingest.parser_settings import ParserSettings

logger = logging.getLogger(__name__)

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
#: Legacy codecs always tried besides charset-normalizer's guesses (the region's usual exports).
_REGIONAL_CODECS = ("cp874", "gb18030", "big5", "cp1258", "cp1252", "utf-16-le", "utf-16-be")
_ALLOWED_CONTROLS = frozenset("\t\n\r\f\v")
#: Combining marks that must follow a letter of their own script.
_MARK_RANGES = {
    "THAI": (0x0E00, 0x0E7F),
    "LAO": (0x0E80, 0x0EFF),
    "KHMER": (0x1780, 0x17FF),
    "MYANMAR": (0x1000, 0x109F),
    "TAMIL": (0x0B80, 0x0BFF),
}
#: Scripts that mix with any other in real text (digits, punctuation names are not scripts).
_NEUTRAL_SCRIPTS = frozenset({"LATIN", "FULLWIDTH", "HALFWIDTH", "COMBINING", "DIGIT"})
_LATIN_WORD = re.compile(r"[A-Za-z\u00c0-\u024f\u1e00-\u1eff]{3,}")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n+")
_BADNESS_LIMIT = 0.05


def decode_text(data: bytes, forced: str | None = None) -> tuple[str, str]:
    """Decode bytes of unknown encoding; returns (NFC text, codec name) or raises `ParseError`."""
    if forced:
        try:
            return unicodedata.normalize("NFC", data.decode(forced)), forced
        except (LookupError, UnicodeDecodeError) as exc:
            raise ParseError(f"cannot decode as {forced} (ingest.parser.text_encoding): {exc}") from exc
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                return unicodedata.normalize("NFC", data.decode(codec)), codec
            except UnicodeDecodeError as exc:
                raise ParseError(f"corrupt {codec} text: {exc.reason} at byte {exc.start}") from exc
    best = _best_decoding(data)
    if best is None:
        raise ParseError("cannot decode text: no encoding gives clean text (binary data, or a rare codec?)")
    text, codec, badness = best
    if badness > _BADNESS_LIMIT:
        raise ParseError(
            f"cannot decode text: best guess {codec} still looks garbled ({badness:.0%} bad characters)"
        )
    return unicodedata.normalize("NFC", text), codec


def looks_like_text(sample: bytes) -> bool:
    """Whether a (possibly truncated) byte sample is text in some encoding we can decode."""
    if not sample:
        return True
    if any(sample.startswith(bom) for bom, _ in _BOMS):
        return True
    best = _best_decoding(sample, truncated=True)
    return best is not None and best[2] <= _BADNESS_LIMIT


def _best_decoding(data: bytes, truncated: bool = False) -> tuple[str, str, float] | None:
    """The cleanest (text, codec, badness) among the candidate codecs, or None if none decodes."""
    utf16 = _utf16_by_nuls(data)
    if utf16 is not None:
        text = _decode(data, utf16, truncated)
        if text is not None:
            return text, utf16, _badness(text)
    if 0 not in data:
        text = _decode(data, "utf-8", truncated)
        # strict UTF-8 beyond ASCII is strong evidence: mixed scripts (a Thai-Chinese notice) are fine
        if text is not None and _badness(text, scripts=False) <= _BADNESS_LIMIT:
            return text, "utf-8", _badness(text, scripts=False)
    # on equal badness the region's codecs win: a short text decodes cleanly in several of them
    candidates = [*_REGIONAL_CODECS, *_normalizer_guesses(data)]
    scored: list[tuple[float, int, str, str]] = []
    seen: set[str] = set()
    for rank, codec in enumerate(candidates):
        name = codecs.lookup(codec).name
        if name in seen:
            continue
        seen.add(name)
        if name.startswith("utf-16") and not _utf16_plausible(data, big_endian=name.endswith("be")):
            continue
        text = _decode(data, codec, truncated)
        if text is not None:
            scored.append((_badness(text), rank, codec, text))
    if not scored:
        return None
    badness, _, codec, text = min(scored)
    return text, codec, badness


def _decode(data: bytes, codec: str, truncated: bool) -> str | None:
    """Strict decode; a sample cut mid-character may lose up to 3 trailing bytes."""
    for cut in range(4 if truncated else 1):
        try:
            return (data[: len(data) - cut] if cut else data).decode(codec)
        except UnicodeDecodeError:
            continue
        except LookupError:
            return None
    return None


def _normalizer_guesses(data: bytes) -> list[str]:
    """charset-normalizer's ranked guesses (empty when it is not installed or finds nothing)."""
    try:
        from charset_normalizer import from_bytes
    except ImportError:  # pragma: no cover - charset-normalizer ships with requests/httpx stacks
        logger.warning("charset-normalizer missing: encoding detection falls back to a fixed codec list")
        return []
    return [m.encoding for m in from_bytes(data[:200_000])][:5]


def _utf16_by_nuls(data: bytes) -> str | None:
    """BOM-less UTF-16 of mostly ASCII text: NULs at every other byte (odd = LE, even = BE)."""
    sample = data[:4096]
    if len(sample) < 4:
        return None
    half = len(sample) // 2
    even_nuls = sample[0::2].count(0)
    odd_nuls = sample[1::2].count(0)
    if odd_nuls > 0.3 * half and even_nuls < 0.05 * half:
        return "utf-16-le"
    if even_nuls > 0.3 * half and odd_nuls < 0.05 * half:
        return "utf-16-be"
    return None


def _utf16_plausible(data: bytes, big_endian: bool) -> bool:
    """BOM-less UTF-16 text has some ASCII (spaces, newlines, digits), so NULs in the high bytes,
    and few in the low bytes (U+xx00 characters such as 一 are rare); binary data has NULs anywhere."""
    sample = data[: 8192 - (8192 % 2)]
    if len(sample) % 2:
        sample = sample[:-1]
    high, low = (sample[0::2], sample[1::2]) if big_endian else (sample[1::2], sample[0::2])
    high_nuls, low_nuls = high.count(0), low.count(0)
    return high_nuls >= max(low_nuls, 1) and low_nuls <= max(1, 0.05 * len(low))


@lru_cache(maxsize=4096)
def _script(ch: str) -> str:
    """The script of a letter or mark, from its Unicode name ("THAI", "CJK", "LATIN", ...)."""
    name = unicodedata.name(ch, "")
    return name.split(" ", 1)[0] if name else "UNKNOWN"


def _badness(text: str, scripts: bool = True) -> float:
    """Share of suspicious characters: lower is more plausible text (0 = clean).

    With `scripts`, letters outside the text's main non-Latin script count as suspicious too.
    """
    sample = text[:20_000]
    bad = 0.0
    visible = 0
    by_script: dict[str, int] = {}
    prev = " "
    for ch in sample:
        cat = unicodedata.category(ch)
        if ch.isspace():
            prev = ch
            continue
        visible += 1
        if cat in ("Cn", "Co", "Cs") or ch == "\ufffd" or (cat == "Cc" and ch not in _ALLOWED_CONTROLS):
            bad += 1
        elif cat.startswith("M") or 0x0E30 <= ord(ch) <= 0x0E4E:
            bad += _misplaced_mark(ch, prev)
        elif cat.startswith("L") and ord(ch) <= 0x7F:
            bad += _glued_to_brahmic(prev)
        elif cat.startswith("L") and ord(ch) > 0x7F:
            if prev.isascii() and prev.isalpha():
                bad += _glued_to_brahmic(ch)
            script = _script(ch)
            by_script[script] = by_script.get(script, 0) + 1
            if script == "CJK" and not _common_hanzi(ch):
                bad += 0.5  # mis-decoded bytes land on rare ideographs far more often than text does
        elif 0xA0 <= ord(ch) <= 0xBF and 0x7F < ord(prev) <= 0xFF:
            # Latin-1 symbol soup ("Â¡Â£") is how mis-decoded multibyte text looks; after a CJK or
            # other letter, "·" (U+00B7) is just the name separator of Chinese transliterations.
            bad += 1
        prev = ch
    bad += _latin_soup(sample)
    foreign = {s: n for s, n in by_script.items() if s not in _NEUTRAL_SCRIPTS}
    if scripts and foreign:
        bad += sum(foreign.values()) - max(foreign.values())  # letters outside the main script
    return bad / max(visible, 1)


def _glued_to_brahmic(ch: str) -> bool:
    """Whether `ch` is a Thai/Lao/Khmer/Burmese/Tamil letter; such scripts rarely touch a Latin
    letter with no space between, while Big5/GB bytes read as TIS-620 do it constantly."""
    code = ord(ch)
    return any(lo <= code <= hi for lo, hi in _MARK_RANGES.values())


@lru_cache(maxsize=65536)
def _common_hanzi(ch: str) -> bool:
    """An ideograph among the ~9,000 in everyday use: GB2312 level 1 (simplified) or Big5 level 1."""
    for codec, lo, hi in (("gb2312", 0xB0, 0xD7), ("big5", 0xA4, 0xC6)):
        try:
            if lo <= ch.encode(codec)[0] <= hi:
                return True
        except UnicodeEncodeError:
            continue
    return False


def _latin_soup(text: str) -> int:
    """Letters in Latin words without a single plain ASCII letter ("Ïðèâåò" is Cyrillic read as
    Latin-1); real words of three letters or more (French, Vietnamese "được") have one."""
    return sum(len(w) for w in _LATIN_WORD.findall(text) if all(ord(c) > 0x7F for c in w))


def _misplaced_mark(mark: str, prev: str) -> bool:
    """A combining mark right after a space/ASCII/other script cannot come from a real text."""
    code = ord(mark)
    if 0x0E30 <= code <= 0x0E4E:
        return _misplaced_thai(code, ord(prev))
    for lo, hi in _MARK_RANGES.values():
        if lo <= code <= hi:
            return not (lo <= ord(prev) <= hi)
    if 0x0300 <= code <= 0x036F:  # generic combining accents (Windows-1258 tone marks): need a letter
        return not (prev.isalpha() or unicodedata.category(prev).startswith("M"))
    return False


def _misplaced_thai(code: int, prev: int) -> bool:
    """Thai spelling: above/below vowels follow a consonant; tone marks follow a consonant or vowel mark."""
    consonant = 0x0E01 <= prev <= 0x0E2E
    if code in (0x0E31, *range(0x0E34, 0x0E3B), 0x0E47):
        return not consonant
    if 0x0E48 <= code <= 0x0E4C:
        return not (consonant or prev in (0x0E31, *range(0x0E34, 0x0E3A)))
    if code in (0x0E30, 0x0E32, 0x0E33, 0x0E45):
        return not (consonant or 0x0E31 <= prev <= 0x0E4C)  # trailing vowels follow the syllable
    return False


def text_elements(text: str) -> list[Element]:
    """Split plain text into paragraph elements at blank lines (line breaks inside are kept)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return [Element(p.strip("\n")) for p in _PARAGRAPH_BREAK.split(text) if p.strip()]


def parse_text(data: bytes, settings: ParserSettings, filename: str = "") -> ParsedDocument:
    """Parse a plain-text file: detect the encoding, split paragraphs at blank lines."""
    text, codec = decode_text(data, settings.text_encoding)
    text = text.lstrip("\ufeff")
    elements = text_elements(text)
    return ParsedDocument(elements=elements, metadata={"encoding": codec})
