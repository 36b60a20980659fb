#!/usr/bin/env python3
"""Writes generated COCO bbox cases to cross-check `lookout eval` against
pycocotools (scripts/coco_reference.py).

    python3 scripts/make_eval_cases.py OUTDIR [--seed S]
    python3 scripts/make_eval_cases.py OUTDIR --bench [N_IMAGES] [--objects K] [--seed S]

The first form writes one folder per case: OUTDIR/<name>/gt.json and
OUTDIR/<name>/results.json, plus OUTDIR/<name>/max_dets (a number, the last
maxDets entry to evaluate with) when the case needs a cap other than 100.
The second form writes only OUTDIR/bench/{gt,results}.json: N_IMAGES images
(default 5000) with about K objects each (default 50) and realistic
detections (about 1.2 per object: jittered hits, duplicates, false
positives, misses), for speed comparisons.

Everything comes from numpy's seeded Generator (default seed 0); each case
draws from its own stream, so the same seed writes the same files. Needs
only numpy (.deps/pyeval/bin/python has it).
"""

import argparse
import json
import os
import zlib

import numpy as np

CATEGORY_NAMES = ["person", "vessel", "container", "vehicle", "truck", "boat", "bicycle"]


def r2(x):
    return round(float(x), 2)


class Case:
    """Accumulates one COCO ground-truth set and one results list."""

    def __init__(self, cat_ids, names=None):
        names = names or {}
        self.cats = [{"id": int(c), "name": names.get(c, f"class{c}"), "supercategory": "object"}
                     for c in cat_ids]
        self.images, self.anns, self.dets = [], [], []
        self.next_ann = 1

    def image(self, img_id, width=640, height=480):
        self.images.append({"id": int(img_id), "file_name": f"{img_id:06d}.jpg",
                            "width": int(width), "height": int(height)})
        return int(img_id)

    def gt(self, img, cat, bbox, area=None, iscrowd=0, ann_id=None, **extra):
        bbox = [r2(v) for v in bbox]
        if ann_id is None:
            ann_id = self.next_ann
        self.next_ann = max(self.next_ann, ann_id + 1)
        ann = {"id": int(ann_id), "image_id": int(img), "category_id": int(cat), "bbox": bbox,
               "area": r2(bbox[2] * bbox[3] if area is None else area), "iscrowd": int(iscrowd)}
        ann.update(extra)
        self.anns.append(ann)
        return ann

    def det(self, img, cat, bbox, score):
        self.dets.append({"image_id": int(img), "category_id": int(cat),
                          "bbox": [r2(v) for v in bbox], "score": round(float(score), 5)})

    def write(self, outdir, name, max_dets=None, compact=False):
        d = os.path.join(outdir, name)
        os.makedirs(d, exist_ok=True)
        gt = {"info": {"description": f"lookout eval case {name}"}, "images": self.images,
              "annotations": self.anns, "categories": self.cats}
        sep = (",", ":") if compact else None
        with open(os.path.join(d, "gt.json"), "w") as f:
            json.dump(gt, f, separators=sep)
        with open(os.path.join(d, "results.json"), "w") as f:
            json.dump(self.dets, f, separators=sep)
        mpath = os.path.join(d, "max_dets")
        if max_dets is not None:
            with open(mpath, "w") as f:
                f.write(f"{int(max_dets)}\n")
        elif os.path.exists(mpath):
            os.remove(mpath)
        return d


# --- geometry helpers --------------------------------------------------------

def rand_box(rng, W, H, smin=8.0, smax=300.0):
    """A box with log-uniform sqrt(area) and a log-normal aspect ratio, inside W x H."""
    s = float(np.exp(rng.uniform(np.log(smin), np.log(smax))))
    ar = float(np.exp(rng.normal(0.0, 0.4)))
    w = min(max(s * np.sqrt(ar), 2.0), W - 1.0)
    h = min(max(s / np.sqrt(ar), 2.0), H - 1.0)
    x = rng.uniform(0, W - w)
    y = rng.uniform(0, H - h)
    return [x, y, w, h]


