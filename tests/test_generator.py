"""The OpenAI-compatible generator client against a scripted server (real HTTP on loopback).

Covers think stripping (whole and split across stream deltas), null content with reasoning text,
retries with backoff, no retry on 4xx, the circuit breaker, timeouts and the request body fields.
Waiting is injected (`sleep` records delays, `clock` is a fake), so nothing here depends on timing.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import socket
import time
from collections.abc import Awaitable, Iterator
from typing import Any, TypeVar

import pytest
from fake_openai import ErrorReply, FakeOpenAIServer, Hang, Reply, StreamReply
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr, ValidationError

from rag.generators import (
    GENERATORS,
    GeneratorRequestError,
    GeneratorSettings,
    GeneratorUnavailable,
    OpenAICompatGenerator,
    build_generator,
)
from rag.generators.base import Generator
from rag.generators.breaker import BreakerState, CircuitBreaker
from rag.generators.thinking import ThinkFilter, strip_think

T = TypeVar("T")
MESSAGES = [
    {"role": "system", "content": "Answer from the passages; cite them as [n]."},
    {"role": "user", "content": "How do I renew a passport?"},
]


def run(coro: Awaitable[T]) -> T:
    """Run one coroutine on a fresh event loop."""

    async def _main() -> T:
        return await coro

    return asyncio.run(_main())


class FakeClock:
    """Monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Harness:
    """A generator wired to the fake server, with recorded sleeps and a fake clock."""

    def __init__(self, server: FakeOpenAIServer) -> None:
        self.server = server
        self.sleeps: list[float] = []
        self.clock = FakeClock()

    async def _sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    def make(
        self, *, vllm: bool = True, base_url: str | None = None, **overrides: Any
    ) -> OpenAICompatGenerator:
        values: dict[str, Any] = {"base_url": base_url or self.server.base_url, "model": "fake-model"}
        values.update(overrides)
        return OpenAICompatGenerator(
            GeneratorSettings(**values),
            name="vllm" if vllm else "openai",
            vllm_extensions=vllm,
            sleep=self._sleep,
            rng=random.Random(7),
            clock=self.clock,
        )


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as fake:
        yield fake


@pytest.fixture
def h(server: FakeOpenAIServer) -> Iterator[Harness]:
    server.reset()
    yield Harness(server)
    server.reset()


async def _collect(gen: OpenAICompatGenerator, **kwargs: Any) -> tuple[list[str], Any]:
    stream = gen.stream(MESSAGES, **kwargs)
    try:
        deltas = [delta async for delta in stream]
    finally:
        await gen.aclose()
    return deltas, stream


def _complete(gen: OpenAICompatGenerator, **kwargs: Any) -> Any:
    async def go() -> Any:
        try:
            return await gen.complete(MESSAGES, **kwargs)
        finally:
            await gen.aclose()

    return run(go())


# ---- think stripping ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "visible"),
    [
        ("<think>\nThe user wants X.\n</think>\n\nRenew online [1].", "Renew online [1]."),
        ("<think>\n\n</think>\n\nRenew online [1].", "Renew online [1]."),
        ("Plan the answer.</think>\nRenew online [1].", "Renew online [1]."),  # opening tag was prefilled
        ("Renew online [1]. <think>cut by max_tokens", "Renew online [1]."),
        ("A <think>x</think> B <think>y</think>C", "A B C"),
        ("Use a < b and <th at the end", "Use a < b and <th at the end"),
        ("<think>only thinking</think>", ""),
    ],
)
def test_strip_think(raw: str, visible: str) -> None:
    assert strip_think(raw) == visible


def test_think_filter_tag_split_one_character_per_delta() -> None:
    text = "<think>\nsecret plan\n</think>\n\nGo to the office [2]. Bring <b>form</b>."
    think = ThinkFilter()
    out = "".join(think.feed(ch) for ch in text) + think.flush()
    assert out == "Go to the office [2]. Bring <b>form</b>."
    assert "secret" not in out


def test_think_filter_never_leaks_partial_tags_before_they_resolve() -> None:
    think = ThinkFilter()
    assert think.feed("Answer <thi") == "Answer "  # "<thi" held back: could open a block
    assert think.feed("nk>hidden</thi") == ""
    assert think.feed("nk> rest") == "rest"
    assert think.feed(" <tho") == " <tho"  # cannot be a tag any more
    assert think.flush() == ""


