"""OCR with Tesseract (a subprocess per page, with a timeout) and the image parser (PNG/JPEG/TIFF...).

Language choice, when `ParserSettings.ocr_languages` is empty, is made once per document on its
first OCR'd page: one cheap OSD pass (`--psm 0`) names the script. Han -> Simplified Chinese,
Thai -> Thai, Tamil -> Tamil, confident Latin -> Vietnamese if its letters show up in a `vie`
read of a strip of the page, else English (which reads Malay/Indonesian as well). OSD does not know
Khmer or Burmese (it calls them Latin/Hebrew/Arabic with low confidence), so for anything else a
strip is read with the Khmer+Burmese+Lao+Thai+Tamil packs together and the script most letters came
out in picks the pack. Reading every page with the union of all packs would be several times
slower and less accurate. Lao pages are reported as Thai by OSD and the Lao model loses every
comparison, so Lao needs `ocr_languages=["lao"]`.

Output is cleaned of the model's known quirks: Thai/Lao SARA AM split into NIKHAHIT + SARA AA,
spaces between CJK ideographs, ZWNJ after Tamil pulli.
"""

from __future__ import annotations

import io
import logging
import os
import re
import shutil
import subprocess
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

from ingest.parent_watch import pdeathsig_argv
from ingest.parsed import Element, ParsedDocument, ParseError
from ingest.parser_settings import ParserSettings
from ingest.parsers.limits import Deadline, require

logger = logging.getLogger(__name__)

#: OSD script name -> packs that write it (first = the default pick). Han defaults to Simplified
#: (Singapore/Malaysia); set ocr_languages=["chi_tra"] for Traditional. OSD calls Lao "Thai" and
#: the Lao model is too weak to win a comparison, so Lao needs ocr_languages=["lao"].
_SCRIPT_PACKS = {
    "Han": ["chi_sim", "chi_tra"],
    "Thai": ["tha", "lao"],
    "Tamil": ["tam"],
    "Latin": ["eng", "vie", "ind", "msa"],
}
#: Scripts OSD cannot name (it calls Khmer "Latin"/"Hebrew", Burmese "Arabic"): read together.
_UNNAMED_PACKS = ["khm", "mya", "lao", "tha", "tam"]
#: Unicode script word -> pack, for the majority vote.
_PACK_OF_SCRIPT = {"KHMER": "khm", "MYANMAR": "mya", "LAO": "lao", "THAI": "tha", "TAMIL": "tam"}
#: OSD's Latin verdicts below this are noise (a Khmer page scored 2.4, real Latin pages 13 and up).
_LATIN_MIN_CONFIDENCE = 5.0
_VIETNAMESE = re.compile(r"[ăâđêôơưĂÂĐÊÔƠƯạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ]")
_CJK_SPACE = re.compile(
    r"(?<=[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]) +(?=[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef])"
)
_TAMIL_ZWNJ = re.compile("(?<=\u0bcd)\u200c")
_OSD_SCRIPT = re.compile(r"Script:\s*(\w+)")
_OSD_CONF = re.compile(r"Script confidence:\s*([\d.]+)")


