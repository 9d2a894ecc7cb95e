"""Document versions: series linking at ingest (title, reference number, URL, explicit `supersedes`), the
version in force preferred at query time whatever the ingest order, `as_of` answers from the version in
force then, "as of <date>" lines, superseded citations, and the API fields.

The integration tests ingest real files with the bundled embedder into the embedded index and answer with
the extractive answerer (the product's path of POST /v1/query).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from api_support import SampleIndex, api_settings, app_client, clone_home
from conftest import build_settings, ingest_now

from govrag.sample_corpus import FEE_2025, FEE_2026, FEE_CIRCULAR_2025, FEE_CIRCULAR_2026
from indices.schema import ChunkRecord, DocumentVersion, Hit, SearchFilter
from ingest.series import SeriesSettings, series_keys
from rag.versions import VersionResolver, VersionSettings, as_of_timestamp, note_for

pytest_plugins = ["api_fixtures"]  # the session-scoped `sample_index`


def _ts(y: int, m: int, d: int) -> float:
    return datetime(y, m, d, tzinfo=UTC).timestamp()


def _keys(doc_id: str, **kw: Any) -> set[str]:
    args: dict[str, Any] = {"title": "", "text": "", "url": None, "agency": "moh", "record": None}
    args.update(kw)
    settings = args.pop("settings", SeriesSettings())
    return set(series_keys(doc_id=doc_id, settings=settings, **args))


def _linked(a: set[str], b: set[str]) -> bool:
    return bool(a & b)


# ---- linking rules ---------------------------------------------------------------------------------------


def test_title_rule_links_one_agencys_documents_with_the_same_title() -> None:
    a = _keys("a", title="Passport Fees – Schedule")
    b = _keys("b", title="passport fees: SCHEDULE")
    assert _linked(a, b)
    assert not _linked(a, _keys("c", title="Passport Fees Schedule 2025"))  # a year is part of a title
    assert not _linked(a, _keys("d", title="Passport Fees - Schedule", agency="other-agency"))
    off = SeriesSettings(title=False)
    assert not _linked(_keys("a", title="Fees", settings=off), _keys("b", title="Fees", settings=off))


def test_reference_rule_keys_on_the_number_without_its_year() -> None:
    new = _keys("new", title="Circular No. 12/2026: passport fees")
    old = _keys("old", text="Pekeliling Bil. 12/2025\nFi pasport")
    other = _keys("other", title="Circular No. 13/2026: visa fees")
    assert "ref:moh:12" in new & old
    assert not _linked(new, other)
    th_new = _keys("th-new", text="ที่ กค 0401/ว 12 ลงวันที่ 1 มกราคม 2569")
    th_old = _keys("th-old", text="ที่ กค 0401 / ว 12")
    assert _linked(th_new, th_old)
    far = _keys("far", text="x" * 500 + " No. 12/2024")  # past `reference_chars`: a mention, not its number
    assert not _linked(far, new)
    with pytest.raises(ValueError, match=r"ingest\.series\.reference_patterns.*named group"):
        SeriesSettings(reference_patterns=[r"No\. \d+"])
    with pytest.raises(ValueError, match=r"ingest\.series\.reference_patterns: '\(' is not a valid regex"):
        SeriesSettings(reference_patterns=["("])


def test_url_rule_and_explicit_supersedes_link_documents() -> None:
    a = _keys("a", url="https://moh.example.gov/clinic-hours")
    b = _keys("b", url="https://moh.example.gov/clinic-hours/#today")
    assert _linked(a, b)
    assert not _linked(a, _keys("c", url="file:///srv/clinic-hours"))  # only web addresses
    rev = _keys("guide-rev", record={"supersedes": "guide; guide-draft"})
    assert _linked(rev, _keys("guide"))
    assert _linked(rev, _keys("guide-draft"))
    assert _linked(_keys("r2", record={"supersedes": ["guide"]}), _keys("guide"))
    off = SeriesSettings(supersedes=False)
    assert not _linked(_keys("guide-rev", record={"supersedes": "guide"}, settings=off), _keys("guide"))


def test_the_version_in_force_does_not_depend_on_the_order_versions_are_listed() -> None:
    v1 = DocumentVersion("v1", "", ["s"], _ts(2024, 1, 1), [])
    v2 = DocumentVersion("v2", "", ["s"], _ts(2025, 1, 1), [])
    v3 = DocumentVersion("v3", "", ["s"], _ts(2026, 1, 1), [])
    fix = DocumentVersion("v2-fix", "", ["s"], None, ["v2"])  # an undated correction of v2
    at = _ts(2025, 6, 1)
    for order in itertools.permutations([v1, v2, v3, fix]):
        notes = {v.doc_id: note_for(v, order, at) for v in order}
        assert notes["v2-fix"].in_force
        assert not notes["v3"].in_force
        assert (notes["v1"].superseded, notes["v1"].replaced_by) == (True, "v2-fix")
        assert (notes["v2"].superseded, notes["v2"].replaced_by) == (True, "v2-fix")
        assert (notes["v3"].superseded, notes["v3"].replaced_by) == (False, "v2-fix")  # not in force yet
    same_day = DocumentVersion("v3-th", "", ["s"], _ts(2026, 1, 1), [])  # a translation: both in force
    later = _ts(2026, 2, 1)
    assert note_for(v3, [v1, v3, same_day], later).in_force
    assert note_for(same_day, [v3, same_day], later).in_force


class _Versions:
    """Only the `versions` call of the index port (a unit test of the ordering around it)."""

    def __init__(self, *versions: DocumentVersion) -> None:
        self.listed = list(versions)

    def versions(self, series: list[str], flt: SearchFilter | None = None) -> list[DocumentVersion]:
        return [v for v in self.listed if set(v.series) & set(series)]


def test_the_version_in_force_takes_the_rank_of_the_version_it_replaces() -> None:
    def hit(doc: str, score: float, series: list[str], eff: float | None) -> Hit:
        return Hit(ChunkRecord(doc, 0, doc, series=series, effective_from=eff), score, doc)

    old, other, new = (
        hit("old", 0.9, ["s"], _ts(2025, 1, 1)),
        hit("x", 0.8, ["t"], None),
        hit("new", 0.7, ["s"], _ts(2026, 1, 1)),
    )
    index: Any = _Versions(
        DocumentVersion("old", "", ["s"], _ts(2025, 1, 1), []),
        DocumentVersion("new", "", ["s"], _ts(2026, 1, 1), []),
        DocumentVersion("x", "", ["t"], None, []),
    )

    def no_fetch(doc_ids: list[str]) -> list[Hit]:
        raise AssertionError(f"the version in force was among the hits, nothing to fetch: {doc_ids}")

    dropped = VersionResolver(VersionSettings(), index).resolve(
        [old, other, new], SearchFilter(), None, no_fetch, 3
    )
    assert [h.record.doc_id for h in dropped.hits] == ["new", "x"]
    demoted = VersionResolver(VersionSettings(superseded="demote"), index).resolve(
        [old, other, new], SearchFilter(), None, no_fetch, 3
    )
    assert [h.record.doc_id for h in demoted.hits] == ["new", "x", "old"]
    assert (demoted.notes["old"].superseded, demoted.notes["old"].replaced_by) == (True, "new")
    past = VersionResolver(VersionSettings(), index).resolve(
        [old, other, new], SearchFilter(), as_of_timestamp(date(2025, 6, 1)), no_fetch, 3
    )
    assert [h.record.doc_id for h in past.hits] == ["old", "x"]
    assert (past.notes["old"].in_force, "new" in past.notes) == (True, False)


# ---- ingestion + retrieval + answers -----------------------------------------------------------------------

TH_OLD = """# ประกาศอัตราค่าธรรมเนียมใบอนุญาตจำหน่ายอาหาร

