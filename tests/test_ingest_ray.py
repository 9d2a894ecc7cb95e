"""`govrag ingest --executor ray` on a real two-node Ray cluster on loopback.

The cluster (a head and a worker node, one CPU each, separate `ray start` processes in a temp dir, no
dashboard) starts once for the module and every process it spawned is killed at the end (found by a
marker in their environment, so nothing else on the machine is touched). The sample corpus ingested by
the local executor is the reference: the Ray executor must store the same points (ids and content
hashes, texts, languages) and report the same counts, also when a parse worker and the embedding actor
are killed mid-run.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, build_settings, ingest_now, read_index

# Ray >= 2.59 turns token auth on for `ray start --head` when ~/.ray/auth_token exists (any earlier local
# `ray.init()` writes one) but not for `ray start --address`: the test cluster (loopback only) and its
# drivers, this process included (Ray reads the mode once, at import), all run without it.
os.environ["RAY_AUTH_MODE"] = "disabled"
ray = pytest.importorskip("ray", reason="the Ray executor needs `pip install 'govrag[ray]'`")

MARK = "GOVRAG_TEST_RAY_CLUSTER"
PREFIX = "govrag-ray-"
RAY_BIN = Path(sys.executable).with_name("ray")
#: The chunk fields that must come out the same whoever parsed and embedded them.
FIELDS = ("chunk_no", "text", "title", "page", "lang", "content_hash", "n_chunks", "source", "root")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _environs() -> Iterator[tuple[int, list[bytes]]]:
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            yield int(entry), Path(f"/proc/{entry}/environ").read_bytes().split(b"\0")
        except OSError:
            continue


def _marked_pids(mark: str) -> list[int]:
    """Processes whose environment carries `MARK=mark` (the cluster's nodes and workers)."""
    return [pid for pid, env in _environs() if f"{MARK}={mark}".encode() in env]


def _cluster_pids(temp: Path) -> list[int]:
    """Every process of the test cluster in `temp`: marked ones, and those holding a file in `temp` (Ray's
    agents rewrite their process title over their environment, so the mark is gone from theirs)."""
    found = set(_marked_pids(str(temp)))
    prefix = f"{temp}/"
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid() or int(entry) in found:
            continue
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{entry}/fd"):
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{entry}/fd/{fd}").startswith(prefix):
                        found.add(int(entry))
                        break
    return sorted(found)


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _kill_all(temp: Path) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in _cluster_pids(temp):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + 10
        while _cluster_pids(temp) and time.monotonic() < deadline:
            time.sleep(0.2)


def _kill_orphans() -> None:
    """Stop test clusters left by a test session that was itself killed (its owner process is gone)."""
    for temp in Path("/tmp").glob(f"{PREFIX}*"):
        try:
            owner = int((temp / "owner").read_text())
        except (OSError, ValueError):
            continue
        if not Path(f"/proc/{owner}").exists():
            _kill_all(temp)
            shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[dict[str, Any]]:
    """A head node and a worker node on 127.0.0.1, one CPU each; yields {address, env, mark}."""
    _kill_orphans()
    temp = Path(tempfile.mkdtemp(prefix=PREFIX, dir="/tmp"))  # short: Ray's socket paths are long
    (temp / "owner").write_text(str(os.getpid()))
    port = _free_port()
    env = {
        **os.environ,
        MARK: str(temp),
        # a hung run fails the test instead of blocking it (pytest-timeout cannot interrupt ray.get)
        "GOVRAG_INGEST__RAY__TASK_TIMEOUT_S": "300",
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAY_AUTH_MODE": "disabled",
    }
    common = ["--num-cpus", "1", "--node-ip-address", "127.0.0.1", "--disable-usage-stats"]
    head = [str(RAY_BIN), "start", "--head", "--port", str(port), "--include-dashboard=false"]
    head += ["--temp-dir", str(temp), *common]
    worker = [str(RAY_BIN), "start", "--address", f"127.0.0.1:{port}", "--temp-dir", str(temp), *common]
    try:
        for cmd in (head, worker):
            done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180, check=False)
            assert done.returncode == 0, (
                f"{' '.join(cmd)} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
            )
        yield {"address": f"127.0.0.1:{port}", "env": env, "mark": str(temp)}
    finally:
        _kill_all(temp)
        assert not _cluster_pids(temp), "Ray processes of the test cluster survived"
        shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture(scope="module")