@dataclass
class OcrSession:
    """OCR for one document: remembers the language choice so later pages skip detection."""

    settings: ParserSettings
    languages: str | None = None
    pages: int = 0
    warnings: list[str] = field(default_factory=list)

    def available(self) -> bool:
        """Tesseract is enabled and installed with at least one language pack."""
        return self.settings.ocr_enabled and bool(installed_languages(self.settings.tesseract_cmd))

    def read(self, png: bytes, where: str, deadline: Deadline | None = None) -> str:
        """OCR one page image (PNG bytes); returns cleaned text ("" and a warning on failure)."""
        return self._read(png, where, deadline, boxes=False)[0]

    def read_with_boxes(self, png: bytes, where: str, deadline: Deadline | None = None) -> tuple[str, str]:
        """`read`, plus the same recognition pass's word boxes as Tesseract TSV (raw, uncleaned)."""
        return self._read(png, where, deadline, boxes=True)

    def _read(self, png: bytes, where: str, deadline: Deadline | None, boxes: bool) -> tuple[str, str]:
        if self.pages >= self.settings.ocr_max_pages:
            self.warnings.append(f"{where}: not OCR'd, over ocr_max_pages={self.settings.ocr_max_pages}")
            return "", ""
        timeout = min(self.settings.ocr_page_timeout_s, deadline.remaining() if deadline else 1e9)
        try:
            if self.languages is None:
                self.languages = choose_languages(png, self.settings, timeout)
                logger.info("OCR languages for this document: %s", self.languages)
            if boxes:
                text, tsv = run_tesseract_boxes(png, self.languages, self.settings, timeout)
            else:
                text, tsv = run_tesseract(png, self.languages, self.settings, timeout), ""
        except subprocess.TimeoutExpired:
            self.warnings.append(
                f"{where}: OCR timed out after {timeout:g} s (ingest.parser.ocr_page_timeout_s)"
            )
            return "", ""
        except (OSError, RuntimeError) as exc:
            self.warnings.append(f"{where}: OCR failed: {exc}")
            return "", ""
        self.pages += 1
        return clean_ocr_text(text, self.languages), tsv


