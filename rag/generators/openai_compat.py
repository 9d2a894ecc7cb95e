"""Client for OpenAI-compatible `/v1/chat/completions` servers; the default is SEA-LION v4 on vLLM.

Built on `httpx.AsyncClient` (no SDK) so the retry, breaker and streaming rules are ours and visible:
- retries with exponential backoff and jitter on 408/429/5xx and connection errors, never on other
  4xx (the same request would fail again) nor on read timeouts (the server is busy generating);
- a circuit breaker (`rag.generators.breaker`) so a dead server fails fast;
- a time-to-first-token timeout and a per-answer deadline, so a server that accepts connections and never
  answers costs one caller `first_token_timeout_s` (not `read_timeout_s` per read) and opens the breaker;
- Qwen3 thinking: `chat_template_kwargs.enable_thinking` is sent (vLLM flavour), `<think>` blocks are
  removed from answers and streams, and null `content` with text in `reasoning`/`reasoning_content`
  (vLLM with a reasoning parser) gives an empty answer unless `reasoning_fallback` is set.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from typing import Any

import httpx

from rag.generators.base import (
    ChatMessage,
    GenerationResult,
    GeneratorRequestError,
    GeneratorUnavailable,
)
from rag.generators.breaker import CircuitBreaker
from rag.generators.settings import GeneratorSettings
from rag.generators.thinking import ThinkFilter, strip_think
from rag.generators.wire import (
    reasoning_text,
    request_error_hint,
    retry_after_seconds,
    server_message,
    usage_counts,
)

logger = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
_CONNECTION_ERRORS = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.RemoteProtocolError,
    httpx.ReadError,
    httpx.WriteError,
)
Sleep = Callable[[float], Awaitable[None]]


class OpenAICompatGenerator:
    """`Generator` over an OpenAI-compatible chat completions server (vLLM, or any OpenAI-like API).

    `vllm_extensions` adds vLLM-only request fields (top_k, min_p, repetition_penalty,
    chat_template_kwargs) that the real OpenAI API would reject. `transport`, `sleep`, `rng` and
    `clock` exist for tests (scripted servers, no real waiting).
    """

    def __init__(
        self,
        settings: GeneratorSettings,
        *,
        name: str = "vllm",
        vllm_extensions: bool = True,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.settings = settings
        self.vllm_extensions = vllm_extensions
        self.breaker = CircuitBreaker(
            settings.breaker_failure_threshold, settings.breaker_reset_s, name=name, clock=clock
        )
        self._sleep = sleep
        self._rng = rng or random.Random()
        headers = {"Accept": "application/json"}
        if settings.api_key is not None:
            headers["Authorization"] = f"Bearer {settings.api_key.get_secret_value()}"
        timeout = httpx.Timeout(
            settings.read_timeout_s,
            connect=settings.connect_timeout_s,
            pool=settings.connect_timeout_s,
        )
        self._client = httpx.AsyncClient(
            base_url=settings.base_url + "/", headers=headers, timeout=timeout, transport=transport
        )
        self._url = settings.base_url + "/chat/completions"

    # ---- public API -------------------------------------------------------------------------------

    @property
    def answer_deadline_s(self) -> float:
        """`generator.answer_deadline_s`: the budget of one answer's calls."""
        return self.settings.answer_deadline_s

    async def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int | None = None,
        stop: Sequence[str] | None = None,
        deadline: float | None = None,
    ) -> GenerationResult:
        """One whole answer; raises `GeneratorRequestError` (4xx) or `GeneratorUnavailable`.

        A non-streamed reply's first token comes with its last: the whole reply must arrive within
        `first_token_timeout_s` (and before `deadline`, a `time.monotonic()` instant).
        """
        body = self.request_body(messages, max_tokens=max_tokens, stop=stop, stream=False)
        limit = self.time_left(deadline, first_token=True)
        try:
            async with asyncio.timeout(limit):
                response = await self._post(body, stream=False)
        except TimeoutError as exc:
            self.record_failure("timeout")
            raise self.timeout_error(limit, "sent no complete reply") from exc
        try:
            data = response.json()
            choice = data["choices"][0]
            message = choice.get("message") or {}
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise GeneratorUnavailable(
                f"{self._url} answered HTTP 200 with an unreadable body ({exc!r}): "
                f"{response.text[:200]!r}; is base_url an OpenAI-compatible server?",
                kind="bad_response",
            ) from exc
        finish_reason = choice.get("finish_reason")
        text = self._answer_text(message.get("content"), reasoning_text(message), finish_reason)
        return GenerationResult(
            text=text,
            finish_reason=finish_reason,
            usage=usage_counts(data.get("usage")),
            model=str(data.get("model") or self.settings.model),
        )

    def stream(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int | None = None,
        stop: Sequence[str] | None = None,
        deadline: float | None = None,
    ) -> GenerationStream:
        """Visible text deltas; `finish_reason`/`usage`/`model` are set on the stream once it ends.

        The first delta must come within `first_token_timeout_s`, the last before `deadline` (a
        `time.monotonic()` instant; default `answer_deadline_s` from now).
        """
        body = self.request_body(messages, max_tokens=max_tokens, stop=stop, stream=True)
        if deadline is None:
            deadline = time.monotonic() + self.settings.answer_deadline_s
        return GenerationStream(self, body, deadline)

    def time_left(self, deadline: float | None, *, first_token: bool) -> float:
        """Seconds a call may still take: to `deadline`, and at most `first_token_timeout_s` when the
        first token is still to come."""
        now = time.monotonic()
        limit = (deadline - now) if deadline is not None else self.settings.answer_deadline_s
        if first_token:
            limit = min(limit, self.settings.first_token_timeout_s)
        return max(0.0, limit)

    def timeout_error(self, limit: float, what: str) -> GeneratorUnavailable:
        """The error for a call that ran out of time (kind `timeout`)."""
        s = self.settings
        return GeneratorUnavailable(
            f"{self._url} {what} within {limit:.1f} s (first_token_timeout_s="
            f"{s.first_token_timeout_s}, answer_deadline_s={s.answer_deadline_s}); the server hangs or is "
            "overloaded",
            kind="timeout",
        )

    def record_failure(self, kind: str) -> None:
        """Count a failed call on the breaker; a timeout opens it at once (`breaker_open_on_timeout`)."""
        self.breaker.record_failure(open_now=kind == "timeout" and self.settings.breaker_open_on_timeout)

    async def health(self) -> bool:
        """GET /v1/models with the connect timeout: True when it answers and lists the model."""
        try:
            response = await self._client.get("models", timeout=self.settings.connect_timeout_s)
        except httpx.HTTPError as exc:
            logger.warning("%s health check failed: %s", self.name, exc)
            return False
        if response.status_code != 200:
            logger.warning("%s health check: HTTP %s from /models", self.name, response.status_code)
            return False
        try:
            ids = {str(m.get("id")) for m in response.json().get("data", [])}
        except (ValueError, AttributeError):
            return False
        if self.settings.model not in ids:
            logger.warning(
                "%s serves %s, not the configured model %s", self.name, sorted(ids), self.settings.model
            )
            return False
        return True

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()

    def request_body(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int | None = None,
        stop: Sequence[str] | None = None,
        stream: bool = False,
    ) -> dict[str, Any]:
        """The JSON body sent to /chat/completions (public so callers and tests can inspect it)."""
        s = self.settings
        body: dict[str, Any] = {
            "model": s.model,
            "messages": list(messages),
            "temperature": s.temperature,
            "top_p": s.top_p,
            "max_tokens": max_tokens if max_tokens is not None else s.max_tokens,
            "stream": stream,
        }
        if stream:
            body["stream_options"] = {"include_usage": True}
        if stop:
            body["stop"] = list(stop)
        if s.presence_penalty is not None:
            body["presence_penalty"] = s.presence_penalty
        if s.seed is not None:
            body["seed"] = s.seed
        if self.vllm_extensions:
            if s.top_k is not None:
                body["top_k"] = s.top_k
            if s.min_p is not None:
                body["min_p"] = s.min_p
            if s.repetition_penalty is not None:
                body["repetition_penalty"] = s.repetition_penalty
            body["chat_template_kwargs"] = {"enable_thinking": s.enable_thinking}
        body.update(s.extra_body)
        return body

    # ---- internals ---------------------------------------------------------------------------------

    def _answer_text(self, content: Any, reasoning: str | None, finish_reason: str | None) -> str:
        if isinstance(content, str) and content:
            return strip_think(content)
        if reasoning and self.settings.reasoning_fallback:
            logger.info("%s returned no content; answering with its reasoning text", self.name)
            return strip_think(reasoning)
        if reasoning:
            logger.warning(
                "%s returned null content and %d characters of reasoning (finish_reason=%s); answer is "
                "empty. Start vLLM without --reasoning-parser, keep enable_thinking false, or set "
                "generator.reasoning_fallback",
                self.name,
                len(reasoning),
                finish_reason,
            )
        return ""

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        """Equal-jitter exponential backoff: half fixed, half random, so clients spread out."""
        s = self.settings
        base = min(s.backoff_max_s, s.backoff_initial_s * (2**attempt))
        delay: float = base / 2 + self._rng.uniform(0, base / 2)
        if retry_after is not None:
            delay = max(delay, retry_after)
        return float(min(delay, s.backoff_max_s))

    async def _post(self, body: dict[str, Any], *, stream: bool) -> httpx.Response:
        """POST through the breaker with retries; returns a 2xx response (body unread when `stream`)."""
        trial = self.breaker.before_call()
        attempts = 1 if trial else self.settings.max_retries + 1
        try:
            response = await self._post_with_retries(body, stream=stream, attempts=attempts)
        except GeneratorUnavailable as exc:
            self.record_failure(exc.kind)
            raise
        except GeneratorRequestError:
            self.breaker.record_success()  # the server is up; the request was wrong
            raise
        except BaseException:
            self.breaker.release_trial()
            raise
        self.breaker.record_success()
        return response

    async def _post_with_retries(
        self, body: dict[str, Any], *, stream: bool, attempts: int
    ) -> httpx.Response:
        last = "no attempt made"
        kind = "unreachable"
        for attempt in range(attempts):
            retry_after: float | None = None
            request = self._client.build_request("POST", "chat/completions", json=body)
            try:
                response = await self._client.send(request, stream=stream)
            except (httpx.ReadTimeout, httpx.WriteTimeout) as exc:
                raise GeneratorUnavailable(
                    f"{self._url} did not answer within read_timeout_s={self.settings.read_timeout_s} s "
                    f"({type(exc).__name__}); the server is overloaded or the answer too long "
                    "(raise generator.read_timeout_s or lower max_tokens)",
                    kind="timeout",
                ) from exc
            except _CONNECTION_ERRORS as exc:
                last = f"{type(exc).__name__}: {exc}"
                kind = "unreachable"
            else:
                if response.status_code < 400:
                    return response
                if stream:
                    await response.aread()
                    await response.aclose()
                message = server_message(response)
                status = response.status_code
                if status not in RETRYABLE_STATUS and status < 500:
                    raise GeneratorRequestError(
                        f"{self._url} refused the request (HTTP {status}): {message} "
                        f"-- {request_error_hint(status, message)}",
                        status_code=status,
                        server_message=message,
                    )
                last = f"HTTP {status}: {message}"
                kind = f"http_{status}"
                retry_after = retry_after_seconds(response)
            if attempt + 1 < attempts:
                delay = self._backoff(attempt, retry_after)
                logger.warning(
                    "%s attempt %d/%d failed (%s); retrying in %.2f s",
                    self.name,
                    attempt + 1,
                    attempts,
                    last,
                    delay,
                )
                await self._sleep(delay)
        raise GeneratorUnavailable(
            f"{self._url} failed after {attempts} attempt(s): {last}. Check that the LLM server is running "
            "(generator.base_url) and not overloaded.",
            kind=kind,
        )