def clip_box(b, W, H):
    x0, y0 = max(b[0], 0.0), max(b[1], 0.0)
    x1, y1 = min(b[0] + b[2], W), min(b[1] + b[3], H)
    return [x0, y0, max(x1 - x0, 1.0), max(y1 - y0, 1.0)]


def jitter(rng, b, sigma, W, H):
    """Moves each edge by a normal amount proportional to the box size."""
    x, y, w, h = b
    dx0, dx1 = rng.normal(0.0, sigma * w, 2)
    dy0, dy1 = rng.normal(0.0, sigma * h, 2)
    nb = [x + dx0, y + dy0, max(w + dx1 - dx0, 1.0), max(h + dy1 - dy0, 1.0)]
    return clip_box(nb, W, H)


def box_inside(rng, region, smin=6.0, smax=40.0):
    """A box fully inside region."""
    rx, ry, rw, rh = region
    w = float(min(rng.uniform(smin, smax), rw - 1.0))
    h = float(min(rng.uniform(smin, smax), rh - 1.0))
    return [rx + rng.uniform(0, rw - w), ry + rng.uniform(0, rh - h), w, h]


def realistic(rng, case, img, cat_ids, n_objects, W, H, *, p_miss=0.1, p_dup=0.1,
              fp_rate=0.2, p_confuse=0.03, area_scale=(1.0, 1.0), sigma=0.05,
              smin=8.0, smax=300.0):
    """Adds n_objects ground-truth boxes to img and detections for them:
    jittered hits (score high, falling with the jitter), duplicates, class
    confusions, false positives at random places (low scores) and misses."""
    for _ in range(n_objects):
        cat = int(rng.choice(cat_ids))
        b = rand_box(rng, W, H, smin, smax)
        lo, hi = area_scale
        case.gt(img, cat, b, area=b[2] * b[3] * rng.uniform(lo, hi))
        if rng.random() < p_miss:
            continue
        s = float(np.clip(rng.beta(5, 2), 0.01, 0.999))
        case.det(img, cat, jitter(rng, b, sigma * rng.uniform(0.3, 2.0), W, H), s)
        if rng.random() < p_dup:
            case.det(img, cat, jitter(rng, b, sigma * 2, W, H), s * rng.uniform(0.3, 0.95))
        if rng.random() < p_confuse and len(cat_ids) > 1:
            other = int(rng.choice([c for c in cat_ids if c != cat]))
            case.det(img, other, jitter(rng, b, sigma, W, H), s * rng.uniform(0.2, 0.8))
    for _ in range(rng.poisson(fp_rate * n_objects)):
        case.det(img, int(rng.choice(cat_ids)), rand_box(rng, W, H, smin, smax),
                 float(np.clip(rng.beta(2, 5), 0.01, 0.999)))


# --- the cases ---------------------------------------------------------------

def case_perfect(rng):
    """Every gt detected exactly, score 1: all stats 1 (or -1 for an empty range)."""
    c = Case([1, 2])
    for i in range(1, 6):
        img = c.image(i)
        for _ in range(4):
            b = rand_box(rng, 640, 480, 10, 250)
            cat = int(rng.choice([1, 2]))
            c.gt(img, cat, b)
            c.det(img, cat, b, 1.0)
    return c, None


