"""HTML pages: main content only, headings as TITLE elements with levels, tables as rows.

Boilerplate is dropped before text is collected: script/style/noscript/template, nav, aside, the
page-level header and footer (a <header> inside <main>/<article> is kept: it often holds the
article's <h1>), ARIA banner/navigation/contentinfo/complementary/search regions and hidden
elements. When the page marks a single <main>, only that is read. Layout tables (tables holding
headings or other tables) are read as ordinary blocks; data tables become TABLE elements.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from ingest.parsed import ElementKind, ParsedDocument, ParseError
from ingest.parser_settings import ParserSettings
from ingest.parsers.limits import require
from ingest.parsers.outline import Outline
from ingest.parsers.tabular import add_table
from ingest.parsers.text import decode_text

logger = logging.getLogger(__name__)

_DROP_TAGS = frozenset(
    {
        "script",
        "style",
        "noscript",
        "template",
        "nav",
        "aside",
        "iframe",
        "svg",
        "canvas",
        "button",
        "select",
        "textarea",
        "input",
        "object",
        "embed",
        "head",
        "menu",
        "dialog",
    }
)
_DROP_ROLES = frozenset({"navigation", "banner", "contentinfo", "complementary", "search", "menu", "menubar"})
_BLOCK_TAGS = frozenset(
    {
        "p",
        "div",
        "section",
        "article",
        "main",
        "blockquote",
        "ul",
        "ol",
        "dl",
        "dt",
        "dd",
        "tr",
        "td",
        "th",
        "figure",
        "figcaption",
        "address",
        "header",
        "footer",
        "form",
        "fieldset",
        "details",
        "summary",
        "center",
        "hr",
        "caption",
        "body",
        "html",
        "table",
        "tbody",
        "thead",
        "tfoot",
        "li",
        "pre",
    }
)
_HEADINGS = {f"h{i}": i for i in range(1, 7)}
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>", re.I)
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)


def parse_html(data: bytes, settings: ParserSettings, filename: str = "") -> ParsedDocument:
    """Parse an HTML file (bytes in any encoding; a <meta charset> is honoured)."""
    text, codec = _decode_html(data, settings)
    doc = html_document(text, settings)
    doc.metadata["encoding"] = codec
    return doc


def html_document(text: str, settings: ParserSettings) -> ParsedDocument:
    """Parse HTML already decoded to str (also used for HTML e-mail bodies)."""
    lxml_html = require("lxml.html", "lxml", "HTML parsing")
    text = _XML_DECL.sub("", text, count=1)
    if not text.strip():
        raise ParseError("empty HTML document")
    try:
        root = lxml_html.document_fromstring(text)
    except Exception as exc:  # lxml raises ParserError / ValueError on hopeless input
        raise ParseError(f"malformed HTML: {exc}") from exc
    lang = _lang(root)
    title_el = root.find(".//title")
    title = " ".join(title_el.text_content().split()) if title_el is not None else ""
    mains = [m for m in root.iter("main") if not _dropped(m)] or root.xpath("//*[@role='main']")
    start = mains[0] if len(mains) == 1 else (root.find("body") if root.find("body") is not None else root)
    walker = _Walker(settings)
    walker.walk(start)
    walker.flush()
    outline = walker.outline
    return ParsedDocument(
        elements=outline.elements, title=title or outline.first_title(), lang=lang, metadata=_page_dates(root)
    )


#: <meta name|property> values that give a page's publication date, best first.
_DATE_METAS = (
    "article:published_time", "dcterms.issued", "dc.date.issued", "dcterms.date", "dc.date", "date",
    "citation_publication_date", "pubdate", "publish-date", "og:published_time",
)  # fmt: skip


def _page_dates(root: Any) -> dict[str, str]:
    """Dates the page declares: JSON-LD `datePublished`/`dateModified`, <meta> dates, the first <time>."""
    import json

    out: dict[str, str] = {}
    for script in root.xpath("//script[@type='application/ld+json']"):
        try:
            data = json.loads(script.text_content() or "null")
        except ValueError:
            continue
        for item in data if isinstance(data, list) else [data]:
            if isinstance(item, dict):
                for key in ("datePublished", "dateCreated"):
                    if isinstance(item.get(key), str):
                        out.setdefault(key, item[key])
    metas = {
        (m.get("name") or m.get("property") or "").strip().lower(): (m.get("content") or "").strip()
        for m in root.xpath("//meta[@content]")
    }
    for key in _DATE_METAS:
        if metas.get(key):
            out.setdefault("published", metas[key])
            break
    times = root.xpath("//time[@datetime]/@datetime")
    if times:
        out.setdefault("date", str(times[0]))
    return out


def _decode_html(data: bytes, settings: ParserSettings) -> tuple[str, str]:
    """Decode with the page's declared charset when it works, else detect."""
    if not settings.text_encoding and not data.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
        declared = _META_CHARSET.search(data[:4096])
        if declared:
            codec = declared.group(1).decode("ascii", "replace").lower()
            codec = {"tis-620": "cp874", "windows-874": "cp874", "gb2312": "gb18030", "gbk": "gb18030"}.get(
                codec, codec
            )
            try:
                return data.decode(codec), codec
            except (LookupError, UnicodeDecodeError):
                logger.info("declared charset %s does not decode the page; detecting", codec)
    return decode_text(data, settings.text_encoding)


