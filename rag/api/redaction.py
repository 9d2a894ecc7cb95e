"""Personal-data redaction for logs and the audit trail: `redact(text)` and the logging `RedactingFilter`.

Questions to a government assistant routinely carry identity numbers, phone numbers and e-mail addresses
("my IC is 900101-14-5678, why was my claim refused?"). Logs and the audit database keep text for months
and are read by operators, so everything written there goes through `redact` first.

What is replaced, in this order (earlier kinds win, tokens contain no digits so a second pass is a no-op):
- e-mail addresses -> `[EMAIL]`;
- Singapore NRIC/FIN (S/T/F/G/M, 7 digits, letter) -> `[NRIC]`: every well-formed one, checksum or not,
  because a mistyped number still identifies a person (`nric_checksum_ok` is there for callers who care);
- Malaysian MyKad -> `[MYKAD]`: the date part must be a real date. Bare 12-digit numbers (bank accounts,
  references, CCCDs) are common, and only ~1 in 27 random ones has a valid YYMMDD, so the check removes
  most false positives at no risk (every real MyKad passes); bare digits must also carry a place-of-birth
  code the registry issues. The printed `YYMMDD-PB-####` shape (dashes or spaces) is specific enough that
  only the date is checked, so a mistyped place code is still redacted;
- Vietnamese CCCD -> `[CCCD]`: 12 digits = one of the 63 province codes + century/sex digit 0-3;
- Indonesian NIK -> `[NIK]`: 16 digits = province code, regency, district, birth date (day + 40 for women);
- Thai national ID -> `[THAI_ID]`: 13 digits with a valid check digit, or the printed 1-4-5-2-1 shape;
- Philippine SSS (`12-3456789-0`), TIN with branch (`123-456-789-000`), PhilSys card number
  (`1234-5678-9012-3456`) -> `[PH_ID]`; a 16-digit number that passes Luhn and is not a NIK -> `[CARD]`;
- phone numbers -> `[PHONE]`: `+`/`00` + country code; local forms with a leading 0 (MY, ID, TH, VN, PH,
  MM, KH, LA: 9-13 digits); Singapore's 8-digit `6/8/9xxx xxxx`; SEA mobiles written with the country
  code but no `+` (`6591234567`). Groups may be split by spaces, dashes, dots or `(0x)` parentheses.

Text is normalised before matching: NFKC (full-width `Ｓ１２３４５６７Ｄ` and `siti＠example.com` become
ASCII), invisible characters (zero-width space/joiners, BOM, soft hyphen) are removed and dash look-alikes
become `-`; separators inside numbers are tolerated (`S 1234567 D`, `S-1234567-D`, `6012 345 6789`).
Only what is redacted changes: the rest of the text keeps its original characters (full-width Chinese
punctuation stays full-width).

Not redacted: amounts (a currency sign or word right before/after cancels a match: "RM1,000", "70
dollars", "100.000 đồng"), years, dates (`2026-11-26`, `01.02.2026`), times, short codes. Digits may be
any Unicode decimal digits (Thai, full-width...). Boundaries are "not an ASCII letter or digit", so an ID
glued to Thai or Chinese text ("เลขบัตร1101700203450") is still found. Known gaps: names and addresses,
passports, numbers spelled out in words, obfuscated e-mails ("ali [at] gov [dot] my").
"""

from __future__ import annotations

import calendar
import logging
import re
import unicodedata
from collections import Counter
from collections.abc import Callable
from difflib import SequenceMatcher
from typing import Any

EMAIL = "[EMAIL]"
NRIC = "[NRIC]"
MYKAD = "[MYKAD]"
CCCD = "[CCCD]"
NIK = "[NIK]"
THAI_ID = "[THAI_ID]"
PH_ID = "[PH_ID]"
CARD = "[CARD]"
PHONE = "[PHONE]"

_NB = r"(?<![A-Za-z\d])(?<!\d[.,])"  # not inside a word, a longer number or a decimal
_NA = r"(?![A-Za-z\d])(?![.,]\d)"

