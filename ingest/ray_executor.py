"""The Ray executor of `govrag ingest --executor ray`: the same run as `Ingestor`, spread over a cluster.

Discovery, hashing, the comparison with the index and every decision about a document stay on the driver
(`Ingestor.run`, unchanged); only the two heavy stages move:
- parsing and chunking run as Ray tasks (`ingest.worker.process`, one task per document, at most
  `ingest.max_in_flight` ahead of the writer), results taken in submission order;
- embedding (dense and sparse) runs on `ChunkEncoder` actors, each holding the embedder (a GPU each where
  the cluster has one); a batch is split over the actors. With a Qdrant server the actors upsert their
  points themselves; with the embedded index (one process may hold its folder) they return the vectors
  and the driver writes them.

So documents, point ids (derived from document id and chunk number), content hashes and the report are
those of the local executor. A worker process that dies costs a retry, not the run: a parse task is
resubmitted (`max_retries`), an actor is restarted and its pending call retried (`max_restarts`,
`max_task_retries`); a retried batch rewrites the same point ids, so nothing is duplicated. A document
whose parsing kills its worker on every try is reported as failed, like the local pool does.

Sources must be readable at the same path on every node (the RayJob mounts one volume everywhere).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from indices.embedder_settings import EmbedderSettings
from indices.language import LanguageSettings
from indices.registry import IndexSettings
from indices.schema import ChunkRecord, IndexPoint, SparseVec
from indices.sparse import SparseEncoder, SparseEncoderSettings
from indices.text_embedder import TextEmbedder
from indices.vector_index import VectorIndex
from ingest.pipeline import IngestOptions, Ingestor, IngestReport, ProgressSink
from ingest.ray_settings import RaySettings
from ingest.settings import IngestSettings
from ingest.worker import CRASH_REASON, ParseResult, ParseTask, WorkerConfig, init_worker, process

logger = logging.getLogger(__name__)

#: Parses one task on a worker: (config, task) -> result. Swappable for fault-injection tests.
ParseFn = Callable[[WorkerConfig, ParseTask], ParseResult]

INSTALL_HINT = "install it with `pip install 'govrag[ray]'` (the Ray version must equal the cluster's)"


class RayExecutorError(RuntimeError):
    """The Ray cluster cannot be used (not installed, unreachable, too small, or an actor keeps dying)."""


def parse_document(config: WorkerConfig, task: ParseTask) -> ParseResult:
    """Parse and chunk one document in a Ray worker (the tokenizer is loaded once per worker process)."""
    init_worker(config)
    return process(task)


def _run_parse(fn: ParseFn, config: WorkerConfig, task: ParseTask) -> ParseResult:
    return fn(config, task)


@dataclass(slots=True)
class EncoderSpec:
    """What an embedding actor needs to rebuild the driver's embedder and sparse encoder (picklable).

    `index` is set when the actors write straight to a Qdrant server; None when the driver writes."""

    embedder: EmbedderSettings
    models_dir: Path
    sparse: SparseEncoderSettings
    embedder_fingerprint: str
    sparse_identity: str
    index: IndexSettings | None = None
    home: Path | None = None


class ChunkEncoder:
    """A Ray actor: embeds chunks (dense and sparse) and, with a Qdrant server, upserts them."""

    def __init__(self, spec: EncoderSpec) -> None:
        """Load the embedder and check it is the driver's (another model on a node would mix vectors)."""
        from indices.embedders import load_embedder

        self._embedder = load_embedder(spec.embedder, spec.models_dir)
        self._sparse = SparseEncoder(spec.sparse)
        got = self._embedder.identity.fingerprint
        if got != spec.embedder_fingerprint or self._sparse.identity != spec.sparse_identity:
            raise RayExecutorError(
                f"the embedder on Ray node {socket.gethostname()} is not the driver's (fingerprint "
                f"{got[:12]} vs {spec.embedder_fingerprint[:12]}): give every node the same models folder "
                "and settings"
            )
        self._index: VectorIndex | None = None
        if spec.index is not None:
            from indices.registry import open_index

            self._index = open_index(spec.index, self._embedder.identity, spec.home or Path(), create=False)

    def encode(
        self, dense_texts: list[str], sparse_texts: list[str]
    ) -> tuple[np.ndarray, list[SparseVec], float, float]:
        """Dense and sparse vectors of the texts, and the seconds each took."""
        t0 = time.perf_counter()
        dense = np.asarray(self._embedder.embed_passages(dense_texts), dtype=np.float32)
        t1 = time.perf_counter()
        sparse = self._sparse.encode_documents(sparse_texts)
        return dense, sparse, t1 - t0, time.perf_counter() - t1

    def write(
        self, records: list[ChunkRecord], dense_texts: list[str], sparse_texts: list[str], step: int
    ) -> tuple[float, float, float]:
        """Encode and upsert the records to the Qdrant server; seconds of embedding, sparse and writing."""
        assert self._index is not None
        dense, sparse, t_embed, t_sparse = self.encode(dense_texts, sparse_texts)
        t0 = time.perf_counter()
        for s in range(0, len(records), step):
            self._index.upsert(
                [
                    IndexPoint(record=r, dense=dense[i].tolist(), sparse=sparse[i])
                    for i, r in enumerate(records[s : s + step], start=s)
                ]
            )
        return t_embed, t_sparse, time.perf_counter() - t0


