#!/usr/bin/env bash
# Whole-pipeline throughput against its parts, measured in one run on the
# same clip and model, so the ratio means something on a noisy machine.
#
#   pipeline_fps     whole `lookout screen` (from run.json: frames / pipeline time)
#   model_only_fps   the model alone, same threads, preprocessed frames
#   decode_only_fps  decode + RGB + letterbox on one core
#   efficiency       pipeline_fps * (1/model_only_fps + 1/(2*decode_only_fps)):
#                    the pipeline against a perfect overlap of decode and
#                    inference on two cores. Target >= 0.85.
#
# Usage: scripts/bench.sh [CLIP] [MODEL]; criterion kernels: cargo bench --bench kernels
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
CLIP="${1:-tests/data/sample-sortie.mp4}"
MODEL="${2:-models/lookout-demo.onnx}"
bash scripts/setup.sh >/dev/null
cargo build --release --locked --quiet
cargo build --release --locked --quiet --bench throughput

OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
RUN="$(./target/release/lookout screen "$CLIP" --model "$MODEL" --out "$OUT" --quiet)"
pipeline_fps="$(python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["summary"]["pipeline_fps"], 2))' "$RUN/run.json")"
parts="$(cargo bench --locked --quiet --bench throughput -- "$CLIP" "$MODEL")"
model_fps="$(awk '/^model_only_fps/ {print $2}' <<<"$parts")"
decode_fps="$(awk '/^decode_only_fps/ {print $2}' <<<"$parts")"
echo "clip $CLIP"
echo "model $MODEL"
echo "pipeline_fps $pipeline_fps"
echo "model_only_fps $model_fps"
echo "decode_only_fps $decode_fps"
python3 -c "p,m,d=$pipeline_fps,$model_fps,$decode_fps; print(f'efficiency {p*(1/m+1/(2*d)):.3f}')"
