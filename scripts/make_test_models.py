#!/usr/bin/env python3
"""Generate the tiny ONNX detector fixtures in tests/fixtures/.

Run from the repository root:

    .venv/bin/python scripts/make_test_models.py

Needs only ``numpy``, ``onnx`` and ``onnxruntime``. Graphs are built with
``onnx.helper`` (no training framework). Output is deterministic: the same
bytes every run (fixed producer name/version, no timestamps, no randomness in
what is written).

Unless stated otherwise a model reads the input ``images`` (NCHW, 3 channels,
64x64) and returns a *constant* tensor ``C`` designed by hand below::

    out = C + 0 * ReduceMean(images)        (broadcast)

so the graph genuinely consumes its input (ONNX Runtime cannot prune it and
the caller must feed a correctly shaped/typed tensor), yet the output equals
``C`` exactly for any finite input. The exceptions: ``ssd-tiny`` reads uint8
NHWC ``input_tensor`` (cast to float for the trick), ``detr-tiny`` also reads
``orig_target_sizes`` and scales its boxes by it, and ``yolov8-int8`` really
depends (a little) on its input. All models use opset 17 and IR version 8
(``yolov8-int8`` keeps what the quantiser writes, see there).

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

``yolov5-tiny.onnx``
    Ultralytics YOLOv5 export layout. Input ``images`` float32 [1,3,64,64];
    output ``output0`` float32 [1, 252, 8]: 3 anchors per cell, rows ordered
    stride 8 (3 anchors x 8x8), stride 16 (3 x 4x4), stride 32 (3 x 2x2),
    i.e. row = base(s) + a*n*n + gy*n + gx. 252 = 3 * 84 rows is what tells it
    apart from YOLOX (84 rows). Row = [cx, cy, w, h, obj, cls0, cls1, cls2],
    already decoded to input pixels, obj/cls already sigmoided;
    score = obj * cls, kept if > conf. metadata_props (as YOLOv5's export.py
    writes them): ``names`` = ``{0: 'person', 1: 'boat', 2: 'car'}``,
    ``stride`` = ``32``. Designed rows:
    a) s8 (2,3) anchor 0: person obj .95 cls .9 -> 0.855, cx20 cy24 w12 h16;
    b) s8 (2,3) anchor 1: person obj .9 cls .8 -> 0.72, cx21 (IoU 0.85 with a,
    NMS removes it); c) s16 (2,2) anchor 2: boat obj .9 cls .85 -> 0.765,
    cx44 cy36 w24 h12; d) s16 (1,3) anchor 0: car obj .8 cls .8 -> 0.64,
    cx16 cy52 w16 h12 (reaches into the bottom letterbox pad of a 96x64
    source, so its source box is clipped at y=64); f) s8 (5,0) anchor 0: boat
    obj .9 cls .7 -> 0.63, cx40 cy5 w8 h6 (wholly inside the top pad of a 96x64
    source: kept for a 64x64 source, zero area and dropped for 96x64);
    e) s32 (1,0) anchor 1: person cls .95 but obj .2 -> 0.19, dropped.
    Every other row: box centred on its cell, w=h=stride*(a+1), obj 0.001,
    cls 0.01.

``yolov5-fp16.onnx``
    yolov5-tiny with float16 input ``images`` and float16 output ``output0``
    (built like yolov8-fp16); scores are products of f16-rounded obj and cls
    (e.g. 0.949707 * 0.899902 = 0.854644).

``end2end-tiny.onnx``
    NMS-free Ultralytics YOLOv10 / YOLO26 export. Input ``images`` float32
    [1,3,64,64]; output ``output0`` float32 [1, 10, 6], rows
    [x1, y1, x2, y2, score, class_id] in input pixels, class_id as a float.
    metadata_props: ``names`` as yolov8-tiny, ``end2end`` = ``True``. The
    model has done the NMS, so the decoder applies only conf (``no_nms``).
    Rows: person .92 [10,14,26,40]; person .81 [12,15,28,41] (IoU 0.73 with
    the first: both must be kept); car .66 [34,30,58,46]; boat .4
    [40,6,56,20] (crosses the top letterbox pad: clipped at y=0 in a 96x64
    source); car .24 (below conf); then 5 padding rows of zeros (score 0).

``ssd-tiny.onnx``
    TensorFlow Object Detection API export. Input ``input_tensor`` **uint8**
    [1, 64, 64, 3] (NHWC, RGB 0..255; cast to float inside for the zero
    term). Outputs ``num_detections`` float32 [1] (= 5),
    ``detection_boxes`` float32 [1, 8, 4] normalised [y1, x1, y2, x2],
    ``detection_scores`` float32 [1, 8], ``detection_classes`` float32 [1, 8]
    with 1-based label-map ids (1 person, 2 boat, 3 car; class_id in the
    expected file is id - 1). Only the first num_detections rows count; the
    model has done the NMS (``no_nms``). Names in ``ssd-tiny.labels.txt``
    (ids 1..3 in order). Rows: person .88 [y .25 x .125 y .625 x .375];
    boat .75; person .55 overlapping the first (both kept); car .3; boat .2
    (below conf); row 5 .1; row 6 car **.95** past num_detections (must be
    ignored); row 7 zeros. All coordinates are multiples of 1/32, so boxes
    are exact in 64x64 and 96x64 pixels.

``detr-tiny.onnx``
    RT-DETR deploy layout (lyuwenyu / PaddleDetection). Inputs ``images``
    float32 [1,3,64,64] and ``orig_target_sizes`` **int64** [1, 2] =
    [[width, height]] of the source frame; outputs ``labels`` int64 [1, 10],
    ``boxes`` float32 [1, 10, 4] xyxy in **source pixels** (computed in the
    graph: normalised constant boxes * [w, h, w, h]) and ``scores`` float32
    [1, 10]. Decoder: conf only (``no_nms``). Queries: person .9
    [.125,.25,.375,.75]; person .85 [.15625,.28125,.40625,.78125] (overlaps,
    both kept); car .7; boat .45; car .2 (below conf); 5 queries at
    0.01..0.05. ``detections`` come from orig_target_sizes [[64, 64]],
    ``source_detections`` from [[96, 64]].

``detr-logits.onnx``
    RF-DETR / D-FINE-style raw head with the batch axis squeezed. Input
    ``images`` float32 [1,3,64,64]; outputs ``pred_logits`` float32 [10, 3]
    (raw logits; score = sigmoid, per query the best class) and
    ``pred_boxes`` float32 [10, 4] normalised cx, cy, w, h. Conf only
    (``no_nms``). No metadata; names in ``detr-logits.labels.txt``. Queries:
    person .93 (its boat logit is also .3, above conf, but only the best class
    of a query counts); boat .8; car .62; boat .55 overlapping the .8 boat
    (kept); person .22 (below conf); other queries all logits -4 (0.018).

``nanodet-tiny.onnx``
    Multi-output NanoDet head. Input ``images`` float32 [1,3,64,64]; six
    outputs, for s in 8, 16, 32: ``cls_pred_stride_{s}`` float32
    [1, (64/s)^2, 3] (sigmoided class scores) and ``dis_pred_stride_{s}``
    float32 [1, (64/s)^2, 32] (4 sides left, top, right, bottom x 8 bins,
    reg_max 7, raw logits). Cell (gx, gy), row-major, has centre
    ((gx+0.5)*s, (gy+0.5)*s), as the original NanoDet (GFL) head decodes;
    side = s * sum_i i*softmax(bins)_i; box = (cx-l, cy-t, cx+r, cy+b);
    score = best class; conf then class-aware NMS. No metadata; names in
    ``nanodet-tiny.labels.txt``. Each designed side has bins
    -(i-mu)^2/(2*0.6^2) with mu solved so the expectation is the designed
    distance (peak bin ~0.6-0.7, never one-hot; an argmax decode is off by
    >= 0.5 px). Cells: s8 (2,3) person .85 [10,14,26,46]; s8 (2,4) person .7
    [11,14,26,46] (IoU 0.94, NMS removes it); s16 (2,2) boat .78
    [28,34,60,50]; s32 (1,1) car .66 [22,40,76,78] (overlaps the boat, other
    class, kept; crosses the frame, clipped to [22,40,64,64]); s16 (1,1)
    person .2 (below conf). Other cells: bins all 0 (side 3.5*s), class
    scores 0.01.

``nanodet-numeric.onnx``
    The original NanoDet exporter's layout (no output names given, so they
    are graph-node numbers; multi_apply puts every class output before every
    distribution output): ``792`` [1,64,8], ``814`` [1,16,8], ``836`` [1,4,8]
    (8 sigmoided class scores for strides 8, 16, 32), then ``795`` [1,64,32],
    ``817`` [1,16,32], ``839`` [1,4,32]. Both widths are multiples of 4, so
    only output order tells classes from distributions. Decoded as
    nanodet-tiny (mid-cell centres). Cells: s8 (2,3) person .86 [9,13,27,43];
    s8 (2,4) person .74 [10,13,27,43] (NMS removes it); s16 (1,1) bicycle
    (5) .77 [6,10,46,34]; s32 (1,1) van (7) .61 [26,22,62,62]; s16 (3,2)
    truck .2 (below conf). Names in ``nanodet-numeric.labels.txt``.

``detr-squeezed.onnx``
    detr-tiny with the batch axis squeezed out of the outputs (batch-1 deploy
    scripts of DEIM, DEIMv2, D-FINE): ``labels`` int64 [10], ``boxes``
    float32 [10, 4] in source pixels (``orig_target_sizes`` int64 [1, 2] as
    in detr-tiny), ``scores`` float32 [10]. Same detections as detr-tiny.

``rtdetr-ultralytics.onnx``
    Ultralytics RT-DETR export. Input ``images`` float32 [1,3,64,64]; output
    ``output0`` float32 [1, 10, 7]: 10 queries x (normalised cx, cy, w, h
    (0..1 of the model input) + 3 class scores already in 0..1). Per query the
    best class; conf only (``no_nms``). metadata_props as yolov8-tiny
    (``names``, ``imgsz``, ``stride``, ``task`` = ``detect``). Stretch resize,
    RGB /255, so source boxes are norm * (96, 64). Queries: person .91
    [cx .25 cy .5 w .25 h .5]; person .83 [.28125 .53125 .25 .5] (IoU 0.70 with
    the first, same class: both kept); car .68 (its boat score .4 is above conf
    but not the best class: ignored); boat .47; car .21 (below conf); 5
    background queries with scores 0.01..0.05. Edges are multiples of 1/32.

``nanodet-plus.onnx``
    Official NanoDet-Plus export, all strides concatenated. Input ``images``
    float32 [1,3,64,64]; output ``output`` float32 [1, 85, 35]: rows are the
    cells of strides 8, 16, 32, 64 (8x8 + 4x4 + 2x2 + 1x1 = 85, each grid
    row-major); a row is 3 sigmoided class scores then 32 distribution logits
    (left, top, right, bottom x 8 bins, reg_max 7). Decoded exactly like
    nanodet-tiny (centre (gx*s, gy*s), side = s * sum_i i*softmax(bins)_i,
    conf then class-aware NMS). No metadata; names in
    ``nanodet-plus.labels.txt``. Cells: s8 (3,2) person .88 [14,6,30,34];
    s8 (3,3) person .72 [15,6,30,34] (IoU 0.94, NMS removes it); s16 (2,2)
    boat .78 [18,22,50,42]; s64 (0,0) car .64 [-20,-20,56,44] (the single
    stride-64 cell has centre (0,0), so its box necessarily crosses the
    top-left corner: clipped to [0,0,56,44] in a 64x64 frame, as the pipeline
    clips every box to the frame; the only car, so clipping before or after
    NMS is the same); s32 (1,0) person .2 (below conf). Other cells: bins all
    0, class scores 0.01.

``yolov8-int8.onnx``
    Dynamically quantised YOLOv8-layout model (``output0`` float32
    [1, 7, 84], metadata as yolov8-tiny). The float graph is
    GlobalAveragePool(images) -> Flatten -> MatMul W [3, 588] -> Add bias ->
    Reshape [1,7,84] -> Add C (C = yolov8-tiny's constant), with
    W[c, j] = A(row) * cos(0.7 j + 1.3 c) (A = 0.75 for box rows, 0.02 for
    score rows) and bias = -0.4 * sum_c W[c, :], so the output is C plus a
    small term in (channel mean - 0.4). It is passed through
    ``onnxruntime.quantization.quantize_dynamic(weight_type=QInt8)``
    (DynamicQuantizeLinear + MatMulInteger, W stored as int8); producer
    fields are then reset to ours. Not constant: the expectation is the
    quantised model's real output for a uniform grey input of 100/255
    (``input_fill``); ``source_detections`` are for a 96x64 grey source of
    pixel 100 letterboxed (pad 114) exactly as the Rust side must do.
    Tolerance 1e-3.

``classifier.onnx``
    Image classifier: ``images`` float32 [1,3,64,64] -> ``output0`` float32
    [1, 10] (constant probabilities), metadata ``task`` = ``classify`` and
    ``names`` with 10 names. The loader must refuse it as the wrong task
    (``error_contains``: ``classify``).

``yolov7-end2end.onnx``
    YOLOv7 ``export.py --grid --end2end --max-wh 640 --dynamic-batch`` for
    ONNX Runtime (NMS inside the graph). Input ``images`` float32
    [batch,3,64,64]; output ``output`` float32 [batch, 7], whose first axis
    (named ``batch`` by the exporter) really counts the kept detections of
    the whole batch: rows [batch_id, x1, y1, x2, y2, class_id, score] in
    input pixels, batch_id and class_id as floats. No metadata; names in
    ``yolov7-end2end.labels.txt``. The graph repeats the 5 designed rows per
    image with batch_id = image index, so B images give 5 B rows and a
    decoder that does not split by batch_id returns every image's rows for
    each. Threshold only (``no_nms``): person .93 [8,12,24,36]; person .84
    [10,13,26,37] (IoU 0.72 with the first: both kept); car .71
    [30,28,54,44]; boat .45 [36,4,52,18] (crosses the top letterbox pad of a
    96x64 source: clipped at y=0); car .22 (below conf).

``yolov8-transposed.onnx``
    yolov8-tiny's constant transposed to ``output0`` float32 [1, 84, 7]
    (one row [cx, cy, w, h, 3 class scores] per anchor), as some deploy forks
    and TensorRT-oriented exporters write the YOLOv8/YOLO11 head. Same
    metadata as yolov8-tiny: ``names`` lists 3 classes = 7 - 4, which tells
    it from a YOLOX/YOLOv5 head (5 + nc), and 84 rows = one per cell at
    strides 8/16/32, which tells it from RT-DETR's queries. Same detections
    as yolov8-tiny.

For every model ``<name>.expected.json`` is written. Detections are computed
by running the model with ONNX Runtime and decoding its raw output with a
plain numpy reference (conf threshold 0.25, class-aware greedy NMS at IoU 0.5
unless ``no_nms``, sorted by score descending, boxes as input-pixel xyxy for a
64x64 source), and are asserted to match the hand-designed list. Values are
rounded to 6 decimals; compare with the ``tolerance`` field in the file.

Every detector's file also has ``source_size`` = [96, 64] and
``source_detections``: the same pipeline for a 96x64 (w x h) source frame,
boxes mapped back to source pixels with the family's preprocessing geometry,
clipped to [0, 96] x [0, 64], zero-area boxes dropped (NMS, where used, runs
in model-input pixels before the mapping):

* ``letterbox_center`` (Ultralytics): r = min(64/96, 64/64) = 2/3, resized
  (round(96 r), round(64 r)) = (64, 43), pad = ((64-64)//2, (64-43)//2) =
  (0, 10); source = (input - pad) / r.
* ``letterbox_topleft`` (YOLOX): same r, pad 0; source = input / r.
* ``stretch`` (SSD, DETR, NanoDet): source = input * (96/64, 64/64); boxes
  normalised to 0..1 map directly as norm * (96, 64).

and ``preprocess``, what the caller must feed: ``resize``, ``channels``
(rgb/bgr), ``scale`` (applied to 0..255 pixels), ``mean`` and ``std`` (listed
per model-input channel, i.e. in ``channels`` order: NanoDet's
[103.53, 116.28, 123.675] is B, G, R), ``layout`` (nchw/nhwc) and ``dtype``
(float32/float16/uint8). value = (pixel * scale - mean) / std. The
error-only fixtures (unsupported, classifier) have just ``error_contains``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import tempfile
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
CLASSIFIER_NAMES = ["cat", "dog", "bird", "fish", "horse", "sheep", "cow", "frog", "deer", "fox"]

N_YOLOV5_ANCHORS = 3
SRC_W, SRC_H = 96, 64  # source frame for the source-pixel expectations
GREY = 100  # pixel value of the grey test frames
PAD = 114  # letterbox padding grey (Ultralytics / YOLOX)
NANODET_REG_MAX = 7

# What the caller must feed. mean/std are per model-input channel (in
# `channels` order); value = (pixel * scale - mean) / std.
PP_ULTRALYTICS = {
    "resize": "letterbox_center", "channels": "rgb", "scale": 1 / 255,
    "mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0], "layout": "nchw", "dtype": "float32",
}
PP_ULTRALYTICS_FP16 = {**PP_ULTRALYTICS, "dtype": "float16"}
PP_YOLOX = {
    "resize": "letterbox_topleft", "channels": "bgr", "scale": 1.0,
    "mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0], "layout": "nchw", "dtype": "float32",
}
PP_SSD = {
    "resize": "stretch", "channels": "rgb", "scale": 1.0,
    "mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0], "layout": "nhwc", "dtype": "uint8",
}
PP_RTDETR = {
    "resize": "stretch", "channels": "rgb", "scale": 1 / 255,
    "mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0], "layout": "nchw", "dtype": "float32",
}
PP_IMAGENET = {
    "resize": "stretch", "channels": "rgb", "scale": 1 / 255,
    "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], "layout": "nchw", "dtype": "float32",
}
PP_NANODET = {
    "resize": "stretch", "channels": "bgr", "scale": 1.0,
    "mean": [103.53, 116.28, 123.675], "std": [57.375, 57.12, 58.395], "layout": "nchw", "dtype": "float32",
}


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


def yolov5_index(stride: int, anchor: int, gx: int, gy: int) -> int:
    """Row of (stride, anchor, cell) in a YOLOv5 output: level, anchor, gy, gx."""
    base = 0
    for s in STRIDES:
        n = IMG // s
        if s == stride:
            assert 0 <= gx < n and 0 <= gy < n and 0 <= anchor < N_YOLOV5_ANCHORS
            return base + anchor * n * n + gy * n + gx
        base += N_YOLOV5_ANCHORS * n * n
    raise ValueError(stride)


def yolov5_constant() -> tuple[np.ndarray, list[dict]]:
    nc = len(V8_NAMES)
    n_rows = N_YOLOV5_ANCHORS * N_ANCHORS
    c = np.zeros((1, n_rows, 5 + nc), dtype=np.float32)
    for s in STRIDES:
        n = IMG // s
        for a in range(N_YOLOV5_ANCHORS):
            for gy in range(n):
                for gx in range(n):
                    c[0, yolov5_index(s, a, gx, gy)] = [(gx + 0.5) * s, (gy + 0.5) * s, s * (a + 1), s * (a + 1),
                                                        0.001] + [0.01] * nc

    def put(stride, anchor, gx, gy, cls, obj, p, cx, cy, w, h):
        row = c[0, yolov5_index(stride, anchor, gx, gy)]
        row[:] = [cx, cy, w, h, obj] + [0.01] * nc
        row[5 + cls] = p

    put(8, 0, 2, 3, 0, 0.95, 0.9, 20, 24, 12, 16)    # a: person 0.855
    put(8, 1, 2, 3, 0, 0.9, 0.8, 21, 24, 12, 16)     # b: 0.72, NMS-suppressed by a
    put(16, 2, 2, 2, 1, 0.9, 0.85, 44, 36, 24, 12)   # c: boat 0.765
    put(16, 0, 1, 3, 2, 0.8, 0.8, 16, 52, 16, 12)    # d: car 0.64, into the bottom pad
    put(8, 0, 5, 0, 1, 0.9, 0.7, 40, 5, 8, 6)        # f: boat 0.63, inside the top pad
    put(32, 1, 1, 0, 0, 0.2, 0.95, 48, 16, 20, 20)   # e: cls .95 but obj .2 -> 0.19

    designed = [
        {"class_id": 0, "score": 0.855, "box": [14, 16, 26, 32]},
        {"class_id": 1, "score": 0.765, "box": [32, 30, 56, 42]},
        {"class_id": 2, "score": 0.64, "box": [8, 46, 24, 58]},
        {"class_id": 1, "score": 0.63, "box": [36, 2, 44, 8]},
    ]
    return c, designed


def end2end_constant() -> tuple[np.ndarray, list[dict]]:
    rows = [
        # x1, y1, x2, y2, score, class
        [10, 14, 26, 40, 0.92, 0],
        [12, 15, 28, 41, 0.81, 0],  # IoU 0.73 with the row above: no NMS, kept
        [34, 30, 58, 46, 0.66, 2],
        [40, 6, 56, 20, 0.4, 1],    # crosses the top letterbox pad of a 96x64 frame
        [4, 44, 20, 60, 0.24, 2],   # below conf
    ]
    c = np.zeros((1, 10, 6), dtype=np.float32)  # rows 5..9: padding, score 0
    c[0, : len(rows)] = rows
    designed = [
        {"class_id": int(r[5]), "score": r[4], "box": r[:4]} for r in rows if r[4] > CONF
    ]
    return c, designed


def yolov7_end2end_constant() -> tuple[np.ndarray, list[dict]]:
    rows = [
        # batch_id, x1, y1, x2, y2, class, score
        [0, 8, 12, 24, 36, 0, 0.93],
        [0, 10, 13, 26, 37, 0, 0.84],  # IoU 0.72 with the row above: no NMS, kept
        [0, 30, 28, 54, 44, 2, 0.71],
        [0, 36, 4, 52, 18, 1, 0.45],   # crosses the top letterbox pad of a 96x64 frame
        [0, 2, 46, 18, 62, 2, 0.22],   # below conf
    ]
    c = np.array([rows], dtype=np.float32)  # [1, 5, 7]; batch_id added per image by the graph
    designed = [{"class_id": int(r[5]), "score": r[6], "box": r[1:5]} for r in rows if r[6] > CONF]
    return c, designed


def ssd_constant() -> tuple[list[tuple[str, np.ndarray]], list[dict]]:
    q = 1 / 32
    rows = [
        # (score, label-map id, [y1, x1, y2, x2] in 32nds)
        (0.88, 1, [8, 4, 20, 12]),
        (0.75, 2, [16, 16, 24, 30]),
        (0.55, 1, [9, 5, 21, 13]),    # overlaps row 0 (same class): the model's NMS kept it
        (0.3, 3, [2, 20, 8, 28]),
        (0.2, 2, [24, 2, 30, 10]),    # below conf
        (0.1, 3, [20, 20, 28, 28]),   # row 5: past num_detections
        (0.95, 3, [4, 4, 12, 12]),    # row 6: high score but past num_detections
        (0.0, 0, [0, 0, 0, 0]),       # row 7: empty
    ]
    num = 5
    boxes = np.array([[v * q for v in r[2]] for r in rows], dtype=np.float32)[None]
    scores = np.array([r[0] for r in rows], dtype=np.float32)[None]
    classes = np.array([r[1] for r in rows], dtype=np.float32)[None]
    consts = [
        ("num_detections", np.array([num], dtype=np.float32)),
        ("detection_boxes", boxes),
        ("detection_scores", scores),
        ("detection_classes", classes),
    ]
    designed = []
    for score, cid, (y1, x1, y2, x2) in rows[:num]:
        if score > CONF:
            designed.append({"class_id": cid - 1, "score": score, "box": [x1 * 2, y1 * 2, x2 * 2, y2 * 2]})
    return consts, designed


def detr_constant() -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict]]:
    rows = [
        # label, score, normalised xyxy
        (0, 0.9, [0.125, 0.25, 0.375, 0.75]),
        (0, 0.85, [0.15625, 0.28125, 0.40625, 0.78125]),  # overlaps the first, kept
        (2, 0.7, [0.5, 0.5, 0.9375, 0.75]),
        (1, 0.45, [0.5625, 0.0625, 0.875, 0.3125]),
        (2, 0.2, [0.25, 0.5, 0.5, 0.875]),                # below conf
        (1, 0.05, [0.0, 0.0, 0.5, 0.5]),
        (0, 0.04, [0.5, 0.5, 1.0, 1.0]),
        (2, 0.03, [0.25, 0.25, 0.75, 0.75]),
        (1, 0.02, [0.0, 0.5, 0.5, 1.0]),
        (0, 0.01, [0.5, 0.0, 1.0, 0.5]),
    ]
    labels = np.array([[r[0] for r in rows]], dtype=np.int64)
    scores = np.array([[r[1] for r in rows]], dtype=np.float32)
    boxes = np.array([[r[2] for r in rows]], dtype=np.float32)
    designed = [
        {"class_id": r[0], "score": r[1], "box": [v * IMG for v in r[2]]} for r in rows if r[1] > CONF
    ]
    return labels, boxes, scores, designed


def logit(p: float) -> float:
    return math.log(p / (1 - p))


def detr_logits_constant() -> tuple[np.ndarray, np.ndarray, list[dict]]:
    nq, nc = 10, len(V8_NAMES)
    logits = np.full((nq, nc), -4.0, dtype=np.float32)
    boxes = np.zeros((nq, 4), dtype=np.float32)
    for k in range(nq):
        boxes[k] = [0.5, 0.5, 0.25, 0.25]
    rows = [
        # query, {class: prob}, normalised cx, cy, w, h
        (0, {0: 0.93, 1: 0.3}, [0.25, 0.5, 0.25, 0.5]),  # boat .3 is not the best class: ignored
        (1, {1: 0.8}, [0.71875, 0.625, 0.3125, 0.25]),
        (2, {2: 0.62}, [0.6875, 0.15625, 0.25, 0.1875]),
        (3, {1: 0.55}, [0.75, 0.625, 0.3125, 0.25]),     # overlaps query 1 (boat), kept
        (4, {0: 0.22}, [0.25, 0.25, 0.125, 0.125]),      # below conf
    ]
    designed = []
    for q, probs, cxcywh in rows:
        for cls, prob in probs.items():
            logits[q, cls] = logit(prob)
        boxes[q] = cxcywh
        cls, prob = max(probs.items(), key=lambda kv: kv[1])
        if prob > CONF:
            cx, cy, w, h = cxcywh
            designed.append({"class_id": cls, "score": prob,
                             "box": [(cx - w / 2) * IMG, (cy - h / 2) * IMG, (cx + w / 2) * IMG, (cy + h / 2) * IMG]})
    designed.sort(key=lambda d: -d["score"])
    return logits, boxes, designed


def nanodet_bins(dist: float) -> np.ndarray:
    """8 bin logits -(i-mu)^2 / (2 * 0.6^2) whose softmax expectation is `dist`."""
    i = np.arange(NANODET_REG_MAX + 1, dtype=np.float64)

    def expect(mu: float) -> float:
        z = -((i - mu) ** 2) / (2 * 0.6**2)
        p = np.exp(z - z.max())
        return float((p / p.sum() * i).sum())

    lo, hi = -5.0, NANODET_REG_MAX + 5.0
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if expect(mid) < dist else (lo, mid)
    mu = (lo + hi) / 2
    return (-((i - mu) ** 2) / (2 * 0.6**2)).astype(np.float32)


def nanodet_split_constant(
    nc: int, objects: list[tuple], strides: tuple[int, ...] = STRIDES
) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray], list[dict]]:
    """Per-stride class [1, cells, nc] and distribution [1, cells, 32] constants.

    `objects` are (stride, gx, gy, class, score, box, suppressed). Cells have
    their centre mid-cell, ((gx + 0.5) * s, (gy + 0.5) * s), as the original
    NanoDet (GFL) head decodes. Returns (cls by stride, dis by stride, the
    designed detections: above conf, not suppressed, by score descending)."""
    bins = NANODET_REG_MAX + 1
    cls_out, dis_out = {}, {}
    for s in strides:
        n = (IMG // s) ** 2
        cls_out[s] = np.full((1, n, nc), 0.01, dtype=np.float32)
        dis_out[s] = np.zeros((1, n, 4 * bins), dtype=np.float32)
    designed = []
    for s, gx, gy, cls, score, box, suppressed in objects:
        n = IMG // s
        idx = gy * n + gx
        cx, cy = (gx + 0.5) * s, (gy + 0.5) * s
        sides = [cx - box[0], cy - box[1], box[2] - cx, box[3] - cy]  # l, t, r, b
        cls_out[s][0, idx, cls] = score
        for k, d in enumerate(sides):
            assert 0 < d / s < NANODET_REG_MAX
            b = nanodet_bins(d / s)
            p = np.exp(b.astype(np.float64) - b.max())
            p /= p.sum()
            assert 0.45 < p.max() < 0.8, p  # peaked, not one-hot
            assert abs(float(np.argmax(b)) - d / s) * s >= 0.5  # argmax decode would be wrong
            dis_out[s][0, idx, k * bins : (k + 1) * bins] = b
        if score > CONF and not suppressed:
            # the pipeline clips every box to the (64x64) frame
            designed.append({"class_id": cls, "score": score, "box": [min(max(v, 0.0), IMG) for v in box]})
    designed.sort(key=lambda d: -d["score"])
    return cls_out, dis_out, designed


def nanodet_constant() -> tuple[list[tuple[str, np.ndarray]], list[dict]]:
    cls_out, dis_out, designed = nanodet_split_constant(len(V8_NAMES), [
        (8, 2, 3, 0, 0.85, [10, 14, 26, 46], False),
        (8, 2, 4, 0, 0.7, [11, 14, 26, 46], True),   # IoU 0.94 with the above: NMS removes it
        (16, 2, 2, 1, 0.78, [28, 34, 60, 50], False),
        (32, 1, 1, 2, 0.66, [22, 40, 76, 78], False),  # overlaps the boat, other class: kept; clipped
        (16, 1, 1, 0, 0.2, [12, 14, 36, 30], False),   # below conf
    ])
    consts = []
    for s in STRIDES:
        consts.append((f"cls_pred_stride_{s}", cls_out[s]))
        consts.append((f"dis_pred_stride_{s}", dis_out[s]))
    return consts, designed


# Names of the nanodet-numeric outputs, as the original exporter takes them
# from graph nodes: class outputs for strides 8, 16, 32, then distributions.
NANODET_NUMERIC_CLS = {8: "792", 16: "814", 32: "836"}
NANODET_NUMERIC_DIS = {8: "795", 16: "817", 32: "839"}
NANODET_NUMERIC_NAMES = ["person", "boat", "car", "truck", "bus", "bicycle", "motor", "van"]


def nanodet_numeric_constant() -> tuple[list[tuple[str, np.ndarray]], list[dict]]:
    cls_out, dis_out, designed = nanodet_split_constant(len(NANODET_NUMERIC_NAMES), [
        (8, 2, 3, 0, 0.86, [9, 13, 27, 43], False),
        (8, 2, 4, 0, 0.74, [10, 13, 27, 43], True),   # IoU 0.94 with the above: NMS removes it
        (16, 1, 1, 5, 0.77, [6, 10, 46, 34], False),
        (32, 1, 1, 7, 0.61, [26, 22, 62, 62], False),
        (16, 3, 2, 3, 0.2, [44, 30, 60, 52], False),  # below conf
    ])
    consts = [(NANODET_NUMERIC_CLS[s], cls_out[s]) for s in STRIDES]
    consts += [(NANODET_NUMERIC_DIS[s], dis_out[s]) for s in STRIDES]
    return consts, designed


def rtdetr_ultralytics_constant() -> tuple[np.ndarray, list[dict]]:
    nq, nc = 10, len(V8_NAMES)
    c = np.zeros((1, nq, 4 + nc), dtype=np.float32)
    rows = [
        # {class: score}, normalised cx, cy, w, h
        ({0: 0.91}, [0.25, 0.5, 0.25, 0.5]),
        ({0: 0.83}, [0.28125, 0.53125, 0.25, 0.5]),      # overlaps query 0 (same class): kept
        ({2: 0.68, 1: 0.4}, [0.71875, 0.625, 0.3125, 0.25]),  # boat .4 not the best class
        ({1: 0.47}, [0.6875, 0.15625, 0.25, 0.1875]),
        ({2: 0.21}, [0.25, 0.8125, 0.25, 0.25]),        # below conf
    ]
    for k, bg in enumerate([0.05, 0.04, 0.03, 0.02, 0.01]):
        rows.append(({k % nc: bg}, [0.5, 0.5, 0.25, 0.25]))
    designed = []
    for q, (probs, cxcywh) in enumerate(rows):
        c[0, q, 0:4] = cxcywh
        c[0, q, 4:] = 0.001
        for cls, prob in probs.items():
            c[0, q, 4 + cls] = prob
        cls, prob = max(probs.items(), key=lambda kv: kv[1])
        if prob > CONF:
            cx, cy, w, h = cxcywh
            designed.append({"class_id": cls, "score": prob,
                             "box": [(cx - w / 2) * IMG, (cy - h / 2) * IMG, (cx + w / 2) * IMG, (cy + h / 2) * IMG]})
    designed.sort(key=lambda d: -d["score"])
    return c, designed


NANODET_PLUS_STRIDES = (8, 16, 32, 64)


def nanodet_plus_constant() -> tuple[np.ndarray, list[dict]]:
    nc = len(V8_NAMES)
    bins = NANODET_REG_MAX + 1
    n_rows = sum((IMG // s) ** 2 for s in NANODET_PLUS_STRIDES)
    assert n_rows == 85
    c = np.zeros((1, n_rows, nc + 4 * bins), dtype=np.float32)
    c[0, :, :nc] = 0.01

    def row(s, gx, gy):
        base = 0
        for t in NANODET_PLUS_STRIDES:
            n = IMG // t
            if t == s:
                assert 0 <= gx < n and 0 <= gy < n
                return base + gy * n + gx
            base += n * n
        raise ValueError(s)

    designed = []

    def put(s, gx, gy, cls, score, box, suppressed=False):
        r = row(s, gx, gy)
        cx, cy = gx * s, gy * s
        sides = [cx - box[0], cy - box[1], box[2] - cx, box[3] - cy]  # l, t, r, b
        c[0, r, cls] = score
        for k, d in enumerate(sides):
            assert 0 < d / s < NANODET_REG_MAX
            b = nanodet_bins(d / s)
            p = np.exp(b.astype(np.float64) - b.max())
            p /= p.sum()
            assert 0.45 < p.max() < 0.8, p  # peaked, not one-hot
            assert abs(float(np.argmax(b)) - d / s) * s >= 0.5  # argmax decode would be wrong
            c[0, r, nc + k * bins : nc + (k + 1) * bins] = b
        if score > CONF and not suppressed:
            # the pipeline clips every box to the (64x64) frame
            clipped = [min(max(v, 0.0), IMG) for v in box]
            designed.append({"class_id": cls, "score": score, "box": clipped})

    put(8, 3, 2, 0, 0.88, [14, 6, 30, 34])
    put(8, 3, 3, 0, 0.72, [15, 6, 30, 34], suppressed=True)  # IoU 0.94 with the above
    put(16, 2, 2, 1, 0.78, [18, 22, 50, 42])
    put(64, 0, 0, 2, 0.64, [-20, -20, 56, 44])  # the single stride-64 cell, centre (0, 0)
    put(32, 1, 0, 0, 0.2, [20, -12, 44, 12])     # below conf
    designed.sort(key=lambda d: -d["score"])
    return c, designed


def int8_weights() -> tuple[np.ndarray, np.ndarray]:
    """W [3, 588] and bias [588] of the float graph behind yolov8-int8."""
    nc = len(V8_NAMES)
    j = np.arange((4 + nc) * N_ANCHORS, dtype=np.float64)
    amp = np.where(j // N_ANCHORS < 4, 0.75, 0.02)
    w = np.stack([amp * np.cos(0.7 * j + 1.3 * c) for c in range(3)]).astype(np.float32)
    bias = (-0.4 * w.astype(np.float64).sum(axis=0)).astype(np.float32)
    return w, bias


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


def yolov7_end2end_model(c: np.ndarray) -> onnx.ModelProto:
    """`images` [batch,3,64,64] -> `output` [batch*k, 7]: C's k rows for every
    image, column 0 (batch_id) set to the image's index."""
    nodes, inits = [], []
    zero_term(nodes, inits, "images", "zero")
    k = c.shape[1]
    inits += [
        numpy_helper.from_array(c, "C"),
        numpy_helper.from_array(np.array(c.shape[1:], dtype=np.int64), "tail_dims"),
        numpy_helper.from_array(np.array(0, dtype=np.int64), "i0"),
        numpy_helper.from_array(np.array(1, dtype=np.int64), "i1"),
        numpy_helper.from_array(np.array([-1, 1, 1], dtype=np.int64), "col_shape"),
        numpy_helper.from_array(np.eye(1, c.shape[2], dtype=np.float32).reshape(1, 1, -1), "first_col"),
        numpy_helper.from_array(np.array([-1, c.shape[2]], dtype=np.int64), "rows_shape"),
    ]
    assert k > 0
    nodes += [
        helper.make_node("Shape", ["images"], ["batch"], start=0, end=1),
        helper.make_node("Concat", ["batch", "tail_dims"], ["expanded_shape"], axis=0),
        helper.make_node("Expand", ["C", "expanded_shape"], ["per_image"]),
        helper.make_node("Squeeze", ["batch"], ["batch_scalar"]),
        helper.make_node("Range", ["i0", "batch_scalar", "i1"], ["image_index"]),
        helper.make_node("Cast", ["image_index"], ["image_index_f"], to=TensorProto.FLOAT),
        helper.make_node("Reshape", ["image_index_f", "col_shape"], ["image_col"]),
        helper.make_node("Mul", ["image_col", "first_col"], ["batch_ids"]),
        helper.make_node("Add", ["per_image", "batch_ids"], ["with_ids"]),
        helper.make_node("Reshape", ["with_ids", "rows_shape"], ["rows"]),
        helper.make_node("Add", ["rows", "zero"], ["output"]),
    ]
    graph = helper.make_graph(
        nodes,
        "yolov7_end2end",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["batch", 3, IMG, IMG])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", c.shape[2]])],
        initializer=inits,
    )
    return finish(graph)


