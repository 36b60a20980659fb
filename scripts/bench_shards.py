#!/usr/bin/env python3
"""Throughput of N `lookout screen --shard K/N` processes at once against one
process, on the same generated batch and machine.

Usage: bench_shards.py LOOKOUT CLIP MODEL OUT [COPIES] [SHARDS] [ROUNDS]

The batch is COPIES (default 6) copies of CLIP in one folder. Each round
screens it with one process, then with SHARDS (default 2) shard processes
started together (split by index, so each gets the same number of copies
and the figure measures the machine, not the luck of the hash), all with
--sample full, so every frame is screened. frames/s is the frames screened
(summed from each run.json) over the wall time from the first start to the
last exit, measured from outside: whole processes, model loading included.
Prints the medians over ROUNDS (default 3) and their ratio.
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import time


def frames(run):
    with open(os.path.join(run, "run.json")) as f:
        return json.load(f)["summary"]["frames_screened"]


def screen(lookout, batch, model, out, run_ids, shards):
    """Runs one process per run id at once; returns (frames, seconds)."""
    procs = []
    t0 = time.perf_counter()
    for k, run_id in enumerate(run_ids):
        cmd = [lookout, "-q", "screen", batch, "--sample", "full", "--model", model,
               "--out", out, "--run-id", run_id]
        if shards > 1:
            cmd += ["--shard", f"{k}/{shards}", "--shard-by", "index"]
        procs.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL))
    for p in procs:
        if p.wait() != 0:
            sys.exit(f"{p.args} exited with {p.returncode}")
    wall = time.perf_counter() - t0
    return sum(frames(os.path.join(out, r)) for r in run_ids), wall


def main():
    lookout, clip, model, out = sys.argv[1:5]
    copies = int(sys.argv[5]) if len(sys.argv) > 5 else 6
    shards = int(sys.argv[6]) if len(sys.argv) > 6 else 2
    rounds = int(sys.argv[7]) if len(sys.argv) > 7 else 3
    batch = os.path.join(out, "shard-batch")
    os.makedirs(batch, exist_ok=True)
    for i in range(copies):
        shutil.copyfile(clip, os.path.join(batch, f"clip{i:02}{os.path.splitext(clip)[1]}"))
    runs = os.path.join(out, "shard-runs")
    one, many = [], []
    for r in range(rounds):
        n1, s1 = screen(lookout, batch, model, runs, [f"one-{r}"], 1)
        nn, sn = screen(lookout, batch, model, runs,
                        [f"shard-{r}-{k}-of-{shards}" for k in range(shards)], shards)
        if n1 != nn:
            sys.exit(f"the shards screened {nn} frames, the single process {n1}")
        one.append(n1 / s1)
        many.append(nn / sn)
    cores = os.cpu_count()
    a, b = statistics.median(one), statistics.median(many)
    print(f"shard batch {copies} x {os.path.basename(clip)}, {n1} frames, {cores} cores")
    print(f"shards_fps_1_process {a:.1f}  (rounds: " + ", ".join(f"{v:.1f}" for v in one) + ")")
    print(f"shards_fps_{shards}_processes {b:.1f}  (rounds: " + ", ".join(f"{v:.1f}" for v in many) + ")")
    print(f"shards_ratio {b / a:.2f}  ({shards} shard processes at once over one process, same machine)")
    if 0.85 <= b / a <= 1.15:
        print(f"About flat on {cores} cores: one process already keeps them busy (decoding and "
              f"inference overlap), so {shards} shards on one machine add nothing; shards pay "
              "across machines, one shard (or a few) per node.")
    else:
        print(f"Not flat on {cores} cores ({b / a:.2f}x): one process leaves cores idle here, "
              "or the shards contend for them.")

if __name__ == "__main__":
    main()
