"""The `VectorIndex` contract, run against both adapters on the same data.

`TestIndexContract` is parametrized over the embedded adapter (Qdrant Edge in tmp_path) and the server
adapter (qdrant-client on ":memory:"); `test_adapters_return_the_same_ids` runs one query set on both
and compares the result ids. Sparse vectors come from Qdrant Edge's own BM25 (multilingual tokenizer,
term-frequency weights for documents, 1.0 per unique query token; IDF is applied by the index), dense
vectors from a deterministic "topic + noise" function.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from qdrant_edge import Bm25, Bm25Config, TokenizerType

from indices.registry import IndexSettings, open_index
from indices.schema import (
    ChunkRecord,
    EmbedderIdentity,
    IndexPoint,
    SearchFilter,
    SearchMode,
    SearchQuery,
    SparseVec,
)
from indices.vector_index import VectorIndex

DIM = 16
IDENTITY = EmbedderIdentity("toy-topic-embedder", DIM, "sha256:0123abcd")
BM25 = Bm25(Bm25Config(tokenizer=TokenizerType.Multilingual))


def _ts(year: int, month: int = 1) -> float:
    return datetime(year, month, 1, tzinfo=UTC).timestamp()


def topic_vec(topic: str) -> np.ndarray:
    """A fixed unit vector per topic name."""
    v = np.random.default_rng(zlib.crc32(topic.encode())).normal(size=DIM)
    return v / np.linalg.norm(v)


def chunk_vec(topic: str, key: str, noise: float = 0.35) -> list[float]:
    """The topic vector plus deterministic per-chunk noise, normalised."""
    n = np.random.default_rng(zlib.crc32(key.encode())).normal(size=DIM)
    v = topic_vec(topic) + noise * n / np.linalg.norm(n)
    return [float(x) for x in v / np.linalg.norm(v)]


def doc_sparse(text: str) -> SparseVec:
    sv = BM25.embed_document(text)
    return SparseVec(list(sv.indices), list(sv.values))


def query_sparse(text: str) -> SparseVec:
    sv = BM25.embed_query(text)
    return SparseVec(list(sv.indices), list(sv.values))


@dataclass
class Doc:
    doc_id: str
    topic: str
    lang: str
    agency: str
    groups: list[str]
    date: float | None
    chunks: list[str]


# fmt: off
DOCS = [
    Doc("en-tax", "tax", "en", "finance", ["public"], _ts(2023, 3), [
        "Income tax returns for individuals are due on the fifteenth of April.",
        "Late filing of the income tax return carries a penalty of five percent per month.",
        "Employers must send annual salary statements to every employee before the end of February.",
    ]),
    Doc("ms-tax", "tax", "ms", "finance", ["public"], _ts(2024, 2), [
        "Cukai pendapatan individu perlu difailkan sebelum 30 April setiap tahun.",
        "Pembayar cukai boleh memohon pelepasan bagi perbelanjaan pendidikan dan perubatan ibu bapa.",
    ]),
    Doc("th-tax", "tax", "th", "revenue-th", ["public"], _ts(2024, 5), [
        "กรมสรรพากรประกาศขยายเวลายื่นแบบแสดงรายการภาษีเงินได้บุคคลธรรมดา",
        "ผู้เสียภาษีสามารถยื่นแบบออนไลน์ได้ตลอดยี่สิบสี่ชั่วโมง",
    ]),
    Doc("zh-tax", "tax", "zh", "iras", ["public"], _ts(2022, 7), [
        "新加坡国内税务局提醒纳税人按时申报个人所得税。",
        "逾期申报将被处以罚款，纳税人可以通过网上系统提交申报表。",
    ]),
    Doc("en-health", "health", "en", "health", ["public"], _ts(2022, 1), [
        "Children should receive the measles vaccine at twelve months of age.",
        "Public clinics offer free vaccination for all citizens under eighteen years old.",
        "Bring the child health booklet to every clinic appointment.",
    ]),
    Doc("vi-health", "health", "vi", "health", ["public"], _ts(2021, 6), [
        "Trẻ em cần được tiêm vắc xin sởi khi được mười hai tháng tuổi.",
        "Các trạm y tế xã cung cấp tiêm chủng miễn phí cho trẻ em.",
    ]),
    Doc("secret-tax", "tax", "en", "finance", ["finance-staff"], _ts(2024, 8), [
        "Internal audit plan: income tax returns flagged for review in the next quarter.",
        "Audit selection criteria and thresholds for individual income tax cases.",
    ]),
    Doc("hr-memo", "hr", "en", "civil-service", ["hr", "finance-staff"], None, [
        "Salary scales for the civil service will be revised next year.",
        "Annual leave entitlement increases with years of service.",
    ]),
]
# fmt: on
BY_ID = {d.doc_id: d for d in DOCS}
ALL_IDS = {d.doc_id for d in DOCS}
N_CHUNKS = sum(len(d.chunks) for d in DOCS)


def make_points(doc: Doc, content_hash: str = "v1", texts: list[str] | None = None) -> list[IndexPoint]:
    texts = texts if texts is not None else doc.chunks
    return [
        IndexPoint(
            record=ChunkRecord(
                doc_id=doc.doc_id,
                chunk_no=i,
                text=text,
                title=f"Title of {doc.doc_id}",
                source=f"https://example.gov/{doc.doc_id}.pdf",
                page=i + 1,
                section=["Part 1"],
                lang=doc.lang,
                agency=doc.agency,
                groups=list(doc.groups),
                content_hash=content_hash,
                n_chunks=len(texts),
                ingested_at=1_700_000_000.0,
                doc_date=doc.date,
                root="intranet" if "public" not in doc.groups else "web",
            ),
            dense=chunk_vec(doc.topic, f"{doc.doc_id}#{i}"),
            sparse=doc_sparse(text),
        )
        for i, text in enumerate(texts)
    ]


ALL_POINTS = [p for d in DOCS for p in make_points(d)]


def open_backend(backend: str, home: Path) -> VectorIndex:
    settings = IndexSettings(backend=backend, url=":memory:")  # type: ignore[arg-type]
    return open_index(settings, IDENTITY, home, create=True)


def loaded(backend: str, home: Path) -> VectorIndex:
    index = open_backend(backend, home)
    shuffled = list(ALL_POINTS)
    random.Random(7).shuffle(shuffled)
    index.upsert(shuffled)
    index.optimize()
    return index


def q(topic: str | None = "tax", text: str | None = None, **kw: object) -> SearchQuery:
    dense = chunk_vec(topic, "query", noise=0.1) if topic else None
    sparse = query_sparse(text) if text is not None else None
    return SearchQuery(dense=dense, sparse=sparse, **kw)  # type: ignore[arg-type]


FILTER_CASES: dict[str, tuple[SearchFilter, set[str]]] = {
    "agency": (
        SearchFilter(agencies=["finance", "health"]),
        {"en-tax", "ms-tax", "en-health", "vi-health", "secret-tax"},
    ),
    "lang": (SearchFilter(langs=["th", "zh"]), {"th-tax", "zh-tax"}),
    "doc_ids": (SearchFilter(doc_ids=["ms-tax", "hr-memo"]), {"ms-tax", "hr-memo"}),
    "exclude": (SearchFilter(exclude_doc_ids=["en-tax", "secret-tax"]), ALL_IDS - {"en-tax", "secret-tax"}),
    "date_from": (SearchFilter(date_from=_ts(2024)), {"ms-tax", "th-tax", "secret-tax"}),
    "date_to": (SearchFilter(date_to=_ts(2022, 6)), {"en-health", "vi-health"}),
    "date_range": (
        SearchFilter(date_from=_ts(2022), date_to=_ts(2023, 12)),
        {"en-tax", "zh-tax", "en-health"},
    ),
    "groups_public": (SearchFilter(groups=["public"]), ALL_IDS - {"secret-tax", "hr-memo"}),
    "groups_hr": (SearchFilter(groups=["hr"]), {"hr-memo"}),
    "groups_finance_staff": (SearchFilter(groups=["finance-staff", "nobody"]), {"secret-tax", "hr-memo"}),
    "combined": (SearchFilter(agencies=["finance"], langs=["en"], groups=["public", "hr"]), {"en-tax"}),
    "roots": (SearchFilter(roots=["intranet"]), {"secret-tax", "hr-memo"}),
    "empty_lists_are_no_condition": (SearchFilter(agencies=[], langs=[], doc_ids=[], roots=[]), ALL_IDS),
}


BACKENDS = ["embedded", "server"]


@pytest.fixture(params=BACKENDS)
def index(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[VectorIndex]:
    """A fresh loaded index per test (for tests that modify it)."""
    idx = loaded(request.param, tmp_path)
    yield idx
    idx.close()


@pytest.fixture(scope="class", params=BACKENDS)
def shared(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[VectorIndex]:
    """One loaded index per backend for the read-only tests (creating an index fsyncs ~10 payload indexes)."""
    idx = loaded(request.param, tmp_path_factory.mktemp(request.param))
    yield idx
    idx.close()


class TestIndexContract:
    """What every `VectorIndex` adapter must do, checked on the same data for both."""

    def test_identity_and_counts(self, shared: VectorIndex) -> None:
        assert isinstance(shared, VectorIndex)
        assert shared.identity == IDENTITY
        assert shared.count_chunks() == N_CHUNKS
        assert shared.count_documents() == len(DOCS)
        assert shared.count_chunks(SearchFilter(langs=["th"])) == 2
        assert shared.count_documents(SearchFilter(groups=["public"])) == 6
        assert shared.count_documents(SearchFilter(groups=[])) == 0

    def test_upsert_overwrites_by_deterministic_id(self, index: VectorIndex) -> None:
        doc = BY_ID["en-tax"]
        index.upsert(make_points(doc, texts=[t.upper() for t in doc.chunks]))
        index.upsert(make_points(doc, texts=[t.upper() for t in doc.chunks]))
        assert index.count_chunks() == N_CHUNKS
        assert [c.text for c in index.get_chunks("en-tax")] == [t.upper() for t in doc.chunks]

    def test_get_chunks_returns_records_in_chunk_order(self, shared: VectorIndex) -> None:
        chunks = shared.get_chunks("en-health")
        assert [c.chunk_no for c in chunks] == [0, 1, 2]
        assert [c.text for c in chunks] == BY_ID["en-health"].chunks
        first = chunks[0]
        assert (first.title, first.page, first.section, first.groups) == (
            "Title of en-health",
            1,
            ["Part 1"],
            ["public"],
        )
        assert first.doc_date == BY_ID["en-health"].date
        assert shared.get_chunks("no-such-doc") == []

    def test_delete_documents(self, index: VectorIndex) -> None:
        before = index.count_documents()
        index.delete_documents(["en-tax", "zh-tax", "no-such-doc"])
        assert index.count_chunks() == N_CHUNKS - 5
        assert index.count_documents() == before - 2  # deleted documents are not counted
        assert index.get_chunks("en-tax") == []
        hits = index.search(q("tax", limit=20, one_per_doc=True))
        assert {h.record.doc_id for h in hits}.isdisjoint({"en-tax", "zh-tax"})
        index.delete_documents([])
        assert index.count_chunks() == N_CHUNKS - 5

    def test_stale_chunks_and_document_states(self, index: VectorIndex) -> None:
        doc = BY_ID["en-tax"]
        states = index.document_states(["en-tax", "ms-tax", "missing"])
        assert set(states) == {"en-tax", "ms-tax"}
        assert states["en-tax"].complete_hash == "v1"
        assert states["en-tax"].n_points == 3
        # a new, shorter version overwrites chunks 0-1 and leaves chunk 2 of v1 behind
        index.upsert(
            make_points(doc, "v2", texts=["New rules: returns are due in May.", "No penalty until June."])
        )
        state = index.document_states(["en-tax"])["en-tax"]
        assert state.content_hashes == {"v1", "v2"}
        assert state.n_points == 3
        assert state.complete_hash is None
        index.delete_stale_chunks("en-tax", "v2")
        state = index.document_states(["en-tax"])["en-tax"]
        assert (state.content_hashes, state.n_points, state.complete_hash) == ({"v2"}, 2, "v2")
        assert [c.text for c in index.get_chunks("en-tax")][1] == "No penalty until June."
        assert index.count_chunks() == N_CHUNKS - 1

    def test_iter_documents(self, shared: VectorIndex) -> None:
        docs = list(shared.iter_documents())
        assert [d.doc_id for d in docs] == sorted(ALL_IDS)
        th = next(d for d in docs if d.doc_id == "th-tax")
        assert (th.lang, th.agency, th.groups, th.n_chunks, th.content_hash) == (
            "th",
            "revenue-th",
            ["public"],
            2,
            "v1",
        )
        assert th.title == "Title of th-tax"
        assert [d.doc_id for d in shared.iter_documents(SearchFilter(groups=["hr"]))] == ["hr-memo"]
        assert list(shared.iter_documents(SearchFilter(groups=[]))) == []

    def test_versions_lists_each_document_of_a_series_once(self, index: VectorIndex) -> None:
        def version(
            doc_id: str, series: list[str], eff: float | None, groups: list[str], **extra: object
        ) -> list[IndexPoint]:
            doc = Doc(doc_id, "tax", "en", "finance", groups, eff, ["Fee circular text.", "More fee text."])
            points = make_points(doc)
            for p in points:
                p.record.series, p.record.effective_from, p.record.extra = series, eff, dict(extra)
            return points

        index.upsert(version("fee-2025", ["ref:finance:12", "doc:fee-2025"], _ts(2025), ["public"]))
        index.upsert(version("fee-2026", ["ref:finance:12", "doc:fee-2026"], _ts(2026), ["public"]))
        index.upsert(
            version("fee-note", ["doc:fee-note", "doc:fee-2025"], None, ["public"], supersedes=["fee-2025"])
        )
        index.upsert(version("fee-internal", ["ref:finance:12"], _ts(2026, 6), ["finance-staff"]))
        found = index.versions(["ref:finance:12", "doc:fee-2025"], SearchFilter(groups=["public"]))
        assert [v.doc_id for v in found] == ["fee-2025", "fee-2026", "fee-note"]  # one each, no hidden one
        assert (found[1].effective_from, found[1].series, found[1].title) == (
            _ts(2026),
            ["ref:finance:12", "doc:fee-2026"],
            "Title of fee-2026",
        )
        assert (found[0].supersedes, found[2].supersedes, found[2].effective_from) == ([], ["fee-2025"], None)
        assert [v.doc_id for v in index.versions(["ref:finance:12"])] == [
            "fee-2025",
            "fee-2026",
            "fee-internal",
        ]
        assert index.versions(["ref:finance:12"], SearchFilter(groups=[])) == []
        assert index.versions([]) == []
        index.delete_documents(["fee-2026"])
        assert [v.doc_id for v in index.versions(["ref:finance:12"], SearchFilter(groups=["public"]))] == [
            "fee-2025"
        ]

    @pytest.mark.parametrize("case", sorted(FILTER_CASES))
    @pytest.mark.parametrize("mode", list(SearchMode))
    def test_each_filter_is_applied(self, shared: VectorIndex, case: str, mode: SearchMode) -> None:
        flt, expected = FILTER_CASES[case]
        # a query every chunk answers a little: BM25 side matches all the docs' vocabulary
        text = " ".join(c for d in DOCS for c in d.chunks)
        hits = shared.search(q("tax", text, mode=mode, filter=flt, limit=50, one_per_doc=True))
        assert {h.record.doc_id for h in hits} == expected
        assert shared.count_documents(flt) == len(expected)
        assert shared.count_chunks(flt) == sum(len(BY_ID[d].chunks) for d in expected)

    def test_access_groups_are_applied_inside_the_query(self, shared: VectorIndex) -> None:
        secret = ALL_POINTS[[p.record.doc_id for p in ALL_POINTS].index("secret-tax")]
        query = SearchQuery(dense=secret.dense, sparse=query_sparse(secret.record.text), limit=1)
        # the unrestricted top hit is the secret chunk itself ...
        assert (
            shared.search(replace(query, filter=SearchFilter(groups=None)))[0].record.doc_id == "secret-tax"
        )
        # ... a public caller still gets a full top-1, from a document they may see (filter before top-k)
        public = shared.search(replace(query, filter=SearchFilter(groups=["public"])))
        assert len(public) == 1
        assert public[0].record.doc_id != "secret-tax"
        assert "public" in public[0].record.groups
        assert shared.search(replace(query, filter=SearchFilter(groups=[]))) == []

    @pytest.mark.parametrize("groups", [["public"], ["hr"], ["finance-staff"], ["hr", "public"], ["x"]])
    def test_no_chunk_without_a_shared_group(self, shared: VectorIndex, groups: list[str]) -> None:
        for topic in ("tax", "health", "hr"):
            for mode in SearchMode:
                for one in (True, False):
                    query = q(
                        topic,
                        "income tax salary audit vaccine",
                        mode=mode,
                        limit=30,
                        one_per_doc=one,
                        filter=SearchFilter(groups=groups),
                    )
                    hits = shared.search(query)
                    assert all(set(h.record.groups) & set(groups) for h in hits)
                    visible = sum(len(d.chunks) for d in DOCS if set(d.groups) & set(groups))
                    if mode is SearchMode.DENSE and not one:
                        assert len(hits) == visible

    @pytest.mark.parametrize(
        ("text", "doc_id", "chunk_no"),
        [
            ("ภาษีเงินได้", "th-tax", 0),
            ("ออนไลน์", "th-tax", 1),
            ("个人所得税", "zh-tax", 0),
            ("网上系统", "zh-tax", 1),
        ],
    )
    def test_hybrid_finds_thai_and_chinese_by_keyword(
        self, shared: VectorIndex, text: str, doc_id: str, chunk_no: int
    ) -> None:
        # the dense side is uninformative: a "health" query vector, far from the tax documents
        for mode in (SearchMode.HYBRID, SearchMode.BM25):
            hits = shared.search(q("health", text, mode=mode, limit=3, one_per_doc=False))
            assert (hits[0].record.doc_id, hits[0].record.chunk_no) == (doc_id, chunk_no), mode
        dense_only = shared.search(q("health", text, mode=SearchMode.DENSE, limit=3, one_per_doc=False))
        assert dense_only[0].record.doc_id != doc_id

    def test_modes_dense_bm25_and_score_fusion(self, shared: VectorIndex) -> None:
        query = q("tax", "income tax return penalty", limit=N_CHUNKS, one_per_doc=False, prefetch=N_CHUNKS)
        dense = shared.search(replace(query, mode=SearchMode.DENSE))
        # dense = exact cosine ranking of every chunk
        qv = np.asarray(query.dense)
        expected = sorted(ALL_POINTS, key=lambda p: -float(np.dot(qv, p.dense)))
        assert [h.id for h in dense] == [p.record.point_id for p in expected]
        assert dense[0].score == pytest.approx(float(np.dot(qv, expected[0].dense)), abs=1e-4)
        # BM25 returns only chunks sharing a query token
        bm25 = shared.search(replace(query, mode=SearchMode.BM25))
        assert bm25
        assert all(
            {"income", "tax", "return", "penalty"} & set(h.record.text.lower().replace(".", "").split())
            or "returns" in h.record.text.lower()
            for h in bm25
        )
        # hybrid = equal-weight sum of each list's standardised scores (the default fusion,
        # IndexSettings.fusion="zscore"); BM25 returned fewer chunks than asked, so every other chunk
        # scores 0 for it and counts in its statistics (dense holds every chunk)
        ids = [h.id for h in dense]
        fused = dict.fromkeys(ids, 0.0)
        for ranking in (dense, bm25):
            raw = {h.id: h.score for h in ranking}
            scores = np.array([raw.get(i, 0.0) for i in ids])
            for i, z in zip(ids, (scores - scores.mean()) / scores.std(), strict=True):
                fused[i] += 0.5 * float(z)
        hybrid = shared.search(replace(query, mode=SearchMode.HYBRID))
        assert [h.id for h in hybrid] == sorted(fused, key=lambda i: (-round(fused[i], 6), i))
        assert [h.score for h in hybrid] == pytest.approx(sorted(fused.values(), reverse=True), abs=1e-5)
        # exact search gives the same answer on a collection this small
        assert [h.id for h in shared.search(replace(query, exact=True))] == [h.id for h in hybrid]

    @pytest.mark.parametrize("mode", list(SearchMode))
    def test_one_per_doc_keeps_each_documents_best_chunk(self, shared: VectorIndex, mode: SearchMode) -> None:
        query = q("tax", "income tax returns penalty cukai", mode=mode, limit=4, prefetch=N_CHUNKS)
        grouped = shared.search(query)
        everything = shared.search(replace(query, one_per_doc=False, limit=N_CHUNKS))
        best: dict[str, str] = {}
        for hit in everything:
            best.setdefault(hit.record.doc_id, hit.id)
        assert len(grouped) == min(4, len(best))
        assert len({h.record.doc_id for h in grouped}) == len(grouped)
        assert [h.id for h in grouped] == list(best.values())[: len(grouped)]

    def test_query_validation(self, shared: VectorIndex) -> None:
        with pytest.raises(ValueError, match="dense"):
            shared.search(SearchQuery(dense=None, sparse=query_sparse("tax"), mode=SearchMode.DENSE))
        with pytest.raises(ValueError, match="16"):
            shared.search(SearchQuery(dense=[1.0, 0.0], sparse=None, mode=SearchMode.DENSE))
        with pytest.raises(ValueError, match="expects 16"):
            shared.upsert([replace(ALL_POINTS[0], dense=[0.5] * 3)])
        # a query whose tokens are all unknown: BM25 finds nothing, hybrid degrades to dense
        empty = SparseVec([], [])
        assert shared.search(SearchQuery(dense=None, sparse=empty, mode=SearchMode.BM25)) == []
        hybrid = shared.search(SearchQuery(dense=chunk_vec("tax", "q"), sparse=empty, limit=3))
        dense = shared.search(
            SearchQuery(dense=chunk_vec("tax", "q"), sparse=None, mode=SearchMode.DENSE, limit=3)
        )
        assert [h.id for h in hybrid] == [h.id for h in dense]


QUERIES: list[SearchQuery] = [
    q(topic, text, mode=mode, limit=limit, one_per_doc=one, filter=flt)
    for topic, text in (
        ("tax", "income tax return"),
        ("health", "vaccine วัคซีน"),
        ("hr", "ภาษีเงินได้ 个人所得税"),
    )
    for mode in SearchMode
    for one in (True, False)
    for limit in (3, 10)
    for flt in (
        SearchFilter(),
        SearchFilter(groups=["public"]),
        SearchFilter(agencies=["finance"], date_from=_ts(2023)),
    )
]


def test_adapters_return_the_same_ids(tmp_path: Path) -> None:
    edge, server = loaded("embedded", tmp_path / "e"), loaded("server", tmp_path / "s")
    try:
        compared = 0
        for query in QUERIES:
            a, b = edge.search(query), server.search(query)
            assert [h.id for h in a] == [h.id for h in b], query
            assert [h.score for h in a] == pytest.approx([h.score for h in b], abs=1e-4)
            compared += bool(a)
        assert compared > len(QUERIES) // 2
        assert list(edge.iter_documents()) == list(server.iter_documents())
        assert edge.document_states(list(ALL_IDS)) == server.document_states(list(ALL_IDS))
    finally:
        edge.close()
        server.close()
