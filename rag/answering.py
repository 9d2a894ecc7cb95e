"""The answer service: question in, cited answer out. The API, the CLI and the evaluation all call it.

Steps: make a follow-up standalone, retrieve (access groups filtered inside the index), pack the
context, generate (SEA-LION on vLLM, or extractive when no LLM is configured or it is down), verify
every citation against the sources, and refuse in the user's language when nothing grounded remains.
`stream()` yields the same result as events: `sources`, `delta`..., `done` (or `error`).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import anyio
from pydantic import BaseModel, Field

from indices.embedder import Embedder
from indices.schema import Hit, SearchFilter
from rag.citations import Citation, VerifiedAnswer, verify
from rag.extractive import ExtractiveAnswerer, ExtractiveSettings
from rag.generators.base import Generator, GeneratorError
from rag.prompting import PromptBuilder, PromptSettings, refusal
from rag.retrieval import RetrievalResult, Retriever

logger = logging.getLogger(__name__)


class AnswerSettings(BaseModel):
    """How answers are made (section `answer`)."""

    top_k: int = Field(default=5, ge=1, description="Sources retrieved for an answer.")
    refuse_ungrounded: bool = Field(
        default=True, description="Replace an answer with no valid citation by the refusal sentence."
    )
    rewrite_followups: bool = Field(default=True, description="Rewrite follow-ups into standalone questions.")
    max_answer_tokens: int = Field(default=768, ge=16, description="Generation limit for an answer.")
    prompt: PromptSettings = Field(default_factory=PromptSettings)
    extractive: ExtractiveSettings = Field(default_factory=ExtractiveSettings)


@dataclass(slots=True)
class Question:
    """A question with its conversation and restrictions; `groups` come from the caller's key."""

    text: str
    history: list[dict[str, str]] = field(default_factory=list)
    agency: str | None = None
    lang: str | None = None
    doc_ids: list[str] | None = None
    exclude_doc_ids: list[str] | None = None
    date_from: float | None = None
    date_to: float | None = None
    top_k: int | None = None
    groups: list[str] | None = None

    def search_filter(self) -> SearchFilter:
        """The index filter this question is answered under."""
        return SearchFilter(
            agencies=[self.agency] if self.agency else None,
            langs=[self.lang] if self.lang else None,
            doc_ids=self.doc_ids,
            exclude_doc_ids=self.exclude_doc_ids,
            groups=self.groups,
            date_from=self.date_from,
            date_to=self.date_to,
        )


@dataclass(slots=True)
class Answer:
    """A verified answer."""

    query_id: str
    question: str
    standalone_question: str
    answer: str
    language: str
    citations: list[Citation]
    grounded: bool
    refused: bool
    generator: str
    sources: list[Hit]
    timings: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    generator_errors: list[str] = field(default_factory=list)  # kinds of generator failures (for metrics)


def source_dict(n: int, hit: Hit) -> dict[str, Any]:
    """A retrieved source as sent in the `sources` event."""
    rec = hit.record
    return {
        "n": n,
        "doc_id": rec.doc_id,
        "title": rec.title,
        "source": rec.source,
        "root": rec.root,  # the API shows non-admins the source relative to it, then drops it
        "page": rec.page,
        "section": rec.section,
        "lang": rec.lang,
        "score": round(hit.score, 4),
    }