def case_crowd(rng):
    """iscrowd=1 regions with detections inside them (matched to the crowd,
    so ignored), regular gt inside crowds, a category whose only gt is crowd,
    a small crowd box, and a regular gt carrying "ignore": 1 (pycocotools
    overrides it with iscrowd, so it counts)."""
    c = Case([1, 2, 3])
    W, H = 640, 480
    for i in range(1, 9):
        img = c.image(i, W, H)
        for _ in range(rng.integers(1, 3)):
            region = [rng.uniform(0, 300), rng.uniform(0, 200), rng.uniform(150, 320), rng.uniform(120, 260)]
            region = clip_box(region, W, H)
            c.gt(img, 1, region, area=region[2] * region[3] * 0.7, iscrowd=1)
            # people inside the crowd, some annotated individually
            for _ in range(rng.integers(0, 4)):
                b = box_inside(rng, region, 12, 50)
                c.gt(img, 1, b)
                c.det(img, 1, jitter(rng, b, 0.04, W, H), rng.uniform(0.5, 0.99))
            # detections inside the crowd that only the crowd explains
            for _ in range(rng.integers(2, 8)):
                c.det(img, 1, box_inside(rng, region, 6, 40), rng.uniform(0.05, 0.95))
            # one detection covering the whole crowd
            c.det(img, 1, jitter(rng, region, 0.02, W, H), rng.uniform(0.2, 0.9))
        # ordinary objects of class 2 with hits, misses and false positives
        for _ in range(rng.integers(1, 4)):
            b = rand_box(rng, W, H, 20, 150)
            c.gt(img, 2, b)
            if rng.random() < 0.8:
                c.det(img, 2, jitter(rng, b, 0.05, W, H), rng.uniform(0.3, 0.99))
        c.det(img, 2, rand_box(rng, W, H, 20, 150), rng.uniform(0.05, 0.6))
        # class 3 exists only as crowd regions: no gt counts, so it is -1 throughout
        if i % 2 == 0:
            region = clip_box([rng.uniform(0, 400), rng.uniform(0, 300), 150, 120], W, H)
            c.gt(img, 3, region, iscrowd=1)
            for _ in range(3):
                c.det(img, 3, box_inside(rng, region, 10, 60), rng.uniform(0.1, 0.9))
    # a small crowd box (area < 32^2) with a small detection inside, and a
    # regular gt with a stray "ignore": 1 field
    img = c.image(9, W, H)
    c.gt(img, 1, [100, 100, 25, 25], iscrowd=1)
    c.det(img, 1, [105, 105, 10, 10], 0.77)
    b = [300, 200, 60, 80]
    c.gt(img, 1, b, ignore=1)
    c.det(img, 1, [302, 203, 58, 78], 0.88)
    return c, None


def case_empty_images(rng):
    """Images without gt: some with detections (false positives in every
    area range), some with nothing at all; plus ordinary images."""
    c = Case([1, 2])
    W, H = 640, 480
    for i in range(1, 13):
        img = c.image(i * 10, W, H)
        kind = i % 3
        if kind == 0:
            realistic(rng, c, img, [1, 2], int(rng.integers(3, 8)), W, H)
        elif kind == 1:  # no gt, detections only
            for _ in range(rng.integers(1, 6)):
                c.det(img, int(rng.choice([1, 2])), rand_box(rng, W, H, 8, 200), rng.uniform(0.05, 0.99))
        # kind == 2: no gt, no detections
    return c, None


def case_no_predictions(rng):
    """Images with gt and no detections at all, and a category (3) with gt
    but never predicted (AP and AR 0 for it)."""
    c = Case([1, 2, 3])
    W, H = 800, 600
    for i in range(1, 11):
        img = c.image(i, W, H)
        n = int(rng.integers(2, 7))
        if i % 2:
            realistic(rng, c, img, [1, 2], n, W, H)
        else:  # gt, nothing predicted
            for _ in range(n):
                c.gt(img, int(rng.choice([1, 2])), rand_box(rng, W, H))
        c.gt(img, 3, rand_box(rng, W, H))
    return c, None


def case_empty_results(rng):
    """An empty results list: recall and precision 0 wherever gt exists."""
    c = Case([1, 2])
    for i in range(1, 6):
        img = c.image(i)
        for _ in range(rng.integers(1, 5)):
            c.gt(img, int(rng.choice([1, 2])), rand_box(rng, 640, 480))
    return c, None


def _many_dets(rng):
    c = Case([1, 2])
    W, H = 1920, 1080
    for i in range(1, 7):
        img = c.image(i, W, H)
        # class 1: 60-130 objects, 130-260 detections; a share of the hits
        # score low, so the cap at 100 cuts some true positives
        n = int(rng.integers(60, 131))
        for _ in range(n):
            b = rand_box(rng, W, H, 10, 150)
            c.gt(img, 1, b)
            if rng.random() < 0.9:
                s = rng.uniform(0.5, 1.0) if rng.random() < 0.6 else rng.uniform(0.0, 0.5)
                c.det(img, 1, jitter(rng, b, 0.05, W, H), s)
        for _ in range(int(rng.integers(130, 261)) - n):
            c.det(img, 1, rand_box(rng, W, H, 10, 150), rng.uniform(0.0, 0.8))
        # class 2: a few objects, under the cap
        realistic(rng, c, img, [2], int(rng.integers(5, 20)), W, H)
    return c


