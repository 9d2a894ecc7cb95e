"""Legacy Office (DOC/XLS/PPT), OpenDocument (ODT/ODS/ODP), RTF and EPUB in Thai, Khmer and Chinese.

The files are real: DOC/ODT, XLS/ODS and PPT/ODP are made by LibreOffice from generated DOCX/XLSX/PPTX
(one conversion run per target format, cached for the session), RTF and EPUB are written by hand as
Word and e-book tools write them. Parsing converts them back through `ingest.parsers.libreoffice` (or
reads the EPUB's XHTML), so each test checks the text, the page (slide/sheet/chapter) and the section.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import docgen
import pytest

from ingest.parsed import ElementKind, ParsedDocument, ParseError
from ingest.parser_settings import ParserSettings
from ingest.parsers import parse_bytes
from ingest.sniff import DocFormat, sniff_format

TH = docgen.SAMPLES["th"][1]
KM = docgen.SAMPLES["km"][1]
ZH = docgen.SAMPLES["zh"][1]

needs_soffice = pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice not installed")

ZH_TABLE = [["服务", "费用", "办理时间"], ["身份证", "20元", "7天"], ["护照", "120元", "14天"]]
SHEETS: dict[str, list[list[object]]] = {
    "ค่าธรรมเนียม": [["บริการ", "ค่าธรรมเนียม (บาท)"], ["ทำบัตรใหม่", 100], ["บัตรหาย", 20]],
    "តម្លៃសេវា": [["សេវា", "តម្លៃ"], ["អត្តសញ្ញាណប័ណ្ណ", 5000], ["លិខិតឆ្លងដែន", 100000]],
    "费用": ZH_TABLE,
}
WORD_BLOCKS: list[tuple[str, object]] = [
    ("h1", TH[0]),
    ("p", TH[1]),
    ("h2", "เอกสารที่ต้องใช้"),
    ("p", TH[2]),
    ("h1", KM[0]),
    ("p", KM[1]),
    ("h1", ZH[0]),
    ("p", ZH[1]),
    ("table", ZH_TABLE),
    ("p", ZH[2]),  # Word's binary format ends with a paragraph (LibreOffice drops a trailing table)
]
SLIDES = [(TH[0], [TH[1], TH[2]]), (KM[0], [KM[1], KM[2]]), (ZH[0], [ZH[1]])]


@pytest.fixture(scope="session")
def office_file() -> Callable[[str], bytes]:
    """Format ("doc", "ods", "rtf"...) -> a generated file of that format (each converted once)."""
    cache: dict[str, bytes] = {}
    sources = {
        "docx": lambda: docgen.docx_bytes(WORD_BLOCKS, title="ประกาศ"),
        "xlsx": lambda: docgen.xlsx_bytes(SHEETS),
        "pptx": lambda: docgen.pptx_bytes(SLIDES, table=ZH_TABLE),
    }
    source_of = {"doc": "docx", "odt": "docx", "xls": "xlsx", "ods": "xlsx", "ppt": "pptx", "odp": "pptx"}

    def get(fmt: str) -> bytes:
        if fmt not in cache:
            if fmt == "rtf":
                cache[fmt] = docgen.rtf_bytes(WORD_BLOCKS)
            else:
                if shutil.which("soffice") is None:
                    pytest.skip("LibreOffice is needed to generate legacy/OpenDocument test files")
                src = source_of[fmt]
                cache[fmt] = docgen.soffice_convert({f"office.{src}": sources[src]()}, fmt)["office"]
        return cache[fmt]

    return get


def _find(doc: ParsedDocument, text: str) -> list[tuple[ElementKind, int | None, list[str]]]:
    """(kind, page, section) of every element containing `text`."""
    return [(e.kind, e.page, e.section) for e in doc.elements if text in e.text]


def _titles(doc: ParsedDocument) -> list[tuple[str, int, int | None]]:
    return [(e.text, e.level, e.page) for e in doc.elements if e.kind is ElementKind.TITLE]


# -- word processing: DOC, ODT, RTF -----------------------------------------------------------------


@needs_soffice
@pytest.mark.parametrize("fmt", ["doc", "odt", "rtf"])
def test_word_formats_keep_text_headings_and_table_rows(
    fmt: str, office_file: Callable[[str], bytes]
) -> None:
    data = office_file(fmt)
    assert sniff_format(data, "upload") is DocFormat(fmt)
    doc = parse_bytes(data, f"notice.{fmt}")
    assert doc.metadata["format"] == fmt
    assert doc.metadata["converted_by"] == "libreoffice"
    assert [(t, lvl) for t, lvl, _ in _titles(doc)] == [
        (TH[0], 1),
        ("เอกสารที่ต้องใช้", 2),
        (KM[0], 1),
        (ZH[0], 1),
    ]
    # exact text (Thai stacked vowels, Khmer subscripts, CJK) under the right heading path
    assert _find(doc, TH[1]) == [(ElementKind.TEXT, None, [TH[0]])]
    assert _find(doc, TH[2]) == [(ElementKind.TEXT, None, [TH[0], "เอกสารที่ต้องใช้"])]
    assert _find(doc, KM[1]) == [(ElementKind.TEXT, None, [KM[0]])]
    assert _find(doc, ZH[1]) == [(ElementKind.TEXT, None, [ZH[0]])]
    tables = [e for e in doc.elements if e.kind is ElementKind.TABLE]
    assert [t.text for t in tables] == [
        "服务: 身份证 | 费用: 20元 | 办理时间: 7天\n服务: 护照 | 费用: 120元 | 办理时间: 14天"
    ]
    assert tables[0].section == [ZH[0]]


# -- spreadsheets: XLS, ODS -------------------------------------------------------------------------


@needs_soffice
@pytest.mark.parametrize("fmt", ["xls", "ods"])
def test_spreadsheet_formats_keep_sheets_as_pages_and_rows_with_headers(
    fmt: str, office_file: Callable[[str], bytes]
) -> None:
    data = office_file(fmt)
    assert sniff_format(data, "upload") is DocFormat(fmt)
    doc = parse_bytes(data, f"fees.{fmt}")
    assert doc.pages == 3
    assert _titles(doc) == [(name, 1, n) for n, name in enumerate(SHEETS, start=1)]
    assert _find(doc, "ทำบัตรใหม่") == [(ElementKind.TABLE, 1, ["ค่าธรรมเนียม"])]
    thai_rows = next(e.text for e in doc.elements if e.kind is ElementKind.TABLE and e.page == 1)
    assert thai_rows == "บริการ: ทำบัตรใหม่ | ค่าธรรมเนียม (บาท): 100\nบริการ: บัตรหาย | ค่าธรรมเนียม (บาท): 20"
    assert _find(doc, "សេវា: លិខិតឆ្លងដែន | តម្លៃ: 100000") == [(ElementKind.TABLE, 2, ["តម្លៃសេវា"])]
    assert _find(doc, "服务: 护照 | 费用: 120元 | 办理时间: 14天") == [(ElementKind.TABLE, 3, ["费用"])]


# -- presentations: PPT, ODP ------------------------------------------------------------------------


@needs_soffice
@pytest.mark.parametrize("fmt", ["ppt", "odp"])
def test_presentation_formats_keep_slides_as_pages(fmt: str, office_file: Callable[[str], bytes]) -> None:
    data = office_file(fmt)
    assert sniff_format(data, "upload") is DocFormat(fmt)
    doc = parse_bytes(data, f"slides.{fmt}")
    assert doc.pages == 3
    assert _titles(doc) == [(TH[0], 1, 1), (KM[0], 1, 2), (ZH[0], 1, 3)]
    assert _find(doc, TH[2]) == [(ElementKind.TEXT, 1, [TH[0]])]
    assert _find(doc, KM[1]) == [(ElementKind.TEXT, 2, [KM[0]])]
    assert _find(doc, ZH[1]) == [(ElementKind.TEXT, 3, [ZH[0]])]
    assert _find(doc, "服务: 身份证 | 费用: 20元 | 办理时间: 7天") == [(ElementKind.TABLE, 3, [ZH[0]])]


# -- EPUB ------------------------------------------------------------------------------------------

CHAPTERS = [(TH[0], TH[1:3]), (KM[0], KM[1:3]), (ZH[0], ZH[1:3])]


@pytest.mark.parametrize("headings", [True, False], ids=["h1-in-chapters", "titles-only-in-nav"])
def test_epub_chapters_are_pages_with_their_titles_as_sections(headings: bool) -> None:
    data = docgen.epub_bytes(CHAPTERS, title="คู่มือประชาชน", lang="th", headings=headings)
    assert sniff_format(data, "book") is DocFormat.EPUB
    doc = parse_bytes(data, "guide.epub")
    assert doc.title == "คู่มือประชาชน"
    assert doc.lang == "th"
    assert doc.pages == 3
    assert doc.metadata["published"] == "2025-01-06"
    assert _titles(doc) == [(TH[0], 1, 1), (KM[0], 1, 2), (ZH[0], 1, 3)]
    assert _find(doc, TH[2]) == [(ElementKind.TEXT, 1, [TH[0]])]
    assert _find(doc, KM[1]) == [(ElementKind.TEXT, 2, [KM[0]])]
    assert _find(doc, ZH[2]) == [(ElementKind.TEXT, 3, [ZH[0]])]
    assert "Contents" not in doc.text  # the nav document is not a chapter


# -- sandbox, limits and errors ----------------------------------------------------------------------


@needs_soffice
def test_conversions_run_side_by_side_without_touching_home_or_leaving_files(
    office_file: Callable[[str], bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home, scratch = tmp_path / "home", tmp_path / "tmp"
    home.mkdir()
    scratch.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    rtf = office_file("rtf")
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        docs = list(pool.map(lambda n: parse_bytes(rtf, f"copy{n}.rtf"), range(2)))
    for doc in docs:  # two LibreOffice instances at once: each has its own profile, neither fails
        assert _find(doc, KM[1]) == [(ElementKind.TEXT, None, [KM[0]])]
    assert list(home.iterdir()) == []
    assert list(scratch.iterdir()) == []


def _odf(mimetype: str, content: bytes) -> bytes:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as out:
        out.writestr("mimetype", mimetype)
        out.writestr("content.xml", content)
    return buf.getvalue()


def test_missing_libreoffice_names_the_debian_packages(office_file: Callable[[str], bytes]) -> None:
    settings = ParserSettings(soffice_cmd="no-such-soffice")
    with pytest.raises(ParseError) as info:
        parse_bytes(office_file("rtf"), "circular.rtf", settings)
    assert str(info.value) == (
        "RTF needs LibreOffice to convert circular.rtf, and 'no-such-soffice' is not installed: "
        "apt-get install --no-install-recommends libreoffice-writer-nogui libreoffice-calc-nogui "
        "libreoffice-impress-nogui (or set ingest.parser.soffice_cmd)"
    )


@needs_soffice
def test_conversion_timeout_names_the_file_and_the_limit(office_file: Callable[[str], bytes]) -> None:
    with pytest.raises(ParseError) as info:
        parse_bytes(office_file("rtf"), "circular.rtf", ParserSettings(convert_timeout_s=0.05))
    assert str(info.value) == (
        "timed out: LibreOffice took over 0.05 s to convert RTF circular.rtf "
        "(raise ingest.parser.convert_timeout_s)"
    )
    stragglers = []
    for pid in _children(os.getpid()):
        with contextlib.suppress(OSError):
            if b"soffice" in Path(f"/proc/{pid}/cmdline").read_bytes():
                stragglers.append(pid)
    assert stragglers == []  # the whole process group was killed and reaped


@needs_soffice
def test_corrupt_opendocument_says_libreoffice_could_not_read_it() -> None:
    data = _odf("application/vnd.oasis.opendocument.text", b"\x00\x01 not xml at all")
    with pytest.raises(ParseError, match=r"^corrupt ODT: LibreOffice could not read broken\.odt \("):
        parse_bytes(data, "broken.odt")


BAD_FILES = [
    (
        "odf-drawing",
        lambda: _odf("application/vnd.oasis.opendocument.graphics", b"<x/>"),
        "unsupported format: OpenDocument graphics (only text, spreadsheet and presentation)",
    ),
    (
        "epub-without-rootfile",
        lambda: _odf("application/epub+zip", b"<x/>"),
        "corrupt EPUB: META-INF/container.xml is missing",
    ),
    (
        "epub-empty-spine",
        lambda: docgen.epub_bytes([], title="t", lang="km"),
        "corrupt EPUB: the package document lists no XHTML chapters in its spine",
    ),
]


@pytest.mark.parametrize(("make", "reason"), [b[1:] for b in BAD_FILES], ids=[b[0] for b in BAD_FILES])
def test_bad_package_fails_with_the_reason(make: Callable[[], bytes], reason: str) -> None:
    with pytest.raises(ParseError) as info:
        parse_bytes(make(), "upload")
    assert str(info.value) == reason


def test_odf_zip_bomb_is_refused_before_libreoffice_runs() -> None:
    data = _odf("application/vnd.oasis.opendocument.spreadsheet", b"<x/>" * 100)
    with pytest.raises(ParseError, match=r"^zip bomb: ODS expands to .* > limit 100 bytes"):
        parse_bytes(data, "big.ods", ParserSettings(max_decompressed_bytes=100))


def _children(parent: int) -> list[int]:
    """Pids of the processes whose parent is `parent` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="util-linux setpriv not installed")