class AnswerService:
    """Turns questions into verified, cited answers."""

    def __init__(
        self,
        settings: AnswerSettings,
        retriever: Retriever,
        embedder: Embedder,
        prompts: PromptBuilder,
        generator: Generator | None = None,
    ) -> None:
        self.settings = settings
        self.retriever = retriever
        self.embedder = embedder
        self.prompts = prompts
        self.generator = generator
        self.extractive = ExtractiveAnswerer(settings.extractive, embedder)

    async def _standalone(self, q: Question, warnings: list[str], errors: list[str]) -> str:
        if not q.history or not self.settings.rewrite_followups:
            return q.text
        if self.generator is not None:
            try:
                res = await self.generator.complete(
                    self.prompts.rewrite_messages(q.text, q.history), max_tokens=128
                )
                rewritten = res.text.strip().splitlines()[0].strip() if res.text.strip() else ""
                if rewritten:
                    return rewritten
            except GeneratorError as exc:
                logger.warning("follow-up rewrite failed, retrieving with the previous turn: %s", exc)
                warnings.append(f"follow-up rewrite skipped: generator failed ({exc.kind})")
                errors.append(exc.kind)
        # Without an LLM: retrieve with the previous user turn as context.
        previous = [t["content"] for t in q.history if t.get("role") == "user"]
        return f"{previous[-1]} {q.text}" if previous else q.text

    async def stream(self, q: Question) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """Answer `q` as a sequence of (event, data): sources, delta*, done."""
        t_start = time.perf_counter()
        query_id = uuid.uuid4().hex
        warnings: list[str] = []
        errors: list[str] = []
        timings: dict[str, float] = {}
        standalone = await self._standalone(q, warnings, errors)
        k = q.top_k or self.settings.top_k
        retrieved: RetrievalResult = await anyio.to_thread.run_sync(
            lambda: self.retriever.search(standalone, k=k, flt=q.search_filter())
        )
        language = self.retriever.detector.detect(q.text) if q.history else retrieved.language
        timings.update({f"retrieve_{k2}": v for k2, v in retrieved.timings_ms.items()})
        hits = retrieved.hits
        # The model sees no history: it answers the standalone form (the follow-up with its context resolved).
        built = (
            self.prompts.answer_messages(standalone, language, hits) if self.generator is not None else None
        )
        sources = built.sources if built is not None else hits
        yield (
            "sources",
            {"query_id": query_id, "sources": [source_dict(i, h) for i, h in enumerate(sources, 1)]},
        )

        verified: VerifiedAnswer | None = None
        generator_name = "extractive"
        t0 = time.perf_counter()
        if sources and built is not None and self.generator is not None:
            text = ""
            try:
                async for delta in self.generator.stream(
                    built.messages, max_tokens=self.settings.max_answer_tokens
                ):
                    text += delta
                    yield "delta", {"text": delta}
                generator_name = self.generator.name
                encode = self.embedder.embed_passages
                verified = await anyio.to_thread.run_sync(lambda: verify(text, sources, encode))
            except GeneratorError as exc:
                # the details (hosts, server messages) go to the log, the caller gets the kind only
                logger.warning("generator failed, answering extractively: %s", exc)
                warnings.append(f"generator unavailable, extractive answer instead ({exc.kind})")
                errors.append(exc.kind)
                verified = None
        if verified is None and sources:
            ext = await anyio.to_thread.run_sync(
                lambda: self.extractive.answer(standalone, sources, retrieved.query_vector)
            )
            timings["extractive_best_score"] = round(ext.best_score, 4)
            verified = verify(ext.text, sources, None) if not ext.refused else VerifiedAnswer("")
        timings["generate_ms"] = (time.perf_counter() - t0) * 1000
        answer = self._finish(query_id, q, standalone, language, verified, generator_name, sources, warnings)
        timings["total_ms"] = (time.perf_counter() - t_start) * 1000
        answer.timings = {**timings, **answer.timings}
        answer.generator_errors = errors
        yield "done", {"answer": answer}

    def _finish(
        self,
        query_id: str,
        q: Question,
        standalone: str,
        language: str,
        verified: VerifiedAnswer | None,
        generator_name: str,
        sources: list[Hit],
        warnings: list[str],
    ) -> Answer:
        refusal_text = refusal(language)
        text = verified.text if verified else ""
        model_refused = bool(text) and refusal_text.rstrip(".。") in text
        grounded = bool(verified and verified.grounded) and not model_refused
        refused = not grounded and (self.settings.refuse_ungrounded or not text or model_refused)
        if refused:
            text = refusal_text
        return Answer(
            query_id=query_id,
            question=q.text,
            standalone_question=standalone,
            answer=text,
            language=language,
            citations=verified.citations if (verified and not refused) else [],
            grounded=grounded,
            refused=refused,
            generator=generator_name,
            sources=sources,
            warnings=warnings,
        )

    async def answer(self, q: Question) -> Answer:
        """The final answer without intermediate events."""
        final: Answer | None = None
        async for event, data in self.stream(q):
            if event == "done":
                final = data["answer"]
        assert final is not None
        return final