def _lang(root: Any) -> str | None:
    """Primary language subtag from <html lang> / xml:lang / Content-Language ("th-TH" -> "th")."""
    value = root.get("lang") or root.get("{http://www.w3.org/XML/1998/namespace}lang")
    if not value:
        metas = root.xpath(
            "//meta[translate(@http-equiv,'CONTENT-LANGUAGE','content-language')='content-language']/@content"
        )
        value = metas[0] if metas else None
    if not value:
        return None
    primary = str(value).strip().replace("_", "-").split("-")[0].split(",")[0].lower()
    return primary or None


def _dropped(el: Any) -> bool:
    """Whether an element is boilerplate or hidden."""
    tag = el.tag if isinstance(el.tag, str) else ""
    if tag in _DROP_TAGS:
        return True
    if (el.get("role") or "").lower() in _DROP_ROLES:
        return True
    if el.get("hidden") is not None or (el.get("aria-hidden") or "").lower() == "true":
        return True
    if _HIDDEN_STYLE.search(el.get("style") or ""):
        return True
    if tag in ("header", "footer"):
        # page chrome, unless it is an article's own header/footer
        return not any(a.tag in ("main", "article") for a in el.iterancestors())
    return False


def _is_layout_table(table: Any) -> bool:
    """Tables used for page layout (old government sites) hold headings, lists or other tables."""
    return bool(table.xpath(".//table|.//h1|.//h2|.//h3|.//h4|.//ul|.//ol|.//p[string-length(.)>200]"))


class _Walker:
    """Depth-first walk that buffers inline text and flushes it at block boundaries."""

    def __init__(self, settings: ParserSettings) -> None:
        self.settings = settings
        self.outline = Outline()
        self._buffer: list[str] = []
        self._kinds: list[ElementKind] = []

    def flush(self) -> None:
        text = "".join(self._buffer)
        self._buffer = []
        if text.strip():
            kind = self._kinds[-1] if self._kinds else ElementKind.TEXT
            self.outline.add(text, kind)

    def walk(self, el: Any) -> None:
        tag = el.tag if isinstance(el.tag, str) else None
        if tag is None or _dropped(el):  # comments, processing instructions, boilerplate
            return
        tag = tag.lower()
        if tag in _HEADINGS:
            self.flush()
            self.outline.heading(el.text_content(), _HEADINGS[tag])
            return
        if tag == "table" and not _is_layout_table(el):
            self.flush()
            self._table(el)
            return
        if tag == "pre":
            self.flush()
            self.outline.add(el.text_content(), ElementKind.CODE)
            return
        if tag == "br":
            self._buffer.append("\n")
            return
        block = tag in _BLOCK_TAGS
        if block:
            self.flush()
        if tag == "li":
            self._kinds.append(ElementKind.LIST_ITEM)
        if el.text:
            self._buffer.append(el.text)
        for child in el:
            self.walk(child)
            if child.tail:
                self._buffer.append(child.tail)
        if block:
            self.flush()
        if tag == "li":
            self._kinds.pop()

    def _table(self, table: Any) -> None:
        caption = table.find("caption")
        if caption is not None and caption.text_content().strip():
            self.outline.add(caption.text_content())
        rows: list[list[str]] = []
        header: list[str] | None = None
        for tr in table.xpath("./tr|./thead/tr|./tbody/tr|./tfoot/tr"):
            cells: list[str] = []
            for cell in tr.xpath("./td|./th"):
                value = " ".join(cell.text_content().split())
                span = cell.get("colspan") or "1"
                cells.extend([value] * (int(span) if span.isdigit() and 0 < int(span) <= 50 else 1))
            is_header = tr.getparent().tag == "thead" or all(c.tag == "th" for c in tr.xpath("./td|./th"))
            if header is None and not rows and is_header:
                header = cells
            else:
                rows.append(cells)
        add_table(self.outline, rows, self.settings, header=header)