def case_many_dets_100(rng):
    """More than 100 detections per image and category, evaluated at the
    default cap 100 (true positives beyond rank 100 are dropped)."""
    return _many_dets(rng), None


def case_many_dets_300(rng):
    """The same data as many_dets_100, evaluated with maxDets [1, 10, 300].
    pycocotools' stats[0] (AP) is -1 here: it asks for maxDets=100."""
    return _many_dets(rng), 300


def case_score_ties(rng):
    """Many detections sharing a few score values, true and false positives
    mixed under one score, ties within and across images, duplicates of one
    gt at the same score (file order decides which matches), and a shuffled
    results list."""
    c = Case([1, 2])
    W, H = 640, 480
    levels = [0.25, 0.5, 0.5, 0.75, 0.9, 1.0]
    for i in range(1, 11):
        img = c.image(i, W, H)
        for _ in range(rng.integers(3, 9)):
            cat = int(rng.choice([1, 2]))
            b = rand_box(rng, W, H, 15, 200)
            c.gt(img, cat, b)
            r = rng.random()
            s = float(rng.choice(levels))
            if r < 0.7:
                c.det(img, cat, jitter(rng, b, 0.05, W, H), s)
            if r < 0.25:  # same-score duplicate, worse or better box
                c.det(img, cat, jitter(rng, b, 0.12, W, H), s)
        for _ in range(rng.integers(1, 6)):
            c.det(img, int(rng.choice([1, 2])), rand_box(rng, W, H, 15, 200), float(rng.choice(levels)))
    # images where every detection scores exactly 0.5
    for i in range(11, 15):
        img = c.image(i, W, H)
        for _ in range(4):
            b = rand_box(rng, W, H, 15, 200)
            c.gt(img, 1, b)
            c.det(img, 1, jitter(rng, b, 0.08, W, H) if rng.random() < 0.7 else rand_box(rng, W, H), 0.5)
    order = rng.permutation(len(c.dets))
    c.dets = [c.dets[k] for k in order]
    return c, None


def case_area_ranges(rng):
    """Objects in every area range, boxes exactly at 32^2 and 96^2 (they count
    in both neighbouring ranges), just below and above, gt whose "area"
    differs from w*h (pycocotools ranges by the field), and unmatched
    detections of boundary sizes (ignored outside their range)."""
    c = Case([1, 2])
    W, H = 1280, 720
    sizes = [(8, 8), (20, 30), (31.99, 32), (32, 32), (16, 64), (32, 32.01), (50, 40),
             (95.99, 96), (96, 96), (64, 144), (96, 96.01), (150, 120), (300, 200)]
    img = c.image(1, W, H)
    x = 10.0
    for k, (w, h) in enumerate(sizes):
        b = [x, 20.0 + (k % 3) * 5, w, h]
        x += w + 10
        c.gt(img, 1, b)
        if k % 4 != 3:  # miss every fourth
            c.det(img, 1, b if k % 2 else jitter(rng, b, 0.03, W, H), 0.5 + 0.03 * k)
    # gt whose area field differs from w*h
    img = c.image(2, W, H)
    odd = [((50, 50), 900.0),     # w*h medium, field small
           ((20, 20), 1500.0),    # w*h small, field medium
           ((100, 100), 9000.0),  # w*h large, field medium
           ((90, 90), 9216.0),    # field exactly 96^2
           ((40, 40), 1024.0),    # field exactly 32^2
           ((120, 80), 20000.0),  # field large
           ((30, 30), 0.0)]       # zero area field
    x = 10.0
    for k, ((w, h), area) in enumerate(odd):
        b = [x, 300.0, w, h]
        x += w + 15
        c.gt(img, 2, b, area=area)
        c.det(img, 2, jitter(rng, b, 0.04, W, H), 0.6 + 0.04 * k)
    # unmatched detections at boundary sizes (pure false positives)
    img = c.image(3, W, H)
    c.gt(img, 1, [600, 400, 60, 60])
    c.det(img, 1, [601, 401, 59, 60], 0.95)
    for k, (w, h) in enumerate([(32, 32), (96, 96), (10, 10), (31.99, 32), (200, 150), (96, 96.01)]):
        c.det(img, 1, [20 + 110 * k, 50, w, h], 0.3 + 0.1 * k)
    # a spread of random objects of both classes over all ranges
    for i in range(4, 10):
        img = c.image(i, W, H)
        realistic(rng, c, img, [1, 2], int(rng.integers(5, 12)), W, H, smin=6, smax=400,
                  area_scale=(0.5, 1.0))
    return c, None


