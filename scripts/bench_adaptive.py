#!/usr/bin/env python3
"""Adaptive sampling against full rate, on the same videos, back to back.

    python3 scripts/bench_adaptive.py LOOKOUT MODEL OUT_DIR [NAME=]VIDEO...

For each video, `lookout screen --sample full` and then `--sample adaptive`
(whole process, wall clock), and prints:

  screen_x_realtime_full      video seconds per wall second at full rate
  screen_x_realtime_adaptive  the same with adaptive sampling
  adaptive_event_recall       events of the full run that the adaptive run
                              also opened (same signature, opening within
                              1 s after the full run's), over all videos
  adaptive_first_flag_delay_s the largest of those openings' delays
  adaptive_inferred_share     frames inferred over frames in the videos

The figures for the last video come last, and the bench reads those: it
passes the longest, most realistic video last. A video given as NAME=PATH
prints its per-video figures with `_NAME` after the key
(`screen_x_realtime_adaptive_gop2s`); recall and delay are over all videos.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time


def screen(lookout, model, out, video, mode, run_id):
    t0 = time.monotonic()
    run = subprocess.run([lookout, "screen", video, "--model", model, "--sample", mode,
                          "--out", out, "--run-id", run_id, "--quiet"], capture_output=True, text=True)
    wall = time.monotonic() - t0
    if run.returncode != 0:
        sys.exit(f"lookout screen {video} --sample {mode} failed ({run.returncode}): {run.stderr.strip()}")
    folder = run.stdout.strip().splitlines()[-1]
    record = json.load(open(os.path.join(folder, "run.json")))
    source = record["sources"][0]
    opened = []
    with open(os.path.join(folder, "events.jsonl")) as f:
        for line in f:
            e = json.loads(line)
            if e.get("step") == "open":
                opened.append((e["signature"], e["at"]["pts_s"]))
    duration = (source.get("info") or {}).get("duration_s")
    return wall, duration, source.get("sampling") or {}, opened


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    lookout, model, out = sys.argv[1:4]
    videos = sys.argv[4:]
    found = matched = 0
    worst_delay = 0.0
    for i, arg in enumerate(videos):
        name, _, video = arg.rpartition("=") if "=" in arg and not os.path.exists(arg) else ("", "", arg)
        key = f"_{name}" if name else ""
        wall_f, duration, samp_f, full = screen(lookout, model, out, video, "full", f"full{i}")
        wall_a, _, samp_a, adaptive = screen(lookout, model, out, video, "adaptive", f"adaptive{i}")
        delays = []
        for sig, t in full:
            later = [a - t for s, a in adaptive if s == sig and -0.5 <= a - t <= 1.0]
            if later:
                delays.append(max(0.0, min(later)))
        found += len(full)
        matched += len(delays)
        worst_delay = max([worst_delay] + delays)
        frames = samp_f.get("decoded", 0) + samp_f.get("not_decoded", 0)
        print(f"video {video}: {duration:.1f} s, {frames} frames; {len(full)} events at full rate, "
              f"{len(delays)} of them found adaptively, {len(adaptive)} adaptive events")
        print(f"  full     {wall_f:.1f} s wall, inferred {samp_f.get('inferred')}")
        print(f"  adaptive {wall_a:.1f} s wall, inferred {samp_a.get('inferred')} "
              f"({samp_a.get('inferred_because')}), decoded {samp_a.get('decoded')}, "
              f"not decoded {samp_a.get('not_decoded')}, looked {samp_a.get('looked')}, "
              f"probes discarded {samp_a.get('probes_discarded', 0)}")
        print(f"screen_x_realtime_full{key} {duration / wall_f:.2f}")
        print(f"screen_x_realtime_adaptive{key} {duration / wall_a:.2f}")
        print(f"adaptive_inferred_share{key} {samp_a.get('inferred', 0) / max(1, frames):.3f}")
    print(f"adaptive_event_recall {matched / found if found else float('nan'):.3f}  ({matched} of {found} events)")
    print(f"adaptive_first_flag_delay_s {worst_delay:.2f}")


if __name__ == "__main__":
    main()
