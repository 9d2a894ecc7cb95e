"""EPUB 2/3 e-books: the spine's XHTML chapters through the HTML parser, one page per chapter.

An EPUB is a zip of XHTML files listed in reading order by its package document (OPF), so it is
read directly rather than through pandoc or LibreOffice (which cannot import EPUB): the zip is checked
for bombs, `META-INF/container.xml` names the OPF, the OPF's spine gives the chapter order, and each
chapter is parsed by `ingest.parsers.html` (boilerplate removal, headings, tables as rows).
`Element.page` is the 1-based chapter number. A chapter without a heading of its own gets its title
from the table of contents (EPUB 3 `nav` document or EPUB 2 `toc.ncx`) as its section.
XML is parsed without entity expansion or network access.
"""

from __future__ import annotations

import logging
import posixpath
import zipfile
from typing import Any
from urllib.parse import unquote, urldefrag

from ingest.parsed import Element, ElementKind, ParsedDocument, ParseError
from ingest.parser_settings import ParserSettings
from ingest.parsers.limits import Deadline, guard_zip_container, require

logger = logging.getLogger(__name__)

_XHTML_TYPES = frozenset({"application/xhtml+xml", "text/html", "application/x-dtbook+xml"})


def parse_epub(data: bytes, settings: ParserSettings, filename: str = "") -> ParsedDocument:
    """Parse an e-book: chapters in spine order, `page` = chapter number, headings as sections."""
    archive = guard_zip_container(data, "EPUB", settings)
    etree = require("lxml.etree", "lxml", "EPUB parsing")
    opf_path = _rootfile(archive, etree)
    opf = _xml(archive, opf_path, etree)
    base = posixpath.dirname(opf_path)
    manifest: dict[str, tuple[str, str, str]] = {}  # id -> (zip path, media type, properties)
    for item in _children(opf, "manifest", "item"):
        href = item.get("href")
        if item.get("id") and href:
            path = posixpath.normpath(posixpath.join(base, unquote(urldefrag(href)[0])))
            manifest[item.get("id")] = (path, item.get("media-type", ""), item.get("properties", ""))
    spine = [ref.get("idref") for ref in _children(opf, "spine", "itemref")]
    chapters = [manifest[i][0] for i in spine if i in manifest and manifest[i][1] in _XHTML_TYPES]
    if not chapters:
        raise ParseError("corrupt EPUB: the package document lists no XHTML chapters in its spine")
    toc = _toc(archive, opf, manifest, etree)

    from ingest.parsers.html import parse_html

    deadline = Deadline(settings.parse_timeout_s, "EPUB")
    elements: list[Element] = []
    warnings: list[str] = []
    for number, path in enumerate(chapters, start=1):
        if number > settings.max_pages:
            warnings.append(
                f"only the first {settings.max_pages:,} chapters were read (ingest.parser.max_pages)"
            )
            break
        deadline.check(f"chapter {number}")
        try:
            raw = archive.read(path)
        except KeyError:
            warnings.append(f"chapter {number}: {path} is listed but missing from the zip")
            continue
        try:
            chapter = parse_html(raw, settings, path)
        except ParseError as exc:
            if "empty HTML" not in str(exc):
                warnings.append(f"chapter {number} ({path}): {exc}")
            continue
        elements.extend(_chapter_elements(chapter.elements, toc.get(path, ""), number))
    title = _dc(opf, "title")
    date = _dc(opf, "date")
    first_title = next((e.text for e in elements if e.kind is ElementKind.TITLE), "")
    return ParsedDocument(
        elements=elements,
        title=title or first_title,
        lang=_dc(opf, "language") or None,
        pages=len(chapters),
        metadata={"published": date} if date else {},
        warnings=warnings,
    )


