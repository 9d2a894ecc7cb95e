"""The chunker on real multilingual text, counted in the bundled embedder's own tokens.

Every chunk must fit the token budget; unspaced scripts (Thai, Lao, Khmer, Burmese) are never cut inside
a grapheme cluster (checked at every chunk boundary with the `regex` module's \\X); Chinese sentences are
not cut when they fit; every chunk keeps one page and one section path; consecutive chunks overlap.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import docgen
import pytest
import regex

from ingest.chunker import Chunk, ChunkerSettings, chunk_document, document_title, split_to_fit
from ingest.parsed import Element, ElementKind, ParsedDocument

GRAPHEME = regex.compile(r"\X")
UNSPACED = ("th", "lo", "km", "my")


@pytest.fixture(scope="module")
def count(embedder: Any) -> Any:
    """The token counter the ingestion workers use (the embedder's tokenizer, no special tokens)."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(embedder.tokenizer_file))
    tok.no_truncation()
    tok.no_padding()

    def _count(texts: Sequence[str]) -> list[int]:
        return [len(e.ids) for e in tok.encode_batch(list(texts), add_special_tokens=False)]

    return _count


def _boundaries(text: str) -> set[int]:
    """Offsets in `text` that lie between two grapheme clusters (plus both ends)."""
    out = {0}
    pos = 0
    for m in GRAPHEME.finditer(text):
        pos = m.end()
        out.add(pos)
    return out


def _locate(source: str, chunks: Sequence[Chunk]) -> list[tuple[int, int]]:
    """(start, end) of each chunk's text inside `source`, scanning forward (chunks may overlap)."""
    spans: list[tuple[int, int]] = []
    cursor = 0
    for ch in chunks:
        start = source.find(ch.text, cursor)
        assert start >= 0, f"chunk text is not a slice of the source: {ch.text[:40]!r}"
        spans.append((start, start + len(ch.text)))
        cursor = start + 1
    return spans


def _doc(*texts: str) -> ParsedDocument:
    return ParsedDocument(elements=[Element(t) for t in texts])


def _long(lang: str, repeat: int, sep: str = "") -> str:
    return sep.join(docgen.SAMPLES[lang][1] * repeat)


# -- budget -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", sorted(docgen.SAMPLES))
@pytest.mark.parametrize("budget", [24, 64])
def test_no_chunk_exceeds_the_token_budget(count: Any, lang: str, budget: int) -> None:
    settings = ChunkerSettings(chunk_tokens=budget, overlap_tokens=budget // 4, min_chunk_tokens=budget // 3)
    # Paragraphs, lines, a run with no spaces at all, and a tiny trailing paragraph (merged into its
    # neighbour: the merge must not push that neighbour over the budget).
    doc = _doc(
        _long(lang, 4, " "),
        "\n".join(docgen.SAMPLES[lang][1]),
        _long(lang, 3),
        docgen.SAMPLES[lang][1][0][:6],
    )
    chunks = chunk_document(doc, settings, count)
    assert len(chunks) >= 3
    sizes = count([c.text for c in chunks])
    assert max(sizes) <= budget, [(s, c.text[:30]) for s, c in zip(sizes, chunks, strict=True) if s > budget]
    # Nothing lost: every sample line survives in some chunk or across a cut at the budget.
    joined = "".join(c.text for c in chunks)
    for line in docgen.SAMPLES[lang][1]:
        assert line[:4] in joined


def test_split_to_fit_pieces_concatenate_back_and_fit(count: Any) -> None:
    text = _long("th", 6) + "\n\n" + _long("en", 3, " ")
    pieces = split_to_fit(text, 20, count)
    assert "".join(pieces) == text
    assert max(count(pieces)) <= 20


# -- unspaced scripts: grapheme clusters --------------------------------------------------------------


@pytest.mark.parametrize("lang", UNSPACED)
def test_unspaced_scripts_never_cut_inside_a_grapheme_cluster(count: Any, lang: str) -> None:
    # No spaces and no punctuation: the chunker must fall back to cluster boundaries.
    source = "".join(ch for ch in _long(lang, 5) if not ch.isspace() and ch not in ".។။")
    settings = ChunkerSettings(chunk_tokens=16, overlap_tokens=4, min_chunk_tokens=0)
    chunks = chunk_document(_doc(source), settings, count)
    assert len(chunks) >= 4
    assert max(count([c.text for c in chunks])) <= 16
    cuts = _boundaries(source)
    for (start, end), ch in zip(_locate(source, chunks), chunks, strict=True):
        assert start in cuts, f"{lang}: chunk starts inside a cluster: {ch.text[:12]!r}"
        assert end in cuts, f"{lang}: chunk ends inside a cluster: {ch.text[-12:]!r}"
        first = GRAPHEME.match(ch.text)
        assert first is not None
        assert not regex.match(r"\p{M}", ch.text), f"{lang}: chunk starts with a combining mark"
    # Without overlap the chunks tile the source exactly.
    plain = chunk_document(
        _doc(source), ChunkerSettings(chunk_tokens=16, overlap_tokens=0, min_chunk_tokens=0), count
    )
    assert "".join(c.text for c in plain) == source


@pytest.mark.parametrize("lang", UNSPACED)
def test_unspaced_scripts_prefer_sentence_and_phrase_boundaries(count: Any, lang: str) -> None:
    lines = docgen.SAMPLES[lang][1]
    source = " ".join(lines * 3)
    chunks = chunk_document(_doc(source), ChunkerSettings(chunk_tokens=48, overlap_tokens=0), count)
    assert len(chunks) >= 2
    cuts = _boundaries(source)
    for start, end in _locate(source, chunks):
        assert start in cuts
        assert end in cuts
        # Cut where a space was (phrase/sentence boundary), never in the middle of a phrase.
        assert start == 0 or source[start - 1].isspace()
        assert end == len(source) or source[end].isspace()


# -- Chinese sentences ---------------------------------------------------------------------------------


def test_chinese_sentences_are_not_cut_when_they_fit(count: Any) -> None:
    sentences = [s if s.endswith("。") else s + "。" for s in docgen.SAMPLES["zh"][1]] * 6
    source = "".join(sentences)
    budget = 40
    assert max(count(sentences)) < budget
    chunks = chunk_document(_doc(source), ChunkerSettings(chunk_tokens=budget, overlap_tokens=12), count)
    assert len(chunks) >= 4
    assert max(count([c.text for c in chunks])) <= budget
    for ch in chunks:
        assert ch.text.endswith("。"), ch.text
        # Every piece of the chunk is a whole sentence of the source.
        parts = [p + "。" for p in ch.text.split("。") if p]
        assert all(p in sentences for p in parts), ch.text


# -- structure ----------------------------------------------------------------------------------------


def test_sections_and_pages_are_kept_and_never_mixed(count: Any) -> None:
    th, en = docgen.SAMPLES["th"][1], docgen.SAMPLES["en"][1]
    doc = ParsedDocument(
        elements=[
            Element("Part A", ElementKind.TITLE, page=1, level=1),
            Element(" ".join(en * 4), page=1),
            Element("Eligibility", ElementKind.TITLE, page=1, level=2),
            Element(" ".join(en[1:3]), page=1),
            Element(" ".join(en[1:3]), page=2),  # same section, next page
            Element("หมวด ๒", ElementKind.TITLE, page=2, level=1),
            Element(" ".join(th * 3), page=2),
        ]
    )
    chunks = chunk_document(
        doc, ChunkerSettings(chunk_tokens=48, overlap_tokens=8, min_chunk_tokens=0), count
    )
    places = [(c.page, tuple(c.section)) for c in chunks]
    assert places[0] == (1, ("Part A",))
    assert chunks[0].text.startswith("Part A")  # the heading travels with the text below it
    assert (1, ("Part A", "Eligibility")) in places
    assert (2, ("Part A", "Eligibility")) in places
    assert (2, ("หมวด ๒",)) in places
    # order follows the document and each place is one contiguous run of chunks
    seen: list[tuple[int | None, tuple[str, ...]]] = []
    for p in places:
        if not seen or seen[-1] != p:
            assert p not in seen, f"{p} appears in two separate runs"
            seen.append(p)
    for c in chunks:
        if c.section == ["หมวด ๒"]:
            assert "Applicants" not in c.text
        if c.page == 1:
            assert "ผู้ยื่นคำขอ" not in c.text


def test_table_kept_whole_when_it_fits(count: Any) -> None:
    table = "\n".join(f"Service: fee {i}; Days: {i + 2}" for i in range(5))
    doc = ParsedDocument(
        elements=[
            Element("Fees", ElementKind.TITLE, level=1),
            Element(" ".join(docgen.SAMPLES["en"][1] * 2)),
            Element(table, ElementKind.TABLE),
        ]
    )
    chunks = chunk_document(doc, ChunkerSettings(chunk_tokens=120, overlap_tokens=16), count)
    holding = [c for c in chunks if "fee 0" in c.text]
    assert len(holding) == 1
    assert table in holding[0].text


def test_consecutive_chunks_overlap_by_whole_pieces(count: Any) -> None:
    sentences = [f"Rule {i}: applicants must bring form {i} to the district office." for i in range(30)]
    source = " ".join(sentences)
    settings = ChunkerSettings(chunk_tokens=64, overlap_tokens=20, min_chunk_tokens=0)
    chunks = chunk_document(_doc(source), settings, count)
    assert len(chunks) >= 4
    for prev, nxt in itertools.pairwise(chunks):
        first_sentence = nxt.text.split(". ")[0] + "."
        assert first_sentence in prev.text, "the next chunk starts with the previous chunk's last sentence"
        assert not prev.text.startswith(first_sentence)  # never the whole previous chunk
        shared = prev.text[prev.text.index(first_sentence) :]
        assert nxt.text.startswith(shared)
        assert count([shared])[0] <= settings.overlap_tokens + 2
    without = chunk_document(
        _doc(source), ChunkerSettings(chunk_tokens=64, overlap_tokens=0, min_chunk_tokens=0), count
    )
    assert " ".join(c.text for c in without) == source


def test_document_title_falls_back_in_order() -> None:
    assert document_title(ParsedDocument([Element("x")], title="Meta"), "file") == "Meta"
    heading = ParsedDocument([Element("body"), Element("Heading", ElementKind.TITLE, level=1)])
    assert document_title(heading, "file") == "Heading"
    assert document_title(ParsedDocument([Element("First line\nsecond")]), "file") == "First line"
    assert document_title(ParsedDocument([Element("x" * 200)]), "file") == "file"


def test_tiny_section_tail_is_merged_without_repeating_the_overlap(count: Any) -> None:
    sentences = [f"Form {i} is due." for i in range(12)]
    doc = ParsedDocument(
        elements=[
            Element("A", ElementKind.TITLE, level=1),
            Element(" ".join([*sentences, "Done."])),
            Element("B", ElementKind.TITLE, level=1),
            Element("Other text here."),
        ]
    )
    settings = ChunkerSettings(chunk_tokens=30, overlap_tokens=8, min_chunk_tokens=12)
    chunks = chunk_document(doc, settings, count)
    assert max(count([c.text for c in chunks])) <= 30
    in_a = [c for c in chunks if c.section == ["A"]]
    assert in_a[-1].text.endswith("Done.")
    assert "".join(c.text for c in chunks).count("Done.") == 1
    for c in in_a:  # the overlap is repeated across chunks, never inside one chunk
        for s in sentences:
            assert c.text.count(s + " ") + c.text.endswith(s) <= 1, c.text
    assert chunks[-1].section == ["B"]
    assert chunks[-1].text == "B\n\nOther text here."


def test_a_heading_directly_above_a_subheading_is_not_a_chunk_of_its_own(count: Any) -> None:
    doc = ParsedDocument(
        elements=[
            Element("Attachment: guide.docx", ElementKind.TITLE, level=1),
            Element("Hướng dẫn", ElementKind.TITLE, level=2),
            Element(docgen.SAMPLES["vi"][1][1]),
            Element("Other part", ElementKind.TITLE, level=1),
            Element("Body of the other part."),
        ]
    )
    chunks = chunk_document(doc, ChunkerSettings(), count)
    assert [(c.text.split("\n\n")[0], c.section) for c in chunks] == [
        ("Attachment: guide.docx", ["Attachment: guide.docx", "Hướng dẫn"]),
        ("Other part", ["Other part"]),
    ]
    assert docgen.SAMPLES["vi"][1][1] in chunks[0].text
