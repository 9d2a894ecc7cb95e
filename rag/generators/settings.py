"""Settings of the answer generator (`GOVRAG_GENERATOR__...`): endpoint, resilience and sampling.

Defaults target SEA-LION v4 (a Qwen3-32B fine-tune) served by vLLM's OpenAI-compatible server.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator

DEFAULT_MODEL = "aisingapore/Qwen-SEA-LION-v4-32B-IT"


class GeneratorSettings(BaseModel):
    """Which generator answers, where it is, how hard to retry it and how it samples.

    Sampling: Qwen3's advice for non-thinking chat is temperature 0.7, top_p 0.8, top_k 20, min_p 0.
    Grounded QA wants the answer to stay close to the retrieved passages and to cite them the same way
    each time, so the default temperature is lowered to 0.2 while top_p/top_k keep Qwen3's values
    (they cut the low-probability tail that produces script mixing in SEA languages).
    """

    backend: str = Field(
        default="extractive",
        description="`extractive` (no LLM: answers quote the best source sentences; the embedded default), "
        "`vllm` (SEA-LION on vLLM: sends vLLM extras such as top_k and chat_template_kwargs) or `openai` "
        "(plain OpenAI API fields only).",
    )
    base_url: str = Field(
        default="http://127.0.0.1:8000/v1",
        description="OpenAI-compatible base URL including `/v1`.",
    )
    api_key: SecretStr | None = Field(
        default=None, description="Bearer token (vLLM's `--api-key`); none sends no Authorization header."
    )
    model: str = Field(default=DEFAULT_MODEL, description="Model name as the server serves it.")
    connect_timeout_s: float = Field(default=5.0, gt=0, description="TCP connect timeout.")
    read_timeout_s: float = Field(
        default=120.0,
        gt=0,
        description="Longest wait for the next bytes (whole answer when not streaming, next delta when "
        "streaming). Read timeouts are not retried: the server is busy and a retry doubles its load.",
    )
    first_token_timeout_s: float = Field(
        default=20.0,
        gt=0,
        description="Longest wait for the first visible token of a streamed answer (and for a whole "
        "non-streamed reply, e.g. a follow-up rewrite). A server that accepts connections but does not "
        "answer costs one caller this long; the answer falls back to extractive with a warning.",
    )
    answer_deadline_s: float = Field(
        default=90.0,
        gt=0,
        description="Overall budget of the generator calls for one answer (follow-up rewrite plus the "
        "streamed answer); past it the answer falls back to extractive with a warning.",
    )
    max_retries: int = Field(
        default=2, ge=0, description="Extra attempts after a 429/5xx/connection error (never after a 4xx)."
    )
    backoff_initial_s: float = Field(default=0.5, ge=0, description="First backoff delay before jitter.")
    backoff_max_s: float = Field(default=8.0, ge=0, description="Cap of one backoff delay (and Retry-After).")
    breaker_failure_threshold: int = Field(
        default=5, ge=1, description="Consecutive failed calls that open the circuit breaker."
    )
    breaker_reset_s: float = Field(
        default=30.0,
        gt=0,
        description="How long the breaker stays open before one trial call is let through.",
    )
    breaker_open_on_timeout: bool = Field(
        default=True,
        description="A timeout (no first token in time, deadline passed, read timeout) opens the breaker at "
        "once: a hung server costs one caller the wait, the others fail fast to extractive for "
        "breaker_reset_s.",
    )
    enable_thinking: bool = Field(
        default=False,
        description="Sent as chat_template_kwargs.enable_thinking; Qwen3 reasons at length otherwise.",
    )
    reasoning_fallback: bool = Field(
        default=False,
        description="When the server returns null content but reasoning text (vLLM with a reasoning "
        "parser), answer with the reasoning text instead of an empty answer.",
    )
    temperature: float = Field(default=0.2, ge=0, le=2, description="Low for grounded, repeatable answers.")
    top_p: float = Field(default=0.8, gt=0, le=1, description="Qwen3's non-thinking advice.")
    top_k: int | None = Field(default=20, description="vLLM extra; Qwen3's advice. None leaves it unset.")
    min_p: float | None = Field(default=0.0, ge=0, le=1, description="vLLM extra; Qwen3's advice.")
    max_tokens: int = Field(default=1024, ge=1, description="Default answer length cap in tokens.")
    presence_penalty: float | None = Field(default=None, ge=-2, le=2, description="Optional.")
    repetition_penalty: float | None = Field(default=None, gt=0, description="vLLM extra; optional.")
    seed: int | None = Field(default=None, description="Fixed sampling seed for repeatable answers.")
    extra_body: dict[str, Any] = Field(
        default_factory=dict, description="Extra request fields merged last (server-specific options)."
    )

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(
                f"generator.base_url {value!r} must start with http:// or https:// "
                "(e.g. http://127.0.0.1:8000/v1)"
            )
        return value.rstrip("/")

    @model_validator(mode="after")
    def _check_backoff(self) -> GeneratorSettings:
        if self.backoff_max_s < self.backoff_initial_s:
            raise ValueError(
                f"generator.backoff_max_s ({self.backoff_max_s}) is below backoff_initial_s "
                f"({self.backoff_initial_s}); raise backoff_max_s"
            )
        if self.answer_deadline_s < self.first_token_timeout_s:
            raise ValueError(
                f"generator.answer_deadline_s ({self.answer_deadline_s}) is below first_token_timeout_s "
                f"({self.first_token_timeout_s}); raise answer_deadline_s"
            )
        return self
