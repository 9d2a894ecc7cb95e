"""An embedder that loads its model only when something must be embedded.

`govrag ingest` over an unchanged corpus needs the embedder's *identity* (to open the index and to
fingerprint the pipeline) but never a vector. Importing torch and loading the model takes ~15 s of such
a run, so the identity of the bundled model is remembered in `<models dir>/.embedder-identity.json`,
keyed by everything it is computed from (the identity-relevant settings, the converted weights'
fingerprint, the embedder code). On a hit, `LazyEmbedder` stands in: the model is loaded on the first
`embed_passages` call, and its real identity is checked against the remembered one before any vector
is used.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from indices.embedder import Embedder, EmbedderError
from indices.embedder_settings import BUNDLED, EmbedderSettings
from indices.embedders import load_embedder
from indices.schema import EmbedderIdentity
from indices.text_embedder import TextEmbedder

logger = logging.getLogger(__name__)

CACHE_NAME = ".embedder-identity.json"
_IDENTITY_FIELDS = ("model", "query_prompt", "passage_prompt", "dimension", "max_seq_length", "long_text")


def _cache_key(settings: EmbedderSettings, cache_dir: Path) -> str | None:
    """What the bundled embedder's identity depends on; None for other models (always loaded)."""
    if settings.model != BUNDLED:
        return None
    from indices import embedder as embedder_module
    from indices.e5_convert import ConversionError, ensure_converted

    try:
        weights = ensure_converted(cache_dir).fingerprint
    except ConversionError:
        return None  # let the real Embedder raise its actionable error
    code = hashlib.sha256(Path(embedder_module.__file__).read_bytes()).hexdigest()
    fields = {name: getattr(settings, name) for name in _IDENTITY_FIELDS}
    return hashlib.sha256(json.dumps([fields, weights, code], sort_keys=True).encode()).hexdigest()


def _read_cache(cache_dir: Path) -> dict[str, Any]:
    try:
        data = json.loads((cache_dir / CACHE_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_cache(cache_dir: Path, key: str, entry: dict[str, Any] | None) -> None:
    data = _read_cache(cache_dir)
    if entry is None:
        data.pop(key, None)
    else:
        data[key] = entry
    tmp = cache_dir / f"{CACHE_NAME}.{os.getpid()}.tmp"
    try:
        tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
        tmp.replace(cache_dir / CACHE_NAME)
    except OSError as exc:  # a read-only models folder only costs speed
        logger.debug("cannot write %s: %s", cache_dir / CACHE_NAME, exc)


class LazyEmbedder:
    """A `TextEmbedder` whose identity is known; loads the model on first use."""

    def __init__(
        self,
        settings: EmbedderSettings,
        cache_dir: Path,
        identity: EmbedderIdentity,
        tokenizer_file: Path,
        key: str,
        prompts: tuple[str, str] = ("query: ", "passage: "),
    ) -> None:
        """Wrap the remembered `identity`, tokenizer file and (query, passage) prompts; nothing is loaded."""
        self.settings = settings
        self.cache_dir = cache_dir
        self._identity = identity
        self._tokenizer_file = tokenizer_file
        self._key = key
        self._prompts = prompts
        self._real: Embedder | None = None

    @property
    def identity(self) -> EmbedderIdentity:
        """The remembered identity (checked against the model once it is loaded)."""
        return self._identity

    @property
    def dim(self) -> int:
        """Vector dimension (from the remembered identity)."""
        return self._identity.dim

    @property
    def query_prompt(self) -> str:
        """The remembered question prefix."""
        return self._prompts[0]

    @property
    def passage_prompt(self) -> str:
        """The remembered passage prefix."""
        return self._prompts[1]

    @property
    def backend(self) -> str:
        """The loaded model's precision, "not loaded" before first use."""
        return self._real.backend if self._real is not None else "not loaded"

    @property
    def tokenizer_file(self) -> Path:
        """The embedder's `tokenizer.json` for worker processes."""
        return self._tokenizer_file

    @property
    def loaded(self) -> bool:
        """Whether the model has been loaded."""
        return self._real is not None

    def load(self) -> Embedder:
        """The real embedder (loaded now if needed); raises when its identity is not the remembered one."""
        if self._real is None:
            real = Embedder(self.settings, self.cache_dir)
            if real.identity != self._identity:
                _write_cache(self.cache_dir, self._key, None)
                raise EmbedderError(
                    f"the remembered embedder identity in {self.cache_dir / CACHE_NAME} is out of date "
                    f"({self._identity.fingerprint[:12]} vs {real.identity.fingerprint[:12]}); it was "
                    "forgotten: run the command again"
                )
            self._real = real
        return self._real

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for chunks (loads the model on first use)."""
        return self.load().embed_passages(texts)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for questions (loads the model on first use)."""
        return self.load().embed_queries(texts)


def open_embedder(settings: EmbedderSettings, cache_dir: Path) -> TextEmbedder:
    """A `LazyEmbedder` when the bundled model's identity is remembered, else the loaded configured
    embedder (the bundled one's identity is then remembered for the next run)."""
    key = _cache_key(settings, cache_dir)
    if key is not None:
        entry = _read_cache(cache_dir).get(key)
        if isinstance(entry, dict):
            try:
                identity = EmbedderIdentity(str(entry["name"]), int(entry["dim"]), str(entry["fingerprint"]))
                tok = cache_dir / str(entry["tokenizer_file"])  # relative to cache_dir unless absolute
                prompts = (str(entry["query_prompt"]), str(entry["passage_prompt"]))
            except (KeyError, TypeError, ValueError):
                identity, tok, prompts = None, Path(), ("", "")
            if identity is not None and tok.is_file():
                logger.debug("embedder identity remembered (%s): model loaded only if needed", identity.name)
                return LazyEmbedder(settings, cache_dir, identity, tok, key, prompts)
    real = load_embedder(settings, cache_dir)
    if key is not None:
        ident = real.identity
        tok_file = real.tokenizer_file
        tok_name = (
            str(tok_file.relative_to(cache_dir)) if tok_file.is_relative_to(cache_dir) else str(tok_file)
        )
        _write_cache(
            cache_dir,
            key,
            {
                "name": ident.name,
                "dim": ident.dim,
                "fingerprint": ident.fingerprint,
                "tokenizer_file": tok_name,
                "query_prompt": real.query_prompt,
                "passage_prompt": real.passage_prompt,
            },
        )
    return real
