"""What every answer generator offers the rag pipeline: the `Generator` Protocol, its result and errors.

The Protocol is async because the HTTP API streams answers token by token; a blocking client would
hold a worker thread for the whole generation.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

ChatMessage = dict[str, Any]
"""One OpenAI-style chat message: `{"role": "system"|"user"|"assistant", "content": "..."}`."""


@dataclass(slots=True)
class GenerationResult:
    """A finished (non-streamed) answer.

    `text` is the visible answer with any `<think>...</think>` block removed; `finish_reason` is the
    server's (`stop`, `length`, ...) so callers can tell a truncated answer from a complete one.
    """

    text: str
    finish_reason: str | None
    usage: dict[str, int] = field(default_factory=dict)
    model: str = ""


class GeneratorError(Exception):
    """Base class for generator errors; the message says what failed and what to check.

    The message may name internal hosts and echo the server's words: it is for logs and operators. `kind`
    is a short, safe label (`timeout`, `unreachable`, `http_503`, `circuit_open`, `bad_response`,
    `stream_broken`, `server_error`) for API callers and metrics.
    """

    def __init__(self, message: str, *, kind: str = "error") -> None:
        super().__init__(message)
        self.kind = kind


class GeneratorUnavailable(GeneratorError):
    """The generator could not be reached or kept failing (connection, timeout, 429/5xx, open breaker).

    The request itself may be fine: the API should answer 503 and callers may retry later or fall back
    to another generator.
    """


class GeneratorRequestError(GeneratorError):
    """The server refused this request (4xx), e.g. a prompt longer than the model context.

    Retrying the same request cannot help. `status_code` and `server_message` carry the server's
    answer (for vLLM's context-length error the message gives the token counts).
    """

    def __init__(self, message: str, *, status_code: int, server_message: str) -> None:
        super().__init__(message, kind=f"http_{status_code}")
        self.status_code = status_code
        self.server_message = server_message


class TextStream(Protocol):
    """An async iterator of visible text deltas; after exhaustion it tells how the generation ended."""

    finish_reason: str | None
    usage: dict[str, int]
    model: str

    def __aiter__(self) -> AsyncIterator[str]:
        """Iterate over the text deltas."""
        ...

    async def __anext__(self) -> str:
        """The next visible text delta (never part of a think block)."""
        ...

    async def aclose(self) -> None:
        """Stop early and release the connection."""
        ...


@runtime_checkable
class Generator(Protocol):
    """Turns chat messages into an answer; implemented by the LLM client and the extractive fallback."""

    name: str

    @property
    def answer_deadline_s(self) -> float:
        """Budget in seconds for all the generator calls of one answer (callers derive `deadline`)."""
        ...

    async def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int | None = None,
        stop: Sequence[str] | None = None,
        deadline: float | None = None,
    ) -> GenerationResult:
        """Generate a whole answer; `deadline` is a `time.monotonic()` instant (timeout kind past it)."""
        ...

    def stream(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int | None = None,
        stop: Sequence[str] | None = None,
        deadline: float | None = None,
    ) -> TextStream:
        """Generate an answer as visible text deltas (think blocks never leak); `deadline` as above."""
        ...

    async def health(self) -> bool:
        """True when the backend answers and serves the configured model."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...
