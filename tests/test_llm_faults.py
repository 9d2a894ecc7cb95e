"""A hung or closed LLM server never holds an answer up (issue 10, item 6).

The servers here are plain sockets on loopback: one accepts connections and never answers (reads nothing,
writes nothing, keeps them open), one accepts and closes at once, and a port nobody listens on. Each test
starts its own app, so every breaker starts closed. The generator is configured with a 1 s first-token
timeout and a 3 s answer deadline but a 300 s read timeout: before the fix, the answer waited for the read
timeout and the client below gives up after 30 s.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_support import PASSPORT_EN, LiveServer, SampleIndex, api_settings, clone_home, free_port, parse_sse

pytest_plugins = ["api_fixtures"]

PASSPORT_Q = "How much does it cost to renew a passport?"
CLIENT_TIMEOUT_S = 30.0  # generous against load; the configured deadline is 3 s, the read timeout 300 s


class SocketServer:
    """A TCP listener on loopback that accepts connections and then either holds them silently
    (`close_at_once=False`: the hung LLM server) or closes them at once."""

    def __init__(self, *, close_at_once: bool = False) -> None:
        self.close_at_once = close_at_once
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.port = int(self.sock.getsockname()[1])
        self.accepted = 0
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def base_url(self) -> str:
        """The OpenAI-style base URL pointing at this listener."""
        return f"http://127.0.0.1:{self.port}/v1"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted += 1
            if self.close_at_once:
                conn.close()
            else:
                self._held.append(conn)

    def __enter__(self) -> SocketServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for conn in self._held:
            conn.close()
        self.sock.close()


def _settings(home: Path, base_url: str, **generator: Any) -> Any:
    return api_settings(
        home,
        generator={
            "backend": "vllm",
            "base_url": base_url,
            "model": "fake-model",
            "max_retries": 0,
            "connect_timeout_s": 2,
            "read_timeout_s": 300,
            "first_token_timeout_s": 1,
            "answer_deadline_s": 3,
            "breaker_reset_s": 600,
            **generator,
        },
        api={"security": {"anonymous_rate_per_minute": 0}},
    )


@pytest.fixture
def home(sample_index: SampleIndex, tmp_path: Path) -> Path:
    """A private copy of the sample data dir."""
    return clone_home(sample_index.home, tmp_path / "home")


@pytest.fixture
def hung() -> Iterator[SocketServer]:
    """The LLM server that accepts connections and never answers."""
    with SocketServer() as server:
        yield server


def _live(settings: Any, embedder: Any, sparse: Any) -> LiveServer:
    from govrag.app import create_app

    return LiveServer(create_app(settings, embedder=embedder, sparse=sparse))


def _ask(url: str, **body: Any) -> dict[str, Any]:
    with httpx.Client(base_url=url, timeout=CLIENT_TIMEOUT_S) as client:
        r = client.post("/v1/query", json={"question": PASSPORT_Q, **body})
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


def _stream(url: str) -> list[tuple[str, Any]]:
    with (
        httpx.Client(base_url=url, timeout=CLIENT_TIMEOUT_S) as client,
        client.stream("POST", "/v1/query", json={"question": PASSPORT_Q, "stream": True}) as response,
    ):
        assert response.status_code == 200
        raw = "".join(response.iter_text())
    return parse_sse(raw)


def _assert_extractive_passport_answer(a: dict[str, Any]) -> None:
    assert a["generator"] == "extractive"
    assert a["grounded"] is True
    assert a["refused"] is False
    assert "70 dollars" in a["answer"]
    assert PASSPORT_EN in {c["doc_id"] for c in a["citations"]}
    assert all(c["quote"] for c in a["citations"])


def test_hung_llm_answers_extractively_then_breaker_short_circuits(
    home: Path, hung: SocketServer, embedder: Any, sparse_encoder: Any
) -> None:
    with _live(_settings(home, hung.base_url), embedder, sparse_encoder) as live:
        first = _ask(live.url)
        _assert_extractive_passport_answer(first)
        assert first["warnings"] == ["generator unavailable, extractive answer instead (timeout)"]
        assert hung.accepted == 1
        # The timeout opened the breaker: the next answer does not touch the server at all.
        second = _ask(live.url)
        _assert_extractive_passport_answer(second)
        assert second["warnings"] == ["generator unavailable, extractive answer instead (circuit_open)"]
        assert hung.accepted == 1
        metrics = httpx.get(f"{live.url}/metrics", timeout=CLIENT_TIMEOUT_S).text
        assert 'govrag_generator_errors_total{generator="vllm",kind="timeout"} 1.0' in metrics


def test_hung_llm_stream_sends_a_warning_event_then_the_extractive_answer(
    home: Path, hung: SocketServer, embedder: Any, sparse_encoder: Any
) -> None:
    with _live(_settings(home, hung.base_url), embedder, sparse_encoder) as live:
        events = _stream(live.url)
    names = [e for e, _ in events]
    assert names[0] == "sources"
    assert names[1] == "warning"
    assert names[-1] == "done"
    assert "error" not in names
    assert events[1][1] == {
        "message": "generator unavailable, extractive answer instead (timeout)",
        "kind": "timeout",
    }
    done = events[-1][1]
    _assert_extractive_passport_answer(done)
    assert done["warnings"] == ["generator unavailable, extractive answer instead (timeout)"]


def test_hung_llm_follow_up_waits_once_not_for_the_rewrite_and_the_answer(
    home: Path, hung: SocketServer, embedder: Any, sparse_encoder: Any
) -> None:
    history = [
        {"role": "user", "content": "How do I renew my passport?"},
        {"role": "assistant", "content": "Citizens aged 16 and above can renew online [1]."},
    ]
    # a first-token timeout longer than the deadline's remainder: the deadline bounds the whole answer
    settings = _settings(home, hung.base_url, first_token_timeout_s=2, answer_deadline_s=2)
    with _live(settings, embedder, sparse_encoder) as live:
        a = _ask(live.url, question="And how much does it cost?", history=history)
    assert a["generator"] == "extractive"
    assert "70 dollars" in a["answer"]
    assert a["warnings"] == [
        "follow-up rewrite skipped: generator failed (timeout)",
        "generator unavailable, extractive answer instead (timeout)",
    ]
    assert hung.accepted == 1  # the rewrite timed out; the answer did not try the hung server again


@pytest.mark.parametrize("kind", ["closes", "refuses"])
def test_closed_llm_port_answers_extractively_then_breaker_short_circuits(
    kind: str, home: Path, embedder: Any, sparse_encoder: Any
) -> None:
    with SocketServer(close_at_once=True) as closing:
        url = closing.base_url if kind == "closes" else f"http://127.0.0.1:{free_port()}/v1"
        settings = _settings(home, url, breaker_failure_threshold=1)
        with _live(settings, embedder, sparse_encoder) as live:
            first = _ask(live.url)
            _assert_extractive_passport_answer(first)
            assert first["warnings"] == ["generator unavailable, extractive answer instead (unreachable)"]
            seen = closing.accepted
            events = _stream(live.url)
        assert closing.accepted == seen  # the open breaker answered without a connection
    assert [e for e, _ in events][:2] == ["sources", "warning"]
    assert events[1][1]["kind"] == "circuit_open"
    _assert_extractive_passport_answer(events[-1][1])
