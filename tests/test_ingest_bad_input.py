"""Bad input: every broken file, folder and URL is reported with its reason, the run goes on, documents
already stored are untouched, and the exit status says that something failed.

Unreadable permissions: the tests run as root, and root reads a `chmod 000` file anyway
(CAP_DAC_OVERRIDE). `test_unreadable_files_and_folders_without_root_privileges` therefore runs
`govrag ingest` as a real subprocess under `setpriv` with CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH
dropped, so permission bits apply to it as to any user; it is skipped where `setpriv` is missing or the
privileges cannot be dropped. FIFOs (which would block a reader forever) are covered in-process.
"""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docgen
import pytest
from conftest import REPO

LIMIT = 200_000  # ingest.parser.max_file_bytes for these tests


def _failures(report: Any) -> dict[str, str]:
    return {f["doc_id"]: f["reason"] for f in report.to_dict()["failures"]}


def _pptx_bomb(declared: int = int(1.2 * 1024**3)) -> bytes:
    """A valid PPTX plus a member whose headers claim `declared` bytes (like docgen.zip_bomb)."""
    base = docgen.pptx_bytes([("Title", ["body"])])
    src = zipfile.ZipFile(io.BytesIO(base))
    buf = io.BytesIO()
    name = "ppt/media/bomb.bin"
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            out.writestr(info, src.read(info))
        out.writestr(name, b"\0" * 1_000_000)
    data = bytearray(buf.getvalue())
    for sig, size_at, name_len_at, header in ((b"PK\x03\x04", 22, 26, 30), (b"PK\x01\x02", 24, 28, 46)):
        pos = 0
        while (pos := data.find(sig, pos)) != -1:
            n = struct.unpack_from("<H", data, pos + name_len_at)[0]
            if bytes(data[pos + header : pos + header + n]) == name.encode():
                struct.pack_into("<I", data, pos + size_at, declared)
            pos += 4
    return bytes(data)


def _good(root: Path) -> None:
    docgen.font_path("latin")
    (root / "good").mkdir(parents=True)
    (root / "good" / "notice.md").write_text(
        "# Notice\n\n" + " ".join(docgen.SAMPLES["en"][1]), encoding="utf-8"
    )
    (root / "good" / "replaced.pdf").write_bytes(
        docgen.text_pdf([[("h1", "Fees"), ("p", "The renewal fee is 70 dollars, paid by card.")]], "latin")
    )


#: file (relative to the corpus root) -> (bytes, exact expected reason)
BAD_FILES: dict[str, tuple[Callable[[], bytes], str]] = {
    "bad/encrypted.pdf": (docgen.encrypted_pdf, "encrypted PDF (password required)"),
    "bad/truncated.pdf": (
        docgen.truncated_pdf,
        "truncated PDF: no xref/%%EOF at the end of the file (download or export cut short)",
    ),
    "bad/corrupt.pdf": (
        docgen.corrupt_pdf,
        "corrupt PDF: cannot read the page tree (Cannot find Root object in pdf)",
    ),
    "bad/empty.txt": (lambda: b"", "empty file (0 bytes)"),
    "bad/empty.pdf": (lambda: b"", "empty file (0 bytes)"),
    "bad/blank.txt": (lambda: b"  \n\n\t \n", "no text found"),
    "bad/binary.txt": (
        docgen.binary_with_text_extension,
        "binary content with a text extension: binary.txt holds binary data (control bytes, no known "
        "encoding), not text",
    ),
    "bad/huge.txt": (
        lambda: b"a" * (LIMIT + 1),
        f"file is {LIMIT + 1:,} bytes > limit {LIMIT:,} (ingest.parser.max_file_bytes)",
    ),
    "bad/bomb.docx": (
        lambda: docgen.zip_bomb("docx"),
        "zip bomb: DOCX expands to 1.2 GB > limit 200 MB (ingest.parser.max_decompressed_bytes)",
    ),
    "bad/bomb.xlsx": (
        lambda: docgen.zip_bomb("xlsx"),
        "zip bomb: XLSX expands to 1.2 GB > limit 200 MB (ingest.parser.max_decompressed_bytes)",
    ),
    "bad/bomb.pptx": (
        _pptx_bomb,
        "zip bomb: PPTX expands to 1.2 GB > limit 200 MB (ingest.parser.max_decompressed_bytes)",
    ),
    "bad/ratio-bomb.xlsx": (
        lambda: docgen.real_zip_bomb_xlsx(8),
        "zip bomb: XLSX member xl/media/padding.bin expands 1,028:1 to 8 MB > ratio limit 100:1 "
        "(ingest.parser.max_compression_ratio)",
    ),
    "bad/utf8-bom-invalid.txt": (
        lambda: b"\xef\xbb\xbf" + "ประกาศสำนักงานเขต".encode() + b"\xff\xfe\x80 end",
        "corrupt utf-8-sig text: invalid start byte at byte 51",
    ),
    "bad/utf16-truncated.txt": (
        lambda: "สวัสดีครับ".encode("utf-16") + b"\x00",
        "corrupt utf-16 text: truncated data at byte 22",
    ),
    "bad/utf16-surrogate.txt": (
        lambda: b"\xff\xfe" + "ab".encode("utf-16-le") + b"\x00\xd8" + "cd".encode("utf-16-le"),
        "corrupt utf-16 text: illegal UTF-16 surrogate at byte 6",
    ),
}


