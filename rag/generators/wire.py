"""Reading the OpenAI wire format as vLLM and others speak it: error bodies, usage, reasoning fields."""

from __future__ import annotations

from typing import Any

import httpx


def server_message(response: httpx.Response) -> str:
    """The human part of an error body: vLLM/OpenAI `{"error": {"message"}}`, older shapes, or text."""
    try:
        data = response.json()
    except ValueError:
        return response.text[:500] or response.reason_phrase
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if isinstance(error, str):
            return error
        for key in ("message", "detail"):
            if data.get(key):
                return str(data[key])
    return response.text[:500]


def request_error_hint(status: int, message: str) -> str:
    """How to fix a refused request, from its status and the server's message."""
    lowered = message.lower()
    if "context length" in lowered or "maximum context" in lowered or "too long" in lowered:
        return "shorten the prompt (fewer or shorter passages) or lower max_tokens"
    if status in (401, 403):
        return "check generator.api_key against the server's --api-key"
    if status == 404:
        return "check generator.model and generator.base_url (GET /v1/models lists the served models)"
    return "fix the request; retrying it unchanged will fail again"


def usage_counts(raw: Any) -> dict[str, int]:
    """The integer counters of a `usage` object (nested details are dropped)."""
    if not isinstance(raw, dict):
        return {}
    return {k: v for k, v in raw.items() if isinstance(v, int) and not isinstance(v, bool)}


def reasoning_text(part: dict[str, Any]) -> str | None:
    """vLLM's reasoning text: `reasoning` in recent versions, `reasoning_content` before."""
    value = part.get("reasoning")
    if value is None:
        value = part.get("reasoning_content")
    return value if isinstance(value, str) else None


def retry_after_seconds(response: httpx.Response) -> float | None:
    """The Retry-After header in seconds, if given in that form."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # HTTP-date form: ignore, the backoff still applies
