#!/usr/bin/env python3
"""Reference TIDE error breakdown from the TIDE authors' own code (tidecv
1.0.1), to cross-check `lookout eval`'s (src/eval/tide.rs).

    PYTHONPATH=DIR .deps/pyeval/bin/python scripts/tide_reference.py GT.json RESULTS.json [--max-dets N]
    PYTHONPATH=DIR .deps/pyeval/bin/python scripts/tide_reference.py --cases OUT.json [--seeds 0 1]

tidecv is not in scripts/requirements-eval.txt: it pulls in opencv-python,
matplotlib, seaborn and pandas for its plots, and the tests do not need it,
since they compare against the numbers this script stored. To run it,
install it beside the venv's numpy and pycocotools, e.g.

    .deps/pyeval/bin/pip install --target /tmp/tidepkgs tidecv==1.0.1 \
        opencv-python-headless matplotlib seaborn pandas appdirs numpy==2.4.6

and pass PYTHONPATH=/tmp/tidepkgs.

The first form prints one line of JSON: TIDE's AP50 and its main and
special errors for one ground truth and results file, as fractions (tidecv
prints them x100):

    {"ap50": .., "main": {"classification": {"dap": .., "count": ..}, "localisation": ..,
     "both": .., "duplicate": .., "background": .., "missed": ..},
     "special": {"false_positives": .., "false_negatives": ..}}

The second form writes the generated cases of scripts/make_eval_cases.py
(seeds 0 and 1 unless --seeds says otherwise) to a temporary folder, runs
the first form's evaluation on each and writes OUT.json, which
tests/eval.rs compares lookout against (tests/data/eval/tide-tidecv.json).
Each case carries the SHA-256 of its gt.json, results.json and cap, so the
test can tell when the generator changed and the file needs regenerating.

How tidecv is called: TIDE() with its defaults (box mode, foreground IoU
0.5, background IoU 0.1) and TIDE.evaluate(gt, preds); the main errors are
TIDERun.fix_main_errors() (tidecv's get_main_errors), the special ones
fix_special_errors(), the counts count_errors(). The ground truth is loaded
as tidecv.datasets.COCO loads it (iscrowd regions become ignore regions,
images in file order) but from the boxes only: datasets.COCO also converts
each annotation's segmentation into a mask, and the generated files have no
segmentation. Its detection cap per image is --max-dets (datasets.COCO
fixes 100). Detections of categories the ground truth does not list are
left out, as lookout leaves them out (as the COCO stats do); tidecv would
score each such class as one more class of AP 0.

Where tidecv divides by zero (every class is left empty by a fix, e.g.
fixing the misses of a run without detections), that figure is null;
lookout reports 0 there.
"""

import argparse
import contextlib
import hashlib
import io
import json
import os
import sys
import tempfile

import numpy as np

# tidecv 1.0.1 predates numpy 2; give it back the aliases numpy removed.
for _name, _alias in (("float", float), ("int", int), ("bool", bool)):
    if not hasattr(np, _name):
        setattr(np, _name, _alias)
os.environ.setdefault("MPLBACKEND", "Agg")

import tidecv  # noqa: E402
from tidecv import TIDE, Data  # noqa: E402
from tidecv.errors.main_errors import (  # noqa: E402
    BackgroundError, BoxError, ClassError, DuplicateError, FalseNegativeError,
    FalsePositiveError, MissedError, OtherError)
from tidecv.errors.qualifiers import Qualifier  # noqa: E402

MAIN = [("classification", ClassError), ("localisation", BoxError), ("both", OtherError),
        ("duplicate", DuplicateError), ("background", BackgroundError), ("missed", MissedError)]
SPECIAL = [("false_positives", FalsePositiveError), ("false_negatives", FalseNegativeError)]