def test_bad_files_are_reported_exactly_and_stored_documents_are_untouched(
    tmp_path: Path, make_settings: Callable[..., Any], ingest: Callable[..., Any], stored: Callable[..., Any]
) -> None:
    root = tmp_path / "corpus"
    _good(root)
    settings = make_settings(tmp_path / "home", ingest={"workers": 1, "parser": {"max_file_bytes": LIMIT}})
    first = ingest(settings, [root]).to_dict()
    assert first["documents"]["new"] == 2
    before = stored(settings)

    for rel, (make, _) in BAD_FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(make())
    # a stored document replaced by a corrupt version: reported, and the stored version stays
    (root / "good" / "replaced.pdf").write_bytes(docgen.truncated_pdf())
    os.mkfifo(root / "bad" / "pipe.pdf")
    (root / "bad" / "loop").symlink_to(root, target_is_directory=True)
    (root / "bad" / "self.md").symlink_to(root / "bad" / "self.md")
    # the run goes on: a good document added in the same run is ingested
    (root / "good" / "added.txt").write_text("Offices open at eight in the morning.", encoding="utf-8")

    report = ingest(settings, [root])
    expected = {f"corpus/{rel}": reason for rel, (_, reason) in BAD_FILES.items()}
    expected["corpus/good/replaced.pdf"] = BAD_FILES["bad/truncated.pdf"][1]
    expected[str(root / "bad" / "pipe.pdf")] = (
        "not a regular file: a FIFO (named pipe); only regular files are ingested"
    )
    expected[str(root / "bad" / "loop")] = "symlink loop: folder already visited"
    expected[str(root / "bad" / "self.md")] = "broken or looping symlink"
    assert _failures(report) == expected
    summary = report.to_dict()
    assert summary["documents"] == {
        "new": 1,
        "changed": 0,
        "unchanged": 1,
        "failed": len(expected),
        "pruned": 0,
    }
    failure = next(f for f in summary["failures"] if f["doc_id"] == "corpus/bad/encrypted.pdf")
    assert failure["source"] == (root / "bad" / "encrypted.pdf").resolve().as_uri()

    after = stored(settings)
    assert sorted(after) == ["corpus/good/added.txt", "corpus/good/notice.md", "corpus/good/replaced.pdf"]
    for doc_id in ("corpus/good/notice.md", "corpus/good/replaced.pdf"):
        assert [(c.text, c.content_hash, c.ingested_at) for c in after[doc_id]] == [
            (c.text, c.content_hash, c.ingested_at) for c in before[doc_id]
        ]
    assert "70 dollars" in after["corpus/good/replaced.pdf"][0].text

    # --prune after a run with failures: failed documents are kept (they were found), loops change nothing
    pruned = ingest(settings, [root], prune=True)
    assert pruned.count("pruned") == 0
    assert sorted(stored(settings)) == sorted(after)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_http_errors_timeouts_and_size_caps_are_reported(
    tmp_path: Path,
    make_settings: Callable[..., Any],
    ingest: Callable[..., Any],
    stored: Callable[..., Any],
    local_site: Any,
) -> None:
    ok = local_site.add(
        "/ok.html", "<html><body><h1>Open data</h1><p>Budget tables for 2026.</p></body></html>"
    )
    missing = local_site.url("/missing.pdf")
    broken = local_site.add("/error", "boom", "text/plain", status=500)
    slow = local_site.add("/slow.html", "<p>too late</p>", delay=3.0)
    big = local_site.add("/big.txt", "x" * 50_000, "text/plain")
    empty = local_site.add("/empty.txt", "", "text/plain")
    dead = f"http://127.0.0.1:{_closed_port()}/gone.html"
    settings = make_settings(
        tmp_path / "home",
        ingest={"workers": 1, "fetch": {"timeout_s": 0.5, "max_bytes": 20_000, "min_interval_s": 0.0}},
    )
    report = ingest(settings, [ok, missing, broken, slow, big, empty, dead])
    failures = _failures(report)
    assert failures.pop(dead).startswith("request failed: ")
    assert failures == {
        missing: "HTTP 404 Not Found",
        broken: "HTTP 500 Internal Server Error",
        slow: "timed out after 0.5 s (ReadTimeout)",
        big: "response is 50,000 bytes > limit 20,000",
        empty: "empty file (0 bytes)",
    }
    assert report.count("new") == 1
    assert list(stored(settings)) == [ok]


