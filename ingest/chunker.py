"""Structure-aware chunking sized in the embedder's tokens.

Why not llama-index's `SentenceSplitter`: it finds sentences with English punctuation and falls back to
cutting characters, which breaks Thai, Lao, Khmer and Burmese words and grapheme clusters (a vowel or
tone mark cut from its consonant) and Chinese sentences. This chunker splits recursively on the strongest
boundary that exists (paragraph, line, sentence terminators of each script, spaces, then grapheme
clusters), packs the pieces greedily up to the token budget, overlaps consecutive chunks by whole pieces,
and never lets a chunk span a section or page change, so every chunk has one page and one section path to
cite. The result is llama-index `TextNode`s, the representation shared by `ingest` and `rag`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import regex
from pydantic import BaseModel, Field

from ingest.parsed import Element, ElementKind, ParsedDocument

TokenCounter = Callable[[Sequence[str]], list[int]]

# Boundaries, strongest first. Each pattern matches the separator; the split keeps it on the left piece.
_SEPARATORS: tuple[re.Pattern[str], ...] = (
    re.compile(r"\n\s*\n"),  # paragraphs
    re.compile(r"\n"),  # lines (table rows, list items)
    # Sentence ends: Latin/Tamil/Vietnamese punctuation followed by space, CJK full stops (no space
    # follows them), Burmese ။, Khmer ។ ៕, Devanagari-style danda.
    re.compile(r"(?<=[.!?])[\"'”’)\]]*\s+|(?<=[。！？；])|(?<=[\u104B\u17D4\u17D5\u0964\u0965])\s*"),
    re.compile(r"(?<=[,;:،、，；：\u104A\u17D6])\s*"),  # clause marks (Burmese ၊, Khmer ៖)
    re.compile(r"\s+"),  # spaces (Thai and Lao put spaces between phrases and sentences)
)
_GRAPHEME = regex.compile(r"\X")


class ChunkerSettings(BaseModel):
    """How documents are cut into chunks (sizes in the embedder's tokens)."""

    chunk_tokens: int = Field(default=320, ge=16, le=2048, description="Target maximum tokens per chunk.")
    overlap_tokens: int = Field(default=48, ge=0, description="Tokens repeated from the previous chunk.")
    min_chunk_tokens: int = Field(
        default=24, ge=0, description="A smaller trailing piece of a section is merged into its neighbour."
    )


@dataclass(slots=True)
class Chunk:
    """A chunk before it becomes a node: its text, where it sits, how many tokens it holds."""

    text: str
    page: int | None
    section: list[str]
    tokens: int
    kinds: set[str] = field(default_factory=set)


def _split_keep(text: str, pattern: re.Pattern[str]) -> list[str]:
    """Split `text` after each match of `pattern`, keeping separators on the left piece."""
    pieces: list[str] = []
    start = 0
    for m in pattern.finditer(text):
        end = m.end()
        if end <= start or end >= len(text):
            continue
        pieces.append(text[start:end])
        start = end
    pieces.append(text[start:])
    return [p for p in pieces if p]


def _split_graphemes(text: str, max_tokens: int, count: TokenCounter) -> list[str]:
    """Last resort: cut between grapheme clusters so that each piece fits."""
    clusters = _GRAPHEME.findall(text)
    pieces: list[str] = []
    start = 0
    while start < len(clusters):
        lo, hi = start + 1, len(clusters)
        # Largest end such that clusters[start:end] fits (binary search on the token count).
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if count(["".join(clusters[start:mid])])[0] <= max_tokens:
                lo = mid
            else:
                hi = mid - 1
        pieces.append("".join(clusters[start:lo]))
        start = lo
    return pieces


def split_to_fit(text: str, max_tokens: int, count: TokenCounter, level: int = 0) -> list[str]:
    """Split `text` into pieces of at most `max_tokens`, on the strongest available boundary.

    The pieces concatenate back to `text` exactly.
    """
    if count([text])[0] <= max_tokens:
        return [text]
    for i in range(level, len(_SEPARATORS)):
        parts = _split_keep(text, _SEPARATORS[i])
        if len(parts) > 1:
            sizes = count(parts)
            out: list[str] = []
            for part, size in zip(parts, sizes, strict=True):
                out.extend([part] if size <= max_tokens else split_to_fit(part, max_tokens, count, i + 1))
            return out
    return _split_graphemes(text, max_tokens, count)


@dataclass(slots=True)
class _Block:
    text: str
    page: int | None
    section: list[str]
    kind: ElementKind


def _blocks(doc: ParsedDocument) -> list[_Block]:
    """Elements with their section path resolved from the headings above them."""
    stack: list[tuple[int, str]] = []
    out: list[_Block] = []
    for el in doc.elements:
        text = el.text.strip()
        if not text:
            continue
        if el.kind is ElementKind.TITLE:
            level = max(el.level, 1)
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, text))
            # A heading belongs to the section it opens, so it is chunked with the text below it.
            section = [*el.section, text] if el.section else [t for _, t in stack]
        else:
            section = list(el.section) if el.section else [t for _, t in stack]
        out.append(_Block(text=text, page=el.page, section=section, kind=el.kind))
    return out