_EMAIL_RE = re.compile(
    r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]+@(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+"
    r"[A-Za-z]{2,63}(?![A-Za-z0-9\-])"
)
_NRIC_RE = re.compile(_NB + r"[STFGMstfgm][ -]?\d{7}[ -]?[A-Za-z]" + _NA)
_MYKAD_SEP_RE = re.compile(_NB + r"(\d{6})[- ](\d{2})[- ](\d{4})" + _NA)
_THAI_SEP_RE = re.compile(_NB + r"[1-8][- ]\d{4}[- ]\d{5}[- ]\d{2}[- ]\d" + _NA)
_PH_RE = re.compile(_NB + r"(?:\d{2}-\d{7}-\d|\d{3}-\d{3}-\d{3}-\d{3,5})" + _NA)
_GROUPED16_RE = re.compile(_NB + r"(\d{4})([- ])(\d{4})\2(\d{4})\2(\d{4})" + _NA)
_DIGITS_RE = re.compile(_NB + r"(?:\d{16}|\d{13}|\d{12})" + _NA)
# A phone-like run: optional "+" or "(", digit groups joined by 1-3 of space . - ( ).
_RUN_RE = re.compile(r"(?<![A-Za-z\d+])(?:\(?\+ ?)?\(?\d+(?:[ .\-()]{1,3}\d+)*")
_GROUP_RE = re.compile(r"\d+")
_DATE_RE = re.compile(
    r"(?<!\d)(?:\d{1,2}([./\-])\d{1,2}\1(?:\d{4}|\d{2})|\d{4}([./\-])\d{1,2}\2\d{1,2})(?!\d)"
)

_CURRENCY_BEFORE = re.compile(
    r"(?:RM|S\$|US\$|\$|SGD|USD|MYR|IDR|Rp\.?|THB|฿|VND|₫|PHP|₱|MMK|KHR|៛|LAK|₭|€|£|¥|元)\s?$", re.I
)
_CURRENCY_AFTER = re.compile(
    r"^\s?(?:dollars?|ringgit|rupiah|baht|บาท|đồng|dong|đ(?!\w)|vnd|pesos?|yuan|元|块|kyats?|ကျပ်|riels?|"
    r"រៀល|kip|ກີບ|cents?|sen)",
    re.I,
)

_NRIC_TABLES = {"S": (0, "JZIHGFEDCBA"), "T": (4, "JZIHGFEDCBA"), "F": (0, "XWUTRQPNMLK"),
                "G": (4, "XWUTRQPNMLK"), "M": (3, "XWUTRQPNJLK")}  # fmt: skip
# Place-of-birth codes the Malaysian registry issues (00, 17-20, 69, 70, 73, 80, 81, 94-97 are unused).
_MYKAD_PLACES = frozenset([*range(1, 17), *range(21, 69), 71, 72, *range(74, 80), *range(82, 94), 98, 99])
# The 63 province codes that open a CCCD number.
_VN_CODES = (
    "001 002 004 006 008 010 011 012 014 015 017 019 020 022 024 025 026 027 030 031 033 034 035 036 037 "
    "038 040 042 044 045 046 048 049 051 052 054 056 058 060 062 064 066 067 068 070 072 074 075 077 079 "
    "080 082 083 084 086 087 089 091 092 093 094 095 096"
)
_VN_PROVINCES = frozenset(_VN_CODES.split())
_ID_PROVINCES = frozenset([*range(11, 20), 21, *range(31, 37), *range(51, 54), *range(61, 66), *range(71, 77),
                           81, 82, *range(91, 98)])  # fmt: skip
# National significant number lengths after a SEA country code.
_NSN_LENGTHS = {"65": (8, 8), "60": (8, 10), "62": (8, 12), "66": (8, 9), "84": (9, 10), "63": (8, 10),
                "95": (7, 10), "855": (8, 9), "856": (8, 10), "673": (7, 7), "670": (7, 8)}  # fmt: skip
_MOBILE_NO_PLUS = re.compile(r"65[689]\d{7}|601\d{8,9}|628\d{8,11}|66[689]\d{8}|84[35789]\d{8}|639\d{9}")


