"""LlamaIndex integration: govrag's retriever as a `BaseRetriever`, its parsers as a reader."""

from __future__ import annotations

from pathlib import Path

import pytest
from api_support import FINANCE_DOC, HR_DOC, PASSPORT_EN, SampleIndex
from docgen import docx_bytes, text_pdf

from indices.schema import SearchMode
from ingest.llama_index_reader import GovragReader, file_extractor
from ingest.parsed import ParseError

pytest_plugins = ["api_fixtures"]

TH_PAGE_1 = "ค่าธรรมเนียมการจดทะเบียนพาณิชย์ครั้งแรก 50 บาท"
TH_PAGE_2 = "ผู้ประกอบการต้องยื่นคำขอภายใน 30 วันนับแต่วันเริ่มประกอบกิจการ"


@pytest.fixture(scope="module")
def llama_retriever_parts(sample_index: SampleIndex, embedder, sparse_encoder):  # type: ignore[no-untyped-def]
    from conftest import build_settings

    from govrag.components import Components, make_retriever
    from indices.registry import open_index

    settings = build_settings(sample_index.home)
    index = open_index(settings.index, embedder.identity, settings.home, create=False)
    comps = Components(embedder=embedder, sparse=sparse_encoder, index=index)
    yield make_retriever(settings, comps)
    comps.close()


def test_retriever_returns_cited_nodes(llama_retriever_parts) -> None:  # type: ignore[no-untyped-def]
    from rag.llama_index_retriever import GovragRetriever

    nodes = GovragRetriever(llama_retriever_parts, top_k=3).retrieve(
        "How much does it cost to renew a passport?"
    )
    assert 1 <= len(nodes) <= 3
    top = nodes[0]
    assert top.node.metadata["doc_id"] == PASSPORT_EN
    assert top.node.metadata["title"] == "Renewing your passport"
    assert "70 dollars" in top.node.get_content()
    assert [n.score for n in nodes] == sorted((n.score for n in nodes), reverse=True)
    # The LLM sees title and text, not the bookkeeping fields.
    llm_view = top.node.get_content(metadata_mode="llm")
    assert "Renewing your passport" in llm_view
    assert PASSPORT_EN not in llm_view


def test_retriever_applies_access_groups_inside_the_index(llama_retriever_parts) -> None:  # type: ignore[no-untyped-def]
    from rag.llama_index_retriever import GovragRetriever

    question = "What is the confidential salary scale for grade MX9 officers?"
    public = GovragRetriever(llama_retriever_parts, top_k=10, mode=SearchMode.BM25).retrieve(question)
    assert HR_DOC not in {n.node.metadata["doc_id"] for n in public}
    hr = GovragRetriever(llama_retriever_parts, top_k=3, groups=["public", "hr"]).retrieve(question)
    assert hr[0].node.metadata["doc_id"] == HR_DOC
    assert FINANCE_DOC not in {n.node.metadata["doc_id"] for n in hr}
    with pytest.raises(ValueError, match="top_k"):
        GovragRetriever(llama_retriever_parts, top_k=0)


def test_retriever_composes_with_a_llama_index_query_engine(llama_retriever_parts) -> None:  # type: ignore[no-untyped-def]
    from llama_index.core.llms import MockLLM
    from llama_index.core.query_engine import RetrieverQueryEngine
    from llama_index.core.response_synthesizers import get_response_synthesizer

    from rag.llama_index_retriever import GovragRetriever

    engine = RetrieverQueryEngine(
        retriever=GovragRetriever(llama_retriever_parts, top_k=2),
        response_synthesizer=get_response_synthesizer(llm=MockLLM(), response_mode="compact"),
    )
    response = engine.query("How much does it cost to renew a passport?")
    assert response.source_nodes[0].node.metadata["doc_id"] == PASSPORT_EN


def test_reader_gives_one_document_per_pdf_page_with_exact_thai(tmp_path: Path) -> None:
    pdf = tmp_path / "registration.pdf"
    pdf.write_bytes(text_pdf([[("h1", "การจดทะเบียนพาณิชย์"), ("p", TH_PAGE_1)], [("p", TH_PAGE_2)]], "thai"))
    docs = GovragReader().load_data(pdf, extra_info={"agency": "DBD"})
    assert [d.metadata["page_label"] for d in docs] == ["1", "2"]
    assert TH_PAGE_1 in docs[0].text
    assert TH_PAGE_2 not in docs[0].text
    assert TH_PAGE_2 in docs[1].text
    assert all(d.metadata["file_name"] == "registration.pdf" and d.metadata["agency"] == "DBD" for d in docs)
    assert docs[0].metadata["format"] == "pdf"


def test_reader_as_simple_directory_reader_extractor(tmp_path: Path) -> None:
    from llama_index.core import SimpleDirectoryReader

    (tmp_path / "guide.docx").write_bytes(
        docx_bytes([("h1", "Hướng dẫn"), ("p", "Lệ phí đăng ký hộ kinh doanh là 100.000 đồng.")])
    )
    (tmp_path / "notes.md").write_text(
        "# Phí\n\nThời hạn giải quyết là 03 ngày làm việc.\n", encoding="utf-8"
    )
    docs = SimpleDirectoryReader(str(tmp_path), file_extractor=file_extractor()).load_data()
    by_name = {d.metadata["file_name"]: d for d in docs}
    assert set(by_name) == {"guide.docx", "notes.md"}
    assert "100.000 đồng" in by_name["guide.docx"].text
    assert "03 ngày làm việc" in by_name["notes.md"].text


def test_reader_reports_why_a_file_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty.pdf"
    empty.write_bytes(b"")
    with pytest.raises(ParseError, match="empty"):
        GovragReader().load_data(empty)
