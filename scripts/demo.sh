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
echo "  events.jsonl    one line per event step: open, update, close"
echo "  events/*/       the best frame of each event: frame.jpg (untouched), annotated.jpg, event.json"
echo "  manifest.jsonl  sha256 of every artefact, hash-chained; manifest.sig signs its head"
python3 - "$RUN" <<'PYEOF'
import json, sys
run = sys.argv[1]
closed = [json.loads(line) for line in open(f"{run}/events.jsonl")]
closed = [e for e in closed if e["step"] == "close"]
print(f"{len(closed)} event(s):")
for e in closed:
    print(f"  {e['event_id']}  {e['start_s']:.1f}-{e['end_s']:.1f} s  peak {e['peak_count']}  {e['reason']}")
    print(f"      -> {run}/{e['artefacts']['annotated']}")
PYEOF
echo
./target/release/lookout verify "$RUN"
echo
echo "Review the events in a browser: ./target/release/lookout serve $OUT"
