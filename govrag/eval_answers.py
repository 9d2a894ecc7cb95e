"""`govrag eval answers`: answer quality through `rag.answering.AnswerService` (the path of POST /v1/query).

Per question it records exact match and token F1 against `answers` (extractive-span sets; character
F1 for unspaced scripts), the picked option of multiple-choice questions, citation precision (cited
documents that are relevant), whether the answer is grounded or refused, and whether its language is
the question's. With `unanswerable=True` each question is asked a second time with its relevant
documents *and their translations* (same `parallel_id` in the corpus) excluded by the index filter
`exclude_doc_ids`: the right behaviour is then a refusal.

Multiple choice: an LLM generator is asked to pick (the options are appended to the question and the
first option number in its answer is taken). The extractive generator cannot pick, so the option
most similar to its extracted answer (cosine of e5 query embeddings, symmetric) is taken instead: that
measures whether the extracted sentences carry the answer, not reasoning.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from govrag import eval_metrics as m
from govrag.evaluation import EvalIndex, EvalQuestion, block, prepare_set

logger = logging.getLogger(__name__)

_MC_INSTRUCTION = (
    "Options:\n{options}\nAnswer with the number of the correct option, then a short justification."
)


def mc_question(q: EvalQuestion) -> str:
    """The question text sent to an LLM for a multiple-choice item (options numbered from 1)."""
    options = "\n".join(f"{i}. {c}" for i, c in enumerate(q.choices or [], start=1))
    return f"{q.question}\n\n" + _MC_INSTRUCTION.format(options=options)


def _mean(rows: list[dict[str, Any]], key: str) -> float | None:
    got = m.mean(r.get(key) for r in rows)
    return None if got is None else round(got, 4)


def answers_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Aggregate per-question rows into the report's metric block (None where nothing applies)."""
    mc = [r for r in rows if r.get("correct_index") is not None]
    return {
        "n": len(rows),
        "exact_match": _mean(rows, "em"),
        "token_f1": _mean(rows, "f1"),
        "choice_accuracy": round(
            m.choice_accuracy([r["picked"] for r in mc], [r["correct_index"] for r in mc]), 4
        )
        if mc
        else None,
        "citation_precision": _mean(rows, "citation_precision"),
        "grounded_rate": _mean(rows, "grounded"),
        "refusal_rate_answerable": _mean(rows, "refused"),
        "refusal_rate_unanswerable": _mean(rows, "refused_unanswerable"),
        "language_match": _mean(rows, "language_match"),
    }


class _AnswerRun:
    """The answer service and helpers for one run."""

    def __init__(self, ev: EvalIndex) -> None:
        from rag.generators import EXTRACTIVE

        self.ev = ev
        self.stack = ev.query_stack()
        self.service = self.stack.answers
        self.detector = self.stack.retriever.detector
        self.name = self.stack.answerer.name
        self.llm = self.name != EXTRACTIVE
        self.latencies: list[float] = []

    def _pick_by_similarity(self, answer: str, choices: Sequence[str]) -> int | None:
        vecs = self.ev.components.embedder.embed_queries([answer, *choices])
        sims = (vecs[1:] @ np.asarray(vecs[0])).tolist()
        return m.pick_choice(sims)

    async def ask(self, q: EvalQuestion, unanswerable: bool) -> dict[str, Any]:
        """One question's row (and its unanswerable variant)."""
        from rag.answering import Question

        use_llm_mc = bool(q.choices) and self.llm
        text = mc_question(q) if use_llm_mc else q.question
        t0 = time.perf_counter()
        ans = await self.service.answer(Question(text=text))
        self.latencies.append((time.perf_counter() - t0) * 1000)
        # the "as of <date>" line dates the answer; it is not part of what is scored
        plain = m.strip_citations(ans.answer.removesuffix(f"\n\n{ans.as_of_line}"))
        row: dict[str, Any] = {
            "id": q.id,
            "lang": q.lang,
            "grounded": float(ans.grounded),
            "refused": float(ans.refused),
            "citation_precision": m.citation_precision([c.doc_id for c in ans.citations], q.relevant),
            "language_match": float(self.detector.detect(plain) == q.lang),
        }
        if q.choices and q.correct_index is not None:
            row["correct_index"] = q.correct_index
            if ans.refused:
                row["picked"] = None
            elif use_llm_mc:
                row["picked"] = m.parse_choice(plain, len(q.choices))
            else:
                row["picked"] = self._pick_by_similarity(plain, q.choices)
        elif q.answers:
            row["em"] = m.exact_match(plain if not ans.refused else "", q.answers, q.lang)
            row["f1"] = m.token_f1(plain if not ans.refused else "", q.answers, q.lang)
        if unanswerable:
            excluded = sorted({t for d in q.relevant for t in self.ev.corpus.parallel.get(d, [d])})
            un = await self.service.answer(Question(text=text, exclude_doc_ids=excluded))
            row["refused_unanswerable"] = float(un.refused)
        return row


def run_answers(
    ev: EvalIndex,
    question_files: Sequence[Path],
    limit: int | None = None,
    seed: int = 0,
    unanswerable: bool = True,
) -> dict[str, Any]:
    """Answer every (sampled) question of every file; the report documented in docs/evaluation.md."""
    import anyio

    run = _AnswerRun(ev)
    sets = [prepare_set(Path(p), ev.corpus, limit, seed) for p in question_files]
    report_sets: dict[str, Any] = {}

    async def go() -> None:
        try:
            for qs in sets:
                by_lang: dict[str, list[dict[str, Any]]] = {}
                for q in qs.questions:
                    by_lang.setdefault(q.lang, []).append(await run.ask(q, unanswerable))
                report_sets[qs.name] = block(by_lang, answers_summary)
        finally:
            await run.stack.aclose()

    anyio.run(go)
    config = ev.config() | {
        "generator": run.name,
        "generator_model": ev.settings.generator.model if run.llm else None,
        "multiple_choice": "model picks the option number"
        if run.llm
        else "option most similar to the extractive answer (e5 cosine)",
        "unanswerable": "relevant documents and their translations excluded" if unanswerable else None,
        "limit": limit,
        "seed": seed,
        "top_k": ev.settings.answer.top_k,
        "missing_relevant": {s.name: s.missing_relevant for s in sets},
        "skipped_questions": {s.name: s.skipped for s in sets},
    }
    return {
        "sets": report_sets,
        "latency_ms": m.latency_summary(run.latencies),
        "ingest_s": round(ev.ingest_s, 2),
        "config": config,
    }