def load(gt_path, res_path, max_dets):
    with open(gt_path) as f:
        coco = json.load(f)
    gt = Data("gt", max_dets=max_dets)
    for img in coco["images"]:
        gt.add_image(img["id"], img["file_name"])
    for cat in coco.get("categories", []):
        gt.add_class(cat["id"], cat["name"])
    for ann in coco.get("annotations", []):
        if ann.get("iscrowd"):
            gt.add_ignore_region(ann["image_id"], ann["category_id"], ann["bbox"], None)
        else:
            gt.add_ground_truth(ann["image_id"], ann["category_id"], ann["bbox"], None)
    cats = {c["id"] for c in coco.get("categories", [])}
    with open(res_path) as f:
        dets = json.load(f)
    preds = Data("results")
    for d in dets:
        if d["category_id"] in cats:
            preds.add_detection(d["image_id"], d["category_id"], d["score"], d["bbox"], None)
    return gt, preds


def frac(v):
    return None if v is None else float(v) / 100.0


def breakdown(gt_path, res_path, max_dets=100):
    gt, preds = load(gt_path, res_path, max_dets)
    tide = TIDE()
    with contextlib.redirect_stdout(io.StringIO()):
        run = tide.evaluate(gt, preds, mode=TIDE.BOX, name="results")
    try:
        main = run.fix_main_errors()
    except ZeroDivisionError:
        # The same figures one at a time, so one empty fix loses only itself.
        main = {}
        for _, err in MAIN:
            try:
                ap = run.fix_errors(Qualifier("", None)._make_error_func(err)).get_mAP()
                main[err] = max(ap - run.ap, 0)
            except ZeroDivisionError:
                main[err] = None
    special = {}
    for name, err in SPECIAL:
        try:
            special[err] = run.fix_special_errors()[err]
        except ZeroDivisionError:
            special[err] = None
    counts = run.count_errors()
    return {
        "ap50": frac(run.ap),
        "main": {name: {"dap": frac(main[err]), "count": int(counts[err])} for name, err in MAIN},
        "special": {name: frac(special[err]) for name, err in SPECIAL},
    }


def fingerprint(case_dir, max_dets):
    h = hashlib.sha256()
    for name in ("gt.json", "results.json"):
        with open(os.path.join(case_dir, name), "rb") as f:
            h.update(f.read())
    h.update(str(max_dets).encode())
    return h.hexdigest()


def cases(out_path, seeds):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import make_eval_cases

    expected = {"tidecv": tidecv.__version__, "numpy": np.__version__,
                "generator": "scripts/make_eval_cases.py", "seeds": {}}
    for seed in seeds:
        with tempfile.TemporaryDirectory() as tmp:
            with contextlib.redirect_stdout(io.StringIO()):
                make_eval_cases.write_cases(tmp, seed)
            per_case = {}
            for name in sorted(os.listdir(tmp)):
                d = os.path.join(tmp, name)
                mpath = os.path.join(d, "max_dets")
                max_dets = int(open(mpath).read()) if os.path.exists(mpath) else 100
                r = breakdown(os.path.join(d, "gt.json"), os.path.join(d, "results.json"), max_dets)
                r["sha256"] = fingerprint(d, max_dets)
                per_case[name] = r
                print(f"seed {seed} {name}: AP50 {r['ap50']:.4f}", file=sys.stderr)
            expected["seeds"][str(seed)] = per_case
    with open(out_path, "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("gt", nargs="?", help="COCO ground-truth JSON")
    ap.add_argument("results", nargs="?", help="COCO results JSON (a list of detections)")
    ap.add_argument("--max-dets", type=int, default=100, metavar="N",
                    help="detections per image that count, all classes together (default 100)")
    ap.add_argument("--cases", metavar="OUT", help="write the generated cases' figures to OUT")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1], metavar="S",
                    help="make_eval_cases.py seeds for --cases (default 0 1)")
    args = ap.parse_args()
    if args.cases:
        cases(args.cases, args.seeds)
    elif args.gt and args.results:
        sys.stdout.write(json.dumps(breakdown(args.gt, args.results, args.max_dets)) + "\n")
    else:
        ap.error("pass GT.json and RESULTS.json, or --cases OUT")


if __name__ == "__main__":
    main()
