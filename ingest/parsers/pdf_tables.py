"""Ruled tables in PDF pages (text layer or OCR'd scan) as rows of cells, rendered with their headers.

Without this, a table's cells come out of the text layer in drawing order, so a wrapped cell splits
its row and a vertically centred cell lands after the lines next to it ("a soup of cells"). Tables in
government PDFs are almost always ruled (Word and LibreOffice draw every cell border), so the grid is
read from the rules: horizontal and vertical strokes and rectangles from the page's content stream
(`rules_from_content`) or long dark pixel runs in a scanned page (`rules_from_image`). Strokes that
touch form one component; a component with at least three distinct horizontal and three vertical
rule positions (two rows by two columns) is a grid. Each word (a positioned text run, or a Tesseract
word box) falls into the cell whose bands contain its anchor point; a cell's lines are joined without
a space between scripts written without spaces (Thai, Lao, Khmer, Burmese, CJK), so a cell wrapped
mid-word is whole again. The first row is the header (`ingest.parsers.tabular.add_table`).

Unruled tables (columns aligned only by white space) are left to the plain text flow.
"""

from __future__ import annotations

import bisect
import logging
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)

#: Rules closer than this (in the page's units: points or pixels scaled by `tolerance`) are one.
_MERGE_PT = 2.0
#: A stroke or rectangle side thinner than this is a line, not an area.
_THIN_PT = 3.0
#: Strokes shorter than this are ignored (text decorations, bullets).
_MIN_RULE_PT = 8.0
_NO_SPACE_SCRIPTS = ("THAI", "LAO", "KHMER", "MYANMAR", "CJK", "HIRAGANA", "KATAKANA", "HANGUL")


@dataclass(frozen=True, slots=True)
class Word:
    """A piece of text at a position: `x` where it starts, `y` inside its line (baseline or centre)."""

    text: str
    x: float
    y: float
    size: float = 10.0


@dataclass(slots=True)
class Rules:
    """Horizontal rules (y, x0, x1) and vertical rules (x, y0, y1) of one page."""

    horizontal: list[tuple[float, float, float]] = field(default_factory=list)
    vertical: list[tuple[float, float, float]] = field(default_factory=list)


@dataclass(slots=True)
class Grid:
    """A ruled table: sorted rule positions; `y_up` is True for PDF space (rows run top = highest y)."""

    xs: list[float]
    ys: list[float]
    y_up: bool

    def contains(self, word: Word) -> bool:
        """The word's anchor lies inside the grid's outer rules."""
        return self.xs[0] <= word.x + 0.5 < self.xs[-1] and self.ys[0] < word.y < self.ys[-1]

    def cell(self, word: Word) -> tuple[int, int]:
        """(row, column) of a word inside the grid, row 0 at the top."""
        col = bisect.bisect_right(self.xs, word.x + 0.5) - 1
        band = bisect.bisect_right(self.ys, word.y) - 1
        row = len(self.ys) - 2 - band if self.y_up else band
        return row, col


@dataclass(slots=True)
class Table:
    """A table read from a grid: rows of cell texts (first = header) and the words it took."""

    rows: list[list[str]]
    words: list[Word]


def find_tables(words: Sequence[Word], rules: Rules, y_up: bool, scale: float = 1.0) -> list[Table]:
    """Tables (top to bottom) formed by `rules`, filled with the `words` inside them.

    `scale` converts the point thresholds to the page's units (pixels per point for scans).
    """
    tables = [t for t in (fill_grid(grid, words) for grid in grids(rules, y_up, scale)) if t is not None]
    top = (lambda t: -max(w.y for w in t.words)) if y_up else (lambda t: min(w.y for w in t.words))
    return sorted(tables, key=top)


def fill_grid(grid: Grid, words: Sequence[Word]) -> Table | None:
    """The table of the words inside `grid`, or None when it holds less than two rows by two columns."""
    inside = [w for w in words if w.text.strip() and grid.contains(w)]
    if not inside:
        return None
    cells: dict[tuple[int, int], list[Word]] = {}
    for word in inside:
        cells.setdefault(grid.cell(word), []).append(word)
    n_rows, n_cols = len(grid.ys) - 1, len(grid.xs) - 1
    rows = [[_cell_text(cells.get((r, c), []), grid.y_up) for c in range(n_cols)] for r in range(n_rows)]
    rows = [row for row in rows if any(row)]
    if len(rows) >= 2 and max(sum(1 for c in row if c) for row in rows) >= 2:
        return Table(rows, inside)
    return None


