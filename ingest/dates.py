"""A document's dates: when it was issued, and when it is in force, found in its metadata and its text.

Government documents state their dates in their own language and calendar: "15 มกราคม 2569" (Thai,
Buddhist era: 2569 = 2026), "ngày 15 tháng 1 năm 2026", "2026年1月15日", "၂၀၂၆ ခုနှစ် ဇန်နဝါရီလ ၁၅ ရက်"
(Burmese digits), "ថ្ងៃទី១៥ ខែមករា ឆ្នាំ២០២៦" (Khmer), "15 ມັງກອນ 2026" (Lao), "15 ஜனவரி 2026",
"15 Januari 2026", "Enero 15, 2026". Digits of every script are read as numbers; years past 2400 are
Buddhist era. A date right after words such as "effective from" / "berkuat kuasa" / "มีผลใช้บังคับ" /
"có hiệu lực" / "生效" is an effective-from date; after "until" / "hingga" / "จนถึง" / "đến" / "至" an
effective-until date; any other date near the start of the document is an issue date.

Metadata set by the source (a JSON-LD `datePublished`, an HTML `<meta>`, a JSONL field) wins over the text,
and the text over file properties (a DOCX's "created" is often the template's). Each date found says where
it came from, so an answer can show it and an operator can check it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

#: Month names by language (lower case; abbreviations where they are common in official documents).
_MONTHS: dict[str, list[list[str]]] = {
    "en": [
        ["january", "jan"], ["february", "feb"], ["march", "mar"], ["april", "apr"], ["may"], ["june", "jun"],
        ["july", "jul"], ["august", "aug"], ["september", "sept", "sep"], ["october", "oct"],
        ["november", "nov"], ["december", "dec"],
    ],
    "ms": [
        ["januari"], ["februari"], ["mac"], ["april"], ["mei"], ["jun"], ["julai"], ["ogos"], ["september"],
        ["oktober"], ["november"], ["disember"],
    ],
    "id": [
        ["januari"], ["februari", "pebruari"], ["maret"], ["april"], ["mei"], ["juni"], ["juli"],
        ["agustus"], ["september"], ["oktober"], ["november", "nopember"], ["desember"],
    ],
    "tl": [
        ["enero"], ["pebrero", "febrero"], ["marso"], ["abril"], ["mayo"], ["hunyo"], ["hulyo"], ["agosto"],
        ["setyembre", "septiyembre", "septiembre"], ["oktubre"], ["nobyembre"], ["disyembre"],
    ],
    "th": [
        ["มกราคม", "ม.ค."], ["กุมภาพันธ์", "ก.พ."], ["มีนาคม", "มี.ค."], ["เมษายน", "เม.ย."],
        ["พฤษภาคม", "พ.ค."], ["มิถุนายน", "มิ.ย."], ["กรกฎาคม", "ก.ค."], ["สิงหาคม", "ส.ค."],
        ["กันยายน", "ก.ย."], ["ตุลาคม", "ต.ค."], ["พฤศจิกายน", "พ.ย."], ["ธันวาคม", "ธ.ค."],
    ],
    "lo": [
        ["ມັງກອນ"], ["ກຸມພາ"], ["ມີນາ"], ["ເມສາ"], ["ພຶດສະພາ"], ["ມິຖຸນາ"], ["ກໍລະກົດ"], ["ສິງຫາ"],
        ["ກັນຍາ"], ["ຕຸລາ"], ["ພະຈິກ"], ["ທັນວາ"],
    ],
    "km": [
        ["មករា"], ["កុម្ភៈ", "កុម្ភះ"], ["មីនា"], ["មេសា"], ["ឧសភា"], ["មិថុនា"], ["កក្កដា"], ["សីហា"],
        ["កញ្ញា"], ["តុលា"], ["វិច្ឆិកា"], ["ធ្នូ"],
    ],
    "my": [
        ["ဇန်နဝါရီ"], ["ဖေဖော်ဝါရီ"], ["မတ်"], ["ဧပြီ"], ["မေ"], ["ဇွန်"], ["ဇူလိုင်"], ["ဩဂုတ်", "သြဂုတ်"],
        ["စက်တင်ဘာ"], ["အောက်တိုဘာ"], ["နိုဝင်ဘာ"], ["ဒီဇင်ဘာ"],
    ],
    "ta": [
        ["ஜனவரி"], ["பிப்ரவரி"], ["மார்ச்"], ["ஏப்ரல்"], ["மே"], ["ஜூன்"], ["ஜூலை"], ["ஆகஸ்ட்"],
        ["செப்டம்பர்"], ["அக்டோபர்"], ["நவம்பர்"], ["டிசம்பர்"],
    ],
}  # fmt: skip

_MONTH_OF: dict[str, int] = {}
for _names in _MONTHS.values():
    for _no, _forms in enumerate(_names, start=1):
        for _form in _forms:
            _MONTH_OF.setdefault(_form, _no)
# Longest first, so "มีนาคม" wins over a shorter form and "sept" over "sep".
_MONTH_RE = "|".join(re.escape(m) for m in sorted(_MONTH_OF, key=len, reverse=True))

# Words that may stand between the parts of a date: Thai/Lao/Khmer/Burmese "day", "month", "year", eras.
_DAY_WORD = r"(?:วันที่|ວັນທີ|ថ្ងៃទី|ngày)?"
_MONTH_WORD = r"(?:เดือน|ເດືອນ|ខែ)?"
_YEAR_WORD = r"(?:พ\.ศ\.|ค\.ศ\.|พุทธศักราช|ປີ|ព\.ស\.|គ\.ស\.|ឆ្នាំ|tahun|taon|năm)?"
_S = r"[\s,]*"

_PATTERNS: list[tuple[re.Pattern[str], tuple[str, str, str]]] = [
    # 2026-01-15 (ISO 8601; also the start of a timestamp)
    (re.compile(r"(?<!\d)(\d{4})-(\d{1,2})-(\d{1,2})(?!\d)"), ("y", "m", "d")),
    # 2026年1月15日 (Chinese; also Japanese-style forms in Chinese documents)
    (re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]"), ("y", "m", "d")),
    # ngày 15 tháng 1 năm 2026 (Vietnamese)
    (re.compile(r"(\d{1,2})\s*tháng\s*(\d{1,2})\s*,?\s*năm\s*(\d{4})", re.I), ("d", "m", "y")),
    # ၂၀၂၆ ခုနှစ် ဇန်နဝါရီလ ၁၅ ရက် (Burmese: year, month, day)
    (
        re.compile(rf"(\d{{4}})\s*(?:ခုနှစ်)?{_S}({_MONTH_RE})(?:လ)?\s*(\d{{1,2}})\s*(?:ရက်)?", re.I),
        ("y", "mn", "d"),
    ),
    # 15 January 2026, 15 มกราคม 2569, ថ្ងៃទី១៥ ខែមករា ឆ្នាំ២០២៦, 15 ஜனவரி 2026 (day, month name, year)
    (
        re.compile(
            rf"{_DAY_WORD}\s*(?<!\d)(\d{{1,2}})(?:st|nd|rd|th)?{_S}{_MONTH_WORD}\s*({_MONTH_RE})\.?{_S}"
            rf"{_YEAR_WORD}\s*(\d{{4}})(?!\d)",
            re.I,
        ),
        ("d", "mn", "y"),
    ),
    # January 15, 2026 / Enero 15, 2026 (month name, day, year)
    (re.compile(rf"\b({_MONTH_RE})\.?\s+(\d{{1,2}}),?\s+(\d{{4}})(?!\d)", re.I), ("mn", "d", "y")),
    # 15/01/2026, 15.1.2026 (day first, as in every ASEAN country)
    (re.compile(r"(?<![\d/.])(\d{1,2})[/.](\d{1,2})[/.](\d{4})(?![\d/.])"), ("d", "m", "y")),
]

_FROM_WORDS = re.compile(
    r"(?:\b(?:effective|with effect|in force|commencing|from|berkuat ?kuasa|mulai|berlaku|có hiệu lực|"
    r"kể từ|từ|epektibo|simula)|มีผล|บังคับใช้|ตั้งแต่|生效|施行|起|自|ມີຜົນ|ຕັ້ງແຕ່|ចូលជាធរមាន|ចាប់ពី|"
    r"စတင်|நடைமுறை|அமலுக்கு)\W*\w*\W*$",
    re.I,
)
_UNTIL_WORDS = re.compile(
    r"(?:\b(?:until|till|expires?|to|hingga|sehingga|sampai|đến|hanggang)|จนถึง|至|止|ຈົນຮອດ|ຈົນເຖິງ|រហូតដល់|"
    r"အထိ|வரை)\W*\w*\W*$",
    re.I,
)

#: Plausible years for a government document (after converting Buddhist-era years).
MIN_YEAR, MAX_YEAR = 1900, 2100
#: Buddhist-era years are 543 ahead; a year past this is read as one.
_BE_FROM = 2400


@dataclass(slots=True, frozen=True)
class FoundDate:
    """One date and where it came from (`text`, `text:effective_from`, `metadata:datePublished`, ...)."""

    value: date
    kind: str  # "issued", "effective_from" or "effective_until"
    source: str


@dataclass(slots=True)
class DocumentDates:
    """The dates of one document; `None` when none was found."""

    issued: FoundDate | None = None
    effective_from: FoundDate | None = None
    effective_until: FoundDate | None = None
    found: list[FoundDate] = field(default_factory=list)

    @property
    def doc_date(self) -> float | None:
        """The date the index filters on (`doc_date`): the issue date, else the effective-from date, as a
        UTC timestamp at midnight."""
        best = self.issued or self.effective_from
        return _timestamp(best.value) if best else None

    def as_payload(self) -> dict[str, Any]:
        """The dates as stored with each chunk (ISO dates and their sources)."""
        out: dict[str, Any] = {}
        for kind in ("issued", "effective_from", "effective_until"):
            found: FoundDate | None = getattr(self, kind)
            if found is not None:
                out[kind] = found.value.isoformat()
                out[f"{kind}_source"] = found.source
        return out


def doc_date_of(payload: dict[str, Any]) -> float | None:
    """The `doc_date` timestamp for dates stored by `DocumentDates.as_payload` (issued, else effective)."""
    for key in ("issued", "effective_from"):
        value = parse_date_value(payload.get(key))
        if value is not None:
            return _timestamp(value)
    return None


def effective_date_of(payload: dict[str, Any]) -> float | None:
    """When the version takes effect, for version resolution: the effective-from date, else the issue date."""
    for key in ("effective_from", "issued"):
        value = parse_date_value(payload.get(key))
        if value is not None:
            return _timestamp(value)
    return None


def ascii_digits(text: str) -> str:
    """Digits of every script (Thai ๑, Lao ໑, Khmer ១, Burmese ၁, Tamil ௧, full-width １...) as 0-9."""
    return "".join(str(unicodedata.digit(ch)) if ch.isdigit() and not ch.isascii() else ch for ch in text)


def _make_date(year: int, month: int, day: int) -> date | None:
    if year >= _BE_FROM:
        year -= 543
    if not MIN_YEAR <= year <= MAX_YEAR:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


def dates_in_text(text: str, *, limit_chars: int = 6000) -> list[tuple[int, date, str]]:
    """(offset, date, kind) for each date written in the first `limit_chars` of `text`, in text order."""
    head = ascii_digits(text[:limit_chars])
    taken: list[tuple[int, int]] = []
    found: list[tuple[int, date, str]] = []
    for pattern, order in _PATTERNS:
        for m in pattern.finditer(head):
            if any(m.start() < end and start < m.end() for start, end in taken):
                continue  # a more specific pattern already read these characters
            parts = dict(zip(order, m.groups(), strict=True))
            if "mn" in parts:
                name = parts["mn"].lower()
                month = _MONTH_OF.get(name) or _MONTH_OF.get(name.rstrip("."))
            else:
                month = int(parts["m"])
            if month is None:
                continue
            value = _make_date(int(parts["y"]), month, int(parts["d"]))
            if value is None:
                continue
            taken.append((m.start(), m.end()))
            before = head[max(0, m.start() - 40) : m.start()]
            kind = "issued"
            if _UNTIL_WORDS.search(before):
                kind = "effective_until"
            elif _FROM_WORDS.search(before):
                kind = "effective_from"
            found.append((m.start(), value, kind))
    return sorted(found, key=lambda f: f[0])


#: Metadata keys that name an issue date, best first (JSON-LD, HTML <meta>, JSONL exports, e-mail, files).
_ISSUED_KEYS = (
    "issued", "date_issued", "datePublished", "published", "publication_date", "date", "dateCreated",
    "sent", "pdf_created", "created",
)  # fmt: skip
_FROM_KEYS = ("effective_from", "effective_date", "valid_from", "effective")
_UNTIL_KEYS = ("effective_until", "valid_until", "expires", "expiry_date")
#: Keys that only describe the file, not the document: used when the text states no date.
_FILE_KEYS = frozenset({"pdf_created", "created", "dateCreated"})
#: Top-level fields of a JSONL/CSV export record read as dates.
RECORD_DATE_FIELDS = tuple(dict.fromkeys((*_ISSUED_KEYS, *_FROM_KEYS, *_UNTIL_KEYS)))


def parse_date_value(value: Any) -> date | None:
    """A date from a metadata value: a `date`/`datetime`, an ISO string, a PDF date (`D:20260115...`) or a
    date written in words in any supported language."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not value.strip():
        return None
    raw = ascii_digits(value.strip())
    pdf = re.match(r"D:(\d{4})(\d{2})(\d{2})", raw)
    if pdf:
        return _make_date(int(pdf[1]), int(pdf[2]), int(pdf[3]))
    found = dates_in_text(raw, limit_chars=200)
    return found[0][1] if found else None


