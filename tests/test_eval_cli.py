"""`govrag eval` end to end on a tiny hand-made corpus with the real embedder, plus the shared data check.

The corpus is written by the test (four topics, each in two languages, translations linked by
`parallel_id`); questions ask about one topic in one language. The index is built once per module
in a reusable `--index-dir`, which the later runs reuse.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("DO_NOT_TRACK", "1")

from govrag.cli import app
from govrag.evaluation import load_questions, scan_corpus

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "eval"

CORPUS = [
    (
        "passport-en",
        "en",
        "Passport renewal",
        "A passport renewal costs 120 dollars and takes ten working days at the immigration office.",
        "p1",
    ),
    (
        "passport-th",
        "th",
        "การต่ออายุหนังสือเดินทาง",
        "การต่ออายุหนังสือเดินทางมีค่าธรรมเนียม 1,000 บาท และใช้เวลาสิบวันทำการที่สำนักงานตรวจคนเข้าเมือง",
        "p1",
    ),
    (
        "flood-id",
        "id",
        "Bantuan banjir",
        "Korban banjir dapat mengajukan bantuan tunai sebesar dua juta rupiah di kantor kecamatan setempat.",
        "p2",
    ),
    (
        "flood-en",
        "en",
        "Flood relief",
        "Flood victims can apply for cash relief of two million rupiah at the local district office.",
        "p2",
    ),
    (
        "tax-zh",
        "zh",
        "个人所得税申报",
        "个人所得税年度汇算须在每年三月一日至六月三十日之间通过个人所得税应用程序办理。",
        "p3",
    ),
    (
        "tax-en",
        "en",
        "Income tax filing",
        "The annual income tax reconciliation must be filed between March 1 and June 30 in the tax app.",
        "p3",
    ),
    (
        "vaccine-en",
        "en",
        "Child vaccination",
        "Children receive the measles vaccine free of charge at any public health clinic at nine months old.",
        "p4",
    ),
    ("vaccine-th", "th", "การฉีดวัคซีนเด็ก", "เด็กอายุเก้าเดือนได้รับวัคซีนป้องกันโรคหัดฟรีที่สถานีอนามัยของรัฐทุกแห่ง", "p4"),
]
QUESTIONS = [
    ("q-en-1", "en", "How much does it cost to renew a passport?", ["passport-en"], ["120 dollars"]),
    ("q-th-1", "th", "ต่ออายุหนังสือเดินทางเสียค่าธรรมเนียมเท่าไร", ["passport-th"], ["1,000 บาท"]),
    ("q-id-1", "id", "Berapa bantuan tunai untuk korban banjir?", ["flood-id"], ["dua juta rupiah"]),
    ("q-zh-1", "zh", "个人所得税年度汇算什么时候办理？", ["tax-zh"], ["三月一日至六月三十日"]),
    (
        "q-en-2",
        "en",
        "Where can children get the measles vaccine?",
        ["vaccine-en", "not-in-corpus"],
        ["any public health clinic"],
    ),
]
MC = {
    "id": "q-mc",
    "lang": "en",
    "question": "How long does a passport renewal take?",
    "relevant": ["passport-en"],
    "answers": ["ten working days"],
    "choices": ["one day", "ten working days", "six months"],
    "correct_index": 1,
}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> dict[str, Path]:
    """Corpus and question files, and a data dir whose models folder is the shared converted-model cache."""
    root = tmp_path_factory.mktemp("evaldata")
    corpus = root / "corpus.jsonl"
    corpus.write_text(
        "".join(
            json.dumps(
                {"id": i, "lang": lang, "title": t, "text": x, "dataset": "tiny", "parallel_id": p},
                ensure_ascii=False,
            )
            + "\n"
            for i, lang, t, x, p in CORPUS
        ),
        encoding="utf-8",
    )
    questions = root / "tiny.dev.jsonl"
    questions.write_text(
        "".join(
            json.dumps(
                {"id": i, "lang": lang, "question": q, "relevant": r, "answers": a}, ensure_ascii=False
            )
            + "\n"
            for i, lang, q, r, a in QUESTIONS
        ),
        encoding="utf-8",
    )
    mc = root / "mc.dev.jsonl"
    mc.write_text(json.dumps(MC) + "\n", encoding="utf-8")
    home = root / "home"
    home.mkdir()
    (home / "models").symlink_to(models_dir.resolve(), target_is_directory=True)  # converted once per cache
    return {"corpus": corpus, "questions": questions, "mc": mc, "home": home, "index": root / "index"}


def _run(data: dict[str, Path], command: str, *args: str | Path, questions: Sequence[Path] = ()) -> Any:
    """`govrag eval <command> <args>` on the test corpus and home; `questions` default to the tiny set."""
    question_args = [arg for q in questions or [data["questions"]] for arg in ("--questions", q)]
    argv = [command, "--corpus", data["corpus"], *question_args, "--home", data["home"], *args]
    return CliRunner().invoke(app, ["eval", *map(str, argv)])


@pytest.fixture(scope="module")
def retrieval_report(data: dict[str, Path]) -> dict[str, Any]:
    """`eval retrieval --mode all` once (builds the reusable index)."""
    out = data["index"].parent / "r.json"
    res = _run(data, "retrieval", "--mode", "all", "--index-dir", data["index"], "--json", "--out", out)
    assert res.exit_code == 0, res.output
    report: dict[str, Any] = json.loads(res.stdout)
    assert json.loads(out.read_text(encoding="utf-8")) == report
    return report


def test_retrieval_report_shape_and_values(retrieval_report: dict[str, Any]) -> None:
    rep = retrieval_report
    assert set(rep) == {"sets", "latency_ms", "ingest_s", "config"}
    assert list(rep["sets"]) == ["tiny.dev.jsonl"]
    modes = rep["sets"]["tiny.dev.jsonl"]
    assert list(modes) == ["hybrid", "dense", "bm25"]
    for blk in modes.values():
        assert set(blk) == {"all", "by_lang"}
        assert set(blk["all"]) == {"n", "recall@1", "recall@5", "recall@10", "mrr@10"}
        assert blk["all"]["n"] == 5
        assert {lang: row["n"] for lang, row in blk["by_lang"].items()} == {
            "en": 2,
            "id": 1,
            "th": 1,
            "zh": 1,
        }
        # 8 documents: every relevant document is within the top 10
        assert blk["all"]["recall@10"] == 1.0
    # the same-language passage is the obvious best match for each question
    assert modes["hybrid"]["all"]["recall@1"] == 1.0
    assert modes["hybrid"]["all"]["mrr@10"] == 1.0
    assert set(rep["latency_ms"]) == {"p50", "p95"}
    assert rep["latency_ms"]["p95"] >= rep["latency_ms"]["p50"] > 0
    cfg = rep["config"]
    assert cfg["modes"] == ["hybrid", "dense", "bm25"]
    assert cfg["documents"] == 8
    assert cfg["chunks"] == 8
    assert cfg["missing_relevant"] == {"tiny.dev.jsonl": 1}
    assert cfg["skipped_questions"] == {"tiny.dev.jsonl": 0}
    assert cfg["embedder"]["query_prompt"] == "query: "
    assert cfg["git_commit"]
    assert cfg["index_reused"] is False


def test_index_is_reused_and_table_printed(data: dict[str, Path], retrieval_report: dict[str, Any]) -> None:
    out = data["index"].parent / "dense.json"
    res = _run(data, "retrieval", "--mode", "dense", "--index-dir", data["index"], "--out", out)
    assert res.exit_code == 0, res.output
    # without --json: the rich table on stdout
    assert "tiny.dev.jsonl" in res.stdout
    assert "dense" in res.stdout
    assert "R@1" in res.stdout
    again = json.loads(out.read_text(encoding="utf-8"))
    assert again["config"]["index_reused"] is True
    assert again["ingest_s"] == pytest.approx(retrieval_report["ingest_s"], abs=0.01)
    assert again["sets"]["tiny.dev.jsonl"]["dense"] == retrieval_report["sets"]["tiny.dev.jsonl"]["dense"]


def test_malformed_question_file_fails_with_line_number(data: dict[str, Path], tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"id": "a", "lang": "en", "question": "x?", "relevant": ["passport-en"]}\n'
        '{"id": "b", "lang": "en", "question": "y?"}\n',
        encoding="utf-8",
    )
    res = _run(data, "retrieval", "--index-dir", data["index"], questions=[bad])
    assert res.exit_code == 2
    assert "bad.jsonl:2: missing field 'relevant'" in " ".join(res.output.split())


def test_bad_mode_and_foreign_index_dir(data: dict[str, Path], tmp_path: Path) -> None:
    res = _run(data, "retrieval", "--mode", "fuzzy")
    assert res.exit_code == 2
    assert "--mode must be one of" in res.output
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me", encoding="utf-8")
    res = _run(data, "retrieval", "--index-dir", foreign)
    assert res.exit_code == 2
    assert "not made by `govrag eval`" in " ".join(res.output.split())
    assert (foreign / "notes.txt").read_text(encoding="utf-8") == "keep me"


def test_answers_extractive(data: dict[str, Path], retrieval_report: dict[str, Any]) -> None:
    res = _run(
        data, "answers", "--index-dir", data["index"], "--json", questions=[data["questions"], data["mc"]]
    )
    assert res.exit_code == 0, res.output
    rep = json.loads(res.stdout)
    assert set(rep) == {"sets", "latency_ms", "ingest_s", "config"}
    assert rep["config"]["generator"] == "extractive"
    assert "similar" in rep["config"]["multiple_choice"]
    tiny = rep["sets"]["tiny.dev.jsonl"]["all"]
    assert tiny["n"] == 5
    assert tiny["choice_accuracy"] is None
    # extractive answers quote whole sentences: partial token overlap, rarely an exact match
    assert 0 < tiny["token_f1"] <= 1
    for key in ("grounded_rate", "refusal_rate_answerable", "refusal_rate_unanswerable", "language_match"):
        assert 0 <= tiny[key] <= 1
    assert tiny["grounded_rate"] + tiny["refusal_rate_answerable"] == pytest.approx(1.0)
    if tiny["citation_precision"] is not None:
        assert tiny["citation_precision"] > 0.5
    mc = rep["sets"]["mc.dev.jsonl"]["all"]
    assert mc["n"] == 1
    assert mc["exact_match"] is None
    assert mc["choice_accuracy"] in (0.0, 1.0)


# ------------------------------------------------------------------------------------ shared data
@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/eval is not present")
def test_shared_eval_files_parse_and_point_into_their_corpus() -> None:
    corpus_dir, q_dir = SHARED / "corpus", SHARED / "questions"
    mono = scan_corpus(sorted(p for p in corpus_dir.glob("*.jsonl") if p.name != "xling-en.jsonl"))
    xling = scan_corpus([corpus_dir / "xling-en.jsonl"])
    assert len(mono.langs) > 5000
    for path in sorted(q_dir.glob("*.dev.jsonl")):
        info = xling if "-xling" in path.name else mono
        qs = load_questions(path)
        assert qs, path
        missing = sum(1 for q in qs for d in q.relevant if d not in info.langs)
        assert missing == 0, f"{path.name}: {missing} relevant ids not in the corpus"
