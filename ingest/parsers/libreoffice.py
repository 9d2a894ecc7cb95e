"""Legacy and OpenDocument office files (DOC/XLS/PPT, ODT/ODS/ODP, RTF) via headless LibreOffice.

Each file is converted to its Office Open XML sibling (DOC/ODT/RTF -> DOCX, XLS/ODS -> XLSX,
PPT/ODP -> PPTX) and handed to the existing parser, so headings, slides-as-pages and sheets-as-pages
behave exactly as for modern files. Why convert instead of reading the formats directly: there is no
maintained pure-Python reader for the binary formats, and LibreOffice is the reference importer for
all seven.

Every conversion is sandboxed and bounded:

* a private temporary directory (mode 0700) holds the input, the output, a fresh LibreOffice
  profile (`-env:UserInstallation`) and `HOME`/`TMPDIR`, so concurrent conversions never share a
  profile lock and nothing is written to the user's home; it is deleted afterwards;
* the import filter is forced (`--infilter`): without it LibreOffice "opens" any unreadable file as
  plain text and converts the garbage;
* `soffice.bin` runs directly in its own process group, under `setpriv --pdeathsig KILL` (it dies with
  the worker), and the whole group is killed after `convert_timeout_s` (or the document's deadline);
  the `soffice` launcher would fork `soffice.bin` out of reach of the parent-death signal;
* inputs get the same size guards as other parsers (ODF zips are checked for bombs before LibreOffice
  sees them) and the converted file goes through the OOXML parser's guards and page/row limits.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePath

from ingest.parent_watch import pdeathsig_argv
from ingest.parsed import ParsedDocument, ParseError
from ingest.parser_settings import ParserSettings
from ingest.parsers.limits import Deadline, guard_zip_container

logger = logging.getLogger(__name__)

#: Exit status of soffice.bin asking its launcher to restart it (after creating a fresh profile).
_RESTART = 81
#: The Debian packages that provide the import filters, named in the "not installed" error.
_DEBIAN_PACKAGES = "libreoffice-writer-nogui libreoffice-calc-nogui libreoffice-impress-nogui"


@dataclass(frozen=True, slots=True)
class Conversion:
    """How one source format is converted: LibreOffice's import filter and the OOXML target."""

    name: str  # shown in errors ("DOC", "ODT")
    infilter: str  # LibreOffice import filter name (forced, so garbage is refused, not read as text)
    target: str  # "docx" | "xlsx" | "pptx"
    zipped: bool = False  # an ODF zip container (checked for bombs before conversion)


CONVERSIONS: dict[str, Conversion] = {
    "doc": Conversion("DOC", "MS Word 97", "docx"),
    "xls": Conversion("XLS", "MS Excel 97", "xlsx"),
    "ppt": Conversion("PPT", "MS PowerPoint 97", "pptx"),
    "odt": Conversion("ODT", "writer8", "docx", zipped=True),
    "ods": Conversion("ODS", "calc8", "xlsx", zipped=True),
    "odp": Conversion("ODP", "impress8", "pptx", zipped=True),
    "rtf": Conversion("RTF", "Rich Text Format", "docx"),
}


def parse_converted(source: str, data: bytes, settings: ParserSettings, filename: str) -> ParsedDocument:
    """Convert `data` (format key of `CONVERSIONS`) with LibreOffice and parse the OOXML result."""
    conversion = CONVERSIONS[source]
    if conversion.zipped:
        guard_zip_container(data, conversion.name, settings)
    converted = convert(data, conversion, settings, filename)
    from ingest.parsers.docx import parse_docx
    from ingest.parsers.pptx import parse_pptx
    from ingest.parsers.xlsx import parse_xlsx

    parser = {"docx": parse_docx, "xlsx": parse_xlsx, "pptx": parse_pptx}[conversion.target]
    doc = parser(converted, settings, filename)
    doc.metadata["converted_by"] = "libreoffice"
    return doc


def soffice_binary(cmd: str) -> str | None:
    """The LibreOffice executable to run: `soffice.bin` next to the `soffice` launcher when present."""
    exe = shutil.which(cmd)
    if exe is None:
        return None
    real = Path(os.path.realpath(exe))
    direct = real.with_name("soffice.bin")
    return str(direct) if real.name == "soffice" and direct.is_file() else exe


def convert(data: bytes, conversion: Conversion, settings: ParserSettings, filename: str = "") -> bytes:
    """Run one sandboxed LibreOffice conversion and return the converted file's bytes."""
    shown = PurePath(filename).name or f"the {conversion.name} file"
    exe = soffice_binary(settings.soffice_cmd)
    if exe is None:
        raise ParseError(
            f"{conversion.name} needs LibreOffice to convert {shown}, and {settings.soffice_cmd!r} is not "
            f"installed: apt-get install --no-install-recommends {_DEBIAN_PACKAGES} "
            "(or set ingest.parser.soffice_cmd)"
        )
    deadline = Deadline(settings.parse_timeout_s, conversion.name)
    timeout = min(settings.convert_timeout_s, deadline.remaining())
    with tempfile.TemporaryDirectory(prefix="govrag-soffice-") as tmp:
        root = Path(tmp)
        os.chmod(root, 0o700)
        source = root / f"in.{_suffix(conversion)}"
        source.write_bytes(data)
        out_dir = root / "out"
        argv = [
            exe,
            "--headless",
            "--invisible",
            "--norestore",
            "--nolockcheck",
            "--nodefault",
            "--nologo",
            f"-env:UserInstallation={(root / 'profile').as_uri()}",
            f"--infilter={conversion.infilter}",
            "--convert-to",
            conversion.target,
            "--outdir",
            str(out_dir),
            str(source),
        ]
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(root),
            "TMPDIR": str(root),
            "LANG": "C.UTF-8",
            "SAL_USE_VCLPLUGIN": "svp",  # no display, even if $DISPLAY is set
        }
        stderr = ""
        for _attempt in range(2):  # a fresh profile makes the first run exit 81 ("restart me")
            code, stderr = _run(argv, env, root, timeout, conversion, shown)
            if code != _RESTART:
                break
        result = out_dir / f"in.{conversion.target}"
        if not result.is_file():
            reason = stderr.strip().splitlines()[-1] if stderr.strip() else f"exit status {code}"
            raise ParseError(f"corrupt {conversion.name}: LibreOffice could not read {shown} ({reason})")
        size = result.stat().st_size
        if size > settings.max_file_bytes:
            raise ParseError(
                f"{conversion.name} {shown} converts to a {conversion.target.upper()} over "
                "ingest.parser.max_file_bytes"
            )
        return result.read_bytes()


def _suffix(conversion: Conversion) -> str:
    return conversion.name.lower()


def _run(
    argv: list[str], env: dict[str, str], cwd: Path, timeout: float, conversion: Conversion, shown: str
) -> tuple[int, str]:
    """Run soffice in its own process group; on timeout kill the whole group and say so."""
    proc = subprocess.Popen(
        pdeathsig_argv(argv),
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        raise ParseError(
            f"timed out: LibreOffice took over {timeout:g} s to convert {conversion.name} {shown} "
            "(raise ingest.parser.convert_timeout_s)"
        ) from None
    except BaseException:
        _kill_group(proc)
        raise
    finally:
        _kill_group(proc)  # helpers soffice may have left behind in its group
    text = (out + err).decode("utf-8", "replace")
    logger.debug("soffice %s exit %s: %s", conversion.name, proc.returncode, text.strip()[-300:])
    return proc.returncode, text


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the conversion's process group and reap the leader."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)