_INVISIBLE = re.compile("[\u00ad\u180e\u200b-\u200f\u2060-\u2064\ufeff]")
_DASHES = str.maketrans(dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63", "-"))


def normalise(text: str) -> tuple[str, list[int]]:
    """`text` as matched (NFKC per character, invisible characters removed, dash look-alikes as `-`) and,
    for each character of it, the index of the character of `text` it came from."""
    chars: list[str] = []
    owner: list[int] = []
    for i, c in enumerate(text):
        n = "" if _INVISIBLE.match(c) else unicodedata.normalize("NFKC", c).translate(_DASHES)
        chars.append(n)
        owner.extend([i] * len(n))
    return "".join(chars), owner


def _restore(text: str, norm: str, owner: list[int], out: str) -> str:
    """`out` (redacted `norm`) with the untouched stretches in their original characters.

    Every character emitted is either from `out` or an original character whose whole normalised form is
    an unchanged stretch of `out`, so the result normalises to `out`: nothing redacted can come back.
    """
    width = Counter(owner)
    pieces: list[str] = []
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, norm, out, autojunk=False).get_opcodes():
        if tag != "equal":
            pieces.append(out[j1:j2])
            continue
        j = i1
        while j < i2:
            o = owner[j]
            if (j == 0 or owner[j - 1] != o) and j + width[o] <= i2:
                pieces.append(text[o])
                j += width[o]
            else:
                pieces.append(norm[j])
                j += 1
    return "".join(pieces)


def _ascii(digits: str) -> str:
    """Unicode decimal digits as ASCII ("๑๒" -> "12") so checks and prefixes compare plainly."""
    return "".join(str(int(c)) for c in digits)


def nric_checksum_ok(nric: str) -> bool:
    """Whether a Singapore NRIC/FIN's check letter matches its digits (weights 2,7,6,5,4,3,2)."""
    if not re.fullmatch(r"[STFGM]\d{7}[A-Z]", nric.upper()):
        return False
    offset, table = _NRIC_TABLES[nric[0].upper()]
    digits = _ascii(nric[1:8])
    total = offset + sum(int(d) * w for d, w in zip(digits, (2, 7, 6, 5, 4, 3, 2), strict=True))
    return table[total % 11] == nric[8].upper()


def _plausible_date(yy: int, mm: int, dd: int) -> bool:
    """A day that exists in month `mm` of some year ending in `yy` (Feb 29 when `yy` can be a leap year)."""
    if not 1 <= mm <= 12 or dd < 1:
        return False
    leap_year = 2000 + yy if calendar.isleap(2000 + yy) else 2001
    return dd <= calendar.monthrange(leap_year, mm)[1]


def mykad_plausible(digits: str, *, check_place: bool = True) -> bool:
    """Whether 12 digits can be a MyKad: birth date YYMMDD, then (optionally) an issued place code."""
    d = _ascii(digits)
    if len(d) != 12 or not _plausible_date(int(d[0:2]), int(d[2:4]), int(d[4:6])):
        return False
    return not check_place or int(d[6:8]) in _MYKAD_PLACES


def cccd_plausible(digits: str) -> bool:
    """Whether 12 digits can be a Vietnamese CCCD: province code, then century/sex digit 0-3."""
    d = _ascii(digits)
    return len(d) == 12 and d[:3] in _VN_PROVINCES and d[3] in "0123"


def nik_plausible(digits: str) -> bool:
    """Whether 16 digits can be an Indonesian NIK: province, regency, district, DDMMYY (+40 days: women)."""
    d = _ascii(digits)
    if len(d) != 16 or int(d[:2]) not in _ID_PROVINCES or d[2:4] == "00" or d[4:6] == "00":
        return False
    day = int(d[6:8])
    day = day - 40 if day > 40 else day
    return _plausible_date(int(d[10:12]), int(d[8:10]), day) and d[12:] != "0000"