def case_iou_boundaries(rng):
    """IoUs at the thresholds. Image 1: detections whose IoU with their gt is
    exactly 0.50, 0.55, ... 0.95 in exact arithmetic (100x100 gt, det of
    width 50..95 inside it): whether they match depends on the double values
    of the IoU and of the thresholds (np.linspace). Images 2 and 3: taller
    and shifted boxes whose IoU lands within about 1e-4 of each threshold."""
    c = Case([1])
    W, H = 1280, 720
    for i in range(1, 4):
        img = c.image(i, W, H)
        for k, wd in enumerate(range(50, 100, 5)):
            gx, gy = 10.0 + 120 * k, 50.0 + 200 * (i - 1)
            c.gt(img, 1, [gx, gy, 100, 100])
            if i == 1:    # det inside the gt: IoU = wd / 100
                c.det(img, 1, [gx, gy, wd, 100], 0.9 - 0.05 * k)
            elif i == 2:  # gt inside the det: IoU = 100 / (100 + extra)
                c.det(img, 1, [gx, gy, 100, 100 * 100.0 / wd], 0.4 + 0.05 * k)
            else:         # shifted copy: IoU = (100-d)/(100+d)
                d = 100.0 * (1 - wd / 100.0) / (1 + wd / 100.0)
                c.det(img, 1, [gx + d, gy, 100, 100], 0.5)
    return c, None


def case_ann_ids(rng):
    """gt annotation ids that start at 0 and jump (0, 7, 8, 1000, ...) in
    shuffled order, image ids out of order (including 0) and sparse category
    ids. A detection matched to the gt with id 0 counts as a false positive in
    pycocotools (it stores the matched gt id and tests it for non-zero)."""
    cats = [2, 7, 90]
    c = Case(cats)
    W, H = 640, 480
    ids = iter([0, 7, 8, 1000, 3, 55, 56, 4096, 12, 13, 999999, 21, 22, 23, 400, 401,
                402, 77, 78, 79, 5000, 5001, 5002, 5003, 6, 65, 66, 67, 68, 69])
    for img_id in [42, 0, 7, 1000, 3, 19]:
        img = c.image(img_id, W, H)
        for _ in range(int(rng.integers(3, 6))):
            cat = int(rng.choice(cats))
            b = rand_box(rng, W, H, 15, 200)
            g = c.gt(img, cat, b, ann_id=next(ids))
            if g["id"] == 0:  # always found, with the top score
                c.det(img, cat, jitter(rng, b, 0.04, W, H), 0.99)
            elif rng.random() < 0.85:
                s = rng.uniform(0.2, 0.95)
                c.det(img, cat, jitter(rng, b, 0.04, W, H), s)
        c.det(img, int(rng.choice(cats)), rand_box(rng, W, H, 15, 200), rng.uniform(0.05, 0.5))
    order = rng.permutation(len(c.anns))
    c.anns = [c.anns[k] for k in order]
    return c, None


def case_unused_category(rng):
    """A category (3) listed in the gt with no gt boxes, but with detections:
    it has no gt, so it is -1 and drops out of every mean."""
    c = Case([1, 2, 3])
    W, H = 640, 480
    for i in range(1, 9):
        img = c.image(i, W, H)
        realistic(rng, c, img, [1, 2], int(rng.integers(2, 7)), W, H)
        for _ in range(rng.integers(1, 4)):
            c.det(img, 3, rand_box(rng, W, H), rng.uniform(0.1, 0.99))
    return c, None


