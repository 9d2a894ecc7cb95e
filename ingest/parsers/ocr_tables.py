"""Ruled tables on scanned pages: the grid from the image's long dark lines, cells from Tesseract's boxes.

A page image is first checked for a grid (`rules_from_image`: runs of dark pixels at least a quarter
inch long, horizontal and vertical, which text strokes never are); a page without one is read exactly
as before. On a page with a grid the rules are painted white (Tesseract reads a rule as "|" or "[" and
misreads the cells beside it), the page is read once with word boxes (text and TSV from the same
recognition pass) to learn which text lines the table occupies, and each column of the grid is read
again as its own strip, whose word boxes fill the cells (`ingest.parsers.pdf_tables`). Reading whole
rows, the Chinese model turned the wide gaps between cells into quotes and merged neighbouring cells
("身份证”二十元"); column strips read them whole. Cost: one extra Tesseract run per column, only on
pages with a ruled table.
"""

from __future__ import annotations

import io
import logging
import subprocess
from dataclasses import dataclass, field

from ingest.parsed import Element, ElementKind
from ingest.parser_settings import ParserSettings
from ingest.parsers.limits import Deadline, require
from ingest.parsers.ocr import OcrSession, clean_ocr_text, run_tesseract_tsv
from ingest.parsers.pdf_tables import Grid, Rules, Table, Word, fill_grid, grids

logger = logging.getLogger(__name__)

#: Glyphs Tesseract makes out of a rule crossing a text line.
_RULE_GLYPHS = frozenset("|[]!Il1{}()/\\—–-_=~¦")
#: More runs than this means a photo or a dark area, not a table: no grid is looked for.
_MAX_RUNS = 4000


@dataclass(slots=True)
class OcrPage:
    """An OCR'd page: its text, and, when it holds ruled tables, its lines with the tables' spans."""

    text: str
    lines: list[str] = field(default_factory=list)
    spans: dict[int, tuple[int, Table]] = field(default_factory=dict)


