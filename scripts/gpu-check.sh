#!/usr/bin/env bash
# GPU check, for a machine with an NVIDIA GPU: installs the onnxruntime-gpu
# wheel (with the CUDA and cuDNN libraries from PyPI) into .deps/gpu/,
# and, where pip has them, TensorRT's libraries; builds lookout with the
# `cuda` and `tensorrt` features; shows that `lookout inspect` sees the
# providers; screens the clip on CPU, CUDA and TensorRT (twice: the first
# run builds the engine, the second loads it from the engine cache) and
# prints each pipeline rate; then says whether Debian's FFmpeg offers NVDEC
# (`ffmpeg -hwaccels`) and, if so, times decoding the clip with it against
# one CPU thread. lookout itself decodes on the CPU.
#
# It needs a GPU machine that reaches PyPI (the wheels are several hundred
# MB) and is meant to finish inside 8 minutes; each step has its own time
# limit. GPU_CLIP and GPU_MODEL choose the clip and model (by default the
# sample sortie and the bundled demo model).
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
timeout 180 "$GPU/venv/bin/pip" install --quiet "onnxruntime-gpu[cuda,cudnn]==$ORT_VERSION"
# TensorRT 10 for CUDA 12, as ONNX Runtime's GPU build expects; optional.
timeout 180 "$GPU/venv/bin/pip" install --quiet "tensorrt-cu12-libs>=10,<11" || say "TensorRT's libraries could not be installed; TensorRT is skipped"
SITE="$("$GPU/venv/bin/python" -c 'import site; print(site.getsitepackages()[0])')"
ORT_LIB="$(ls "$SITE"/onnxruntime/capi/libonnxruntime.so.* | head -n1)"
# The CUDA provider finds cuBLAS, cuDNN and the CUDA runtime through the
# loader path; the wheels keep them under nvidia/*/lib.
LD_LIBRARY_PATH="$(find "$SITE/nvidia" "$SITE/tensorrt_libs" -maxdepth 2 -name lib -type d 2>/dev/null | tr '\n' ':')$SITE/tensorrt_libs:${LD_LIBRARY_PATH:-}"
export LD_LIBRARY_PATH
say "ONNX Runtime GPU library: $ORT_LIB"

timeout 300 cargo build --release --locked --features cuda,tensorrt
BIN=./target/release/lookout
CLIP="${GPU_CLIP:-tests/data/sample-sortie.mp4}"
MODEL="${GPU_MODEL:-models/lookout-demo.onnx}"
$BIN inspect "$MODEL" --ort-lib "$ORT_LIB" | grep -E '^(family|providers)' 

OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
# TensorRT keeps its engines here: the first run builds, the second loads.
export LOOKOUT_TENSORRT_CACHE="$OUT/trt-cache"
for device in cpu cuda tensorrt tensorrt-cached; do
    run="$(timeout 150 $BIN screen "$CLIP" --model "$MODEL" --sample full --ort-lib "$ORT_LIB" --device "${device%-cached}" --out "$OUT" --run-id "$device" --quiet)" \
        || { say "$device: screening failed"; continue; }
    python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["summary"]; print(f"{sys.argv[2]}_pipeline_fps {s[\"pipeline_fps\"]:.2f}  inference_ms_per_call {1000*s[\"inference_s\"]/max(1,s[\"inference_calls\"]):.2f}  events {s[\"events\"]}")' "$run/run.json" "$device"
done
# The same events on both devices (scores may differ in the last digits).
cmp <(python3 -c 'import json,sys; [print(json.loads(l)["event_id"]) for l in open(sys.argv[1])]' "$OUT/cpu/events.jsonl") \
    <(python3 -c 'import json,sys; [print(json.loads(l)["event_id"]) for l in open(sys.argv[1])]' "$OUT/cuda/events.jsonl") \
    && say "cpu and cuda flag the same frames" || say "cpu and cuda flag different frames"

# NVDEC through FFmpeg's hwaccel, if Debian's FFmpeg was built with it.
say "ffmpeg hwaccels: $(ffmpeg -hide_banner -hwaccels 2>/dev/null | tail -n +2 | tr '\n' ' ')"
if ffmpeg -hide_banner -hwaccels 2>/dev/null | grep -qx cuda; then
    for mode in cpu1 nvdec; do
        args=(-threads 1); [[ $mode == nvdec ]] && args=(-hwaccel cuda)
        t0=$(date +%s.%N)
        timeout 120 ffmpeg -hide_banner -loglevel error "${args[@]}" -i "$CLIP" -f null - && \
            python3 -c 'import sys,time; print(f"decode_{sys.argv[1]}_s {time.time()-float(sys.argv[2]):.2f}")' "$mode" "$t0"
    done
else
    say "this FFmpeg offers no CUDA hwaccel: NVDEC was not measured"
fi
