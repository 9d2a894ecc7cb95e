"""Shared fixtures: the real bundled embedder and sparse encoder (built once per session), settings rooted
in a test folder, fresh embedded indexes and the sample corpus.

The bundled model is converted once into `$GOVRAG_TEST_MODELS_DIR` (default `<repo>/.cache/models`, the
same cache `test_embedder.py` uses) and reused across sessions; every test data dir gets a `models`
symlink to it, so `govrag` commands run by tests (in-process or as subprocesses) never convert again.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("SCARF_NO_ANALYTICS", "true")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
#: Where the converted bundled model is cached across test sessions.
MODELS_DIR = Path(os.environ.get("GOVRAG_TEST_MODELS_DIR", REPO / ".cache" / "models"))


@pytest.fixture(scope="session")
def models_dir() -> Path:
    """The shared converted-model cache (created if missing)."""
    MODELS_DIR.mkdir(parents=True, exist_ok=True)
    return MODELS_DIR


@pytest.fixture(scope="session")
def embedder(models_dir: Path) -> Any:
    """The bundled multilingual-e5-small embedder, loaded once per session (converted once per cache)."""
    from indices.embedder import Embedder, EmbedderSettings

    return Embedder(EmbedderSettings(), models_dir)


@pytest.fixture(scope="session")
def sparse_encoder() -> Any:
    """The multilingual BM25 sparse encoder with default settings."""
    from indices.sparse import SparseEncoder, SparseEncoderSettings

    return SparseEncoder(SparseEncoderSettings())


@pytest.fixture(scope="session")
def sample_corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled sample corpus (`govrag sample`), written once per session. Treat it as read-only."""
    from govrag.sample_corpus import write_sample_corpus

    dest = tmp_path_factory.mktemp("sample") / "sample-corpus"
    write_sample_corpus(dest)
    return dest


def link_models(home: Path, models: Path = MODELS_DIR) -> None:
    """Make `<home>/models` point at the shared model cache (so nothing is converted again)."""
    home.mkdir(parents=True, exist_ok=True)
    link = home / "models"
    if not link.exists() and not link.is_symlink():
        link.symlink_to(models.resolve(), target_is_directory=True)


def build_settings(home: Path, **overrides: Any) -> Any:
    """A `govrag.settings.Settings` whose data dir is `home` (models linked to the shared cache).

    `overrides` are Settings fields (nested sections as dicts), e.g.
    `build_settings(tmp_path, ingest={"workers": 1})`. Environment variables still apply below them.
    """
    from govrag.settings import Settings

    link_models(home)
    return Settings(home=home, **overrides)


@pytest.fixture
def make_settings(models_dir: Path) -> Callable[..., Any]:
    """Factory: `make_settings(tmp_path, **overrides)` -> Settings rooted at tmp_path (see build_settings)."""
    return build_settings


@pytest.fixture
def open_edge_index(embedder: Any) -> Iterator[Callable[..., Any]]:
    """Factory: `open_edge_index(settings_or_folder)` -> a fresh (or reopened) EdgeIndex for the session
    embedder; every index it opened is closed at the end of the test."""
    from indices.edge_index import EdgeIndex
    from indices.registry import IndexSettings

    opened: list[Any] = []

    def _open(where: Any, *, create: bool = True) -> Any:
        if isinstance(where, Path):
            index = EdgeIndex.open(where, embedder.identity, IndexSettings(), create=create)
        else:
            folder = where.index.embedded_folder(where.home)
            index = EdgeIndex.open(folder, embedder.identity, where.index, create=create)
        opened.append(index)
        return index

    yield _open
    for index in opened:
        index.close()  # idempotent: fine when the test closed it already


def ingest_now(settings: Any, embedder: Any, sparse: Any, sources: Any, **options: Any) -> Any:
    """Run `Ingestor.run` in-process on `sources` (paths or URLs) against the settings' embedded index,
    opening it for the run and closing it after (so the next run or a subprocess can open it).

    `options` are `IngestOptions` fields (agency, groups, lang, prune, dry_run, url_lists). A dry run
    against a data dir without an index compares against an empty index, like the CLI does.
    """
    from indices.errors import IndexNotFoundError
    from indices.registry import open_index
    from ingest.pipeline import IngestOptions, Ingestor

    dry = bool(options.get("dry_run"))
    try:
        index = open_index(settings.index, embedder.identity, settings.home, create=not dry)
    except IndexNotFoundError:
        if not dry:
            raise
        index = None
    try:
        ingestor = Ingestor(settings.ingest, embedder, sparse, index, settings.language)
        return ingestor.run([str(s) for s in sources], IngestOptions(**options))
    finally:
        if index is not None:
            index.close()


def read_index(settings: Any, embedder: Any) -> dict[str, list[Any]]:
    """Every stored chunk, by document id, in chunk order (opens and closes the index)."""
    from indices.registry import open_index

    index = open_index(settings.index, embedder.identity, settings.home, create=False)
    try:
        return {d.doc_id: index.get_chunks(d.doc_id) for d in index.iter_documents()}
    finally:
        index.close()


@pytest.fixture
def ingest(embedder: Any, sparse_encoder: Any) -> Callable[..., Any]:
    """Factory: `ingest(settings, sources, **options)` -> IngestReport (see `ingest_now`)."""

    def _run(settings: Any, sources: Any, **options: Any) -> Any:
        return ingest_now(settings, embedder, sparse_encoder, sources, **options)

    return _run


@pytest.fixture
def stored(embedder: Any) -> Callable[[Any], dict[str, list[Any]]]:
    """Factory: `stored(settings)` -> {doc_id: [ChunkRecord, ...]} read back from the index."""

    def _read(settings: Any) -> dict[str, list[Any]]:
        return read_index(settings, embedder)

    return _read


class LocalSite:
    """A local HTTP server whose pages the test sets: `site.add(path, body, content_type, status, delay)`.

    Serves only on 127.0.0.1; `site.url(path)` is the absolute URL and `site.requests` the paths asked for.
    """

    def __init__(self) -> None:
        import http.server
        import threading

        self.pages: dict[str, tuple[int, str, bytes, float]] = {}
        self.requests: list[str] = []
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                site.requests.append(self.path)
                status, ctype, body, delay = site.pages.get(self.path, (404, "text/plain", b"not found", 0.0))
                if delay:
                    import time

                    time.sleep(delay)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"

    def add(
        self,
        path: str,
        body: str | bytes,
        content_type: str = "text/html; charset=utf-8",
        status: int = 200,
        delay: float = 0.0,
    ) -> str:
        """Serve `body` at `path`; returns the page's URL."""
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.pages[path] = (status, content_type, data, delay)
        return self.url(path)

    def url(self, path: str) -> str:
        """Absolute URL of `path` on this server."""
        return self.base + path

    def close(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def local_site() -> Iterator[LocalSite]:
    """A fresh local HTTP server (see `LocalSite`), stopped after the test."""
    site = LocalSite()
    yield site
    site.close()