def document_dates(metadata: dict[str, Any], text: str) -> DocumentDates:
    """The document's issue and effective dates from its metadata and the start of its text."""
    out = DocumentDates()

    def first_from(keys: tuple[str, ...], kind: str, *, file_props: bool) -> FoundDate | None:
        for key in keys:
            if (key in _FILE_KEYS) != file_props:
                continue
            value = parse_date_value(metadata.get(key))
            if value is not None:
                return FoundDate(value, kind, f"metadata:{key}")
        return None

    out.issued = first_from(_ISSUED_KEYS, "issued", file_props=False)
    out.effective_from = first_from(_FROM_KEYS, "effective_from", file_props=False)
    out.effective_until = first_from(_UNTIL_KEYS, "effective_until", file_props=False)
    for _, value, kind in dates_in_text(text):
        found = FoundDate(value, kind, f"text:{kind}" if kind != "issued" else "text")
        out.found.append(found)
        if getattr(out, kind) is None:
            setattr(out, kind, found)
    if out.issued is None:
        out.issued = first_from(_ISSUED_KEYS, "issued", file_props=True)
    return out


def core_property_dates(props: Any) -> dict[str, str]:
    """An Office file's core properties (python-docx/python-pptx `core_properties`) as metadata dates:
    `created` (a file property, used only when the text states no date)."""
    created = getattr(props, "created", None)
    return {"created": created.isoformat()} if isinstance(created, datetime) else {}


def _timestamp(value: date) -> float:
    return datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp()
