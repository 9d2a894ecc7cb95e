"""`govrag documents list|show|delete` and `govrag status`: what is in the index, without SQL or JSON by hand.

These commands open the index with the embedder's remembered identity (`ingest.lazy_embedder`), so they
answer in about a second: the model is never loaded to list, show or delete documents.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import asdict
from typing import Annotated, Any

import typer
from rich.table import Table

from govrag.cli_common import ConfigOpt, HomeOpt, JsonOpt, _fail, _settings, console, out, utc_minute
from govrag.settings import Settings

documents_app = typer.Typer(
    help="List, inspect and delete the documents in the index.", no_args_is_help=True, add_completion=False
)


def _open_index(settings: Settings) -> Any:
    """The index, opened for reading and deleting (exit 2 with the reason when it cannot be opened)."""
    from indices.embedder import EmbedderError
    from indices.errors import IndexError_
    from indices.registry import open_index
    from ingest.lazy_embedder import open_embedder

    try:
        embedder = open_embedder(settings.embedder, settings.models_dir)
        return open_index(settings.index, embedder.identity, settings.home, create=False)
    except (EmbedderError, IndexError_) as exc:
        raise _fail(str(exc)) from exc


@documents_app.command("list")
def list_documents(
    agency: Annotated[str | None, typer.Option(help="Only this agency's documents.")] = None,
    lang: Annotated[str | None, typer.Option(help="Only documents in this language.")] = None,
    group: Annotated[str | None, typer.Option(help="Only documents visible to this access group.")] = None,
    limit: Annotated[
        int, typer.Option(min=1, help="Show at most this many (the total is always given).")
    ] = 200,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
    home: HomeOpt = None,
) -> None:
    """Documents in the index, in id order, with agency, language, groups and chunk count."""
    from indices.schema import SearchFilter

    settings = _settings(config, home)
    index = _open_index(settings)
    try:
        flt = SearchFilter(
            agencies=[agency] if agency else None,
            langs=[lang] if lang else None,
            groups=[group] if group else None,
        )
        docs = list(index.iter_documents(flt))
    finally:
        index.close()
    if as_json:
        out.print_json(json.dumps({"total": len(docs), "documents": [asdict(d) for d in docs[:limit]]}))
        return
    table = Table(title=f"{len(docs)} documents" + (f" (first {limit})" if len(docs) > limit else ""))
    table.add_column("document", overflow="fold")  # ids are copied into `show`/`delete`: never cut them
    for col in ("title", "lang", "agency", "groups", "chunks", "ingested (UTC)"):
        table.add_column(col, justify="right" if col == "chunks" else "left")
    for d in docs[:limit]:
        table.add_row(
            d.doc_id,
            d.title,
            d.lang,
            d.agency,
            ",".join(d.groups),
            str(d.n_chunks),
            utc_minute(d.ingested_at),
        )
    out.print(table)


@documents_app.command("show")
def show_document(
    doc_id: Annotated[str, typer.Argument(help="The document id (as `govrag documents list` shows it).")],
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
    home: HomeOpt = None,
) -> None:
    """One document: where it came from, who may see it, and every stored chunk."""
    settings = _settings(config, home)
    index = _open_index(settings)
    try:
        chunks = index.get_chunks(doc_id)
    finally:
        index.close()
    if not chunks:
        raise _fail(f"no document with id {doc_id!r} (see `govrag documents list`)", code=1)
    first = chunks[0]
    if as_json:
        out.print_json(json.dumps({"doc_id": doc_id, "chunks": [asdict(c) for c in chunks]}, default=str))
        return
    out.print(f"[bold]{first.title or doc_id}[/bold]  ({doc_id})")
    out.print(f"source: {first.source}")
    out.print(f"language: {first.lang}  agency: {first.agency or '-'}  groups: {', '.join(first.groups)}")
    out.print(
        f"ingested: {utc_minute(first.ingested_at)} UTC  chunks: {len(chunks)}  "
        f"hash: {first.content_hash[:16]}"
    )
    for c in chunks:
        where = ", ".join(x for x in (f"p. {c.page}" if c.page else "", " > ".join(c.section)) if x)
        out.print(f"\n[dim]#{c.chunk_no}{' · ' + where if where else ''}[/dim]")
        out.print(c.text, markup=False, highlight=False)


@documents_app.command("delete")
def delete_documents(
    doc_ids: Annotated[list[str], typer.Argument(help="Document ids to delete.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
    home: HomeOpt = None,
) -> None:
    """Delete documents and all their chunks. Unknown ids are reported and nothing is deleted."""
    settings = _settings(config, home)
    index = _open_index(settings)
    try:
        states = index.document_states(doc_ids)
        missing = [d for d in doc_ids if d not in states]
        if missing:
            raise _fail(f"no document with id {', '.join(map(repr, missing))}; nothing deleted", code=1)
        if not yes and not typer.confirm(
            f"Delete {len(doc_ids)} document(s), {sum(s.n_points for s in states.values())} chunks?"
        ):
            raise _fail("cancelled; nothing deleted", code=1)
        index.delete_documents(doc_ids)
    finally:
        index.close()
    result = {"deleted": doc_ids, "chunks": sum(s.n_points for s in states.values())}
    if as_json:
        out.print_json(json.dumps(result))
    else:
        console.print(f"deleted {len(doc_ids)} document(s), {result['chunks']} chunks")


def _generator_status(settings: Settings) -> dict[str, Any]:
    """The configured generator and, for an LLM endpoint, whether its /models answers (2 s timeout)."""
    gen = settings.generator
    info: dict[str, Any] = {"backend": gen.backend}
    if gen.backend == "extractive":
        return info
    import httpx

    info.update(base_url=gen.base_url, model=gen.model)
    started = time.perf_counter()
    try:
        resp = httpx.get(gen.base_url.rstrip("/") + "/models", timeout=2.0)
        info["reachable"] = resp.status_code < 500
        info["status"] = resp.status_code
    except httpx.HTTPError as exc:
        info["reachable"] = False
        info["error"] = type(exc).__name__
    info["check_ms"] = round((time.perf_counter() - started) * 1000, 1)
    return info


def status(as_json: JsonOpt = False, config: ConfigOpt = None, home: HomeOpt = None) -> None:
    """The index (backend, location, documents, chunks, languages), the embedder and the generator."""
    from indices.errors import IndexLockedError, IndexNotFoundError

    settings = _settings(config, home)
    report: dict[str, Any] = {
        "home": str(settings.home),
        "index": {"backend": settings.index.backend, "collection": settings.index.collection},
        "generator": _generator_status(settings),
    }
    if settings.index.backend == "server":
        report["index"]["url"] = settings.index.url
    try:
        from indices.registry import open_index
        from ingest.lazy_embedder import open_embedder

        embedder = open_embedder(settings.embedder, settings.models_dir)
        report["embedder"] = asdict(embedder.identity)
        index = open_index(settings.index, embedder.identity, settings.home, create=False)
    except IndexNotFoundError:
        report["index"]["state"] = "empty (nothing ingested yet: run `govrag ingest`)"
    except IndexLockedError as exc:
        report["index"]["state"] = f"locked: {exc}"
    except Exception as exc:  # the status command reports what it finds, whatever it finds
        report["index"]["state"] = f"error: {exc}"
    else:
        try:
            docs = list(index.iter_documents())
            report["index"].update(
                state="ready",
                documents=len(docs),
                chunks=index.count_chunks(),
                languages=dict(Counter(d.lang for d in docs).most_common()),
                agencies=dict(Counter(d.agency or "-" for d in docs).most_common()),
                last_ingested=utc_minute(max((d.ingested_at for d in docs), default=0.0)),
            )
        finally:
            index.close()
    if as_json:
        out.print_json(json.dumps(report))
        return
    idx = report["index"]
    out.print(f"data dir   {report['home']}")
    out.print(f"index      {idx['backend']} ({idx.get('url', idx['collection'])}): {idx.get('state', '')}")
    if idx.get("state") == "ready":
        langs = ", ".join(f"{k} {v}" for k, v in idx["languages"].items())
        out.print(f"           {idx['documents']} documents, {idx['chunks']} chunks; languages: {langs}")
        out.print(f"           last ingested {idx['last_ingested']} UTC")
    if "embedder" in report:
        emb = report["embedder"]
        out.print(f"embedder   {emb['name']} ({emb['dim']}-d)")
    gen = report["generator"]
    if gen["backend"] == "extractive":
        out.print("generator  extractive (no LLM configured: answers quote the documents)")
    else:
        state = (
            "reachable" if gen.get("reachable") else f"NOT reachable ({gen.get('error', gen.get('status'))})"
        )
        out.print(f"generator  {gen['backend']} {gen['model']} at {gen['base_url']}: {state}")
