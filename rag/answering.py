"""The answer service: question in, cited answer out. The API, the CLI and the evaluation all call it.

Steps: make a follow-up standalone, retrieve (access groups filtered inside the index), let the
`rag.answerers.Answerer` write the answer (SEA-LION on vLLM with verified citations, or extractive when
no LLM is configured or it is down), and refuse in the user's language when nothing grounded remains.
`stream()` yields the same result as events: `sources`, `warning`?, `delta`..., `done` (or `error`).

A generator that fails, hangs past `generator.first_token_timeout_s` or runs past
`generator.answer_deadline_s` never holds an answer up: the answer falls back to extractive, a `warning`
event says why (and `Answer.warnings` in the non-streamed form).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

import anyio
from pydantic import BaseModel, Field

from indices.schema import Hit, SearchFilter
from rag.answerers import Answerer, AnswerRun
from rag.citations import Citation
from rag.extractive import ExtractiveSettings
from rag.language_control import LanguageControlSettings
from rag.prompting import PromptSettings, as_of_line, refusal
from rag.retrieval import RetrievalResult, Retriever
from rag.versions import VersionNote, as_of_timestamp

logger = logging.getLogger(__name__)


class AnswerSettings(BaseModel):
    """How answers are made (section `answer`)."""

    top_k: int = Field(default=5, ge=1, description="Sources retrieved for an answer.")
    refuse_ungrounded: bool = Field(
        default=True, description="Replace an answer with no valid citation by the refusal sentence."
    )
    attribution_min_score: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description=(
            "Off by default (null). When set, a claim the model left without a marker is cited if a given "
            "source has a sentence stating every number of the claim with a support score (0.7 x embedding "
            "similarity + 0.3 x lexical overlap) of at least this (0.5 is a start). Claims without numbers "
            "are never attributed. For small models that forget markers: with the 0.5B test model it "
            "rescued correct cross-language fee answers, but 2 of 4 attributed answers quoted a sentence "
            "with the right number about another subject (docs/eval-results.md)."
        ),
    )
    rewrite_followups: bool = Field(default=True, description="Rewrite follow-ups into standalone questions.")
    max_answer_tokens: int = Field(default=768, ge=16, description="Generation limit for an answer.")
    prompt: PromptSettings = Field(default_factory=PromptSettings)
    extractive: ExtractiveSettings = Field(default_factory=ExtractiveSettings)
    language_control: LanguageControlSettings = Field(default_factory=LanguageControlSettings)


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
    #: Answer from the versions in force on this day (None: today).
    as_of: date | None = None

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
    #: Wall time of each stage in milliseconds (every key ends in `_ms`).
    timings: dict[str, float] = field(default_factory=dict)
    #: What the answer's decision rested on (extractive: best sentence score, cosine, overlap, hit score and
    #: margin; unitless), for evaluation and support; not timings.
    scores: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    generator_errors: list[str] = field(default_factory=list)  # kinds of generator failures (for metrics)
    #: The "as of <date>" line appended to the answer ("" when no cited document states a date).
    as_of_line: str = ""


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
        "doc_date": rec.doc_date,
        "effective_from": rec.effective_from,
    }


def dated_citations(
    citations: list[Citation], sources: list[Hit], notes: dict[str, VersionNote]
) -> list[Citation]:
    """`citations` with their document's dates and, for a replaced version, what superseded it."""
    records = {h.record.doc_id: h.record for h in sources}
    out = []
    for c in citations:
        rec, note = records.get(c.doc_id), notes.get(c.doc_id)
        superseded = note is not None and note.superseded
        out.append(
            replace(
                c,
                doc_date=rec.doc_date if rec else None,
                effective_from=rec.effective_from if rec else None,
                superseded=superseded,
                superseded_by=note.replaced_by if note is not None and superseded else None,
            )
        )
    return out


def answer_date(citations: list[Citation]) -> str:
    """The date an answer speaks as of: the latest effective (else issue) date of its cited documents,
    as YYYY-MM-DD ("" when none states one)."""
    stamps = [c.effective_from or c.doc_date for c in citations]
    known = [s for s in stamps if s is not None]
    return datetime.fromtimestamp(max(known), UTC).date().isoformat() if known else ""


class AnswerService:
    """Turns questions into verified, cited answers; the writing is the `Answerer`'s."""

    def __init__(self, settings: AnswerSettings, retriever: Retriever, answerer: Answerer) -> None:
        self.settings = settings
        self.retriever = retriever
        self.answerer = answerer

    async def stream(self, q: Question) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """Answer `q` as a sequence of (event, data): sources, warning?, delta*, done."""
        t_start = time.perf_counter()
        query_id = uuid.uuid4().hex
        run = AnswerRun()
        standalone = q.text
        if q.history and self.settings.rewrite_followups:
            standalone = await self.answerer.standalone(q.text, q.history, run)
        k = q.top_k or self.settings.top_k
        retrieved: RetrievalResult = await anyio.to_thread.run_sync(
            lambda: self.retriever.search(
                standalone, k=k, flt=q.search_filter(), as_of=as_of_timestamp(q.as_of)
            )
        )
        language = self.retriever.detector.detect(q.text) if q.history else retrieved.language
        run.exhausted = len(retrieved.hits) < k
        timings = {f"retrieve_{k2}": v for k2, v in retrieved.timings_ms.items()}
        # The model sees no history: it answers the standalone form (the follow-up with its context resolved).
        sources = self.answerer.prepare(standalone, language, retrieved.hits, run)
        yield (
            "sources",
            {"query_id": query_id, "sources": [source_dict(i, h) for i, h in enumerate(sources, 1)]},
        )
        t0 = time.perf_counter()
        async for event in self.answerer.answer(standalone, language, sources, retrieved.query_vector, run):
            yield event
        timings.update(run.timings)
        timings["generate_ms"] = (time.perf_counter() - t0) * 1000
        answer = self._finish(query_id, q, standalone, language, run, sources, retrieved.versions)
        if answer.as_of_line:
            yield "delta", {"text": "\n\n" + answer.as_of_line}
        timings["total_ms"] = (time.perf_counter() - t_start) * 1000
        answer.timings = {**timings, **answer.timings}
        answer.scores = dict(run.scores)
        answer.generator_errors = run.errors
        yield "done", {"answer": answer}

    def _finish(
        self,
        query_id: str,
        q: Question,
        standalone: str,
        language: str,
        run: AnswerRun,
        sources: list[Hit],
        versions: dict[str, VersionNote],
    ) -> Answer:
        verified = run.verified
        refusal_text = refusal(language)
        text = verified.text if verified else ""
        model_refused = bool(text) and refusal_text.rstrip(".。") in text
        grounded = bool(verified and verified.grounded) and not model_refused
        refused = not grounded and (self.settings.refuse_ungrounded or not text or model_refused)
        citations = (
            dated_citations(verified.citations, sources, versions) if (verified and not refused) else []
        )
        line = ""
        if refused:
            text = refusal_text
        elif citations and answer_date(citations):
            line = as_of_line(language, answer_date(citations))
            text = f"{text}\n\n{line}"
        return Answer(
            query_id=query_id,
            question=q.text,
            standalone_question=standalone,
            answer=text,
            language=language,
            citations=citations,
            grounded=grounded,
            refused=refused,
            generator=run.generator,
            sources=sources,
            warnings=run.warnings,
            as_of_line=line,
        )

    async def answer(self, q: Question) -> Answer:
        """The final answer without intermediate events."""
        final: Answer | None = None
        async for event, data in self.stream(q):
            if event == "done":
                final = data["answer"]
        assert final is not None
        return final
