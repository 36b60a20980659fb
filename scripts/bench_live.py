#!/usr/bin/env python3
"""Live-mode figures for scripts/bench.sh: latency and memory of `lookout watch`.

A 720p, 25 fps clip made from the sample sortie is published in real time,
looped, as MPEG-TS over UDP on loopback (by the `ffmpeg` command), and
`lookout watch` screens it for SOAK seconds with the demo model.

  live_p99_latency_ms   99th percentile of the time from a frame's arrival
                        (decoded, handed to detection) to the end of its
                        screening: detection, tracking, signatures, and the
                        evidence and alerts of any event it opened. From the
                        watch's own histogram (interpolated within 10-50 ms
                        buckets). Target < 500.
  live_rss_growth_mb    resident memory at the end of the soak minus that after
                        60 s. Target < 20 (for the 600 s soak).

Usage: bench_live.py LOOKOUT CLIP MODEL OUT_DIR [SOAK_SECONDS]
"""

import json
import socket
import subprocess
import sys
import time


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    lookout, clip, model, out = sys.argv[1:5]
    soak = float(sys.argv[5]) if len(sys.argv) > 5 else 600.0
    live = f"{out}/live25.ts"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", clip, "-vf", "fps=25,scale=1280:720",
         "-c:v", "libx264", "-preset", "veryfast", "-g", "25", "-bf", "0", "-an", live],
        check=True,
    )
    port = free_udp_port()
    watch = subprocess.Popen(
        [lookout, "watch", f"udp://127.0.0.1:{port}", "--model", model,
         "--duration", str(soak + 2), "--out", out, "--run-id", "live", "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    time.sleep(2)  # let the watch bind the port before anything is sent
    publisher = subprocess.Popen(
        ["ffmpeg", "-v", "error", "-re", "-stream_loop", "-1", "-i", live,
         "-c", "copy", "-f", "mpegts", f"udp://127.0.0.1:{port}?pkt_size=1316"],
        stdin=subprocess.DEVNULL,
    )
    try:
        t0 = time.time()
        samples = []
        # RSS every 30 s from 60 s on; the last just before the watch stops.
        for at in [60.0] + [t for t in range(90, int(soak), 30)] + [soak - 1]:
            if at > soak - 1:
                continue
            time.sleep(max(0.0, t0 + at - time.time()))
            samples.append((at, rss_mb(watch.pid)))
        stdout, stderr = watch.communicate(timeout=120)
    finally:
        publisher.kill()
        publisher.wait()
        if watch.poll() is None:
            watch.kill()
    if watch.returncode != 0:
        sys.exit(f"lookout watch failed ({watch.returncode}):\n{stderr}")
    run = json.load(open(f"{out}/live/run.json"))
    feed = run["feeds"][0]
    wall = run["summary"]["wall_s"]
    print(f"live stream 1280x720 at 25 fps over UDP, {soak:.0f} s soak, "
          f"{feed['frames_in']} frames in, {feed['frames_processed']} screened, "
          f"{feed['dropped']} dropped, {feed['events']} events, "
          f"{feed['reconnects']} reconnects")
    print(f"live_fps_in {feed['frames_in'] / wall:.1f}  live_fps_processed {feed['frames_processed'] / wall:.1f}")
    p50, p99 = feed["frame_latency_p50_s"], feed["frame_latency_p99_s"]
    alert = feed["alert_latency_p99_s"]
    print(f"live_p50_latency_ms {p50 * 1000:.0f}")
    print(f"live_p99_latency_ms {p99 * 1000:.0f}" if p99 is not None else "live_p99_latency_ms over 10000")
    print(f"live_alert_p99_latency_ms {alert * 1000:.0f}" if alert is not None else "live_alert_p99_latency_ms none")
    series = ", ".join(f"{t:.0f}s {m:.1f}" for t, m in samples)
    print(f"live_rss_mb_series {series}")
    if len(samples) >= 2:
        print(f"live_rss_growth_mb {samples[-1][1] - samples[0][1]:.1f}  "
              f"(RSS at {samples[-1][0]:.0f} s minus RSS at {samples[0][0]:.0f} s)")


if __name__ == "__main__":
    main()
