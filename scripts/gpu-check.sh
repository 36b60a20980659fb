#!/usr/bin/env bash
# GPU check, for a machine with an NVIDIA GPU: installs the onnxruntime-gpu
# wheel (with the CUDA and cuDNN libraries from PyPI) into .deps/gpu/,
# builds lookout with the `cuda` feature, shows that `lookout inspect` sees
# the CUDA provider, then screens the sample sortie on CPU and on CUDA and
# prints both pipeline rates. Designed to finish well inside 10 minutes;
# each step has its own time limit.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
ORT_VERSION="${ORT_VERSION:-1.31.1}"
GPU="$ROOT/.deps/gpu"

say() { printf 'gpu-check: %s\n' "$*"; }

command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || say "nvidia-smi not found"

bash scripts/setup.sh

if [[ ! -x "$GPU/venv/bin/python" ]]; then
    say "installing onnxruntime-gpu==$ORT_VERSION with CUDA/cuDNN wheels into $GPU/venv"
    python3 -m venv "$GPU/venv"
fi
timeout 300 "$GPU/venv/bin/pip" install --quiet "onnxruntime-gpu[cuda,cudnn]==$ORT_VERSION"
SITE="$("$GPU/venv/bin/python" -c 'import site; print(site.getsitepackages()[0])')"
ORT_LIB="$(ls "$SITE"/onnxruntime/capi/libonnxruntime.so.* | head -n1)"
# The CUDA provider finds cuBLAS, cuDNN and the CUDA runtime through the
# loader path; the wheels keep them under nvidia/*/lib.
LD_LIBRARY_PATH="$(find "$SITE/nvidia" -maxdepth 2 -name lib -type d | tr '\n' ':')${LD_LIBRARY_PATH:-}"
export LD_LIBRARY_PATH
say "ONNX Runtime GPU library: $ORT_LIB"

timeout 400 cargo build --release --locked --features cuda
BIN=./target/release/lookout
$BIN inspect models/lookout-demo.onnx --ort-lib "$ORT_LIB" | grep -E '^(family|providers)'

OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
for device in cpu cuda; do
    run="$(timeout 120 $BIN screen tests/data/sample-sortie.mp4 --sample full --ort-lib "$ORT_LIB" --device "$device" --out "$OUT" --run-id "$device" --quiet)"
    python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["summary"]; print(f"{sys.argv[2]}_pipeline_fps {s[\"pipeline_fps\"]:.2f}  inference_ms_per_call {1000*s[\"inference_s\"]/max(1,s[\"inference_calls\"]):.2f}  events {s[\"events\"]}")' "$run/run.json" "$device"
done
# The same events on both devices (scores may differ in the last digits).
cmp <(python3 -c 'import json,sys; [print(json.loads(l)["event_id"]) for l in open(sys.argv[1])]' "$OUT/cpu/events.jsonl") \
    <(python3 -c 'import json,sys; [print(json.loads(l)["event_id"]) for l in open(sys.argv[1])]' "$OUT/cuda/events.jsonl") \
    && say "cpu and cuda flag the same frames" || say "cpu and cuda flag different frames"
