"""EmbeddingGemma-300M (Google, Gemma terms of use): 100+ languages, Matryoshka 768/512/256/128.

The model is not bundled: `govrag models fetch embeddinggemma` installs its sentence-transformers folder
at `<models dir>/embeddinggemma-300m` (hash-checked against `FILE_SHA256`). It is meant for bf16 or fp32,
never fp16, and for its own prompts.
"""

from __future__ import annotations

from pathlib import Path

from indices.embedder import Embedder, EmbedderError, ModelSpec
from indices.embedder_settings import EMBEDDING_GEMMA, EmbedderSettings

NAME = "embeddinggemma-300m"
FOLDER = NAME
QUERY_PROMPT = "task: search result | query: "
PASSAGE_PROMPT = "title: none | text: "
DIMENSIONS = (768, 512, 256, 128)

#: sha256 of the model's files (model.safetensors as announced; the others as first fetched from PyPI on
#: 2026-12-06; README.md and notebook.ipynb are documentation and not checked).
FILE_SHA256: dict[str, str] = {
    "1_Pooling/config.json": "35bbd47d7fdf1e378db6130bcc668b09d1aa67a7bbf7c8f89a9c71f4cc8ebcc6",
    "2_Dense/config.json": "0661e5e0b67b8f8408ab31ab5d073a78972fc1dc24a49992a64796557e4f9e53",
    "2_Dense/model.safetensors": "c327f2acb00149676ade24a75e11eb6ebbd367f9ee050267ba56829d2979f702",
    "3_Dense/config.json": "8c4575c49353d63fb907878856ba94384635c3b2711fd5b7439e7f71888c66fc",
    "3_Dense/model.safetensors": "ffb6cc5162e11e2ce6bc2367e121ee3bbbc4e82e1ee26826bd7573d4948d81b8",
    "added_tokens.json": "50b2f405ba56a26d4913fd772089992252d7f942123cc0a034d96424221ba946",
    "config.json": "8f863f76e2d9c710cc833dc92efa898c9adfd41031c786507cc6b0e49c2e3e68",
    "config_sentence_transformers.json": "8eadac15526f83d8950aa8d962a7f4f6e3d678bea71689960194561f33a5f64f",
    "generation_config.json": "1fb1efd221c1ca88a736d1b36cb47d754c177677e222acb3b1e5424c5d664870",
    "model.safetensors": "cbf5a78393b6a033e0b8a63a57549964f7ed5c6fbeb4ba0694214f36123f2fd2",
    "modules.json": "5b5649645fb756dad1a8e2efe7872d3bb32bc00b93c95f276dd17f474eedccdc",
    "sentence_bert_config.json": "5ea26221ce733ace29a3897360e7c6ac8816b2ca0f7306657d69e594fece7325",
    "special_tokens_map.json": "2f7b0adf4fb469770bb1490e3e35df87b1dc578246c5e7e6fc76ecf33213a397",
    "tokenizer.json": "6852f8d561078cc0cebe70ca03c5bfdd0d60a45f9d2e0e1e4cc05b68e9ec329e",
    "tokenizer.model": "1299c11d7cf632ef3b4e11937501358ada021bbdf7c47638d13c0ee982f2e79c",
    "tokenizer_config.json": "9076840490613047bc9115963ee96b7702018b0d26ba644240bf856efda93118",
}


def model_folder(models_dir: Path) -> Path:
    """Where `govrag models fetch embeddinggemma` installs the model."""
    return Path(models_dir) / FOLDER


def spec(models_dir: Path) -> ModelSpec:
    """EmbeddingGemma's name, folder, prompts and Matryoshka dimensions."""
    return ModelSpec(
        name=NAME,
        path=model_folder(models_dir),
        query_prompt=QUERY_PROMPT,
        passage_prompt=PASSAGE_PROMPT,
        dimensions=DIMENSIONS,
    )


def open_embedding_gemma(settings: EmbedderSettings, models_dir: Path) -> Embedder:
    """The EmbeddingGemma adapter; a missing model names the command that installs it."""
    folder = model_folder(models_dir)
    if not (folder / "modules.json").is_file():
        raise EmbedderError(
            f"embedder.model is {EMBEDDING_GEMMA!r} but {folder} holds no model: run "
            f"`govrag models fetch {EMBEDDING_GEMMA}` (or `--from DIR` with your agency's copy), or set "
            "embedder.model to 'bundled'"
        )
    return Embedder(settings, models_dir, spec(models_dir))


#: sha256 of each of the 25 slices (chunk.bin of versions 0.2.1 ... 0.2.25), pinned once fetched.
SLICE_SHA256: tuple[str, ...] = (
    "49838b721e099645f7baf72198d29c370f575c892aa493b4fd8a3c98f711fbd9",
    "7908921487274523e83c2ef75f48eba81b9b2c4b4fd83ef8b8cfa5524cb963a4",
    "8fbc4f4a401e913e89f05ee923b0a202c2347349a651b803410829c5f5d2b8fa",
    "5a5fbffbd42b253562f3fc11ff9756ef76e82cead10f655d32e7e3e3bf8ae77b",
    "9be329e36af76e897b7f76c5c20ca1e71f39aa009a6b870b9a54738c7c912cd1",
    "9547c8558f1b14bbcef06bbfaa5890a29ca90e5c0c0c205ebd163fa2e12dde5f",
    "60189b60b907fde8285f2a42a9ba22441cf99f9535546a0cbdc9f8d3606a7738",
    "cc456f90381d8b4d76edc13603d67f578e41c67457c7dacdcea54226dfe68a6b",
    "21da8ff2aa8a562cd2b5046188494aa0c1b6367207de4480882641c8fecd8810",
    "ae93635bee20734233ac9cd8a4ee84ee07f23fb2048d92e00c197eabbf70a821",
    "7e41794f6f6eb6970ccedf40902671b9202318cf9fa68fc684ca9e9151f29328",
    "5ae4b23c58d7ba484678bf5c468ef56ee6dc259c29f96cf9063333e6d0b5bc41",
    "4c2b26b665ebc0667e3a3d674e9eb61a8e1e8eb61c52bf9ffe4b5a40f900441a",
    "301ce4b73ae480be8eb2009cebeae0198b741a11b768f79c11a98e8b4b4d4c2b",
    "2f1679a443988a8b431623c9d73e93ad3e3d77ccc927485a76ce9aa41dca3847",
    "1a5ab8f3b1def3815aa1122537628304c102da14a61ef67366f8e977a9f64975",
    "ee143092d3e085e8d213bcb8a8737a8c58083e2cb0c86e457f2fd78eed273f42",
    "9a7b7f55ca38c6340ef0501ccf21d298cf526e7443acc44599fa5bcf340fd73b",
    "1f46ceeef56d263b510455ad701ffcd2c2a7ae77bdb6cf5771f10f2cb6a0aab4",
    "8350b1e57048e83847a4fe7160c8026307bdae78f7c165ec9e12b0fb8081c1b9",
    "dbe831a5a51d87a170bf2053156aa9dad71642fcdb9b6d3dfc1d94a2cc870f28",
    "2efcdb25ce9270d49d2738e8b567d56b0a238c5f48712f7ff3552fe65d149104",
    "de5ff3ebdb3686b628c9e31dad7eeb0124e98a25120845869e2f54b7a9fd5be8",
    "19c584e1cf001b4b39cd2969adf6bbeb73b5c0cdba6adf97a2d7ea651ebc55be",
    "0c4dc8f73a642f3565f17f23c737aa2673fbeb67a881724946aeafa7cd69f77f",
)