def ssd_model(consts: list[tuple[str, np.ndarray]]) -> onnx.ModelProto:
    """TF OD API layout: uint8 NHWC `input_tensor`, one float output per constant."""
    nodes, inits = [], []
    nodes.append(helper.make_node("Cast", ["input_tensor"], ["input_f32"], to=TensorProto.FLOAT))
    zero_term(nodes, inits, "input_f32", "zero")
    outputs = []
    for k, (oname, arr) in enumerate(consts):
        inits.append(numpy_helper.from_array(arr.astype(np.float32), f"C{k}"))
        nodes.append(helper.make_node("Add", [f"C{k}", "zero"], [oname]))
        outputs.append(helper.make_tensor_value_info(oname, TensorProto.FLOAT, list(arr.shape)))
    graph = helper.make_graph(
        nodes,
        "ssd_tiny",
        [helper.make_tensor_value_info("input_tensor", TensorProto.UINT8, [1, IMG, IMG, 3])],
        outputs,
        initializer=inits,
    )
    return finish(graph)


def detr_model(
    labels: np.ndarray, boxes: np.ndarray, scores: np.ndarray, squeeze: bool = False, name: str = "detr_tiny"
) -> onnx.ModelProto:
    """RT-DETR deploy layout: boxes = normalised C * [w, h, w, h] of orig_target_sizes.

    `squeeze`: the outputs lose their batch axis (labels [N], boxes [N, 4],
    scores [N]), as batch-1 deploy scripts of DEIM, DEIMv2 and D-FINE write them."""
    nq = labels.shape[1]
    nodes, inits = [], []
    zero_term(nodes, inits, "images", "zero")
    inits += [
        numpy_helper.from_array(labels, "C_labels"),
        numpy_helper.from_array(boxes, "C_boxes"),
        numpy_helper.from_array(scores, "C_scores"),
        numpy_helper.from_array(np.array([1, 1, 4], dtype=np.int64), "size_shape"),
    ]
    nodes += [
        helper.make_node("Cast", ["orig_target_sizes"], ["size_f"], to=TensorProto.FLOAT),
        helper.make_node("Concat", ["size_f", "size_f"], ["size_whwh"], axis=1),
        helper.make_node("Reshape", ["size_whwh", "size_shape"], ["size_b"]),
        helper.make_node("Mul", ["C_boxes", "size_b"], ["boxes_px"]),
        helper.make_node("Add", ["boxes_px", "zero"], ["boxes_b" if squeeze else "boxes"]),
        helper.make_node("Add", ["C_scores", "zero"], ["scores_b" if squeeze else "scores"]),
        helper.make_node("Cast", ["zero"], ["zero_i64"], to=TensorProto.INT64),
        helper.make_node("Add", ["C_labels", "zero_i64"], ["labels_b" if squeeze else "labels"]),
    ]
    if squeeze:
        inits.append(numpy_helper.from_array(np.array([0], dtype=np.int64), "batch_axis"))
        nodes += [helper.make_node("Squeeze", [f"{k}_b", "batch_axis"], [k]) for k in ("labels", "boxes", "scores")]
    lead = [] if squeeze else [1]
    graph = helper.make_graph(
        nodes,
        name,
        [
            helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, IMG, IMG]),
            helper.make_tensor_value_info("orig_target_sizes", TensorProto.INT64, [1, 2]),
        ],
        [
            helper.make_tensor_value_info("labels", TensorProto.INT64, lead + [nq]),
            helper.make_tensor_value_info("boxes", TensorProto.FLOAT, lead + [nq, 4]),
            helper.make_tensor_value_info("scores", TensorProto.FLOAT, lead + [nq]),
        ],
        initializer=inits,
    )
    return finish(graph)