def local_reference(
    tmp_path_factory: pytest.TempPathFactory, sample_corpus_dir: Path, embedder: Any, sparse_encoder: Any
) -> dict[str, Any]:
    """The sample corpus ingested by the local executor: its report and stored chunks."""
    settings = build_settings(tmp_path_factory.mktemp("local-home"), ingest={"workers": 1})
    report = ingest_now(settings, embedder, sparse_encoder, [sample_corpus_dir])
    return {"summary": report.to_dict(), "points": _points(settings, embedder)}


def _points(settings: Any, embedder: Any) -> dict[str, tuple[Any, ...]]:
    """Every stored chunk by point id, with the fields that must not depend on the executor."""
    from indices.registry import open_index

    docs = read_index(settings, embedder)
    points = {c.point_id: tuple(getattr(c, f) for f in FIELDS) for chunks in docs.values() for c in chunks}
    index = open_index(settings.index, embedder.identity, settings.home, create=False)
    try:
        stored = index.count_chunks()
    finally:
        index.close()
    assert stored == len(points), f"{stored} points stored for {len(points)} distinct ids: duplicates"
    return points


def _same_counts(summary: dict[str, Any], reference: dict[str, Any]) -> None:
    for key in ("documents", "chunks", "pages", "pages_ocr", "failures"):
        assert summary[key] == reference[key], key


@pytest.mark.slow
def test_ray_cli_stores_what_the_local_executor_stores(
    ray_cluster: dict[str, Any],
    local_reference: dict[str, Any],
    sample_corpus_dir: Path,
    tmp_path: Path,
    embedder: Any,
) -> None:
    settings = build_settings(tmp_path / "home")
    cmd = [sys.executable, "-m", "govrag.cli", "ingest", str(sample_corpus_dir), "--home", str(settings.home)]
    cmd += ["--json", "--executor", "ray", "--ray-address", ray_cluster["address"]]
    done = subprocess.run(
        cmd, env=ray_cluster["env"], capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout)
    _same_counts(summary, local_reference["summary"])
    assert summary["documents"]["new"] == 14  # the sample corpus: 14 documents in 12 files
    assert _points(settings, embedder) == local_reference["points"]

    # a rerun finds every document unchanged (same hashes as stored) and never needs the cluster
    again = subprocess.run(
        cmd, env=ray_cluster["env"], capture_output=True, text=True, timeout=600, check=False
    )
    assert again.returncode == 0, again.stderr[-3000:]
    assert json.loads(again.stdout)["documents"]["unchanged"] == 14
    assert "parse_wait" not in json.loads(again.stdout)["stage_seconds"]


def kill_worker_once(config: Any, task: Any) -> Any:
    """Parse task that kills its own worker process the first time it sees the PDF (flag file)."""
    from ingest.ray_executor import parse_document

    flag = Path(os.environ[MARK]) / "parse-killed"
    if task.filename.endswith(".pdf") and not flag.exists():
        flag.write_text(str(os.getpid()))
        os._exit(1)
    return parse_document(config, task)


class _KillActorAfterFirstBatch:
    """Progress sink that SIGKILLs one embedding actor's process once the first batch is written."""

    def __init__(self, mark: str) -> None:
        self.mark = mark
        self.killed: list[int] = []
        self.chunks = 0

    def start(self, total: int) -> None:
        pass

    def advance(self, docs: int = 0, chunks: int = 0) -> None:
        self.chunks += chunks
        if chunks and not self.killed:
            pids = _cluster_pids(Path(self.mark))
            actors = [p for p in pids if _cmdline(p).startswith("ray::ChunkEncoder")]
            assert len(actors) == 2, [(p, _cmdline(p)) for p in pids]
            os.kill(actors[0], signal.SIGKILL)
            self.killed.append(actors[0])


