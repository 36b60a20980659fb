#!/usr/bin/env python3
"""How many 720p, 25 fps feeds one `lookout watch` holds on this machine,
with full-rate and with adaptive sampling.

    python3 scripts/bench_feeds.py LOOKOUT CLIP MODEL OUT_DIR [SECONDS]

CLIP (best: a generated long sortie, mostly empty footage, as a real patrol
is) is cut to 1280x720 at 25 fps and published N times at once in real
time, looped, as MPEG-TS over UDP on loopback, each copy starting at a
different point of the clip. One `lookout watch` screens all N feeds for
SECONDS (default 40) with MODEL.

A feed is held when its 99th-percentile frame latency (a frame's arrival
at detection to the end of its screening, from run.json) is under 1 s and
at most 5 % of the frames handed to detection were replaced by newer ones
before detection took them (`dropped`). With adaptive sampling a feed
hands over only the frames the sampler wants, so those drops are what the
detector could not keep up with.

  feeds_per_machine_720p           the most feeds all held, full rate
  feeds_per_machine_720p_adaptive  the same with --sample adaptive

N grows one at a time from 1 until a feed is not held.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

LATENCY_S = 1.0
MAX_DROPPED = 0.05


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def trial(lookout, live, duration_clip, model, out, n, mode, seconds):
    ports = [free_udp_port() for _ in range(n)]
    run_id = f"feeds-{mode}-{n}"
    watch = subprocess.Popen(
        [lookout, "watch", *[f"udp://127.0.0.1:{p}" for p in ports], "--model", model,
         "--sample", mode, "--duration", str(seconds + 3), "--out", out, "--run-id", run_id, "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    time.sleep(3)  # let the watch bind its ports before anything is sent
    publishers = [
        subprocess.Popen(
            ["ffmpeg", "-v", "error", "-re", "-stream_loop", "-1",
             "-ss", f"{(i * duration_clip / max(1, n)) % max(1.0, duration_clip - 5):.1f}", "-i", live,
             "-c", "copy", "-f", "mpegts", f"udp://127.0.0.1:{p}?pkt_size=1316"],
            stdin=subprocess.DEVNULL,
        )
        for i, p in enumerate(ports)
    ]
    try:
        _, stderr = watch.communicate(timeout=seconds + 120)
    finally:
        for p in publishers:
            p.kill()
            p.wait()
        if watch.poll() is None:
            watch.kill()
    if watch.returncode != 0:
        sys.exit(f"lookout watch ({n} feeds, {mode}) failed ({watch.returncode}):\n{stderr}")
    feeds = json.load(open(os.path.join(out, run_id, "run.json")))["feeds"]
    rows = []
    for f in feeds:
        handed = f["frames_processed"] + f["dropped"]
        p99 = f["frame_latency_p99_s"]
        held = p99 is not None and p99 < LATENCY_S and f["dropped"] <= MAX_DROPPED * max(1, handed)
        rows.append((held, p99, f["frames_in"], f["frames_processed"], f["dropped"]))
    return rows


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    lookout, clip, model, out = sys.argv[1:5]
    seconds = float(sys.argv[5]) if len(sys.argv) > 5 else 40.0
    live = os.path.join(out, "feed720p25.ts")
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", clip, "-vf", "fps=25,scale=1280:720",
                    "-c:v", "libx264", "-preset", "veryfast", "-g", "50", "-an", live], check=True)
    probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", live],
                           capture_output=True, text=True, check=True)
    duration_clip = float(probe.stdout.strip())
    for mode, name in (("full", "feeds_per_machine_720p"), ("adaptive", "feeds_per_machine_720p_adaptive")):
        held_n = 0
        n = 1
        while n <= 32:
            rows = trial(lookout, live, duration_clip, model, out, n, mode, seconds)
            worst = max((r[1] if r[1] is not None else float("inf")) for r in rows)
            drops = sum(r[4] for r in rows) / max(1, sum(r[3] + r[4] for r in rows))
            ok = all(r[0] for r in rows)
            print(f"  {mode} {n} feed(s): worst p99 {worst * 1000:.0f} ms, dropped {drops:.1%}, "
                  f"screened {sum(r[3] for r in rows)} of {sum(r[2] for r in rows)} frames in: "
                  f"{'held' if ok else 'not held'}")
            if not ok:
                break
            held_n = n
            n += 1
        print(f"{name} {held_n}")


if __name__ == "__main__":
    main()
