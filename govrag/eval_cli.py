"""`govrag eval`: retrieval and answer quality on question files (mounted by govrag.cli as `eval`).

Exit status: 0 when the run completed, 2 for usage errors and malformed input files (the message
names the file, line and field).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

logger = logging.getLogger(__name__)

eval_app = typer.Typer(
    name="eval",
    help="Measure retrieval and answer quality on JSONL question files (see docs/evaluation.md).",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(stderr=True)
out = Console()

CorpusOpt = Annotated[list[Path], typer.Option("--corpus", help="Corpus JSONL file to ingest (repeatable).")]
QuestionsOpt = Annotated[list[Path], typer.Option("--questions", help="Questions JSONL file (repeatable).")]
IndexDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--index-dir",
        help="Keep the index here and reuse it while corpus and pipeline are unchanged "
        "(default: a temporary folder under the data dir, deleted afterwards).",
    ),
]
OutOpt = Annotated[Path | None, typer.Option("--out", help="Write the JSON report to this file.")]
LimitOpt = Annotated[
    int | None, typer.Option("--limit", min=1, help="Sample at most N questions per file (seeded).")
]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed of the --limit sample.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the JSON report on stdout.")]
ConfigOpt = Annotated[
    Path | None, typer.Option("--config", help="YAML settings file (default: $GOVRAG_CONFIG).")
]
HomeOpt = Annotated[
    Path | None, typer.Option("--home", help="Data directory (default: $GOVRAG_HOME or ./govrag-data).")
]


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]error:[/red] {message}")
    return typer.Exit(2)


def _open(
    corpus: list[Path], questions: list[Path], index_dir: Path | None, config: Path | None, home: Path | None
) -> Any:
    """Check the question files (cheap, fails fast), then open or build the evaluation index."""
    from govrag.cli_common import _settings
    from govrag.evaluation import EvalDataError, EvalIndex, load_questions
    from indices.errors import IndexError_

    settings = _settings(config, home)
    try:
        for path in questions:
            if not path.is_file():
                raise EvalDataError(f"questions file not found: {path}")
            load_questions(path)
        return EvalIndex(settings, corpus, index_dir).open()
    except (EvalDataError, IndexError_, ValueError) as exc:
        raise _fail(str(exc)) from exc


def _emit(report: dict[str, Any], out_file: Path | None, as_json: bool, table: Table) -> None:
    text = json.dumps(report, ensure_ascii=False, indent=2)
    if out_file is not None:
        out_file.parent.mkdir(parents=True, exist_ok=True)
        out_file.write_text(text + "\n", encoding="utf-8")
        console.print(f"report written to {out_file}")
    if as_json:
        out.print_json(text)
    else:
        out.print(table)


def retrieval_table(report: dict[str, Any]) -> Table:
    """Rows per set, mode and language (the "all" row first) with recall@1/5/10 and MRR@10."""
    lat = report["latency_ms"]
    table = Table(
        title=f"Retrieval (query p50 {lat['p50']} ms, p95 {lat['p95']} ms; ingest {report['ingest_s']} s)"
    )
    for col in ("set", "mode", "lang", "n", "R@1", "R@5", "R@10", "MRR@10"):
        table.add_column(col, justify="left" if col in ("set", "mode", "lang") else "right")
    for name, modes in report["sets"].items():
        for mode, blk in modes.items():
            for lang, row in [("all", blk["all"]), *blk["by_lang"].items()]:
                table.add_row(
                    name,
                    mode,
                    lang,
                    str(row["n"]),
                    f"{row['recall@1']:.3f}",
                    f"{row['recall@5']:.3f}",
                    f"{row['recall@10']:.3f}",
                    f"{row['mrr@10']:.3f}",
                )
        table.add_section()
    return table


@eval_app.command()
def retrieval(
    corpus: CorpusOpt,
    questions: QuestionsOpt,
    k: Annotated[int, typer.Option("--k", min=1, max=100, help="Documents retrieved per question.")] = 10,
    mode: Annotated[
        str, typer.Option("--mode", help="hybrid, dense, bm25, or all (the three on one index).")
    ] = "hybrid",
    index_dir: IndexDirOpt = None,
    out_file: OutOpt = None,
    details: Annotated[
        Path | None, typer.Option("--details", help="Write per-question ranks (JSONL).")
    ] = None,
    limit: LimitOpt = None,
    seed: SeedOpt = 0,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
    home: HomeOpt = None,
) -> None:
    """Recall@1/5/10 and MRR@10 per question file and language (a hit = a chunk of a relevant document)."""
    from govrag.evaluation import MODES, EvalDataError, run_retrieval

    modes = list(MODES) if mode == "all" else [mode]
    if any(x not in MODES for x in modes):
        raise _fail(f"--mode must be one of hybrid, dense, bm25, all; got {mode!r}")
    if k < 10:
        console.print(f"[yellow]warning:[/yellow] --k {k} < 10: recall@10 and MRR@10 only see {k} documents")
    rows: list[dict[str, Any]] | None = [] if details is not None else None
    ev = _open(corpus, questions, index_dir, config, home)
    try:
        report = run_retrieval(ev, questions, modes, k=k, limit=limit, seed=seed, details=rows)
    except EvalDataError as exc:
        raise _fail(str(exc)) from exc
    finally:
        ev.close()
    if details is not None and rows is not None:
        details.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    _emit(report, out_file, as_json, retrieval_table(report))


def answers_table(report: dict[str, Any]) -> Table:
    """Rows per set and language with the answer metrics (blank where a metric does not apply)."""
    table = Table(
        title=f"Answers (generator {report['config']['generator']}; p50 {report['latency_ms']['p50']} ms)"
    )
    cols = (
        "n",
        "exact_match",
        "token_f1",
        "choice_accuracy",
        "citation_precision",
        "grounded_rate",
        "refusal_rate_answerable",
        "refusal_rate_unanswerable",
        "language_match",
    )
    heads = (
        "n",
        "EM",
        "F1",
        "MC acc",
        "cite prec",
        "grounded",
        "refused (ans.)",
        "refused (unans.)",
        "lang ok",
    )
    table.add_column("set")
    table.add_column("lang")
    for h in heads:
        table.add_column(h, justify="right")
    for name, blk in report["sets"].items():
        for lang, row in [("all", blk["all"]), *blk["by_lang"].items()]:
            cells = [
                str(row[c]) if c == "n" else ("" if row.get(c) is None else f"{row[c]:.3f}") for c in cols
            ]
            table.add_row(name, lang, *cells)
        table.add_section()
    return table


@eval_app.command()
def answers(
    corpus: CorpusOpt,
    questions: QuestionsOpt,
    generator: Annotated[str, typer.Option("--generator", help="extractive, vllm or openai.")] = "extractive",
    base_url: Annotated[
        str | None, typer.Option("--base-url", help="OpenAI-compatible URL incl. /v1.")
    ] = None,
    model: Annotated[str | None, typer.Option("--model", help="Model name the server serves.")] = None,
    index_dir: IndexDirOpt = None,
    out_file: OutOpt = None,
    limit: LimitOpt = None,
    seed: SeedOpt = 0,
    unanswerable: Annotated[
        bool, typer.Option(help="Also ask each question with its relevant documents excluded (refusal rate).")
    ] = True,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
    home: HomeOpt = None,
) -> None:
    """Exact match / F1, multiple-choice accuracy, citation precision, grounded/refusal/language rates."""
    from govrag.eval_answers import run_answers
    from govrag.evaluation import EvalDataError

    ev = _open(corpus, questions, index_dir, config, home)
    try:
        gen = ev.settings.generator
        updates: dict[str, Any] = {"backend": generator}
        if base_url is not None:
            updates["base_url"] = base_url
        if model is not None:
            updates["model"] = model
        try:
            ev.settings.generator = type(gen).model_validate(gen.model_dump() | updates)
        except ValueError as exc:
            raise _fail(f"invalid generator options: {exc}") from exc
        report = run_answers(ev, questions, limit=limit, seed=seed, unanswerable=unanswerable)
    except EvalDataError as exc:
        raise _fail(str(exc)) from exc
    finally:
        ev.close()
    _emit(report, out_file, as_json, answers_table(report))


@eval_app.command()
def versions(
    questions: Annotated[
        Path | None,
        typer.Option("--questions", help="Dated-question JSONL (default: the sample corpus's own set)."),
    ] = None,
    out_file: OutOpt = None,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
    home: HomeOpt = None,
) -> None:
    """Share of dated questions answered from the document version in force on the day asked."""
    from govrag.cli_common import _settings
    from govrag.eval_versions import load_dated_questions, run_versions
    from govrag.evaluation import EvalDataError
    from govrag.sample_corpus import DATED_QUESTIONS

    settings = _settings(config, home)
    try:
        qs: list[dict[str, Any]] = (
            load_dated_questions(questions) if questions is not None else [dict(q) for q in DATED_QUESTIONS]
        )
        report = run_versions(settings, qs)
    except (EvalDataError, ValueError) as exc:
        raise _fail(str(exc)) from exc
    table = Table(title=f"Dated questions (generator {report['config']['generator']})")
    for col in ("id", "lang", "as_of", "in force", "cited"):
        table.add_column(col)
    for r in report["questions"]:
        table.add_row(
            r["id"], r["lang"], r["as_of"] or "today", "yes" if r["in_force"] else "NO", ", ".join(r["cited"])
        )
    table.add_section()
    table.add_row(
        "all",
        "",
        "",
        f"{report['in_force_share']:.3f}",
        f"n={report['n']}; cites the version in force: {report['cites_in_force_share']:.3f}",
    )
    _emit(report, out_file, as_json, table)
