"""`govrag sync SOURCES.yaml`, and what `govrag ingest --crawl` prints about a crawl.

`sync` runs every source of the file (`ingest.sync_sources`) in order against one opened index and
model, and prints one summary. Exit status as `govrag ingest`: 0 when everything was ingested or
unchanged, 1 when a document or source failed (the other sources still ran), 2 for a sources file or
settings problem (nothing ran).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from govrag.cli_common import ConfigOpt, HomeOpt, JsonOpt, _fail, _settings, console, out
from govrag.settings import Settings

_STATUSES = ("new", "changed", "unchanged", "failed", "pruned")


def crawl_state_path(settings: Settings) -> Path:
    """The crawl's ETag/Last-Modified file: `ingest.crawl.state_file`, else in the data dir."""
    name = settings.ingest.crawl.state_file
    return Path(name) if name else settings.home / "crawl-state.sqlite"


def print_crawl(sites: list[dict[str, Any]]) -> None:
    """Per crawled site: requests, 304s, URLs skipped and documents pruned, each with its reason."""
    for site in sites:
        stop = f"; {site['stopped']}" if site["stopped"] else ""
        console.print(
            f"crawled {site['root']}: {site['requested']} URLs requested, {site['fetched']} fetched, "
            f"{site['not_modified']} not modified{stop}"
        )
        for s in site["skipped"]:
            console.print(f"  [dim]skipped[/dim] {s['url']}: {s['reason']}")
        for p in site["pruned"]:
            console.print(f"  [cyan]pruned[/cyan] {p['doc_id']}: {p['reason']}")


def sync(
    sources_file: Annotated[Path, typer.Argument(help="YAML file listing the sources (docs/ingestion.md).")],
    only: Annotated[
        list[str] | None, typer.Option("--only", help="Run only the source of this name (repeatable).")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would change; write nothing.")
    ] = False,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
    home: HomeOpt = None,
) -> None:
    """Ingest every source of a sources file (folders, exports, websites) in order, with one summary."""
    from govrag.cli import _open_for_ingest
    from indices.embedder import EmbedderError
    from indices.errors import IndexError_, IndexFullError
    from indices.ingest_runs import IngestRunLog
    from ingest.pipeline import IngestOptions, Ingestor
    from ingest.run_record import recorded_run
    from ingest.sync_sources import SourcesFileError, load_sources

    settings = _settings(config, home)
    try:
        sources = load_sources(sources_file, settings.ingest)
    except SourcesFileError as exc:
        raise _fail(str(exc)) from exc
    names = {s.name for s, _ in sources}
    unknown = sorted(set(only or ()) - names)
    if unknown:
        listed = ", ".join(sorted(names))
        raise _fail(f"--only {unknown[0]!r}: no such source in {sources_file} (sources: {listed})")
    chosen = [(s, ing) for s, ing in sources if not only or s.name in only]
    os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "16")  # as `govrag ingest`
    comps = _open_for_ingest(settings, dry_run)
    results: list[dict[str, Any]] = []
    try:
        for source, ingest_settings in chosen:
            console.print(f"[bold]sync[/bold] {source.name}: {source.url or source.path}")
            ingestor = Ingestor(ingest_settings, comps.embedder, comps.sparse, comps.index, settings.language)
            opts = IngestOptions(
                agency=source.agency,
                groups=list(source.groups or settings.ingest.default_groups),
                lang=source.lang,
                prune=source.prune,
                dry_run=dry_run,
                crawl=source.crawls,
                crawl_state=crawl_state_path(settings),
            )
            where = [str(source.url or source.path)]
            with recorded_run(IngestRunLog.in_home(settings.home), where, opts) as report:
                ingestor.run(where, opts, report=report)  # a sync is one run per source in the run log
            results.append({"name": source.name, "schedule": source.schedule, **report.to_dict()})
    except EmbedderError as exc:
        raise _fail(str(exc)) from exc
    except IndexFullError as exc:
        raise _fail(str(exc), code=1) from exc
    except IndexError_ as exc:
        raise _fail(str(exc)) from exc
    finally:
        comps.close()
    totals = {k: sum(r["documents"][k] for r in results) for k in _STATUSES}
    failures = [{"name": r["name"], **f} for r in results for f in r["failures"]]
    if as_json:
        summary = {"dry_run": dry_run, "documents": totals, "failures": failures, "sources": results}
        out.print_json(json.dumps(summary, ensure_ascii=False))
    else:
        table = Table(title="Sync summary" + (" (dry run)" if dry_run else ""))
        for col in ("source", *_STATUSES, "chunks"):
            table.add_column(col, justify="left" if col == "source" else "right")
        for r in results:
            table.add_row(r["name"], *(str(r["documents"][k]) for k in _STATUSES), str(r["chunks"]))
        table.add_row("total", *(str(totals[k]) for k in _STATUSES), str(sum(r["chunks"] for r in results)))
        console.print(table)
        for r in results:
            print_crawl(r.get("crawl") or [])
        for f in failures:
            console.print(f"[yellow]failed[/yellow] {f['name']}: {f['source']}: {f['reason']}")
    raise typer.Exit(1 if failures else 0)