def test_the_converter_dies_with_a_killed_worker(tmp_path: Path) -> None:
    """A hung conversion (a stand-in soffice that never returns) dies when its worker is SIGKILLed."""
    import signal
    import subprocess
    import sys
    import time

    fake = tmp_path / "hung-soffice"
    fake.write_text("#!/bin/sh\nexec sleep 600\n")
    fake.chmod(0o755)
    source = tmp_path / "circular.rtf"
    source.write_bytes(docgen.rtf_bytes(WORD_BLOCKS))
    script = (
        "import sys; from pathlib import Path; from ingest.parsers import parse_path; "
        "from ingest.parser_settings import ParserSettings; "
        "parse_path(Path(sys.argv[1]), ParserSettings(soffice_cmd=sys.argv[2], convert_timeout_s=600))"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "TMPDIR": str(tmp_path)}
    worker = subprocess.Popen([sys.executable, "-c", script, str(source), str(fake)], env=env)
    children: list[int] = []
    try:
        deadline = time.monotonic() + 60
        while not children and time.monotonic() < deadline and worker.poll() is None:
            children = _children(worker.pid)
            time.sleep(0.05)
        assert children, "the converter was never started"
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
        deadline = time.monotonic() + 30
        while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [pid for pid in children if _alive(pid)] == []
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(timeout=30)
        for pid in children:  # never leave the stand-in behind, even when the test fails
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
