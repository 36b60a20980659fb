#!/usr/bin/env python3
"""Check that the shard runs of a batch together equal one unsharded run.

    python3 scripts/deploy/union_check.py WHOLE_RUN SHARD_RUN...

WHOLE_RUN is the run folder of `lookout screen INPUTS` and the SHARD_RUNs
those of `lookout screen INPUTS --shard K/N` for K = 0 to N-1 (a Slurm job
array, a Kubernetes Indexed Job). The union holds when:

  - every event is closed once: no event id is closed twice in one run or
    in two shards (a retried task that wrote an event again would show here);
  - the shards' closed event ids are the whole run's;
  - every file under events/ in the manifests (frame, annotated frame,
    event.json, clips) is in exactly one shard, with the whole run's sha256
    (the last manifest entry of a path counts: a resumed run may rewrite);
  - when the whole run saved detections (--save-detections), the shards'
    detections.jsonl lines are the whole run's, as a multiset;
  - every shard finished.

It checks what the runs say; `lookout verify` checks that they hold (files,
hash chain, seal). Prints every difference and exits 1 when there is any,
2 when a folder is not a run; standard library only.
"""
from __future__ import annotations

import collections
import json
import os
import sys


def jsonl(path):
    """The JSON lines of a file, or [] where it is missing."""
    if not os.path.exists(path):
        return []
    out = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError as e:
                    sys.exit(f"{path}:{n}: not JSON: {e}")
    return out


class Run:
    def __init__(self, folder):
        self.folder = folder
        manifest = os.path.join(folder, "manifest.jsonl")
        if not os.path.isfile(manifest):
            print(f"{folder}: not a run folder (no manifest.jsonl)", file=sys.stderr)
            sys.exit(2)
        self.files = {}
        for entry in jsonl(manifest):
            path = entry.get("path", "")
            if path.startswith("events/"):
                self.files[path] = entry.get("sha256")
        self.closed = collections.Counter(
            e["event_id"]
            for e in jsonl(os.path.join(folder, "events.jsonl"))
            if e.get("step") == "close"
        )
        self.detections = [
            line.rstrip("\n")
            for line in open_lines(os.path.join(folder, "detections.jsonl"))
        ]
        try:
            with open(os.path.join(folder, "run.json"), encoding="utf-8") as f:
                self.record = json.load(f)
        except (OSError, json.JSONDecodeError) as e:
            print(f"{folder}: run.json: {e}", file=sys.stderr)
            sys.exit(2)


def open_lines(path):
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [line for line in f if line.strip()]


def main(argv):
    if len(argv) < 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    whole = Run(argv[0])
    shards = [Run(a) for a in argv[1:]]
    problems = []

    for run in [whole] + shards:
        for event_id, times in sorted(run.closed.items()):
            if times > 1:
                problems.append(f"{run.folder}: event {event_id} closed {times} times")
    for run in shards:
        status = run.record.get("status")
        if status != "finished":
            problems.append(f"{run.folder}: status {status!r}, not finished")

    # Event ids and evidence files, each in one shard only.
    closed_in = collections.defaultdict(list)
    file_in = collections.defaultdict(list)
    union_files = {}
    for run in shards:
        for event_id in run.closed:
            closed_in[event_id].append(run.folder)
        for path, sha in run.files.items():
            file_in[path].append(run.folder)
            union_files[path] = sha
    for event_id, folders in sorted(closed_in.items()):
        if len(folders) > 1:
            problems.append(f"event {event_id} closed in {len(folders)} shards: {', '.join(folders)}")
    for path, folders in sorted(file_in.items()):
        if len(folders) > 1:
            problems.append(f"{path} in {len(folders)} shards: {', '.join(folders)}")

    for event_id in sorted(set(whole.closed) - set(closed_in)):
        problems.append(f"event {event_id}: in the whole run, in no shard")
    for event_id in sorted(set(closed_in) - set(whole.closed)):
        problems.append(f"event {event_id}: in shard {closed_in[event_id][0]}, not in the whole run")
    for path in sorted(set(whole.files) | set(union_files)):
        a, b = whole.files.get(path), union_files.get(path)
        if a is None:
            problems.append(f"{path}: in shard {file_in[path][0]}, not in the whole run")
        elif b is None:
            problems.append(f"{path}: in the whole run, in no shard")
        elif a != b:
            problems.append(f"{path}: sha256 {b} in shard {file_in[path][0]}, {a} in the whole run")

    if whole.detections:
        want = collections.Counter(whole.detections)
        got = collections.Counter(line for run in shards for line in run.detections)
        missing, extra = want - got, got - want
        for line, times in sorted(missing.items())[:10]:
            problems.append(f"detection missing from the shards ({times}x): {line[:200]}")
        for line, times in sorted(extra.items())[:10]:
            problems.append(f"detection in the shards, not the whole run ({times}x): {line[:200]}")
        if len(missing) + len(extra) > 20:
            problems.append(f"... {len(missing)} detection lines missing, {len(extra)} extra in all")

    for p in problems:
        print(f"union: {p}")
    if problems:
        print(f"union: FAILED: {len(problems)} difference(s) between {len(shards)} shard run(s) and {whole.folder}")
        return 1
    detections = f", {len(whole.detections)} detections" if whole.detections else ""
    print(
        f"union: {len(shards)} shard run(s) equal {whole.folder}: "
        f"{len(whole.closed)} events, {len(whole.files)} evidence files{detections}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
