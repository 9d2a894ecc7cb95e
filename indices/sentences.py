"""Multilingual sentence segmentation, shared by citation checking and extractive answers.

Rules per script: Latin, Vietnamese and Tamil sentences end with . ! ? followed by space; Chinese with
。！？ (no space follows); Burmese with ။; Khmer with ។ or ៕; Thai and Lao have no sentence punctuation and
separate sentences with a space, so a space between two runs of Thai/Lao script is a boundary. Line breaks
always end a sentence. Abbreviations such as "e.g." or "Dr." and decimals like "1.5" do not.
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
_BOUNDARY = re.compile(
    r"(?P<latin>[.!?…]+[\"'”’)\]]*)(?=\s)"  # Latin-style terminator before a space
    r"|(?P<cjk>[。！？；]+[”’」』)]*)"  # CJK terminators
    r"|(?P<sea>[\u104B\u17D4\u17D5\u0964\u0965]+)"  # Burmese ။, Khmer ។ ៕, danda
    rf"|(?<=[{_THAI_LAO}])(?P<tl>[ \u00A0]+)(?=[{_THAI_LAO}])"  # space between Thai/Lao runs
    r"|(?P<nl>\n+)"
)


def _is_abbreviation(text: str, end: int) -> bool:
    """True when the '.' ending at `end` closes an abbreviation or sits inside a number."""
    start = end - 1
    while start > 0 and (text[start - 1].isalnum() or text[start - 1] == "."):
        start -= 1
    word = text[start : end - 1].lower()
    if word in _ABBREV or (len(word) == 1 and word.isalpha()):
        return True
    return False


def sentence_spans(text: str, min_chars: int = 1) -> list[tuple[int, int]]:
    """Character spans (start, end) of the sentences of `text`, whitespace trimmed."""
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _BOUNDARY.finditer(text):
        if m.group("latin") and m.group("latin").startswith(".") and _is_abbreviation(text, m.start() + 1):
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
