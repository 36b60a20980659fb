#!/usr/bin/env python3
"""Generate the tiny ONNX detector fixtures in tests/fixtures/.

Run from the repository root:

    .venv/bin/python scripts/make_test_models.py

Needs only ``numpy``, ``onnx`` and ``onnxruntime``. Graphs are built with
``onnx.helper`` (no training framework). Output is deterministic: the same
bytes every run (fixed producer name/version, no timestamps, no randomness in
what is written).

Every model reads the input ``images`` (NCHW, 3 channels, 64x64) and returns a
*constant* tensor ``C`` designed by hand below::

    out = C + 0 * ReduceMean(images)        (broadcast)

so the graph genuinely consumes its input (ONNX Runtime cannot prune it and
the caller must feed a correctly shaped/typed tensor), yet the output equals
``C`` exactly for any finite input. All models use opset 17 and IR version 8.

Models (all in tests/fixtures/):

``yolov8-tiny.onnx``
    Ultralytics YOLOv8/YOLO11 detect export layout. Input ``images``
    float32 [1,3,64,64]; output ``output0`` float32 [1, 4+nc, N] with nc=3,
    N = 8*8 + 4*4 + 2*2 = 84 anchors (strides 8, 16, 32; each grid row-major).
    Rows 0..3 are cx, cy, w, h in input pixels, rows 4..6 are class scores in
    0..1 (no objectness). metadata_props: ``names`` =
    ``{0: 'person', 1: 'boat', 2: 'car'}``, ``imgsz`` = ``[64, 64]``,
    ``stride`` = ``32``, ``task`` = ``detect``. Designed anchors:
    a) person 0.9 at cx=20,cy=20,w=10,h=12;
    b) person 0.8 at cx=21 (same otherwise): IoU 0.82 with a, NMS removes it;
    c) boat 0.7 at cx=44,cy=40,w=16,h=8;
    d) car 0.6 at cx=45,cy=40,w=16,h=8: overlaps c but another class, kept;
    e) person 0.2 at cx=48,cy=16,w=20,h=20: below conf 0.25, dropped.
    Every other anchor: box centred on its grid cell, w=h=stride, all class
    scores 0.01.

``yolov8-dynamic.onnx``
    Same constant and metadata as yolov8-tiny but input ``images`` float32
    [batch, 3, height, width] (symbolic dims) and output ``output0`` float32
    [batch, 7, 84]: ``Expand`` of C to the batch size taken from
    ``Shape(images)``, so a batch of B images returns B identical copies. The
    output does not depend on height/width (always the 64x64 layout); it is
    meant for testing batching with 64x64 inputs.

``yolox-tiny.onnx``
    Official YOLOX ``tools/export_onnx.py`` layout with
    ``decode_in_inference=False``. Input ``images`` float32 [1,3,64,64];
    output ``output`` float32 [1, N, 5+nc] with nc=2, N=84 rows: stride 8 grid
    (8x8, row-major y then x), then stride 16 (4x4), then stride 32 (2x2).
    Row = [tx, ty, tw, th, obj, cls_0, cls_1] with obj/cls already sigmoided;
    decode cx=(tx+gx)*s, cy=(ty+gy)*s, w=exp(tw)*s, h=exp(th)*s,
    score=obj*cls. No metadata; class names are in ``yolox-tiny.labels.txt``
    (``person``, ``vessel``). Designed rows:
    s8 (2,3): person, obj .95 cls .9 -> 0.855, box cx20 cy28 w16 h24;
    s8 (3,3): person, obj .9 cls .75 -> 0.675, cx21 (IoU 0.88 with the first,
    NMS removes it); s16 (1,2): vessel, obj .9 cls .8 -> 0.72, cx20 cy44 w24
    h16; s32 (1,1): vessel, obj .8 cls .75 -> 0.6, cx40 cy48 w24 h16;
    s16 (3,0): person, obj .3 cls .6 -> 0.18 (cls alone would pass 0.25, the
    product must not). Every other row: tx=ty=0.5, tw=th=0, obj 0.001,
    cls 0.01.

``unsupported.onnx``
    Input ``images`` float32 [1,3,64,64]; outputs ``logits`` float32 [1,10]
    and ``features`` float32 [1,5,5]: fits no detector family. Used to test
    that the error message names the output shapes.

``yolov8-fp16.onnx``
    yolov8-tiny with float16 input ``images`` [1,3,64,64] and float16 output
    ``output0`` [1,7,84] (Cast to float32 inside, Cast back at the end); the
    constant is C rounded to float16, so scores are e.g. 0.89990234.

For every model ``<name>.expected.json`` is written. Detections are computed
by running the model with ONNX Runtime and decoding its raw output with a
plain numpy reference (conf threshold 0.25, class-aware greedy NMS at IoU 0.5,
sorted by score descending, boxes as input-pixel xyxy), and are asserted to
match the hand-designed list. Values are rounded to 6 decimals; compare with
the ``tolerance`` field in the file.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "tests" / "fixtures"

OPSET = 17
IR_VERSION = 8
PRODUCER = "lookout-make-test-models"
PRODUCER_VERSION = "1"

CONF = 0.25
IOU = 0.5
IMG = 64
STRIDES = (8, 16, 32)
N_ANCHORS = sum((IMG // s) ** 2 for s in STRIDES)  # 84
assert N_ANCHORS == 84

V8_NAMES = ["person", "boat", "car"]
YOLOX_NAMES = ["person", "vessel"]


# ----------------------------------------------------------------------------
# Anchor helpers
# ----------------------------------------------------------------------------

def anchor_index(stride: int, gx: int, gy: int) -> int:
    """Row index of grid cell (gx, gy) at `stride` in the concatenated grids."""
    base = 0
    for s in STRIDES:
        n = IMG // s
        if s == stride:
            assert 0 <= gx < n and 0 <= gy < n
            return base + gy * n + gx
        base += n * n
    raise ValueError(stride)


def anchors():
    """Yield (index, stride, gx, gy) for all anchors in export order."""
    i = 0
    for s in STRIDES:
        n = IMG // s
        for gy in range(n):
            for gx in range(n):
                yield i, s, gx, gy
                i += 1


# ----------------------------------------------------------------------------
# Designed constant outputs
# ----------------------------------------------------------------------------

def yolov8_constant() -> tuple[np.ndarray, list[dict]]:
    nc = len(V8_NAMES)
    c = np.zeros((1, 4 + nc, N_ANCHORS), dtype=np.float32)
    for i, s, gx, gy in anchors():
        c[0, 0:4, i] = [(gx + 0.5) * s, (gy + 0.5) * s, s, s]
        c[0, 4:, i] = 0.01

    def put(idx, cls, score, cx, cy, w, h):
        c[0, 0:4, idx] = [cx, cy, w, h]
        c[0, 4:, idx] = 0.01
        c[0, 4 + cls, idx] = score

    put(anchor_index(8, 2, 2), 0, 0.9, 20, 20, 10, 12)   # a: kept
    put(anchor_index(8, 3, 2), 0, 0.8, 21, 20, 10, 12)   # b: NMS-suppressed by a
    put(anchor_index(16, 2, 2), 1, 0.7, 44, 40, 16, 8)   # c: boat, kept
    put(anchor_index(8, 5, 5), 2, 0.6, 45, 40, 16, 8)    # d: car over c, kept
    put(anchor_index(32, 1, 0), 0, 0.2, 48, 16, 20, 20)  # e: below threshold

    designed = [
        {"class_id": 0, "score": 0.9, "box": [15, 14, 25, 26]},
        {"class_id": 1, "score": 0.7, "box": [36, 36, 52, 44]},
        {"class_id": 2, "score": 0.6, "box": [37, 36, 53, 44]},
    ]
    return c, designed


def yolox_constant() -> tuple[np.ndarray, list[dict]]:
    nc = len(YOLOX_NAMES)
    c = np.zeros((1, N_ANCHORS, 5 + nc), dtype=np.float32)
    c[0, :, 0:2] = 0.5
    c[0, :, 2:4] = 0.0
    c[0, :, 4] = 0.001
    c[0, :, 5:] = 0.01

    def put(stride, gx, gy, tx, ty, tw, th, obj, cls, p):
        row = c[0, anchor_index(stride, gx, gy)]
        row[:] = [tx, ty, tw, th, obj] + [0.01] * nc
        row[5 + cls] = p

    # stride 8, cell (2,3): cx=20, cy=28, w=16, h=24; 0.95*0.9 = 0.855
    put(8, 2, 3, 0.5, 0.5, math.log(2.0), math.log(3.0), 0.95, 0, 0.9)
    # stride 8, cell (3,3): cx=21, cy=28, w=16, h=24; 0.9*0.75 = 0.675 -> NMS-suppressed
    put(8, 3, 3, -0.375, 0.5, math.log(2.0), math.log(3.0), 0.9, 0, 0.75)
    # stride 16, cell (1,2): cx=20, cy=44, w=24, h=16; 0.9*0.8 = 0.72
    put(16, 1, 2, 0.25, 0.75, math.log(1.5), 0.0, 0.9, 1, 0.8)
    # stride 32, cell (1,1): cx=40, cy=48, w=24, h=16; 0.8*0.75 = 0.6
    put(32, 1, 1, 0.25, 0.5, math.log(0.75), math.log(0.5), 0.8, 1, 0.75)
    # stride 16, cell (3,0): cls 0.6 but obj 0.3 -> score 0.18, dropped
    put(16, 3, 0, 0.5, 0.5, 0.0, 0.0, 0.3, 0, 0.6)

    designed = [
        {"class_id": 0, "score": 0.855, "box": [12, 16, 28, 40]},
        {"class_id": 1, "score": 0.72, "box": [8, 36, 32, 52]},
        {"class_id": 1, "score": 0.6, "box": [28, 40, 52, 56]},
    ]
    return c, designed


# ----------------------------------------------------------------------------
# Graph building
# ----------------------------------------------------------------------------

def zero_term(nodes, inits, images: str, out: str) -> None:
    """out (scalar float32) = 0 * mean(images over all axes)."""
    inits.append(numpy_helper.from_array(np.array(0.0, dtype=np.float32), "zt_zero"))
    nodes.append(helper.make_node("ReduceMean", [images], ["zt_mean"], axes=[0, 1, 2, 3], keepdims=0))
    nodes.append(helper.make_node("Mul", ["zt_mean", "zt_zero"], [out]))


def finish(graph: onnx.GraphProto, metadata: dict[str, str] | None = None) -> onnx.ModelProto:
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name=PRODUCER,
        producer_version=PRODUCER_VERSION,
        ir_version=IR_VERSION,
    )
    model.model_version = 1
    if metadata:
        helper.set_model_props(model, metadata)
    onnx.checker.check_model(model, full_check=True)
    return model


def const_model(
    name: str,
    consts: list[tuple[str, np.ndarray]],
    input_shape: list,
    out_shapes: list[list] | None = None,
    fp16: bool = False,
    metadata: dict[str, str] | None = None,
    expand_batch: bool = False,
) -> onnx.ModelProto:
    """Model with one input `images` and one output per (name, constant)."""
    nodes, inits = [], []
    io_type = TensorProto.FLOAT16 if fp16 else TensorProto.FLOAT
    x = "images"
    if fp16:
        nodes.append(helper.make_node("Cast", ["images"], ["images_f32"], to=TensorProto.FLOAT))
        x = "images_f32"
    zero_term(nodes, inits, x, "zero")
    outputs = []
    for k, (oname, arr) in enumerate(consts):
        cname = f"C{k}"
        inits.append(numpy_helper.from_array(arr.astype(np.float32), cname))
        if expand_batch:
            # target shape = [Shape(images)[0], *C.shape[1:]]
            inits.append(numpy_helper.from_array(np.array(arr.shape[1:], dtype=np.int64), "tail_dims"))
            nodes.append(helper.make_node("Shape", ["images"], ["in_shape"], start=0, end=1))
            nodes.append(helper.make_node("Concat", ["in_shape", "tail_dims"], ["out_shape"], axis=0))
            nodes.append(helper.make_node("Expand", [cname, "out_shape"], [f"{cname}_b"]))
            cname = f"{cname}_b"
        res = oname if not fp16 else f"{oname}_f32"
        nodes.append(helper.make_node("Add", [cname, "zero"], [res]))
        if fp16:
            nodes.append(helper.make_node("Cast", [res], [oname], to=TensorProto.FLOAT16))
        shape = out_shapes[k] if out_shapes else list(arr.shape)
        outputs.append(helper.make_tensor_value_info(oname, io_type, shape))
    graph = helper.make_graph(
        nodes,
        name.replace("-", "_"),
        [helper.make_tensor_value_info("images", io_type, input_shape)],
        outputs,
        initializer=inits,
    )
    return finish(graph, metadata)


# ----------------------------------------------------------------------------
# Reference decode + NMS (numpy)
# ----------------------------------------------------------------------------

def iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def nms(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray) -> list[int]:
    """Class-aware greedy NMS; returns kept indices sorted by score desc."""
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    keep: list[int] = []
    for i in order:
        if all(classes[k] != classes[i] or iou(boxes[i], boxes[k]) <= IOU for k in keep):
            keep.append(i)
    return keep


def decode_yolov8(raw: np.ndarray) -> list[dict]:
    p = raw.astype(np.float64)[0].T  # [N, 4+nc]
    cls_scores = p[:, 4:]
    classes = cls_scores.argmax(axis=1)
    scores = cls_scores.max(axis=1)
    m = scores > CONF
    cx, cy, w, h = p[m, 0], p[m, 1], p[m, 2], p[m, 3]
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    return collect(boxes, scores[m], classes[m])


def decode_yolox(raw: np.ndarray) -> list[dict]:
    p = raw.astype(np.float64)[0]  # [N, 5+nc]
    grid = np.array([[gx, gy, s] for _, s, gx, gy in anchors()], dtype=np.float64)
    s = grid[:, 2]
    cx = (p[:, 0] + grid[:, 0]) * s
    cy = (p[:, 1] + grid[:, 1]) * s
    w = np.exp(p[:, 2]) * s
    h = np.exp(p[:, 3]) * s
    cls_scores = p[:, 4:5] * p[:, 5:]
    classes = cls_scores.argmax(axis=1)
    scores = cls_scores.max(axis=1)
    m = scores > CONF
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)[m]
    return collect(boxes, scores[m], classes[m])


def collect(boxes, scores, classes) -> list[dict]:
    return [
        {"class_id": int(classes[i]), "score": float(scores[i]), "box": [float(v) for v in boxes[i]]}
        for i in nms(boxes, scores, classes)
    ]


# ----------------------------------------------------------------------------
# Running, checking and writing
# ----------------------------------------------------------------------------

def run(model: onnx.ModelProto, feed: np.ndarray) -> list[np.ndarray]:
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    return sess.run(None, {"images": feed})


def check_constant(model, consts, dtype=np.float32, batch=1, hw=(IMG, IMG)) -> list[np.ndarray]:
    """Run with zeros and with random data; both must give exactly the constants."""
    rng = np.random.default_rng(0)
    shape = (batch, 3, *hw)
    results = None
    for feed in (np.zeros(shape, dtype), rng.random(shape).astype(dtype) * 255):
        outs = run(model, feed)
        assert len(outs) == len(consts)
        for out, c in zip(outs, consts):
            assert out.dtype == dtype, (out.dtype, dtype)
            want = np.broadcast_to(c.astype(dtype), (batch, *c.shape[1:]))
            assert out.shape == want.shape, (out.shape, want.shape)
            assert np.array_equal(out, want), "output is not exactly the designed constant"
        results = outs
    return results


def check_designed(got: list[dict], designed: list[dict], tol: float) -> None:
    assert len(got) == len(designed), (got, designed)
    for g, d in zip(got, designed):
        assert g["class_id"] == d["class_id"], (g, d)
        assert abs(g["score"] - d["score"]) <= tol, (g, d)
        assert all(abs(a - b) <= tol for a, b in zip(g["box"], d["box"])), (g, d)


def expected_json(dets: list[dict], names: list[str], tol: float, **extra) -> dict:
    out = {"conf": CONF, "iou": IOU, "tolerance": tol}
    out.update(extra)
    out["detections"] = [
        {
            "class_id": d["class_id"],
            "class": names[d["class_id"]],
            "score": round(d["score"], 6),
            "box": [round(v, 6) + 0.0 for v in d["box"]],
        }
        for d in dets
    ]
    return out


def write_model(name: str, model: onnx.ModelProto) -> None:
    data = model.SerializeToString(deterministic=True)
    (OUT_DIR / f"{name}.onnx").write_bytes(data)
    print(f"  {name}.onnx  {len(data)} bytes  sha256 {hashlib.sha256(data).hexdigest()[:16]}")


def write_json(name: str, obj: dict) -> None:
    (OUT_DIR / f"{name}.expected.json").write_text(json.dumps(obj, indent=2) + "\n")


def v8_metadata() -> dict[str, str]:
    names = "{" + ", ".join(f"{i}: '{n}'" for i, n in enumerate(V8_NAMES)) + "}"
    return {"names": names, "imgsz": f"[{IMG}, {IMG}]", "stride": "32", "task": "detect"}


def main() -> None:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    print(f"writing fixtures to {OUT_DIR}")

    # 1. yolov8-tiny -----------------------------------------------------------
    c8, designed8 = yolov8_constant()
    m = const_model("yolov8-tiny", [("output0", c8)], [1, 3, IMG, IMG], metadata=v8_metadata())
    (raw,) = check_constant(m, [c8])
    dets = decode_yolov8(raw)
    check_designed(dets, designed8, 1e-5)
    write_model("yolov8-tiny", m)
    write_json("yolov8-tiny", expected_json(dets, V8_NAMES, 1e-4))

    # 2. yolov8-dynamic --------------------------------------------------------
    m = const_model(
        "yolov8-dynamic",
        [("output0", c8)],
        ["batch", 3, "height", "width"],
        out_shapes=[["batch", 4 + len(V8_NAMES), N_ANCHORS]],
        metadata=v8_metadata(),
        expand_batch=True,
    )
    for b, hw in ((1, (IMG, IMG)), (3, (IMG, IMG)), (2, (32, 48))):
        outs = check_constant(m, [c8], batch=b, hw=hw)
        for k in range(b):
            check_designed(decode_yolov8(outs[0][k : k + 1]), designed8, 1e-5)
    write_model("yolov8-dynamic", m)
    write_json("yolov8-dynamic", expected_json(dets, V8_NAMES, 1e-4, per_image=True))

    # 3. yolox-tiny ------------------------------------------------------------
    cx_, designedx = yolox_constant()
    m = const_model("yolox-tiny", [("output", cx_)], [1, 3, IMG, IMG])
    (raw,) = check_constant(m, [cx_])
    detsx = decode_yolox(raw)
    check_designed(detsx, designedx, 1e-4)
    write_model("yolox-tiny", m)
    write_json("yolox-tiny", expected_json(detsx, YOLOX_NAMES, 1e-4, labels="yolox-tiny.labels.txt"))
    (OUT_DIR / "yolox-tiny.labels.txt").write_text("\n".join(YOLOX_NAMES) + "\n")

    # 4. unsupported -----------------------------------------------------------
    logits = (np.arange(10, dtype=np.float32) / 10).reshape(1, 10)
    feats = (np.arange(25, dtype=np.float32) / 25).reshape(1, 5, 5)
    m = const_model("unsupported", [("logits", logits), ("features", feats)], [1, 3, IMG, IMG])
    check_constant(m, [logits, feats])
    write_model("unsupported", m)
    write_json("unsupported", {"error_contains": ["[1, 10]", "[1, 5, 5]"]})

    # 5. yolov8-fp16 -----------------------------------------------------------
    c16 = c8.astype(np.float16)
    m = const_model(
        "yolov8-fp16", [("output0", c16.astype(np.float32))], [1, 3, IMG, IMG], fp16=True, metadata=v8_metadata()
    )
    (raw,) = check_constant(m, [c16], dtype=np.float16)
    dets16 = decode_yolov8(raw)
    check_designed(dets16, designed8, 1e-3)
    write_model("yolov8-fp16", m)
    write_json("yolov8-fp16", expected_json(dets16, V8_NAMES, 1e-3))

    print("all fixtures verified with onnxruntime", ort.__version__)


if __name__ == "__main__":
    main()
