"""How the index layer fails: each error names the cause and the fix.

Locking is checked with a real second process; corruption with folders damaged the way a crash or a
hand edit would; the unreachable server with a port nothing listens on.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from qdrant_client import QdrantClient, models

from indices.edge_index import META_NAME, SHARD_NAME, EdgeIndex
from indices.errors import (
    EmbedderMismatchError,
    IndexCorruptError,
    IndexLockedError,
    IndexNotFoundError,
    IndexUnavailableError,
)
from indices.registry import IndexSettings, open_index
from indices.schema import ChunkRecord, EmbedderIdentity, IndexPoint, SparseVec
from indices.server_index import ServerIndex

IDENT = EmbedderIdentity("e5-small-q4", 8, "sha256:aaaa")
REPO = Path(__file__).resolve().parents[1]


def _points(n: int = 3) -> list[IndexPoint]:
    return [
        IndexPoint(
            ChunkRecord(doc_id="doc", chunk_no=i, text=f"chunk {i}", n_chunks=n, content_hash="h"),
            [1.0 if j == i else 0.0 for j in range(8)],
            SparseVec([i + 1], [1.0]),
        )
        for i in range(n)
    ]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A closed embedded index with three chunks, built once (creation fsyncs every payload index)."""
    folder = tmp_path_factory.mktemp("template") / "govrag"
    index = EdgeIndex.open(folder, IDENT, create=True)
    index.upsert(_points())
    index.close()
    return folder


@pytest.fixture
def built(template: Path, tmp_path: Path) -> Path:
    """A private copy of the template index; returns its folder."""
    folder = tmp_path / "index" / "govrag"
    folder.parent.mkdir()
    # `cp --sparse=always`: the write-ahead log files are large and mostly holes
    subprocess.run(["cp", "-a", "--sparse=always", str(template), str(folder)], check=True)
    return folder


