"""Metric functions of the evaluation harness on small hand-made cases, and the input-file checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from govrag import eval_metrics as m
from govrag.evaluation import EvalDataError, load_questions, prepare_set, sample, scan_corpus


# ------------------------------------------------------------------------------------ retrieval ranks
def test_rank_counts_distinct_documents_only() -> None:
    # chunks of doc a fill ranks 1-3: b is the second *document*
    assert m.first_hit_rank(["a", "a", "a", "b", "c"], {"b"}) == 2
    assert m.first_hit_rank(["a", "b", "c"], {"c", "b"}) == 2
    assert m.first_hit_rank(["a", "b"], {"z"}) is None
    assert m.first_hit_rank([], {"a"}) is None


def test_rank_ties_count_against_the_system() -> None:
    # b shares its score with a (ranked first by point-id order): not a rank-1 hit
    assert m.first_hit_rank(["a", "b", "c"], {"b"}, [0.5, 0.5, 0.1]) == 2
    assert m.first_hit_rank(["b", "a", "c"], {"b"}, [0.5, 0.5, 0.1]) == 2
    assert m.first_hit_rank(["b", "a", "c", "d"], {"b"}, [0.5, 0.5, 0.5, 0.1]) == 3
    # no tie: position decides; repeated chunk of b with a lower score does not matter
    assert m.first_hit_rank(["b", "a", "b"], {"b"}, [0.9, 0.5, 0.1]) == 1
    with pytest.raises(ValueError, match="2 scores for 3"):
        m.first_hit_rank(["a", "b", "c"], {"a"}, [0.1, 0.2])


def test_recall_and_mrr() -> None:
    ranks = [1, 2, None, 7, 11]
    assert m.recall_at(ranks, 1) == pytest.approx(0.2)
    assert m.recall_at(ranks, 5) == pytest.approx(0.4)
    assert m.recall_at(ranks, 10) == pytest.approx(0.6)
    assert m.mrr_at(ranks, 10) == pytest.approx((1 + 0.5 + 1 / 7) / 5)
    assert m.recall_at([], 5) == 0.0
    assert m.mrr_at([]) == 0.0
    summary = m.retrieval_summary(ranks)
    assert summary == {"n": 5, "recall@1": 0.2, "recall@5": 0.4, "recall@10": 0.6, "mrr@10": 0.3286}


# ------------------------------------------------------------------------------------ answers
def test_exact_match_normalizes_case_punctuation_and_articles() -> None:
    assert m.exact_match("The Saxon Garden.", ["saxon garden"], "en") == 1.0
    assert m.exact_match("Ogród Saski!", ["ogród saski"], "pl") == 1.0
    assert m.exact_match("the garden", ["garden"], "id") == 0.0  # articles only dropped for English
    assert m.exact_match("1 พฤศจิกายน พ.ศ. 2476", ["1 พฤศจิกายน พ.ศ. 2476"], "th") == 1.0
    assert m.exact_match("", ["x"], "en") == 0.0


def test_token_f1_words_and_characters() -> None:
    # 2 common words of 3 predicted / 2 gold: P=2/3 R=1 -> 0.8
    assert m.token_f1("Panthera tigris sumatrensis", ["Panthera tigris"], "id") == pytest.approx(0.8)
    assert m.token_f1("kucing", ["harimau"], "id") == 0.0
    # best over gold answers
    assert m.token_f1("harimau", ["kucing", "harimau"], "id") == 1.0
    # Chinese: characters. "萨克森花园" vs "萨克森公园": 4 of 5 characters shared -> 0.8
    assert m.token_f1("萨克森花园", ["萨克森公园"], "zh") == pytest.approx(0.8)
    # Thai without spaces would be one token; characters give partial credit
    assert 0 < m.token_f1("วันที่ 1 พฤศจิกายน", ["1 พฤศจิกายน"], "th") < 1
    assert m.token_f1("วันที่ 1 พฤศจิกายน", ["1 พฤศจิกายน"], "en") == pytest.approx(0.8)


def test_strip_citations() -> None:
    assert m.strip_citations("Ogród Saski [1]. Another [2, 3]【4】") == "Ogród Saski. Another"


def test_choices() -> None:
    assert m.pick_choice([0.1, 0.7, 0.7, 0.2]) == 1  # first of the tied best
    assert m.pick_choice([]) is None
    assert m.parse_choice("Option 3 is right [1]", 4) == 2
    assert m.parse_choice("B) because ...", 4) == 1
    assert m.parse_choice("9 people", 4) is None
    assert m.choice_accuracy([0, 1, None, 3], [0, 2, 1, 3]) == 0.5
    with pytest.raises(ValueError, match="2 predictions for 1"):
        m.choice_accuracy([0, 1], [0])


def test_citation_precision_and_mean() -> None:
    assert m.citation_precision(["a", "b", "a"], {"a"}) == pytest.approx(2 / 3)
    assert m.citation_precision([], {"a"}) is None
    assert m.mean([1.0, None, 0.0]) == 0.5
    assert m.mean([None]) is None


def test_percentiles() -> None:
    assert m.percentile([10, 20, 30, 40], 50) == 25
    assert m.percentile([5], 95) == 5
    assert m.percentile(list(range(1, 101)), 95) == pytest.approx(95.05)
    assert m.latency_summary([]) == {"p50": 0.0, "p95": 0.0}
    with pytest.raises(ValueError, match=r"0\.\.100"):
        m.percentile([1], 101)


# ------------------------------------------------------------------------------------ input files
def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _q(**kw: object) -> str:
    base: dict[str, object] = {
        "id": "q1",
        "lang": "en",
        "question": "Where?",
        "relevant": ["d1"],
        "answers": ["x"],
    }
    base.update(kw)
    return json.dumps({k: v for k, v in base.items() if v is not None})


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"id": "q2", "lang": "en", "question": ', r"questions\.jsonl:2: malformed JSON"),
        ('["not", "an", "object"]', r"questions\.jsonl:2: expected a JSON object"),
        (_q(id="q2", relevant=None), r"questions\.jsonl:2: missing field 'relevant'"),
        (_q(id="q2", relevant="d1"), r"questions\.jsonl:2: field 'relevant' must be a list of strings"),
        (_q(id="q2", relevant=[]), r"questions\.jsonl:2: field 'relevant' is empty"),
        (_q(id="q2", question=""), r"questions\.jsonl:2: field 'question' must be a non-empty string"),
        (_q(id="q2", lang=None), r"questions\.jsonl:2: missing field 'lang'"),
        (
            _q(id="q2", choices=["a", "b"], correct_index=5),
            r"questions\.jsonl:2: 'correct_index' 5 is outside",
        ),
        (_q(id="q2", correct_index="1"), r"questions\.jsonl:2: field 'correct_index' must be an integer"),
        (_q(id="q1"), r"questions\.jsonl:2: duplicate question id 'q1'"),
    ],
)
def test_malformed_question_lines_name_file_line_and_field(tmp_path: Path, line: str, message: str) -> None:
    path = _write(tmp_path / "questions.jsonl", [_q(), line])
    with pytest.raises(EvalDataError, match=message):
        load_questions(path)


def test_question_extra_fields_are_ignored_and_blank_lines_skipped(tmp_path: Path) -> None:
    path = _write(tmp_path / "q.jsonl", [_q(extra={"a": 1}, dataset="x"), "", _q(id="q2", answers=None)])
    qs = load_questions(path)
    assert [(q.id, q.answers) for q in qs] == [("q1", ["x"]), ("q2", [])]


def test_corpus_checks_and_parallel_groups(tmp_path: Path) -> None:
    ok = _write(
        tmp_path / "c.jsonl",
        [
            json.dumps({"id": "en-p1", "lang": "en", "text": "One.", "dataset": "bb", "parallel_id": "p1"}),
            json.dumps({"id": "th-p1", "lang": "th", "text": "หนึ่ง", "dataset": "bb", "parallel_id": "p1"}),
            json.dumps({"id": "solo", "lang": "id", "text": "Satu."}),
        ],
    )
    info = scan_corpus([ok])
    assert info.langs == {"en-p1": "en", "th-p1": "th", "solo": "id"}
    assert info.parallel["th-p1"] == ["en-p1", "th-p1"]
    assert "solo" not in info.parallel
    bad = _write(tmp_path / "bad.jsonl", [json.dumps({"id": "a", "text": "x"}), json.dumps({"id": "b"})])
    with pytest.raises(EvalDataError, match=r"bad\.jsonl:2: missing field 'text'"):
        scan_corpus([bad])
    dup = _write(tmp_path / "dup.jsonl", [json.dumps({"id": "solo", "text": "again"})])
    with pytest.raises(EvalDataError, match=r"dup\.jsonl:1: corpus id 'solo' appears twice"):
        scan_corpus([ok, dup])


def test_missing_relevant_ids_are_counted_and_empty_questions_skipped(tmp_path: Path) -> None:
    corpus = scan_corpus([_write(tmp_path / "c.jsonl", [json.dumps({"id": "d1", "text": "x"})])])
    qpath = _write(
        tmp_path / "q.jsonl",
        [
            _q(id="q1", relevant=["d1", "gone"]),
            _q(id="q2", relevant=["gone2"]),
            _q(id="q3", relevant=["d1"]),
        ],
    )
    prepared = prepare_set(qpath, corpus, None, 0)
    assert prepared.missing_relevant == 2
    assert prepared.skipped == 1
    assert [(q.id, q.relevant) for q in prepared.questions] == [("q1", ["d1"]), ("q3", ["d1"])]


def test_sample_is_seeded_and_keeps_file_order(tmp_path: Path) -> None:
    qs = load_questions(_write(tmp_path / "q.jsonl", [_q(id=f"q{i}") for i in range(20)]))
    a = [q.id for q in sample(qs, 5, 1)]
    assert a == [q.id for q in sample(qs, 5, 1)]
    assert len(a) == 5
    assert a == sorted(a, key=lambda x: int(x[1:]))
    assert sample(qs, 50, 1) == qs