_PIECES = ["<think>", "</think>", "<th", "ink>", "</", "think", ">", "a", "Bc", " ", "\n", "<", "x<y"]


@settings(max_examples=200, deadline=None)
@given(
    pieces=st.lists(st.sampled_from(_PIECES), max_size=25),
    cuts=st.lists(st.integers(min_value=0, max_value=200), max_size=12),
)
def test_think_filter_output_does_not_depend_on_delta_boundaries(pieces: list[str], cuts: list[int]) -> None:
    text = "".join(pieces)
    whole = ThinkFilter()
    expected = whole.feed(text) + whole.flush()
    bounds = sorted({c % (len(text) + 1) for c in cuts} | {0, len(text)})
    split = ThinkFilter()
    got = "".join(split.feed(text[a:b]) for a, b in itertools.pairwise(bounds)) + split.flush()
    assert got == expected


# ---- complete() ----------------------------------------------------------------------------------------


def test_complete_sends_sampling_and_thinking_fields(h: Harness) -> None:
    h.server.script(Reply(content="<think>\n\n</think>\n\nRenew at any office [1].", finish_reason="stop"))
    gen = h.make(seed=42, presence_penalty=0.5, repetition_penalty=1.05, api_key=SecretStr("s3cret"))
    result = _complete(gen, max_tokens=64, stop=["</answer>"])
    assert result.text == "Renew at any office [1]."
    assert result.finish_reason == "stop"
    assert result.usage == {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14}
    assert result.model == "fake-model"
    (req,) = h.server.requests
    assert req.path == "/v1/chat/completions"
    assert req.headers["authorization"] == "Bearer s3cret"
    body = req.body
    assert body["model"] == "fake-model"
    assert body["messages"] == MESSAGES
    assert body["chat_template_kwargs"] == {"enable_thinking": False}
    assert (body["temperature"], body["top_p"], body["top_k"], body["min_p"]) == (0.2, 0.8, 20, 0.0)
    assert (body["max_tokens"], body["stop"], body["seed"]) == (64, ["</answer>"], 42)
    assert (body["presence_penalty"], body["repetition_penalty"], body["stream"]) == (0.5, 1.05, False)


def test_openai_flavour_sends_only_openai_fields(h: Harness) -> None:
    h.server.script(Reply(content="fine"))
    result = _complete(h.make(vllm=False, extra_body={"user": "govrag"}))
    assert result.text == "fine"
    body = h.server.requests[0].body
    for vllm_only in ("top_k", "min_p", "repetition_penalty", "chat_template_kwargs"):
        assert vllm_only not in body
    assert body["max_tokens"] == 1024
    assert body["user"] == "govrag"
    assert "authorization" not in h.server.requests[0].headers


@pytest.mark.parametrize("key", ["reasoning", "reasoning_content"])
def test_null_content_gives_empty_answer_and_finish_reason(h: Harness, key: str) -> None:
    h.server.script(
        Reply(content=None, reasoning="I think the office...", reasoning_key=key, finish_reason="length")
    )
    result = _complete(h.make())
    assert (result.text, result.finish_reason) == ("", "length")


@pytest.mark.parametrize("key", ["reasoning", "reasoning_content"])
def test_null_content_falls_back_to_reasoning_when_allowed(h: Harness, key: str) -> None:
    h.server.script(Reply(content=None, reasoning="Passports renew online.", reasoning_key=key))
    result = _complete(h.make(reasoning_fallback=True))
    assert result.text == "Passports renew online."


def test_content_wins_over_reasoning(h: Harness) -> None:
    h.server.script(Reply(content="Visible.", reasoning="hidden"))
    assert _complete(h.make(reasoning_fallback=True)).text == "Visible."


# ---- streaming -----------------------------------------------------------------------------------------


