"""`rag.embed_batcher`: concurrent embedding calls share forward passes; each caller gets its own vectors."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest

from rag.embed_batcher import BatchingEmbedder, EmbedBatcher


class _SlowModel:
    """Deterministic vectors per text; every call takes a while and is recorded."""

    def __init__(self, delay: float = 0.05, fail_on: str | None = None) -> None:
        self.calls: list[list[str]] = []
        self.delay = delay
        self.fail_on = fail_on
        self._lock = threading.Lock()
        self.active = 0
        self.max_active = 0

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            self.calls.append(list(texts))
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            time.sleep(self.delay)
            if self.fail_on is not None and self.fail_on in texts:
                raise RuntimeError(f"model failed on {self.fail_on!r}")
            return np.stack([_vec(t) for t in texts]) if texts else np.zeros((0, 4), dtype=np.float32)
        finally:
            with self._lock:
                self.active -= 1


def _vec(text: str) -> np.ndarray:
    digest = hashlib.sha256(text.encode()).digest()
    return np.frombuffer(digest[:16], dtype=np.float32).copy()


def test_concurrent_callers_share_forwards_and_get_their_own_vectors() -> None:
    model = _SlowModel()
    batcher = EmbedBatcher(model, max_items=64)
    requests = [[f"q{i}-{j}" for j in range(i % 3 + 1)] for i in range(24)]
    with ThreadPoolExecutor(12) as pool:
        results = list(pool.map(batcher.embed, requests))
    for texts, vectors in zip(requests, results, strict=True):
        assert vectors.shape == (len(texts), 4)
        np.testing.assert_array_equal(vectors, np.stack([_vec(t) for t in texts]))
    assert sorted(t for call in model.calls for t in call) == sorted(t for r in requests for t in r)
    assert len(model.calls) < len(requests)  # some requests shared a forward
    assert model.max_active == 1  # one forward at a time
    assert batcher.batches == len(model.calls)


def test_a_lone_caller_runs_at_once_and_batches_respect_the_size_cap() -> None:
    model = _SlowModel(delay=0.0)
    batcher = EmbedBatcher(model, max_items=4)
    np.testing.assert_array_equal(batcher.embed(["a", "b"]), np.stack([_vec("a"), _vec("b")]))
    assert model.calls == [["a", "b"]]
    assert batcher.embed([]).shape == (0, 4)
    slow = _SlowModel(delay=0.03)
    capped = EmbedBatcher(slow, max_items=4)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(capped.embed, [[f"t{i}", f"u{i}", f"v{i}"] for i in range(8)]))
    assert all(len(call) <= 4 for call in slow.calls)  # 3 + 3 would exceed the cap: never combined


def test_a_model_error_reaches_only_the_caller_whose_text_failed() -> None:
    model = _SlowModel(delay=0.05, fail_on="bad")
    batcher = EmbedBatcher(model, max_items=64)
    errors: list[str] = []
    ok: list[np.ndarray] = []

    def call(texts: list[str]) -> None:
        try:
            ok.append(batcher.embed(texts))
        except RuntimeError as exc:
            errors.append(str(exc))

    first = threading.Thread(target=call, args=(["first"],))
    first.start()
    time.sleep(0.01)  # "first" is in the model; the next two queue up and share the next forward
    others = [threading.Thread(target=call, args=(t,)) for t in (["bad"], ["innocent"])]
    for t in others:
        t.start()
    for t in [first, *others]:
        t.join(timeout=10)
    assert len(ok) == 2  # "first" and "innocent" (retried alone after its shared batch failed)
    assert errors == ["model failed on 'bad'"]
    assert ["bad", "innocent"] in model.calls
    assert batcher.embed(["after"]).shape == (1, 4)  # the batcher still works


def test_batched_real_vectors_equal_unbatched_ones(embedder: Any) -> None:
    questions = [
        "How much does it cost to renew a passport?",
        "ค่าธรรมเนียมจดทะเบียนพาณิชย์เท่าไร",
        "Berapakah bantuan wang ihsan banjir?",
        "领取新护照需要多长时间\uff1f",
    ]
    alone = embedder.embed_queries(questions)
    batching = BatchingEmbedder(embedder)
    with ThreadPoolExecutor(4) as pool:
        together = np.concatenate(list(pool.map(lambda q: batching.embed_queries([q]), questions)))
    assert together.shape == alone.shape
    assert np.min(np.sum(together * alone, axis=1)) > 0.999
    assert batching.identity == embedder.identity  # everything else is delegated


@pytest.mark.parametrize("max_items", [0, -1])
def test_invalid_cap_is_refused(max_items: int) -> None:
    with pytest.raises(ValueError, match="max_items must be >= 1"):
        EmbedBatcher(_SlowModel(), max_items=max_items)