ที่ กค 0401/ว 12

มีผลใช้บังคับตั้งแต่วันที่ 1 มกราคม 2568

ค่าธรรมเนียมใบอนุญาตจำหน่ายอาหารคือ 200 บาทต่อปี ชำระได้ที่สำนักงานเขต
"""
TH_NEW = """# ประกาศอัตราค่าธรรมเนียมใบอนุญาตจำหน่ายอาหาร (ฉบับปรับปรุง)

ที่ กค 0401/ว 12

มีผลใช้บังคับตั้งแต่วันที่ 1 มกราคม 2569

ค่าธรรมเนียมใบอนุญาตจำหน่ายอาหารคือ 300 บาทต่อปี ชำระได้ที่สำนักงานเขต
"""
FLOOD_OLD = (
    "# Flood relief scheme\n\nEffective from 1 July 2024.\n\nEach flooded household receives 500 ringgit.\n"
)
FLOOD_NEW = (
    "# Flood Relief Scheme\n\nEffective from 1 July 2025.\n\nEach flooded household receives 800 ringgit.\n"
)
CLINIC_URL = "https://moh.example.gov/clinic-hours"
OLD_RECORDS = [
    {"id": "clinic-hours-2024", "title": "Clinic opening hours", "url": CLINIC_URL,
     "effective_from": "2024-01-01", "text": "Public clinics are open from 8 am to 5 pm on weekdays."},
    {"id": "permit-guide", "title": "Street vendor permit guide",
     "text": "A street vendor permit costs 20 dollars and is issued by the town council within five days."},
]  # fmt: skip
NEW_RECORDS = [
    {"id": "clinic-hours-2025", "title": "Clinic hours", "url": CLINIC_URL,
     "effective_from": "2025-01-01", "text": "Public clinics are open from 8 am to 9 pm on weekdays."},
    {"id": "permit-guide-rev", "title": "Street vendor permits (revised)", "supersedes": "permit-guide",
     "text": "A street vendor permit costs 25 dollars and is issued by the town council within five days."},
]  # fmt: skip


def _write_versions(root: Path) -> tuple[Path, Path]:
    """Two folders: the older versions and the newer ones (same folder names in every home)."""
    old, new = root / "old", root / "new"
    for folder in (old, new):
        folder.mkdir(parents=True)
    (old / "fee-circular.en.md").write_text(FEE_CIRCULAR_2025, encoding="utf-8")
    (new / "fee-circular.en.md").write_text(FEE_CIRCULAR_2026, encoding="utf-8")
    (old / "food-licence.th.md").write_text(TH_OLD, encoding="utf-8")
    (new / "food-licence.th.md").write_text(TH_NEW, encoding="utf-8")
    (old / "flood.en.md").write_text(FLOOD_OLD, encoding="utf-8")
    (new / "flood.en.md").write_text(FLOOD_NEW, encoding="utf-8")
    for folder, records in ((old, OLD_RECORDS), (new, NEW_RECORDS)):
        (folder / "export.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return old, new


QUESTIONS = {
    "fee": "How much is the fee for replacing a lost identity card?",
    "th": "ค่าธรรมเนียมใบอนุญาตจำหน่ายอาหารเท่าไร",
    "flood": "How much flood relief does a household receive?",
    "clinic": "Until what time are public clinics open?",
    "permit": "How much does a street vendor permit cost?",
}
IN_FORCE = {
    "fee": "new/fee-circular.en.md",
    "th": "new/food-licence.th.md",
    "flood": "new/flood.en.md",
    "clinic": "clinic-hours-2025",
    "permit": "permit-guide-rev",
}
OLDER = {
    "fee": "old/fee-circular.en.md",
    "th": "old/food-licence.th.md",
    "flood": "old/flood.en.md",
    "clinic": "clinic-hours-2024",
    "permit": "permit-guide",
}


@pytest.fixture(scope="module")
def homes(tmp_path_factory: pytest.TempPathFactory, embedder: Any, sparse_encoder: Any) -> tuple[Path, Path]:
    """Two data dirs with the same versions ingested in opposite orders (newer first, older first)."""
    root = tmp_path_factory.mktemp("versions")
    old, new = _write_versions(root / "corpus")
    out = []
    for name, order in (("newer-first", (new, old)), ("older-first", (old, new))):
        settings = build_settings(root / name, ingest={"workers": 1})
        for folder in order:
            report = ingest_now(settings, embedder, sparse_encoder, [folder])
            assert not report.failed, report.to_dict()["failures"]
        out.append(root / name)
    return out[0], out[1]


class _Stack:
    """The query stack over one data dir, with the session's models (closed by the fixture)."""

    def __init__(self, home: Path, embedder: Any, sparse: Any, **overrides: Any) -> None:
        from govrag.components import Components, open_query_stack
        from indices.registry import open_index

        self.settings = build_settings(home, **overrides)
        index = open_index(self.settings.index, embedder.identity, self.settings.home, create=False)
        self.stack = open_query_stack(
            self.settings, Components(embedder=embedder, sparse=sparse, index=index)
        )
        self.index = index

    def search(self, question: str, **kw: Any) -> Any:
        return self.stack.retriever.search(question, k=5, flt=SearchFilter(groups=["public"]), **kw)

    def ask(self, question: str, **kw: Any) -> Any:
        import anyio

        from rag.answering import Question

        return anyio.run(self.stack.answers.answer, Question(text=question, groups=["public"], **kw))

    def close(self) -> None:
        self.index.close()


