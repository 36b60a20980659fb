#!/usr/bin/env bash
# Runs the whole test suite: sets up what is missing (Debian packages,
# ONNX Runtime in .deps/), then `cargo test` over unit, integration and doc
# tests. Extra arguments go to cargo test, e.g. `scripts/test.sh screen::`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh
# One clean build: incremental state would only double target/'s size.
CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}" cargo test --locked "$@"
