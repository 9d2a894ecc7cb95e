"""Language identification accuracy on the shared eval data: govrag's detector against raw baselines.

Passages: every `corpus/*.jsonl` except `xling-en.jsonl` (~7,000 passages, 11 languages). Questions:
every `questions/*.jsonl`, de-duplicated by (lang, question) (short texts). Contenders, side by side:

* `govrag`: `indices.language.LanguageDetector` with default settings (script routing, py3langid
  restricted to en/ms/id/tl/vi, Malay/Indonesian lexicon). "und" counts as wrong.
* `py3langid`: the raw py3langid model over all its 140 labels (yue/wuu counted as zh).
* `py3langid-11`: the same model restricted to our 11 languages.
* `lingua`: lingua-language-detector restricted to the 8 of our languages it knows (it has no
  Burmese, Khmer or Lao, so those always count as wrong); skipped when lingua is not installed.

Prints per-language accuracy, speed, the main confusions (Malay <-> Indonesian especially) and, last,
`RESULT langid_acc_passages=<f> langid_acc_questions=<f>` for govrag.

    python benchmarks/langid_eval.py [--eval-dir ../shared/eval] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)

DEFAULT_EVAL_DIR = Path(__file__).resolve().parents[2] / "shared" / "eval"
Sample = tuple[str, str]  # (gold lang, text)
Predict = Callable[[str], str]


@dataclass
class Score:
    """Hits, totals and confusions of one contender on one data set."""

    correct: Counter[str] = field(default_factory=Counter)
    total: Counter[str] = field(default_factory=Counter)
    confusions: Counter[tuple[str, str]] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def accuracy(self) -> float:
        """Micro accuracy over all samples."""
        n = sum(self.total.values())
        return sum(self.correct.values()) / n if n else 0.0

    @property
    def macro(self) -> float:
        """Mean of the per-language accuracies."""
        return sum(self.correct[k] / v for k, v in self.total.items()) / max(1, len(self.total))


def load(eval_dir: Path, limit: int | None) -> tuple[list[Sample], list[Sample]]:
    """Passages and de-duplicated questions, `limit` per language per set when given."""
    passages: list[Sample] = []
    for path in sorted((eval_dir / "corpus").glob("*.jsonl")):
        if path.name != "xling-en.jsonl":
            passages += [(row["lang"], row["text"]) for row in _rows(path)]
    questions: list[Sample] = []
    seen: set[Sample] = set()
    for path in sorted((eval_dir / "questions").glob("*.jsonl")):
        for row in _rows(path):
            key = (row["lang"], row["question"])
            if key not in seen:
                seen.add(key)
                questions.append(key)
    if limit:
        passages, questions = _cap(passages, limit), _cap(questions, limit)
    return passages, questions


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _cap(samples: list[Sample], limit: int) -> list[Sample]:
    seen: Counter[str] = Counter()
    out = []
    for lang, text in samples:
        seen[lang] += 1
        if seen[lang] <= limit:
            out.append((lang, text))
    return out


def contenders() -> dict[str, Predict]:
    """Name -> predict function; heavy models load here, outside the timed loops."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    from indices.language import SUPPORTED_LANGUAGES, LanguageDetector

    ours = LanguageDetector()
    ours.warm_up()
    raw = LanguageIdentifier.from_model_file(MODEL_FILE)
    restricted = LanguageIdentifier.from_model_file(MODEL_FILE)
    restricted.set_languages(list(SUPPORTED_LANGUAGES))
    zh_variants = {"yue": "zh", "wuu": "zh"}

    def _raw(text: str) -> str:
        label = str(raw.classify(text)[0])
        return zh_variants.get(label, label)

    out: dict[str, Predict] = {
        "govrag": ours.detect,
        "py3langid": _raw,
        "py3langid-11": lambda t: restricted.classify(t)[0],
    }
    try:
        from lingua import IsoCode639_1, LanguageDetectorBuilder
    except ImportError:
        logger.warning("lingua-language-detector not installed: skipping the lingua baseline")
        return out
    codes = [
        getattr(IsoCode639_1, c.upper()) for c in SUPPORTED_LANGUAGES if hasattr(IsoCode639_1, c.upper())
    ]
    try:
        lingua = LanguageDetectorBuilder.from_iso_codes_639_1(*codes).build()
    except ValueError:  # some codes exist as ISO enums but lingua has no model for them
        from lingua import Language

        known = {lang.iso_code_639_1 for lang in Language.all()}
        lingua = LanguageDetectorBuilder.from_iso_codes_639_1(*[c for c in codes if c in known]).build()

    def _lingua(text: str) -> str:
        found = lingua.detect_language_of(text)
        return found.iso_code_639_1.name.lower() if found is not None else "und"

    out["lingua"] = _lingua
    return out


