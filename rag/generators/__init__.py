"""Answer generators: an LLM behind an OpenAI-compatible API (SEA-LION on vLLM by default).

`GENERATORS` maps the setting `generator.backend` to a factory; `build_generator` is what the
composition root calls. Every generator satisfies `rag.generators.base.Generator`.
"""

from __future__ import annotations

from collections.abc import Callable

from rag.generators.base import (
    ChatMessage,
    GenerationResult,
    Generator,
    GeneratorError,
    GeneratorRequestError,
    GeneratorUnavailable,
    TextStream,
)
from rag.generators.openai_compat import GenerationStream, OpenAICompatGenerator
from rag.generators.settings import GeneratorSettings

GeneratorFactory = Callable[[GeneratorSettings], Generator]
"""Builds a generator from its settings section."""


def _vllm(settings: GeneratorSettings) -> Generator:
    return OpenAICompatGenerator(settings, name="vllm", vllm_extensions=True)


def _openai(settings: GeneratorSettings) -> Generator:
    return OpenAICompatGenerator(settings, name="openai", vllm_extensions=False)


GENERATORS: dict[str, GeneratorFactory] = {
    "vllm": _vllm,
    "openai": _openai,
}
"""Registry of LLM generators keyed by `generator.backend`."""

EXTRACTIVE = "extractive"
"""`generator.backend` value for "no LLM": answers are composed from source sentences
(`rag.extractive`), which is also the fallback whenever the LLM fails."""


def build_generator(settings: GeneratorSettings) -> Generator | None:
    """The LLM generator named by `settings.backend`, or None for the extractive backend.

    An unknown name lists the known ones.
    """
    if settings.backend == EXTRACTIVE:
        return None
    try:
        factory = GENERATORS[settings.backend]
    except KeyError:
        raise ValueError(
            f"generator.backend {settings.backend!r} is unknown; choose one of "
            f"{sorted([*GENERATORS, EXTRACTIVE])} "
            "(GOVRAG_GENERATOR__BACKEND)"
        ) from None
    return factory(settings)


__all__ = [
    "GENERATORS",
    "ChatMessage",
    "GenerationResult",
    "GenerationStream",
    "Generator",
    "GeneratorError",
    "GeneratorFactory",
    "GeneratorRequestError",
    "GeneratorSettings",
    "GeneratorUnavailable",
    "OpenAICompatGenerator",
    "TextStream",
    "build_generator",
]
