"""Language control of LLM answers: the answer must be in the question's language.

Small and mid-size models drift to the language of their sources (English documents, a Burmese question:
an English answer), and a prompt rule alone does not hold them (issue 11; docs/eval-results.md). The
answerer therefore checks the language of what the model writes before showing it:

* the first `check_chars` visible characters of a streamed answer (citation markers left out) are held
  back and their language detected; when it is the question's language (or the detector is unsure) the
  held text is sent and the rest streams through untouched;
* when it is confidently another language, the stream is stopped and the model asked again with one
  reminder at the end of the prompt ("Write the whole answer in Thai."), at most `retries` times; the
  last attempt streams whatever comes and, when still in the wrong language, the answer carries a
  warning that says so;
* an answer shorter than `check_chars` is shown as it is: a name, a number or a date ("Assunpink Creek
  [1]", "70 dollars [1]") reads the same in any language, and asking again would only risk a refusal.

Cost: the first token reaches the caller after ~`check_chars` characters (about 10-15 tokens; on a GPU
serving SEA-LION a few hundred milliseconds), and a retry costs one more prompt pass. Malay and
Indonesian are accepted for each other: the detector tells them apart on vocabulary that a short prefix
often lacks, and either serves the reader.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, Field

from indices.language import LanguageDetector
from rag.citations import strip_markers
from rag.generators.base import ChatMessage
from rag.prompting import language_name

_INTERCHANGEABLE = frozenset({frozenset({"ms", "id"})})


class LanguageControlSettings(BaseModel):
    """Checking the language of LLM answers (section `answer.language_control`)."""

    check_chars: int = Field(
        default=40,
        ge=0,
        le=1000,
        description="Visible characters of a streamed LLM answer held back to check its language before "
        "it is shown; 0 turns the check off.",
    )
    retries: int = Field(
        default=1,
        ge=0,
        le=3,
        description="New attempts, with a reminder of the language, when the answer is in another language.",
    )


def visible_text(text: str) -> str:
    """The answer without its citation markers."""
    return strip_markers(text).strip()


def same_language(found: str, expected: str) -> bool:
    """Whether an answer in `found` serves a question in `expected`."""
    return found == expected or frozenset({found, expected}) in _INTERCHANGEABLE


def answer_language(detector: LanguageDetector, text: str) -> str | None:
    """The language the answer is confidently written in; None when unsure or empty."""
    found = detector.detect_with_confidence(visible_text(text))
    if found.lang == detector.settings.default or found.confidence < detector.settings.min_confidence:
        return None
    return found.lang


def wrong_language(detector: LanguageDetector, text: str, expected: str) -> str | None:
    """The other language `text` is confidently in, or None when it may be `expected`'s."""
    found = answer_language(detector, text)
    return found if found is not None and not same_language(found, expected) else None


def with_language_reminder(messages: Sequence[ChatMessage], lang: str) -> list[ChatMessage]:
    """`messages` with a reminder of the answer's language at the end of the last user message (where a
    small model attends most)."""
    reminder = f"\n\nWrite the whole answer in {language_name(lang)}, the language of the question."
    out = [dict(m) for m in messages]
    for m in reversed(out):
        if m.get("role") == "user":
            m["content"] = f"{m.get('content', '')}{reminder}"
            break
    else:
        out.append({"role": "user", "content": reminder.strip()})
    return out