def grids(rules: Rules, y_up: bool, scale: float = 1.0) -> list[Grid]:
    """Connected groups of rules with at least 3 distinct positions each way."""
    merge, min_len = _MERGE_PT * scale, _MIN_RULE_PT * scale
    hs = [h for h in rules.horizontal if h[2] - h[1] >= min_len]
    vs = [v for v in rules.vertical if v[2] - v[1] >= min_len]
    # union-find over rules: a horizontal and a vertical rule join when they touch
    items: list[tuple[str, tuple[float, float, float]]] = [("h", h) for h in hs] + [("v", v) for v in vs]
    parent = list(range(len(items)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, (kind_i, (a, b0, b1)) in enumerate(items):
        if kind_i != "h":
            continue
        for j in range(len(hs), len(items)):
            x, y0, y1 = items[j][1]
            if b0 - merge <= x <= b1 + merge and y0 - merge <= a <= y1 + merge:
                parent[find(i)] = find(j)
    groups: dict[int, list[int]] = {}
    for i in range(len(items)):
        groups.setdefault(find(i), []).append(i)
    grids = []
    for members in groups.values():
        ys = _merged([items[i][1][0] for i in members if items[i][0] == "h"], merge)
        xs = _merged([items[i][1][0] for i in members if items[i][0] == "v"], merge)
        if len(ys) >= 3 and len(xs) >= 3:
            grids.append(Grid(xs, ys, y_up))
    return grids


def _merged(values: list[float], tolerance: float) -> list[float]:
    """Sorted positions with near-duplicates (double strokes, both sides of a thin rule) merged."""
    out: list[float] = []
    for value in sorted(values):
        if out and value - out[-1] <= tolerance:
            continue
        out.append(value)
    return out


def _cell_text(words: list[Word], y_up: bool) -> str:
    """A cell's words in reading order: lines top to bottom, joined as the script wants."""
    if not words:
        return ""
    lines: list[list[Word]] = []  # in the order the words came (reading order within a line)
    for word in words:
        for line in lines:
            if abs(line[0].y - word.y) <= 0.5 * max(word.size, line[0].size, 1.0):
                line.append(word)
                break
        else:
            lines.append([word])
    lines.sort(key=lambda line: -line[0].y if y_up else line[0].y)
    texts = [_line_text(line) for line in lines]
    out = ""
    for text in texts:
        out = _join(out, text) if out else text
    return " ".join(out.split())


def _line_text(words: list[Word]) -> str:
    """Words of one line: runs at one position are one run split by the reader; others are joined."""
    out = ""
    last_x: float | None = None
    for word in words:
        if last_x is not None and abs(word.x - last_x) < 0.01:
            out += word.text  # same text-run origin: consecutive pieces of one run
        else:
            out = _join(out, word.text) if out else word.text
        last_x = word.x
    return out


def _join(left: str, right: str) -> str:
    """Join two pieces with a space unless both sides are in a script written without spaces."""
    left, right = left.rstrip(), right.lstrip()
    if not left or not right:
        return left + right
    if _no_space(left[-1]) and _no_space(right[0]):
        return left + right
    return f"{left} {right}"


def _no_space(ch: str) -> bool:
    if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Mc"):
        return True
    return unicodedata.name(ch, "").startswith(_NO_SPACE_SCRIPTS)


# -- rules from a PDF content stream ------------------------------------------------------------------


def rules_from_content(page: Any, reader: Any) -> Rules:
    """Stroked/filled lines and rectangles of a page's content stream, in page space (points).

    Tracks the current transformation matrix through q/Q/cm; form XObjects are not entered.
    """
    from pypdf.generic import ContentStream

    contents = page.get_contents()
    rules = Rules()
    if contents is None:
        return rules
    raw = contents.get_data()
    if raw.count(b" re") + raw.count(b" l") < 4:  # no drawing to speak of: skip parsing the stream
        return rules
    ctm: tuple[float, ...] = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
    stack: list[tuple[float, ...]] = []
    path: list[tuple[float, float, float, float]] = []  # segments x0, y0, x1, y1 in page space
    current: tuple[float, float] | None = None
    start: tuple[float, float] | None = None
    for operands, op in ContentStream(contents, reader).operations:
        try:
            nums = [float(v) for v in operands] if op in (b"cm", b"re", b"m", b"l") else []
        except (TypeError, ValueError):
            continue
        if op == b"q":
            stack.append(ctm)
        elif op == b"Q":
            ctm = stack.pop() if stack else ctm
        elif op == b"cm" and len(nums) == 6:
            ctm = _multiply(tuple(nums), ctm)
        elif op == b"re" and len(nums) == 4:
            x, y, w, h = nums
            corners = [_apply(ctm, px, py) for px, py in ((x, y), (x + w, y), (x + w, y + h), (x, y + h))]
            for k in range(4):
                path.append((*corners[k], *corners[(k + 1) % 4]))
            current = start = None
        elif op == b"m" and len(nums) == 2:
            current = start = _apply(ctm, *nums)
        elif op == b"l" and len(nums) == 2 and current is not None:
            end = _apply(ctm, *nums)
            path.append((*current, *end))
            current = end
        elif op == b"h" and current is not None and start is not None:
            path.append((*current, *start))
        elif op in (b"S", b"s", b"f", b"F", b"f*", b"B", b"B*", b"b", b"b*"):
            _add_segments(rules, path)
            path = []
            current = start = None
        elif op == b"n":
            path = []
            current = start = None
    return rules


def _add_segments(rules: Rules, segments: list[tuple[float, float, float, float]]) -> None:
    """Axis-aligned segments as rules (a thin filled rectangle's long sides collapse into one rule)."""
    for x0, y0, x1, y1 in segments:
        if abs(y1 - y0) <= 0.5 and abs(x1 - x0) > 0:
            rules.horizontal.append((y0, min(x0, x1), max(x0, x1)))
        elif abs(x1 - x0) <= 0.5 and abs(y1 - y0) > 0:
            rules.vertical.append((x0, min(y0, y1), max(y0, y1)))


def _multiply(m: tuple[float, ...], n: tuple[float, ...]) -> tuple[float, float, float, float, float, float]:
    return (
        m[0] * n[0] + m[1] * n[2],
        m[0] * n[1] + m[1] * n[3],
        m[2] * n[0] + m[3] * n[2],
        m[2] * n[1] + m[3] * n[3],
        m[4] * n[0] + m[5] * n[2] + n[4],
        m[4] * n[1] + m[5] * n[3] + n[5],
    )


def _apply(m: tuple[float, ...], x: float, y: float) -> tuple[float, float]:
    return m[0] * x + m[2] * y + m[4], m[1] * x + m[3] * y + m[5]


def text_position(cm: Any, tm: Any) -> tuple[float, float]:
    """Page-space origin of a text run from pypdf's visitor matrices."""
    m = _multiply(tuple(float(v) for v in tm), tuple(float(v) for v in cm))
    return m[4], m[5]


# -- matching a table to the text layer's lines --------------------------------------------------------


def squash(text: str) -> str:
    """Text without any white space (what two extractions of the same run agree on)."""
    return "".join(text.split())


def match_lines(lines: Sequence[str], tables: Sequence[Table]) -> dict[int, tuple[int, Table]]:
    """Line index -> (end index, table) for each table whose words make up a run of whole lines.

    The text layer lists a table's runs in drawing order, the same order the words were collected in,
    so the run of lines whose text (without white space) equals the table's words is the table.
    A table that does not match exactly (text mixed into its lines) is left to the text flow.
    """
    found: dict[int, tuple[int, Table]] = {}
    if not tables:
        return found
    i = 0
    pending = list(tables)
    while i < len(lines) and pending:
        matched = False
        for table in pending:
            key = "".join(squash(w.text) for w in table.words)
            end = _consume(lines, i, key)
            if end is not None:
                found[i] = (end, table)
                pending.remove(table)
                i = end
                matched = True
                break
        if not matched:
            i += 1
    return found


def _consume(lines: Sequence[str], start: int, key: str) -> int | None:
    """The index after the lines from `start` whose squashed text is exactly `key`, or None."""
    first = squash(lines[start])
    if not first or not key.startswith(first):
        return None
    acc = ""
    for j in range(start, len(lines)):
        acc += squash(lines[j])
        if acc == key:
            return j + 1
        if not key.startswith(acc):
            return None
    return None
