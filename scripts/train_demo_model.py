#!/usr/bin/env python3
"""Train the lookout demo detector on procedurally generated scenes and export ONNX.

    python scripts/train_demo_model.py --out models/lookout-demo.onnx --seed 0

Steps:
 1. render a seeded training set of crops with scripts/scenegen.py (no external data);
 2. train a small fully convolutional stride-8/16/32 detector with TensorFlow (CPU);
 3. fold BatchNorm and write the ONNX graph by hand with onnx.helper
    (YOLOv8 output layout: output0 = [batch, 4 + 4 classes, 8400]);
 4. check ONNX against TensorFlow numerically with onnxruntime;
 5. evaluate the ONNX file on a held-out synthetic set (different seed, full
    1280x720 frames, Ultralytics letterbox to 640x640) with pycocotools.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from multiprocessing import Pool

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scenegen as sg  # noqa: E402

IMGSZ = 640
STRIDES = (8, 16, 32)
NC = 4
NAMES = "{0: 'person', 1: 'vessel', 2: 'container', 3: 'vehicle'}"

# ----------------------------------------------------------------------------- data

def make_sample(args):
    """One training crop at model scale: render a 1280-scale scene and downscale."""
    seed, idx, crop = args
    rng = np.random.default_rng([seed, idx, 1])
    f = rng.uniform(0.46, 0.56)  # 1280 frame -> 640 model input is 0.5
    side = int(round(crop / f))
    scene = sg.random_scene(rng, w=side, h=side)
    img, labels = scene.render(rng)
    img = np.asarray(Image.fromarray(img).resize((crop, crop), Image.BILINEAR))
    boxes = np.array([[l["bbox"][0], l["bbox"][1], l["bbox"][0] + l["bbox"][2], l["bbox"][1] + l["bbox"][3]]
                      for l in labels], np.float32).reshape(-1, 4) * (crop / side)
    cls = np.array([l["cls"] for l in labels], np.int32)
    # sometimes paint a letterbox pad band (value 114) at the top or bottom
    if rng.random() < 0.2:
        img = img.copy()
        band = int(rng.uniform(0.1, 0.45) * crop)
        top = rng.random() < 0.5
        if top:
            img[:band] = 114
            keep = boxes[:, 3] - np.maximum(boxes[:, 1], band) > 0.6 * (boxes[:, 3] - boxes[:, 1])
            boxes[:, 1] = np.maximum(boxes[:, 1], band)
        else:
            img[crop - band:] = 114
            keep = np.minimum(boxes[:, 3], crop - band) - boxes[:, 1] > 0.6 * (boxes[:, 3] - boxes[:, 1])
            boxes[:, 3] = np.minimum(boxes[:, 3], crop - band)
        boxes, cls = boxes[keep], cls[keep]
    return img, boxes, cls


def build_dataset(seed, n, crop, workers):
    t = time.time()
    jobs = [(seed, i, crop) for i in range(n)]
    if workers > 1:
        with Pool(workers) as pool:
            out = pool.map(make_sample, jobs, chunksize=16)
    else:
        out = [make_sample(j) for j in jobs]
    print(f"rendered {n} training crops ({crop}px) in {time.time() - t:.1f}s", flush=True)
    return out


def augment(rng, img, boxes):
    """Random flips / 90-degree rotation (overhead imagery has no 'up')."""
    s = img.shape[0]
    b = boxes.copy()
    if rng.random() < 0.5:
        img = img[:, ::-1]
        b[:, [0, 2]] = s - b[:, [2, 0]]
    if rng.random() < 0.5:
        img = img[::-1]
        b[:, [1, 3]] = s - b[:, [3, 1]]
    if rng.random() < 0.5:  # transpose
        img = img.transpose(1, 0, 2)
        b = b[:, [1, 0, 3, 2]]
    return np.ascontiguousarray(img), b


def level_of(cls, w, h):
    if cls == sg.PERSON:
        return 0
    return 1 if max(w, h) <= 64 else 2


def build_targets(boxes, cls, size):
    """Centre-sampling assignment. Returns per-level (cls_t [G,G,NC], box_t [G,G,4], pos [G,G])."""
    out = []
    for li, s in enumerate(STRIDES):
        g = size // s
        out.append([np.zeros((g, g, NC), np.float32), np.zeros((g, g, 4), np.float32),
                    np.zeros((g, g), np.float32), np.full((g, g), np.inf, np.float32)])
    for (x0, y0, x1, y1), c in zip(boxes, cls):
        w, h = x1 - x0, y1 - y0
        if w < 2 or h < 2:
            continue
        li = level_of(c, w, h)
        s = STRIDES[li]
        ct, bt, pos, dist = out[li]
        g = ct.shape[0]
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        r = 1.0 if li == 0 else 1.5
        gx0, gx1 = int(max(0, math.floor(cx / s - r))), int(min(g - 1, math.ceil(cx / s + r)))
        gy0, gy1 = int(max(0, math.floor(cy / s - r))), int(min(g - 1, math.ceil(cy / s + r)))
        ccx, ccy = int(min(g - 1, cx // s)), int(min(g - 1, cy // s))
        for gy in range(gy0, gy1 + 1):
            for gx in range(gx0, gx1 + 1):
                px, py = (gx + 0.5) * s, (gy + 0.5) * s
                dx, dy = abs(px - cx) / s, abs(py - cy) / s
                centre = gx == ccx and gy == ccy
                if not centre:
                    if dx >= r or dy >= r:
                        continue
                    if li > 0 and not (x0 < px < x1 and y0 < py < y1):
                        continue
                d = dx * dx + dy * dy - (10.0 if centre else 0.0)
                if d < dist[gy, gx]:
                    dist[gy, gx] = d
                    ct[gy, gx] = 0
                    ct[gy, gx, c] = 1
                    bt[gy, gx] = (x0, y0, x1, y1)
                    pos[gy, gx] = 1
    return [(ct, bt, pos) for ct, bt, pos, _ in out]


# ----------------------------------------------------------------------------- model
# Architecture spec shared by the Keras builder and the ONNX exporter.
# ("conv", name, src, cin, cout, k, stride, act) ; ("up", name, src) ; ("cat", name, [srcs])
ARCH = [
    ("conv", "c1", "input", 3, 16, 3, 2, True),
    ("conv", "c2", "c1", 16, 32, 3, 2, True),
    ("conv", "c3", "c2", 32, 48, 3, 2, True),
    ("conv", "c4", "c3", 48, 48, 3, 1, True),      # P3 (stride 8)
    ("conv", "c5", "c4", 48, 80, 3, 2, True),
    ("conv", "c6", "c5", 80, 80, 3, 1, True),      # P4 (stride 16)
    ("conv", "c7", "c6", 80, 112, 3, 2, True),
    ("conv", "c8", "c7", 112, 112, 3, 1, True),    # P5 (stride 32)
    ("conv", "l5", "c8", 112, 48, 1, 1, True),
    ("up", "u5", "l5"),
    ("cat", "k4", ["u5", "c6"]),
    ("conv", "n4", "k4", 128, 64, 3, 1, True),
    ("conv", "l4", "n4", 64, 32, 1, 1, True),
    ("up", "u4", "l4"),
    ("cat", "k3", ["u4", "c4"]),
    ("conv", "n3", "k3", 80, 32, 3, 1, True),
    ("conv", "h3", "n3", 32, 32, 3, 1, True),
    ("conv", "o3", "h3", 32, 4 + NC, 1, 1, False),
    ("conv", "h4", "n4", 64, 64, 3, 1, True),
    ("conv", "o4", "h4", 64, 4 + NC, 1, 1, False),
    ("conv", "h5", "c8", 112, 64, 3, 1, True),
    ("conv", "o5", "h5", 64, 4 + NC, 1, 1, False),
]
HEADS = ("o3", "o4", "o5")
PRIOR_LOG_WH = {"o3": math.log(6.5 / 8), "o4": math.log(28 / 16), "o5": math.log(80 / 32)}
CLS_PRIOR = -4.6  # sigmoid ~ 0.01


def build_keras(tf):
    L = tf.keras.layers
    inp = L.Input((None, None, 3), name="input")
    t = {"input": inp}
    for op in ARCH:
        if op[0] == "conv":
            _, name, src, cin, cout, k, s, act = op
            if act:
                x = L.Conv2D(cout, k, s, padding="same", use_bias=False, name=name)(t[src])
                x = L.BatchNormalization(momentum=0.97, epsilon=1e-3, name=name + "_bn")(x)
                x = L.Activation("silu", name=name + "_act")(x)
            else:
                bias = np.zeros(cout, np.float32)
                bias[2:4] = PRIOR_LOG_WH[name]
                bias[4:] = CLS_PRIOR
                x = L.Conv2D(cout, k, s, padding="same", use_bias=True, name=name,
                             kernel_initializer=tf.keras.initializers.RandomNormal(stddev=0.01),
                             bias_initializer=tf.keras.initializers.Constant(bias))(t[src])
            t[name] = x
        elif op[0] == "up":
            t[op[1]] = L.UpSampling2D(2, interpolation="nearest", name=op[1])(t[op[2]])
        else:
            t[op[1]] = L.Concatenate(axis=-1, name=op[1])([t[s] for s in op[2]])
    return tf.keras.Model(inp, [t[h] for h in HEADS])


def decode_tf(tf, raw, stride):
    """raw [B,G,G,8] -> boxes xyxy [B,G,G,4] (pixels), cls logits [B,G,G,NC]."""
    g = tf.shape(raw)[1]
    r = tf.cast(tf.range(g), tf.float32) + 0.5
    gx = r[None, None, :]
    gy = r[None, :, None]
    cx = (gx + tf.sigmoid(raw[..., 0]) * 4 - 2) * stride
    cy = (gy + tf.sigmoid(raw[..., 1]) * 4 - 2) * stride
    w = tf.exp(tf.clip_by_value(raw[..., 2], -6.0, 6.0)) * stride
    h = tf.exp(tf.clip_by_value(raw[..., 3], -6.0, 6.0)) * stride
    return tf.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], -1), raw[..., 4:]


# ----------------------------------------------------------------------------- ONNX export

def fold(model):
    """Return {name: (W[O,I,kh,kw], b[O])} with BatchNorm folded in."""
    out = {}
    for op in ARCH:
        if op[0] != "conv":
            continue
        name = op[1]
        conv = model.get_layer(name)
        wts = conv.get_weights()
        k = wts[0].astype(np.float64)  # kh, kw, in, out
        if op[7]:
            g, bta, mean, var = [a.astype(np.float64) for a in model.get_layer(name + "_bn").get_weights()]
            scale = g / np.sqrt(var + 1e-3)
            k = k * scale[None, None, None, :]
            b = bta - mean * scale
        else:
            b = wts[1].astype(np.float64)
        out[name] = (k.transpose(3, 2, 0, 1).astype(np.float32), b.astype(np.float32))
    return out


def export_onnx(weights, path, opset=17):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits = [], []

    def const(name, arr):
        inits.append(numpy_helper.from_array(np.asarray(arr), name))
        return name

    t = {"input": "images"}
    for op in ARCH:
        if op[0] == "conv":
            _, name, src, cin, cout, k, s, act = op
            W, b = weights[name]
            pad = [k // 2] * 4 if s == 1 else [0, 0, 1, 1]  # TF 'same' for even inputs
            if k == 1:
                pad = [0, 0, 0, 0]
            nodes.append(helper.make_node("Conv", [t[src], const(name + ".w", W), const(name + ".b", b)],
                                          [name + "_conv"], kernel_shape=[k, k], strides=[s, s], pads=pad,
                                          name=name))
            if act:
                nodes.append(helper.make_node("Sigmoid", [name + "_conv"], [name + "_sig"]))
                nodes.append(helper.make_node("Mul", [name + "_conv", name + "_sig"], [name]))
            else:
                nodes.append(helper.make_node("Identity", [name + "_conv"], [name]))
            t[name] = name
        elif op[0] == "up":
            nodes.append(helper.make_node("Resize", [t[op[2]], "", const(op[1] + ".scales", np.array([1, 1, 2, 2], np.float32))],
                                          [op[1]], mode="nearest", coordinate_transformation_mode="asymmetric",
                                          nearest_mode="floor"))
            t[op[1]] = op[1]
        else:
            nodes.append(helper.make_node("Concat", [t[s] for s in op[2]], [op[1]], axis=1))
            t[op[1]] = op[1]

    level_outs = []
    for head, s in zip(HEADS, STRIDES):
        g = IMGSZ // s
        p = head + "_"
        nodes.append(helper.make_node("Reshape", [head, const(p + "shape", np.array([0, 4 + NC, -1], np.int64))], [p + "flat"]))
        nodes.append(helper.make_node("Split", [p + "flat", const(p + "split", np.array([2, 2, NC], np.int64))],
                                      [p + "xy", p + "wh", p + "cls"], axis=1))
        ys, xs = np.meshgrid(np.arange(g, dtype=np.float32), np.arange(g, dtype=np.float32), indexing="ij")
        grid = np.stack([xs.ravel(), ys.ravel()])[None] + 0.5  # (1, 2, g*g), row-major y then x
        nodes.append(helper.make_node("Sigmoid", [p + "xy"], [p + "xys"]))
        nodes.append(helper.make_node("Mul", [p + "xys", const(p + "four", np.array(4 * s, np.float32))], [p + "xy4"]))
        nodes.append(helper.make_node("Add", [p + "xy4", const(p + "grid", ((grid - 2) * s).astype(np.float32))], [p + "cxy"]))
        nodes.append(helper.make_node("Clip", [p + "wh", const(p + "lo", np.array(-6, np.float32)), const(p + "hi", np.array(6, np.float32))], [p + "whc"]))
        nodes.append(helper.make_node("Exp", [p + "whc"], [p + "whe"]))
        nodes.append(helper.make_node("Mul", [p + "whe", const(p + "s", np.array(s, np.float32))], [p + "wh_px"]))
        nodes.append(helper.make_node("Sigmoid", [p + "cls"], [p + "score"]))
        nodes.append(helper.make_node("Concat", [p + "cxy", p + "wh_px", p + "score"], [p + "out"], axis=1))
        level_outs.append(p + "out")
    nodes.append(helper.make_node("Concat", level_outs, ["output0"], axis=2))

    graph = helper.make_graph(
        nodes, "lookout-demo",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["batch", 3, IMGSZ, IMGSZ])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, ["batch", 4 + NC, 8400])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="lookout train_demo_model.py")
    model.ir_version = 8
    set_metadata(model)
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return model


def set_metadata(model):
    """Ultralytics-style metadata_props (names/imgsz/stride/task + provenance)."""
    meta = {
        "description": "lookout demo detector (person, vessel, container, vehicle) trained only on procedurally "
                       "generated synthetic overhead scenes; demo/testing use only",
        "author": "lookout project",
        "license": "MIT OR Apache-2.0",
        "names": NAMES,
        "imgsz": "[640, 640]",
        "stride": "32",
        "task": "detect",
    }
    del model.metadata_props[:]
    for k, v in meta.items():
        e = model.metadata_props.add()
        e.key, e.value = k, v


# ----------------------------------------------------------------------------- eval

def nms_classaware(boxes, scores, cls, iou_thr):
    keep = []
    for c in np.unique(cls):
        idx = np.where(cls == c)[0]
        idx = idx[np.argsort(-scores[idx], kind="stable")]
        while idx.size:
            i = idx[0]
            keep.append(i)
            if idx.size == 1:
                break
            rest = idx[1:]
            xx0 = np.maximum(boxes[i, 0], boxes[rest, 0])
            yy0 = np.maximum(boxes[i, 1], boxes[rest, 1])
            xx1 = np.minimum(boxes[i, 2], boxes[rest, 2])
            yy1 = np.minimum(boxes[i, 3], boxes[rest, 3])
            inter = np.clip(xx1 - xx0, 0, None) * np.clip(yy1 - yy0, 0, None)
            a = (boxes[i, 2] - boxes[i, 0]) * (boxes[i, 3] - boxes[i, 1])
            b = (boxes[rest, 2] - boxes[rest, 0]) * (boxes[rest, 3] - boxes[rest, 1])
            idx = rest[inter / (a + b - inter + 1e-9) <= iou_thr]
    keep = np.array(keep, np.int64)
    return keep[np.argsort(-scores[keep], kind="stable")]


def decode_output(out, scale, pad, conf=0.25, iou=0.5, max_det=300, frame_wh=None):
    """out [8, 8400] for one image -> (xyxy in original image px, score, cls)."""
    scores_all = out[4:]
    cls = scores_all.argmax(0)
    score = scores_all.max(0)
    m = score > conf
    cx, cy, w, h = out[0, m], out[1, m], out[2, m], out[3, m]
    b = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1)
    score, cls = score[m], cls[m]
    keep = nms_classaware(b, score, cls, iou)[:max_det]
    b, score, cls = b[keep], score[keep], cls[keep]
    b[:, [0, 2]] -= pad[0]
    b[:, [1, 3]] -= pad[1]
    b /= scale
    if frame_wh is not None:
        b[:, [0, 2]] = b[:, [0, 2]].clip(0, frame_wh[0])
        b[:, [1, 3]] = b[:, [1, 3]].clip(0, frame_wh[1])
    return b, score, cls


def eval_sample(args):
    seed, idx = args
    rng = np.random.default_rng([seed, idx, 2])
    scene = sg.random_scene(rng, kind=["sea", "port", "road"][idx % 3], thermal=(idx % 10) < 3)
    img, labels = scene.render(rng)
    return img, labels, scene.thermal


def coco_eval(gt_images, gt_anns, dets):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    import contextlib
    import io
    gt = {"images": gt_images, "annotations": gt_anns,
          "categories": [{"id": i + 1, "name": n} for i, n in enumerate(sg.CLASSES)]}
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = gt
        coco.createIndex()
        cd = coco.loadRes(dets) if dets else None
    if cd is None:
        return {"mAP50_95": 0.0, "mAP50": 0.0, "per_class_AP50": {n: 0.0 for n in sg.CLASSES}}
    E = COCOeval(coco, cd, "bbox")
    E.params.maxDets = [1, 100, 300]
    with contextlib.redirect_stdout(io.StringIO()):
        E.evaluate()
        E.accumulate()
    prec = E.eval["precision"]  # T,R,K,A,M
    def ap(t_idx=None, k=None):
        p = prec[:, :, :, 0, -1] if t_idx is None else prec[t_idx:t_idx + 1, :, :, 0, -1]
        if k is not None:
            p = p[:, :, k]
        p = p[p > -1]
        return float(p.mean()) if p.size else float("nan")
    res = {"mAP50_95": ap(), "mAP50": ap(0),
           "per_class_AP50": {n: ap(0, k) for k, n in enumerate(sg.CLASSES)},
           "per_class_AP50_95": {n: ap(None, k) for k, n in enumerate(sg.CLASSES)}}
    return res


def evaluate(onnx_path, seed, n, workers, conf_pr=0.3, iou=0.5):
    import onnxruntime as ort
    sess = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    jobs = [(seed, i) for i in range(n)]
    if workers > 1:
        with Pool(workers) as pool:
            samples = pool.map(eval_sample, jobs, chunksize=8)
    else:
        samples = [eval_sample(j) for j in jobs]
    images, anns, dets, dets_thermal = [], [], [], []
    tp = np.zeros(NC)
    fp = np.zeros(NC)
    npos = np.zeros(NC)
    thermal_ids = set()
    aid = 1
    for i, (img, labels, thermal) in enumerate(samples):
        h, w = img.shape[:2]
        images.append({"id": i, "width": w, "height": h, "file_name": f"eval_{i:05d}.png"})
        if thermal:
            thermal_ids.add(i)
        gtb = []
        for l in labels:
            x, y, bw, bh = l["bbox"]
            anns.append({"id": aid, "image_id": i, "category_id": l["cls"] + 1, "bbox": [x, y, bw, bh],
                         "area": bw * bh, "iscrowd": 0})
            aid += 1
            gtb.append((x, y, x + bw, y + bh, l["cls"]))
        x, r, pad = sg.letterbox(img)
        out = sess.run(["output0"], {"images": x[None]})[0][0]
        b, s, c = decode_output(out, r, pad, conf=0.001, iou=iou, frame_wh=(w, h))
        for bb, ss, cc in zip(b, s, c):
            dets.append({"image_id": i, "category_id": int(cc) + 1,
                         "bbox": [float(bb[0]), float(bb[1]), float(bb[2] - bb[0]), float(bb[3] - bb[1])],
                         "score": float(ss)})
        # precision / recall at conf_pr, IoU 0.5, greedy matching
        m = s > conf_pr
        pr_tp, pr_fp, pr_np = match_pr(b[m], s[m], c[m], gtb)
        tp += pr_tp
        fp += pr_fp
        npos += pr_np
    res = coco_eval(images, anns, dets)
    sub_imgs = [im for im in images if im["id"] in thermal_ids]
    res_th = coco_eval(sub_imgs, [a for a in anns if a["image_id"] in thermal_ids],
                       [d for d in dets if d["image_id"] in thermal_ids])
    res["thermal_subset"] = {"images": len(sub_imgs), "mAP50": res_th["mAP50"], "person_AP50": res_th["per_class_AP50"]["person"]}
    res["at_conf"] = {"conf": conf_pr, "iou_match": 0.5,
                      "recall": {n: float(tp[k] / max(npos[k], 1)) for k, n in enumerate(sg.CLASSES)},
                      "precision": {n: float(tp[k] / max(tp[k] + fp[k], 1)) for k, n in enumerate(sg.CLASSES)}}
    res["images"] = n
    res["instances"] = {n: int(npos[k]) for k, n in enumerate(sg.CLASSES)}
    return res


def match_pr(b, s, c, gtb):
    tp, fp, npos = np.zeros(NC), np.zeros(NC), np.zeros(NC)
    g = np.array([x[:4] for x in gtb], np.float32).reshape(-1, 4)
    gc = np.array([x[4] for x in gtb], np.int64)
    for k in range(NC):
        npos[k] = (gc == k).sum()
    used = np.zeros(len(g), bool)
    for i in np.argsort(-s):
        cand = np.where((gc == c[i]) & ~used)[0]
        if cand.size:
            gg = g[cand]
            ix = np.clip(np.minimum(b[i, 2], gg[:, 2]) - np.maximum(b[i, 0], gg[:, 0]), 0, None)
            iy = np.clip(np.minimum(b[i, 3], gg[:, 3]) - np.maximum(b[i, 1], gg[:, 1]), 0, None)
            inter = ix * iy
            u = (b[i, 2] - b[i, 0]) * (b[i, 3] - b[i, 1]) + (gg[:, 2] - gg[:, 0]) * (gg[:, 3] - gg[:, 1]) - inter
            iou = inter / np.maximum(u, 1e-9)
            j = iou.argmax()
            if iou[j] >= 0.5:
                used[cand[j]] = True
                tp[c[i]] += 1
                continue
        fp[c[i]] += 1
    return tp, fp, npos


# ----------------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="models/lookout-demo.onnx")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--train-images", type=int, default=5000)
    ap.add_argument("--crop", type=int, default=256)
    ap.add_argument("--steps", type=int, default=3400)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2, help="TF intra-op threads")
    ap.add_argument("--eval-images", type=int, default=300)
    ap.add_argument("--eval-seed", type=int, default=1000)
    ap.add_argument("--eval-json", default=None, help="default: <out without .onnx>.eval.json")
    ap.add_argument("--eval-only", action="store_true", help="only evaluate an existing --out")
    ap.add_argument("--save-keras", default=None, help="optional path to save the Keras weights")
    args = ap.parse_args()
    eval_json = args.eval_json or os.path.splitext(args.out)[0] + ".eval.json"

    if not args.eval_only:
        os.environ.setdefault("TF_DETERMINISTIC_OPS", "1")
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        data = build_dataset(args.seed, args.train_images, args.crop, args.workers)
        import tensorflow as tf
        tf.keras.utils.set_random_seed(args.seed)
        tf.config.experimental.enable_op_determinism()
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
        t0 = time.time()
        model = build_keras(tf)
        train(tf, model, data, args)
        train_s = time.time() - t0
        print(f"training wall time {train_s:.0f}s", flush=True)
        if args.save_keras:
            model.save_weights(args.save_keras)
        weights = fold(model)
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        export_onnx(weights, args.out)
        check_onnx(tf, model, args.out)
        print(f"wrote {args.out} ({os.path.getsize(args.out) / 1e6:.2f} MB)", flush=True)
    else:
        train_s = None
    t = time.time()
    res = evaluate(args.out, args.eval_seed, args.eval_images, args.workers)
    res["command"] = " ".join(["python"] + sys.argv)
    res["eval_seed"] = args.eval_seed
    res["nms"] = {"conf_for_map": 0.001, "iou": 0.5, "class_aware": True, "max_det": 300}
    if train_s is not None:
        res["train_wall_s"] = round(train_s, 1)
    print(json.dumps(res, indent=2), flush=True)
    print(f"eval took {time.time() - t:.0f}s")
    with open(eval_json, "w") as f:
        json.dump(res, f, indent=2)


def check_onnx(tf, model, path):
    import onnxruntime as ort
    rng = np.random.default_rng(123)
    x = rng.random((2, IMGSZ, IMGSZ, 3), dtype=np.float32)
    raws = model(x, training=False)
    ref = []
    for raw, s in zip(raws, STRIDES):
        b, logit = decode_tf(tf, raw, s)
        b = b.numpy()
        cxcy = (b[..., :2] + b[..., 2:]) / 2
        wh = b[..., 2:] - b[..., :2]
        o = np.concatenate([cxcy, wh, tf.sigmoid(logit).numpy()], -1)  # B,G,G,8
        ref.append(o.reshape(o.shape[0], -1, 4 + NC).transpose(0, 2, 1))
    ref = np.concatenate(ref, 2)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    got = sess.run(["output0"], {"images": x.transpose(0, 3, 1, 2).copy()})[0]
    assert got.shape == (2, 4 + NC, 8400), got.shape
    err_box = np.abs(got[:, :4] - ref[:, :4]).max()
    err_cls = np.abs(got[:, 4:] - ref[:, 4:]).max()
    print(f"ONNX vs TF max abs diff: boxes {err_box:.2e} px, scores {err_cls:.2e}", flush=True)
    assert err_box < 0.05 and err_cls < 1e-3


def train(tf, model, data, args):
    rng = np.random.default_rng([args.seed, 7])
    opt = tf.keras.optimizers.AdamW(learning_rate=args.lr, weight_decay=5e-4, global_clipnorm=10.0)
    warm = min(300, args.steps // 10)

    def loss_fn(raws, targets):
        total_cls, total_box, npos = 0.0, 0.0, 0.0
        for raw, (ct, bt, pos), s in zip(raws, targets, STRIDES):
            pb, logit = decode_tf(tf, raw, s)
            bce = tf.nn.sigmoid_cross_entropy_with_logits(labels=ct, logits=logit)
            total_cls += tf.reduce_sum(bce)
            # GIoU on positives
            x0 = tf.maximum(pb[..., 0], bt[..., 0]); y0 = tf.maximum(pb[..., 1], bt[..., 1])  # noqa: E702
            x1 = tf.minimum(pb[..., 2], bt[..., 2]); y1 = tf.minimum(pb[..., 3], bt[..., 3])  # noqa: E702
            inter = tf.nn.relu(x1 - x0) * tf.nn.relu(y1 - y0)
            ap_ = (pb[..., 2] - pb[..., 0]) * (pb[..., 3] - pb[..., 1])
            ag = (bt[..., 2] - bt[..., 0]) * (bt[..., 3] - bt[..., 1])
            union = ap_ + ag - inter + 1e-6
            iou = inter / union
            cx0 = tf.minimum(pb[..., 0], bt[..., 0]); cy0 = tf.minimum(pb[..., 1], bt[..., 1])  # noqa: E702
            cx1 = tf.maximum(pb[..., 2], bt[..., 2]); cy1 = tf.maximum(pb[..., 3], bt[..., 3])  # noqa: E702
            carea = (cx1 - cx0) * (cy1 - cy0) + 1e-6
            g = iou - (carea - union) / carea
            l1 = tf.reduce_sum(tf.abs(pb - bt), -1) / (s * 4.0)
            total_box += tf.reduce_sum(((1 - g) + 0.5 * l1) * pos)
            npos += tf.reduce_sum(pos)
        npos = tf.maximum(npos, 1.0)
        return total_cls / npos, total_box / npos

    @tf.function(reduce_retracing=True)
    def step(x, t3c, t3b, t3p, t4c, t4b, t4p, t5c, t5b, t5p):
        with tf.GradientTape() as tape:
            raws = model(x, training=True)
            lc, lb = loss_fn(raws, [(t3c, t3b, t3p), (t4c, t4b, t4p), (t5c, t5b, t5p)])
            loss = lc + 2.5 * lb
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        return lc, lb

    n = len(data)
    order = rng.permutation(n)
    pos_ = 0
    t0 = time.time()
    hist = []
    for it in range(args.steps):
        if it < warm:
            lr = args.lr * (it + 1) / warm
        else:
            lr = args.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * (it - warm) / max(1, args.steps - warm))))
        opt.learning_rate = lr
        xs, tg = [], [[[], [], []] for _ in STRIDES]
        for _ in range(args.batch):
            if pos_ >= n:
                order = rng.permutation(n)
                pos_ = 0
            img, boxes, cls = data[order[pos_]]
            pos_ += 1
            img, boxes = augment(rng, img, boxes)
            xs.append(img)
            for li, (ct, bt, p) in enumerate(build_targets(boxes, cls, args.crop)):
                tg[li][0].append(ct)
                tg[li][1].append(bt)
                tg[li][2].append(p)
        x = np.stack(xs).astype(np.float32) / 255.0
        flat = [np.stack(a) for lvl in tg for a in lvl]
        lc, lb = step(tf.constant(x), *[tf.constant(a) for a in flat])
        hist.append((float(lc), float(lb)))
        if (it + 1) % 50 == 0 or it == 0:
            h = np.mean(hist[-50:], 0)
            el = time.time() - t0
            print(f"step {it + 1}/{args.steps} lr {lr:.2e} cls {h[0]:.3f} box {h[1]:.3f} "
                  f"{el:.0f}s elapsed, eta {el / (it + 1) * (args.steps - it - 1):.0f}s", flush=True)


if __name__ == "__main__":
    main()
