"""The generator client against a real vLLM CPU server serving a tiny random-weight Qwen3.

The environment comes from `deploy/vllm-cpu/setup.sh` (venv + model). Without it these tests are
skipped with the reason, unless `GOVRAG_REQUIRE_VLLM=1` (CI), where a missing environment fails.
The weights are random, so answers are gibberish: tests assert on structure (finish reasons, token
counts, the rendered prompt, errors), never on wording. The server runs with the qwen3 reasoning
parser, as a SEA-LION deployment would, which exercises vLLM's null-content path.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import time
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from rag.generators import GeneratorRequestError, GeneratorSettings, OpenAICompatGenerator

pytestmark = pytest.mark.vllm

T = TypeVar("T")
SERVED_NAME = "tiny-qwen3"
MAX_MODEL_LEN = 1024
STARTUP_TIMEOUT_S = 300.0
VENV = Path(os.environ.get("GOVRAG_VLLM_VENV", Path.home() / ".cache/govrag/vllm-venv"))
MODEL_DIR = Path(os.environ.get("GOVRAG_VLLM_MODEL_DIR", Path.home() / ".cache/govrag/tiny-qwen3"))
QUESTION = [
    {"role": "system", "content": "Answer only from the passages and cite them as [n]."},
    {"role": "user", "content": "Bagaimanakah cara memperbaharui pasport Malaysia?"},
]
EMPTY_THINK = "<|im_start|>assistant\n<think>\n\n</think>\n\n"


def run(coro: Awaitable[T]) -> T:
    """Run one coroutine on a fresh event loop."""

    async def _main() -> T:
        return await coro

    return asyncio.run(_main())


@dataclass
class VllmServer:
    """A running server: its OpenAI base URL, root URL and log file."""

    base_url: str
    root_url: str
    log: Path

    def log_tail(self, lines: int = 80) -> str:
        """Last lines of the server log, for failure messages."""
        text = self.log.read_text(errors="replace") if self.log.exists() else "(no log)"
        return "\n".join(text.splitlines()[-lines:])


def _missing_environment() -> str | None:
    python = VENV / "bin" / "python"
    if not python.exists() or not (VENV / ".govrag-vllm-ready").exists():
        return f"no vLLM CPU venv at {VENV}: run `bash deploy/vllm-cpu/setup.sh` (GOVRAG_VLLM_VENV)"
    if not (MODEL_DIR / "config.json").exists() or not (MODEL_DIR / "tokenizer.json").exists():
        return (
            f"no tiny Qwen3 model at {MODEL_DIR}: run `bash deploy/vllm-cpu/setup.sh` (GOVRAG_VLLM_MODEL_DIR)"
        )
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group (API server, engine core, worker), SIGKILL if it lingers."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    except ProcessLookupError:
        pass


@pytest.fixture(scope="session")
def vllm_server(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[VllmServer]:
    reason = _missing_environment()
    if reason is not None:
        if os.environ.get("GOVRAG_REQUIRE_VLLM") == "1":
            pytest.fail(f"GOVRAG_REQUIRE_VLLM=1 but {reason}")
        pytest.skip(reason)
    port = _free_port()
    log = tmp_path_factory.mktemp("vllm") / "server.log"
    env = {
        **os.environ,
        "OMP_WAIT_POLICY": "PASSIVE",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "DO_NOT_TRACK": "1",
        "VLLM_NO_USAGE_STATS": "1",
        "VLLM_CPU_KVCACHE_SPACE": "1",  # GiB; the default takes a large share of RAM
        "VLLM_HOST_IP": "127.0.0.1",  # keep vLLM's internal message queues on loopback
    }
    cmd = [
        str(VENV / "bin" / "python"),
        "-m",
        "vllm.entrypoints.openai.api_server",  # the `vllm` console script fails under the vllm-cpu name
        "--model", str(MODEL_DIR),
        "--served-model-name", SERVED_NAME,
        "--host", "127.0.0.1",
        "--port", str(port),
        "--max-model-len", str(MAX_MODEL_LEN),
        "--dtype", "bfloat16",
        "--enforce-eager",  # skips torch.compile warm-up: start-up ~55 s instead of ~110 s
        "--reasoning-parser", "qwen3",
        "--seed", "0",
    ]  # fmt: skip
    with log.open("wb") as sink:
        proc = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    server = VllmServer(f"http://127.0.0.1:{port}/v1", f"http://127.0.0.1:{port}", log)
    failed_before = request.session.testsfailed
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"vLLM exited with code {proc.returncode} during start-up:\n{server.log_tail()}")
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
        if request.session.testsfailed > failed_before:
            reporter = request.config.pluginmanager.get_plugin("terminalreporter")
            if reporter is not None:
                reporter.write_line(
                    f"\n---- vLLM server log ({log}), last lines ----\n{server.log_tail(150)}"
                )


def _generator(server: VllmServer, **overrides: Any) -> OpenAICompatGenerator:
    values: dict[str, Any] = {
        "base_url": server.base_url,
        "model": SERVED_NAME,
        "max_tokens": 8,
        "seed": 1234,
        "max_retries": 0,
        "read_timeout_s": 120.0,
    }
    values.update(overrides)
    return OpenAICompatGenerator(GeneratorSettings(**values))


async def _complete(gen: OpenAICompatGenerator, messages: list[dict[str, Any]] = QUESTION, **kw: Any) -> Any:
    try:
        return await gen.complete(messages, **kw)
    finally:
        await gen.aclose()


async def _stream(gen: OpenAICompatGenerator, **kw: Any) -> tuple[list[str], Any]:
    stream = gen.stream(QUESTION, **kw)
    try:
        return [delta async for delta in stream], stream
    finally:
        await gen.aclose()


def _tokenize(server: VllmServer, **template_kwargs: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"model": SERVED_NAME, "messages": QUESTION, "add_generation_prompt": True}
    if template_kwargs:
        body["chat_template_kwargs"] = template_kwargs
    response = httpx.post(f"{server.root_url}/tokenize", json=body, timeout=30)
    response.raise_for_status()
    data: dict[str, Any] = response.json()
    return data


def test_health_and_served_model(vllm_server: VllmServer) -> None:
    async def check() -> tuple[bool, bool]:
        good, bad = _generator(vllm_server), _generator(vllm_server, model="not-served")
        try:
            return await good.health(), await bad.health()
        finally:
            await good.aclose()
            await bad.aclose()

    assert run(check()) == (True, False)


def test_complete_respects_max_tokens_and_renders_empty_think_block(vllm_server: VllmServer) -> None:
    result = run(_complete(_generator(vllm_server, temperature=0.7, top_p=0.8, top_k=20), max_tokens=6))
    assert result.finish_reason == "length"
    assert result.usage["completion_tokens"] == 6
    assert result.model == SERVED_NAME
    assert result.text.strip()  # thinking disabled: the reasoning parser leaves the text in `content`
    assert "<think>" not in result.text

    # The prompt vLLM rendered for our request is the one with the empty think block: same token count.
    rendered = _tokenize(vllm_server, enable_thinking=False)
    plain = _tokenize(vllm_server)
    assert result.usage["prompt_tokens"] == rendered["count"]
    assert rendered["count"] == plain["count"] + 4  # <think>, "\n\n", </think>, "\n\n"
    detok = httpx.post(
        f"{vllm_server.root_url}/detokenize",
        json={"model": SERVED_NAME, "tokens": rendered["tokens"]},
        timeout=30,
    )
    assert detok.json()["prompt"].endswith(EMPTY_THINK)


def test_sampling_parameters_are_accepted_and_seed_is_repeatable(vllm_server: VllmServer) -> None:
    params = {
        "temperature": 0.7,
        "top_p": 0.8,
        "top_k": 20,
        "min_p": 0.05,
        "presence_penalty": 0.3,
        "repetition_penalty": 1.1,
    }
    first = run(_complete(_generator(vllm_server, seed=7, **params)))
    again = run(_complete(_generator(vllm_server, seed=7, **params)))
    other = run(_complete(_generator(vllm_server, seed=8, **params)))
    assert first.finish_reason == "length"
    assert first.text == again.text
    assert first.text != other.text


def test_stream_matches_complete_and_reports_usage(vllm_server: VllmServer) -> None:
    whole = run(_complete(_generator(vllm_server), max_tokens=7))
    deltas, stream = run(_stream(_generator(vllm_server), max_tokens=7))
    assert len(deltas) >= 2
    assert "".join(deltas).strip() == whole.text
    assert stream.finish_reason == "length"
    assert stream.usage["completion_tokens"] == 7
    assert stream.usage["prompt_tokens"] == whole.usage["prompt_tokens"]
    assert stream.model == SERVED_NAME


def test_stop_sequence_is_sent(vllm_server: VllmServer) -> None:
    # Random weights: stop on the first generated piece of text so the stop must trigger.
    probe = run(_complete(_generator(vllm_server), max_tokens=4))
    first_char = probe.text[0]
    stopped = run(_complete(_generator(vllm_server), max_tokens=4, stop=[first_char]))
    assert stopped.finish_reason == "stop"
    assert stopped.usage["completion_tokens"] <= 4
    assert first_char not in stopped.text[:1]


def test_null_content_from_reasoning_parser(vllm_server: VllmServer) -> None:
    # Thinking on: the model never closes </think>, so vLLM returns content null and the text as
    # reasoning; without the fallback the answer is empty, with it the reasoning text is used.
    strict = run(_complete(_generator(vllm_server, enable_thinking=True)))
    assert (strict.text, strict.finish_reason) == ("", "length")
    assert strict.usage["completion_tokens"] == 8
    loose = run(_complete(_generator(vllm_server, enable_thinking=True, reasoning_fallback=True)))
    assert loose.text.strip()
    deltas, stream = run(_stream(_generator(vllm_server, enable_thinking=True)))
    assert (deltas, stream.finish_reason) == ([], "length")


def test_prompt_longer_than_context_raises_request_error(vllm_server: VllmServer) -> None:
    long_question = [{"role": "user", "content": "pasport " * (MAX_MODEL_LEN + 200)}]
    gen = _generator(vllm_server, max_retries=3)
    with pytest.raises(GeneratorRequestError) as info:
        run(_complete(gen, long_question))
    assert info.value.status_code == 400
    assert f"maximum context length is {MAX_MODEL_LEN}" in info.value.server_message
    assert gen.breaker.consecutive_failures == 0


def test_unknown_model_raises_request_error(vllm_server: VllmServer) -> None:
    with pytest.raises(GeneratorRequestError) as info:
        run(_complete(_generator(vllm_server, model="no-such-model")))
    assert info.value.status_code == 404
    assert "no-such-model" in info.value.server_message


def test_invalid_sampling_value_raises_request_error(vllm_server: VllmServer) -> None:
    with pytest.raises(GeneratorRequestError) as info:
        run(_complete(_generator(vllm_server, extra_body={"top_k": -5})))
    assert info.value.status_code == 400
    assert "top_k" in info.value.server_message


def test_concurrent_requests(vllm_server: VllmServer) -> None:
    async def many() -> list[Any]:
        gen = _generator(vllm_server)
        try:
            return list(await asyncio.gather(*(gen.complete(QUESTION, max_tokens=5) for _ in range(4))))
        finally:
            await gen.aclose()

    results = run(many())
    assert [r.finish_reason for r in results] == ["length"] * 4
    assert {r.usage["completion_tokens"] for r in results} == {5}
