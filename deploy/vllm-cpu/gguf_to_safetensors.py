"""Convert a GGUF causal LM into a bf16 safetensors folder that vLLM loads (used by local_qwen.sh).

transformers dequantises GGUF on load, but `save_pretrained` refuses a GGUF-quantised model, so the
state dict, config (without `quantization_config`), tokenizer and generation config are written here.
Usage: python gguf_to_safetensors.py FOLDER GGUF_NAME OUT_DIR
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig


def main(folder: str, name: str, out: str) -> None:
    """Load `folder/name` (GGUF) and write `out` as safetensors + config + tokenizer."""
    target = Path(out)
    target.mkdir(parents=True, exist_ok=True)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, torch_dtype=torch.bfloat16)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    if getattr(model.config, "tie_word_embeddings", False):
        state.pop("lm_head.weight", None)
    save_file(state, str(target / "model.safetensors"), metadata={"format": "pt"})
    config = model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.save_pretrained(target)
    tokenizer.save_pretrained(target)
    with contextlib.suppress(ValueError):  # nothing beyond the defaults
        GenerationConfig.from_model_config(config).save_pretrained(target)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
