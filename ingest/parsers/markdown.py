"""Markdown: headings -> TITLE elements with levels, lists, code blocks and pipe tables.

Uses markdown-it-py (CommonMark + tables, already installed with `rich`) on the token stream, so
`#` inside code fences or setext headings are handled the way a renderer would.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from ingest.parsed import ElementKind, ParsedDocument
from ingest.parser_settings import ParserSettings
from ingest.parsers.limits import require
from ingest.parsers.outline import Outline
from ingest.parsers.tabular import add_table
from ingest.parsers.text import decode_text

logger = logging.getLogger(__name__)

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.S)
_FRONT_TITLE = re.compile(r"^title\s*:\s*[\"']?(.+?)[\"']?\s*$", re.M | re.I)
_TAG = re.compile(r"<[^>]+>")


def parse_markdown(data: bytes, settings: ParserSettings, filename: str = "") -> ParsedDocument:
    """Parse a Markdown file (any encoding; YAML front matter's `title:` becomes the title)."""
    text, codec = decode_text(data, settings.text_encoding)
    text = text.lstrip("\ufeff").replace("\r\n", "\n")
    title = ""
    front = _FRONT_MATTER.match(text)
    if front:
        found = _FRONT_TITLE.search(front.group(1))
        title = found.group(1) if found else ""
        text = text[front.end() :]
    markdown_it = require("markdown_it", "markdown-it-py", "Markdown parsing")
    tokens = markdown_it.MarkdownIt("commonmark").enable("table").parse(text)
    outline = Outline()
    _emit(tokens, outline, settings)
    return ParsedDocument(
        elements=outline.elements, title=title or outline.first_title(), metadata={"encoding": codec}
    )


def _inline_text(token: Any) -> str:
    """Plain text of an inline token: markup dropped, image alt text and line breaks kept."""
    parts: list[str] = []
    for child in token.children or []:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append("\n")
        elif child.type == "image":
            parts.append(_inline_text(child) or child.content)
    return "".join(parts)


def _emit(tokens: list[Any], outline: Outline, settings: ParserSettings) -> None:
    """Turn the flat token stream into elements."""
    list_depth = 0
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        kind = tok.type
        if kind == "heading_open":
            outline.heading(_inline_text(tokens[i + 1]), int(tok.tag[1]))
            i += 3
            continue
        if kind in ("bullet_list_open", "ordered_list_open"):
            list_depth += 1
        elif kind in ("bullet_list_close", "ordered_list_close"):
            list_depth -= 1
        elif kind == "inline":
            outline.add(_inline_text(tok), ElementKind.LIST_ITEM if list_depth else ElementKind.TEXT)
        elif kind in ("fence", "code_block"):
            outline.add(tok.content, ElementKind.CODE)
        elif kind == "html_block":
            outline.add(_TAG.sub(" ", tok.content))
        elif kind == "table_open":
            i = _table(tokens, i, outline, settings)
            continue
        i += 1


def _table(tokens: list[Any], start: int, outline: Outline, settings: ParserSettings) -> int:
    """Collect a pipe table's rows (the first row is the header); returns the index after it."""
    rows: list[list[str]] = []
    i = start + 1
    while i < len(tokens) and tokens[i].type != "table_close":
        tok = tokens[i]
        if tok.type == "tr_open":
            rows.append([])
        elif tok.type == "inline" and rows:
            rows[-1].append(_inline_text(tok))
        i += 1
    add_table(outline, rows, settings)
    return i + 1
