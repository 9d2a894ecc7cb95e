"""One contract for every adapter of the `TextEmbedder` port: the bundled e5-small, EmbeddingGemma (a tiny
random-weight folder of the same shape, built offline), any sentence-transformers folder, and the lazy and
batching wrappers. Each is checked against an independent `SentenceTransformer.encode` of the same folder
with the adapter's prompt, so "prompts applied" and "dimensions honoured" are asserted on the vectors."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from indices.embedder import Embedder, EmbedderError, resolve_device
from indices.embedder_settings import EMBEDDING_GEMMA, EmbedderSettings
from indices.embedders import EMBEDDERS, load_embedder
from indices.embedding_gemma import DIMENSIONS, PASSAGE_PROMPT, QUERY_PROMPT, model_folder
from indices.errors import EmbedderMismatchError
from indices.registry import IndexSettings, open_index
from indices.schema import EmbedderIdentity
from indices.text_embedder import TextEmbedder
from ingest.lazy_embedder import LazyEmbedder, open_embedder
from rag.embed_batcher import BatchingEmbedder
from tests.tiny_models import write_tiny_gemma

TEXTS = [
    "How do I renew my passport?",
    "ต่ออายุหนังสือเดินทางได้ที่ไหน",
    "Bagaimana cara memohon permit?",
    "short",
]


@pytest.fixture(scope="module")
def gemma_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models dir holding a tiny EmbeddingGemma-shaped folder where `models fetch` installs the real one."""
    models = tmp_path_factory.mktemp("models")
    write_tiny_gemma(model_folder(models))
    return models


