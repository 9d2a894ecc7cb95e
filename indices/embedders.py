"""The embedder registry: `embedder.model` picks the adapter of the `TextEmbedder` port.

"bundled" (multilingual-e5-small) and "embeddinggemma" are named models; any other value is a
sentence-transformers folder (or a name already in the local Hugging Face cache). Adapters are imported
inside the factories so that choosing one loads nothing of another.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from indices.embedder_settings import BUNDLED, EMBEDDING_GEMMA, EmbedderSettings
from indices.text_embedder import TextEmbedder

#: (settings, models dir) -> a loaded embedder.
EmbedderFactory = Callable[[EmbedderSettings, Path], TextEmbedder]


def _sentence_transformers(settings: EmbedderSettings, models_dir: Path) -> TextEmbedder:
    from indices.embedder import Embedder

    return Embedder(settings, models_dir)


def _embedding_gemma(settings: EmbedderSettings, models_dir: Path) -> TextEmbedder:
    from indices.embedding_gemma import open_embedding_gemma

    return open_embedding_gemma(settings, models_dir)


#: Named models; `embedder.model` values not listed here are sentence-transformers folders.
EMBEDDERS: dict[str, EmbedderFactory] = {
    BUNDLED: _sentence_transformers,
    EMBEDDING_GEMMA: _embedding_gemma,
}


def load_embedder(settings: EmbedderSettings, models_dir: Path) -> TextEmbedder:
    """Load the configured embedder (raises `indices.embedder.EmbedderError` with the fix when it cannot)."""
    factory = EMBEDDERS.get(settings.model, _sentence_transformers)
    return factory(settings, Path(models_dir))
