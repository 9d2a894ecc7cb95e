"""The `Answerer` port of the answer service and its two adapters: extractive and LLM.

`rag.answering.AnswerService` retrieves and finishes (refusal, `Answer`); an answerer does the rest of one
answer: make a follow-up standalone, choose the sources it shows, and write the answer as events
(`warning`, `delta`) while filling in an `AnswerRun`. The service never asks which kind it holds.

- `ExtractiveAnswerer`: quotes source sentences (`rag.extractive`); no model server, nothing to close.
- `LLMAnswerer`: a `Generator` (SEA-LION on vLLM); its citations are verified against the sources. When the
  generator fails, hangs past `generator.first_token_timeout_s` or runs past `generator.answer_deadline_s`,
  it says so in a `warning` event and hands the answer to its extractive fallback. The answer's language
  is checked before it is shown and the model asked again when it wrote another one
  (`rag.language_control`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import anyio
import numpy as np

from indices.embedder import Embedder
from indices.language import LanguageDetector
from indices.schema import Hit
from rag.citations import VerifiedAnswer, attribute, verify
from rag.extractive import ExtractiveSettings, SentenceExtractor
from rag.generators import EXTRACTIVE, build_generator
from rag.generators.base import ChatMessage, Generator, GeneratorError, GeneratorUnavailable
from rag.generators.settings import GeneratorSettings
from rag.language_control import (
    LanguageControlSettings,
    visible_text,
    with_language_reminder,
    wrong_language,
)
from rag.prompting import PromptBuilder, PromptSettings, TokenCounter, language_name

logger = logging.getLogger(__name__)

AnswerEvent = tuple[str, dict[str, Any]]
"""(event name, data) as streamed to the caller: `warning` or `delta` from an answerer."""

_DOWN = frozenset({"timeout", "circuit_open"})
"""Generator failure kinds after which it is not tried again within the same answer."""


@dataclass(slots=True)
class AnswerRun:
    """The state of one answer, filled in by the answerer.

    `verified` is None when the answerer has no answer (nothing to quote, or it refused); `generator`
    names who wrote the answer; `warnings` are for the caller, `errors` (failure kinds) for metrics.
    """

    deadline: float | None = None
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # milliseconds, keys ending in `_ms`
    scores: dict[str, float] = field(default_factory=dict)  # the decision's features (no unit)
    verified: VerifiedAnswer | None = None
    generator: str = EXTRACTIVE
    down: str | None = None  # failure kind that rules the generator out for the rest of this answer
    messages: list[ChatMessage] = field(default_factory=list)
    # Retrieval returned fewer sources than asked: a filter or a small corpus left nothing more to find.
    exhausted: bool = False


@runtime_checkable
class Answerer(Protocol):
    """Writes an answer from retrieved sources (the port `AnswerService` depends on)."""

    name: str

    async def standalone(self, question: str, history: Sequence[dict[str, str]], run: AnswerRun) -> str:
        """The follow-up `question` rewritten to stand alone (for retrieval and answering)."""
        ...

    def prepare(self, question: str, language: str, hits: list[Hit], run: AnswerRun) -> list[Hit]:
        """The sources the answer may cite, numbered from 1 in this order (the `sources` event)."""
        ...

    def answer(
        self,
        question: str,
        language: str,
        sources: list[Hit],
        query_vector: np.ndarray | None,
        run: AnswerRun,
    ) -> AsyncIterator[AnswerEvent]:
        """Write the answer: yield `warning`/`delta` events, leave the result in `run`."""
        ...

    async def health(self) -> bool | None:
        """Whether the backend answers; None when there is no backend to check."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


def previous_turn_question(question: str, history: Sequence[dict[str, str]]) -> str:
    """A follow-up without a model: the previous user turn as context."""
    previous = [t["content"] for t in history if t.get("role") == "user"]
    return f"{previous[-1]} {question}" if previous else question


