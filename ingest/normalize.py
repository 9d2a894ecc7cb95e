"""Text normalization applied to every extracted document before chunking (and to questions, via NFC).

What it does, in order, and why:

* Line ends: CRLF/CR/NEL/U+2028 become "\\n"; form feeds (PDF page breaks) and U+2029 become a
  paragraph break.
* Invisible characters are removed: BOM/ZWNBSP, ZERO WIDTH SPACE, WORD JOINER, bidi marks and
  embeddings, C0/C1 controls (tab becomes a space). ZWSP is *removed*, not turned into a space: Khmer,
  Lao, Burmese and Thai writers (and machine translation) put it between words as an invisible line-
  break hint, while a visible space in those scripts separates phrases. Removing it leaves the text
  exactly as a reader sees it, keeps chunk display and quoted citations faithful, and gives the BM25
  segmenter the same input as a user's typed question (which never has ZWSPs).
* ZWNJ/ZWJ are *kept* where they can matter (between letters of Indic, Burmese or Khmer text, inside
  emoji sequences) and removed only where they cannot: next to whitespace, at either end, or between
  two Latin letters/digits (where they only block typographic ligatures and split search terms).
* Unicode NFC: composes decomposed Vietnamese (including Windows-1258 style "base vowel + combining
  tone mark") and puts combining marks in canonical order. For Burmese this can swap an asat and a
  dot below (U+103A U+1037 -> U+1037 U+103A) and compose U+1025 U+102E into U+1026 (ဦ): canonically
  equivalent, rendered identically, and what any NFC/NFKC tokenizer sees anyway. Questions must get
  the same NFC for BM25 terms to match.
* Latin ligatures from PDFs (U+FB00-FB06, e.g. "ﬁ") become letters; no-break and other spaces become
  a plain space.
* Soft hyphens are removed; a soft hyphen at a line end also joins the two halves of the word.
* Thai PDF artifact: SARA AM extracted as NIKHAHIT + SARA AA ("ํา") becomes U+0E33, also across a
  tone mark ("้ํา" -> "้ำ"). NIKHAHIT is never followed by SARA AA in Thai or Thai-script Pali
  otherwise. The same fix for Lao (U+0ECD U+0EB2 -> U+0EB3) is opt-in (`lao_am=True`).
* Line-end hyphenation of Latin-script words ("govern-\\nment" -> "government") when both halves are
  lower-case letters, unless the hyphenated form occurs elsewhere in the text ("well-known") or it is
  a Malay/Indonesian reduplication ("undang-\\nundang" -> "undang-undang").
* Whitespace: runs of spaces become one, spaces around line breaks go, more than one blank line
  becomes one blank line (paragraph breaks survive; single line breaks are kept as they are, since
  joining wrapped lines would insert spaces into Thai/Lao/Khmer/Burmese/Chinese words).

No other character of any script is changed, and the leading vowels of Thai/Lao are never reordered.
"""

from __future__ import annotations

import logging
import re
import unicodedata

logger = logging.getLogger(__name__)

__all__ = ["normalize_text"]

_ZWNJ, _ZWJ = "\u200c", "\u200d"


def _build_table() -> dict[int, str | None]:
    table: dict[int, str | None] = {}
    for cp in (*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)):  # C0 and C1 controls
        table[cp] = None
    table[ord("\t")] = " "
    table[ord("\n")] = "\n"
    table[ord("\r")] = "\n"  # lone CR (old Mac); CRLF is handled before translation
    table[0x0B] = "\n"  # vertical tab
    table[0x0C] = "\n\n"  # form feed: a page break in extracted PDFs
    table[0x85] = "\n"  # NEL
    table[0x2028] = "\n"
    table[0x2029] = "\n\n"
    # soft hyphen, zero-width space, word joiner, BOM, Mongolian vowel separator, bidi marks, bidi
    # embeddings/overrides, invisible operators and bidi isolates
    invisible = (0x00AD, 0x200B, 0x2060, 0xFEFF, 0x180E, 0x200E, 0x200F, *range(0x202A, 0x202F))
    for cp in (*invisible, *range(0x2061, 0x2070)):
        table[cp] = None
    for cp in (0x00A0, 0x1680, *range(0x2000, 0x200B), 0x202F, 0x205F, 0x3000):
        table[cp] = " "  # no-break, en/em/thin/hair/ideographic... spaces
    table[0x2011] = "-"  # non-breaking hyphen
    table.update({0xFB00: "ff", 0xFB01: "fi", 0xFB02: "fl", 0xFB03: "ffi", 0xFB04: "ffl"})
    table.update({0xFB05: "st", 0xFB06: "st"})  # Latin ligatures from PDF text layers
    return table