def test_stream_strips_think_block_split_across_deltas(h: Harness) -> None:
    deltas = ["<thi", "nk>\nThe user", " asks.</th", "ink>", "\n\n", "Bring", " form A [1]", ".", " <", "3"]
    h.server.script(StreamReply(deltas=deltas, finish_reason="stop"))
    got, stream = run(_collect(h.make(), max_tokens=32))
    assert "".join(got) == "Bring form A [1]. <3"
    assert all("think" not in d and "user" not in d for d in got)
    assert (stream.finish_reason, stream.model) == ("stop", "fake-model")
    assert stream.usage == {"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13}
    body = h.server.requests[0].body
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["max_tokens"] == 32


def test_stream_with_only_reasoning_is_empty_unless_fallback(h: Harness) -> None:
    h.server.script(
        StreamReply(reasoning_deltas=["Think", "ing..."], finish_reason="length"),
        StreamReply(reasoning_deltas=["Pass", "ports."], reasoning_key="reasoning_content"),
    )
    got, stream = run(_collect(h.make()))
    assert (got, stream.finish_reason) == ([], "length")
    got, _ = run(_collect(h.make(reasoning_fallback=True)))
    assert "".join(got) == "Passports."


def test_stream_broken_mid_way_raises_unavailable_after_partial_text(h: Harness) -> None:
    h.server.script(StreamReply(deltas=["Part", "ial", " answer"], break_after=2))
    received: list[str] = []

    async def go() -> None:
        gen = h.make()
        try:
            async for delta in gen.stream(MESSAGES):
                received.append(delta)
        finally:
            await gen.aclose()

    with pytest.raises(GeneratorUnavailable, match="broke the stream") as broke:
        run(go())
    assert broke.value.kind == "stream_broken"
    assert "".join(received) == "Partial"
    assert len(h.server.requests) == 1  # text was shown: no silent retry


def test_stream_error_event_raises_unavailable(h: Harness) -> None:
    h.server.script(StreamReply(deltas=["a", "b"], error_after=1))
    with pytest.raises(GeneratorUnavailable, match="fake engine died") as died:
        run(_collect(h.make()))
    assert died.value.kind == "server_error"


def test_stream_can_be_closed_early(h: Harness) -> None:
    h.server.script(StreamReply(deltas=["one", " two", " three"]), Reply(content="next"))

    async def go() -> tuple[str, str]:
        gen = h.make()
        stream = gen.stream(MESSAGES)
        first = await stream.__anext__()
        await stream.aclose()
        follow = await gen.complete(MESSAGES)  # the client is still usable
        await gen.aclose()
        return first, follow.text

    assert run(go()) == ("one", "next")


def test_stream_retries_before_first_byte(h: Harness) -> None:
    h.server.script(ErrorReply(503, "warming up"), StreamReply(deltas=["ok"]))
    got, _ = run(_collect(h.make()))
    assert got == ["ok"]
    assert len(h.sleeps) == 1


# ---- retries, errors, breaker -----------------------------------------------------------------------------


def test_retries_with_exponential_backoff_then_success(h: Harness) -> None:
    h.server.script(ErrorReply(500), ErrorReply(502), Reply(content="third time"))
    gen = h.make(max_retries=3, backoff_initial_s=0.5, backoff_max_s=8.0)
    assert _complete(gen).text == "third time"
    assert len(h.server.requests) == 3
    assert len(h.sleeps) == 2
    # equal jitter: attempt n waits between base/2 and base, base = 0.5 * 2**n
    assert 0.25 <= h.sleeps[0] <= 0.5
    assert 0.5 <= h.sleeps[1] <= 1.0
    assert gen.breaker.consecutive_failures == 0


def test_retry_after_header_is_honoured_up_to_the_cap(h: Harness) -> None:
    h.server.script(
        ErrorReply(429, "slow down", headers={"Retry-After": "3"}),
        ErrorReply(429, "slow down", headers={"Retry-After": "600"}),
        Reply(content="ok"),
    )
    assert _complete(h.make(max_retries=2, backoff_max_s=8.0)).text == "ok"
    assert h.sleeps == [3.0, 8.0]


def test_retries_exhausted_raise_unavailable_with_last_error(h: Harness) -> None:
    h.server.script(*[ErrorReply(503, "engine overloaded")] * 3)
    gen = h.make(max_retries=2)
    with pytest.raises(GeneratorUnavailable, match=r"3 attempt\(s\): HTTP 503: engine overloaded") as failed:
        _complete(gen)
    assert failed.value.kind == "http_503"
    assert len(h.server.requests) == 3
    assert gen.breaker.consecutive_failures == 1


def test_context_length_400_is_not_retried_and_keeps_vllm_message(h: Harness) -> None:
    vllm_message = (
        "This model's maximum context length is 1024 tokens. However, your prompt contains at least "
        "1025 input tokens, which exceeds this limit even without any output tokens."
    )
    h.server.script(ErrorReply(400, vllm_message), Reply(content="never sent"))
    gen = h.make(max_retries=3)
    with pytest.raises(GeneratorRequestError) as info:
        _complete(gen)
    assert info.value.status_code == 400
    assert info.value.kind == "http_400"
    assert info.value.server_message == vllm_message
    assert "shorten the prompt" in str(info.value)
    assert len(h.server.requests) == 1
    assert h.sleeps == []
    assert gen.breaker.consecutive_failures == 0


def test_unknown_model_404_names_the_fix(h: Harness) -> None:
    h.server.script(ErrorReply(404, "The model `nope` does not exist."))
    with pytest.raises(GeneratorRequestError, match=r"generator\.model") as info:
        _complete(h.make())
    assert info.value.status_code == 404


def _closed_port_url() -> str:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}/v1"


