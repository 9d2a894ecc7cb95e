"""The ingest-run log (indices/ingest_runs.py, ingest/run_record.py): every `govrag ingest` run is recorded
with its roots, counts and each failure's file and reason, however the run ends; the operator console reads
it through `GET /v1/admin/ingest-runs` and shows a document whose latest update failed."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from api_support import KEYS, api_keys, api_settings, app_client, bearer
from typer.testing import CliRunner

from govrag.cli import app as cli
from indices.ingest_runs import IngestRunLog, RunCounts, RunFailure
from ingest.pipeline import DocOutcome, IngestOptions, Ingestor, IngestReport
from ingest.run_record import recorded_run

EMPTY_REASON = "empty file (0 bytes)"
NOTICE = "Parking permits for staff cost 15 dollars a month and are issued by the facilities office."


def _ingest(settings: Any, embedder: Any, sparse: Any, sources: list[str], agency: str = "") -> IngestReport:
    """What `govrag ingest` does around the pipeline: the run recorded in the data dir's run log."""
    from indices.registry import open_index

    index = open_index(settings.index, embedder.identity, settings.home, create=True)
    try:
        ingestor = Ingestor(settings.ingest, embedder, sparse, index, settings.language)
        opts = IngestOptions(agency=agency)
        with recorded_run(IngestRunLog.in_home(settings.home), sources, opts) as report:
            ingestor.run(sources, opts, report=report)
    finally:
        index.close()
    return report


def test_a_failed_update_is_recorded_with_its_reason_and_shown_on_the_document(
    tmp_path: Path, make_settings: Callable[..., Any], embedder: Any, sparse_encoder: Any
) -> None:
    settings = make_settings(tmp_path / "home", ingest={"workers": 1})
    folder = tmp_path / "notices"
    folder.mkdir()
    (folder / "parking.txt").write_text(NOTICE, encoding="utf-8")
    (folder / "empty.txt").write_bytes(b"")
    first = _ingest(settings, embedder, sparse_encoder, [str(folder)], agency="Facilities Office")
    assert first.count("new") == 1
    (folder / "parking.txt").write_bytes(b"")  # the source breaks: the stored version stays, the run says why
    _ingest(settings, embedder, sparse_encoder, [str(folder)], agency="Facilities Office")

    runs = IngestRunLog.in_home(settings.home).recent()
    assert [r.status for r in runs] == ["completed_with_failures", "completed_with_failures"]
    newest, oldest = runs
    assert (oldest.counts.added, oldest.counts.failed, oldest.counts.chunks) == (1, 1, 1)
    assert (newest.counts.added, newest.counts.updated, newest.counts.failed) == (0, 0, 2)
    assert oldest.roots == [str(folder.resolve())]
    assert oldest.agency == "Facilities Office"
    assert [(Path(f.source).name, f.reason) for f in oldest.failures] == [("empty.txt", EMPTY_REASON)]
    assert sorted((f.doc_id, f.reason) for f in newest.failures) == [
        ("notices/empty.txt", EMPTY_REASON),
        ("notices/parking.txt", EMPTY_REASON),
    ]
    assert newest.ended is not None
    assert newest.ended >= newest.started >= oldest.started

    api = api_settings(settings.home, api={"security": {"api_keys": api_keys(), "allow_anonymous": False}})
    with app_client(api, embedder, sparse_encoder) as client:
        r = client.get("/v1/admin/ingest-runs", headers=bearer("admin"))
        assert r.status_code == 200, r.text
        listed = r.json()["runs"]
        assert [run["id"] for run in listed] == [newest.id, oldest.id]
        assert listed[1]["failures"][0]["reason"] == EMPTY_REASON
        assert listed[1]["counts"]["added"] == 1
        docs = client.get("/v1/admin/documents", headers=bearer("admin")).json()["documents"]
        assert [(d["doc_id"], d["status"]) for d in docs] == [("notices/parking.txt", "update_failed")]
        assert docs[0]["last_failure"]["reason"] == EMPTY_REASON
        # the console can still show what is served: the old version's chunk
        chunks = client.get("/v1/documents/notices/parking.txt", headers=bearer("admin")).json()["chunks"]
        assert [c["text"] for c in chunks] == [NOTICE]


def test_a_run_that_stops_midway_is_closed_as_failed_with_what_it_had_done(tmp_path: Path) -> None:
    log = IngestRunLog.in_home(tmp_path)
    opts = IngestOptions(agency="MOH")
    seen: list[str] = []

    def stopped_midway() -> None:
        with recorded_run(log, ["https://moh.example/a.pdf"], opts) as report:
            report.outcomes.append(DocOutcome("a.pdf", "https://moh.example/a.pdf", "new", chunks=3))
            failure = DocOutcome("b.pdf", "https://moh.example/b.pdf", "failed", reason="HTTP 404")
            report.outcomes.append(failure)
            seen.extend(r.status for r in log.recent())
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        stopped_midway()
    assert seen == ["running"]  # recorded before the first document
    (run,) = log.recent()
    assert run.status == "failed"
    assert run.error == "interrupted (Ctrl-C)"
    assert (run.counts.added, run.counts.failed, run.counts.chunks) == (1, 1, 3)
    assert [(f.source, f.reason) for f in run.failures] == [("https://moh.example/b.pdf", "HTTP 404")]
    assert run.roots == ["https://moh.example/a.pdf"]