def import_ray() -> Any:
    """The `ray` module, or `RayExecutorError` saying how to install it."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # never phone home
    try:
        import ray
    except ImportError as exc:
        raise RayExecutorError(f"--executor ray needs Ray, which is not installed: {INSTALL_HINT}") from exc
    return ray


def check_reachable(address: str, timeout_s: float) -> None:
    """Fail fast (`RayExecutorError` naming `address`) when nothing listens at a host:port address."""
    if address in ("auto", "local") or "://" in address:
        return  # resolved by Ray itself (a running cluster here, or Ray Client)
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise RayExecutorError(f"Ray address {address!r} is not host:port (e.g. 10.0.0.5:6379)")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise RayExecutorError(
            f"cannot reach the Ray cluster at {address}: {exc.strerror or exc} (is `ray start --head` "
            "running there, and is that its GCS port?)"
        ) from exc


class RayIngestor(Ingestor):
    """`Ingestor` whose parsing runs as Ray tasks and whose embedding runs on Ray actors.

    Ray is started (or joined) on the first document that needs parsing, so an unchanged rerun never
    touches the cluster; `run` disconnects at the end."""

    def __init__(
        self,
        settings: IngestSettings,
        embedder: TextEmbedder,
        sparse: SparseEncoder,
        index: VectorIndex | None,
        language: LanguageSettings,
        spec: EncoderSpec,
        *,
        parse: ParseFn = parse_document,
    ) -> None:
        """Like `Ingestor`; `spec` rebuilds the embedder on the actors, `parse` runs in the parse tasks."""
        super().__init__(settings, embedder, sparse, index, language)
        self.ray_settings: RaySettings = settings.ray
        self._spec = spec
        self._parse = parse
        self._ray: Any = None
        self._actors: list[Any] = []
        self._parse_task: Any = None

    # -- cluster ----------------------------------------------------------------------------------------
    def run(
        self,
        sources: Sequence[str],
        opts: IngestOptions,
        progress: ProgressSink | None = None,
        report: IngestReport | None = None,
    ) -> IngestReport:
        """`Ingestor.run` on the cluster; raises `RayExecutorError` when the cluster cannot be used."""
        address = self.ray_settings.address or os.environ.get("RAY_ADDRESS") or None
        import_ray()  # a missing Ray is a usage error before anything is read
        if address:
            check_reachable(address, self.ray_settings.connect_timeout_s)
        # Ray's driver prints worker deaths to stdout, which must stay the `--json` report's alone
        with contextlib.redirect_stdout(sys.stderr):
            try:
                return super().run(sources, opts, progress, report=report)
            finally:
                self._stop()

    def _start(self) -> Any:
        if self._ray is not None:
            return self._ray
        ray = import_ray()
        rs = self.ray_settings
        address = rs.address or os.environ.get("RAY_ADDRESS") or None
        t0 = time.perf_counter()
        kwargs: dict[str, Any] = {"log_to_driver": False, "configure_logging": False}
        if address is None:  # a Ray instance of our own, on this machine's CPUs, never another one found
            kwargs["include_dashboard"] = False
        try:
            ray.init(address=address or "local", **kwargs)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise RayExecutorError(f"cannot join the Ray cluster at {address or '(local)'}: {exc}") from exc
        self._ray = ray
        need = rs.embed_cpus * rs.embed_actors + rs.parse_cpus
        resources = ray.cluster_resources()
        deadline = time.monotonic() + rs.wait_for_nodes_s
        while resources.get("CPU", 0.0) < need and time.monotonic() < deadline:
            time.sleep(1.0)  # worker nodes still joining (a KubeRay cluster's pods start after the head)
            resources = ray.cluster_resources()
        gpus = self._gpus_per_actor(resources.get("GPU", 0.0))
        if resources.get("CPU", 0.0) < need:
            raise RayExecutorError(
                f"the Ray cluster at {address or '(local)'} has {resources.get('CPU', 0.0):g} CPUs; "
                f"{rs.embed_actors} embedding actor(s) of {rs.embed_cpus:g} CPU and a parse task of "
                f"{rs.parse_cpus:g} need {need:g} (lower ingest.ray.embed_cpus / parse_cpus or add nodes)"
            )
        encoder = ray.remote(
            num_cpus=rs.embed_cpus,
            num_gpus=gpus,
            max_restarts=rs.max_retries,
            max_task_retries=rs.max_retries,
        )(ChunkEncoder)
        self._actors = [encoder.remote(self._spec) for _ in range(rs.embed_actors)]
        self._parse_task = ray.remote(num_cpus=rs.parse_cpus, max_retries=rs.max_retries)(_run_parse)
        logger.info(
            "Ray ready in %.1fs: %s, %d embedding actor(s) with %g GPU each",
            time.perf_counter() - t0,
            resources,
            rs.embed_actors,
            gpus,
        )
        return ray

    def _gpus_per_actor(self, cluster_gpus: float) -> float:
        choice = self.ray_settings.embed_gpus
        if choice == "auto":
            return 1.0 if cluster_gpus >= 1 and self._spec.embedder.device != "cpu" else 0.0
        return float(choice)

    def _stop(self) -> None:
        if self._ray is None:
            return
        for actor in self._actors:
            self._ray.kill(actor)
        self._actors = []
        self._ray.shutdown()
        self._ray = None

    def _get(self, ref: Any, what: str) -> Any:
        ray = self._ray
        try:
            return ray.get(ref, timeout=self.ray_settings.task_timeout_s)
        except ray.exceptions.GetTimeoutError as exc:
            raise RayExecutorError(
                f"{what} took longer than ingest.ray.task_timeout_s={self.ray_settings.task_timeout_s:g}s "
                "(is the cluster short of CPUs?)"
            ) from exc
        except ray.exceptions.RayActorError as exc:
            raise RayExecutorError(f"{what}: the embedding actor failed for good: {exc}") from exc

    # -- parsing ----------------------------------------------------------------------------------------
    def _results(self, tasks: Iterator[ParseTask], opts: IngestOptions) -> Iterator[ParseResult]:
        """Parse as Ray tasks, at most `max_in_flight` ahead of the writer, yielding in submission order."""
        first = next(tasks, None)
        if first is None:  # nothing changed: no cluster needed
            return
        ray = self._start()
        config = ray.put(self._worker_config(opts))
        window: deque[tuple[ParseTask, Any]] = deque()
        limit = self.settings.max_in_flight
        for task in _chain(first, tasks):
            while len(window) >= limit:
                yield self._parsed(*window.popleft())
            window.append((task, self._parse_task.remote(self._parse, config, task)))
        while window:
            yield self._parsed(*window.popleft())

    def _parsed(self, task: ParseTask, ref: Any) -> ParseResult:
        ray = self._ray
        t0 = time.perf_counter()
        try:
            result: ParseResult = ray.get(ref, timeout=self.ray_settings.task_timeout_s)
        except (
            ray.exceptions.WorkerCrashedError,
            ray.exceptions.NodeDiedError,
            ray.exceptions.OutOfMemoryError,  # Ray's memory monitor killed it, every try
        ):
            tries = 1 + self.ray_settings.max_retries
            logger.error("parsing %s killed its worker %d times: skipped", task.filename, tries)
            result = ParseResult(task.doc_id, error=CRASH_REASON)
        except ray.exceptions.GetTimeoutError as exc:
            raise RayExecutorError(
                f"parsing {task.filename} took longer than ingest.ray.task_timeout_s="
                f"{self.ray_settings.task_timeout_s:g}s (or never started: does a node have "
                f"ingest.ray.parse_cpus={self.ray_settings.parse_cpus:g} CPUs free next to the embedding "
                "actors?)"
            ) from exc
        except ray.exceptions.RayTaskError as exc:  # process() reports parser errors itself: this is Ray's
            result = ParseResult(task.doc_id, error=f"parse task failed: {exc}")
        self._timed("parse_wait", t0)
        return result

    # -- embedding and writing --------------------------------------------------------------------------
    def _write_points(self, records: list[ChunkRecord]) -> None:
        """Split the batch over the actors; they write to a Qdrant server, else the driver writes."""
        self._start()
        n = len(self._actors)
        size = -(-len(records) // n)
        parts = [records[i : i + size] for i in range(0, len(records), size)]
        direct = self._spec.index is not None
        t0 = time.perf_counter()
        refs = []
        for actor, part in zip(self._actors, parts, strict=False):
            dense_texts = [self._embed_text(r) for r in part]
            sparse_texts = [self._sparse_text(r) for r in part]
            if direct:
                refs.append(actor.write.remote(part, dense_texts, sparse_texts, self.settings.upsert_batch))
            else:
                refs.append(actor.encode.remote(dense_texts, sparse_texts))
        outs = [self._get(ref, f"embedding a batch of {len(records)} chunks") for ref in refs]
        wall = time.perf_counter() - t0
        if direct:
            busy = {"embed": sum(o[0] for o in outs), "sparse": sum(o[1] for o in outs)}
            busy["write"] = sum(o[2] for o in outs)
        else:
            busy = {"embed": sum(o[2] for o in outs), "sparse": sum(o[3] for o in outs)}
        # the driver waited `wall`: share it between the stages in proportion to the actors' busy time
        total = sum(busy.values()) or 1.0
        for stage, s in busy.items():
            self._timings[stage] = self._timings.get(stage, 0.0) + wall * s / total
        if not direct:
            dense = np.concatenate([o[0] for o in outs])
            sparse = [v for o in outs for v in o[1]]
            self._upsert(records, dense, sparse)


def _chain(first: ParseTask, rest: Iterator[ParseTask]) -> Iterator[ParseTask]:
    yield first
    yield from rest


def encoder_spec(
    embedder: EmbedderSettings,
    models_dir: Path,
    sparse: SparseEncoderSettings,
    identity_fingerprint: str,
    sparse_identity: str,
    index: IndexSettings,
    home: Path,
) -> EncoderSpec:
    """The actors' recipe; they write straight to the index only when it is a Qdrant server they can
    reach (the embedded index's folder is held by the driver, `:memory:` lives in the driver)."""
    direct = index.backend == "server" and index.url != ":memory:"
    return EncoderSpec(
        embedder=embedder,
        models_dir=models_dir,
        sparse=sparse,
        embedder_fingerprint=identity_fingerprint,
        sparse_identity=sparse_identity,
        index=index if direct else None,
        home=home if direct else None,
    )
