"""What every `govrag` subcommand shares: consoles, common options, loading settings, failing clearly.

Kept apart from `govrag.cli` so that command groups in their own modules (`govrag.documents_cli`, ...)
import these without importing the CLI that registers them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from govrag.settings import Settings, load_settings

#: Messages, progress and errors (stderr); `out` is for results (stdout), so `--json` output stays clean.
console = Console(stderr=True)
out = Console()

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", help="YAML settings file (default: $GOVRAG_CONFIG).")
]
HomeOpt = Annotated[
    Path | None, typer.Option("--home", help="Data directory (default: $GOVRAG_HOME or ./govrag-data).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]

#: `-v` given before the command (0: warnings only, 1: INFO, 2+: DEBUG); set by the CLI's callback.
VERBOSITY = {"level": 0}


def _settings(config: Path | None, home: Path | None, *, server: bool = False) -> Settings:
    """The settings for one CLI command, with the process set up for it (`configure_runtime`).

    Commands are quiet (WARNING) unless `-v` is given or `log_level` is set explicitly (env or YAML); a
    server (`server=True`) keeps the configured level, since its log is its record.
    """
    from govrag.components import configure_runtime

    overrides: dict[str, Any] = {}
    if home is not None:
        overrides["home"] = home
    try:
        settings = load_settings(config, **overrides)
    except Exception as exc:  # pydantic ValidationError or a bad YAML file: say which and why
        console.print(f"[red]error:[/red] invalid settings: {exc}")
        raise typer.Exit(2) from exc
    verbosity = VERBOSITY["level"]
    if verbosity:
        settings.log_level = "INFO" if verbosity == 1 else "DEBUG"
    elif not server and "log_level" not in settings.model_fields_set:
        settings.log_level = "WARNING"
    configure_runtime(settings)
    return settings


def _fail(message: str, code: int = 2) -> typer.Exit:
    console.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)


def utc_minute(ts: float | None) -> str:
    """A timestamp as `YYYY-MM-DD HH:MM` in UTC; "" for none (0 or None)."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M") if ts else ""