@pytest.fixture
def stack_of(embedder: Any, sparse_encoder: Any) -> Iterator[Any]:
    opened: list[_Stack] = []

    def _open(home: Path, **overrides: Any) -> _Stack:
        s = _Stack(home, embedder, sparse_encoder, **overrides)
        opened.append(s)
        return s

    yield _open
    for s in opened:
        s.close()


def _shown(result: Any) -> list[tuple[str, bool]]:
    return [
        (
            h.record.doc_id,
            bool(result.versions.get(h.record.doc_id) and result.versions[h.record.doc_id].superseded),
        )
        for h in result.hits
    ]


def test_each_rule_links_versions_and_the_order_of_ingestion_does_not_matter(
    homes: tuple[Path, Path], stack_of: Any
) -> None:
    newer_first, older_first = stack_of(homes[0]), stack_of(homes[1])
    stored = newer_first.index.get_chunks("old/fee-circular.en.md")[0]
    assert "ref::12" in stored.series
    assert stored.effective_from == _ts(2025, 1, 1)
    for topic, question in QUESTIONS.items():
        a, b = newer_first.search(question), older_first.search(question)
        ids = [d for d, _ in _shown(a)]
        assert IN_FORCE[topic] in ids, (topic, ids)
        assert OLDER[topic] not in ids, (topic, ids)  # dropped: the version in force is shown instead
        assert _shown(a) == _shown(b), topic
        past = newer_first.search(question, as_of=as_of_timestamp(date(2024, 12, 31)))
        assert OLDER[topic] in [h.record.doc_id for h in past.hits] or topic == "permit", topic


