#!/usr/bin/env bash
# The demo: set up if needed, build in release, screen the sample sortie
# with the bundled demo model, and say where the evidence is.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh
cargo build --release --locked
OUT="${OUT:-runs}"
RUN="$(./target/release/lookout screen tests/data/sample-sortie.mp4 --out "$OUT" "$@")"
echo
echo "Evidence for review is in $RUN/:"
echo "  run.json        what ran: tool version, config, model sha256, inputs with sha256"
echo "  events.jsonl    one line per flagged frame"
echo "  events/*/       frame.jpg (untouched), annotated.jpg, event.json"
echo "  manifest.jsonl  sha256 of every artefact, hash-chained"
n=$(wc -l < "$RUN/events.jsonl")
echo "$n flagged frame(s). First few:"
head -n 5 "$RUN/events.jsonl" | python3 -c '
import json, sys
for line in sys.stdin:
    e = json.loads(line)
    t = e.get("pts_s")
    print(f"  {e[\"event_id\"]}  t={t:.1f}s  " + "; ".join(f["reason"] for f in e["flags"]))
' 2>/dev/null || true
