#!/usr/bin/env python3
"""Reference COCO bbox evaluation, to cross-check and benchmark `lookout eval`.

    .deps/pyeval/bin/python scripts/coco_reference.py GT.json RESULTS.json \
        [--max-dets N] [--impl pycocotools|faster|hotcoco] [--verbose]

GT.json is a COCO ground-truth file; RESULTS.json a COCO results list
([{"image_id", "category_id", "bbox": [x, y, w, h], "score"}, ...]). The
evaluation is COCOeval(iouType="bbox") with params.maxDets = [1, 10, N]
(default N = 100), run through evaluate(), accumulate() and summarize().

Prints one line of JSON to stdout:

    {"stats": {"AP": .., "AP50": .., "AP75": .., "APs": .., "APm": .., "APl": ..,
               "AR1": .., "AR10": .., "AR100": .., "ARs": .., "ARm": .., "ARl": ..},
     "seconds": .., "impl": "pycocotools" | "faster" | "hotcoco"}

The stats are the library's stats[0..11] in its order. "AR100" is the AR at
the last maxDets entry (N), as summarize() computes it. Caveat, kept as is
because this is the reference: pycocotools computes stats[0] ("AP") at
maxDets=100 whatever params.maxDets holds, so with --max-dets N != 100 its
"AP" is -1 (no such maxDets entry), while AP50..APl and ARs..ARl use N.
faster-coco-eval computes "AP" at N instead.

Each library is used the way its documentation shows: pycocotools and
faster-coco-eval are handed the results list parsed by Python's json module
(what their loadRes(path) does itself), hotcoco is handed the results path
(its load_res parses the file in Rust, its fastest path).

"seconds" is the wall time from loading the two JSON files to the stats,
in the process, after the imports. scripts/bench.sh times the whole
process instead (interpreter start, imports, loading, evaluation), as it
times `lookout eval` with its reports.
The libraries' own progress output is suppressed (--verbose sends it to stderr).

An empty results list is evaluated as an empty detection set (pycocotools'
loadRes cannot take one): AP and AR come out 0 where a category has ground
truth, -1 where nothing has.
"""

import argparse
import contextlib
import copy
import io
import json
import sys
import time

KEYS = ["AP", "AP50", "AP75", "APs", "APm", "APl",
        "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]


def empty_results(coco_cls, gt):
    """A result set with the GT's images and categories and no annotations,
    shaped like what loadRes builds for a non-empty list."""
    res = coco_cls()
    res.dataset["info"] = copy.deepcopy(gt.dataset.get("info", {}))
    res.dataset["images"] = [img for img in gt.dataset["images"]]
    res.dataset["categories"] = copy.deepcopy(gt.dataset.get("categories", []))
    res.dataset["annotations"] = []
    res.createIndex()
    return res


def evaluate(impl, gt_path, res_path, max_dets):
    if impl == "pycocotools":
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval as Eval
        eval_kwargs = {}
    elif impl == "hotcoco":
        from hotcoco import COCO, COCOeval as Eval
        eval_kwargs = {}
    else:
        from faster_coco_eval import COCO, COCOeval_faster as Eval
        eval_kwargs = {"print_function": lambda *a, **k: None}

    t0 = time.perf_counter()
    gt = COCO(gt_path)
    if impl == "hotcoco":
        dt = gt.load_res(res_path)
    else:
        with open(res_path) as f:
            anns = json.load(f)
        if not isinstance(anns, list):
            raise SystemExit(f"{res_path}: results must be a JSON list of detections")
        if anns or impl == "faster":  # faster-coco-eval's loadRes takes an empty list
            dt = gt.loadRes(anns)
        else:
            dt = empty_results(COCO, gt)
    ev = Eval(gt, dt, iouType="bbox", **eval_kwargs)
    if ev.params.iouType != "bbox":
        raise SystemExit(f"internal error: iouType is {ev.params.iouType!r}, not bbox")
    ev.params.maxDets = [1, 10, max_dets]
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
    stats = [float(s) for s in ev.stats[:12]]
    seconds = time.perf_counter() - t0
    return stats, seconds


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("gt", help="COCO ground-truth JSON")
    ap.add_argument("results", help="COCO results JSON (a list of detections)")
    ap.add_argument("--max-dets", type=int, default=100, metavar="N",
                    help="last maxDets entry: params.maxDets = [1, 10, N] (default 100)")
    ap.add_argument("--impl", choices=["pycocotools", "faster", "hotcoco"], default="pycocotools",
                    help="pycocotools (default), faster-coco-eval's COCOeval_faster, or hotcoco")
    ap.add_argument("--verbose", action="store_true",
                    help="send the library's progress output to stderr instead of dropping it")
    args = ap.parse_args()
    if args.max_dets < 1:
        ap.error("--max-dets must be at least 1")

    sink = sys.stderr if args.verbose else io.StringIO()
    with contextlib.redirect_stdout(sink):
        stats, seconds = evaluate(args.impl, args.gt, args.results, args.max_dets)
    out = {"stats": dict(zip(KEYS, stats)), "seconds": seconds, "impl": args.impl}
    sys.stdout.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