class ExtractiveAnswerer:
    """`Answerer` quoting the best source sentences: the default without an LLM, and the LLM's fallback."""

    name = EXTRACTIVE

    def __init__(self, settings: ExtractiveSettings, embedder: Embedder) -> None:
        self.extractor = SentenceExtractor(settings, embedder)

    async def standalone(self, question: str, history: Sequence[dict[str, str]], run: AnswerRun) -> str:
        """Without a model, the previous user turn gives the follow-up its context."""
        return previous_turn_question(question, history)

    def prepare(self, question: str, language: str, hits: list[Hit], run: AnswerRun) -> list[Hit]:
        """Every retrieved hit is a source."""
        return hits

    async def answer(
        self,
        question: str,
        language: str,
        sources: list[Hit],
        query_vector: np.ndarray | None,
        run: AnswerRun,
    ) -> AsyncIterator[AnswerEvent]:
        """Quote the sentences, one `delta` per sentence."""
        if not sources:
            return
        ext = await anyio.to_thread.run_sync(
            lambda: self.extractor.answer(
                question, sources, query_vector, language=language, exhausted=run.exhausted
            )
        )
        run.scores["extractive_best_score"] = round(ext.best_score, 4)
        run.scores["extractive_cosine"] = round(ext.cosine, 4)
        run.scores["extractive_overlap"] = round(ext.overlap, 4)
        run.scores["extractive_cross_language"] = float(ext.cross_language)
        run.scores["extractive_hit_score"] = round(sources[0].score, 4)
        run.scores["extractive_hit_margin"] = round(
            sources[0].score - (sources[1].score if len(sources) > 1 else 0.0), 4
        )
        run.generator = EXTRACTIVE
        if ext.refused:
            run.verified = VerifiedAnswer("")
            return
        for i, part in enumerate(ext.parts):
            yield "delta", {"text": part if i == 0 else " " + part}
        run.verified = verify(ext.text, sources, None)

    async def health(self) -> bool | None:
        """Nothing to check."""
        return None

    async def aclose(self) -> None:
        """Nothing to release."""


