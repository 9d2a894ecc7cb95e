"""Benchmark: answers with a real language model over HTTP, and what govrag adds on top of the model.

Contender: `govrag serve` (a real uvicorn on loopback) on the query bench's 100k-chunk embedded index
(`benchmarks/query_bench.py` builds it; `--workdir` reuses it), generator `vllm` pointed at a local
instruct model on vLLM's CPU server (Qwen2.5-Coder-1.5B-Instruct from `deploy/vllm-cpu/local_qwen.sh
1.5b`; `--model-dir` for another). Each dev question is asked with `stream: true`, one at a time; the
client times the first `delta` event (time to first token, TTFT) and the `done` event.

The model's own time is measured by a timing proxy between govrag and vLLM (loopback, streaming through):
for every upstream call it records when the request arrived, the first content chunk and the end.
govrag's overhead = the client's end-to-end time minus the model calls' time; it holds retrieval
(question embedding, hybrid search over 100k chunks), prompt packing, citation verification, SSE and both
HTTP hops (the proxy's own hop included, so the figure is an upper bound). Tokens/s: content chunks of
the upstream stream (vLLM sends one per token) over the time from the first to the last chunk.

Baseline, side by side in the same run: the exact request govrag sent (captured by the proxy) replayed
straight to vLLM, streaming. Both sides run cold: the proxy gives each of govrag's calls, and the replay
its own, a fresh `cache_salt`, so vLLM's prefix cache serves neither (a replay of the prompt govrag just
sent would skip the prefill, and questions repeated from an earlier run would too); the ratio
compares TTFT through govrag with the model's own TTFT for the same prompt. govrag's TTFT is the first
token *shown*: the language check holds the first 40 visible characters (`answer.language_control`),
which on this CPU is several seconds of decoding; the report also gives govrag's time to the model's
first token.

Run (needs `bash deploy/vllm-cpu/setup.sh` and `bash deploy/vllm-cpu/local_qwen.sh 1.5b`):
    python benchmarks/answer_bench.py --workdir /tmp/qb100k [--requests 20] [--llm-url URL --served NAME]
Last line: RESULT overhead_p50_ms=<ms> ttft_p50_ms=<ms> tokens_per_s=<n> ttft_ratio=<govrag/model>
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
for _k, _v in (("OMP_WAIT_POLICY", "PASSIVE"), ("HF_HUB_OFFLINE", "1"), ("TOKENIZERS_PARALLELISM", "false")):
    os.environ.setdefault(_k, _v)

import query_bench as qb  # noqa: E402  (shares the 100k index and the dev questions)

VENV = Path(os.environ.get("GOVRAG_VLLM_VENV", Path.home() / ".cache/govrag/vllm-venv"))
MODEL_DIR = Path.home() / ".cache/govrag/qwen2.5-coder-1.5b"


# ---------------------------------------------------------------------------------------------- proxy


def _has_content(line: str) -> bool:
    """Whether an OpenAI streaming line carries answer text (vLLM: one token per chunk)."""
    if not line.startswith("data: {"):
        return False
    try:
        choices = json.loads(line[6:]).get("choices") or [{}]
    except json.JSONDecodeError:
        return False
    return bool((choices[0].get("delta") or {}).get("content"))


@dataclass
class Call:
    """One upstream model call as the proxy saw it (perf_counter seconds)."""

    start: float
    body: bytes
    first: float | None = None
    last: float | None = None
    end: float = 0.0
    chunks: int = 0
    status: int = 0


@dataclass
class Proxy:
    """A streaming pass-through to the model server that times every call."""

    upstream: str
    calls: list[Call] = field(default_factory=list)

    def app(self) -> Any:
        import httpx
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import StreamingResponse
        from starlette.routing import Route

        client = httpx.AsyncClient(base_url=self.upstream, timeout=600)

        async def forward(request: Request) -> StreamingResponse:
            body = await request.body()
            call = Call(time.perf_counter(), body)
            if request.method == "POST" and body.startswith(b"{"):
                # Cold like the replay: no prefix-cache hits from earlier runs or questions (see module doc).
                payload = json.loads(body)
                payload["cache_salt"] = uuid.uuid4().hex
                body = json.dumps(payload).encode()
            self.calls.append(call)
            headers = {
                k: v for k, v in request.headers.items() if k.lower() in ("content-type", "authorization")
            }
            upstream = await client.send(
                client.build_request(request.method, request.url.path, content=body, headers=headers),
                stream=True,
            )
            call.status = upstream.status_code

            async def relay() -> Any:
                try:
                    async for line in upstream.aiter_lines():
                        if _has_content(line):
                            call.first = call.first or time.perf_counter()
                            call.last = time.perf_counter()
                            call.chunks += 1
                        yield (line + "\n").encode()
                finally:
                    await upstream.aclose()
                    call.end = time.perf_counter()

            return StreamingResponse(
                relay(), status_code=upstream.status_code, media_type=upstream.headers.get("content-type")
            )

        return Starlette(routes=[Route("/{path:path}", forward, methods=["GET", "POST"])])


def _start_proxy(proxy: Proxy, port: int) -> Any:
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(proxy.app(), host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return server


# ---------------------------------------------------------------------------------------------- servers


def _wait(url: str, proc: subprocess.Popen[Any], what: str, timeout: float = 900) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with code {proc.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(1)
    raise SystemExit(f"{what} not ready after {timeout:.0f} s")


def _start_vllm(model_dir: Path, served: str, port: int, log: Path) -> subprocess.Popen[Any]:
    if not (model_dir / ".govrag-model-ready").exists():
        raise SystemExit(f"no model at {model_dir}: run `bash deploy/vllm-cpu/local_qwen.sh 1.5b`")
    env = {
        **os.environ,
        "VLLM_CPU_KVCACHE_SPACE": "2",
        "VLLM_NO_USAGE_STATS": "1",
        "VLLM_HOST_IP": "127.0.0.1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    cmd = [
        str(VENV / "bin" / "python"), "-m", "vllm.entrypoints.openai.api_server", "--model", str(model_dir),
        "--served-model-name", served, "--host", "127.0.0.1", "--port", str(port),
        "--max-model-len", "4096", "--dtype", "bfloat16", "--enforce-eager", "--seed", "0",
    ]  # fmt: skip
    with log.open("wb") as sink:
        proc = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    print(f"starting vLLM ({model_dir.name}); log {log}", flush=True)
    _wait(f"http://127.0.0.1:{port}/health", proc, "vLLM")
    return proc


def _start_govrag(home: Path, port: int, llm_url: str, served: str, max_tokens: int) -> subprocess.Popen[Any]:
    env = {
        **os.environ,
        "GOVRAG_API__SECURITY__ANONYMOUS_RATE_PER_MINUTE": "0",
        "GOVRAG_LOG_LEVEL": "WARNING",
        "GOVRAG_GENERATOR__BACKEND": "vllm",
        "GOVRAG_GENERATOR__BASE_URL": llm_url,
        "GOVRAG_GENERATOR__MODEL": served,
        "GOVRAG_ANSWER__MAX_ANSWER_TOKENS": str(max_tokens),
        # the local model serves 4096 tokens (prompt + answer); SEA-LION's default budget is 6000 for sources
        "GOVRAG_ANSWER__PROMPT__CONTEXT_TOKENS": "2000",
        "GOVRAG_GENERATOR__TEMPERATURE": "0",
        "GOVRAG_GENERATOR__SEED": "0",
        "GOVRAG_GENERATOR__FIRST_TOKEN_TIMEOUT_S": "300",
        "GOVRAG_GENERATOR__ANSWER_DEADLINE_S": "600",
        "GOVRAG_GENERATOR__READ_TIMEOUT_S": "600",
    }
    cmd = [sys.executable, "-m", "govrag.cli", "serve", "--home", str(home), "--port", str(port)]
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    _wait(f"http://127.0.0.1:{port}/readyz", proc, "govrag serve")
    return proc


def _stop(proc: subprocess.Popen[Any] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


# ---------------------------------------------------------------------------------------------- measuring


@dataclass
class Sample:
    """One question through govrag."""

    total_ms: float
    ttft_ms: float | None
    model_ms: float
    tokens: int
    token_s: float
    generator: str
    refused: bool
    body: bytes | None
    server: dict[str, float]
    first_model_ms: float | None


def _ask(client: Any, proxy: Proxy, question: str) -> Sample:
    before = len(proxy.calls)
    t0 = time.perf_counter()
    ttft = None
    done: dict[str, Any] = {}
    with client.stream("POST", "/v1/query", json={"question": question, "stream": True}) as r:
        r.raise_for_status()
        event = ""
        for line in r.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                if event == "delta" and ttft is None:
                    ttft = (time.perf_counter() - t0) * 1000
                elif event == "done":
                    done = json.loads(line[6:])
    total = (time.perf_counter() - t0) * 1000
    calls = proxy.calls[before:]
    model_ms = sum((c.end - c.start) * 1000 for c in calls)
    answer = done  # the QueryResponse: answer text, generator, refused, citations
    spans = [(c.chunks, (c.last or 0) - (c.first or 0)) for c in calls if c.first and c.last and c.chunks > 1]
    return Sample(
        total,
        ttft,
        model_ms,
        sum(n for n, _ in spans),
        sum(s for _, s in spans),
        str(answer.get("generator")),
        bool(answer.get("refused")),
        calls[-1].body if calls else None,
        {k: float(v) for k, v in (answer.get("timings") or {}).items()},
        (calls[0].first - t0) * 1000 if calls and calls[0].first else None,
    )


def _direct(client: Any, body: bytes) -> tuple[float, float | None]:
    """Replay govrag's last request straight to the model: (total ms, TTFT ms). A fresh `cache_salt` keeps
    vLLM's prefix cache from serving the prompt govrag's request has just computed (a replay would
    otherwise skip the prefill and look 20x faster)."""
    payload = json.loads(body)
    payload["cache_salt"] = uuid.uuid4().hex
    body = json.dumps(payload).encode()
    t0 = time.perf_counter()
    ttft = None
    with client.stream(
        "POST", "/chat/completions", content=body, headers={"content-type": "application/json"}
    ) as r:
        r.raise_for_status()
        for line in r.iter_lines():
            if ttft is None and _has_content(line):
                ttft = (time.perf_counter() - t0) * 1000
    return (time.perf_counter() - t0) * 1000, ttft


def _p50(values: list[float]) -> float:
    return float(np.median(values)) if values else float("nan")


def main(argv: list[str] | None = None) -> None:
    import httpx

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--workdir", type=Path, required=True, help="the query bench's data dir (built if absent)"
    )
    ap.add_argument("--n", type=int, default=100_000, help="chunks in the index")
    ap.add_argument("--requests", type=int, default=20, help="questions asked (one at a time)")
    ap.add_argument("--max-tokens", type=int, default=160, help="answer length cap")
    ap.add_argument("--model-dir", type=Path, default=MODEL_DIR)
    ap.add_argument("--llm-url", default=None, help="an already running OpenAI-compatible server (…/v1)")
    ap.add_argument("--served", default="qwen-1.5b", help="served model name")
    args = ap.parse_args(argv)

    args.workdir.mkdir(parents=True, exist_ok=True)
    stats = qb.build(args.workdir, args.n)
    questions = qb._questions(args.requests, seed=11)
    if not questions:
        raise SystemExit(f"no dev questions under {qb.EVAL / 'questions'} (set GOVRAG_EVAL_DIR)")
    vllm = gov = None
    try:
        if args.llm_url:
            upstream = args.llm_url.rstrip("/")
        else:
            port = qb._free_port()
            vllm = _start_vllm(args.model_dir, args.served, port, args.workdir / "vllm.log")
            upstream = f"http://127.0.0.1:{port}/v1"
        proxy = Proxy(upstream.removesuffix("/v1"))
        proxy_port = qb._free_port()
        proxy_server = _start_proxy(proxy, proxy_port)
        api_port = qb._free_port()
        gov = _start_govrag(
            args.workdir / "home", api_port, f"http://127.0.0.1:{proxy_port}/v1", args.served, args.max_tokens
        )
        base = f"http://127.0.0.1:{api_port}"
        samples: list[Sample] = []
        direct: list[tuple[float, float | None]] = []
        with (
            httpx.Client(base_url=base, timeout=900) as api,
            httpx.Client(base_url=upstream, timeout=900) as llm,
        ):
            _ask(api, proxy, "How do I renew a passport?")  # warm-up (not measured): graphs, embedder, pages
            for i, (question, lang, _) in enumerate(questions, 1):
                s = _ask(api, proxy, question)
                samples.append(s)
                if s.body is not None:
                    direct.append(_direct(llm, s.body))
                print(
                    f"[{i}/{len(questions)}] {lang} total {s.total_ms:.0f} ms, model {s.model_ms:.0f} ms, "
                    f"model's 1st token {s.first_model_ms or float('nan'):.0f} ms, "
                    f"overhead {s.total_ms - s.model_ms:.0f} ms, ttft {s.ttft_ms or float('nan'):.0f} ms, "
                    f"{s.generator}{' refused' if s.refused else ''}",
                    flush=True,
                )
        proxy_server.should_exit = True
    finally:
        _stop(gov)
        _stop(vllm)

    llm_samples = [s for s in samples if s.model_ms > 0]
    overhead = [s.total_ms - s.model_ms for s in llm_samples]
    ttft = [s.ttft_ms for s in llm_samples if s.ttft_ms is not None]
    tokens_per_s = sum(s.tokens for s in llm_samples) / max(1e-9, sum(s.token_s for s in llm_samples))
    direct_ttft = [t for _, t in direct if t is not None]
    ratio = _p50(ttft) / _p50(direct_ttft) if direct_ttft else float("nan")
    print()
    print(f"index: {stats['n']:,} chunks; questions: {len(samples)} ({len(llm_samples)} reached the model)")
    print(
        f"generators: { {g: sum(s.generator == g for s in samples) for g in {s.generator for s in samples}} }"
    )
    print(f"refused: {sum(s.refused for s in samples)}")
    print("                       p50 ms     p95 ms")
    for name, values in (
        ("govrag end-to-end", [s.total_ms for s in llm_samples]),
        ("govrag TTFT (shown)", ttft),
        ("govrag, model's 1st", [s.first_model_ms for s in llm_samples if s.first_model_ms is not None]),
        ("model time (proxy)", [s.model_ms for s in llm_samples]),
        ("govrag overhead", overhead),
        ("model alone, total", [t for t, _ in direct]),
        ("model alone, TTFT", direct_ttft),
    ):
        p95 = float(np.percentile(values, 95)) if values else float("nan")
        print(f"{name:<22} {_p50(values):>8.1f} {p95:>10.1f}")
    print(f"tokens/s (streamed content chunks): {tokens_per_s:.1f}")
    print("where govrag's overhead goes (p50 ms; server timings, model time from the proxy):")
    parts = {
        "retrieval (detect, embed, search)": [
            sum(v for k, v in s.server.items() if k.startswith("retrieve_")) for s in llm_samples
        ],
        "answer path minus model (prompt, checks, verification)": [
            s.server.get("generate_ms", 0.0) - s.model_ms for s in llm_samples
        ],
        "outside the service (HTTP, SSE, audit, proxy hop)": [
            s.total_ms - s.server.get("total_ms", s.total_ms) for s in llm_samples
        ],
    }
    for name, values in parts.items():
        print(f"  {name:<55} {_p50(values):>8.1f}")
    print(
        f"RESULT overhead_p50_ms={_p50(overhead):.1f} ttft_p50_ms={_p50(ttft):.1f} "
        f"tokens_per_s={tokens_per_s:.1f} ttft_ratio={ratio:.3f}"
    )


if __name__ == "__main__":
    main()
