"""Cost of `lookout export --redact` against the same export without it.

Exports every event of one run as a bundle, ROUNDS times each way, back to
back, and prints the medians and their difference per event:

    export_plain_s      bundle of all events, untouched frames
    export_redact_s     the same with --redact (CenterFace and the run's
                        detector on each frame, blurring, PNG encoding)
    redact_s_per_event  (export_redact_s - export_plain_s) / events

    python3 scripts/bench_redact.py target/release/lookout RUN_DIR OUT_DIR [ROUNDS]
"""

import json
import statistics
import subprocess
import sys
import time


def main(lookout, run, out, rounds):
    with open(f"{run}/events.jsonl") as f:
        events = sum(1 for line in f if json.loads(line).get("step") == "close")
    if events == 0:
        sys.exit(f"{run}: no closed events to export")

    def median_seconds(extra, name):
        times = []
        for i in range(rounds):
            start = time.perf_counter()
            subprocess.run(
                [lookout, "export", run, "--format", "bundle", "--events", "all",
                 "-o", f"{out}/{name}{i}.zip", *extra],
                check=True, capture_output=True)
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    plain = median_seconds([], "plain")
    redacted = median_seconds(["--redact"], "redacted")
    print(f"redact_events {events}")
    print(f"export_plain_s {plain:.3f}")
    print(f"export_redact_s {redacted:.3f}")
    print(f"redact_s_per_event {(redacted - plain) / events:.3f}")


if __name__ == "__main__":
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]) if len(sys.argv) == 5 else 5)
