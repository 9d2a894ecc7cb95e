"""Document identity across agencies (issue 10, item 1): a document belongs to the *resolved* source root it
was found under, `--prune` removes only documents of exactly the roots of its run, and an id already stored
from another root (or, for a URL, another agency) is refused, never overwritten.

The scenario of the report: `govrag ingest /a/corpus --agency MOH`, then `govrag ingest /b/corpus --agency
MOF --prune` deleted every MOH document, and a file at the same relative path under MOF's folder replaced
MOH's document and took MOF's groups.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

INGEST = {"workers": 1}


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


MOH = {
    "x.md": "# Vaccination\n\nChildren receive the measles vaccine at twelve months in every public clinic.",
    "y.md": "# Clinic hours\n\nPublic clinics open from eight in the morning until five in the afternoon.",
}
MOF = {
    "x.md": "# Budget\n\nThe finance ministry publishes the national budget every February.",
    "z.md": "# Tax rebate\n\nA one-off tax rebate of 200 dollars is paid to every resident taxpayer.",
}


def _statuses(report: Any) -> dict[str, str]:
    return {o.doc_id: o.status for o in report.outcomes}


def _moh_intact(docs: dict[str, list[Any]], a: Path) -> None:
    for rel, text in MOH.items():
        chunks = docs[f"corpus/{rel}"]
        assert text.split("\n\n")[1] in " ".join(c.text for c in chunks)
        assert {c.agency for c in chunks} == {"MOH"}
        assert {tuple(c.groups) for c in chunks} == {("moh-staff",)}
        assert {c.root for c in chunks} == {a.resolve().as_uri()}
        assert {c.source for c in chunks} == {(a / rel).resolve().as_uri()}


@pytest.mark.parametrize("prune", [True, False])
def test_other_agency_folder_of_the_same_name_never_touches_the_first(
    tmp_path: Path,
    make_settings: Callable[..., Any],
    ingest: Callable[..., Any],
    stored: Callable[..., Any],
    prune: bool,
) -> None:
    a, b = tmp_path / "a" / "corpus", tmp_path / "b" / "corpus"
    _write(a, MOH)
    _write(b, MOF)
    settings = make_settings(tmp_path / "home", ingest=INGEST)
    first = ingest(settings, [a], agency="MOH", groups=["moh-staff"])
    assert _statuses(first) == {"corpus/x.md": "new", "corpus/y.md": "new"}

    second = ingest(settings, [b], agency="MOF", groups=["mof-staff"], prune=prune)
    statuses = _statuses(second)
    assert statuses == {"corpus/x.md": "failed", "corpus/z.md": "new"}  # nothing of MOH's pruned
    (refused,) = second.failed
    assert refused.uri == (b / "x.md").resolve().as_uri()
    assert refused.reason.startswith(
        f"document id 'corpus/x.md' is already stored from another source root ({a.resolve().as_uri()}, "
        "agency MOH); refusing to overwrite it"
    )
    assert "govrag index forget --root" in refused.reason

    docs = stored(settings)
    assert sorted(docs) == ["corpus/x.md", "corpus/y.md", "corpus/z.md"]
    _moh_intact(docs, a)
    assert {c.agency for c in docs["corpus/z.md"]} == {"MOF"}
    assert {c.root for c in docs["corpus/z.md"]} == {b.resolve().as_uri()}

    # --prune removes only what vanished from exactly the roots given
    (a / "y.md").unlink()
    third = ingest(settings, [a], agency="MOH", groups=["moh-staff"], prune=True)
    assert _statuses(third) == {"corpus/x.md": "unchanged", "corpus/y.md": "pruned"}
    assert sorted(stored(settings)) == ["corpus/x.md", "corpus/z.md"]
    fourth = ingest(settings, [b], agency="MOF", groups=["mof-staff"], prune=True)
    assert _statuses(fourth)["corpus/z.md"] == "unchanged"
    assert fourth.count("pruned") == 0
    assert sorted(stored(settings)) == ["corpus/x.md", "corpus/z.md"]


def test_a_symlinked_spelling_of_the_root_is_the_same_root(
    tmp_path: Path, make_settings: Callable[..., Any], ingest: Callable[..., Any], stored: Callable[..., Any]
) -> None:
    a = tmp_path / "a" / "corpus"
    _write(a, MOH)
    (tmp_path / "alias").symlink_to(a, target_is_directory=True)
    settings = make_settings(tmp_path / "home", ingest=INGEST)
    ingest(settings, [a], agency="MOH", groups=["moh-staff"])
    again = ingest(settings, [tmp_path / "alias"], agency="MOH", groups=["moh-staff"], prune=True)
    assert _statuses(again) == {"corpus/x.md": "unchanged", "corpus/y.md": "unchanged"}
    _moh_intact(stored(settings), a)


def test_export_record_id_of_another_agency_is_refused(
    tmp_path: Path, make_settings: Callable[..., Any], ingest: Callable[..., Any], stored: Callable[..., Any]
) -> None:
    moh, mof = tmp_path / "moh.jsonl", tmp_path / "mof.jsonl"
    moh.write_text(
        json.dumps({"id": "faq-1", "text": "Clinics vaccinate children at twelve months.", "groups": ["moh"]})
        + "\n",
        encoding="utf-8",
    )
    mof.write_text(json.dumps({"id": "faq-1", "text": "Budget day is in February."}) + "\n", encoding="utf-8")
    settings = make_settings(tmp_path / "home", ingest=INGEST)
    ingest(settings, [moh], agency="MOH")
    report = ingest(settings, [mof], agency="MOF", prune=True)
    (refused,) = report.failed
    assert refused.doc_id == "faq-1"
    assert f"another source root ({moh.resolve().as_uri()}, agency MOH)" in refused.reason
    (chunk,) = stored(settings)["faq-1"]
    assert chunk.text == "Clinics vaccinate children at twelve months."
    assert (chunk.agency, chunk.groups) == ("MOH", ["moh"])


def test_index_with_name_roots_is_migrated_in_place(
    tmp_path: Path,
    make_settings: Callable[..., Any],
    ingest: Callable[..., Any],
    stored: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An index written before roots were URIs (root = the folder's name) converges on the first run:
    its documents are rewritten with the resolved root (no duplicates), vanished ones are pruned, and
    another agency's folder of the same name is still refused."""
    import ingest.sources as sources

    a, b = tmp_path / "a" / "corpus", tmp_path / "b" / "corpus"
    _write(a, {**MOH, "gone.md": "# Old\n\nThis notice was withdrawn last year by the ministry."})
    _write(b, MOF)
    settings = make_settings(tmp_path / "home", ingest=INGEST)
    with monkeypatch.context() as m:
        m.setattr(sources, "root_uri", lambda p: p.resolve().name)
        ingest(settings, [a], agency="MOH", groups=["moh-staff"])
    assert {c.root for chunks in stored(settings).values() for c in chunks} == {"corpus"}

    (a / "gone.md").unlink()
    refused = ingest(settings, [b], agency="MOF", groups=["mof-staff"], prune=True)
    assert _statuses(refused) == {"corpus/x.md": "failed", "corpus/z.md": "new"}
    assert "another source root (corpus, agency MOH)" in refused.failed[0].reason

    migrated = ingest(settings, [a], agency="MOH", groups=["moh-staff"], prune=True)
    assert _statuses(migrated) == {
        "corpus/x.md": "changed",
        "corpus/y.md": "changed",
        "corpus/gone.md": "pruned",
    }
    docs = stored(settings)
    assert sorted(docs) == ["corpus/x.md", "corpus/y.md", "corpus/z.md"]
    _moh_intact(docs, a)
    assert all(len(chunks) == chunks[0].n_chunks for chunks in docs.values())  # nothing duplicated
    rerun = ingest(settings, [a], agency="MOH", groups=["moh-staff"], prune=True)
    assert _statuses(rerun) == {"corpus/x.md": "unchanged", "corpus/y.md": "unchanged"}


