"""A scripted OpenAI-compatible server for deterministic generator tests.

Tests queue replies (`Reply`, `StreamReply`, `ErrorReply`, `Hang`) and the server answers each
`POST /v1/chat/completions` with the next one, recording every request (body and headers) so tests can
assert on what the client sent. It is a real HTTP server (Starlette under uvicorn, in a thread, on a
free loopback port), so the client's httpx transport, SSE parsing and error handling run for real.
"""

from __future__ import annotations

import asyncio
import collections
import json
import socket
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route


@dataclass
class Reply:
    """A whole chat completion. `content=None` with `reasoning` mimics vLLM's reasoning parser."""

    content: str | None = "ok"
    reasoning: str | None = None
    reasoning_key: str = "reasoning"
    finish_reason: str = "stop"
    usage: dict[str, int] = field(
        default_factory=lambda: {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14}
    )
    model: str = "fake-model"


@dataclass
class StreamReply:
    """An SSE stream: one chunk per content delta (then per reasoning delta), a finish chunk, usage.

    `break_after` closes the connection abruptly after that many content chunks; `error_after` sends
    vLLM's mid-stream error event instead; `stall_after` stops sending (until released) after that many.
    """

    deltas: list[str] = field(default_factory=list)
    reasoning_deltas: list[str] = field(default_factory=list)
    reasoning_key: str = "reasoning"
    finish_reason: str = "stop"
    usage: dict[str, int] | None = field(
        default_factory=lambda: {"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13}
    )
    model: str = "fake-model"
    break_after: int | None = None
    error_after: int | None = None
    stall_after: int | None = None


@dataclass
class ErrorReply:
    """An HTTP error with an OpenAI/vLLM-shaped body (`{"error": {"message", "type", "code"}}`)."""

    status: int
    message: str = "scripted error"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Hang:
    """Accept the request and answer nothing until the test ends (or `seconds` pass)."""

    seconds: float = 60.0


@dataclass
class RecordedRequest:
    """What the client sent."""

    path: str
    body: dict[str, Any]
    headers: dict[str, str]


ScriptedReply = Reply | StreamReply | ErrorReply | Hang


class _BrokenStream(Exception):
    """Raised inside the streaming body so uvicorn drops the connection mid-response."""


class FakeOpenAIServer:
    """Run with `with FakeOpenAIServer() as server:`; `server.base_url` ends with `/v1`."""

    def __init__(self, models: tuple[str, ...] = ("fake-model",)) -> None:
        self.models = list(models)
        self.requests: list[RecordedRequest] = []
        self._queue: collections.deque[ScriptedReply] = collections.deque()
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self.app = Starlette(
            routes=[
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
                Route("/v1/models", self._models, methods=["GET"]),
                Route("/health", self._health, methods=["GET"]),
            ]
        )

    # ---- scripting ---------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """OpenAI-style base URL of this server."""
        return f"http://127.0.0.1:{self.port}/v1"

    def script(self, *replies: ScriptedReply) -> None:
        """Queue replies, answered in order; with none left the server answers HTTP 418."""
        with self._lock:
            self._queue.extend(replies)

    def reset(self) -> None:
        """Forget queued replies and recorded requests; release hanging handlers."""
        with self._lock:
            self._queue.clear()
            self.requests.clear()
        self._release.set()
        self._release = threading.Event()

    @property
    def pending(self) -> int:
        """Replies not consumed yet."""
        with self._lock:
            return len(self._queue)

    # ---- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> FakeOpenAIServer:
        """Bind a free loopback port and serve in a daemon thread."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            log_config=None,  # leave the process's logging as the other tests expect it
            log_level=None,
            lifespan="off",
            timeout_graceful_shutdown=1,
            access_log=False,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("fake OpenAI server did not start within 20 s")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Release hangs and shut the server down."""
        self._release.set()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- handlers ----------------------------------------------------------------------------------

    async def _health(self, request: Request) -> Response:
        return Response(status_code=200)

    async def _models(self, request: Request) -> Response:
        data = [{"id": m, "object": "model", "owned_by": "fake"} for m in self.models]
        return JSONResponse({"object": "list", "data": data})

    async def _chat(self, request: Request) -> Response:
        body = await request.json()
        with self._lock:
            self.requests.append(RecordedRequest(request.url.path, body, dict(request.headers)))
            reply = self._queue.popleft() if self._queue else None
        release = self._release
        if reply is None:
            return _error(418, "fake server: no scripted reply left for this request")
        if isinstance(reply, Hang):
            await _wait(release, reply.seconds)
            return _error(504, "fake server: hang released")
        if isinstance(reply, ErrorReply):
            return _error(reply.status, reply.message, reply.headers)
        if isinstance(reply, StreamReply):
            return StreamingResponse(_sse(reply, release), media_type="text/event-stream")
        message: dict[str, Any] = {"role": "assistant", "content": reply.content}
        if reply.reasoning is not None:
            message[reply.reasoning_key] = reply.reasoning
        return JSONResponse(
            {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": 0,
                "model": reply.model,
                "choices": [{"index": 0, "message": message, "finish_reason": reply.finish_reason}],
                "usage": {**reply.usage, "prompt_tokens_details": None},
            }
        )


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    body = {"error": {"message": message, "type": "FakeError", "param": None, "code": status}}
    return JSONResponse(body, status_code=status, headers=headers)


async def _wait(release: threading.Event, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not release.is_set() and time.monotonic() < deadline:
        await asyncio.sleep(0.02)


def _chunk(reply: StreamReply, delta: dict[str, Any], finish: str | None = None) -> str:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    payload = {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "model": reply.model,
        "choices": [choice],
    }
    return f"data: {json.dumps(payload)}\n\n"


async def _sse(reply: StreamReply, release: threading.Event) -> AsyncIterator[str]:
    yield _chunk(reply, {"role": "assistant", "content": ""})
    for reasoning in reply.reasoning_deltas:
        yield _chunk(reply, {reply.reasoning_key: reasoning})
    for index, delta in enumerate(reply.deltas):
        if index == reply.break_after:
            raise _BrokenStream("fake server: dropping the connection mid-stream")
        if index == reply.error_after:
            error = {"error": {"message": "fake engine died", "type": "InternalServerError", "code": 500}}
            yield f"data: {json.dumps(error)}\n\n"
            return
        if index == reply.stall_after:
            await _wait(release, 60.0)
            return
        yield _chunk(reply, {"content": delta})
    yield _chunk(reply, {}, finish=reply.finish_reason)
    if reply.usage is not None:
        usage = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "model": reply.model}
        yield f"data: {json.dumps({**usage, 'choices': [], 'usage': reply.usage})}\n\n"
    yield "data: [DONE]\n\n"
