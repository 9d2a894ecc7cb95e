"""`govrag index`: look after a stored index (mounted by govrag.cli as `index`).

* `check`: the integrity check of `indices.index_check` over every point (payload decode, dense vectors
  finite and unit-norm, segment metadata). Exit 0 when healthy, 1 when damaged, 2 when the index cannot be
  opened at all (missing, locked, another embedder).
* `roots`: the source roots the index holds documents of, with their agencies and counts.
* `forget`: remove the documents of one root (`--root`, e.g. a folder that moved) or one document
  (`--doc`); the only way to hand a document id over to another root or agency.
* `snapshot` / `restore`: a verified copy of the embedded index and its restore with rollback
  (`indices.snapshot`); a Qdrant server's own snapshot for the server backend.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from govrag.cli_common import ConfigOpt, HomeOpt, JsonOpt, console, out

index_app = typer.Typer(
    name="index",
    help="Check the stored index, list its source roots, forget a root or a document, snapshot and restore.",
    no_args_is_help=True,
    add_completion=False,
)


def _open(settings: Any, *, verify: bool) -> Any:
    """The configured index, opened without loading the model (its identity is remembered)."""
    from indices.edge_index import EdgeIndex
    from indices.embedder import EmbedderError
    from indices.errors import IndexError_
    from indices.registry import open_index
    from ingest.lazy_embedder import open_embedder

    try:
        identity = open_embedder(settings.embedder, settings.models_dir).identity
        if settings.index.backend == "embedded":
            folder = settings.index.embedded_folder(settings.home)
            return EdgeIndex.open(folder, identity, settings.index, create=False, verify=verify)
        return open_index(settings.index, identity, settings.home, create=False)
    except (IndexError_, EmbedderError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc


def _settings(config: Path | None, home: Path | None) -> Any:
    from govrag.cli_common import _settings as load

    return load(config, home)


@index_app.command("check")
def check(
    quick: Annotated[
        bool, typer.Option("--quick", help="Only the first points (what /readyz runs).")
    ] = False,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
    home: HomeOpt = None,
) -> None:
    """Verify every stored point: payload decodes, dense vector finite and unit-norm, segment metadata."""
    settings = _settings(config, home)
    index = _open(settings, verify=False)
    try:
        report = index.check(quick=quick)
    finally:
        index.close()
    if as_json:
        out.print_json(json.dumps(report.as_dict(), ensure_ascii=False))
    elif report.ok:
        out.print(f"index ok: {report.points_checked} of {report.points_counted} points checked")
    else:
        console.print(
            f"[red]index damaged:[/red] {len(report.problems) + report.more_problems} problems in "
            f"{report.points_checked} of {report.points_counted} points checked"
        )
        for problem in report.problems:
            console.print(f"  {problem}", markup=False)
        if report.more_problems:
            console.print(f"  ... and {report.more_problems} more")
        console.print(
            "To recover: delete the index folder and re-run `govrag ingest` on the sources.", markup=False
        )
    raise typer.Exit(0 if report.ok else 1)


@index_app.command("roots")
def roots(
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
    home: HomeOpt = None,
) -> None:
    """The source roots documents were ingested from, with agency and document count."""
    settings = _settings(config, home)
    index = _open(settings, verify=True)
    try:
        counts = Counter((d.root, d.agency) for d in index.iter_documents())
    finally:
        index.close()
    rows = [{"root": r, "agency": a, "documents": n} for (r, a), n in sorted(counts.items())]
    if as_json:
        out.print_json(json.dumps(rows, ensure_ascii=False))
        return
    table = Table(title="Source roots")
    for col in ("root", "agency", "documents"):
        table.add_column(col)
    for row in rows:
        table.add_row(row["root"], row["agency"] or "(none)", str(row["documents"]))
    out.print(table)


@index_app.command("forget")
def forget(
    root: Annotated[str | None, typer.Option("--root", help="Remove every document of this root.")] = None,
    doc: Annotated[str | None, typer.Option("--doc", help="Remove this document id.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would go; remove nothing.")] = False,
    config: ConfigOpt = None,
    home: HomeOpt = None,
) -> None:
    """Remove the documents of a root (exactly as `govrag index roots` lists it) or one document."""
    from indices.schema import SearchFilter

    if (root is None) == (doc is None):
        console.print("[red]error:[/red] give exactly one of --root or --doc")
        raise typer.Exit(2)
    settings = _settings(config, home)
    index = _open(settings, verify=True)
    try:
        flt = SearchFilter(roots=[root]) if root is not None else SearchFilter(doc_ids=[doc or ""])
        doomed = [d.doc_id for d in index.iter_documents(flt)]
        if doomed and not dry_run:
            index.delete_documents(doomed)
    finally:
        index.close()
    for doc_id in doomed:
        out.print(doc_id, markup=False)
    verb = "would remove" if dry_run else "removed"
    console.print(f"{verb} {len(doomed)} documents", markup=False)
    raise typer.Exit(0 if doomed else 1)


@index_app.command("snapshot")
def snapshot(
    dest: Annotated[
        Path, typer.Argument(help="Folder to write the snapshot into (a new subfolder is made).")
    ],
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
    home: HomeOpt = None,
) -> None:
    """A consistent, verified copy of the index (stop `govrag serve` first: the embedded index is locked
    by the process using it). With a Qdrant server: the server's own collection snapshot."""
    from indices.errors import IndexError_
    from indices.snapshot import snapshot_embedded

    settings = _settings(config, home)
    index = _open(settings, verify=True)
    try:
        if settings.index.backend == "embedded":
            made = snapshot_embedded(index, dest)
            result: dict[str, Any] = {"snapshot": str(made), **read_manifest_quiet(made)}
        else:
            result = {"snapshot": index.create_snapshot(), "collection": settings.index.collection}
    except IndexError_ as exc:
        console.print(f"[red]error:[/red] {exc}", markup=False)
        raise typer.Exit(1) from exc
    finally:
        index.close()
    if as_json:
        out.print_json(json.dumps(result))
    else:
        console.print(f"snapshot written: {result['snapshot']}", markup=False)