class LLMAnswerer:
    """`Answerer` over a `Generator`, with citations verified and an extractive fallback."""

    def __init__(
        self,
        generator: Generator,
        prompts: PromptBuilder,
        embedder: Embedder,
        fallback: ExtractiveAnswerer,
        *,
        max_answer_tokens: int,
        detector: LanguageDetector | None = None,
        language: LanguageControlSettings | None = None,
        attribution_min_score: float | None = None,
    ) -> None:
        self.generator = generator
        self.name = generator.name
        self.prompts = prompts
        self.embedder = embedder
        self.fallback = fallback
        self.max_answer_tokens = max_answer_tokens
        self.detector = detector
        self.language = language or LanguageControlSettings()
        self.attribution_min_score = attribution_min_score

    def _deadline(self, run: AnswerRun) -> float:
        if run.deadline is None:
            run.deadline = time.monotonic() + self.generator.answer_deadline_s
        return run.deadline

    def _failed(self, run: AnswerRun, exc: GeneratorError) -> str:
        # the details (hosts, server messages) go to the log, the caller gets the kind only
        run.errors.append(exc.kind)
        if isinstance(exc, GeneratorUnavailable) and exc.kind in _DOWN:
            run.down = exc.kind
        return exc.kind

    async def standalone(self, question: str, history: Sequence[dict[str, str]], run: AnswerRun) -> str:
        """The model rewrites the follow-up; on failure the previous user turn gives the context."""
        try:
            res = await self.generator.complete(
                self.prompts.rewrite_messages(question, list(history)),
                max_tokens=128,
                deadline=self._deadline(run),
            )
            rewritten = res.text.strip().splitlines()[0].strip() if res.text.strip() else ""
            if rewritten:
                return rewritten
        except GeneratorError as exc:
            logger.warning("follow-up rewrite failed, retrieving with the previous turn: %s", exc)
            run.warnings.append(f"follow-up rewrite skipped: generator failed ({self._failed(run, exc)})")
        return previous_turn_question(question, history)

    def prepare(self, question: str, language: str, hits: list[Hit], run: AnswerRun) -> list[Hit]:
        """The sources that fit the prompt's token budget; the prompt is kept in `run`."""
        built = self.prompts.answer_messages(question, language, hits)
        run.messages = list(built.messages)
        return built.sources

    async def answer(
        self,
        question: str,
        language: str,
        sources: list[Hit],
        query_vector: np.ndarray | None,
        run: AnswerRun,
    ) -> AsyncIterator[AnswerEvent]:
        """Stream the model's answer and verify it; fall back to extractive with a `warning` event."""
        if not sources:
            return
        kind = run.down
        if kind is None:
            try:
                text = ""
                async for event in self._generate(language, run):
                    if event[0] == "text":
                        text = event[1]["text"]
                    else:
                        yield event
                encode = self.fallback.extractor.sentence_vectors  # shares the LRU of sentence vectors
                run.verified = await anyio.to_thread.run_sync(lambda: self._verify(text, sources, encode))
                run.generator = self.name
                return
            except GeneratorError as exc:
                logger.warning("generator failed, answering extractively: %s", exc)
                kind = self._failed(run, exc)
        message = f"generator unavailable, extractive answer instead ({kind})"
        run.warnings.append(message)
        yield "warning", {"message": message, "kind": kind}
        async for event in self.fallback.answer(question, language, sources, query_vector, run):
            yield event

    def _verify(self, text: str, sources: list[Hit], encode: Any) -> VerifiedAnswer:
        """Markers checked and quoted; then unmarked claims with numbers attributed (when enabled)."""
        verified = verify(text, sources, encode)
        if self.attribution_min_score is None:
            return verified
        return attribute(verified, sources, encode, self.attribution_min_score)

    async def _generate(self, language: str, run: AnswerRun) -> AsyncIterator[AnswerEvent]:
        """Stream the model's answer as `delta` events, its language checked first; the whole text comes
        last as a ("text", ...) event for the caller to verify."""
        known = self.detector is not None and language != self.detector.settings.default
        check = self.language.check_chars if known else 0  # no language to hold the answer to: no check
        attempts = 1 + (self.language.retries if check else 0)
        messages = run.messages
        text = ""
        for attempt in range(attempts):
            held = check > 0 and attempt < attempts - 1  # the last attempt streams whatever comes
            text, other = "", None
            stream = self.generator.stream(
                messages, max_tokens=self.max_answer_tokens, deadline=self._deadline(run)
            )
            async with aclosing(stream):
                async for delta in stream:
                    text += delta
                    if not held:
                        yield "delta", {"text": delta}
                    elif len(visible_text(text)) >= check:
                        other = self._other_language(text, language)
                        if other:
                            break
                        held = False
                        yield "delta", {"text": text}
            if held and not other and text:  # shorter than the check: names and numbers, shown as they are
                yield "delta", {"text": text}
            if not other:
                break
            logger.info(
                "answer in %s to a %s question, asking again (attempt %d)", other, language, attempt + 2
            )
            run.scores["language_retries"] = attempt + 1
            messages = with_language_reminder(run.messages, language)
        if check and len(visible_text(text)) >= check and (other := self._other_language(text, language)):
            run.warnings.append(
                f"the answer is in {language_name(other)}, not in the language of the question "
                f"({language_name(language)})"
            )
        yield "text", {"text": text}

    def _other_language(self, text: str, language: str) -> str | None:
        if self.detector is None or not text.strip():
            return None
        return wrong_language(self.detector, text, language)

    async def health(self) -> bool | None:
        """The generator's health check."""
        return await self.generator.health()

    async def aclose(self) -> None:
        """Close the generator's connections."""
        await self.generator.aclose()


def build_answerer(
    generator: GeneratorSettings,
    extractive: ExtractiveSettings,
    prompt: PromptSettings,
    embedder: Embedder,
    *,
    max_answer_tokens: int,
    detector: LanguageDetector | None = None,
    language: LanguageControlSettings | None = None,
    attribution_min_score: float | None = None,
) -> Answerer:
    """The answerer `generator.backend` names: extractive, or an LLM with the extractive fallback."""
    fallback = ExtractiveAnswerer(extractive, embedder)
    llm = build_generator(generator)
    if llm is None:
        return fallback
    prompts = PromptBuilder(prompt, TokenCounter(prompt.tokenizer))
    return LLMAnswerer(
        llm,
        prompts,
        embedder,
        fallback,
        max_answer_tokens=max_answer_tokens,
        detector=detector,
        language=language,
        attribution_min_score=attribution_min_score,
    )
