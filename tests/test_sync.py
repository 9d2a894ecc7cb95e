"""`govrag sync SOURCES.yaml`: the sources file is validated with the source and field of each mistake,
and every source (a folder, a website crawled on loopback) runs in order with one summary."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from crawl_site import Site
from typer.testing import CliRunner

from govrag.cli import app
from ingest.settings import IngestSettings
from ingest.sync_sources import SourcesFileError, load_sources

ENV = {"GOVRAG_INGEST__FETCH__MIN_INTERVAL_S": "0", "GOVRAG_INGEST__WORKERS": "1"}


@pytest.fixture
def site() -> Iterator[Site]:
    served = Site()
    served.start()
    yield served
    served.close()


def _load(tmp_path: Path, text: str) -> list[Any]:
    path = tmp_path / "sources.yaml"
    path.write_text(text, encoding="utf-8")
    return load_sources(path, IngestSettings())


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("sources: []\n", "'sources' must be a non-empty list"),
        ("source:\n  - name: a\n", "expected a mapping with one key, 'sources'"),
        (
            "sources:\n  - name: a\n    path: /x\n    url: https://a.example/\n",
            "source 1 ('a'): give exactly one",
        ),
        ("sources:\n  - name: a\n    url: ftp://a.example/\n", "source 1 ('a'): url: not an http(s) URL"),
        (
            "sources:\n  - {name: a, path: /x}\n"
            "  - {name: b, url: 'https://b.example/', crawl: {max_depth: -1}}\n",
            "source 2 ('b'): crawl.max_depth: Input should be greater than or equal to 0",
        ),
        (
            "sources:\n  - {name: b, url: 'https://b.example/', crawl: {max_dept: 2}}\n",
            "source 1 ('b'): crawl.max_dept: unknown option",
        ),
        (
            "sources:\n  - {name: b, url: 'https://b.example/', fetch: {min_interval_s: fast}}\n",
            "source 1 ('b'): fetch.min_interval_s: Input should be a valid number",
        ),
        (
            "sources:\n  - {name: a, path: /x, schedule: 'every night'}\n",
            "source 1 ('a'): schedule: not a 5-field",
        ),
        (
            "sources:\n  - {name: a, path: /x, agencyy: moh}\n",
            "source 1 ('a'): agencyy: Extra inputs are not",
        ),
        ("sources:\n  - {name: a, path: /x}\n  - {name: a, path: /y}\n", "source 2 ('a'): name: 'a' is used"),
        ("sources:\n  - {name: a, path: /x, crawl: {max_depth: 1}}\n", "apply to 'url' sources only"),
        ("sources:\n  - {name: a, path: /x, groups: []}\n", "source 1 ('a'): groups: give at least one"),
        ("sources:\n  - just-a-string\n", "source 1: expected a mapping of options, got str"),
        ("sources: [\n", "not valid YAML"),
    ],
)
def test_sources_file_mistakes_name_the_source_and_field(tmp_path: Path, text: str, error: str) -> None:
    with pytest.raises(SourcesFileError) as exc:
        _load(tmp_path, text)
    assert str(exc.value).startswith(str(tmp_path / "sources.yaml") + ": ")
    assert error in str(exc.value)


def test_source_options_are_laid_over_the_settings(tmp_path: Path) -> None:
    ((folder, folder_settings), (web, web_settings)) = _load(
        tmp_path,
        "sources:\n"
        "  - {name: share, path: /srv/share, agency: moh, exclude: ['drafts/'], schedule: '30 1 * * *'}\n"
        "  - name: site\n    url: https://moh.example/\n    groups: [staff]\n"
        "    crawl: {max_depth: 1, include: ['/circulars/*']}\n    fetch: {min_interval_s: 2.5}\n",
    )
    assert (folder.agency, folder.schedule, folder_settings.exclude) == ("moh", "30 1 * * *", ["drafts/"])
    assert not folder.crawls
    assert web.crawls
    assert (web_settings.crawl.max_depth, web_settings.crawl.include) == (1, ["/circulars/*"])
    assert web_settings.crawl.max_pages == IngestSettings().crawl.max_pages  # not given: the setting's
    assert web_settings.fetch.min_interval_s == 2.5
    assert web.groups == ["staff"]


def test_sync_runs_a_folder_and_a_site_with_one_summary(
    site: Site, tmp_path: Path, make_settings: Callable[..., Any], stored: Callable[..., Any]
) -> None:
    home = tmp_path / "home"
    settings = make_settings(home)
    share = tmp_path / "share"
    share.mkdir()
    (share / "fees.md").write_text("# Fees\n\nA passport renewal costs seventy dollars.", encoding="utf-8")
    site.html("/", "Home", "Hari raya office hours are nine to one.", ["/th.html"])
    site.html("/th.html", "เวลาทำการ", "สำนักงานเปิดทำการวันจันทร์ถึงวันศุกร์ เวลาแปดนาฬิกาถึงสี่โมงเย็น", etag='"t1"')
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        "sources:\n"
        f"  - {{name: share, path: '{share}', agency: moh, groups: [staff], schedule: '30 1 * * *'}}\n"
        f"  - {{name: site, url: '{site.base}/', agency: moi, crawl: {{max_depth: 1}}}}\n",
        encoding="utf-8",
    )
    run = CliRunner().invoke(app, ["sync", str(sources), "--home", str(home), "--json"], env=ENV)
    assert run.exit_code == 0, run.output
    summary = json.loads(run.stdout)
    assert [(s["name"], s["documents"]["new"]) for s in summary["sources"]] == [("share", 1), ("site", 2)]
    assert summary["documents"]["new"] == 3
    assert summary["sources"][0]["schedule"] == "30 1 * * *"
    docs = stored(settings)
    owners = {doc_id: (chunks[0].agency, tuple(chunks[0].groups)) for doc_id, chunks in docs.items()}
    assert owners == {
        "share/fees.md": ("moh", ("staff",)),
        f"{site.base}/": ("moi", ("public",)),
        f"{site.base}/th.html": ("moi", ("public",)),
    }

    (share / "fees.md").unlink()
    again = CliRunner().invoke(
        app, ["sync", str(sources), "--only", "site", "--home", str(home), "--json"], env=ENV
    )
    assert again.exit_code == 0, again.output
    only = json.loads(again.stdout)
    assert [s["name"] for s in only["sources"]] == ["site"]
    assert only["documents"]["unchanged"] == 2
    assert only["sources"][0]["crawl"][0]["not_modified"] == 1  # /th.html sent an ETag
    assert "share/fees.md" in stored(settings)  # the share was not synced: nothing pruned there

    missing = CliRunner().invoke(app, ["sync", str(sources), "--only", "nope", "--home", str(home)], env=ENV)
    assert missing.exit_code == 2
    assert "--only 'nope': no such source" in missing.stderr
    (tmp_path / "bad.yaml").write_text("sources:\n  - {name: x, path: /x, lang: 'en-GB'}\n", encoding="utf-8")
    bad = CliRunner().invoke(app, ["sync", str(tmp_path / "bad.yaml"), "--home", str(home)], env=ENV)
    assert bad.exit_code == 2
    assert "source 1 ('x'): lang: must be 'auto' or a language code" in " ".join(bad.stderr.split())