def _unit_texts(block: _Block, max_tokens: int, count: TokenCounter) -> list[str]:
    """A block's pieces; tables stay whole when they fit, otherwise split by rows first."""
    text = block.text if block.text.endswith("\n") else block.text + "\n\n"
    return split_to_fit(text, max_tokens, count)


def chunk_document(doc: ParsedDocument, settings: ChunkerSettings, count: TokenCounter) -> list[Chunk]:
    """Cut a parsed document into chunks that respect sections, pages and the token budget."""
    max_tokens = settings.chunk_tokens
    units: list[tuple[str, _Block]] = []
    for block in _blocks(doc):
        units.extend((piece, block) for piece in _unit_texts(block, max_tokens, count))
    if not units:
        return []
    sizes = count([u for u, _ in units])
    chunks: list[Chunk] = []
    cur: list[tuple[str, int]] = []
    cur_block: _Block | None = None
    cur_tokens = 0
    n_carried = 0  # leading pieces of `cur` repeated from the previous chunk (overlap)
    kinds: set[str] = set()

    def flush() -> None:
        nonlocal cur, cur_tokens, kinds, n_carried
        if cur and cur_block is not None:
            text = "".join(t for t, _ in cur).strip()
            if text:
                chunks.append(Chunk(text, cur_block.page, cur_block.section, cur_tokens, kinds))
        cur, cur_tokens, kinds, n_carried = [], 0, set(), 0

    for (piece, block), size in zip(units, sizes, strict=True):
        boundary = cur_block is not None and (
            block.page != cur_block.page or block.section != cur_block.section
        )
        if boundary and _opens(kinds, cur_block, block) and cur_tokens + size <= max_tokens:
            pass  # headings alone ("Part A" then "1. Scope"): keep them with the subsection they open
        elif boundary:
            # A tiny tail: glue its new pieces (not the overlap, which the previous chunk already
            # holds) to the previous chunk of the same place, when that still fits the budget.
            tail = cur[n_carried:]
            tail_tokens = sum(n for _, n in tail)
            if (
                tail_tokens < settings.min_chunk_tokens
                and chunks
                and _same_place(chunks[-1], cur_block)
                and chunks[-1].tokens + tail_tokens <= max_tokens
            ):
                prev = chunks[-1]
                prev.text = (prev.text + "\n" + "".join(t for t, _ in tail).strip()).strip()
                prev.tokens += tail_tokens
                cur, cur_tokens, kinds, n_carried = [], 0, set(), 0
            else:
                flush()
        elif cur and cur_tokens + size > max_tokens:
            carried = _overlap(cur, settings.overlap_tokens, max_tokens - size)
            flush()
            cur = carried
            cur_tokens = sum(n for _, n in carried)
            n_carried = len(carried)
        cur.append((piece, size))
        cur_tokens += size
        cur_block = block
        kinds.add(block.kind.value)
    flush()
    return chunks


def _opens(kinds: set[str], cur: _Block | None, nxt: _Block) -> bool:
    """True when the pending chunk holds only headings and `nxt` starts a subsection of theirs."""
    return (
        cur is not None
        and kinds == {ElementKind.TITLE.value}
        and nxt.page == cur.page
        and nxt.section[: len(cur.section)] == cur.section
    )


def _same_place(chunk: Chunk, block: _Block | None) -> bool:
    return block is not None and chunk.page == block.page and chunk.section == block.section


def _overlap(units: list[tuple[str, int]], overlap: int, room: int) -> list[tuple[str, int]]:
    """The trailing pieces of a chunk (at most `overlap` tokens, and fitting in `room`) to repeat."""
    budget = min(overlap, room)
    carried: list[tuple[str, int]] = []
    total = 0
    for text, n in reversed(units):
        if total + n > budget:
            break
        carried.insert(0, (text, n))
        total += n
    if len(carried) == len(units):  # never repeat a whole chunk
        carried = carried[1:]
    return carried


def section_label(section: Sequence[str]) -> str:
    """Human-readable section path ("Part A > Eligibility")."""
    return " > ".join(s for s in section if s)


def _first_heading(elements: Sequence[Element]) -> str:
    for el in elements:
        if el.kind is ElementKind.TITLE and el.text.strip():
            return el.text.strip()
    return ""


def _first_line(elements: Sequence[Element]) -> str:
    for el in elements:
        line = el.text.strip().split("\n", 1)[0].strip()
        if line:
            return line if len(line) <= 120 else ""
    return ""


def document_title(doc: ParsedDocument, fallback: str) -> str:
    """The document's title: explicit metadata, else its first heading, else a short first line, else
    the fallback (file name)."""
    return (doc.title or _first_heading(doc.elements) or _first_line(doc.elements) or fallback).strip()[:300]
