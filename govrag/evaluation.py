"""The evaluation runner behind `govrag eval`: ingest a corpus, ask question files, build the report.

The corpus goes through the normal ingestion pipeline (same chunking, embedder, sparse encoder, index),
and questions through `rag.retrieval.Retriever.search` (the path of POST /v1/search) or
`rag.answering.AnswerService` (the path of POST /v1/query), so the numbers describe the product.

Index reuse: the index folder holds `eval-fingerprint.json`, a hash of the corpus files' bytes and of
everything in the pipeline that shapes the stored chunks (`Ingestor.pipeline_fingerprint`: chunker,
title-in-embedding, embedder and sparse identities) plus the index build settings. A later run with
`--index-dir` on the same folder reuses the index when the hash matches and rebuilds it otherwise.
File formats and the report shape are documented in docs/evaluation.md.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from govrag import eval_metrics as m
from govrag.settings import Settings

if TYPE_CHECKING:
    from govrag.components import QueryStack

logger = logging.getLogger(__name__)

#: Bump when the way the harness builds its index changes (forces a rebuild of reused indexes).
EVAL_INDEX_VERSION = "1"
FINGERPRINT_FILE = "eval-fingerprint.json"
MODES = ("hybrid", "dense", "bm25")


class EvalDataError(ValueError):
    """A corpus or question file is malformed: the message names the file, the line and the field."""


@dataclass(slots=True)
class EvalQuestion:
    """One question line (extra fields are ignored)."""

    id: str
    lang: str
    question: str
    relevant: list[str]
    answers: list[str] = field(default_factory=list)
    choices: list[str] | None = None
    correct_index: int | None = None


@dataclass(slots=True)
class CorpusInfo:
    """What the harness needs to know about the corpus without opening the index."""

    files: list[Path]
    sha256: dict[str, str]
    langs: dict[str, str]  # doc id -> lang
    parallel: dict[str, list[str]]  # doc id -> ids of its translations (same parallel_id), itself included


def read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for every non-blank line; malformed JSON raises `EvalDataError`."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalDataError(f"{path}: cannot be read as UTF-8 text ({exc})") from exc
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EvalDataError(f"{path}:{n}: malformed JSON ({exc.msg} at column {exc.colno})") from exc
        if not isinstance(obj, dict):
            raise EvalDataError(f"{path}:{n}: expected a JSON object, got {type(obj).__name__}")
        yield n, obj


def _field(obj: dict[str, Any], name: str, kind: type, where: str, *, required: bool = True) -> Any:
    if name not in obj or obj[name] is None:
        if required:
            raise EvalDataError(f"{where}: missing field {name!r}")
        return None
    value = obj[name]
    if kind is list:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise EvalDataError(f"{where}: field {name!r} must be a list of strings, got {value!r:.80}")
        return [str(v) for v in value]
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise EvalDataError(f"{where}: field {name!r} must be an integer, got {value!r:.80}")
        return value
    if not isinstance(value, str) or (required and not value.strip()):
        raise EvalDataError(f"{where}: field {name!r} must be a non-empty string, got {value!r:.80}")
    return value


def load_questions(path: Path) -> list[EvalQuestion]:
    """Parse a question file; every problem names the file, line and field."""
    out: list[EvalQuestion] = []
    seen: set[str] = set()
    for n, obj in read_jsonl(path):
        where = f"{path}:{n}"
        q = EvalQuestion(
            id=str(_field(obj, "id", str, where)),
            lang=_field(obj, "lang", str, where),
            question=_field(obj, "question", str, where),
            relevant=_field(obj, "relevant", list, where),
            answers=_field(obj, "answers", list, where, required=False) or [],
            choices=_field(obj, "choices", list, where, required=False),
            correct_index=_field(obj, "correct_index", int, where, required=False),
        )
        if not q.relevant:
            raise EvalDataError(f"{where}: field 'relevant' is empty (list at least one corpus id)")
        if (
            q.choices is not None
            and q.correct_index is not None
            and not 0 <= q.correct_index < len(q.choices)
        ):
            raise EvalDataError(
                f"{where}: 'correct_index' {q.correct_index} is outside the {len(q.choices)} choices"
            )
        if q.id in seen:
            raise EvalDataError(f"{where}: duplicate question id {q.id!r}")
        seen.add(q.id)
        out.append(q)
    if not out:
        raise EvalDataError(f"{path}: no questions (the file is empty)")
    return out


def scan_corpus(files: Sequence[Path]) -> CorpusInfo:
    """Check every corpus line (id, text) and hash the files; duplicate ids across files are errors."""
    sha: dict[str, str] = {}
    langs: dict[str, str] = {}
    groups: dict[str, list[str]] = {}
    pid_of: dict[str, str] = {}
    for path in files:
        sha[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
        for n, obj in read_jsonl(path):
            where = f"{path}:{n}"
            doc = str(_field(obj, "id", str, where))
            _field(obj, "text", str, where)
            if doc in langs:
                raise EvalDataError(f"{where}: corpus id {doc!r} appears twice")
            langs[doc] = str(obj.get("lang") or "und")
            if obj.get("parallel_id"):
                key = f"{obj.get('dataset', path.name)}\x1f{obj['parallel_id']}"
                groups.setdefault(key, []).append(doc)
                pid_of[doc] = key
    parallel = {doc: groups[key] for doc, key in pid_of.items()}
    return CorpusInfo(list(files), sha, langs, parallel)


def _git(cwd: Path, *args: str) -> str:
    """The stripped output of `git <args>` run in `cwd` (raises when git fails or times out)."""
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=True
    ).stdout.strip()


def git_commit(repo: Path | None = None) -> str:
    """`git describe`-like id of the code being evaluated: commit, plus "-dirty" when files changed."""
    cwd = repo or Path(__file__).resolve().parents[1]
    try:
        head = _git(cwd, "rev-parse", "--short=12", "HEAD")
        dirty = _git(cwd, "status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("-dirty" if dirty else "")


def sample(questions: list[EvalQuestion], limit: int | None, seed: int) -> list[EvalQuestion]:
    """At most `limit` questions, drawn reproducibly (seeded), in file order."""
    if limit is None or limit >= len(questions):
        return questions
    keep = set(random.Random(seed).sample(range(len(questions)), limit))
    return [q for i, q in enumerate(questions) if i in keep]


class EvalIndex:
    """The corpus ingested into an index folder (reused when its fingerprint matches); owns the models."""

    def __init__(self, settings: Settings, corpus: Sequence[Path], index_dir: Path | None = None) -> None:
        """Scan the corpus (fails fast on malformed lines); nothing is loaded until `open()`."""
        if settings.index.backend != "embedded":
            raise ValueError("govrag eval builds its own embedded index: set index.backend to 'embedded'")
        missing = [str(p) for p in corpus if not Path(p).is_file()]
        if missing:
            raise EvalDataError(f"corpus file(s) not found: {', '.join(missing)}")
        self.settings = settings.model_copy(deep=True)
        self.corpus = scan_corpus([Path(p) for p in corpus])
        self._temp = index_dir is None
        self.index_dir = Path(index_dir) if index_dir is not None else self._temp_dir(settings.home)
        self.settings.index.path = self.index_dir.resolve()
        stamp = self.index_dir / FINGERPRINT_FILE
        foreign = self.index_dir.is_dir() and not stamp.is_file() and any(self.index_dir.iterdir())
        if foreign and not self._temp:
            raise EvalDataError(
                f"--index-dir {self.index_dir} is not empty and holds no {FINGERPRINT_FILE}: it was not "
                "made by `govrag eval`; choose an empty or new folder"
            )
        self.ingest_s = 0.0
        self.reused = False
        self.ingest_summary: dict[str, Any] = {}
        self.components: Any = None

    @staticmethod
    def _temp_dir(home: Path) -> Path:
        base = home / "eval"
        base.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix="index-", dir=base))

    def fingerprint(self, pipeline_fp: str) -> str:
        """Hash of corpus bytes + pipeline fingerprint + index build settings."""
        idx = self.settings.index
        parts = {
            "v": EVAL_INDEX_VERSION,
            "corpus": sorted((Path(k).name, v) for k, v in self.corpus.sha256.items()),
            "pipeline": pipeline_fp,
            "index": [
                idx.hnsw_m,
                idx.hnsw_ef_construct,
                idx.full_scan_threshold_kb,
                idx.indexing_threshold_kb,
            ],
        }
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()

    def open(self) -> EvalIndex:
        """Load the models, then reuse the stored index or (re)build it from the corpus."""
        from govrag.components import open_components
        from ingest.pipeline import IngestOptions, Ingestor

        s = self.settings
        models = open_components(s, create=False, with_index=False)
        opts = IngestOptions(groups=["public"])
        fp = self.fingerprint(
            Ingestor(s.ingest, models.embedder, models.sparse, None, s.language).pipeline_fingerprint(opts)
        )
        stamp = self.index_dir / FINGERPRINT_FILE
        folder = s.index.embedded_folder(s.home)
        stored = _read_json(stamp)
        if stored.get("fingerprint") == fp and folder.is_dir():
            from indices.registry import open_index

            models.index = open_index(s.index, models.embedder.identity, s.home, create=False)
            self.components, self.reused = models, True
            self.ingest_s = float(stored.get("ingest_s", 0.0))
            self.ingest_summary = dict(stored.get("ingest", {}))
            logger.info("reusing the evaluation index in %s (fingerprint matches)", self.index_dir)
            return self
        self._clear(stamp, folder, bool(stored))
        from indices.registry import open_index

        models.index = open_index(s.index, models.embedder.identity, s.home, create=True)
        self.components = models
        ingestor = Ingestor(s.ingest, models.embedder, models.sparse, models.index, s.language)
        t0 = time.perf_counter()
        report = ingestor.run([str(p) for p in self.corpus.files], opts)
        self.ingest_s = time.perf_counter() - t0
        summary = report.to_dict()
        if report.failed:
            first = summary["failures"][0]
            raise EvalDataError(
                f"{len(report.failed)} corpus record(s) failed to ingest, e.g. {first['source']}: "
                f"{first['reason']}"
            )
        self.ingest_summary = {
            "documents": len(self.corpus.langs),
            "chunks": summary["chunks"],
            "stage_seconds": summary["stage_seconds"],
        }
        stamp.write_text(
            json.dumps(
                {
                    "fingerprint": fp,
                    "ingest_s": round(self.ingest_s, 2),
                    "ingest": self.ingest_summary,
                    "created_at": time.time(),
                    "corpus": [p.name for p in self.corpus.files],
                },
                indent=2,
            ),
            encoding="utf-8",
        )
        return self

    def _clear(self, stamp: Path, folder: Path, ours: bool) -> None:
        """Empty an index dir before a rebuild, refusing folders the harness did not make."""
        if not self.index_dir.exists():
            self.index_dir.mkdir(parents=True)
            return
        content = [p for p in self.index_dir.iterdir() if p.name != FINGERPRINT_FILE]
        if content and not ours and not self._temp:
            raise EvalDataError(
                f"--index-dir {self.index_dir} is not empty and holds no {FINGERPRINT_FILE}: "
                "it was not made by `govrag eval`; choose an empty or new folder"
            )
        if folder.exists():
            logger.info("corpus or pipeline changed: rebuilding the evaluation index in %s", self.index_dir)
            shutil.rmtree(folder)
        stamp.unlink(missing_ok=True)

    def query_stack(self) -> QueryStack:
        """The API's query stack (retriever with reranker, answerer) over this index; closing it leaves
        the index open (this object owns it)."""
        from govrag.components import open_query_stack

        return open_query_stack(self.settings, self.components)

    def close(self) -> None:
        """Release the index; a temporary index dir is deleted."""
        if self.components is not None:
            self.components.close()
            self.components = None
        if self._temp:
            shutil.rmtree(self.index_dir, ignore_errors=True)

    def __enter__(self) -> EvalIndex:
        """Open on entry."""
        return self.open()

    def __exit__(self, *exc: object) -> None:
        """Close on exit."""
        self.close()

    def config(self) -> dict[str, Any]:
        """The configuration block shared by both reports."""
        s, comps = self.settings, self.components
        return {
            "embedder": {
                "name": comps.embedder.identity.name,
                "fingerprint": comps.embedder.identity.fingerprint[:16],
                "backend": comps.embedder.backend,
                "query_prompt": comps.embedder.query_prompt,
                "passage_prompt": comps.embedder.passage_prompt,
            },
            "sparse": comps.sparse.identity,
            "chunker": s.ingest.chunker.model_dump(),
            "title_in_embedding": s.ingest.title_in_embedding,
            "index": {
                "prefetch": s.index.prefetch,
                "rrf_k": s.index.rrf_k,
                "overfetch": s.index.overfetch,
                "hnsw_m": s.index.hnsw_m,
                "hnsw_ef": s.index.hnsw_ef,
            },
            "git_commit": git_commit(),
            "corpus": [p.name for p in self.corpus.files],
            "documents": len(self.corpus.langs),
            "chunks": self.ingest_summary.get("chunks"),
            "index_dir": None if self._temp else str(self.index_dir),
            "index_reused": self.reused,
        }


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


@dataclass(slots=True)
class PreparedSet:
    """A question file checked against the corpus."""

    name: str
    questions: list[EvalQuestion]
    missing_relevant: int
    skipped: int


def prepare_set(path: Path, corpus: CorpusInfo, limit: int | None, seed: int) -> PreparedSet:
    """Load, sample, and drop relevant ids that are not in the corpus (warned and counted)."""
    questions = sample(load_questions(path), limit, seed)
    missing = 0
    kept: list[EvalQuestion] = []
    for q in questions:
        present = [d for d in q.relevant if d in corpus.langs]
        missing += len(q.relevant) - len(present)
        if present:
            q.relevant = present
            kept.append(q)
    skipped = len(questions) - len(kept)
    if missing:
        logger.warning(
            "%s: %d relevant id(s) are not in the corpus; %d question(s) without any relevant "
            "document left are skipped",
            path.name,
            missing,
            skipped,
        )
    return PreparedSet(path.name, kept, missing, skipped)


def block(by_lang: dict[str, list[Any]], summarise: Any) -> dict[str, Any]:
    """{"all": summary of every value, "by_lang": {lang: summary}} with languages sorted."""
    every = [v for vals in by_lang.values() for v in vals]
    return {"all": summarise(every), "by_lang": {lang: summarise(by_lang[lang]) for lang in sorted(by_lang)}}


def run_retrieval(
    ev: EvalIndex,
    question_files: Sequence[Path],
    modes: Sequence[str],
    k: int = 10,
    limit: int | None = None,
    seed: int = 0,
    details: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Ask every question in every mode; the report documented in docs/evaluation.md.

    `details`, when given, receives one row per (set, mode, question) with the rank found.
    """
    import anyio

    stack = ev.query_stack()  # the API's retrieval path, reranker included
    try:
        return _run_retrieval(stack.retriever, ev, question_files, modes, k, limit, seed, details)
    finally:
        anyio.run(stack.aclose)