@pytest.mark.slow
def test_killed_parse_worker_and_actor_cost_a_retry_not_the_run(
    ray_cluster: dict[str, Any],
    local_reference: dict[str, Any],
    sample_corpus_dir: Path,
    tmp_path: Path,
    embedder: Any,
    sparse_encoder: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from indices.registry import open_index
    from ingest.pipeline import IngestOptions
    from ingest.ray_executor import RayIngestor, encoder_spec

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import tests/
    # two actors (half a CPU each) share every batch of 4 chunks: the split and reassembly are checked too
    # (and a parse task half a CPU: two actors, one per one-CPU node, leave no node a whole CPU free)
    ray_settings = {"embed_actors": 2, "embed_cpus": 0.5, "parse_cpus": 0.5, "task_timeout_s": 300}
    settings = build_settings(tmp_path / "home", ingest={"embed_batch": 4, "ray": ray_settings})
    settings.ingest.ray.address = ray_cluster["address"]
    index = open_index(settings.index, embedder.identity, settings.home, create=True)
    spec = encoder_spec(
        settings.embedder,
        settings.models_dir,
        settings.sparse,
        embedder.identity.fingerprint,
        sparse_encoder.identity,
        settings.index,
        settings.home,
    )
    sink = _KillActorAfterFirstBatch(ray_cluster["mark"])
    try:
        ingestor = RayIngestor(
            settings.ingest, embedder, sparse_encoder, index, settings.language, spec, parse=kill_worker_once
        )
        report = ingestor.run([str(sample_corpus_dir)], IngestOptions(), sink)
    finally:
        index.close()
    assert "worker died" not in capsys.readouterr().out  # Ray's notices go to stderr, not the JSON report
    assert (Path(ray_cluster["mark"]) / "parse-killed").exists(), "the parse worker was never killed"
    assert len(sink.killed) == 1, "the embedding actor was never killed"
    assert sink.killed[0] not in _cluster_pids(Path(ray_cluster["mark"]))
    _same_counts(report.to_dict(), local_reference["summary"])
    assert sink.chunks == local_reference["summary"]["chunks"]
    assert _points(settings, embedder) == local_reference["points"]


def test_unreachable_ray_address_is_a_usage_error(tmp_path: Path, sample_corpus_dir: Path) -> None:
    from typer.testing import CliRunner

    from govrag.cli import app

    address = f"127.0.0.1:{_free_port()}"  # nothing listens there
    home = tmp_path / "home"
    build_settings(home)
    result = CliRunner().invoke(
        app,
        [
            "ingest",
            str(sample_corpus_dir),
            "--home",
            str(home),
            "--executor",
            "ray",
            "--ray-address",
            address,
        ],
        env={"COLUMNS": "300"},
    )
    assert result.exit_code == 2, result.output
    assert f"cannot reach the Ray cluster at {address}" in result.output
    assert not (home / "index").exists()  # failed before the index was created


def test_missing_ray_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from ingest.ray_executor import RayExecutorError, import_ray

    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    with pytest.raises(RayExecutorError, match=r"pip install 'govrag\[ray\]'"):
        import_ray()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--ray-address", "127.0.0.1:6379"], "--ray-address needs --executor ray"),
        (["--executor", "spark"], "--executor must be 'local' or 'ray', got 'spark'"),
        (["--executor", "ray", "--ray-address", "head-without-port"], "is not host:port"),
    ],
)
def test_executor_options_are_checked(tmp_path: Path, args: list[str], message: str) -> None:
    from typer.testing import CliRunner

    from govrag.cli import app

    home = tmp_path / "home"
    build_settings(home)
    result = CliRunner().invoke(
        app, ["ingest", str(tmp_path), "--home", str(home), *args], env={"COLUMNS": "300"}
    )
    assert result.exit_code == 2, result.output
    assert message in result.output