@lru_cache(maxsize=8)
def installed_languages(cmd: str = "tesseract") -> frozenset[str]:
    """Language packs Tesseract reports (empty when it is not installed)."""
    exe = shutil.which(cmd)
    if exe is None:
        return frozenset()
    try:
        out = subprocess.run([exe, "--list-langs"], capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return frozenset()
    lines = (out.stdout + out.stderr).decode("utf-8", "replace").splitlines()
    return frozenset(line.strip() for line in lines[1:] if line.strip() and " " not in line.strip())


def _tesseract(
    png: bytes, args: list[str], settings: ParserSettings, timeout: float, output: str = "stdout"
) -> str:
    """Run Tesseract on PNG bytes from stdin; stdout text. One thread: pages run in a process pool."""
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    proc = subprocess.run(
        pdeathsig_argv([settings.tesseract_cmd, "stdin", output, *args]),
        input=png,
        capture_output=True,
        timeout=timeout,
        env=env,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.decode("utf-8", "replace").strip()[-300:] or f"exit {proc.returncode}")
    return proc.stdout.decode("utf-8", "replace")


def page_segmentation(languages: str, settings: ParserSettings) -> int:
    """The psm for these packs: the override of the first pack that has one, else `ocr_psm`."""
    for lang in languages.split("+"):
        if lang in settings.ocr_psm_overrides:
            return settings.ocr_psm_overrides[lang]
    return settings.ocr_psm


def run_tesseract(png: bytes, languages: str, settings: ParserSettings, timeout: float) -> str:
    """OCR a page with the given packs ("tha+eng") and their page segmentation mode."""
    psm = page_segmentation(languages, settings)
    return _tesseract(png, ["-l", languages, "--psm", str(psm)], settings, timeout)


def run_tesseract_boxes(
    png: bytes, languages: str, settings: ParserSettings, timeout: float
) -> tuple[str, str]:
    """One recognition pass written twice: as text and as TSV word boxes (in a private temp dir)."""
    import tempfile
    from pathlib import Path

    psm = page_segmentation(languages, settings)
    with tempfile.TemporaryDirectory(prefix="govrag-ocr-") as tmp:
        base = Path(tmp) / "page"
        _tesseract(
            png, ["-l", languages, "--psm", str(psm), "txt", "tsv"], settings, timeout, output=str(base)
        )
        text = base.with_suffix(".txt").read_text("utf-8", "replace")
        return text, base.with_suffix(".tsv").read_text("utf-8", "replace")


def run_tesseract_tsv(png: bytes, languages: str, settings: ParserSettings, timeout: float) -> str:
    """OCR an image (a strip of a page) with these packs, returning only Tesseract's TSV word boxes."""
    psm = page_segmentation(languages, settings)
    return _tesseract(png, ["-l", languages, "--psm", str(psm), "tsv"], settings, timeout)


def choose_languages(png: bytes, settings: ParserSettings, timeout: float) -> str:
    """The Tesseract packs to read this page with: from settings, else detected (see module doc)."""
    installed = installed_languages(settings.tesseract_cmd)
    if not installed:
        raise RuntimeError("Tesseract is not installed (apt-get install tesseract-ocr tesseract-ocr-<lang>)")
    if settings.ocr_languages:
        chosen = [lang for lang in settings.ocr_languages if lang in installed]
        missing = sorted(set(settings.ocr_languages) - installed)
        if missing:
            logger.warning(
                "Tesseract packs not installed: %s (apt-get install tesseract-ocr-<lang>)", missing
            )
        if chosen:
            return "+".join(chosen)
    allowed = [lang for lang in settings.ocr_candidates if lang in installed]
    if not allowed:
        return "eng" if "eng" in installed else sorted(installed - {"osd"})[0]
    script, confidence = _osd_script(png, settings, timeout) if "osd" in installed else (None, 0.0)
    strip = _text_strip(png)
    named = [p for p in _SCRIPT_PACKS.get(script or "", []) if p in allowed]
    if script == "Latin" and confidence >= _LATIN_MIN_CONFIDENCE and named:
        return _latin_choice(strip, named, settings, timeout)
    if script in ("Han", "Thai", "Tamil") and named:
        return named[0]
    unnamed = [p for p in _UNNAMED_PACKS if p in allowed]
    if not unnamed:
        return allowed[0]
    return _majority_script_pack(strip, unnamed, settings, timeout) or allowed[0]


def _osd_script(png: bytes, settings: ParserSettings, timeout: float) -> tuple[str | None, float]:
    """Tesseract's orientation-and-script guess and its confidence ((None, 0) when it cannot tell)."""
    try:
        out = _tesseract(png, ["--psm", "0", "-l", "osd"], settings, min(timeout, 60))
    except (RuntimeError, subprocess.TimeoutExpired, OSError):
        return None, 0.0
    script = _OSD_SCRIPT.search(out)
    conf = _OSD_CONF.search(out)
    if script is None:
        return None, 0.0
    return script.group(1), float(conf.group(1)) if conf else 0.0


def _latin_choice(strip: bytes, candidates: list[str], settings: ParserSettings, timeout: float) -> str:
    """Vietnamese if its letters show up when read with `vie`, else English (reads ms/id too)."""
    if "vie" in candidates:
        text = _tesseract(strip, ["-l", "vie", "--psm", str(settings.ocr_psm)], settings, timeout)
        words = text.split()
        if words and sum(1 for w in words if _VIETNAMESE.search(w)) >= 0.15 * len(words):
            return "vie"
    for lang in ("eng", "ind", "msa"):
        if lang in candidates:
            return lang
    return candidates[0]


def _majority_script_pack(
    strip: bytes, candidates: list[str], settings: ParserSettings, timeout: float
) -> str | None:
    """Read the strip with all candidate packs at once; the script most letters came out in wins.

    Per-pack confidences are not comparable (the Thai model is confident on any Brahmic script),
    but in a combined run Tesseract picks per word, and the right script dominates the output.
    """
    try:
        text = _tesseract(
            strip, ["-l", "+".join(candidates), "--psm", str(settings.ocr_psm)], settings, timeout
        )
    except (RuntimeError, OSError):
        return None
    counts: dict[str, int] = {}
    for ch in text:
        pack = _PACK_OF_SCRIPT.get(unicodedata.name(ch, " ").split(" ", 1)[0]) if ch.isalpha() else None
        if pack in candidates:
            counts[pack] = counts.get(pack, 0) + 1
    return max(counts, key=lambda p: counts[p]) if counts else None


def _text_strip(png: bytes, lines: int = 3) -> bytes:
    """The first few text lines of the page (found by the rows' ink), to rank packs cheaply.

    Rows count as ink when more than 1% of their pixels are dark, so scanner speckle does not
    move the strip; the strip spans about `lines` line heights from the first text row.
    """
    image_mod = require("PIL.Image", "pillow", "OCR")
    with image_mod.open(io.BytesIO(png)) as im:
        gray = im.convert("L")
        dpi = im.info.get("dpi", (300, 300))
    small = gray.resize((max(1, gray.width // 4), max(1, gray.height // 4)))
    dark = small.point(lambda v: 1 if v < 128 else 0)
    width = small.width
    data = dark.tobytes()
    inked = [sum(data[y * width : (y + 1) * width]) > 0.01 * width for y in range(small.height)]
    runs: list[tuple[int, int]] = []  # (start row, end row) of inked bands = text lines
    for y, ink in enumerate(inked):
        if ink and (not runs or runs[-1][1] < y - 1):
            runs.append((y, y))
        elif ink:
            runs[-1] = (runs[-1][0], y)
    runs = [r for r in runs if r[1] - r[0] >= 2]  # ignore specks one or two rows tall
    if not runs:
        return png
    last = runs[min(lines, len(runs)) - 1][1]
    top, bottom = max(0, runs[0][0] * 4 - 20), min(gray.height, last * 4 + 24)
    buf = io.BytesIO()
    gray.crop((0, top, gray.width, bottom)).save(buf, "PNG", dpi=dpi)
    return buf.getvalue()


def clean_ocr_text(text: str, languages: str) -> str:
    """Undo Tesseract's quirks for the SEA scripts and drop form feeds."""
    text = text.replace("\x0c", "\n")
    text = text.replace("\u0e4d\u0e32", "\u0e33").replace("\u0ecd\u0eb2", "\u0eb3")  # Thai/Lao SARA AM
    text = _TAMIL_ZWNJ.sub("", text)
    text = _CJK_SPACE.sub("", text)
    return "\n".join(line.rstrip() for line in text.splitlines())


def image_pages(data: bytes, settings: ParserSettings) -> list[bytes]:
    """Decode an image file (all TIFF/GIF frames) into grayscale PNG pages, refusing oversized ones."""
    image_mod = require("PIL.Image", "pillow", "image parsing")
    seq_mod = require("PIL.ImageSequence", "pillow", "image parsing")
    try:
        im = image_mod.open(io.BytesIO(data))
    except Exception as exc:  # Pillow raises UnidentifiedImageError, SyntaxError, OSError...
        raise ParseError(f"corrupt or unsupported image: {exc}") from exc
    pages: list[bytes] = []
    with im:
        for n, frame in enumerate(seq_mod.Iterator(im)):
            if n >= settings.max_pages:
                break
            w, h = frame.size
            if w * h > settings.max_image_pixels:
                raise ParseError(
                    f"image too large: {w}x{h} = {w * h:,} pixels > limit {settings.max_image_pixels:,} "
                    "(ingest.parser.max_image_pixels)"
                )
            try:
                gray = frame.convert("L")
            except OSError as exc:
                raise ParseError(f"truncated or corrupt image: {exc}") from exc
            buf = io.BytesIO()
            gray.save(buf, "PNG", dpi=frame.info.get("dpi", (300, 300)))
            pages.append(buf.getvalue())
    return pages


def parse_image(data: bytes, settings: ParserSettings, filename: str = "") -> ParsedDocument:
    """OCR an image file; each frame is a page."""
    session = OcrSession(settings)
    if not session.available():
        raise ParseError(
            "image needs OCR but Tesseract is unavailable (ingest.parser.ocr_enabled is off, or "
            "apt-get install tesseract-ocr tesseract-ocr-<lang>)"
        )
    deadline = Deadline(settings.parse_timeout_s, "image")
    pages = image_pages(data, settings)
    elements: list[Element] = []
    from ingest.parsers.ocr_tables import page_elements, read_page

    for n, png in enumerate(pages, start=1):
        deadline.check(f"frame {n}")
        elements.extend(page_elements(read_page(session, png, f"frame {n}", deadline), settings, n))
    return ParsedDocument(
        elements=elements,
        pages=len(pages),
        pages_ocr=session.pages,
        metadata={"ocr_languages": session.languages},
        warnings=session.warnings,
    )