def test_a_killed_run_reads_as_interrupted_and_agencies_see_their_own_runs(tmp_path: Path) -> None:
    log = IngestRunLog.in_home(tmp_path)
    log.start(["/data/moh"], agency="MOH")
    with sqlite3.connect(log.path) as db:  # its process is gone (SIGKILL): no pid of this machine runs it
        db.execute("UPDATE runs SET pid = 2147483646")
    done = log.start(["/data/mof"], agency="MOF")
    log.finish(done, RunCounts(added=2), [])
    assert [(r.agency, r.status) for r in log.recent()] == [("MOF", "completed"), ("MOH", "interrupted")]
    assert [r.agency for r in log.recent(agency="MOH")] == ["MOH"]
    assert log.recent(limit=1)[0].agency == "MOF"
    assert IngestRunLog.in_home(tmp_path / "nothing-yet").recent() == []  # no file: no run, nothing created
    assert not (tmp_path / "nothing-yet").exists()


def test_failures_kept_per_run_are_capped_but_counted_in_full(tmp_path: Path) -> None:
    from indices import ingest_runs

    log = IngestRunLog.in_home(tmp_path)
    run = log.start(["export.jsonl"])
    many = [
        RunFailure(f"rec-{i}", "export.jsonl", "x" * 5000, 1.0)
        for i in range(ingest_runs.MAX_FAILURES_PER_RUN + 5)
    ]
    log.finish(run, RunCounts(failed=len(many)), many)
    (got,) = log.recent()
    assert got.counts.failed == ingest_runs.MAX_FAILURES_PER_RUN + 5
    assert len(got.failures) == ingest_runs.MAX_FAILURES_PER_RUN
    assert len(got.failures[0].reason) == ingest_runs.MAX_REASON_CHARS


def test_govrag_ingest_records_its_run(tmp_path: Path, make_settings: Callable[..., Any]) -> None:
    make_settings(tmp_path / "home")
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "empty.txt").write_bytes(b"")
    result = CliRunner().invoke(
        cli,
        ["ingest", str(tmp_path / "in"), "--home", str(tmp_path / "home"), "--agency", "MOH", "--json"],
        catch_exceptions=False,
    )
    assert result.exit_code == 1, result.output
    assert json.loads(result.stdout)["failures"][0]["reason"] == EMPTY_REASON
    (run,) = IngestRunLog.in_home(tmp_path / "home").recent()
    assert (run.status, run.agency, run.roots) == ("completed_with_failures", "MOH", [str(tmp_path / "in")])
    assert [(f.doc_id, f.reason) for f in run.failures] == [("in/empty.txt", EMPTY_REASON)]
    dry = CliRunner().invoke(
        cli, ["ingest", str(tmp_path / "in"), "--home", str(tmp_path / "home"), "--dry-run"]
    )
    assert dry.exit_code == 0, dry.output
    assert (
        len(IngestRunLog.in_home(tmp_path / "home").recent()) == 1
    )  # a dry run changes nothing: not recorded


def test_agency_admin_lists_only_its_agency_runs(
    tmp_path: Path, make_settings: Callable[..., Any], embedder: Any, sparse_encoder: Any
) -> None:
    from rag.api.security import hash_key

    home = tmp_path / "home"
    make_settings(home)
    log = IngestRunLog.in_home(home)
    for agency in ("MOH", "MOF"):
        log.finish(log.start([f"/data/{agency}"], agency=agency), RunCounts(added=1), [])
    keys = [*api_keys(), {"name": "moh-admin", "hash": hash_key("grk_test_moh_admin_0123456789abcdef"),
                          "agency": "MOH", "scopes": ["admin"], "groups": []}]  # fmt: skip
    settings = api_settings(home, api={"security": {"api_keys": keys, "allow_anonymous": False}})
    with app_client(settings, embedder, sparse_encoder) as client:
        moh = {"Authorization": "Bearer grk_test_moh_admin_0123456789abcdef"}
        assert [r["agency"] for r in client.get("/v1/admin/ingest-runs", headers=moh).json()["runs"]] == [
            "MOH"
        ]
        everyone = client.get("/v1/admin/ingest-runs", headers=bearer("admin")).json()["runs"]
        assert [r["agency"] for r in everyone] == ["MOF", "MOH"]
        refused = client.get("/v1/admin/ingest-runs", headers={"Authorization": f"Bearer {KEYS['public']}"})
        assert refused.status_code == 403
        assert refused.json() == {
            "error": {"code": "forbidden", "message": "key 'citizen-portal' lacks the 'admin' scope"}
        }


def test_a_run_log_that_cannot_be_written_never_fails_the_ingest(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "not-a-folder").write_text("a file where the data dir should be")
    log = IngestRunLog(tmp_path / "not-a-folder" / "ingest_runs.sqlite3")
    with recorded_run(log, [str(tmp_path)], IngestOptions()) as report:
        report.outcomes.append(DocOutcome("a.txt", "a.txt", "new", chunks=1))
    assert report.count("new") == 1
    assert "cannot record this run" in caplog.text