HOLDER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    sys.path.insert(0, {repo!r})
    from indices.edge_index import EdgeIndex
    from indices.schema import EmbedderIdentity
    index = EdgeIndex.open(Path({folder!r}), EmbedderIdentity("e5-small-q4", 8, "sha256:aaaa"), create=False)
    print("READY", index.count_chunks(), flush=True)
    sys.stdin.readline()
    index.close()
    """
)


def test_second_process_gets_locked_error_naming_folder_and_holder(built: Path) -> None:
    code = HOLDER.format(repo=str(REPO), folder=str(built))
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdin is not None
        line = proc.stdout.readline()
        assert line.split() == ["READY", "3"], proc.stderr.read() if proc.stderr else ""
        with pytest.raises(IndexLockedError) as err:
            EdgeIndex.open(built, IDENT, create=False)
        message = str(err.value)
        assert str(built) in message
        assert f"pid {proc.pid}" in message
        assert "one process at a time" in message
        proc.stdin.write("\n")
        proc.stdin.flush()
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # once the holder is gone the folder opens again, with its data
    index = EdgeIndex.open(built, IDENT, create=False)
    assert index.count_chunks() == 3
    index.close()


def test_second_open_in_the_same_process_is_locked_too(built: Path) -> None:
    first = EdgeIndex.open(built, IDENT, create=False)
    try:
        with pytest.raises(IndexLockedError, match=str(built)):
            EdgeIndex.open(built, IDENT, create=False)
    finally:
        first.close()
    EdgeIndex.open(built, IDENT, create=False).close()


def test_missing_folder_is_not_found_and_says_to_ingest(tmp_path: Path) -> None:
    settings = IndexSettings(path=tmp_path / "nowhere")
    with pytest.raises(IndexNotFoundError, match="govrag ingest") as err:
        open_index(settings, IDENT, tmp_path, create=False)
    assert str(tmp_path / "nowhere" / "govrag") in str(err.value)
    assert not (tmp_path / "nowhere").exists()
    (tmp_path / "empty").mkdir()
    with pytest.raises(IndexNotFoundError, match="govrag ingest"):
        EdgeIndex.open(tmp_path / "empty", IDENT, create=False)


def test_reopen_keeps_data_and_checks_the_embedder(built: Path) -> None:
    index = EdgeIndex.open(built, IDENT, create=True)
    assert index.count_chunks() == 3
    assert [c.text for c in index.get_chunks("doc")] == ["chunk 0", "chunk 1", "chunk 2"]
    index.close()
    assert json.loads((built / META_NAME).read_text())["embedder"] == IDENT.as_dict()
    other = EmbedderIdentity("bge-m3", 1024, "sha256:bbbb")
    with pytest.raises(EmbedderMismatchError) as err:
        EdgeIndex.open(built, other, create=True)
    message = str(err.value)
    for part in (
        "e5-small-q4",
        "bge-m3",
        "dim 8",
        "dim 1024",
        str(built),
        "govrag ingest",
        "set the embedder back",
    ):
        assert part in message
    # same name and dimension, other weights: still refused
    with pytest.raises(EmbedderMismatchError, match="sha256:cccc"):
        EdgeIndex.open(built, EmbedderIdentity("e5-small-q4", 8, "sha256:cccc"), create=False)
    # the refused opens released the folder lock
    EdgeIndex.open(built, IDENT, create=False).close()


def _garbage_meta(folder: Path) -> None:
    (folder / META_NAME).write_text("{not json")


def _no_meta(folder: Path) -> None:
    (folder / META_NAME).unlink()


def _meta_without_embedder(folder: Path) -> None:
    (folder / META_NAME).write_text(json.dumps({"format": 1}))


def _garbage_shard_config(folder: Path) -> None:
    (folder / SHARD_NAME / "edge_config.json").write_text("{{{")


def _damaged_segment(folder: Path) -> None:
    for version in (folder / SHARD_NAME / "segments").rglob("version.info"):
        version.write_text("garbage")


@pytest.mark.parametrize(
    "damage", [_garbage_meta, _no_meta, _meta_without_embedder, _garbage_shard_config, _damaged_segment]
)
def test_corrupt_folder(built: Path, damage: object) -> None:
    damage(built)  # type: ignore[operator]
    with pytest.raises(IndexCorruptError) as err:
        EdgeIndex.open(built, IDENT, create=True)
    assert str(built) in str(err.value)
    assert "govrag ingest" in str(err.value)
    # the lock was released: a retry fails the same way, not with IndexLockedError
    with pytest.raises(IndexCorruptError):
        EdgeIndex.open(built, IDENT, create=False)


def test_unreachable_server_names_url_and_hint(tmp_path: Path) -> None:
    settings = IndexSettings(backend="server", url="http://127.0.0.1:1", timeout_s=3)
    with pytest.raises(IndexUnavailableError) as err:
        open_index(settings, IDENT, tmp_path, create=True)
    message = str(err.value)
    assert "http://127.0.0.1:1" in message
    assert "index.url" in message
    assert "embedded" in message


def test_server_collection_missing_and_identity_checks() -> None:
    client = QdrantClient(":memory:")
    settings = IndexSettings(backend="server", url=":memory:", collection="govrag_test")
    with pytest.raises(IndexNotFoundError, match="govrag ingest"):
        ServerIndex.attach(client, settings, IDENT, create=False, where="memory")
    index = ServerIndex.attach(client, settings, IDENT, create=True, where="memory")
    index.upsert(_points())
    stored = client.get_collection("govrag_test").config.metadata
    assert stored == {"govrag": {"format": 1, "embedder": IDENT.as_dict()}}
    # reopening with the same embedder works and sees the data
    assert ServerIndex.attach(client, settings, IDENT, create=False, where="memory").count_chunks() == 3
    with pytest.raises(EmbedderMismatchError) as err:
        ServerIndex.attach(client, settings, EmbedderIdentity("bge-m3", 8, "x"), create=False, where="memory")
    assert "e5-small-q4" in str(err.value)
    assert "bge-m3" in str(err.value)
    assert "new collection" in str(err.value)


def test_server_collection_not_made_by_govrag() -> None:
    client = QdrantClient(":memory:")
    settings = IndexSettings(backend="server", url=":memory:", collection="foreign")
    client.create_collection(
        "foreign", vectors_config=models.VectorParams(size=8, distance=models.Distance.DOT)
    )
    with pytest.raises(IndexCorruptError, match="not created by govrag"):
        ServerIndex.attach(client, settings, IDENT, create=False, where="memory")
    # a collection of the right shape but without metadata (older server) is adopted and labelled
    client.create_collection(
        "legacy",
        vectors_config={"dense": models.VectorParams(size=8, distance=models.Distance.COSINE)},
        sparse_vectors_config={"bm25": models.SparseVectorParams(modifier=models.Modifier.IDF)},
    )
    legacy = settings.model_copy(update={"collection": "legacy"})
    ServerIndex.attach(client, legacy, IDENT, create=False, where="memory")
    metadata = client.get_collection("legacy").config.metadata or {}
    assert metadata["govrag"]["embedder"] == IDENT.as_dict()
    with pytest.raises(EmbedderMismatchError, match="dim 8"):
        ServerIndex.attach(client, legacy, EmbedderIdentity("big", 16, "y"), create=False, where="memory")


def test_missing_payload_index_is_recreated_on_open(built: Path) -> None:
    import qdrant_edge as qe

    index = EdgeIndex.open(built, IDENT, create=False)
    index._shard.update(qe.UpdateOperation.delete_field_index("agency"))
    assert "agency" not in index._shard.info().payload_schema
    index.close()
    index = EdgeIndex.open(built, IDENT, create=False)
    schema = index._shard.info().payload_schema
    assert schema["agency"].data_type == qe.PayloadSchemaType.Keyword
    assert schema["agency"].params.enable_hnsw is True
    assert schema["content_hash"].params.enable_hnsw is False
    index.close()


def test_server_payload_index_requests() -> None:
    """A real server is not available here: check the requests a server would get (missing fields only)."""

    class Recorder:
        def __init__(self) -> None:
            self.created: dict[str, object] = {}

        def get_collection(self, name: str) -> object:
            return type("Info", (), {"payload_schema": {"doc_id": object()}})()

        def create_payload_index(self, name: str, field: str, field_schema: object, wait: bool) -> None:
            assert wait
            self.created[field] = field_schema

    rec = Recorder()
    ServerIndex._ensure_payload_indexes(rec, "govrag", local=False)
    assert "doc_id" not in rec.created
    assert set(rec.created) >= {"agency", "groups", "lang", "chunk_no", "doc_date", "content_hash"}
    agency, chunk_no, doc_date = rec.created["agency"], rec.created["chunk_no"], rec.created["doc_date"]
    assert isinstance(agency, models.KeywordIndexParams)
    assert agency.enable_hnsw is True
    assert isinstance(chunk_no, models.IntegerIndexParams)
    assert (chunk_no.lookup, chunk_no.range, chunk_no.enable_hnsw) == (True, True, False)
    assert isinstance(doc_date, models.FloatIndexParams)
    assert doc_date.enable_hnsw is True
    ServerIndex._ensure_payload_indexes(rec := Recorder(), "govrag", local=True)
    assert rec.created == {}


def test_server_collection_is_created_with_the_configured_layout() -> None:
    """Shards, replication, consistency and storage settings reach create_collection (recorded requests:
    local mode ignores cluster parameters); on-disk vectors are honoured by local mode too."""
    created: dict[str, Any] = {}

    class Recorder:
        def create_collection(self, name: str, **kwargs: Any) -> None:
            created.update(kwargs, name=name)

    settings = IndexSettings(
        backend="server", collection="c", shards=6, replication=2, write_consistency=2, vectors_on_disk=True
    )
    ServerIndex._create(Recorder(), settings, IDENT)
    assert (created["shard_number"], created["replication_factor"], created["write_consistency_factor"]) == (
        6,
        2,
        2,
    )
    assert created["on_disk_payload"] is True
    assert created["vectors_config"]["dense"].on_disk is True

    client = QdrantClient(":memory:")
    ServerIndex.attach(
        client, settings.model_copy(update={"url": ":memory:"}), IDENT, create=True, where="memory"
    )
    assert client.get_collection("c").config.params.vectors["dense"].on_disk is True


def test_server_collection_with_another_layout_is_refused_with_the_fix() -> None:
    from indices.errors import IndexLayoutError
    from indices.server_index import check_layout

    dense = models.VectorParams(size=8, distance=models.Distance.COSINE, on_disk=False)
    reported = models.CollectionParams(
        vectors={"dense": dense}, shard_number=3, replication_factor=1, write_consistency_factor=1,
        on_disk_payload=True,
    )  # fmt: skip
    settings = IndexSettings(backend="server", shards=3)
    check_layout(reported, settings, "Collection 'govrag'")  # matches: no error
    wanted = settings.model_copy(update={"shards": 6, "replication": 2, "vectors_on_disk": True})
    with pytest.raises(IndexLayoutError) as err:
        check_layout(reported, wanted, "Collection 'govrag'")
    message = str(err.value)
    assert "shard_number is 3 there but 6 in the settings (fixed at creation" in message
    assert "replication_factor is 1 there but 2" in message
    assert "update_collection" in message
    assert "dense vectors on_disk is False there but True" in message
    # values a server does not report (local mode) are not compared
    silent = models.CollectionParams(vectors={"dense": dense}, shard_number=None, replication_factor=None)
    check_layout(silent, settings.model_copy(update={"shards": 9, "replication": 3}), "local")