def case_unknown_category(rng):
    """Detections with category ids absent from the gt categories (5, 99,
    some exactly on gt boxes): pycocotools evaluates only the gt's
    categories and ignores them."""
    c = Case([1, 2])
    W, H = 640, 480
    for i in range(1, 9):
        img = c.image(i, W, H)
        realistic(rng, c, img, [1, 2], int(rng.integers(2, 7)), W, H)
        for _ in range(rng.integers(1, 4)):
            c.det(img, int(rng.choice([5, 99])), rand_box(rng, W, H), rng.uniform(0.1, 0.99))
        for a in [a for a in c.anns if a["image_id"] == img][:2]:
            c.det(img, 5, a["bbox"], 0.97)
    return c, None


def case_mixed_random(rng):
    """A realistic mix: 60 images, 3-5 categories, jittered hits, duplicates,
    class confusions, false positives, misses, a few crowd regions, gt area
    below w*h (like segmentation areas), some empty images, and image sizes
    that vary."""
    n_cats = int(rng.integers(3, 6))
    cats = list(range(1, n_cats + 1))
    c = Case(cats, dict(zip(cats, CATEGORY_NAMES)))
    for i in range(1, 61):
        W, H = [(640, 480), (1280, 720), (1920, 1080)][int(rng.integers(0, 3))]
        img = c.image(i, W, H)
        if rng.random() < 0.08:
            if rng.random() < 0.5:
                c.det(img, int(rng.choice(cats)), rand_box(rng, W, H), rng.uniform(0.05, 0.6))
            continue
        realistic(rng, c, img, cats, int(rng.integers(1, 15)), W, H, area_scale=(0.55, 0.95),
                  p_miss=0.15, p_dup=0.12, fp_rate=0.3, p_confuse=0.05, smin=6, smax=500)
        if rng.random() < 0.1:
            region = clip_box([rng.uniform(0, W / 2), rng.uniform(0, H / 2), W / 3, H / 3], W, H)
            c.gt(img, cats[0], region, area=region[2] * region[3] * 0.6, iscrowd=1)
            for _ in range(rng.integers(1, 5)):
                c.det(img, cats[0], box_inside(rng, region, 10, 60), rng.uniform(0.1, 0.9))
    return c, None


def case_error_types(rng):
    """Every kind of TIDE error (scripts/tide_reference.py), with the rules
    that decide between them: detections of the wrong class on an object
    (classification), boxes that overlap their object by IoU 0.1-0.5
    (localisation, including IoU exactly 0.1 and 0.5 and several on one
    object, where only the best-scoring is fixed), a classification and a
    localisation error on one object, wrong class and poor box together
    (both), second detections of found objects (duplicate), detections far
    from everything (background), a poor box inside a crowd region,
    objects no detection comes near (missed) and one image with more than
    100 detections."""
    cats = [1, 2, 3]
    c = Case(cats, dict(zip(cats, CATEGORY_NAMES)))
    W, H = 1280, 720
    for i in range(1, 25):
        img = c.image(i, W, H)
        for _ in range(int(rng.integers(2, 9))):
            cat = int(rng.choice(cats))
            other = int(rng.choice([k for k in cats if k != cat]))
            b = rand_box(rng, W, H, 20, 200)
            c.gt(img, cat, b)
            s = float(rng.uniform(0.05, 0.99))
            r = rng.random()
            if r < 0.45:
                c.det(img, cat, jitter(rng, b, 0.04, W, H), s)
            if 0.3 < r < 0.5:  # wrong class, right place
                c.det(img, other, jitter(rng, b, 0.03, W, H), s * rng.uniform(0.5, 1.2))
            if 0.45 < r < 0.7:  # poor boxes, one to three of them
                for _ in range(int(rng.integers(1, 4))):
                    c.det(img, cat, jitter(rng, b, 0.35, W, H), float(rng.uniform(0.05, 0.99)))
            if 0.6 < r < 0.75:  # wrong class and poor box
                c.det(img, other, jitter(rng, b, 0.35, W, H), float(rng.uniform(0.05, 0.99)))
            if rng.random() < 0.15:  # duplicate
                c.det(img, cat, jitter(rng, b, 0.06, W, H), s * rng.uniform(0.3, 1.0))
        for _ in range(int(rng.integers(0, 4))):  # background
            c.det(img, int(rng.choice(cats)), rand_box(rng, W, H, 10, 100), float(rng.uniform(0.05, 0.9)))
    # IoU exactly 0.1 and 0.5 with a 100x100 object (boxes inside it)
    img = c.image(25, W, H)
    for k, (w, s) in enumerate([(10, 0.9), (50, 0.8), (9, 0.7), (51, 0.6)]):
        x = 20.0 + 150 * k
        c.gt(img, 1, [x, 50, 100, 100])
        c.det(img, 1, [x, 50, w, 100], s)
    # a crowd region of class 1 with a poorly placed detection of a person
    # inside it, and a detection of class 2 on it
    img = c.image(26, W, H)
    c.gt(img, 1, [100, 100, 400, 300], iscrowd=1)
    c.gt(img, 1, [150, 150, 60, 120])
    c.det(img, 1, [170, 190, 60, 120], 0.85)
    c.det(img, 1, [300, 200, 30, 30], 0.75)
    c.det(img, 2, [120, 120, 300, 200], 0.65)
    # more than 100 detections in one image, over all classes
    img = c.image(27, W, H)
    realistic(rng, c, img, cats, 90, W, H, p_dup=0.2, fp_rate=0.4, p_confuse=0.2)
    return c, None