_TABLE = _build_table()
# Any character the table changes except "\n": most text has none, and a regex search is far cheaper
# than translating every character through a dict.
_TABLE_RE = re.compile("[" + "".join(re.escape(chr(cp)) for cp in sorted(_TABLE) if cp != ord("\n")) + "]+")
# Characters whose presence means there is work beyond NFC and whitespace (fast path check).
_SPECIAL_RE = re.compile("[\u200c\u200d\u0e4d\u0ecd]|[-\u2010]\n")
_SOFT_HYPHEN_BREAK_RE = re.compile("\u00ad[ \t\u00a0]*(?:\r?\n|\r)[ \t\u00a0]*")
# A joiner that cannot join anything: next to whitespace, at an end, or between Latin letters/digits.
_LATIN_OR_DIGIT = "A-Za-z0-9\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u1e00-\u1eff"
_USELESS_JOINER_RE = re.compile(
    rf"(?:(?<=\s)|^)[{_ZWNJ}{_ZWJ}]+|[{_ZWNJ}{_ZWJ}]+(?=\s|$)"
    rf"|(?<=[{_LATIN_OR_DIGIT}])[{_ZWNJ}{_ZWJ}]+(?=[{_LATIN_OR_DIGIT}])"
)
_THAI_AM_RE = re.compile("\u0e4d([\u0e48-\u0e4b]?)\u0e32")
_LAO_AM_RE = re.compile("\u0ecd([\u0ec8-\u0ecb]?)\u0eb2")
_LATIN_LETTERS = "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u1e00-\u1eff"
# A Latin word (not preceded by a letter, digit or hyphen: "state-of-the-\nart" is left alone), a
# hyphen at the end of the line, and the Latin word that continues on the next line.
_LINE_HYPHEN_RE = re.compile(
    rf"(?<![{_LATIN_OR_DIGIT}-])([{_LATIN_LETTERS}]{{2,}})[-\u2010]\n([{_LATIN_LETTERS}]+)"
)
_COMPOUND_RE = re.compile(rf"[{_LATIN_LETTERS}]+-[{_LATIN_LETTERS}]+")
_HORIZONTAL_SPACE_RE = re.compile(r"[ ]{2,}")
_SPACE_AROUND_NEWLINE_RE = re.compile(r" *\n *")
_MANY_NEWLINES_RE = re.compile(r"\n{3,}")


def normalize_text(text: str, *, lao_am: bool = False) -> str:
    """Clean extracted text for indexing without changing what a reader of any script sees.

    See the module docstring for each step. `lao_am=True` also composes Lao NIGGAHITA + AA into
    U+0EB3 (the Lao twin of the Thai SARA AM fix); it is off by default because Lao keyboards and
    documents commonly use the two-character spelling.
    """
    if not text:
        return ""
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    if "\u00ad" in text:  # a soft hyphen at a line end: the word was broken there
        text = _SOFT_HYPHEN_BREAK_RE.sub("", text)
    if _TABLE_RE.search(text) is not None:
        text = _TABLE_RE.sub(_translate_run, text)
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    if "\n" in text:
        text = _SPACE_AROUND_NEWLINE_RE.sub("\n", text)
    if _SPECIAL_RE.search(text) is not None:
        text = _fix_special(text, lao_am=lao_am)
        text = _SPACE_AROUND_NEWLINE_RE.sub("\n", text)  # removed joiners may have bared spaces
    text = _HORIZONTAL_SPACE_RE.sub(" ", text)
    if "\n" in text:
        text = _MANY_NEWLINES_RE.sub("\n\n", text)
    return text.strip()


def _translate_run(match: re.Match[str]) -> str:
    return match.group().translate(_TABLE)


def _fix_special(text: str, *, lao_am: bool) -> str:
    """Useless joiners, Thai (and optionally Lao) AM, and line-end hyphenation."""
    if _ZWNJ in text or _ZWJ in text:
        text = _USELESS_JOINER_RE.sub("", text)
    if "\u0e4d" in text:
        text = _THAI_AM_RE.sub("\\1\u0e33", text)
    if lao_am and "\u0ecd" in text:
        text = _LAO_AM_RE.sub("\\1\u0eb3", text)
    if "-\n" in text or "\u2010\n" in text:
        text = _dehyphenate(text)
    return text


def _dehyphenate(text: str) -> str:
    """Join Latin words split by a hyphen at a line end, keeping real compounds and reduplications."""
    if _LINE_HYPHEN_RE.search(text) is None:
        return text
    known_compounds = {m.lower() for m in _COMPOUND_RE.findall(text)}

    def _join(match: re.Match[str]) -> str:
        left, right = match.group(1), match.group(2)
        if not (left[-1].islower() and right[0].islower()):
            return match.group(0)  # "Kuala-\nLumpur", "COVID-\n19": not a broken word
        hyphenated = f"{left}-{right}"
        if hyphenated.lower() in known_compounds or left.lower() == right.lower():
            return hyphenated  # a real compound, or a reduplication (undang-undang)
        return left + right

    return _LINE_HYPHEN_RE.sub(_join, text)