def test_deleting_the_newer_version_puts_the_older_back_in_force(
    homes: tuple[Path, Path], tmp_path: Path, stack_of: Any
) -> None:
    home = clone_home(homes[0], tmp_path / "home")
    s = stack_of(home)
    s.index.delete_documents(["new/fee-circular.en.md"])
    result = s.search(QUESTIONS["fee"])
    assert result.hits[0].record.doc_id == "old/fee-circular.en.md"
    assert not result.versions["old/fee-circular.en.md"].superseded
    answer = s.ask(QUESTIONS["fee"])
    assert "100 dollars" in answer.answer
    assert not answer.citations[0].superseded


def test_demoted_versions_come_after_every_version_in_force_and_are_marked(
    homes: tuple[Path, Path], stack_of: Any
) -> None:
    s = stack_of(homes[0], versions=VersionSettings(superseded="demote").model_dump())
    result = s.search(QUESTIONS["fee"])
    shown = _shown(result)
    assert ("old/fee-circular.en.md", True) in shown
    first_old = next(i for i, (_, old) in enumerate(shown) if old)
    assert all(old for _, old in shown[first_old:])
    assert shown.index(("new/fee-circular.en.md", False)) < first_old
    assert result.versions["old/fee-circular.en.md"].replaced_by == "new/fee-circular.en.md"


def test_as_of_answers_from_the_version_in_force_then_and_dates_the_answer(
    homes: tuple[Path, Path], stack_of: Any
) -> None:
    s = stack_of(homes[1])
    now = s.ask(QUESTIONS["fee"])
    assert "150 dollars" in now.answer
    assert "100 dollars" not in now.answer
    assert {c.doc_id for c in now.citations} == {"new/fee-circular.en.md"}
    assert now.answer.endswith("As of 2026-03-01.")
    assert now.citations[0].effective_from == _ts(2026, 3, 1)
    assert now.citations[0].doc_date == _ts(2026, 2, 10)

    past = s.ask(QUESTIONS["fee"], as_of=date(2025, 6, 1))
    assert "100 dollars" in past.answer
    assert "150 dollars" not in past.answer
    assert {c.doc_id for c in past.citations} == {"old/fee-circular.en.md"}
    assert past.answer.endswith("As of 2025-01-01.")
    assert not past.citations[0].superseded  # in force on the day asked about

    th = s.ask(QUESTIONS["th"])
    assert "300 บาท" in th.answer
    assert th.language == "th"
    assert th.answer.endswith("ข้อมูล ณ วันที่ 2026-01-01")  # 1 มกราคม 2569 (Buddhist era)
    th_past = s.ask(QUESTIONS["th"], as_of=date(2025, 6, 1))
    assert "200 บาท" in th_past.answer
    assert th_past.answer.endswith("ข้อมูล ณ วันที่ 2025-01-01")


