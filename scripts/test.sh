#!/usr/bin/env bash
# Runs the whole test suite: sets up what is missing (Debian packages,
# ONNX Runtime in .deps/), then `cargo test` over unit, integration and doc
# tests. Extra arguments go to cargo test, e.g. `scripts/test.sh screen::`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh
cargo test --locked "$@"
