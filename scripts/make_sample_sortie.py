#!/usr/bin/env python3
"""Render the synthetic sample sortie video + COCO labels + ground-truth events.

    python scripts/make_sample_sortie.py --seed 7 --out-dir tests/data
    python scripts/make_sample_sortie.py --seed 7 --out-dir tests/data --verify-model models/lookout-demo.onnx

A slow drone pan over six scenes in sequence (hard cuts between them), 1280x720,
10 fps, H.264 (libx264, yuv420p).  Everything comes from scripts/scenegen.py and
a seeded numpy Generator; x264 runs single-threaded so the file is reproducible
for a given ffmpeg/x264 build.

Segments:
  1 port yard: open container with 5 people inside, closed containers around (containment)
  2 port yard: one person walking past closed containers (distractor)
  3 sea: vessel crowded with people (overcrowding)
  4 sea, thermal rendering: lightly loaded boat with 2 people (distractor)
  5 open sea, no objects but buoys (no persons)
  6 road: empty truck and cars (distractor, no persons)
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scenegen as sg  # noqa: E402

FPS = 10
W, H = sg.FRAME_W, sg.FRAME_H


def jitter(rng, p, amp=0.9):
    """Person stays in place, shuffling slightly."""
    x0, y0 = p.x, p.y
    ph = rng.uniform(0, 2 * math.pi, 2)
    f = rng.uniform(0.25, 0.6, 2)
    a = amp * rng.uniform(0.6, 1.0, 2)
    p.path = lambda t, x0=x0, y0=y0: (x0 + a[0] * math.sin(2 * math.pi * f[0] * t + ph[0]),
                                      y0 + a[1] * math.sin(2 * math.pi * f[1] * t + ph[1]))


def make_scene(rng, kind, ww, hh, thermal=False):
    bg, extra = sg.background(rng, kind, ww, hh, thermal)
    s = sg.Scene(ww, hh, kind, thermal, bg, [], [], [], light=1.0, tint=(1.0, 1.0, 1.0),
                 blur=0.9 if thermal else 0.6, noise=1.2)
    return s, extra


def container_rows(rng, scene, rows_y, x_from, x_to, skip=()):
    """Rows of vertical closed containers; returns list of containers."""
    out = []
    for ry in rows_y:
        x = x_from
        while x < x_to:
            c = sg.Container.random(rng, x, ry, True)
            x += c.w + 5
            if any(abs(c.x - sx) < 30 and abs(c.y - sy) < 60 for sx, sy in skip):
                continue
            out.append(c)
    scene.objects += out
    return out


def build_segments(rng):
    segs = []
    # 1 ---- port yard, open container with 5 people inside
    s, _ = make_scene(rng, "port", 1800, 960)
    open_c = sg.Container.random(rng, 905, 330, True, open_top=True)
    open_c.doors = 2
    people = open_c.add_people(rng, 5)
    assert len(people) >= 5
    for p in people:
        jitter(rng, p)
    s.objects.append(open_c)
    s.persons += people
    container_rows(rng, s, [110, 330, 550, 770], 120, 1750, skip=[(905, 330)])
    s.objects = [c for c in s.objects if c is open_c or sg._free([open_c.bbox()], c.bbox(), 1)]
    for _ in range(6):
        s.clutter.append(sg.Clutter(rng.uniform(100, 1700), rng.uniform(70, 100), rng.uniform(3, 5), "bollard",
                                    (60, 60, 60), 120))
    segs.append(dict(name="port_open_container", scene=s, frames=60, cam=((150, 70), (380, 110)),
                     event=("containment", open_c, people,
                            "open-top container with 5 people inside among closed containers")))

    # 2 ---- port yard, person walking past a closed container
    s, _ = make_scene(rng, "port", 1800, 960)
    conts = container_rows(rng, s, [120, 400, 680], 100, 1750)
    walker = sg.Person.random(rng, 0, 0, hivis=False)
    y_lane = 120 + 108 + 40
    walker.path = lambda t: (560 + 55 * t, y_lane + 3 * math.sin(2 * math.pi * 1.0 * t))
    walker.x, walker.y = walker.path(0)
    s.persons.append(walker)
    segs.append(dict(name="port_walker", scene=s, frames=40, cam=((180, 40), (300, 60)),
                     distractor=("person walking in the lane past closed containers (not inside any)",
                                 [walker] + [c for c in conts if c.y == 120 and 560 <= c.x <= 800])))

    # 3 ---- sea, crowded vessel
    s, _ = make_scene(rng, "sea", 1800, 960)
    v = sg.Vessel.random(rng, 880, 480, length=235, kind="boat", angle=0.35)
    v.cabin = True
    crowd = v.add_people(rng, 18)
    assert len(crowd) >= 12, len(crowd)
    for p in crowd:
        jitter(rng, p, 0.7)
    s.objects.append(v)
    s.persons += crowd
    for _ in range(3):
        s.clutter.append(sg.Clutter(rng.uniform(100, 1700), rng.choice([rng.uniform(80, 250), rng.uniform(700, 900)]),
                                    4.0, "buoy", (230, 110, 20), 160))
    segs.append(dict(name="sea_crowded_vessel", scene=s, frames=55, cam=((120, 100), (330, 140)),
                     event=("overcrowding", v, crowd, f"vessel ~235 px long carrying {len(crowd)} people")))

    # 4 ---- sea, thermal: lightly loaded boat (2 people)
    s, _ = make_scene(rng, "sea", 1800, 960, thermal=True)
    b = sg.Vessel.random(rng, 820, 470, length=95, kind="skiff", angle=-0.8)
    few = b.add_people(rng, 2)
    for p in few:
        jitter(rng, p, 0.6)
    s.objects.append(b)
    s.persons += few
    segs.append(dict(name="sea_thermal_light_boat", scene=s, frames=40, cam=((100, 120), (300, 110)),
                     distractor=("lightly loaded skiff with 2 people (thermal rendering)", [b] + few)))

    # 5 ---- open sea, nothing but buoys
    s, _ = make_scene(rng, "sea", 1800, 960)
    for _ in range(4):
        s.clutter.append(sg.Clutter(rng.uniform(100, 1700), rng.uniform(100, 860), 4.0, "buoy",
                                    (230, 210, 40), 160))
    segs.append(dict(name="open_sea", scene=s, frames=35, cam=((200, 100), (380, 160))))

    # 6 ---- road with an empty truck and cars
    s, _ = make_scene(rng, "road", 1800, 960)
    s.bg, _ = sg.background(rng, "road", 1800, 960, False, road=(False, 480.0, 230.0))
    truck = sg.Vehicle.random(rng, 900, 480 + 40, 0.0, truck=True, cargo=False)
    cars = [sg.Vehicle.random(rng, 600, 480 - 40, math.pi, truck=False),
            sg.Vehicle.random(rng, 1200, 480 + 38, 0.0, truck=False)]
    s.objects += [truck] + cars
    for _ in range(8):
        s.clutter.append(sg.Clutter(rng.uniform(50, 1750), rng.choice([rng.uniform(80, 300), rng.uniform(660, 900)]),
                                    rng.uniform(10, 22), "bush", (50, 90, 40), 75))
    segs.append(dict(name="road_empty_truck", scene=s, frames=35, cam=((250, 130), (420, 120)),
                     distractor=("empty flatbed truck on a road (no people)", [truck])))
    return segs


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out-dir", default="tests/data")
    ap.add_argument("--crf", type=int, default=23)
    ap.add_argument("--verify-model", default=None, help="ONNX model to score on the decoded video")
    ap.add_argument("--verify-every", type=int, default=1, help="score every Nth frame")
    ap.add_argument("--verify-json", default="models/lookout-demo.eval.json",
                    help="merge the sortie figures into this JSON under key 'sortie'")
    ap.add_argument("--verify-conf", type=float, default=0.3)
    ap.add_argument("--verify-only", action="store_true",
                    help="skip rendering; score --verify-model on the existing files in --out-dir")
    args = ap.parse_args()
    if args.verify_only:
        with open(os.path.join(args.out_dir, "sample-sortie.coco.json")) as f:
            coco = json.load(f)
        dec = decode(os.path.join(args.out_dir, "sample-sortie.mp4"))
        assert dec.shape[0] == len(coco["images"])
        verify(args, dec, coco["images"], coco["annotations"])
        return
    rng = np.random.default_rng(args.seed)
    segs = build_segments(rng)
    oid = 1
    for sgm in segs:
        oid = sgm["scene"].assign_ids(oid)

    os.makedirs(args.out_dir, exist_ok=True)
    mp4 = os.path.join(args.out_dir, "sample-sortie.mp4")
    cmd = ["ffmpeg", "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{W}x{H}",
           "-r", str(FPS), "-i", "-", "-c:v", "libx264", "-preset", "slow", "-crf", str(args.crf),
           "-pix_fmt", "yuv420p", "-g", "50", "-threads", "1", "-x264-params", "threads=1",
           "-movflags", "+faststart", "-map_metadata", "-1", "-fflags", "+bitexact",
           "-flags:v", "+bitexact", mp4]
    enc = subprocess.Popen(cmd, stdin=subprocess.PIPE)
    images, anns, events, distractors, segments = [], [], [], [], []
    fi = 0
    aid = 1
    noise_rng = np.random.default_rng([args.seed, 99])
    for sgm in segs:
        sc = sgm["scene"]
        static = sc.render_static()
        (x0, y0), (x1, y1) = sgm["cam"]
        n = sgm["frames"]
        f_start = fi
        seen = {}
        for k in range(n):
            u = k / max(1, n - 1)
            ox, oy = int(round(x0 + (x1 - x0) * u)), int(round(y0 + (y1 - y0) * u))
            t = k / FPS
            img = sc.render_view(static, ox, oy, W, H, t, noise_rng)
            enc.stdin.write(img.tobytes())
            images.append({"id": fi, "file_name": f"frame_{fi:06d}.jpg", "width": W, "height": H,
                           "frame_index": fi, "pts_s": round(fi / FPS, 6), "segment": sgm["name"],
                           "thermal": bool(sc.thermal)})
            for lab in sc.labels(ox, oy, W, H, t):
                x, y, bw, bh = [round(float(v), 2) for v in lab["bbox"]]
                anns.append({"id": aid, "image_id": fi, "category_id": lab["cls"] + 1, "bbox": [x, y, bw, bh],
                             "area": round(bw * bh, 2), "iscrowd": 0, "object_id": lab["oid"]})
                seen.setdefault(lab["oid"], []).append(fi)
                aid += 1
            fi += 1
        segments.append({"name": sgm["name"], "start_s": f_start / FPS, "end_s": fi / FPS,
                         "thermal": bool(sc.thermal)})
        if "event" in sgm:
            sig, holder, persons, note = sgm["event"]
            frames = [f for f in seen.get(holder.oid, [])
                      if sum(f in seen.get(p.oid, []) for p in persons) >= 1]
            events.append({"signature": sig, "start_s": min(frames) / FPS, "end_s": (max(frames) + 1) / FPS,
                           "objects": [holder.oid] + [p.oid for p in persons],
                           "container_or_vessel": holder.oid, "persons": [p.oid for p in persons],
                           "note": note})
        if "distractor" in sgm:
            desc, objs = sgm["distractor"]
            fr = [f for o in objs for f in seen.get(o.oid, [])]
            distractors.append({"description": desc, "objects": [o.oid for o in objs],
                                "start_s": min(fr) / FPS, "end_s": (max(fr) + 1) / FPS})
    enc.stdin.close()
    assert enc.wait() == 0
    cmdline = f"python scripts/make_sample_sortie.py --seed {args.seed} --out-dir {args.out_dir} --crf {args.crf}"
    coco = {
        "info": {"description": "lookout synthetic sample sortie (procedurally generated, no real imagery)",
                 "generator": cmdline, "seed": args.seed, "fps": FPS, "frames": fi,
                 "duration_s": fi / FPS, "video": "sample-sortie.mp4", "segments": segments,
                 "license": "MIT OR Apache-2.0"},
        "images": images,
        "annotations": anns,
        "categories": [{"id": i + 1, "name": n, "supercategory": "object"} for i, n in enumerate(sg.CLASSES)],
    }
    with open(os.path.join(args.out_dir, "sample-sortie.coco.json"), "w") as f:
        json.dump(coco, f, separators=(",", ":"))
    with open(os.path.join(args.out_dir, "sample-sortie.events.json"), "w") as f:
        json.dump({"video": "sample-sortie.mp4", "fps": FPS, "generator": cmdline, "seed": args.seed,
                   "time_convention": "start_s = pts of the first frame where the container/vessel and at least "
                                      "one of its persons are labelled; end_s = pts of the last such frame + 1/fps",
                   "events": events, "distractors": distractors, "segments": segments}, f, indent=2)
    size = os.path.getsize(mp4)
    print(f"wrote {mp4}: {fi} frames, {fi / FPS:.1f}s, {size / 1e6:.2f} MB; {len(anns)} annotations")
    print(json.dumps({"events": events, "distractors": distractors}, indent=1))

    # ---- verification: decode the mp4 and check the frame count
    dec = decode(mp4)
    assert dec.shape[0] == len(images), (dec.shape, len(images))
    print(f"decoded {dec.shape[0]} frames == {len(images)} images in the JSON")
    if args.verify_model:
        verify(args, dec, images, anns)


def decode(mp4):
    raw = subprocess.run(["ffmpeg", "-loglevel", "error", "-i", mp4, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         check=True, capture_output=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, H, W, 3)


def verify(args, frames, images, anns):
    import onnxruntime as ort
    import train_demo_model as tdm
    sess = ort.InferenceSession(args.verify_model, providers=["CPUExecutionProvider"])
    by_img = {}
    for a in anns:
        by_img.setdefault(a["image_id"], []).append(a)
    tp, fp, npos = np.zeros(4), np.zeros(4), np.zeros(4)
    seg_stats = {}
    used = 0
    for im in images[::args.verify_every]:
        i = im["id"]
        x, r, pad = sg.letterbox(frames[i])
        out = sess.run(["output0"], {"images": x[None]})[0][0]
        b, s, c = tdm.decode_output(out, r, pad, conf=args.verify_conf, iou=0.5, frame_wh=(W, H))
        gtb = [(a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2], a["bbox"][1] + a["bbox"][3],
                a["category_id"] - 1) for a in by_img.get(i, [])]
        a_tp, a_fp, a_np = tdm.match_pr(b, s, c, gtb)
        tp += a_tp
        fp += a_fp
        npos += a_np
        st = seg_stats.setdefault(im["segment"], np.zeros((3, 4)))
        st += np.stack([a_tp, a_fp, a_np])
        used += 1
    res = {"frames_scored": used, "conf": args.verify_conf, "nms_iou": 0.5, "match_iou": 0.5,
           "recall": {n: round(float(tp[k] / npos[k]), 4) if npos[k] else None for k, n in enumerate(sg.CLASSES)},
           "precision": {n: round(float(tp[k] / (tp[k] + fp[k])), 4) if tp[k] + fp[k] else None
                         for k, n in enumerate(sg.CLASSES)},
           "instances": {n: int(npos[k]) for k, n in enumerate(sg.CLASSES)},
           "false_positives": {n: int(fp[k]) for k, n in enumerate(sg.CLASSES)},
           "per_segment_person": {k: {"recall": round(float(v[0, 0] / v[2, 0]), 4) if v[2, 0] else None,
                                      "false_pos": int(v[1, 0])} for k, v in seg_stats.items()},
           "command": " ".join(["python"] + sys.argv)}
    print(json.dumps(res, indent=1))
    if args.verify_json:
        d = {}
        if os.path.exists(args.verify_json):
            with open(args.verify_json) as f:
                d = json.load(f)
        d["sortie" if args.verify_conf == 0.3 else f"sortie_conf{args.verify_conf:g}"] = res
        with open(args.verify_json, "w") as f:
            json.dump(d, f, indent=2)


if __name__ == "__main__":
    main()
