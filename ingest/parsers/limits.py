"""Guards shared by the parsers: zip-bomb checks, a per-document deadline, lazy imports.

They run before a library touches the bytes, so a hostile file fails fast with a `ParseError`
that names the limit and the `ParserSettings` field to change.
"""

from __future__ import annotations

import importlib
import io
import logging
import time
import zipfile
from types import ModuleType

from ingest.parsed import ParseError
from ingest.parser_settings import ParserSettings

logger = logging.getLogger(__name__)


def human_size(n: float) -> str:
    """Format a byte count the way the error messages print it ("1.2 GB", "200 MB", "12 KB")."""
    for unit, factor in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if n >= factor:
            value = n / factor
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{int(n)} bytes"


def require(module: str, pip_name: str, purpose: str) -> ModuleType:
    """Import an optional dependency, or fail with the command that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ParseError(
            f"{purpose} needs the Python package {pip_name!r}: pip install {pip_name} ({exc})"
        ) from exc


def guard_zip_container(data: bytes, kind: str, settings: ParserSettings) -> zipfile.ZipFile:
    """Open an OOXML (zip) container after checking it cannot expand past the limits.

    Checks the central directory (declared sizes; `zipfile` never returns more than the declared size
    of a member, so the declared sizes bound what the parsers can read): entry count, total expanded
    size and per-member compression ratio.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError) as exc:
        raise ParseError(f"corrupt {kind}: not a readable zip container ({exc})") from exc
    if len(infos) > settings.max_zip_members:
        raise ParseError(
            f"zip bomb: {kind} has {len(infos):,} entries > limit {settings.max_zip_members:,} "
            "(ingest.parser.max_zip_members)"
        )
    total = sum(i.file_size for i in infos)
    if total > settings.max_decompressed_bytes:
        raise ParseError(
            f"zip bomb: {kind} expands to {human_size(total)} > limit "
            f"{human_size(settings.max_decompressed_bytes)} (ingest.parser.max_decompressed_bytes)"
        )
    for info in infos:
        if info.file_size < settings.ratio_min_bytes:
            continue
        ratio = info.file_size / max(info.compress_size, 1)
        if ratio > settings.max_compression_ratio:
            raise ParseError(
                f"zip bomb: {kind} member {info.filename} expands {ratio:,.0f}:1 to "
                f"{human_size(info.file_size)} "
                f"> ratio limit {settings.max_compression_ratio:,.0f}:1 (ingest.parser.max_compression_ratio)"
            )
    if any(i.flag_bits & 0x1 for i in infos):
        raise ParseError(f"encrypted {kind}: zip members are password-protected")
    return archive


class Deadline:
    """A wall-clock budget for one document, checked between pages so a slow file cannot hang a worker."""

    def __init__(self, seconds: float, what: str) -> None:
        """Start the clock now; `what` names the document kind in the error."""
        self._end = time.monotonic() + seconds
        self._seconds = seconds
        self._what = what

    def check(self, where: str) -> None:
        """Raise `ParseError` if the budget is spent; `where` says how far parsing got."""
        if time.monotonic() > self._end:
            raise ParseError(
                f"timed out: parsing the {self._what} took over {self._seconds:g} s (stopped at {where}; "
                "raise ingest.parser.parse_timeout_s)"
            )

    def remaining(self) -> float:
        """Seconds left (never below 1, so sub-process timeouts stay usable)."""
        return max(1.0, self._end - time.monotonic())
