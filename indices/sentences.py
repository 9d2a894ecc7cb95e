"""Multilingual sentence segmentation, shared by citation checking and extractive answers.

Rules per script: Latin, Vietnamese and Tamil sentences end with . ! ? followed by space; Chinese with
。！？ (no space follows); Burmese with ။; Khmer with ។ or ៕; Thai and Lao have no sentence punctuation and
separate sentences with a space, so a space between two runs of Thai/Lao script is a boundary. A blank
line always ends a sentence; a single line break (text wrapped by a PDF or an e-mail client) does not when
the sentence visibly goes on: the line ends without a terminator and the next starts with a lower-case
letter, or both sides are Chinese/Japanese characters. Abbreviations such as "e.g." or "Dr." and decimals
like "1.5" do not end a sentence either.
"""

from __future__ import annotations

import re

_ABBREV = {
    "e.g",
    "i.e",
    "etc",
    "dr",
    "mr",
    "mrs",
    "ms",
    "no",
    "vs",
    "jl",
    "st",
    "sdn",
    "bhd",
    "pt",
    "tbk",
    "hj",
    "dato",
    "tel",
    "fax",
    "ref",
    "art",
    "sec",
    "para",
    "tp",
    "q",
    "tt",
    "nd",
    "cp",
}
_THAI_LAO = "\u0e00-\u0e7f\u0e80-\u0eff"
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_WRAPPED = re.compile(r"[^\s.!?…:;。！？；\u104B\u17D4\u17D5]\Z")  # a line that ends mid-sentence
_CJK_CHAR = re.compile(rf"[{_CJK}]")
_BOUNDARY = re.compile(
    r"(?P<latin>[.!?…]+[\"'”’)\]]*)(?=\s)"  # Latin-style terminator before a space
    r"|(?P<cjk>[。！？；]+[”’」』)]*)"  # CJK terminators
    r"|(?P<sea>[\u104B\u17D4\u17D5\u0964\u0965]+)"  # Burmese ။, Khmer ។ ៕, danda
    rf"|(?<=[{_THAI_LAO}])(?P<tl>[ \u00A0]+)(?=[{_THAI_LAO}])"  # space between Thai/Lao runs
    r"|(?P<nl>[ \t]*\n(?:[ \t]*\n)*[ \t]*)"
)


def _is_abbreviation(text: str, end: int) -> bool:
    """True when the '.' ending at `end` closes an abbreviation or sits inside a number."""
    start = end - 1
    while start > 0 and (text[start - 1].isalnum() or text[start - 1] == "."):
        start -= 1
    word = text[start : end - 1].lower()
    return word in _ABBREV or (len(word) == 1 and word.isalpha())


def _wrapped_line(text: str, nl: re.Match[str]) -> bool:
    """True when the line break `nl` only wraps a sentence that continues on the next line."""
    if nl.group("nl").count("\n") > 1 or nl.start() == 0 or nl.end() >= len(text):
        return False
    before, after = text[nl.start() - 1], text[nl.end()]
    if _CJK_CHAR.match(before) and _CJK_CHAR.match(after):
        return True
    return bool(_WRAPPED.match(before)) and after.isalpha() and after.islower()


def sentence_spans(text: str, min_chars: int = 1) -> list[tuple[int, int]]:
    """Character spans (start, end) of the sentences of `text`, whitespace trimmed."""
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _BOUNDARY.finditer(text):
        if m.group("latin") and m.group("latin").startswith(".") and _is_abbreviation(text, m.start() + 1):
            continue
        if m.group("nl") and _wrapped_line(text, m):
            continue
        end = m.start() if (m.group("tl") or m.group("nl")) else m.end()
        _append(text, start, end, spans)
        start = m.end()
    _append(text, start, len(text), spans)
    return [s for s in spans if s[1] - s[0] >= min_chars]


def _append(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        spans.append((start, end))


def split_sentences(text: str, min_chars: int = 1) -> list[str]:
    """The sentences of `text` (see module docstring for the rules)."""
    return [text[a:b] for a, b in sentence_spans(text, min_chars)]
