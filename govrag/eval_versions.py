"""`govrag eval versions`: does an answer come from the version of a document in force on the day asked?

The sample corpus holds two versions of one fee circular (No. 12/2025 and No. 12/2026, different fees).
Each dated question (`govrag.sample_corpus.DATED_QUESTIONS`, or a JSONL file of the same fields) is asked
through the answer service with its `as_of` day (today when null). A question counts as answered from the
version in force when the answer is not refused, cites the expected version and no other version of the
series, and states the expected fee. The corpus goes through the normal ingestion pipeline into a
temporary embedded index, so the number describes the product.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from govrag.evaluation import EvalDataError, git_commit, read_jsonl
from govrag.settings import Settings

_FIELDS = ("id", "lang", "question", "in_force", "answer")


def load_dated_questions(path: Path) -> list[dict[str, Any]]:
    """A dated-question file: `id`, `lang`, `question`, `in_force` (a sample-corpus path), `answer` (text
    the answer must state) and optional `as_of` (YYYY-MM-DD); problems name the file, line and field."""
    out = []
    for n, obj in read_jsonl(path):
        where = f"{path}:{n}"
        for name in _FIELDS:
            if not isinstance(obj.get(name), str) or not obj[name].strip():
                raise EvalDataError(f"{where}: field {name!r} must be a non-empty string")
        as_of = obj.get("as_of")
        if as_of is not None:
            try:
                date.fromisoformat(str(as_of))
            except ValueError:
                raise EvalDataError(
                    f"{where}: field 'as_of' must be a date YYYY-MM-DD, got {as_of!r}"
                ) from None
        out.append(obj)
    if not out:
        raise EvalDataError(f"{path}: no questions (the file is empty)")
    return out


def _row(q: dict[str, Any], ans: Any, versions: set[str]) -> dict[str, Any]:
    cited = sorted({c.doc_id for c in ans.citations})
    expected = [d for d in cited if d.endswith("/" + q["in_force"])]
    others = [d for d in cited if d not in expected and any(d.endswith("/" + v) for v in versions)]
    stated = str(q["answer"]) in ans.answer
    return {
        "id": q["id"],
        "lang": q["lang"],
        "as_of": q.get("as_of"),
        "cited": cited,
        "cites_in_force": bool(expected) and not others,
        "states_answer": stated,
        "in_force": float(bool(expected) and not others and stated and not ans.refused),
        "refused": ans.refused,
        "as_of_line": ans.as_of_line,
    }


def run_versions(settings: Settings, questions: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Ingest the sample corpus into a temporary index and ask every dated question; the report."""
    import anyio

    from govrag.components import open_components, open_query_stack
    from govrag.sample_corpus import write_sample_corpus
    from indices.registry import open_index
    from ingest.pipeline import IngestOptions, Ingestor
    from rag.answering import Question

    if settings.index.backend != "embedded":
        raise ValueError("govrag eval builds its own embedded index: set index.backend to 'embedded'")
    s = settings.model_copy(deep=True)
    base = s.home / "eval"
    base.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="versions-", dir=base))
    try:
        corpus = work / "sample-corpus"
        write_sample_corpus(corpus)
        s.index.path = (work / "index").resolve()
        comps = open_components(s, create=False, with_index=False)
        comps.index = open_index(s.index, comps.embedder.identity, s.home, create=True)
        t0 = time.perf_counter()
        report = Ingestor(s.ingest, comps.embedder, comps.sparse, comps.index, s.language).run(
            [str(corpus)], IngestOptions(groups=["public"])
        )
        ingest_s = time.perf_counter() - t0
        if report.failed:
            raise EvalDataError(f"the sample corpus failed to ingest: {report.to_dict()['failures'][:1]}")
        versions = {str(q["in_force"]) for q in questions}
        stack = open_query_stack(s, comps)

        async def ask_all() -> list[dict[str, Any]]:
            rows = []
            try:
                for q in questions:
                    day = date.fromisoformat(str(q["as_of"])) if q.get("as_of") else None
                    ans = await stack.answers.answer(Question(text=str(q["question"]), as_of=day))
                    rows.append(_row(q, ans, versions))
            finally:
                await stack.aclose()
            return rows

        try:
            rows = anyio.run(ask_all)
        finally:
            comps.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    by_lang: dict[str, list[float]] = {}
    for r in rows:
        by_lang.setdefault(r["lang"], []).append(r["in_force"])
    return {
        "set": "sample-dated",
        "n": len(rows),
        "in_force_share": round(sum(r["in_force"] for r in rows) / len(rows), 3) if rows else None,
        # the version choice alone: the right version cited (whatever sentence of it was quoted)
        "cites_in_force_share": round(sum(r["cites_in_force"] for r in rows) / len(rows), 3)
        if rows
        else None,
        "by_lang": {
            lang: {"n": len(v), "in_force_share": round(sum(v) / len(v), 3)} for lang, v in by_lang.items()
        },
        "config": {
            "generator": s.generator.backend,
            "superseded": s.versions.superseded,
            "git_commit": git_commit(),
            "ingest_s": round(ingest_s, 2),
        },
        "questions": rows,
    }