CASES = [
    ("perfect", case_perfect),
    ("crowd", case_crowd),
    ("empty_images", case_empty_images),
    ("no_predictions", case_no_predictions),
    ("empty_results", case_empty_results),
    ("many_dets_100", case_many_dets_100),
    ("many_dets_300", case_many_dets_300),
    ("score_ties", case_score_ties),
    ("area_ranges", case_area_ranges),
    ("iou_boundaries", case_iou_boundaries),
    ("ann_ids", case_ann_ids),
    ("unused_category", case_unused_category),
    ("unknown_category", case_unknown_category),
    ("mixed_random", case_mixed_random),
    ("error_types", case_error_types),
]


def stream(seed, name):
    """Each case has its own stream; the data of many_dets_300 is that of many_dets_100."""
    key = "many_dets" if name.startswith("many_dets") else name
    return np.random.default_rng([seed, zlib.crc32(key.encode())])


def write_cases(outdir, seed):
    for name, fn in CASES:
        case, max_dets = fn(stream(seed, name))
        case.write(outdir, name, max_dets)
        extra = f", max_dets {max_dets}" if max_dets else ""
        print(f"{name}: {len(case.images)} images, {len(case.anns)} gt, {len(case.dets)} detections{extra}")


def write_bench(outdir, seed, n_images, objects):
    rng = np.random.default_rng([seed, zlib.crc32(b"bench")])
    cats = list(range(1, 5))
    c = Case(cats, dict(zip(cats, CATEGORY_NAMES)))
    for i in range(1, n_images + 1):
        W, H = (1920, 1080) if i % 2 else (1280, 720)
        img = c.image(i, W, H)
        n = int(rng.poisson(objects))
        realistic(rng, c, img, cats, n, W, H, area_scale=(0.6, 1.0), p_miss=0.1, p_dup=0.1,
                  fp_rate=0.2, p_confuse=0.03, smin=6, smax=400)
    d = c.write(outdir, "bench", compact=True)
    print(f"bench: {len(c.images)} images, {len(c.anns)} gt, {len(c.dets)} detections in {d}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--bench", type=int, nargs="?", const=5000, default=None, metavar="N_IMAGES",
                    help="write only OUTDIR/bench with N_IMAGES images (default 5000)")
    ap.add_argument("--objects", type=int, default=50, metavar="K",
                    help="mean objects per image in --bench mode (default 50)")
    args = ap.parse_args()
    os.makedirs(args.outdir, exist_ok=True)
    if args.bench is not None:
        write_bench(args.outdir, args.seed, args.bench, args.objects)
    else:
        write_cases(args.outdir, args.seed)


if __name__ == "__main__":
    main()