def test_connection_refused_is_retried_then_unavailable(h: Harness) -> None:
    gen = h.make(base_url=_closed_port_url(), max_retries=2)
    with pytest.raises(GeneratorUnavailable, match="ConnectError") as refused:
        _complete(gen)
    assert refused.value.kind == "unreachable"
    assert len(h.sleeps) == 2


def test_read_timeout_is_unavailable_and_not_retried(h: Harness) -> None:
    h.server.script(Hang(), Reply(content="too late"))
    gen = h.make(read_timeout_s=0.3, max_retries=3)
    with pytest.raises(GeneratorUnavailable, match="read_timeout_s") as timed_out:
        _complete(gen)
    assert timed_out.value.kind == "timeout"
    assert len(h.server.requests) == 1
    assert h.server.pending == 1


def test_stream_stall_is_unavailable(h: Harness) -> None:
    h.server.script(StreamReply(deltas=["first", "never"], stall_after=1))
    with pytest.raises(GeneratorUnavailable, match="stopped streaming"):
        run(_collect(h.make(read_timeout_s=0.3)))


def test_no_first_token_in_time_is_a_timeout_that_opens_the_breaker(h: Harness) -> None:
    h.server.script(Hang(), Reply(content="never asked"))
    # the read timeout alone would wait 300 s per read; the first-token timeout gives up after 0.5 s
    gen = h.make(read_timeout_s=300, first_token_timeout_s=0.5, breaker_failure_threshold=5)
    with pytest.raises(GeneratorUnavailable, match=r"sent no first token within 0\.5 s") as timed_out:
        run(_collect(gen))
    assert timed_out.value.kind == "timeout"
    assert gen.breaker.state.value == "open"  # at once, not after 5 failures
    with pytest.raises(GeneratorUnavailable, match="circuit breaker is open"):
        _complete(gen)
    assert len(h.server.requests) == 1


def test_whole_reply_past_the_deadline_is_a_timeout(h: Harness) -> None:
    h.server.script(Hang())
    gen = h.make(read_timeout_s=300, first_token_timeout_s=30, breaker_open_on_timeout=False)

    async def go() -> None:
        try:
            await gen.complete(MESSAGES, deadline=time.monotonic() + 0.5)
        finally:
            await gen.aclose()

    with pytest.raises(GeneratorUnavailable, match=r"sent no complete reply within 0\.5 s") as info:
        run(go())
    assert info.value.kind == "timeout"
    assert gen.breaker.state.value == "closed"  # breaker_open_on_timeout=False: counted, not opened
    assert gen.breaker.consecutive_failures == 1


def test_stream_stalled_after_first_token_ends_at_the_deadline(h: Harness) -> None:
    h.server.script(StreamReply(deltas=["first", "never"], stall_after=1))
    gen = h.make(read_timeout_s=300, first_token_timeout_s=5, answer_deadline_s=60)
    stream = gen.stream(MESSAGES, deadline=time.monotonic() + 1.0)
    seen: list[str] = []

    async def go() -> None:
        try:
            async for delta in stream:
                seen.append(delta)
        finally:
            await gen.aclose()

    with pytest.raises(GeneratorUnavailable, match="did not finish the answer") as info:
        run(go())
    assert seen == ["first"]
    assert info.value.kind == "timeout"


