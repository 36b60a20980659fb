#!/usr/bin/env python3
"""How `lookout serve` copes with a large review: N events (default 20,000).

Writes a synthetic run folder of N closed events (events.jsonl, one small
event.json each, a manifest listing them; the frames are not needed for the
list), starts `lookout serve` on it, and prints:

  review_startup_s       from start until the server printed its address
                         (it reads every event.json for its score)
  review_list_p50_ms     GET /api/events over HTTP: a page of 50 with a
  review_list_p99_ms     status filter and a sort, at offsets across the list

Usage: bench_review.py LOOKOUT OUT_DIR [N]
"""

import json
import os
import random
import statistics
import subprocess
import sys
import time
import urllib.request


def main():
    lookout, out = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 20000
    run = os.path.join(out, "big")
    os.makedirs(os.path.join(run, "events"), exist_ok=True)
    rng = random.Random(7)
    signatures = ["people-in-container", "overcrowded-vessel", "quay"]
    with open(os.path.join(run, "events.jsonl"), "w") as ev, open(os.path.join(run, "manifest.jsonl"), "w") as man:
        for i in range(n):
            sig = signatures[i % 3]
            eid = f"{sig}-s{i % 40:03d}-{i:05d}"
            d = os.path.join(run, "events", eid)
            os.makedirs(d, exist_ok=True)
            event = {"event_id": eid, "best_frame": {"mean_score": rng.random(), "tracks": []},
                     "artefacts": {"frame": f"events/{eid}/frame.jpg", "annotated": f"events/{eid}/annotated.jpg"}}
            with open(os.path.join(d, "event.json"), "w") as f:
                json.dump(event, f)
            line = {"step": "close", "event_id": eid, "signature": sig, "kind": "zone",
                    "count": rng.randint(1, 30), "peak_count": rng.randint(1, 40),
                    "source": {"id": i % 40, "path": f"sortie-{i % 40}.mp4"},
                    "start_s": i * 1.5, "end_s": i * 1.5 + 4, "artefacts": event["artefacts"]}
            ev.write(json.dumps(line) + "\n")
            man.write(json.dumps({"seq": i, "path": f"events/{eid}/event.json"}) + "\n")
    with open(os.path.join(run, "run.json"), "w") as f:
        json.dump({"run_id": "big", "model": {}, "thresholds": {}}, f)

    token = "bench-token-0123456789abcdef"
    t0 = time.time()
    server = subprocess.Popen([lookout, "serve", run, "--listen", "127.0.0.1:0", "--token", token],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = server.stdout.readline()
        startup = time.time() - t0
        base = line.strip().split("/?token=")[0]
        times = []
        for k in range(200):
            status = ["", "new"][k % 2]
            sort = ["time", "score", "count", "signature"][k % 4]
            offset = (k * 997) % n
            url = f"{base}/api/events?status={status}&sort={sort}&desc=true&offset={offset}&limit=50"
            req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
            t = time.perf_counter()
            with urllib.request.urlopen(req) as r:
                body = json.load(r)
            times.append((time.perf_counter() - t) * 1000)
            assert body["total"] == n, body["total"]
        times.sort()
        print(f"review events {n}")
        print(f"review_startup_s {startup:.2f}")
        print(f"review_list_p50_ms {statistics.median(times):.1f}")
        print(f"review_list_p99_ms {times[int(len(times) * 0.99) - 1]:.1f}")
    finally:
        server.kill()
        server.wait()


if __name__ == "__main__":
    main()