def thai_id_ok(digits: str) -> bool:
    """Whether 13 digits are a Thai national ID: category 1-8 and the mod-11 check digit."""
    d = _ascii(digits)
    if len(d) != 13 or d[0] not in "12345678":
        return False
    total = sum(int(c) * (13 - i) for i, c in enumerate(d[:12]))
    return (11 - total % 11) % 10 == int(d[12])


def luhn_ok(digits: str) -> bool:
    """The Luhn check used by payment-card numbers."""
    total = 0
    for i, c in enumerate(reversed(_ascii(digits))):
        n = int(c) * (2 if i % 2 else 1)
        total += n - 9 if n > 9 else n
    return total % 10 == 0


def _is_amount(text: str, start: int, end: int) -> bool:
    """A currency sign/code just before or a currency word just after: this number is money."""
    return bool(_CURRENCY_BEFORE.search(text[max(0, start - 5) : start])) or bool(
        _CURRENCY_AFTER.match(text[end : end + 12])
    )


def _sub(pattern: re.Pattern[str], text: str, choose: Callable[[re.Match[str]], str | None]) -> str:
    """Replace each match by `choose(match)`; None or an amount keeps the original text."""

    def _one(m: re.Match[str]) -> str:
        token = choose(m)
        if token is None or _is_amount(m.string, m.start(), m.end()):
            return m.group(0)
        return token

    return pattern.sub(_one, text)


def _digits_token(m: re.Match[str]) -> str | None:
    d = m.group(0)
    if len(d) == 12:
        return MYKAD if mykad_plausible(d) else CCCD if cccd_plausible(d) else None
    if len(d) == 13:
        return THAI_ID if thai_id_ok(d) else None
    if nik_plausible(d):
        return NIK
    return CARD if luhn_ok(d) and _ascii(d[0]) in "3456" else None


def _mykad_dashed_token(m: re.Match[str]) -> str | None:
    return MYKAD if mykad_plausible("".join(m.groups()), check_place=False) else None


def _grouped16_token(m: re.Match[str]) -> str | None:
    groups = [m.group(i) for i in (1, 3, 4, 5)]
    if all(1900 <= int(_ascii(g)) <= 2100 for g in groups):  # a list of years
        return None
    return CARD if luhn_ok("".join(groups)) else PH_ID


def _is_phone(groups: list[str], plus: bool) -> bool:
    """Whether digit groups (already ASCII) written as one run form a phone number."""
    d = "".join(groups)
    international = plus or d.startswith("00")
    if any(len(g) < 2 for g in groups[2 if international else 1 :]):  # "+60 3-2161 2345" has a 1-digit area
        return False
    if international:
        body = d if plus else d[2:]
        for cc, (low, high) in _NSN_LENGTHS.items():
            nsn = body[len(cc) :]
            if body.startswith(cc) and low <= len(nsn) <= high and nsn[0] != "0":
                return True
        if not plus:
            return False
        # Other countries: E.164 length; a country-code group must be followed by a non-zero digit.
        return 8 <= len(d) <= 15 and (len(groups) == 1 or (len(groups[0]) <= 3 and groups[1][0] != "0"))
    if d[0] == "0":
        return len(groups[0]) >= 2 and d[1] != "0" and 9 <= len(d) <= 13
    if _MOBILE_NO_PLUS.fullmatch(d):  # "6591234567", "65 9123 4567", "6012 345 6789"
        return True
    round_pair = d[1:4] == d[5:8] == "000"  # "8000 9000" are amounts, not a line
    return len(d) == 8 and d[0] in "689" and [len(g) for g in groups] in ([8], [4, 4]) and not round_pair


def _redact_run(text: str, run: re.Match[str], out: list[str]) -> None:
    """Append `run` to `out` with its phone numbers replaced: the longest valid window of groups wins."""
    groups = list(_GROUP_RE.finditer(run.group(0)))[:12]
    plus = "+" in run.group(0)[: groups[0].start()]
    pos, i = 0, 0
    while i < len(groups):
        for j in range(min(len(groups), i + 6), i, -1):
            start = 0 if i == 0 else groups[i].start()
            end = groups[j - 1].end()
            window = [_ascii(g.group(0)) for g in groups[i:j]]
            if _is_phone(window, plus and i == 0) and not _is_amount(
                text, run.start() + start, run.start() + end
            ):
                out.append(run.group(0)[pos:start] + PHONE)
                pos, i = end, j
                break
        else:
            i += 1
    out.append(run.group(0)[pos:])


