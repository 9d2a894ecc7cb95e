"""The heading path ("section") each element sits under, shared by the structured-format parsers."""

from __future__ import annotations

import re

from ingest.parsed import Element, ElementKind

_SPACES = re.compile(r"[ \t\u00a0\u200b]+")


def clean_inline(text: str) -> str:
    """Collapse runs of spaces inside a line and drop NULs/zero-width spaces, keeping line breaks."""
    text = text.replace("\x00", "")
    lines = [_SPACES.sub(" ", line).strip() for line in text.replace("\r\n", "\n").split("\n")]
    return "\n".join(line for line in lines if line)


class Outline:
    """Builds elements in reading order, tracking the heading path above each one.

    A TITLE of level n closes every open heading of level >= n, so `section` is always the chain
    of enclosing headings (not including the element itself).
    """

    def __init__(self) -> None:
        """Start with no elements and no open headings."""
        self.elements: list[Element] = []
        self._stack: list[tuple[int, str]] = []

    @property
    def path(self) -> list[str]:
        """Headings currently open, outermost first."""
        return [text for _, text in self._stack]

    def heading(self, text: str, level: int, page: int | None = None) -> None:
        """Add a TITLE element of `level` (1 = top) and open it as a section."""
        text = clean_inline(text).replace("\n", " ")
        if not text:
            return
        level = max(1, level)
        while self._stack and self._stack[-1][0] >= level:
            self._stack.pop()
        self.elements.append(Element(text, ElementKind.TITLE, page=page, level=level, section=self.path))
        self._stack.append((level, text))

    def add(self, text: str, kind: ElementKind = ElementKind.TEXT, page: int | None = None) -> None:
        """Add a non-heading element under the open headings (blank text is skipped)."""
        text = text.strip() if kind in (ElementKind.TABLE, ElementKind.CODE) else clean_inline(text)
        if text:
            self.elements.append(Element(text, kind, page=page, section=self.path))

    def reset(self) -> None:
        """Close all headings (a new slide or sheet starts its own outline)."""
        self._stack.clear()

    def first_title(self) -> str:
        """Text of the first top-most heading, as a fallback document title."""
        titles = [e for e in self.elements if e.kind is ElementKind.TITLE]
        if not titles:
            return ""
        top = min(e.level for e in titles)
        return next(e.text for e in titles if e.level == top)