def test_breaker_opens_fails_fast_then_half_opens(h: Harness) -> None:
    gen = h.make(max_retries=2, breaker_failure_threshold=2, breaker_reset_s=30.0)
    h.server.script(*[ErrorReply(500)] * 6)

    async def scenario() -> list[str]:
        seen: list[str] = []
        for _ in range(2):
            with pytest.raises(GeneratorUnavailable, match="HTTP 500"):
                await gen.complete(MESSAGES)
        seen.append(gen.breaker.state.value)
        sent = len(h.server.requests)
        with pytest.raises(GeneratorUnavailable, match="circuit breaker is open") as open_:
            await gen.complete(MESSAGES)
        assert open_.value.kind == "circuit_open"
        assert len(h.server.requests) == sent  # failed fast, the server saw nothing
        h.clock.now += 29.0
        seen.append(gen.breaker.state.value)
        h.clock.now += 1.0
        seen.append(gen.breaker.state.value)
        h.server.reset()
        h.server.script(ErrorReply(500), Reply(content="recovered"))
        with pytest.raises(GeneratorUnavailable):  # the trial fails: one attempt only, open again
            await gen.complete(MESSAGES)
        assert len(h.server.requests) == 1
        seen.append(gen.breaker.state.value)
        h.clock.now += 30.0
        result = await gen.complete(MESSAGES)
        seen.append(f"{result.text}:{gen.breaker.state.value}")
        await gen.aclose()
        return seen

    assert run(scenario()) == ["open", "open", "half_open", "open", "recovered:closed"]


def test_breaker_lets_a_single_trial_through() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(1, 10.0, clock=clock)
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    clock.now += 10.0
    assert breaker.before_call() is True
    with pytest.raises(GeneratorUnavailable, match="open"):
        breaker.before_call()
    breaker.release_trial()  # the trial was cancelled: the next call becomes the trial
    assert breaker.before_call() is True
    breaker.record_success()
    assert breaker.state.value == "closed"
    assert breaker.before_call() is False


# ---- health, registry, settings ------------------------------------------------------------------------


def test_health(h: Harness) -> None:
    async def check(gen: OpenAICompatGenerator) -> bool:
        try:
            return await gen.health()
        finally:
            await gen.aclose()

    assert run(check(h.make())) is True
    assert run(check(h.make(model="other-model"))) is False
    assert run(check(h.make(base_url=_closed_port_url()))) is False


def test_registry_builds_both_flavours_and_names_unknown_backends() -> None:
    assert {"vllm", "openai"} <= set(GENERATORS)
    for backend in ("vllm", "openai"):
        gen = build_generator(GeneratorSettings(backend=backend))
        assert isinstance(gen, Generator)
        assert gen is not None
        assert gen.name == backend
        run(gen.aclose())
    assert GeneratorSettings().backend == "extractive"
    assert build_generator(GeneratorSettings()) is None  # no LLM: answers are extractive
    with pytest.raises(ValueError, match=r"'llama'.*\['extractive', 'openai', 'vllm'\]"):
        build_generator(GeneratorSettings(backend="llama"))


def test_settings_defaults_and_validation() -> None:
    s = GeneratorSettings()
    assert s.model == "aisingapore/Qwen-SEA-LION-v4-32B-IT"
    assert (s.temperature, s.top_p, s.top_k, s.enable_thinking) == (0.2, 0.8, 20, False)
    assert GeneratorSettings(base_url="http://h:8000/v1/").base_url == "http://h:8000/v1"
    with pytest.raises(ValidationError, match="must start with http"):
        GeneratorSettings(base_url="localhost:8000/v1")
    with pytest.raises(ValidationError, match="backoff_max_s"):
        GeneratorSettings(backoff_initial_s=5, backoff_max_s=1)
    assert (s.first_token_timeout_s, s.answer_deadline_s, s.breaker_open_on_timeout) == (20.0, 90.0, True)
    with pytest.raises(ValidationError, match="answer_deadline_s"):
        GeneratorSettings(first_token_timeout_s=30, answer_deadline_s=10)