def _is_date(m: re.Match[str]) -> bool:
    """Whether a d.m.y / y-m-d looking match has a day and month in range (either order for d/m)."""
    parts = [int(_ascii(p)) for p in re.split(r"[./\-]", m.group(0))]
    if m.group(0)[:4].isdigit():  # year first
        parts = [parts[2], parts[1], parts[0]]
    a, b = parts[0], parts[1]
    return (1 <= a <= 31 and 1 <= b <= 12) or (1 <= a <= 12 and 1 <= b <= 31)


def _redact_phones(text: str) -> str:
    """Replace phone numbers, leaving dates alone (a date splits a run of digit groups)."""
    out: list[str] = []
    pos = 0
    for date in _DATE_RE.finditer(text):
        if _is_date(date):
            out.append(_redact_phones_between_dates(text[pos : date.start()]))
            out.append(date.group(0))
            pos = date.end()
    out.append(_redact_phones_between_dates(text[pos:]))
    return "".join(out)


def _redact_phones_between_dates(text: str) -> str:
    out: list[str] = []
    pos = 0
    for run in _RUN_RE.finditer(text):
        out.append(text[pos : run.start()])
        _redact_run(text, run, out)
        pos = run.end()
    out.append(text[pos:])
    return "".join(out)


def redact(text: str) -> str:
    """Return `text` with personal data replaced by tokens such as `[NRIC]` or `[PHONE]` (see module doc).

    Matching runs on `normalise(text)`; when nothing is found the original text is returned unchanged.
    """
    norm, owner = normalise(text)
    out = _redact_normalised(norm)
    if out == norm:
        return text
    return out if norm == text else _restore(text, norm, owner, out)


def _redact_normalised(text: str) -> str:
    digits = sum(c.isdigit() for c in text)
    if digits < 7 and "@" not in text:  # the shortest thing redacted is an NRIC's 7 digits
        return text
    text = _EMAIL_RE.sub(EMAIL, text)
    text = _sub(_NRIC_RE, text, lambda m: NRIC)
    text = _sub(_MYKAD_SEP_RE, text, _mykad_dashed_token)
    text = _sub(_THAI_SEP_RE, text, lambda m: THAI_ID)
    text = _sub(_PH_RE, text, lambda m: PH_ID)
    text = _sub(_GROUPED16_RE, text, _grouped16_token)
    text = _sub(_DIGITS_RE, text, _digits_token)
    return _redact_phones(text) if digits >= 8 else text  # no phone number has fewer than 8 digits


#: Attributes every LogRecord has; anything else on a record came from `extra=`.
STANDARD_LOG_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}


def _redact_value(value: Any) -> Any:
    """Redact strings, also inside lists, tuples and dict values; other values are returned as they are."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list | tuple):
        return type(value)(_redact_value(v) for v in value)
    if isinstance(value, dict):
        return {k: _redact_value(v) for k, v in value.items()}
    return value


class RedactingFilter(logging.Filter):
    """Logging filter that redacts a record before any handler formats it.

    It formats `msg % args` first (so data passed as `%s` arguments is caught), stores the redacted text
    as `msg` with no `args`, and redacts string `extra` fields, the traceback text and the stack info.
    Install it on handlers (a logger's filters do not see records propagated from child loggers).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact `record` in place; never drops it."""
        try:
            message = record.getMessage()
        except Exception:  # wrong %-args: keep both parts rather than lose the line
            message = f"{record.msg} {record.args!r}"
        record.msg = redact(message)
        record.args = None
        for key, value in list(record.__dict__.items()):
            if key not in STANDARD_LOG_ATTRS:
                record.__dict__[key] = _redact_value(value)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True
