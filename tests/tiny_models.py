"""Tiny random-weight sentence-transformers folders built offline, so adapters run their real code path.

`write_tiny_gemma` lays out a folder shaped like EmbeddingGemma's (Gemma3 text encoder with bidirectional
attention, mean pooling, two Dense projections, Normalize) with a word-level tokenizer that adds <bos> and
<eos> like Gemma's; nothing is downloaded.
"""

from __future__ import annotations

import shutil
from pathlib import Path

_VOCAB_TEXT = (
    "the a of to and in for is passport visa apply form fee office tax land permit school query : | "
    "task search result title none text how do i where when what renew licence hello world short one "
    "long thai malay khmer lao burmese . , ? 1 2 3"
)
_WORDS = _VOCAB_TEXT.split()


def write_tiny_gemma(
    path: Path,
    *,
    dim: int = 32,
    out_dim: int = 768,
    seed: int = 0,
    prompts: dict[str, str] | None = None,
) -> Path:
    """Save a tiny EmbeddingGemma-shaped sentence-transformers model (random weights) at `path`: a
    `dim`-wide encoder projected to `out_dim` like the real model's 768 (so Matryoshka cuts can be tested);
    `prompts` are declared in the folder's config like sentence-transformers models do."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Dense, Normalize, Pooling, Transformer
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import Gemma3TextConfig, Gemma3TextModel, PreTrainedTokenizerFast

    torch.manual_seed(seed)
    specials = ["<pad>", "<eos>", "<bos>", "<unk>"]
    vocab = {tok: i for i, tok in enumerate(specials + _WORDS)}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()]
    )
    tok.post_processor = processors.TemplateProcessing(
        single="<bos> $A <eos>", special_tokens=[("<bos>", vocab["<bos>"]), ("<eos>", vocab["<eos>"])]
    )
    hf_tok = PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=tok, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>", unk_token="<unk>"
    )
    hf_tok.model_max_length = 64
    config = Gemma3TextConfig(
        vocab_size=len(vocab),
        hidden_size=dim,
        intermediate_size=2 * dim,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=dim // 2,
        max_position_embeddings=128,
        sliding_window=16,
        pad_token_id=vocab["<pad>"],
        bos_token_id=vocab["<bos>"],
        eos_token_id=vocab["<eos>"],
        use_bidirectional_attention=True,
    )
    raw = path / "_raw"
    Gemma3TextModel(config).save_pretrained(raw)
    hf_tok.save_pretrained(raw)
    first = Transformer(str(raw), max_seq_length=64)
    modules = [
        first,
        Pooling(dim, pooling_mode="mean"),
        Dense(dim, 4 * dim, bias=False, activation_function=torch.nn.Identity()),
        Dense(4 * dim, out_dim, bias=False, activation_function=torch.nn.Identity()),
        Normalize(),
    ]
    model = SentenceTransformer(modules=modules, device="cpu", prompts=prompts)
    model.save(str(path))
    shutil.rmtree(raw)
    return path