def test_a_superseded_version_asked_for_by_id_is_cited_and_marked(
    homes: tuple[Path, Path], stack_of: Any
) -> None:
    s = stack_of(homes[0])
    a = s.ask(QUESTIONS["fee"], doc_ids=["old/fee-circular.en.md"])
    assert "100 dollars" in a.answer
    (cite,) = a.citations
    assert (cite.doc_id, cite.superseded, cite.superseded_by) == (
        "old/fee-circular.en.md",
        True,
        "new/fee-circular.en.md",
    )


# ---- the API ---------------------------------------------------------------------------------------------


def test_api_as_of_and_citation_dates(
    sample_index: SampleIndex, tmp_path: Path, embedder: Any, sparse_encoder: Any
) -> None:
    settings = api_settings(clone_home(sample_index.home, tmp_path / "home"))
    with app_client(settings, embedder, sparse_encoder) as client:
        question = "How much is the fee for replacing a lost identity card?"
        r = client.post("/v1/query", json={"question": question, "as_of": "2025-06-01"})
        assert r.status_code == 200, r.text
        a = r.json()
        assert "100 dollars" in a["answer"]
        assert a["answer"].endswith("As of 2025-01-01.")
        cite = next(c for c in a["citations"] if c["doc_id"] == FEE_2025)
        assert (cite["effective_from"], cite["doc_date"], cite["superseded"]) == (
            _ts(2025, 1, 1),
            _ts(2024, 12, 15),
            False,
        )
        r = client.post("/v1/query", json={"question": question, "filters": {"doc_ids": [FEE_2025]}})
        cite = r.json()["citations"][0]
        assert (cite["superseded"], cite["superseded_by"]) == (True, FEE_2026)
        r = client.post("/v1/search", json={"query": question, "top_k": 3})
        assert FEE_2025 not in [h["doc_id"] for h in r.json()["hits"]]
        r = client.post("/v1/search", json={"query": question, "top_k": 3, "as_of": "2025-06-01"})
        hits = r.json()["hits"]
        assert hits[0]["doc_id"] == FEE_2025
        assert FEE_2026 not in [h["doc_id"] for h in hits]
        r = client.post("/v1/query", json={"question": question, "as_of": "2025-02-30"})
        assert r.status_code == 422
        assert "YYYY-MM-DD" in r.text
        assert "as_of" in r.text


def test_cli_ask_as_of(homes: tuple[Path, Path]) -> None:
    from typer.testing import CliRunner

    from govrag.cli import app

    runner = CliRunner()
    home = str(homes[1])
    result = runner.invoke(app, ["ask", QUESTIONS["fee"], "--as-of", "2025-06-01", "--json", "--home", home])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert "100 dollars" in answer["answer"]
    assert [c["doc_id"] for c in answer["citations"]] == ["old/fee-circular.en.md"]
    assert answer["citations"][0]["effective_from"] == _ts(2025, 1, 1)
    bad = runner.invoke(app, ["ask", QUESTIONS["fee"], "--as-of", "1 June 2025", "--home", home])
    assert bad.exit_code == 2
    assert "--as-of must be a date written YYYY-MM-DD, got '1 June 2025'" in " ".join(bad.output.split())


def test_eval_versions_reports_the_share_answered_from_the_version_in_force(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from govrag.cli import app
    from govrag.sample_corpus import DATED_QUESTIONS

    home = tmp_path / "home"
    build_settings(home)  # links the models
    runner = CliRunner()
    result = runner.invoke(app, ["eval", "versions", "--json", "--home", str(home)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["n"] == len(DATED_QUESTIONS) == 8
    assert report["cites_in_force_share"] == 1.0  # every question cites the version in force on its day
    assert report["in_force_share"] >= 0.75
    rows = {r["id"]: r for r in report["questions"]}
    assert [d.rsplit("/", 2)[-2:] for d in rows["lost-2025"]["cited"]] == [FEE_2025.split("/")]
    assert rows["lost-2025"]["as_of_line"] == "As of 2025-01-01."
    assert rows["lost-now"]["states_answer"] is True
    assert not list((home / "eval").iterdir())  # the temporary corpus and index are gone
    bad = tmp_path / "dated.jsonl"
    bad.write_text(json.dumps({"id": "q", "lang": "en", "question": "?", "in_force": FEE_2026}) + "\n")
    result = runner.invoke(app, ["eval", "versions", "--questions", str(bad), "--home", str(home)])
    assert result.exit_code == 2
    assert f"{bad}:1: field 'answer' must be a non-empty string" in " ".join(result.output.split())