@pytest.fixture(scope="module")
def plain_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Any sentence-transformers folder, declaring its own prompts."""
    return write_tiny_gemma(
        tmp_path_factory.mktemp("plain") / "model",
        out_dim=64,
        seed=1,
        prompts={"query": "search query : ", "document": "text : "},
    )


@dataclass
class Case:
    """An adapter under contract and the folder an independent reference loads."""

    embedder: TextEmbedder
    folder: Path
    min_cos: float  # bf16 autocast (bundled on AMX CPUs) vs the fp32 reference


def _case_e5(embedder: Embedder, **_: Any) -> Case:
    return Case(embedder, embedder.model_path, 0.995)


def _case_gemma(gemma_models: Path, **_: Any) -> Case:
    emb = load_embedder(EmbedderSettings(model=EMBEDDING_GEMMA, backend="fp32"), gemma_models)
    return Case(emb, model_folder(gemma_models), 0.9999)


def _case_gemma_256(gemma_models: Path, **_: Any) -> Case:
    settings = EmbedderSettings(model=EMBEDDING_GEMMA, backend="fp32", dimension=256)
    return Case(load_embedder(settings, gemma_models), model_folder(gemma_models), 0.9999)


def _case_folder(plain_folder: Path, tmp_path: Path, **_: Any) -> Case:
    emb = load_embedder(EmbedderSettings(model=str(plain_folder), backend="fp32"), tmp_path)
    return Case(emb, plain_folder, 0.9999)


def _case_lazy(models_dir: Path, embedder: Embedder, **_: Any) -> Case:
    open_embedder(EmbedderSettings(), models_dir)  # remembers the identity (or it already was)
    lazy = open_embedder(EmbedderSettings(), models_dir)
    assert isinstance(lazy, LazyEmbedder)
    assert not lazy.loaded
    return Case(lazy, embedder.model_path, 0.995)


def _case_batching(gemma_models: Path, **_: Any) -> Case:
    inner = load_embedder(EmbedderSettings(model=EMBEDDING_GEMMA, backend="fp32"), gemma_models)
    return Case(BatchingEmbedder(inner, max_items=2), model_folder(gemma_models), 0.9999)


CASES: dict[str, Callable[..., Case]] = {
    "e5-small": _case_e5,
    "embeddinggemma": _case_gemma,
    "embeddinggemma-256": _case_gemma_256,
    "st-folder": _case_folder,
    "lazy-e5": _case_lazy,
    "batching-gemma": _case_batching,
}


@pytest.fixture(params=sorted(CASES))
def case(
    request: pytest.FixtureRequest,
    embedder: Embedder,
    models_dir: Path,
    gemma_models: Path,
    plain_folder: Path,
    tmp_path: Path,
) -> Case:
    """Each adapter in turn."""
    return CASES[request.param](
        embedder=embedder,
        models_dir=models_dir,
        gemma_models=gemma_models,
        plain_folder=plain_folder,
        tmp_path=tmp_path,
    )


_REFERENCES: dict[Path, Any] = {}


def _reference(folder: Path, texts: list[str], prompt: str, dim: int) -> np.ndarray:
    from sentence_transformers import SentenceTransformer

    if folder not in _REFERENCES:
        _REFERENCES[folder] = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
    out = _REFERENCES[folder].encode(
        texts, prompt=prompt, normalize_embeddings=True, truncate_dim=dim, convert_to_numpy=True
    )
    return np.asarray(out, dtype=np.float32)


def test_is_a_text_embedder_with_consistent_dimension(case: Case) -> None:
    emb = case.embedder
    assert isinstance(emb, TextEmbedder)
    assert emb.identity.dim == emb.dim
    assert emb.tokenizer_file.is_file()
    for vectors in (emb.embed_queries(TEXTS), emb.embed_passages(TEXTS)):
        assert vectors.shape == (len(TEXTS), emb.dim)
        assert vectors.dtype == np.float32
        assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert emb.embed_queries([]).shape == (0, emb.dim)


def test_prompts_applied_and_dimension_honoured(case: Case) -> None:
    """Questions and passages get the adapter's own prompts; vectors equal the reference model's at the
    adapter's dimension (Matryoshka: the first N coordinates, re-normalised)."""
    emb = case.embedder
    queries = emb.embed_queries(TEXTS)
    passages = emb.embed_passages(TEXTS)
    ref_q = _reference(case.folder, TEXTS, emb.query_prompt, emb.dim)
    ref_p = _reference(case.folder, TEXTS, emb.passage_prompt, emb.dim)
    assert np.sum(queries * ref_q, axis=1).min() >= case.min_cos
    assert np.sum(passages * ref_p, axis=1).min() >= case.min_cos
    assert emb.query_prompt != emb.passage_prompt
    assert np.sum(queries * passages, axis=1).max() < 0.99999  # the prompts made a difference
    # and each vector is its own text's: order survives batching and length sorting
    single = np.vstack([emb.embed_queries([t]) for t in TEXTS])
    assert np.sum(single * queries, axis=1).min() >= 0.999


def test_identity_stored_with_index_and_mismatch_refused(case: Case, tmp_path: Path) -> None:
    emb = case.embedder
    settings = IndexSettings(path=tmp_path / "index")
    index = open_index(settings, emb.identity, tmp_path, create=True)
    index.close()
    again = open_index(settings, emb.identity, tmp_path, create=False)
    try:
        assert again.identity == emb.identity
    finally:
        again.close()
    other = EmbedderIdentity(emb.identity.name, emb.dim, "f" * 64)
    with pytest.raises(EmbedderMismatchError) as err:
        open_index(settings, other, tmp_path, create=False)
    message = str(err.value)
    assert emb.identity.fingerprint in message
    assert "f" * 64 in message
    assert "re-ingest" in message


# ---------------------------------------------------------------------- what only some adapters have
def test_gemma_uses_its_own_prompts_and_identity(gemma_models: Path) -> None:
    full = load_embedder(EmbedderSettings(model=EMBEDDING_GEMMA, backend="fp32"), gemma_models)
    cut = load_embedder(EmbedderSettings(model=EMBEDDING_GEMMA, backend="fp32", dimension=256), gemma_models)
    assert (full.query_prompt, full.passage_prompt) == (QUERY_PROMPT, PASSAGE_PROMPT)
    assert QUERY_PROMPT == "task: search result | query: "
    assert PASSAGE_PROMPT == "title: none | text: "
    assert (full.identity.name, full.dim, cut.dim) == ("embeddinggemma-300m", 768, 256)
    assert full.identity.fingerprint != cut.identity.fingerprint
    head = full.embed_queries(TEXTS)[:, :256]
    head /= np.linalg.norm(head, axis=1, keepdims=True)
    assert np.allclose(cut.embed_queries(TEXTS), head, atol=1e-5)
    own = load_embedder(
        EmbedderSettings(model=EMBEDDING_GEMMA, backend="fp32", query_prompt="query: "), gemma_models
    )
    assert own.query_prompt == "query: "
    assert own.identity.fingerprint != full.identity.fingerprint