def evaluate(predict: Predict, samples: list[Sample]) -> Score:
    """Run one contender over one data set."""
    score = Score()
    start = time.perf_counter()
    for gold, text in samples:
        guess = predict(text)
        score.total[gold] += 1
        if guess == gold:
            score.correct[gold] += 1
        else:
            score.confusions[(gold, guess)] += 1
    score.seconds = time.perf_counter() - start
    return score


def report(title: str, samples: list[Sample], scores: dict[str, Score]) -> None:
    """Per-language table, speed, confusions."""
    names = list(scores)
    langs = sorted({lang for lang, _ in samples})
    print(
        f"\n== {title}: {len(samples)} texts, mean {sum(len(t) for _, t in samples) / len(samples):.0f} chars"
    )
    print(f"{'lang':<6}{'n':>6}" + "".join(f"{n:>14}" for n in names))
    for lang in langs:
        n = scores[names[0]].total[lang]
        print(f"{lang:<6}{n:>6}" + "".join(f"{scores[s].correct[lang] / n:>14.4f}" for s in names))
    print(f"{'micro':<12}" + "".join(f"{scores[s].accuracy:>14.4f}" for s in names))
    print(f"{'macro':<12}" + "".join(f"{scores[s].macro:>14.4f}" for s in names))
    print(f"{'us/text':<12}" + "".join(f"{scores[s].seconds / len(samples) * 1e6:>14.1f}" for s in names))
    print(f"{'ms->id':<12}" + "".join(f"{scores[s].confusions[('ms', 'id')]:>14d}" for s in names))
    print(f"{'id->ms':<12}" + "".join(f"{scores[s].confusions[('id', 'ms')]:>14d}" for s in names))
    ours = scores["govrag"]
    for name in names[1:]:
        errors, base_errors = sum(ours.confusions.values()), sum(scores[name].confusions.values())
        ratio = base_errors / errors if errors else float("inf")
        print(f"errors govrag={errors} {name}={base_errors} ({ratio:.2f}x fewer with govrag)")
    for name in names:
        top = ", ".join(f"{g}->{p}:{c}" for (g, p), c in scores[name].confusions.most_common(6))
        print(f"top confusions {name}: {top or 'none'}")


def main(argv: list[str] | None = None) -> int:
    """Run all contenders on passages and questions; print tables and the RESULT line."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--eval-dir", type=Path, default=DEFAULT_EVAL_DIR, help="the shared eval folder")
    parser.add_argument("--limit", type=int, default=None, help="at most N texts per language per set")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if not (args.eval_dir / "corpus").is_dir():
        print(f"eval data not found at {args.eval_dir} (pass --eval-dir); nothing to measure")
        print("RESULT skipped=1")
        return 0
    passages, questions = load(args.eval_dir, args.limit)
    models = contenders()
    results = {}
    for title, samples in (("passages", passages), ("questions", questions)):
        scores = {name: evaluate(fn, samples) for name, fn in models.items()}
        report(title, samples, scores)
        results[title] = scores["govrag"].accuracy
    passages_acc, questions_acc = results["passages"], results["questions"]
    print(f"\nRESULT langid_acc_passages={passages_acc:.4f} langid_acc_questions={questions_acc:.4f}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