def _can_drop_privileges() -> bool:
    if shutil.which("setpriv") is None:
        return False
    probe = subprocess.run(
        [*_UNPRIVILEGED, sys.executable, "-c", "import os; print(os.access('/root', os.W_OK))"],
        capture_output=True,
        text=True,
        check=False,
    )
    return probe.returncode == 0


_UNPRIVILEGED = [
    "setpriv",
    "--bounding-set=-dac_override,-dac_read_search",
    "--inh-caps=-dac_override,-dac_read_search",
]


def test_unreadable_files_and_folders_without_root_privileges(
    tmp_path: Path, make_settings: Callable[..., Any]
) -> None:
    if os.geteuid() != 0:
        runner: list[str] = []  # an ordinary user: permission bits apply already
    elif _can_drop_privileges():
        runner = _UNPRIVILEGED
    else:
        pytest.skip(
            "running as root and cannot drop CAP_DAC_OVERRIDE (no setpriv): chmod 000 is not enforced"
        )
    root = tmp_path / "share"
    (root / "locked-folder").mkdir(parents=True)
    (root / "readable.md").write_text("# Open\n\nAnyone may read this notice.", encoding="utf-8")
    (root / "locked.md").write_text("# Secret\n\nNo one may read this.", encoding="utf-8")
    (root / "locked-folder" / "inside.md").write_text("hidden", encoding="utf-8")
    (root / "locked.md").chmod(0)
    (root / "locked-folder").chmod(0)
    make_settings(tmp_path / "home")
    try:
        cmd = [
            *runner,
            sys.executable,
            "-m",
            "govrag.cli",
            "ingest",
            str(root),
            "--home",
            str(tmp_path / "home"),
            "--workers",
            "1",
            "--json",
            "--prune",
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=600, check=False)
    finally:
        (root / "locked.md").chmod(0o644)
        (root / "locked-folder").chmod(0o755)
    assert done.returncode == 1, done.stderr[-2000:]
    summary = json.loads(done.stdout)
    assert {f["doc_id"]: f["reason"] for f in summary["failures"]} == {
        "share/locked.md": "cannot read file: Permission denied",
        str(root / "locked-folder"): "cannot list folder: Permission denied",
    }
    assert summary["documents"]["new"] == 1
    assert summary["documents"]["pruned"] == 0


def _worker_pids() -> list[int]:
    """Parser processes spawned by this (pytest) process."""
    me = str(os.getpid())
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if stat[1] == me and b"spawn_main" in cmd:
            found.append(int(entry))
    return found


def test_a_parser_process_killed_mid_run_does_not_stop_the_run(
    tmp_path: Path,
    make_settings: Callable[..., Any],
    ingest: Callable[..., Any],
    stored: Callable[..., Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    import threading

    root = tmp_path / "docs"
    root.mkdir()
    sentences = docgen.SAMPLES["en"][1] + docgen.SAMPLES["th"][1]
    # a large first document keeps the worker busy long enough to be killed while parsing
    (root / "a-large.txt").write_text("\n\n".join(sentences * 300), encoding="utf-8")
    for i in range(6):
        (root / f"doc{i}.md").write_text(f"# Notice {i}\n\n" + sentences[i], encoding="utf-8")
    settings = make_settings(tmp_path / "home", ingest={"workers": 1})
    killed: list[int] = []

    def kill_first_worker() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            pids = _worker_pids()
            if pids:
                time.sleep(1.0)  # let it start on the large document
                os.kill(pids[0], signal.SIGKILL)
                killed.append(pids[0])
            time.sleep(0.05)

    killer = threading.Thread(target=kill_first_worker)
    killer.start()
    with caplog.at_level(logging.WARNING, logger="ingest.worker"):
        report = ingest(settings, [root])
    killer.join()
    assert killed, "no parser process was seen"
    assert "a parser process died" in caplog.text
    assert report.to_dict()["failures"] == []  # retried alone, it parses fine: nothing lost
    assert report.count("new") == 7
    docs = stored(settings)
    assert sorted(docs) == ["docs/a-large.txt", *(f"docs/doc{i}.md" for i in range(6))]
    assert all(len(v) == 1 for k, v in docs.items() if k != "docs/a-large.txt")


def test_utf8_chinese_with_name_separators_is_text_not_binary() -> None:
    """Found by the benchmark on the eval corpus: "·" (U+00B7) between transliterated names was scored
    as Latin-1 mojibake, and a clean UTF-8 Chinese passage was rejected as binary."""
    from ingest.parsers import parse_bytes

    text = "美国政治领袖约翰·汉考克，约翰·亚当斯，约翰·昆西·亚当斯，卢瑟福·海耶斯，西奥多·罗斯福。"
    doc = parse_bytes(("Harvard University\n\n" + text).encode("utf-8"), "00400.txt")
    assert doc.metadata["encoding"] == "utf-8"
    assert doc.elements[-1].text == text