def test_gemma_index_refuses_a_truncated_gemma(gemma_models: Path, tmp_path: Path) -> None:
    full = load_embedder(EmbedderSettings(model=EMBEDDING_GEMMA, backend="fp32"), gemma_models)
    cut = load_embedder(EmbedderSettings(model=EMBEDDING_GEMMA, backend="fp32", dimension=128), gemma_models)
    settings = IndexSettings(path=tmp_path / "index")
    open_index(settings, full.identity, tmp_path, create=True).close()
    with pytest.raises(EmbedderMismatchError, match=r"dim 768.*dim 128"):
        open_index(settings, cut.identity, tmp_path, create=False)


def test_gemma_refuses_untrained_dimensions_and_fp16(gemma_models: Path) -> None:
    with pytest.raises(EmbedderError, match=r"300 is not one embeddinggemma-300m was trained for.*768"):
        load_embedder(EmbedderSettings(model=EMBEDDING_GEMMA, dimension=300), gemma_models)
    with pytest.raises(ValueError, match="fp16"):
        EmbedderSettings(backend="fp16")  # type: ignore[arg-type]
    bf16 = load_embedder(EmbedderSettings(model=EMBEDDING_GEMMA, backend="bf16"), gemma_models)
    assert isinstance(bf16, Embedder)
    dtypes = {p.dtype for p in bf16._st.parameters()}
    assert {str(d) for d in dtypes} <= {"torch.float32", "torch.bfloat16"}
    assert bf16.embed_queries(TEXTS).shape == (len(TEXTS), 768)
    assert DIMENSIONS == (768, 512, 256, 128)


def test_gemma_not_installed_names_the_fetch_command(tmp_path: Path) -> None:
    with pytest.raises(EmbedderError, match=r"govrag models fetch embeddinggemma"):
        load_embedder(EmbedderSettings(model=EMBEDDING_GEMMA), tmp_path / "models")


def test_folder_uses_its_declared_prompts(plain_folder: Path, tmp_path: Path) -> None:
    emb = load_embedder(EmbedderSettings(model=str(plain_folder)), tmp_path)
    assert (emb.query_prompt, emb.passage_prompt) == ("search query : ", "text : ")
    assert emb.identity.name == str(plain_folder)


def test_registry_is_keyed_by_the_setting() -> None:
    assert set(EMBEDDERS) == {"bundled", "embeddinggemma"}


@pytest.mark.parametrize(
    ("wanted", "has_cuda", "expected"),
    [("auto", True, "cuda"), ("auto", False, "cpu"), ("cpu", True, "cpu"), ("cuda", True, "cuda")],
)
def test_device_selection(wanted: str, has_cuda: bool, expected: str) -> None:
    assert resolve_device(wanted, lambda: has_cuda) == expected


def test_cuda_asked_without_gpu_is_refused_clearly() -> None:
    with pytest.raises(EmbedderError, match=r"embedder\.device is 'cuda' but torch sees no CUDA GPU"):
        resolve_device("cuda", lambda: False)


def test_cpu_path_uses_cpu_batch_sizes(plain_folder: Path, tmp_path: Path) -> None:
    settings = EmbedderSettings(
        model=str(plain_folder), device="cpu", batch_size=3, max_batch_tokens=4096, cuda_batch_size=999
    )
    emb = Embedder(settings, tmp_path)
    assert emb.device == "cpu"
    assert (emb._batch_size, emb._max_batch_tokens) == (3, 4096)
    assert emb.embed_passages(TEXTS * 2).shape == (8, 64)
