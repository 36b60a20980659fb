#!/usr/bin/env python3
"""Render a long synthetic sortie: mostly empty sea and roads, a few events.

    python scripts/make_long_sortie.py OUT_DIR                       # 10 min, 1920x1080, 25 fps
    python scripts/make_long_sortie.py OUT_DIR --minutes 1 --size 640x360 --name short \\
        --events during_pan,behind_glitter

It is the footage adaptive sampling (`lookout screen --sample adaptive`) is
made for, and is judged on: long stretches where nothing is, and events
that a sampler could miss:

  brief           a crowded vessel crosses the view in a fast pan, in view a few seconds
  during_pan      an open container with people comes into view while the camera pans
  behind_glitter  a crowded vessel drifts into view inside a band of sun glitter
  hover           the camera hovers over a port; people walk into an open container

and distractors: a skiff with two people, an empty truck on a road. Between
them the camera pans over or hovers above empty sea (some with glitter) and
empty roads, under slowly drifting light.

Frames are drawn by scripts/scenegen.py at 1280x720 (the scale the demo
model was made for) and scaled by FFmpeg to --size. x264 writes them with
its default B-frames and a keyframe every --gop-s seconds (2 by default;
recorders commonly write 0.5 to 2 s).

Writes OUT_DIR/NAME.mp4 and OUT_DIR/NAME.events.json (segments, and for each
event the time its holder and a person are first both in view). Everything
comes from --seed.
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

W, H = sg.FRAME_W, sg.FRAME_H
EVENTS = ["brief", "during_pan", "behind_glitter", "hover"]
DISTRACTORS = ["light_skiff", "empty_truck"]
EVENT_S = 9.0
DISTRACTOR_S = 6.0


def scene(rng, kind, ww, hh):
    bg, _ = sg.background(rng, kind, ww, hh, False)
    return sg.Scene(ww, hh, kind, False, bg, [], [], [], light=1.0, tint=(1.0, 1.0, 1.0), blur=0.6, noise=0.0)


def jitter(rng, p, amp=0.8):
    x0, y0 = p.x, p.y
    ph = rng.uniform(0, 2 * math.pi, 2)
    f = rng.uniform(0.25, 0.6, 2)
    p.path = lambda t: (x0 + amp * math.sin(2 * math.pi * f[0] * t + ph[0]),
                        y0 + amp * math.sin(2 * math.pi * f[1] * t + ph[1]))


def crowded_vessel(rng, s, cx, cy, length, angle, people):
    """A cabin boat at (cx, cy) with `people` aboard, shuffling in place."""
    v = sg.Vessel.random(rng, cx, cy, length=length, kind="boat", angle=angle)
    v.cabin = True
    crowd = v.add_people(rng, people)
    for p in crowd:
        jitter(rng, p, 0.6)
    s.objects.append(v)
    s.persons += crowd
    return v, crowd


def pan(a, b):
    """Camera from a to b over the segment (u in [0, 1])."""
    return lambda u: (a[0] + (b[0] - a[0]) * u, a[1] + (b[1] - a[1]) * u)


def hover(c, rng):
    """Camera hovering at c, drifting a pixel or two."""
    ph = rng.uniform(0, 2 * math.pi, 2)
    return lambda u: (c[0] + 2.0 * math.sin(5 * u + ph[0]), c[1] + 1.5 * math.sin(7 * u + ph[1]))


def segment(rng, name, seconds):
    """A segment: its scene, camera path, what happens in it."""
    seg = dict(name=name, seconds=seconds, glitter=None, holder=None, persons=[], kind="empty")
    if name == "empty_sea_pan":
        s = scene(rng, "sea", 1280 + 900, 720 + 200)
        for _ in range(3):
            s.clutter.append(sg.Clutter(rng.uniform(0, s.w), rng.uniform(0, s.h), 4.0, "buoy", (230, 110, 20), 160))
        seg.update(scene=s, cam=pan((0, 100), (900, 60)))
    elif name == "empty_sea_glitter":
        s = scene(rng, "sea", 1280 + 200, 720 + 100)
        seg.update(scene=s, cam=hover((100, 50), rng), glitter=(0.05, 0.15, 0.45, 0.6))
    elif name == "empty_road":
        s = scene(rng, "road", 1280 + 700, 720 + 100)
        for _ in range(8):
            s.clutter.append(sg.Clutter(rng.uniform(0, s.w), rng.uniform(0, s.h), rng.uniform(10, 20), "bush",
                                        (50, 90, 40), 75))
        seg.update(scene=s, cam=pan((0, 50), (700, 50)) if rng.random() < 0.5 else hover((350, 50), rng))
    elif name == "brief":
        # A fast pan (some 260 px/s) over a crowded vessel.
        s = scene(rng, "sea", 1280 + 2400, 720 + 100)
        v, crowd = crowded_vessel(rng, s, 1280 + 1200, 400, 220, 0.3, 16)
        seg.update(scene=s, cam=pan((0, 50), (2400, 50)), holder=v, persons=crowd, kind="overcrowding")
    elif name == "during_pan":
        s = scene(rng, "port", 1280 + 1100, 720 + 100)
        c = sg.Container.random(rng, 1280 + 500, 300, True, open_top=True)
        people = c.add_people(rng, 5)
        for p in people:
            jitter(rng, p)
        s.objects.append(c)
        s.persons += people
        for x in (300, 700, 1100, 2200):
            if abs(x - c.x) > 200:
                s.objects.append(sg.Container.random(rng, x, 300, True, open_top=False))
        seg.update(scene=s, cam=pan((0, 50), (1100, 50)), holder=c, persons=people, kind="containment")
    elif name == "behind_glitter":
        s = scene(rng, "sea", 1280 + 500, 720 + 100)
        v, crowd = crowded_vessel(rng, s, 1280 + 150, 380, 210, -0.2, 15)
        # Slow drift (55 px/s) brings the vessel into the glittering right half.
        seg.update(scene=s, cam=pan((0, 50), (500, 50)), holder=v, persons=crowd, kind="overcrowding",
                   glitter=(0.5, 0.1, 0.98, 0.9))
    elif name == "hover":
        s = scene(rng, "port", 1280 + 100, 720 + 100)
        c = sg.Container.random(rng, 620, 300, True, open_top=True)
        people = c.add_people(rng, 4)
        # They walk in from the lane below over the first 3 s, then stay.
        for i, p in enumerate(people):
            x1, y1 = p.x, p.y
            x0, y0 = x1 - 120 - 30 * i, y1 + 260

            def path(t, x0=x0, y0=y0, x1=x1, y1=y1, start=1.0 + 0.5 * i):
                u = min(1.0, max(0.0, (t - start) / 3.0))
                return x0 + (x1 - x0) * u, y0 + (y1 - y0) * u
            p.path = path
        s.objects.append(c)
        s.persons += people
        for x in (250, 950):
            s.objects.append(sg.Container.random(rng, x, 300, True, open_top=False))
        seg.update(scene=s, cam=hover((50, 50), rng), holder=c, persons=people, kind="containment")
    elif name == "light_skiff":
        s = scene(rng, "sea", 1280 + 600, 720 + 100)
        b = sg.Vessel.random(rng, 900, 400, length=95, kind="skiff", angle=-0.8)
        few = b.add_people(rng, 2)
        for p in few:
            jitter(rng, p, 0.6)
        s.objects.append(b)
        s.persons += few
        seg.update(scene=s, cam=pan((0, 50), (600, 50)), holder=b, persons=few, kind="distractor")
    elif name == "empty_truck":
        s = scene(rng, "road", 1280 + 600, 720 + 100)
        s.bg, _ = sg.background(rng, "road", s.w, s.h, False, road=(False, 400.0, 230.0))
        truck = sg.Vehicle.random(rng, 900, 440, 0.0, truck=True, cargo=False)
        s.objects.append(truck)
        seg.update(scene=s, cam=pan((0, 0), (600, 0)), holder=truck, kind="distractor")
    else:
        raise ValueError(name)
    return seg


def schedule(rng, seconds, events):
    """Segments filling `seconds`: events and distractors spread evenly,
    empty footage between them."""
    special = [(e, EVENT_S) for e in events] + [(d, DISTRACTOR_S) for d in DISTRACTORS]
    order = [special[i] for i in rng.permutation(len(special))]
    busy = sum(s for _, s in order)
    empty = max(len(order) + 1, seconds - busy)
    slots = len(order) + 1
    # Empty stretches of at most 40 s, cycling through sea, glitter, road.
    kinds = ["empty_sea_pan", "empty_road", "empty_sea_glitter"]
    plan, k = [], 0
    for slot in range(slots):
        left = empty / slots
        while left > 0.5:
            d = min(40.0, left)
            plan.append((kinds[k % 3], d))
            k += 1
            left -= d
        if slot < len(order):
            plan.append(order[slot])
    return plan


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out_dir")
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--size", default="1920x1080", help="frame size written, WxH")
    ap.add_argument("--fps", type=int, default=25)
    ap.add_argument("--seed", type=int, default=18)
    ap.add_argument("--name", default="long-sortie")
    ap.add_argument("--crf", type=int, default=23)
    ap.add_argument("--gop-s", type=float, default=2.0, help="seconds between keyframes")
    ap.add_argument("--events", default=",".join(EVENTS), help=f"comma-separated, of {','.join(EVENTS)}")
    args = ap.parse_args()
    out_w, out_h = (int(v) for v in args.size.lower().split("x"))
    events = [e for e in args.events.split(",") if e]
    for e in events:
        if e not in EVENTS:
            ap.error(f"--events: unknown event {e!r}; known: {', '.join(EVENTS)}")
    rng = np.random.default_rng(args.seed)
    plan = schedule(rng, args.minutes * 60.0, events)

    os.makedirs(args.out_dir, exist_ok=True)
    mp4 = os.path.join(args.out_dir, f"{args.name}.mp4")
    scale = [] if (out_w, out_h) == (W, H) else ["-vf", f"scale={out_w}:{out_h}:flags=area"]
    cmd = ["ffmpeg", "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{W}x{H}",
           "-r", str(args.fps), "-i", "-", *scale, "-c:v", "libx264", "-preset", "veryfast",
           "-crf", str(args.crf), "-pix_fmt", "yuv420p", "-g", str(max(1, round(args.gop_s * args.fps))), "-threads", "2",
           "-movflags", "+faststart", "-map_metadata", "-1", mp4]
    enc = subprocess.Popen(cmd, stdin=subprocess.PIPE)
    noise_rng = np.random.default_rng([args.seed, 1])
    # A few noise fields, cycled: sensor noise without drawing a new one per frame.
    noise = [noise_rng.normal(0, 2.0, (H, W, 1)).astype(np.float32) for _ in range(7)]
    fi, t0 = 0, 0.0
    segments, found = [], []
    total_s = sum(s for _, s in plan)
    for name, seconds in plan:
        seg = segment(rng, name, seconds)
        sc = seg["scene"]
        sc.assign_ids(1)
        static = sc.render_static()
        n = max(1, int(round(seconds * args.fps)))
        first_seen = None
        for k in range(n):
            t = k / args.fps
            ox, oy = seg["cam"](k / max(1, n - 1))
            ox = int(round(min(max(ox, 0), sc.w - W)))
            oy = int(round(min(max(oy, 0), sc.h - H)))
            if sc.persons:
                img = sc.render_view(static, ox, oy, W, H, t, None).astype(np.float32)
            else:
                img = np.asarray(static.crop((ox, oy, ox + W, oy + H))).astype(np.float32)
            # Light drifts over minutes (clouds, the sun getting lower).
            g = t0 + t
            light = 1.0 + 0.12 * math.sin(2 * math.pi * g / 240.0) + 0.04 * math.sin(2 * math.pi * g / 37.0)
            img = img * light + noise[fi % len(noise)]
            if seg["glitter"] is not None:
                gx0, gy0, gx1, gy1 = seg["glitter"]
                m = 220
                xs = rng.integers(int(gx0 * W), int(gx1 * W), m)
                ys = rng.integers(int(gy0 * H), int(gy1 * H), m)
                sz = rng.integers(1, 4, m)
                for x, y, r in zip(xs, ys, sz):
                    img[y:y + r, x:x + r] = 250.0
            enc.stdin.write(np.clip(img + 0.5, 0, 255).astype(np.uint8).tobytes())
            if first_seen is None and seg["holder"] is not None:
                oids = {lab["oid"] for lab in sc.labels(ox, oy, W, H, t)}
                if seg["holder"].oid in oids and (not seg["persons"] or any(p.oid in oids for p in seg["persons"])):
                    first_seen = t0 + t
            fi += 1
        segments.append({"name": name, "kind": seg["kind"], "start_s": round(t0, 3),
                         "end_s": round(t0 + n / args.fps, 3)})
        if seg["holder"] is not None:
            found.append({"name": name, "kind": seg["kind"], "segment_start_s": round(t0, 3),
                          "in_view_s": None if first_seen is None else round(first_seen, 3),
                          "persons": len(seg["persons"])})
        t0 += n / args.fps
    enc.stdin.close()
    if enc.wait() != 0:
        sys.exit(f"ffmpeg failed writing {mp4}")
    with open(os.path.join(args.out_dir, f"{args.name}.events.json"), "w") as f:
        json.dump({"video": os.path.basename(mp4), "fps": args.fps, "size": [out_w, out_h], "seed": args.seed,
                   "frames": fi, "duration_s": round(t0, 3),
                   "generator": "python scripts/make_long_sortie.py " + " ".join(sys.argv[1:]),
                   "events": [e for e in found if e["kind"] != "distractor"],
                   "distractors": [e for e in found if e["kind"] == "distractor"],
                   "segments": segments}, f, indent=2)
    print(f"wrote {mp4}: {fi} frames, {t0:.1f} s of {total_s:.1f} planned, "
          f"{sum(1 for e in found if e['kind'] != 'distractor')} events")


if __name__ == "__main__":
    main()