def _run_retrieval(
    retriever: Any,
    ev: EvalIndex,
    question_files: Sequence[Path],
    modes: Sequence[str],
    k: int,
    limit: int | None,
    seed: int,
    details: list[dict[str, Any]] | None,
) -> dict[str, Any]:
    from indices.schema import SearchFilter, SearchMode

    sets = [prepare_set(Path(p), ev.corpus, limit, seed) for p in question_files]
    latencies: dict[str, list[float]] = {mode: [] for mode in modes}
    report_sets: dict[str, Any] = {}
    for qs in sets:
        per_mode: dict[str, Any] = {}
        for mode in modes:
            by_lang: dict[str, list[int | None]] = {}
            for q in qs.questions:
                t0 = time.perf_counter()
                res = retriever.search(
                    q.question, k=k, mode=SearchMode(mode), flt=SearchFilter(), one_per_doc=True
                )
                latencies[mode].append((time.perf_counter() - t0) * 1000)
                docs = [h.record.doc_id for h in res.hits]
                rank = m.first_hit_rank(docs, q.relevant, [h.score for h in res.hits])
                by_lang.setdefault(q.lang, []).append(rank)
                if details is not None:
                    details.append(
                        {
                            "set": qs.name,
                            "mode": mode,
                            "id": q.id,
                            "lang": q.lang,
                            "rank": rank,
                            "top": docs[:3],
                        }
                    )
            per_mode[mode] = block(by_lang, m.retrieval_summary)
        report_sets[qs.name] = per_mode
    main_mode = "hybrid" if "hybrid" in modes else modes[0]
    config = ev.config() | {
        "modes": list(modes),
        "k": k,
        "limit": limit,
        "seed": seed,
        "latency_ms_by_mode": {mode: m.latency_summary(v) for mode, v in latencies.items()},
        "latency_mode": main_mode,
        "missing_relevant": {s.name: s.missing_relevant for s in sets},
        "skipped_questions": {s.name: s.skipped for s in sets},
    }
    return {
        "sets": report_sets,
        "latency_ms": m.latency_summary(latencies[main_mode]),
        "ingest_s": round(ev.ingest_s, 2),
        "config": config,
    }
