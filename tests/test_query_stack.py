"""`open_query_stack`: the one wiring of retriever and answerer (API, `govrag ask/search`, `govrag eval`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from api_support import PASSPORT_EN, SampleIndex, clone_home, free_port
from conftest import build_settings

from govrag.components import open_components, open_query_stack
from rag.answerers import Answerer, ExtractiveAnswerer, LLMAnswerer
from rag.answering import Question

pytest_plugins = ["api_fixtures"]

PASSPORT_Q = "How much does it cost to renew a passport?"


@pytest.fixture
def home(sample_index: SampleIndex, tmp_path: Path) -> Path:
    """A private copy of the sample data dir."""
    return clone_home(sample_index.home, tmp_path / "home")


def _events(stack: Any, q: Question) -> list[tuple[str, Any]]:
    async def go() -> list[tuple[str, Any]]:
        try:
            return [e async for e in stack.answers.stream(q)]
        finally:
            await stack.aclose()

    return anyio.run(go)


def test_extractive_backend_is_an_answerer_adapter_streaming_sentences(home: Path) -> None:
    stack = open_query_stack(build_settings(home))
    assert isinstance(stack.answerer, ExtractiveAnswerer)
    assert isinstance(stack.answerer, Answerer)
    assert anyio.run(stack.answerer.health) is None  # no model server to check
    events = _events(stack, Question(text=PASSPORT_Q))
    names = [e for e, _ in events]
    assert names[0] == "sources"
    assert names[-1] == "done"
    deltas = [d["text"] for e, d in events if e == "delta"]
    assert deltas, names  # extractive answers stream too, sentence by sentence
    answer = events[-1][1]["answer"]
    assert "".join(deltas) == answer.answer
    assert answer.generator == "extractive"
    assert PASSPORT_EN in {c.doc_id for c in answer.citations}


def test_llm_backend_wraps_the_generator_with_the_extractive_fallback(
    home: Path, embedder: Any, sparse_encoder: Any
) -> None:
    dead = f"http://127.0.0.1:{free_port()}/v1"
    settings = build_settings(home, generator={"backend": "vllm", "base_url": dead, "max_retries": 0})
    comps = open_components(settings, create=False)
    stack = open_query_stack(settings, comps)
    assert isinstance(stack.answerer, LLMAnswerer)
    assert stack.answerer.name == "vllm"
    events = _events(stack, Question(text=PASSPORT_Q))
    assert [e for e, _ in events][:2] == ["sources", "warning"]
    answer = events[-1][1]["answer"]
    assert answer.generator == "extractive"
    assert answer.warnings == ["generator unavailable, extractive answer instead (unreachable)"]
    # the caller's components stay open: closing the stack did not close them
    assert comps.index is not None
    assert comps.index.count_documents() > 0
    comps.close()
