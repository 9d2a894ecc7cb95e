"""Which documents are versions of one another: the series keys stored with every chunk.

A document gets one key per rule that applies to it; two documents sharing any key are versions of one
series, and `rag.versions` decides at query time which version is in force (the latest effective date,
or the one that names the other in `supersedes`). Keys are derived from the document alone, so ingesting
versions in any order, re-ingesting one or deleting one needs no update of the others.

Rules (section `ingest.series`):
* `title`: the same normalised title within one agency (case, width, spaces and punctuation ignored; a
  year stays part of it, so "Annual Report 2024" and "Annual Report 2025" are two documents). A title
  that only repeats the file name is not a title.
* `reference_patterns`: regular expressions over the title and the start of the text; the named group
  `key` (the reference number without its year: "No. 12/2026" -> "12") is the key, within one agency.
* `url`: the same web address (a JSONL/CSV record's `url`, a fetched page).
* `supersedes`: an export record's explicit `supersedes` field (a document id or a list of them); every
  document also carries its own id as a key so that the document it replaces can find it.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from pydantic import BaseModel, Field, field_validator

#: "No. 12/2026", "Bil. 3/2025", "Nomor 7/2024", "Số 15/2026": number before the year. Thai "ที่ กค 0401/ว 12":
#: the whole number (it carries no year).
DEFAULT_REFERENCE_PATTERNS = [
    r"(?i)\b(?:no|bil|nomor|nombor|number|số)\.?\s*:?\s*(?P<key>\d{1,5})\s*/\s*(?:19|20)\d{2}\b",
    r"ที่\s*(?P<key>[ก-ฮ]{1,4}\.?\s*\d{3,5}(?:\.\d+)*\s*/\s*ว?\.?\s*\d{1,5})",
]


class SeriesSettings(BaseModel):
    """How documents are linked into version series (section `ingest.series`)."""

    title: bool = Field(
        default=True, description="Link documents of one agency with the same normalised title."
    )
    reference_patterns: list[str] = Field(
        default_factory=lambda: list(DEFAULT_REFERENCE_PATTERNS),
        description="Regular expressions with a named group `key` (the reference number without its year), "
        "searched in the title and the start of the text; documents of one agency with the same key are "
        "linked. Empty turns the rule off.",
    )
    reference_chars: int = Field(
        default=400, ge=0, description="How much of the text's start is searched for a reference number."
    )
    url: bool = Field(default=True, description="Link documents with the same web address.")
    supersedes: bool = Field(default=True, description="Honour an export record's `supersedes` field.")

    @field_validator("reference_patterns")
    @classmethod
    def _patterns_compile(cls, value: list[str]) -> list[str]:
        """Refuse a pattern that is not a regex or has no `key` group when the settings are read."""
        _compile(value)
        return value

    def compiled(self) -> list[re.Pattern[str]]:
        """The reference patterns, compiled."""
        return _compile(self.reference_patterns)


def _compile(patterns: list[str]) -> list[re.Pattern[str]]:
    out = []
    for raw in patterns:
        try:
            pat = re.compile(raw)
        except re.error as exc:
            raise ValueError(
                f"ingest.series.reference_patterns: {raw!r} is not a valid regex ({exc})"
            ) from exc
        if "key" not in pat.groupindex:
            raise ValueError(f"ingest.series.reference_patterns: {raw!r} has no named group (?P<key>...)")
        out.append(pat)
    return out


_NOT_WORD = re.compile(r"[\W_]+")


def normalize_title(title: str) -> str:
    """A title reduced to what identifies the series: NFKC, lower case, no punctuation, single spaces."""
    text = unicodedata.normalize("NFKC", title).casefold()
    return " ".join(_NOT_WORD.sub(" ", text).split())


def supersedes_of(record: dict[str, Any] | None) -> list[str]:
    """The ids an export record says it supersedes: a string (several separated by ";" or ",") or a list."""
    value = (record or {}).get("supersedes")
    if isinstance(value, str):
        return [v.strip() for v in re.split(r"[;,]", value) if v.strip()]
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    return []


def series_keys(
    *,
    doc_id: str,
    title: str,
    text: str,
    url: str | None,
    agency: str,
    record: dict[str, Any] | None,
    settings: SeriesSettings,
    patterns: list[re.Pattern[str]] | None = None,
) -> list[str]:
    """The series keys of one document (see the module docstring), without duplicates."""
    keys = [f"doc:{doc_id}"]
    if settings.title and title:
        norm = normalize_title(title)
        if norm:
            keys.append(f"title:{agency}:{norm}")
    head = f"{title}\n{text[: settings.reference_chars]}"
    for pat in patterns if patterns is not None else settings.compiled():
        m = pat.search(head)
        if m and m.group("key"):
            keys.append(f"ref:{agency}:{''.join(m.group('key').split())}")
            break
    if settings.url and url and url.startswith(("http://", "https://")):
        keys.append(f"url:{url.split('#', 1)[0].rstrip('/')}")
    if settings.supersedes:
        keys.extend(f"doc:{d}" for d in supersedes_of(record))
    return list(dict.fromkeys(keys))