def read_manifest_quiet(folder: Path) -> dict[str, Any]:
    from indices.snapshot import read_manifest

    return {k: v for k, v in read_manifest(folder).items() if k in ("points", "documents", "created")}


@index_app.command("restore")
def restore(
    source: Annotated[Path, typer.Argument(help="A folder made by `govrag index snapshot`.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    config: ConfigOpt = None,
    home: HomeOpt = None,
) -> None:
    """Replace the embedded index with a snapshot; the current index is put back if the snapshot fails
    its check. (For a Qdrant server, recover the collection with the server's snapshot API.)"""
    from indices.embedder import EmbedderError
    from indices.errors import IndexError_
    from indices.snapshot import read_manifest, restore_embedded
    from ingest.lazy_embedder import open_embedder

    settings = _settings(config, home)
    if settings.index.backend != "embedded":
        console.print(
            "[red]error:[/red] with a Qdrant server, restore through the server: "
            "PUT /collections/<name>/snapshots/recover (see deploy/README.md)"
        )
        raise typer.Exit(2)
    try:
        manifest = read_manifest(source)
        if not yes and not typer.confirm(
            f"Replace the index with the snapshot of {manifest.get('created')} "
            f"({manifest.get('documents')} documents, {manifest.get('points')} chunks)?"
        ):
            console.print("cancelled; nothing changed")
            raise typer.Exit(1)
        identity = open_embedder(settings.embedder, settings.models_dir).identity
        folder = settings.index.embedded_folder(settings.home)
        restore_embedded(source, folder, identity, settings.index)
    except (IndexError_, EmbedderError) as exc:
        console.print(f"[red]error:[/red] {exc}; the index was not changed", markup=False)
        raise typer.Exit(1) from exc
    console.print(
        f"restored {manifest.get('documents')} documents ({manifest.get('points')} chunks) from {source}",
        markup=False,
    )