def test_roots_are_listed_and_a_forgotten_root_hands_its_ids_over(
    tmp_path: Path, make_settings: Callable[..., Any], ingest: Callable[..., Any], stored: Callable[..., Any]
) -> None:
    from typer.testing import CliRunner

    from govrag.cli import app

    a, b = tmp_path / "a" / "corpus", tmp_path / "b" / "corpus"
    _write(a, MOH)
    _write(b, MOF)
    settings = make_settings(tmp_path / "home", ingest=INGEST)
    ingest(settings, [a], agency="MOH", groups=["moh-staff"])
    ingest(settings, [b], agency="MOF", groups=["mof-staff"])
    home = str(settings.home)
    listed = CliRunner().invoke(app, ["index", "roots", "--json", "--home", home])
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.stdout) == [
        {"root": a.resolve().as_uri(), "agency": "MOH", "documents": 2},
        {"root": b.resolve().as_uri(), "agency": "MOF", "documents": 1},
    ]
    forgot = CliRunner().invoke(app, ["index", "forget", "--root", a.resolve().as_uri(), "--home", home])
    assert forgot.exit_code == 0, forgot.output
    assert sorted(forgot.stdout.split()) == ["corpus/x.md", "corpus/y.md"]
    again = ingest(settings, [b], agency="MOF", groups=["mof-staff"])
    assert _statuses(again) == {"corpus/x.md": "new", "corpus/z.md": "unchanged"}
    docs = stored(settings)
    assert sorted(docs) == ["corpus/x.md", "corpus/z.md"]
    assert {c.agency for c in docs["corpus/x.md"]} == {"MOF"}
    assert "finance ministry" in docs["corpus/x.md"][0].text