def _chapter_elements(elements: list[Element], toc_title: str, number: int) -> list[Element]:
    """A chapter's elements on page `number`; a heading-less chapter is put under its TOC title."""
    has_heading = any(e.kind is ElementKind.TITLE for e in elements)
    out: list[Element] = []
    if toc_title and not has_heading and elements:
        out.append(Element(toc_title, ElementKind.TITLE, page=number, level=1))
    for element in elements:
        element.page = number
        if toc_title and not has_heading:
            element.section = [toc_title, *element.section]
        out.append(element)
    return out


def _rootfile(archive: zipfile.ZipFile, etree: Any) -> str:
    """The OPF path named by META-INF/container.xml."""
    container = _xml(archive, "META-INF/container.xml", etree)
    for element in container.iter():
        if _local(element) == "rootfile" and element.get("full-path"):
            return str(element.get("full-path"))
    raise ParseError("corrupt EPUB: META-INF/container.xml names no package document (rootfile)")


def _xml(archive: zipfile.ZipFile, name: str, etree: Any) -> Any:
    """Parse a zip member as XML with entities and network access off."""
    try:
        raw = archive.read(name)
    except KeyError:
        raise ParseError(f"corrupt EPUB: {name} is missing") from None
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, recover=True)
    try:
        root = etree.fromstring(raw, parser)
    except etree.XMLSyntaxError as exc:
        raise ParseError(f"corrupt EPUB: {name} is not well-formed XML ({exc})") from exc
    if root is None:
        raise ParseError(f"corrupt EPUB: {name} is not XML")
    return root


def _local(element: Any) -> str:
    tag = element.tag
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _children(root: Any, parent: str, child: str) -> list[Any]:
    """`<child>` elements under the OPF's `<parent>` (namespace-agnostic)."""
    for element in root.iter():
        if _local(element) == parent:
            return [c for c in element if _local(c) == child]
    return []


def _dc(opf: Any, name: str) -> str:
    """The first Dublin Core `<dc:name>` of the package metadata, whitespace-collapsed."""
    for element in opf.iter():
        if _local(element) == name and "purl.org/dc" in str(element.tag):
            return " ".join("".join(element.itertext()).split())
    return ""


def _toc(
    archive: zipfile.ZipFile, opf: Any, manifest: dict[str, tuple[str, str, str]], etree: Any
) -> dict[str, str]:
    """Chapter path -> its table-of-contents title (first entry wins), from EPUB 3 nav or EPUB 2 NCX."""
    titles: dict[str, str] = {}
    for path, _media, props in manifest.values():
        if "nav" in props.split():
            _nav_titles(archive, path, etree, titles)
    spine = next((e for e in opf.iter() if _local(e) == "spine"), None)
    ncx_id = spine.get("toc") if spine is not None else None
    if not titles and ncx_id in manifest:
        _ncx_titles(archive, manifest[ncx_id][0], etree, titles)
    return titles


def _nav_titles(archive: zipfile.ZipFile, path: str, etree: Any, titles: dict[str, str]) -> None:
    try:
        root = _xml(archive, path, etree)
    except ParseError:
        return
    base = posixpath.dirname(path)
    for link in root.iter():
        if _local(link) == "a" and link.get("href"):
            target = posixpath.normpath(posixpath.join(base, unquote(urldefrag(link.get("href"))[0])))
            text = " ".join("".join(link.itertext()).split())
            if text:
                titles.setdefault(target, text)


def _ncx_titles(archive: zipfile.ZipFile, path: str, etree: Any, titles: dict[str, str]) -> None:
    try:
        root = _xml(archive, path, etree)
    except ParseError:
        return
    base = posixpath.dirname(path)
    for point in root.iter():
        if _local(point) != "navPoint":
            continue
        label = next((e for e in point.iter() if _local(e) == "text"), None)
        content = next((e for e in point if _local(e) == "content"), None)
        if label is None or content is None or not content.get("src"):
            continue
        target = posixpath.normpath(posixpath.join(base, unquote(urldefrag(content.get("src"))[0])))
        text = " ".join("".join(label.itertext()).split())
        if text:
            titles.setdefault(target, text)
