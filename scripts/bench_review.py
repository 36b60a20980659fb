#!/usr/bin/env python3
"""How `lookout serve` copes with a large review: N events (default 20,000),
with SQLite in the run folder (the default) and with the PostgreSQL store.

Screens CLIP once for one real closed event, then writes a run folder of N
copies of it (events.jsonl, one event.json each under its own id, score,
count, source and time; a manifest listing them; the frames are not needed
for the list). Then, for each store, starts `lookout serve` on it and asks
for pages. Prints:

  review_startup_s        SQLite: from start until the server printed its
                          address (it reads every event.json for its score)
  review_list_p50_ms      GET /api/events over HTTP: a page of 50 with a
  review_list_p99_ms      status filter and a sort, at offsets across the list
  review_pg_import_s      `lookout store import` of the run into a PostgreSQL
                          started here by scripts/pg-local.sh
  review_pg_startup_s     serve --store: start until the address
  review_pg_list_p50_ms   the same 200 requests against serve --store
  review_pg_list_p99_ms

The PostgreSQL half is skipped, and says so, where Debian's postgresql is
not installed.

Usage: bench_review.py LOOKOUT OUT_DIR [N] [CLIP] [MODEL]
"""

import copy
import glob
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOKEN = "bench-token-0123456789abcdef"


def seed_event(lookout, out, clip, model):
    """One real closed event: its close line, its event.json and run.json."""
    seed = os.path.join(out, "seed")
    subprocess.run([lookout, "-q", "screen", clip, "--model", model, "--out", seed,
                    "--run-id", "seed"], check=True, stdout=subprocess.DEVNULL)
    run = os.path.join(seed, "seed")
    with open(os.path.join(run, "events.jsonl")) as f:
        close = next(json.loads(l) for l in f if '"step":"close"' in l)
    with open(os.path.join(run, "events", close["event_id"], "event.json")) as f:
        event = json.load(f)
    with open(os.path.join(run, "run.json")) as f:
        record = json.load(f)
    return close, event, record


def write_run(run, n, close, event, record):
    os.makedirs(os.path.join(run, "events"), exist_ok=True)
    rng = random.Random(7)
    signatures = ["people-in-container", "overcrowded-vessel", "quay"]
    event = copy.deepcopy(event)
    event["tracks"] = event["tracks"][:1]
    with open(os.path.join(run, "events.jsonl"), "w") as ev, \
            open(os.path.join(run, "manifest.jsonl"), "w") as man:
        for i in range(n):
            sig = signatures[i % 3]
            eid = f"{sig}-s{i % 40:03d}-{i:05d}"
            artefacts = {k: f"events/{eid}/{name}" for k, name in
                         [("frame", "frame.jpg"), ("annotated", "annotated.jpg"), ("event", "event.json")]}
            common = {"event_id": eid, "signature": sig,
                      "source": {"id": i % 40, "path": f"sortie-{i % 40}.mp4"},
                      "start_s": i * 1.5, "end_s": i * 1.5 + 4,
                      "count": rng.randint(1, 30), "peak_count": rng.randint(1, 40),
                      "artefacts": artefacts}
            e = {**event, **common}
            e["best_frame"] = {**event["best_frame"], "mean_score": rng.random()}
            d = os.path.join(run, "events", eid)
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, "event.json"), "w") as f:
                json.dump(e, f)
            ev.write(json.dumps({**close, **common}) + "\n")
            man.write(json.dumps({"seq": i, "path": f"events/{eid}/event.json"}) + "\n")
    with open(os.path.join(run, "run.json"), "w") as f:
        json.dump({**record, "run_id": "big"}, f)


def serve(lookout, run, n, extra=()):
    """Starts serve, asks for 200 pages; returns (startup_s, sorted times)."""
    t0 = time.time()
    server = subprocess.Popen([lookout, "serve", run, "--listen", "127.0.0.1:0", "--token", TOKEN,
                               *extra], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = server.stdout.readline()
        startup = time.time() - t0
        if "/?token=" not in line:
            sys.exit(f"serve {' '.join(extra)} did not start: {line!r}")
        base = line.strip().split("/?token=")[0]
        times = []
        for k in range(200):
            status = ["", "new"][k % 2]
            sort = ["time", "score", "count", "signature"][k % 4]
            offset = (k * 997) % n
            url = f"{base}/api/events?status={status}&sort={sort}&desc=true&offset={offset}&limit=50"
            req = urllib.request.Request(url, headers={"Authorization": f"Bearer {TOKEN}"})
            t = time.perf_counter()
            with urllib.request.urlopen(req) as r:
                body = json.load(r)
            times.append((time.perf_counter() - t) * 1000)
            assert body["total"] == n, body["total"]
        return startup, sorted(times)
    finally:
        server.kill()
        server.wait()


def p99(times):
    return times[int(len(times) * 0.99) - 1]


def main():
    lookout, out = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 20000
    clip = sys.argv[4] if len(sys.argv) > 4 else os.path.join(ROOT, "tests/data/sample-sortie.mp4")
    model = sys.argv[5] if len(sys.argv) > 5 else os.path.join(ROOT, "models/lookout-demo.onnx")
    run = os.path.join(out, "big")
    write_run(run, n, *seed_event(lookout, out, clip, model))

    startup, times = serve(lookout, run, n)
    print(f"review events {n}")
    print(f"review_startup_s {startup:.2f}")
    print(f"review_list_p50_ms {statistics.median(times):.1f}")
    print(f"review_list_p99_ms {p99(times):.1f}")

    if not glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        print("review_pg skipped: PostgreSQL is not installed (Debian package postgresql)")
        return
    pg = os.path.join("/tmp", f"lookout-bench-pg-{os.getpid()}")
    url = subprocess.run(["bash", os.path.join(ROOT, "scripts/pg-local.sh"), "start", pg],
                         check=True, capture_output=True, text=True).stdout.strip()
    try:
        t = time.perf_counter()
        subprocess.run([lookout, "-q", "store", "import", run, "--store", url], check=True,
                       stdout=subprocess.DEVNULL)
        imported = time.perf_counter() - t
        startup, times = serve(lookout, run, n, ["--store", url])
        print(f"review_pg_import_s {imported:.2f}")
        print(f"review_pg_startup_s {startup:.2f}")
        print(f"review_pg_list_p50_ms {statistics.median(times):.1f}")
        print(f"review_pg_list_p99_ms {p99(times):.1f}  (SQLite: the p99 above; PostgreSQL on "
              "loopback, same machine)")
    finally:
        subprocess.run(["bash", os.path.join(ROOT, "scripts/pg-local.sh"), "stop", pg],
                       stdout=subprocess.DEVNULL)


if __name__ == "__main__":
    main()
