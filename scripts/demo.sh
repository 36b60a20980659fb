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
python3 - "$RUN" <<'PYEOF'
import json, sys
run = sys.argv[1]
events = [json.loads(line) for line in open(f"{run}/events.jsonl")]
print(f"{len(events)} flagged frame(s). The first and the last few:")
shown = events[:3] + (events[-3:] if len(events) > 6 else events[3:])
for e in shown:
    reasons = "; ".join(f["reason"] for f in e["flags"])
    print(f"  {e['event_id']}  t={e['pts_s']:.1f}s  {reasons}  -> {run}/{e['artefacts']['annotated']}")
PYEOF