class GenerationStream:
    """Async iterator of visible text deltas from a streamed completion (think blocks filtered).

    After exhaustion, `finish_reason`, `usage` and `model` describe the generation. Errors before the
    first byte are retried like `complete`; errors mid-stream raise `GeneratorUnavailable` (the text
    already shown cannot be retried silently).
    """

    def __init__(self, generator: OpenAICompatGenerator, body: dict[str, Any], deadline: float) -> None:
        self.finish_reason: str | None = None
        self.usage: dict[str, int] = {}
        self.model: str = ""
        self._generator = generator
        self._body = body
        self._deadline = deadline
        self._first = True
        self._first_by = time.monotonic() + generator.settings.first_token_timeout_s
        self._deltas = self._run()

    def __aiter__(self) -> GenerationStream:
        """The stream is its own iterator (single use)."""
        return self

    async def __anext__(self) -> str:
        """Next visible delta, within the first-token timeout and the deadline (else `timeout`)."""
        gen = self._generator
        now = time.monotonic()
        limit = max(0.0, (min(self._deadline, self._first_by) if self._first else self._deadline) - now)
        try:
            # asyncio's timeout cancels once, so the generator's `finally` still closes the response
            async with asyncio.timeout(limit):
                delta = await self._deltas.__anext__()
        except TimeoutError as exc:
            gen.record_failure("timeout")
            raise gen.timeout_error(
                limit, "sent no first token" if self._first else "did not finish the answer"
            ) from exc
        self._first = False
        return delta

    async def aclose(self) -> None:
        """Stop early and close the HTTP response."""
        await self._deltas.aclose()

    async def _run(self) -> AsyncGenerator[str, None]:
        gen = self._generator
        response = await gen._post(self._body, stream=True)
        think = ThinkFilter()
        reasoning: list[str] = []
        got_content = False
        try:
            async for line in response.aiter_lines():
                if not line.startswith("data:"):
                    continue
                payload = line[5:].strip()
                if payload == "[DONE]":
                    break
                for kind, text in self._parse_chunk(payload):
                    if kind == "reasoning":
                        reasoning.append(text)
                        continue
                    got_content = True
                    visible = think.feed(text)
                    if visible:
                        yield visible
            tail = think.flush()
            if tail:
                yield tail
            if not got_content:
                text = gen._answer_text(None, "".join(reasoning) or None, self.finish_reason)
                if text:
                    yield text
        except GeneratorUnavailable as exc:
            gen.record_failure(exc.kind)
            raise
        except httpx.TimeoutException as exc:
            gen.record_failure("timeout")
            raise GeneratorUnavailable(
                f"{gen._url} stopped streaming for more than read_timeout_s={gen.settings.read_timeout_s} s",
                kind="timeout",
            ) from exc
        except httpx.TransportError as exc:
            gen.record_failure("stream_broken")
            raise GeneratorUnavailable(
                f"{gen._url} broke the stream: {type(exc).__name__}: {exc}", kind="stream_broken"
            ) from exc
        finally:
            await response.aclose()

    def _parse_chunk(self, payload: str) -> list[tuple[str, str]]:
        try:
            chunk = json.loads(payload)
        except ValueError as exc:
            raise GeneratorUnavailable(
                f"unreadable stream chunk {payload[:200]!r}", kind="bad_response"
            ) from exc
        if not isinstance(chunk, dict):
            raise GeneratorUnavailable(f"unexpected stream chunk {payload[:200]!r}", kind="bad_response")
        if chunk.get("error"):
            error = chunk["error"]
            message = error.get("message") if isinstance(error, dict) else str(error)
            raise GeneratorUnavailable(
                f"the server reported an error mid-stream: {message}", kind="server_error"
            )
        if chunk.get("model"):
            self.model = str(chunk["model"])
        if chunk.get("usage"):
            self.usage = usage_counts(chunk["usage"])
        parts: list[tuple[str, str]] = []
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            reasoning = reasoning_text(delta)
            if reasoning:
                parts.append(("reasoning", reasoning))
            content = delta.get("content")
            if isinstance(content, str) and content:
                parts.append(("content", content))
            if choice.get("finish_reason"):
                self.finish_reason = str(choice["finish_reason"])
        return parts