def read_page(session: OcrSession, png: bytes, where: str, deadline: Deadline | None = None) -> OcrPage:
    """OCR one page image; with a ruled grid on it, also read its tables as rows."""
    try:
        rules, scale = rules_from_image(png)
    except Exception as exc:  # an undecodable image is the OCR's problem to report
        logger.debug("%s: no table rules read: %s", where, exc)
        return OcrPage(session.read(png, where, deadline))
    found = grids(rules, y_up=False, scale=scale)
    if not found:
        return OcrPage(session.read(png, where, deadline))
    erased = _erase_rules(png, rules)
    text, tsv = session.read_with_boxes(erased, where, deadline)
    if not text.strip() or not session.languages:
        return OcrPage(text)
    try:
        tables = [_read_grid(session, erased, grid, deadline) for grid in found]
        lines, spans = _layout(text, tsv, rules, scale, session.languages, found, tables)
    except (ValueError, IndexError, RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        logger.warning("%s: table cells unreadable, the table is kept as text: %s", where, exc)
        return OcrPage(text)
    return OcrPage(text, lines, spans) if spans else OcrPage(text)


def page_elements(scan: OcrPage, settings: ParserSettings, page: int) -> list[Element]:
    """A page read with tables as elements: paragraphs (at blank lines) and TABLE rows with headers."""
    from ingest.parsers.outline import Outline
    from ingest.parsers.tabular import add_table
    from ingest.parsers.text import text_elements

    if not scan.spans:
        elements = text_elements(scan.text)
        for element in elements:
            element.page = page
        return elements
    outline = Outline()
    paragraph: list[str] = []
    i = 0
    while i <= len(scan.lines):
        line = scan.lines[i] if i < len(scan.lines) else ""
        if i in scan.spans or not line.strip():
            if paragraph:
                outline.add("\n".join(paragraph), ElementKind.TEXT, page=page)
                paragraph = []
            if i in scan.spans:
                i, table = scan.spans[i]
                add_table(outline, table.rows, settings, page=page)
                continue
        else:
            paragraph.append(line)
        i += 1
    return outline.elements


def _read_grid(session: OcrSession, png: bytes, grid: Grid, deadline: Deadline | None) -> Table | None:
    """OCR each column of `grid` as its own strip and fill the cells with the words' boxes."""
    image_mod = require("PIL.Image", "pillow", "OCR")
    settings, languages = session.settings, session.languages or "eng"
    words: list[Word] = []
    with image_mod.open(io.BytesIO(png)) as im:
        dpi = im.info.get("dpi", (300, 300))
        for left, right in zip(grid.xs, grid.xs[1:], strict=False):
            box = (int(left) + 1, int(grid.ys[0]), int(right), int(grid.ys[-1]))
            if box[2] - box[0] < 8 or box[3] - box[1] < 8:
                continue
            buf = io.BytesIO()
            im.crop(box).save(buf, "PNG", dpi=dpi)
            timeout = min(settings.ocr_page_timeout_s, deadline.remaining() if deadline else 1e9)
            tsv = run_tesseract_tsv(buf.getvalue(), languages, settings, timeout)
            for line in _tsv_lines(tsv):
                for text, x, y, _width, height in line:
                    words.append(Word(text, x + box[0], y + box[1] + height / 2, height))
    return fill_grid(grid, words)


def rules_from_image(png: bytes) -> tuple[Rules, float]:
    """Horizontal and vertical dark runs a quarter inch or longer, in pixels; and pixels per point."""
    image_mod = require("PIL.Image", "pillow", "OCR")
    np = require("numpy", "numpy", "table detection in scans")
    with image_mod.open(io.BytesIO(png)) as im:
        dpi = float(im.info.get("dpi", (300, 300))[0] or 300)
        dark = np.asarray(im.convert("L")) < 128
    min_run = max(20, int(dpi / 4))
    rules = Rules()
    for axis, out in ((0, rules.horizontal), (1, rules.vertical)):
        grid = dark if axis == 0 else dark.T
        padded = np.zeros((grid.shape[0], grid.shape[1] + 2), dtype=np.int8)
        padded[:, 1:-1] = grid
        edges = np.diff(padded, axis=1)
        starts_r, starts_c = np.nonzero(edges == 1)
        _, ends_c = np.nonzero(edges == -1)  # same row-major order: the k-th end closes the k-th start
        long = (ends_c - starts_c) >= min_run
        if int(long.sum()) > _MAX_RUNS:
            return Rules(), dpi / 72
        for line, start, end in zip(starts_r[long], starts_c[long], ends_c[long], strict=True):
            out.append((float(line), float(start), float(end)))
    return rules, dpi / 72


def _erase_rules(png: bytes, rules: Rules) -> bytes:
    """The page with its rules painted white, with a margin for the grey edge a scan blurs them into
    (Tesseract reads a rule as "|" or "[", and a faint leftover edge still spoils the cell beside it)."""
    image_mod = require("PIL.Image", "pillow", "OCR")
    np = require("numpy", "numpy", "table detection in scans")
    with image_mod.open(io.BytesIO(png)) as im:
        dpi = im.info.get("dpi", (300, 300))
        pixels = np.array(im.convert("L"))
    margin = max(2, round(float(dpi[0] or 300) / 100))
    for y, x0, x1 in rules.horizontal:
        pixels[max(0, int(y) - margin) : int(y) + margin + 1, int(x0) : int(x1)] = 255
    for x, y0, y1 in rules.vertical:
        pixels[int(y0) : int(y1), max(0, int(x) - margin) : int(x) + margin + 1] = 255
    buf = io.BytesIO()
    image_mod.fromarray(pixels).save(buf, "PNG", dpi=dpi)
    return buf.getvalue()


def _tsv_lines(tsv: str) -> list[list[tuple[str, float, float, float, float]]]:
    """Tesseract TSV word rows grouped by (block, paragraph, line), in reading order."""
    lines: dict[tuple[str, str, str], list[tuple[str, float, float, float, float]]] = {}
    for row in tsv.splitlines()[1:]:
        cols = row.split("\t")
        if len(cols) < 12 or cols[0] != "5" or not cols[11].strip():
            continue
        left, top, width, height = (float(v) for v in cols[6:10])
        lines.setdefault((cols[2], cols[3], cols[4]), []).append((cols[11], left, top, width, height))
    return list(lines.values())


def _on_rule(text: str, box: tuple[float, float, float, float], rules: Rules, slack: float) -> bool:
    """A box of rule-like glyphs lying on a vertical or horizontal rule."""
    if not set(text.strip()) <= _RULE_GLYPHS:
        return False
    left, top, width, height = box
    if any(left - slack <= x <= left + width + slack for x, _, _ in rules.vertical):
        return True
    return any(top - slack <= y <= top + height + slack for y, _, _ in rules.horizontal)


def _layout(
    text: str,
    tsv: str,
    rules: Rules,
    scale: float,
    languages: str,
    found: list[Grid],
    tables: list[Table | None],
) -> tuple[list[str], dict[int, tuple[int, Table]]]:
    """The page's text lines and, for each grid's table, the span of lines it replaces.

    The page pass's words say which lines a grid occupies; `tables` (read column by column) give
    what replaces them.
    """
    text_lines = text.split("\n")
    nonblank = [i for i, line in enumerate(text_lines) if line.strip()]
    boxes = _tsv_lines(tsv)
    if len(nonblank) != len(boxes):
        raise ValueError(f"{len(nonblank)} text lines but {len(boxes)} TSV lines")
    words: list[Word] = []
    line_of: dict[int, int] = {}
    counts = [0] * len(boxes)
    for n, line in enumerate(boxes):
        for word_text, *box in line:
            if _on_rule(word_text, (box[0], box[1], box[2], box[3]), rules, 2 * scale):
                continue
            word = Word(word_text, box[0], box[1] + box[3] / 2, box[3])
            words.append(word)
            line_of[id(word)] = n
            counts[n] += 1
    spans: dict[int, tuple[int, Table]] = {}
    for grid, table in zip(found, tables, strict=True):
        inside = [w for w in words if grid.contains(w)]
        if table is None or not inside:
            continue
        taken = [0] * len(boxes)
        for word in inside:
            taken[line_of[id(word)]] += 1
        mine = [n for n in range(len(boxes)) if taken[n] and taken[n] * 2 >= counts[n]]
        if not mine:
            continue
        start, end = nonblank[mine[0]], nonblank[mine[-1]] + 1
        covered = [i for i in nonblank if start <= i < end]
        if len(covered) != len(mine) or any(start < s < end or s <= start < e for s, (e, _) in spans.items()):
            continue  # other text is interleaved with the table's lines: keep it all as text
        table.rows = [[clean_ocr_text(cell, languages) for cell in row] for row in table.rows]
        spans[start] = (end, table)
    return text_lines, spans
