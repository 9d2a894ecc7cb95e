"""EmbeddingGemma-300M (Google, Gemma terms of use): 100+ languages, Matryoshka 768/512/256/128.

The model is not bundled: `govrag models fetch embeddinggemma` installs its sentence-transformers folder
at `<models dir>/embeddinggemma-300m` (hash-checked against `FILE_SHA256`). It is meant for bf16 or fp32,
never fp16, and for its own prompts.
"""

from __future__ import annotations

from pathlib import Path

from indices.embedder import Embedder, EmbedderError, ModelSpec
from indices.embedder_settings import EMBEDDING_GEMMA, EmbedderSettings

NAME = "embeddinggemma-300m"
FOLDER = NAME
QUERY_PROMPT = "task: search result | query: "
PASSAGE_PROMPT = "title: none | text: "
DIMENSIONS = (768, 512, 256, 128)

#: sha256 of the files of the published folder (model.safetensors as announced; the others as fetched).
FILE_SHA256: dict[str, str] = {
    "model.safetensors": "cbf5a78393b6a033e0b8a63a57549964f7ed5c6fbeb4ba0694214f36123f2fd2",
}


def model_folder(models_dir: Path) -> Path:
    """Where `govrag models fetch embeddinggemma` installs the model."""
    return Path(models_dir) / FOLDER


def spec(models_dir: Path) -> ModelSpec:
    """EmbeddingGemma's name, folder, prompts and Matryoshka dimensions."""
    return ModelSpec(
        name=NAME,
        path=model_folder(models_dir),
        query_prompt=QUERY_PROMPT,
        passage_prompt=PASSAGE_PROMPT,
        dimensions=DIMENSIONS,
    )


def open_embedding_gemma(settings: EmbedderSettings, models_dir: Path) -> Embedder:
    """The EmbeddingGemma adapter; a missing model names the command that installs it."""
    folder = model_folder(models_dir)
    if not (folder / "modules.json").is_file():
        raise EmbedderError(
            f"embedder.model is {EMBEDDING_GEMMA!r} but {folder} holds no model: run "
            f"`govrag models fetch {EMBEDDING_GEMMA}` (or `--from DIR` with your agency's copy), or set "
            "embedder.model to 'bundled'"
        )
    return Embedder(settings, models_dir, spec(models_dir))
