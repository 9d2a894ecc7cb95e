"""Character error rate of OCR on one generated scanned page per script (th zh vi id ms ta my km lo en).

Each page is rendered by `tests/docgen.py` (Pillow + raqm shaping, light blur and scanner speckle,
300 dpi, no text layer) and read three ways:

- baseline: plain `tesseract -l <right pack>` with its default page segmentation (psm 3), i.e.
  what a naive integration does even when it knows the language;
- auto: `parse_bytes` with default settings (script detection picks the pack, psm 4, clean-up);
- configured: `parse_bytes` with `ocr_languages=[right pack]` (a source that declares its language).

CER = edit distance / reference length, on text with all whitespace removed (Thai, Chinese, Khmer,
Burmese and Lao do not separate words with spaces, so spacing is not scored for any script).
Run: `python benchmarks/ocr_cer.py [--langs th,zh]`. Needs tesseract-ocr + the language packs.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ingest.parser_settings import ParserSettings
from ingest.parsers import parse_bytes
from tests import docgen

PACKS = {
    "th": "tha",
    "zh": "chi_sim",
    "vi": "vie",
    "id": "ind",
    "ms": "msa",
    "ta": "tam",
    "my": "mya",
    "km": "khm",
    "lo": "lao",
    "en": "eng",
}


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions all cost 1)."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        cur = [i]
        for j, cb in enumerate(b, start=1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def cer(reference: str, hypothesis: str) -> float:
    """Character error rate with whitespace removed and both sides NFC-normalized."""
    ref = "".join(unicodedata.normalize("NFC", reference).split())
    hyp = "".join(unicodedata.normalize("NFC", hypothesis).split())
    return edit_distance(ref, hyp) / max(len(ref), 1)


def baseline(png: bytes, pack: str) -> str:
    """Tesseract with the right pack and default settings."""
    out = subprocess.run(
        ["tesseract", "stdin", "stdout", "-l", pack],
        input=png,
        capture_output=True,
        timeout=300,
        check=True,
        env={**os.environ, "OMP_THREAD_LIMIT": "1"},
    )
    return out.stdout.decode("utf-8", "replace")


def main() -> None:
    """Render, OCR three ways, print the table and the RESULT line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--langs", default=",".join(PACKS), help="comma-separated language codes")
    args = parser.parse_args()
    langs = [code.strip() for code in args.langs.split(",") if code.strip()]
    rows = []
    print(f"{'lang':<5}{'auto pack':<11}{'baseline':>9}{'auto':>8}{'config':>8}{'ratio':>8}{'secs':>7}")
    for lang in langs:
        script, lines = docgen.SAMPLES[lang]
        png = docgen.scanned_image(lines, script)
        truth = "\n".join(lines)
        t0 = time.perf_counter()
        base = cer(truth, baseline(png, PACKS[lang]))
        auto_doc = parse_bytes(png, f"{lang}.png", ParserSettings())
        auto = cer(truth, auto_doc.text)
        conf_doc = parse_bytes(png, f"{lang}.png", ParserSettings(ocr_languages=[PACKS[lang]]))
        conf = cer(truth, conf_doc.text)
        secs = time.perf_counter() - t0
        ratio = auto / base if base else float("nan")
        pack = str(auto_doc.metadata.get("ocr_languages"))
        rows.append((lang, base, auto, conf))
        print(f"{lang:<5}{pack:<11}{base:>9.3f}{auto:>8.3f}{conf:>8.3f}{ratio:>8.2f}{secs:>7.1f}", flush=True)
    mean = {
        k: sum(r[i] for r in rows) / len(rows) for i, k in ((1, "baseline"), (2, "auto"), (3, "configured"))
    }
    print(
        f"mean CER: baseline {mean['baseline']:.3f}  auto {mean['auto']:.3f}  "
        f"configured {mean['configured']:.3f}"
        f"  (auto/baseline ratio {mean['auto'] / mean['baseline']:.2f})"
    )
    fields = " ".join(f"cer_{lang}={auto:.3f}" for lang, _, auto, _ in rows)
    fields += " " + " ".join(f"cer_configured_{lang}={conf:.3f}" for lang, _, _, conf in rows)
    fields += " " + " ".join(f"cer_baseline_{lang}={base:.3f}" for lang, base, _, _ in rows)
    print(f"RESULT {fields} mean_cer={mean['auto']:.3f} mean_cer_baseline={mean['baseline']:.3f}")


if __name__ == "__main__":
    main()