def int8_float_model(c: np.ndarray, w: np.ndarray, bias: np.ndarray) -> onnx.ModelProto:
    """images -> GlobalAveragePool -> Flatten -> MatMul W -> +bias -> Reshape -> +C."""
    inits = [
        numpy_helper.from_array(w, "W"),
        numpy_helper.from_array(bias, "bias"),
        numpy_helper.from_array(np.array(c.shape, dtype=np.int64), "out_shape"),
        numpy_helper.from_array(c, "C"),
    ]
    nodes = [
        helper.make_node("GlobalAveragePool", ["images"], ["pooled"], name="pool"),
        helper.make_node("Flatten", ["pooled"], ["flat"], name="flatten", axis=1),
        helper.make_node("MatMul", ["flat", "W"], ["proj"], name="matmul"),
        helper.make_node("Add", ["proj", "bias"], ["proj_b"], name="add_bias"),
        helper.make_node("Reshape", ["proj_b", "out_shape"], ["delta"], name="reshape"),
        helper.make_node("Add", ["C", "delta"], ["output0"], name="add_c"),
    ]
    graph = helper.make_graph(
        nodes,
        "yolov8_int8",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, IMG, IMG])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, list(c.shape))],
        initializer=inits,
    )
    return finish(graph, v8_metadata())


