"""`govrag` command line: the composition root that wires settings, ingest, indices and rag.

Exit status of `govrag ingest`: 0 when every document was ingested (or unchanged), 1 when at least
one document or source failed (the others are stored; failures are listed) or the index's disk is too
full for the next write (folder, bytes needed and free are printed; what was written stays), 2 for usage or
configuration errors (bad option, index locked or built with another embedder).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from govrag.cli_common import (
    VERBOSITY,
    ConfigOpt,
    HomeOpt,
    JsonOpt,
    _fail,
    _settings,
    console,
    out,
)
from govrag.settings import Settings

logger = logging.getLogger(__name__)

app = typer.Typer(
    name="govrag",
    help="Retrieval-augmented answers with checkable citations over government documents.",
    no_args_is_help=True,
    add_completion=False,
)
#: Example questions the quickstart asks of the sample corpus (English, Thai, Malay, Chinese).
QUICKSTART_QUESTIONS = (
    "How much does it cost to renew a passport?",
    "ค่าธรรมเนียมจดทะเบียนพาณิชย์เท่าไร",
    "Berapakah bantuan wang ihsan banjir?",
    "领取新护照需要多长时间？",
)


@app.callback()
def _global_options(
    verbose: Annotated[
        int,
        typer.Option(
            "--verbose",
            "-v",
            count=True,
            help="Show progress logs (-v: INFO, -vv: DEBUG). Without it the CLI prints warnings and results "
            "only, unless log_level is set in the settings.",
        ),
    ] = 0,
) -> None:
    """Retrieval-augmented answers with checkable citations over government documents."""
    VERBOSITY["level"] = verbose


def _open_for_ingest(settings: Settings, dry_run: bool) -> Any:
    """Components for `ingest`; a dry run never creates the index and, before the first real run
    (no index yet), compares against an empty index: everything is reported as new.

    The bundled model is loaded only when something needs embedding (`ingest.lazy_embedder`), so an
    unchanged rerun takes seconds, not the ~15 s of loading torch and the model.
    """
    from govrag.components import Components
    from indices.embedder import EmbedderError
    from indices.errors import IndexError_, IndexFullError, IndexNotFoundError
    from indices.registry import open_index
    from indices.sparse import SparseEncoder
    from ingest.lazy_embedder import open_embedder

    try:
        embedder = open_embedder(settings.embedder, settings.models_dir)
    except EmbedderError as exc:
        raise _fail(str(exc)) from exc
    comps = Components(embedder=embedder, sparse=SparseEncoder(settings.sparse), index=None)
    try:
        comps.index = open_index(settings.index, embedder.identity, settings.home, create=not dry_run)
    except IndexNotFoundError as exc:
        if not dry_run:
            raise _fail(str(exc)) from exc
        logger.info("no index yet: the dry run compares against an empty index")
    except IndexFullError as exc:
        raise _fail(str(exc), code=1) from exc
    except IndexError_ as exc:
        raise _fail(str(exc)) from exc
    return comps


def _choose_executor(settings: Settings, executor: str | None, ray_address: str | None) -> None:
    """Apply `--executor` / `--ray-address`; for Ray, fail fast (exit 2) when it is not installed or the
    address does not answer, before the index is opened."""
    if executor is not None:
        if executor not in ("local", "ray"):
            raise _fail(f"--executor must be 'local' or 'ray', got {executor!r}")
        settings.ingest.executor = executor  # type: ignore[assignment]
    if ray_address is not None:
        if settings.ingest.executor != "ray":
            raise _fail("--ray-address needs --executor ray")
        settings.ingest.ray.address = ray_address
    if settings.ingest.executor != "ray":
        return
    from ingest.ray_executor import RayExecutorError, check_reachable, import_ray

    try:
        import_ray()
        if settings.ingest.ray.address:
            check_reachable(settings.ingest.ray.address, settings.ingest.ray.connect_timeout_s)
    except RayExecutorError as exc:
        raise _fail(str(exc)) from exc


def _ingestor(settings: Settings, comps: Any) -> Any:
    """The local `Ingestor`, or the `RayIngestor` for `ingest.executor = "ray"`."""
    from ingest.pipeline import Ingestor

    if settings.ingest.executor != "ray":
        return Ingestor(settings.ingest, comps.embedder, comps.sparse, comps.index, settings.language)
    from ingest.ray_executor import RayIngestor, encoder_spec

    spec = encoder_spec(
        settings.embedder,
        settings.models_dir,
        settings.sparse,
        comps.embedder.identity.fingerprint,
        comps.sparse.identity,
        settings.index,
        settings.home,
    )
    return RayIngestor(settings.ingest, comps.embedder, comps.sparse, comps.index, settings.language, spec)


class _RichProgress:
    """Progress bar with documents/s, chunks/s and ETA."""

    def __init__(self, progress: Progress) -> None:
        self._p = progress
        self._task = progress.add_task("ingest", total=None, chunks=0, rate="")
        self._chunks = 0
        self._docs = 0
        self._t0 = time.perf_counter()

    def start(self, total: int) -> None:
        self._p.update(self._task, total=total)

    def advance(self, docs: int = 0, chunks: int = 0) -> None:
        self._docs += docs
        self._chunks += chunks
        dt = max(time.perf_counter() - self._t0, 1e-6)
        rate = f"{self._docs / dt:.1f} docs/s, {self._chunks / dt:.0f} chunks/s"
        self._p.update(self._task, advance=docs, chunks=self._chunks, rate=rate)


def _summary_table(summary: dict[str, Any]) -> Table:
    table = Table(title="Ingestion summary" + (" (dry run)" if summary["dry_run"] else ""))
    table.add_column("what")
    table.add_column("count", justify="right")
    for k, v in summary["documents"].items():
        table.add_row(f"documents {k}", str(v))
    table.add_row("chunks written", str(summary["chunks"]))
    table.add_row("pages", str(summary["pages"]))
    table.add_row("pages OCR'd", str(summary["pages_ocr"]))
    for k, v in summary["stage_seconds"].items():
        table.add_row(f"time {k} (s)", f"{v:.2f}")
    table.add_row("time total (s)", f"{summary['elapsed_seconds']:.2f}")
    return table


@app.command()
def ingest(
    sources: Annotated[list[str], typer.Argument(help="Files, folders, JSONL/CSV exports or http(s) URLs.")],
    agency: Annotated[str, typer.Option(help="Agency that owns these documents.")] = "",
    groups: Annotated[
        str | None, typer.Option(help="Comma-separated access groups (default: public).")
    ] = None,
    lang: Annotated[str, typer.Option(help="'auto' to detect, or a language code to force.")] = "auto",
    prune: Annotated[bool, typer.Option(help="Remove documents that vanished from the given roots.")] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would change; write nothing.")
    ] = False,
    workers: Annotated[int | None, typer.Option(help="Parser processes (default: cores - 1).")] = None,
    include: Annotated[
        list[str] | None, typer.Option(help="Only files matching this glob (repeatable).")
    ] = None,
    exclude: Annotated[
        list[str] | None, typer.Option(help="Skip paths matching this glob (repeatable).")
    ] = None,
    urls: Annotated[
        list[Path] | None, typer.Option(help="A file with one URL per line (repeatable).")
    ] = None,
    crawl: Annotated[
        bool, typer.Option("--crawl", help="Crawl the site of each URL (sitemaps, links) within its host.")
    ] = False,
    max_depth: Annotated[
        int | None, typer.Option(min=0, help="--crawl: links followed from the start.")
    ] = None,
    max_pages: Annotated[
        int | None, typer.Option(min=1, help="--crawl: most URLs requested per site.")
    ] = None,
    crawl_include: Annotated[
        list[str] | None, typer.Option(help="--crawl: ingest only URL paths matching this glob (repeatable).")
    ] = None,
    crawl_exclude: Annotated[
        list[str] | None,
        typer.Option(help="--crawl: never request URL paths matching this glob (repeatable)."),
    ] = None,
    executor: Annotated[
        str | None, typer.Option(help="Where parsing and embedding run: 'local' (default) or 'ray'.")
    ] = None,
    ray_address: Annotated[
        str | None,
        typer.Option(help="--executor ray: the head node (host:port); default: RAY_ADDRESS, else local."),
    ] = None,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
    home: HomeOpt = None,
) -> None:
    """Ingest documents into the index, incrementally (unchanged documents are skipped)."""
    from govrag.sync_cli import crawl_state_path, print_crawl
    from indices.embedder import EmbedderError
    from indices.errors import IndexError_, IndexFullError
    from indices.ingest_runs import IngestRunLog
    from ingest.pipeline import IngestOptions
    from ingest.ray_executor import RayExecutorError
    from ingest.run_record import recorded_run

    settings = _settings(config, home)
    if workers is not None:
        settings.ingest.workers = workers
    if include:
        settings.ingest.include = list(include)
    if exclude:
        settings.ingest.exclude = list(exclude)
    crawl_set = settings.ingest.crawl
    crawl_set.max_depth = crawl_set.max_depth if max_depth is None else max_depth
    crawl_set.max_pages = max_pages or crawl_set.max_pages
    crawl_set.include = list(crawl_include or crawl_set.include)
    crawl_set.exclude = list(crawl_exclude or crawl_set.exclude)
    group_list = (
        [g.strip() for g in groups.split(",") if g.strip()] if groups else settings.ingest.default_groups
    )
    if lang != "auto" and not lang.isalpha():
        raise _fail(f"--lang must be 'auto' or a language code such as 'th', got {lang!r}")
    # Chunks come in hundreds of (batch, length) shapes; oneDNN caches a bf16 kernel with its buffers per
    # shape (1,024 by default), ~170 MB over an ingest of 1,000 documents for no measurable speed.
    os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "16")
    _choose_executor(settings, executor, ray_address)
    comps = _open_for_ingest(settings, dry_run)
    try:
        ingestor = _ingestor(settings, comps)
        opts = IngestOptions(
            agency=agency,
            groups=group_list,
            lang=lang,
            prune=prune,
            dry_run=dry_run,
            url_lists=list(urls or []),
            crawl=crawl,
            crawl_state=crawl_state_path(settings),
        )
        columns = (
            TextColumn("[bold]ingest"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
        )
        with (
            recorded_run(IngestRunLog.in_home(settings.home), sources, opts) as report,
            Progress(*columns, console=console, disable=as_json or not console.is_terminal) as bar,
        ):
            ingestor.run(sources, opts, _RichProgress(bar), report=report)
    except (EmbedderError, RayExecutorError) as exc:  # the model (or the Ray cluster) is unusable
        raise _fail(str(exc)) from exc
    except IndexFullError as exc:  # the disk is (nearly) full: what was written before stays, exit 1
        raise _fail(str(exc), code=1) from exc
    except IndexError_ as exc:  # e.g. the index turned out damaged while reading it
        raise _fail(str(exc)) from exc
    finally:
        comps.close()
    summary = report.to_dict()
    if as_json:
        out.print_json(json.dumps(summary, ensure_ascii=False))
    else:
        console.print(_summary_table(summary))
        print_crawl(summary.get("crawl") or [])
        for f in summary["failures"]:
            console.print(f"[yellow]failed[/yellow] {f['source']}: {f['reason']}")
    raise typer.Exit(1 if report.failed else 0)


def _print_hits(query: str, res: Any, as_json: bool) -> None:
    rows = [
        {
            "rank": i,
            "score": round(h.score, 4),
            "doc_id": h.record.doc_id,
            "title": h.record.title,
            "page": h.record.page,
            "section": h.record.section,
            "lang": h.record.lang,
            "text": h.record.text,
        }
        for i, h in enumerate(res.hits, start=1)
    ]
    if as_json:
        out.print_json(
            json.dumps({"query": query, "language": res.language, "hits": rows}, ensure_ascii=False)
        )
        return
    table = Table(title=f"{query}  [{res.language}]")
    for col in ("#", "score", "document", "page", "text"):
        table.add_column(col)
    for r in rows:
        snippet = " ".join(r["text"].split())
        table.add_row(
            str(r["rank"]),
            f"{r['score']:.3f}",
            r["title"] or r["doc_id"],
            str(r["page"] or ""),
            snippet[:160] + ("…" if len(snippet) > 160 else ""),
        )
    out.print(table)


def _open_stack(settings: Settings) -> Any:
    """The query stack (`govrag.components.open_query_stack`), or exit 2 with the index problem."""
    from govrag.components import open_query_stack
    from indices.errors import IndexError_

    try:
        return open_query_stack(settings)
    except IndexError_ as exc:
        raise _fail(str(exc)) from exc
    except ValueError as exc:  # e.g. an unknown generator.backend
        raise _fail(str(exc)) from exc


def _run_searches(settings: Settings, queries: list[str], k: int, mode: str, flt: Any, as_json: bool) -> None:
    from indices.schema import SearchMode

    try:
        search_mode = SearchMode(mode)
    except ValueError as exc:
        raise _fail(f"--mode must be one of hybrid, dense, bm25; got {mode!r}") from exc
    stack = _open_stack(settings)
    try:
        for query in queries:
            _print_hits(query, stack.retriever.search(query, k=k, mode=search_mode, flt=flt), as_json)
    finally:
        stack.close()


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="The question or keywords.")],
    k: Annotated[int, typer.Option("--top-k", "-k", "--k", min=1, max=100, help="Number of results.")] = 5,
    mode: Annotated[str, typer.Option(help="hybrid, dense or bm25.")] = "hybrid",
    agency: Annotated[str | None, typer.Option(help="Only this agency's documents.")] = None,
    lang: Annotated[str | None, typer.Option(help="Only documents in this language.")] = None,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
    home: HomeOpt = None,
) -> None:
    """Search the index (retrieval only, no answer generation)."""
    from indices.schema import SearchFilter

    settings = _settings(config, home)
    flt = SearchFilter(agencies=[agency] if agency else None, langs=[lang] if lang else None)
    _run_searches(settings, [query], k, mode, flt, as_json)


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question, in any supported language.")],
    agency: Annotated[str | None, typer.Option(help="Only this agency's documents.")] = None,
    lang: Annotated[str | None, typer.Option(help="Only documents in this language.")] = None,
    top_k: Annotated[int | None, typer.Option("--top-k", min=1, max=50, help="Sources to retrieve.")] = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Answer from the document versions in force on this day (YYYY-MM-DD)."),
    ] = None,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
    home: HomeOpt = None,
) -> None:
    """Answer a question with verified citations (extractive unless an LLM endpoint is configured)."""
    import datetime as dt

    try:
        day = dt.date.fromisoformat(as_of) if as_of else None
    except ValueError:
        console.print(f"[red]error:[/red] --as-of must be a date written YYYY-MM-DD, got {as_of!r}")
        raise typer.Exit(2) from None
    settings = _settings(config, home)
    (answer,) = _answer_questions(settings, [question], agency=agency, lang=lang, top_k=top_k, as_of=day)
    if as_json:
        from rag.api.routes import query_response

        out.print_json(query_response(answer).model_dump_json())
        return
    _print_answer(answer)


def _answer_questions(
    settings: Settings,
    questions: list[str],
    *,
    agency: str | None = None,
    lang: str | None = None,
    top_k: int | None = None,
    as_of: Any = None,
) -> list[Any]:
    """Answer each question in turn with one opened index, model and generator (`as_of`: a `date`)."""
    import anyio

    from rag.answering import Question

    stack = _open_stack(settings)

    async def run() -> list[Any]:
        try:
            return [
                await stack.answers.answer(
                    Question(text=q, agency=agency, lang=lang, top_k=top_k, as_of=as_of)
                )
                for q in questions
            ]
        finally:
            await stack.aclose()

    return anyio.run(run)


def _print_answer(answer: Any) -> None:
    """An answer, its numbered citations (document, page/section, quoted sentence) and any warnings."""
    out.print(answer.answer)
    for c in answer.citations:
        old = f"superseded by {c.superseded_by}" if c.superseded else ""
        where = ", ".join(x for x in (f"p. {c.page}" if c.page else "", " > ".join(c.section), old) if x)
        out.print(
            f"  [{c.n}] {c.title or c.doc_id}{' (' + where + ')' if where else ''}: \u201c{c.quote}\u201d"
        )
    for w in answer.warnings:
        console.print(f"[yellow]warning:[/yellow] {w}")
    console.print(
        f"[dim]generator: {answer.generator}, grounded: {answer.grounded}, language: {answer.language}[/dim]"
    )


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default from settings: 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default from settings: 8080).")] = None,
    config: ConfigOpt = None,
    home: HomeOpt = None,
) -> None:
    """Serve the REST API, the widget (/widget.js) and its demo page (/)."""
    import uvicorn

    from govrag.app import InsecureSettingsError, create_app
    from rag.api.logs import configure_logging

    settings = _settings(config, home, server=True)
    if settings.embedder.threads is None and settings.api.model_threads:
        settings.embedder.threads = settings.api.model_threads
    try:
        api = create_app(settings)
    except InsecureSettingsError as exc:
        raise _fail(str(exc)) from exc
    # Questions carry identity numbers, phones and e-mails: every server log line goes through the
    # redacting handler (JSON lines unless on a terminal), uvicorn's included (log_config=None keeps ours).
    logging.getLogger().handlers.clear()
    configure_logging(settings.log_level, json=not console.is_terminal)
    bind_host = host or settings.api.host
    bind_port = port or settings.api.port
    console.print(f"govrag serving on http://{bind_host}:{bind_port}/ (API docs at /docs)")
    uvicorn.run(
        api,
        host=bind_host,
        port=bind_port,
        log_level=settings.log_level.lower(),
        access_log=False,
        log_config=None,
    )


@app.command("config")
def show_config(
    markdown: Annotated[
        bool, typer.Option("--markdown", help="Print every setting as a Markdown table.")
    ] = False,
    config: ConfigOpt = None,
    home: HomeOpt = None,
) -> None:
    """Show the effective settings (secrets masked), or document every setting."""
    from govrag.settings import Settings, describe

    if markdown:
        out.print("| variable | default | meaning |\n|---|---|---|", markup=False)
        for env, default, desc in describe(Settings):
            out.print(f"| `{env}` | `{default}` | {desc} |", markup=False, soft_wrap=True)
        return
    settings = _settings(config, home)
    out.print_json(settings.model_dump_json())


@app.command()
def sample(dest: Annotated[Path, typer.Argument(help="Folder to write the sample corpus into.")]) -> None:
    """Write the multilingual sample corpus (14 public-service documents in 12 files, 7 languages)."""
    from govrag.sample_corpus import write_sample_corpus

    for path in write_sample_corpus(dest):
        out.print(str(path))


@app.command()
def quickstart(
    config: ConfigOpt = None,
    home: HomeOpt = None,
) -> None:
    """Write the sample corpus, ingest it into the embedded index and answer example questions, cited."""
    from govrag.sample_corpus import write_sample_corpus

    settings = _settings(config, home)
    corpus = settings.home / "sample-corpus"
    write_sample_corpus(corpus)
    console.print(f"sample corpus written to {corpus}")
    try:
        ingest([str(corpus)], config=config, home=settings.home)
    except typer.Exit as done:
        if done.exit_code:
            raise
    answers = _answer_questions(settings, list(QUICKSTART_QUESTIONS))
    for question, answer in zip(QUICKSTART_QUESTIONS, answers, strict=True):
        out.rule(question)
        _print_answer(answer)
    console.print(
        '\nAsk your own: [bold]govrag ask "..."[/bold] (add --json for the full record), or '
        "[bold]govrag serve[/bold] for the API and the chat widget."
    )


from govrag.eval_cli import eval_app  # noqa: E402  (the sub-app imports nothing heavy)

app.add_typer(eval_app, name="eval")
from govrag.models_cli import models_app  # noqa: E402  (imports nothing heavy either)

app.add_typer(models_app, name="models")

from govrag.documents_cli import documents_app, status  # noqa: E402  (uses the helpers above)

app.add_typer(documents_app, name="documents")
app.command()(status)

from govrag.index_cli import index_app  # noqa: E402  (imports nothing heavy either)

app.add_typer(index_app, name="index")
from govrag.keys_cli import keys_app  # noqa: E402  (imports nothing heavy either)

app.add_typer(keys_app, name="keys")
from govrag.sync_cli import sync  # noqa: E402  (imports nothing heavy either)

app.command()(sync)


def main() -> None:
    """Console entry point."""
    try:
        app()
    except KeyboardInterrupt:
        console.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