def quantize_int8(model: onnx.ModelProto) -> onnx.ModelProto:
    """quantize_dynamic(QInt8) through temporary files, producer fields reset."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # silence the "consider pre-processing" advice
    try:
        with tempfile.TemporaryDirectory() as tmp:
            src, dst = Path(tmp) / "float.onnx", Path(tmp) / "int8.onnx"
            src.write_bytes(model.SerializeToString(deterministic=True))
            quantize_dynamic(src, dst, weight_type=QuantType.QInt8)
            q = onnx.load(str(dst))
    finally:
        root.setLevel(level)
    q.producer_name = PRODUCER
    q.producer_version = PRODUCER_VERSION
    onnx.checker.check_model(q, full_check=True)
    ops = {n.op_type for n in q.graph.node}
    assert {"DynamicQuantizeLinear", "MatMulInteger"} <= ops, ops
    assert "MatMul" not in ops, ops
    int8_inits = [t.name for t in q.graph.initializer if t.data_type == TensorProto.INT8]
    assert int8_inits, "no int8 weights in the quantised model"
    props = {p.key: p.value for p in q.metadata_props}  # the quantiser adds onnx.infer
    assert {k: props.get(k) for k in v8_metadata()} == v8_metadata(), props
    assert q.ir_version == IR_VERSION and [(o.domain, o.version) for o in q.opset_import] == [("", OPSET)]
    return q


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


def collect_no_nms(boxes, scores, classes) -> list[dict]:
    """Threshold-only families (the model did NMS): all kept, sorted by score desc."""
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    return [
        {"class_id": int(classes[i]), "score": float(scores[i]), "box": [float(v) for v in boxes[i]]}
        for i in order
    ]


def decode_yolov5(raw: np.ndarray) -> list[dict]:
    p = raw.astype(np.float64)[0]  # [N, 5+nc], already decoded
    cls_scores = p[:, 4:5] * p[:, 5:]
    classes = cls_scores.argmax(axis=1)
    scores = cls_scores.max(axis=1)
    m = scores > CONF
    cx, cy, w, h = p[m, 0], p[m, 1], p[m, 2], p[m, 3]
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    return collect(boxes, scores[m], classes[m])


def decode_end2end(raw: np.ndarray) -> list[dict]:
    p = raw.astype(np.float64)[0]  # [N, 6]: x1 y1 x2 y2 score class
    m = p[:, 4] > CONF
    return collect_no_nms(p[m, 0:4], p[m, 4], p[m, 5].round().astype(int))


def decode_yolov7_end2end(raw: np.ndarray, image: int) -> list[dict]:
    p = raw.astype(np.float64)  # [N, 7]: batch_id x1 y1 x2 y2 class score, all images
    m = (p[:, 0].round() == image) & (p[:, 6] > CONF)
    return collect_no_nms(p[m, 1:5], p[m, 6], p[m, 5].round().astype(int))


def decode_yolov8_transposed(raw: np.ndarray) -> list[dict]:
    p = raw.astype(np.float64)[0]  # [anchors, 4+nc]: one row per anchor
    cls_scores = p[:, 4:]
    classes = cls_scores.argmax(axis=1)
    scores = cls_scores.max(axis=1)
    m = scores > CONF
    cx, cy, w, h = p[m, 0], p[m, 1], p[m, 2], p[m, 3]
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    return collect(boxes, scores[m], classes[m])


def decode_ssd(outs: list[np.ndarray], w: int, h: int) -> list[dict]:
    num, boxes, scores, classes = (o.astype(np.float64)[0] for o in outs)
    n = int(num) if np.ndim(num) == 0 else int(num[0])
    yx = boxes[:n]
    xyxy = np.stack([yx[:, 1] * w, yx[:, 0] * h, yx[:, 3] * w, yx[:, 2] * h], axis=1)
    sc, cl = scores[:n], classes[:n].round().astype(int) - 1  # 1-based label-map ids
    m = sc > CONF
    return collect_no_nms(xyxy[m], sc[m], cl[m])


def decode_detr(outs: list[np.ndarray]) -> list[dict]:
    labels, boxes, scores = outs[0][0], outs[1].astype(np.float64)[0], outs[2].astype(np.float64)[0]
    m = scores > CONF
    return collect_no_nms(boxes[m], scores[m], labels[m])


def decode_detr_logits(outs: list[np.ndarray], w: int, h: int) -> list[dict]:
    logits, boxes = outs[0].astype(np.float64), outs[1].astype(np.float64)  # [Q, nc], [Q, 4]
    probs = 1 / (1 + np.exp(-logits))
    classes = probs.argmax(axis=1)
    scores = probs.max(axis=1)
    cx, cy, bw, bh = boxes.T
    xyxy = np.stack([(cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w, (cy + bh / 2) * h], axis=1)
    m = scores > CONF
    return collect_no_nms(xyxy[m], scores[m], classes[m])


def decode_rtdetr_ultralytics(raw: np.ndarray, w: int, h: int) -> list[dict]:
    p = raw.astype(np.float64)[0]  # [Q, 4+nc]: normalised cx, cy, w, h + scores in 0..1
    scores_all = p[:, 4:]
    classes = scores_all.argmax(axis=1)
    scores = scores_all.max(axis=1)
    cx, cy, bw, bh = p[:, 0], p[:, 1], p[:, 2], p[:, 3]
    xyxy = np.stack([(cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w, (cy + bh / 2) * h], axis=1)
    m = scores > CONF
    return collect_no_nms(xyxy[m], scores[m], classes[m])


def nanodet_plus_split(raw: np.ndarray) -> list[np.ndarray]:
    """[1, 85, 3+32] -> (cls_s, dis_s) per stride, the nanodet-tiny output list."""
    nc = len(V8_NAMES)
    outs, base = [], 0
    for s in NANODET_PLUS_STRIDES:
        n = (IMG // s) ** 2
        outs += [raw[:, base : base + n, :nc], raw[:, base : base + n, nc:]]
        base += n
    assert base == raw.shape[1]
    return outs


def decode_nanodet_plus(raw: np.ndarray) -> list[dict]:
    boxes, cls_scores = nanodet_boxes(nanodet_plus_split(raw), strides=NANODET_PLUS_STRIDES)
    classes = cls_scores.argmax(axis=1)
    scores = cls_scores.max(axis=1)
    m = scores > CONF
    return collect(boxes[m], scores[m], classes[m])


def nanodet_boxes(
    outs: list[np.ndarray], expectation: bool = True, strides: tuple[int, ...] = STRIDES, offset: float = 0.0
):
    """All cells' (boxes, class scores) from the outputs (cls_s, dis_s per stride).

    Cell (gx, gy) has its centre at ((gx + offset) * s, (gy + offset) * s):
    offset 0.5 for the original NanoDet head, 0 for NanoDet-Plus."""
    bins = NANODET_REG_MAX + 1
    all_boxes, all_cls = [], []
    for k, s in enumerate(strides):
        cls = outs[2 * k].astype(np.float64)[0]
        dis = outs[2 * k + 1].astype(np.float64)[0].reshape(-1, 4, bins)
        if expectation:
            e = np.exp(dis - dis.max(axis=2, keepdims=True))
            e /= e.sum(axis=2, keepdims=True)
            d = (e * np.arange(bins)).sum(axis=2) * s
        else:
            d = dis.argmax(axis=2) * float(s)
        n = IMG // s
        gy, gx = np.divmod(np.arange(n * n), n)
        cx, cy = (gx + offset) * float(s), (gy + offset) * float(s)
        all_boxes.append(np.stack([cx - d[:, 0], cy - d[:, 1], cx + d[:, 2], cy + d[:, 3]], axis=1))
        all_cls.append(cls)
    return np.concatenate(all_boxes), np.concatenate(all_cls)


def decode_nanodet(outs: list[np.ndarray]) -> list[dict]:
    """Per-stride heads, outputs as (cls_s, dis_s) for s = 8, 16, 32; mid-cell centres."""
    boxes, cls_scores = nanodet_boxes(outs, offset=0.5)
    classes = cls_scores.argmax(axis=1)
    scores = cls_scores.max(axis=1)
    m = scores > CONF
    return collect(boxes[m], scores[m], classes[m])


# ----------------------------------------------------------------------------
# Source-pixel geometry
# ----------------------------------------------------------------------------

def geometry(resize: str, src_w: int = SRC_W, src_h: int = SRC_H) -> tuple[float, float, float, float]:
    """(scale_x, scale_y, pad_x, pad_y) with input = source * scale + pad."""
    if resize == "stretch":
        return IMG / src_w, IMG / src_h, 0.0, 0.0
    r = min(IMG / src_w, IMG / src_h)
    rw, rh = math.floor(src_w * r + 0.5), math.floor(src_h * r + 0.5)  # round half up, like Rust
    if resize == "letterbox_center":
        return r, r, float((IMG - rw) // 2), float((IMG - rh) // 2)
    assert resize == "letterbox_topleft", resize
    return r, r, 0.0, 0.0


def to_source(dets: list[dict], resize: str) -> list[dict]:
    """Input-pixel detections -> source pixels (unclipped); NMS already done."""
    sx, sy, px, py = geometry(resize)
    out = []
    for d in dets:
        x1, y1, x2, y2 = d["box"]
        box = [(x1 - px) / sx, (y1 - py) / sy, (x2 - px) / sx, (y2 - py) / sy]
        out.append({**d, "box": box})
    return out


def clip_source(dets: list[dict], w: int = SRC_W, h: int = SRC_H) -> list[dict]:
    """Clip to [0, w] x [0, h], drop zero-area boxes."""
    out = []
    for d in dets:
        x1, y1, x2, y2 = d["box"]
        box = [min(max(x1, 0.0), w), min(max(y1, 0.0), h), min(max(x2, 0.0), w), min(max(y2, 0.0), h)]
        if box[2] > box[0] and box[3] > box[1]:
            out.append({**d, "box": box})
    return out


def source_dets(dets: list[dict], pp: dict) -> list[dict]:
    return clip_source(to_source(dets, pp["resize"]))


def letterbox_grey(pp: dict, grey: int = GREY) -> np.ndarray:
    """The [1,3,64,64] tensor for a uniform SRC_W x SRC_H frame of `grey`, padded with PAD."""
    sx, sy, px, py = geometry(pp["resize"])
    rw, rh = math.floor(SRC_W * sx + 0.5), math.floor(SRC_H * sy + 0.5)
    x = np.full((1, 3, IMG, IMG), PAD * pp["scale"], dtype=np.float32)
    x[:, :, int(py) : int(py) + rh, int(px) : int(px) + rw] = grey * pp["scale"]
    return x


# ----------------------------------------------------------------------------
# Running, checking and writing
# ----------------------------------------------------------------------------

def run(model: onnx.ModelProto, feed: np.ndarray | dict[str, np.ndarray]) -> list[np.ndarray]:
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    return sess.run(None, feed if isinstance(feed, dict) else {"images": feed})


def check_constant(model, consts, dtype=np.float32, batch=1, hw=(IMG, IMG), batched=True) -> list[np.ndarray]:
    """Run with zeros and with random data; both must give exactly the constants.

    `batched=False`: the outputs have no batch axis and must equal C as is."""
    rng = np.random.default_rng(0)
    shape = (batch, 3, *hw)
    results = None
    for feed in (np.zeros(shape, dtype), rng.random(shape).astype(dtype) * 255):
        outs = run(model, feed)
        assert len(outs) == len(consts)
        for out, c in zip(outs, consts):
            assert out.dtype == dtype, (out.dtype, dtype)
            want = np.broadcast_to(c.astype(dtype), (batch, *c.shape[1:])) if batched else c.astype(dtype)
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


def det_json(dets: list[dict], names: list[str]) -> list[dict]:
    return [
        {
            "class_id": d["class_id"],
            "class": names[d["class_id"]],
            "score": round(d["score"], 6),
            "box": [round(v, 6) + 0.0 for v in d["box"]],
        }
        for d in dets
    ]


def expected_json(
    dets: list[dict],
    names: list[str],
    tol: float,
    src_dets: list[dict] | None = None,
    preprocess: dict | None = None,
    **extra,
) -> dict:
    out = {"conf": CONF, "iou": IOU, "tolerance": tol}
    out.update(extra)
    out["detections"] = det_json(dets, names)
    if src_dets is not None:
        out["source_size"] = [SRC_W, SRC_H]
        out["source_detections"] = det_json(src_dets, names)
    if preprocess is not None:
        out["preprocess"] = preprocess
    return out


def write_model(name: str, model: onnx.ModelProto) -> None:
    data = model.SerializeToString(deterministic=True)
    (OUT_DIR / f"{name}.onnx").write_bytes(data)
    print(f"  {name}.onnx  {len(data)} bytes  sha256 {hashlib.sha256(data).hexdigest()[:16]}")


def write_json(name: str, obj: dict) -> None:
    (OUT_DIR / f"{name}.expected.json").write_text(json.dumps(obj, indent=2) + "\n")


def write_labels(name: str, names: list[str]) -> None:
    (OUT_DIR / f"{name}.labels.txt").write_text("\n".join(names) + "\n")


def names_dict(names: list[str]) -> str:
    return "{" + ", ".join(f"{i}: '{n}'" for i, n in enumerate(names)) + "}"


def v8_metadata() -> dict[str, str]:
    names = names_dict(V8_NAMES)
    return {"names": names, "imgsz": f"[{IMG}, {IMG}]", "stride": "32", "task": "detect"}


def v5_metadata() -> dict[str, str]:
    return {"stride": "32", "names": names_dict(V8_NAMES)}


def end2end_metadata() -> dict[str, str]:
    return {"names": names_dict(V8_NAMES), "end2end": "True"}


def check_source(src: list[dict], designed: list[tuple[int, list[float]]], tol: float) -> None:
    """Source detections against designed (class_id, source box) pairs."""
    assert len(src) == len(designed), (src, designed)
    for g, (cls, box) in zip(src, designed):
        assert g["class_id"] == cls, (g, cls)
        assert all(abs(x - y) <= tol for x, y in zip(g["box"], box)), (g, box)


def main() -> None:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    print(f"writing fixtures to {OUT_DIR}")
    rng = np.random.default_rng(0)

    # Designed source boxes (96x64 frame) of the YOLOv8-layout fixtures.
    v8_source = [(0, [22.5, 6, 37.5, 24]), (1, [54, 39, 78, 51]), (2, [55.5, 39, 79.5, 51])]

    # 1. yolov8-tiny -----------------------------------------------------------
    c8, designed8 = yolov8_constant()
    m = const_model("yolov8-tiny", [("output0", c8)], [1, 3, IMG, IMG], metadata=v8_metadata())
    (raw,) = check_constant(m, [c8])
    dets = decode_yolov8(raw)
    check_designed(dets, designed8, 1e-5)
    src8 = source_dets(dets, PP_ULTRALYTICS)
    check_source(src8, v8_source, 1e-5)
    write_model("yolov8-tiny", m)
    write_json("yolov8-tiny", expected_json(dets, V8_NAMES, 1e-4, src8, PP_ULTRALYTICS))

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
    write_json("yolov8-dynamic", expected_json(dets, V8_NAMES, 1e-4, src8, PP_ULTRALYTICS, per_image=True))

    # 3. yolox-tiny ------------------------------------------------------------
    cx_, designedx = yolox_constant()
    m = const_model("yolox-tiny", [("output", cx_)], [1, 3, IMG, IMG])
    (raw,) = check_constant(m, [cx_])
    detsx = decode_yolox(raw)
    check_designed(detsx, designedx, 1e-4)
    srcx = source_dets(detsx, PP_YOLOX)
    check_source(srcx, [(0, [18, 24, 42, 60]), (1, [12, 54, 48, 64]), (1, [42, 60, 78, 64])], 1e-4)
    write_model("yolox-tiny", m)
    write_json(
        "yolox-tiny", expected_json(detsx, YOLOX_NAMES, 1e-4, srcx, PP_YOLOX, labels="yolox-tiny.labels.txt")
    )
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
    src16 = source_dets(dets16, PP_ULTRALYTICS_FP16)
    check_source(src16, v8_source, 1e-3)
    write_model("yolov8-fp16", m)
    write_json("yolov8-fp16", expected_json(dets16, V8_NAMES, 1e-3, src16, PP_ULTRALYTICS_FP16))

    # 6. yolov5-tiny -----------------------------------------------------------
    c5, designed5 = yolov5_constant()
    assert c5.shape == (1, 252, 8)
    # f (inside the top pad) has zero area in the 96x64 frame and is dropped; d is clipped at y=64.
    v5_source = [(0, [21, 9, 39, 33]), (1, [48, 30, 84, 48]), (2, [12, 54, 36, 64])]
    m = const_model("yolov5-tiny", [("output0", c5)], [1, 3, IMG, IMG], metadata=v5_metadata())
    (raw,) = check_constant(m, [c5])
    dets5 = decode_yolov5(raw)
    check_designed(dets5, designed5, 1e-5)
    src5 = source_dets(dets5, PP_ULTRALYTICS)
    check_source(src5, v5_source, 1e-5)
    write_model("yolov5-tiny", m)
    write_json("yolov5-tiny", expected_json(dets5, V8_NAMES, 1e-4, src5, PP_ULTRALYTICS))

    # 7. yolov5-fp16 -----------------------------------------------------------
    c5h = c5.astype(np.float16)
    m = const_model(
        "yolov5-fp16", [("output0", c5h.astype(np.float32))], [1, 3, IMG, IMG], fp16=True, metadata=v5_metadata()
    )
    (raw,) = check_constant(m, [c5h], dtype=np.float16)
    dets5h = decode_yolov5(raw)
    check_designed(dets5h, designed5, 1e-3)
    src5h = source_dets(dets5h, PP_ULTRALYTICS_FP16)
    check_source(src5h, v5_source, 1e-3)
    write_model("yolov5-fp16", m)
    write_json("yolov5-fp16", expected_json(dets5h, V8_NAMES, 1e-3, src5h, PP_ULTRALYTICS_FP16))

    # 8. end2end-tiny ----------------------------------------------------------
    ce, designede = end2end_constant()
    m = const_model("end2end-tiny", [("output0", ce)], [1, 3, IMG, IMG], metadata=end2end_metadata())
    (raw,) = check_constant(m, [ce])
    detse = decode_end2end(raw)
    check_designed(detse, designede, 1e-5)
    assert iou(np.array(detse[0]["box"]), np.array(detse[1]["box"])) > IOU  # NMS would wrongly drop one
    srce = source_dets(detse, PP_ULTRALYTICS)
    check_source(
        srce, [(0, [15, 6, 39, 45]), (0, [18, 7.5, 42, 46.5]), (2, [51, 30, 87, 54]), (1, [60, 0, 84, 15])], 1e-5
    )
    write_model("end2end-tiny", m)
    write_json("end2end-tiny", expected_json(detse, V8_NAMES, 1e-4, srce, PP_ULTRALYTICS, no_nms=True))

    # 9. ssd-tiny --------------------------------------------------------------
    consts, designeds = ssd_constant()
    m = ssd_model(consts)
    for feed in (np.zeros((1, IMG, IMG, 3), np.uint8), rng.integers(0, 256, (1, IMG, IMG, 3), dtype=np.uint8)):
        outs = run(m, {"input_tensor": feed})
        assert all(o.dtype == np.float32 and np.array_equal(o, c) for o, (_, c) in zip(outs, consts))
    detss = decode_ssd(outs, IMG, IMG)
    check_designed(detss, designeds, 1e-5)
    srcs = clip_source(decode_ssd(outs, SRC_W, SRC_H))
    check_designed(srcs, source_dets(detss, PP_SSD), 1e-5)
    check_source(
        srcs, [(0, [12, 16, 36, 40]), (1, [48, 32, 90, 48]), (0, [15, 18, 39, 42]), (2, [60, 4, 84, 16])], 1e-5
    )
    write_model("ssd-tiny", m)
    write_labels("ssd-tiny", V8_NAMES)
    write_json(
        "ssd-tiny", expected_json(detss, V8_NAMES, 1e-4, srcs, PP_SSD, labels="ssd-tiny.labels.txt", no_nms=True)
    )

    # 10. detr-tiny ------------------------------------------------------------
    labels_c, boxes_c, scores_c, designedd = detr_constant()
    m = detr_model(labels_c, boxes_c, scores_c)
    by_size = {}
    for size in ((IMG, IMG), (SRC_W, SRC_H)):
        sizes = np.array([size], dtype=np.int64)
        for img in (np.zeros((1, 3, IMG, IMG), np.float32), rng.random((1, 3, IMG, IMG)).astype(np.float32)):
            outs = run(m, {"images": img, "orig_target_sizes": sizes})
            assert outs[0].dtype == np.int64 and np.array_equal(outs[0], labels_c)
            assert outs[2].dtype == np.float32 and np.array_equal(outs[2], scores_c)
            want = boxes_c * np.array([size * 2], dtype=np.float32)
            assert outs[1].dtype == np.float32 and np.array_equal(outs[1], want)
        by_size[size] = outs
    detsd = decode_detr(by_size[(IMG, IMG)])
    check_designed(detsd, designedd, 1e-5)
    srcd = clip_source(decode_detr(by_size[(SRC_W, SRC_H)]))
    check_designed(srcd, source_dets(detsd, PP_RTDETR), 1e-5)
    check_source(
        srcd, [(0, [12, 16, 36, 48]), (0, [15, 18, 39, 50]), (2, [48, 32, 90, 48]), (1, [54, 4, 84, 20])], 1e-5
    )
    write_model("detr-tiny", m)
    write_labels("detr-tiny", V8_NAMES)
    write_json(
        "detr-tiny",
        expected_json(
            detsd, V8_NAMES, 1e-4, srcd, PP_RTDETR,
            labels="detr-tiny.labels.txt", no_nms=True, orig_target_sizes=[SRC_W, SRC_H],
        ),
    )

    # 11. detr-logits ----------------------------------------------------------
    logits_c, pboxes_c, designedl = detr_logits_constant()
    m = const_model("detr-logits", [("pred_logits", logits_c), ("pred_boxes", pboxes_c)], [1, 3, IMG, IMG])
    outs = check_constant(m, [logits_c, pboxes_c], batched=False)
    detsl = decode_detr_logits(outs, IMG, IMG)
    check_designed(detsl, designedl, 1e-5)
    srcl = clip_source(decode_detr_logits(outs, SRC_W, SRC_H))
    check_designed(srcl, source_dets(detsl, PP_IMAGENET), 1e-5)
    check_source(
        srcl, [(0, [12, 16, 36, 48]), (1, [54, 32, 84, 48]), (2, [54, 4, 78, 16]), (1, [57, 32, 87, 48])], 1e-5
    )
    write_model("detr-logits", m)
    write_labels("detr-logits", V8_NAMES)
    write_json(
        "detr-logits",
        expected_json(detsl, V8_NAMES, 1e-4, srcl, PP_IMAGENET, labels="detr-logits.labels.txt", no_nms=True),
    )

    # 12. nanodet-tiny ---------------------------------------------------------
    consts, designedn = nanodet_constant()
    m = const_model("nanodet-tiny", consts, [1, 3, IMG, IMG])
    outs = check_constant(m, [c for _, c in consts])
    detsn_raw = decode_nanodet(outs)  # input pixels, unclipped
    detsn = clip_source(detsn_raw, IMG, IMG)
    check_designed(detsn, designedn, 1e-4)
    # An argmax (non-expectation) decode lands elsewhere: the expectation matters.
    arg_boxes, _ = nanodet_boxes(outs, expectation=False, offset=0.5)
    exp_boxes, _ = nanodet_boxes(outs, offset=0.5)
    for d in detsn_raw:
        k = int(np.argmin(np.abs(exp_boxes - np.array(d["box"])).sum(axis=1)))
        assert np.abs(arg_boxes[k] - exp_boxes[k]).max() >= 0.5
    srcn = source_dets(detsn_raw, PP_NANODET)
    check_source(srcn, [(0, [15, 14, 39, 46]), (1, [42, 34, 90, 50]), (2, [33, 40, 96, 64])], 1e-4)
    write_model("nanodet-tiny", m)
    write_labels("nanodet-tiny", V8_NAMES)
    write_json(
        "nanodet-tiny", expected_json(detsn, V8_NAMES, 1e-4, srcn, PP_NANODET, labels="nanodet-tiny.labels.txt")
    )

    # 12b. rtdetr-ultralytics ------------------------------------------------
    cr, designedr = rtdetr_ultralytics_constant()
    assert cr.shape == (1, 10, 7)
    m = const_model("rtdetr-ultralytics", [("output0", cr)], [1, 3, IMG, IMG], metadata=v8_metadata())
    (raw,) = check_constant(m, [cr])
    detsr = decode_rtdetr_ultralytics(raw, IMG, IMG)
    check_designed(detsr, designedr, 1e-5)
    assert detsr[0]["class_id"] == detsr[1]["class_id"] == 0
    assert iou(np.array(detsr[0]["box"]), np.array(detsr[1]["box"])) > IOU  # NMS would wrongly drop one
    srcr = clip_source(decode_rtdetr_ultralytics(raw, SRC_W, SRC_H))
    check_designed(srcr, source_dets(detsr, PP_RTDETR), 1e-5)
    check_source(
        srcr, [(0, [12, 16, 36, 48]), (0, [15, 18, 39, 50]), (2, [54, 32, 84, 48]), (1, [54, 4, 78, 16])], 1e-5
    )
    write_model("rtdetr-ultralytics", m)
    write_json("rtdetr-ultralytics", expected_json(detsr, V8_NAMES, 1e-4, srcr, PP_RTDETR, no_nms=True))

    # 12c. nanodet-plus --------------------------------------------------------
    cp, designedp = nanodet_plus_constant()
    assert cp.shape == (1, 85, 35)
    m = const_model("nanodet-plus", [("output", cp)], [1, 3, IMG, IMG])
    (raw,) = check_constant(m, [cp])
    detsp_raw = decode_nanodet_plus(raw)  # input pixels, unclipped
    detsp = clip_source(detsp_raw, IMG, IMG)
    check_designed(detsp, designedp, 1e-4)
    assert detsp_raw[2]["box"][0] < -19 and detsp_raw[2]["box"][1] < -19  # the stride-64 car crosses the corner
    arg_boxes, _ = nanodet_boxes(nanodet_plus_split(raw), expectation=False, strides=NANODET_PLUS_STRIDES)
    exp_boxes, _ = nanodet_boxes(nanodet_plus_split(raw), strides=NANODET_PLUS_STRIDES)
    for d in detsp_raw:
        k = int(np.argmin(np.abs(exp_boxes - np.array(d["box"])).sum(axis=1)))
        assert np.abs(arg_boxes[k] - exp_boxes[k]).max() >= 0.5
    srcp = source_dets(detsp_raw, PP_NANODET)
    check_source(srcp, [(0, [21, 6, 45, 34]), (1, [27, 22, 75, 42]), (2, [0, 0, 84, 44])], 1e-4)
    write_model("nanodet-plus", m)
    write_labels("nanodet-plus", V8_NAMES)
    write_json(
        "nanodet-plus", expected_json(detsp, V8_NAMES, 1e-4, srcp, PP_NANODET, labels="nanodet-plus.labels.txt")
    )

    # 13. yolov8-int8 ----------------------------------------------------------
    w, bias = int8_weights()
    fm = int8_float_model(c8, w, bias)
    m = quantize_int8(fm)
    grey = np.full((1, 3, IMG, IMG), GREY / 255, dtype=np.float32)
    (raw,) = run(m, grey)
    (raw_f,) = run(fm, grey)
    assert raw.dtype == np.float32 and raw.shape == c8.shape
    assert 1e-3 < np.abs(raw - c8).max() < 0.05, np.abs(raw - c8).max()  # C + a small real term
    assert np.abs(raw - raw_f).max() < 0.02, np.abs(raw - raw_f).max()   # close to the float model
    assert not np.array_equal(raw, raw_f)                                 # but really quantised
    detsq = decode_yolov8(raw)
    check_designed(detsq, designed8, 0.05)
    (raw_lb,) = run(m, letterbox_grey(PP_ULTRALYTICS))
    assert np.abs(raw_lb - raw).max() > 1e-2  # the letterboxed frame gives a measurably other output
    srcq = source_dets(decode_yolov8(raw_lb), PP_ULTRALYTICS)
    check_source(srcq, v8_source, 0.1)
    write_model("yolov8-int8", m)
    write_json(
        "yolov8-int8",
        expected_json(
            detsq, V8_NAMES, 1e-3, srcq, PP_ULTRALYTICS, input_fill=GREY / 255, source_fill=GREY, pad_value=PAD
        ),
    )

    # 14. classifier -----------------------------------------------------------
    probs = np.array([[0.3, 0.2, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05]], dtype=np.float32)
    meta = {"task": "classify", "names": names_dict(CLASSIFIER_NAMES)}
    m = const_model("classifier", [("output0", probs)], [1, 3, IMG, IMG], metadata=meta)
    check_constant(m, [probs])
    write_model("classifier", m)
    write_json("classifier", {"error_contains": ["classify"]})

    # 15. nanodet-numeric -----------------------------------------------------
    consts, designedu = nanodet_numeric_constant()
    m = const_model("nanodet-numeric", consts, [1, 3, IMG, IMG])
    outs = check_constant(m, [c for _, c in consts])
    assert [o.shape[-1] for o in outs] == [8, 8, 8, 32, 32, 32]  # both widths split into 4 sides
    by_stride = [outs[0], outs[3], outs[1], outs[4], outs[2], outs[5]]  # (cls_s, dis_s) per stride
    detsu = decode_nanodet(by_stride)
    check_designed(detsu, designedu, 1e-4)
    arg_boxes, _ = nanodet_boxes(by_stride, expectation=False, offset=0.5)
    exp_boxes, _ = nanodet_boxes(by_stride, offset=0.5)
    for d in detsu:
        k = int(np.argmin(np.abs(exp_boxes - np.array(d["box"])).sum(axis=1)))
        assert np.abs(arg_boxes[k] - exp_boxes[k]).max() >= 0.5
    # Corner centres (NanoDet-Plus) would land half a stride off.
    corner, _ = nanodet_boxes(by_stride, offset=0.0)
    assert all(np.abs(corner - exp_boxes).max(axis=1) >= 4)
    srcu = source_dets(detsu, PP_NANODET)
    check_source(srcu, [(0, [13.5, 13, 40.5, 43]), (5, [9, 10, 69, 34]), (7, [39, 22, 93, 62])], 1e-4)
    write_model("nanodet-numeric", m)
    write_labels("nanodet-numeric", NANODET_NUMERIC_NAMES)
    write_json(
        "nanodet-numeric",
        expected_json(detsu, NANODET_NUMERIC_NAMES, 1e-4, srcu, PP_NANODET, labels="nanodet-numeric.labels.txt"),
    )

    # 16. detr-squeezed --------------------------------------------------------
    m = detr_model(labels_c, boxes_c, scores_c, squeeze=True, name="detr_squeezed")
    by_size = {}
    for size in ((IMG, IMG), (SRC_W, SRC_H)):
        sizes = np.array([size], dtype=np.int64)
        for img in (np.zeros((1, 3, IMG, IMG), np.float32), rng.random((1, 3, IMG, IMG)).astype(np.float32)):
            outs = run(m, {"images": img, "orig_target_sizes": sizes})
            assert [o.shape for o in outs] == [(10,), (10, 4), (10,)]
            assert outs[0].dtype == np.int64 and np.array_equal(outs[0], labels_c[0])
            assert outs[2].dtype == np.float32 and np.array_equal(outs[2], scores_c[0])
            assert np.array_equal(outs[1], boxes_c[0] * np.array(size * 2, dtype=np.float32))
        by_size[size] = [o[None] for o in outs]  # the reference decoder reads image 0 of a batch
    detsq2 = decode_detr(by_size[(IMG, IMG)])
    check_designed(detsq2, designedd, 1e-5)
    srcq2 = clip_source(decode_detr(by_size[(SRC_W, SRC_H)]))
    check_designed(srcq2, srcd, 1e-5)
    write_model("detr-squeezed", m)
    write_labels("detr-squeezed", V8_NAMES)
    write_json(
        "detr-squeezed",
        expected_json(
            detsq2, V8_NAMES, 1e-4, srcq2, PP_RTDETR,
            labels="detr-squeezed.labels.txt", no_nms=True, orig_target_sizes=[SRC_W, SRC_H],
        ),
    )

    # 17. yolov7-end2end -------------------------------------------------------
    c7, designed7 = yolov7_end2end_constant()
    m = yolov7_end2end_model(c7)
    for b in (1, 3):
        for feed in (np.zeros((b, 3, IMG, IMG), np.float32), rng.random((b, 3, IMG, IMG)).astype(np.float32) * 255):
            (raw7,) = run(m, feed)
            assert raw7.dtype == np.float32 and raw7.shape == (b * c7.shape[1], 7), raw7.shape
            assert sorted(set(raw7[:, 0].tolist())) == list(range(b))
            for k in range(b):
                check_designed(decode_yolov7_end2end(raw7, k), designed7, 1e-5)
    (raw7,) = run(m, np.zeros((1, 3, IMG, IMG), np.float32))
    dets7 = decode_yolov7_end2end(raw7, 0)
    assert iou(np.array(dets7[0]["box"]), np.array(dets7[1]["box"])) > IOU  # NMS would wrongly drop one
    src7 = source_dets(dets7, PP_ULTRALYTICS)
    check_source(
        src7, [(0, [12, 3, 36, 39]), (0, [15, 4.5, 39, 40.5]), (2, [45, 27, 81, 51]), (1, [54, 0, 78, 12])], 1e-5
    )
    write_model("yolov7-end2end", m)
    write_labels("yolov7-end2end", V8_NAMES)
    write_json(
        "yolov7-end2end",
        expected_json(
            dets7, V8_NAMES, 1e-4, src7, PP_ULTRALYTICS,
            labels="yolov7-end2end.labels.txt", no_nms=True, per_image=True,
        ),
    )

    # 18. yolov8-transposed ----------------------------------------------------
    ct = np.ascontiguousarray(c8.transpose(0, 2, 1))
    assert ct.shape == (1, N_ANCHORS, 4 + len(V8_NAMES))
    m = const_model("yolov8-transposed", [("output0", ct)], [1, 3, IMG, IMG], metadata=v8_metadata())
    (raw,) = check_constant(m, [ct])
    detst = decode_yolov8_transposed(raw)
    check_designed(detst, designed8, 1e-5)
    srct = source_dets(detst, PP_ULTRALYTICS)
    check_source(srct, v8_source, 1e-5)
    write_model("yolov8-transposed", m)
    write_json("yolov8-transposed", expected_json(detst, V8_NAMES, 1e-4, srct, PP_ULTRALYTICS))

    print("all fixtures verified with onnxruntime", ort.__version__)


if __name__ == "__main__":
    main()
