//! COCO box evaluation, equal to pycocotools' `COCOeval` (iouType `bbox`).
//!
//! Every rule of pycocotools is reproduced, including the ones that surprise:
//! - a crowd ground truth (`iscrowd`) is matched by IoU = intersection over
//!   the *detection's* area, can absorb any number of detections, and is
//!   never a miss; detections matched to it are ignored;
//! - the area ranges test the annotation's `area` field, not its box; a
//!   detection's area is its box `w * h` (as `loadRes` sets it);
//! - detections are sorted by score with a stable sort, so ties keep the
//!   order of the results file, within an image and across images;
//! - at most `max_dets[2]` detections per image and category are matched;
//!   AR at 1 and 10 truncate further; `AP` (stats[0]) is taken at a cap of
//!   100 whatever the caps are, so with a raised cap it is -1, as in
//!   pycocotools ([`Evaluation::ap_at_cap`] gives the figure at the cap);
//! - a detection matched to a ground truth whose id is 0 counts as
//!   unmatched (pycocotools tests the matched id for truth);
//! - among ground truths of equal IoU the last one wins, and a detection
//!   matched to a real object does not move to an ignored one;
//! - precision is interpolated at 101 recall points, made monotone from the
//!   right, and a recall point beyond the curve's reach counts as 0;
//! - a category without unignored ground truth in an area range is left out
//!   of the mean (-1), and a stat with nothing to average is -1;
//! - images in the ground truth without any annotation still count (their
//!   detections are false positives); detections of categories the ground
//!   truth does not list are not evaluated.
//!
//! Thresholds are built the way numpy's `linspace` builds them, so an IoU
//! exactly on a threshold is judged as pycocotools judges it.

use rayon::prelude::*;
use serde::Serialize;

use super::{Dataset, EvalError, IdMap, IdSet, Prediction};

/// `np.spacing(1)`: pycocotools' guard against dividing by zero.
const EPS: f64 = f64::EPSILON;

/// Area ranges: all, small, medium, large (pixels², inclusive bounds).
pub const AREA_RANGES: [(&str, [f64; 2]); 4] = [
    ("all", [0.0, 1e10]),
    ("small", [0.0, 1024.0]),
    ("medium", [1024.0, 9216.0]),
    ("large", [9216.0, 1e10]),
];

/// numpy's `linspace(start, stop, num)`.
fn linspace(start: f64, stop: f64, num: usize) -> Vec<f64> {
    let step = (stop - start) / (num - 1) as f64;
    let mut v: Vec<f64> = (0..num).map(|i| i as f64 * step + start).collect();
    v[num - 1] = stop;
    v
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Params {
    pub iou_thrs: Vec<f64>,
    pub rec_thrs: Vec<f64>,
    /// Detections per image for AR@1, AR@10 and everything else.
    pub max_dets: [usize; 3],
}

impl Params {
    /// pycocotools' defaults, with the last detection cap `max_dets`
    /// (100 in pycocotools).
    pub fn new(max_dets: usize) -> Params {
        Params {
            iou_thrs: linspace(0.5, 0.95, 10),
            rec_thrs: linspace(0.0, 1.0, 101),
            max_dets: [1, 10, max_dets],
        }
    }
}

impl Default for Params {
    fn default() -> Self {
        Params::new(100)
    }
}

/// The twelve numbers of `COCOeval.summarize()`, in its order and meaning.
/// `ar100` is AR at `max_dets[2]`, as in pycocotools.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Stats {
    #[serde(rename = "AP")]
    pub ap: f64,
    #[serde(rename = "AP50")]
    pub ap50: f64,
    #[serde(rename = "AP75")]
    pub ap75: f64,
    #[serde(rename = "APs")]
    pub aps: f64,
    #[serde(rename = "APm")]
    pub apm: f64,
    #[serde(rename = "APl")]
    pub apl: f64,
    #[serde(rename = "AR1")]
    pub ar1: f64,
    #[serde(rename = "AR10")]
    pub ar10: f64,
    #[serde(rename = "AR100")]
    pub ar100: f64,
    #[serde(rename = "ARs")]
    pub ars: f64,
    #[serde(rename = "ARm")]
    pub arm: f64,
    #[serde(rename = "ARl")]
    pub arl: f64,
}

impl Stats {
    pub const NAMES: [&'static str; 12] = [
        "AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl",
    ];

    pub fn values(&self) -> [f64; 12] {
        [
            self.ap, self.ap50, self.ap75, self.aps, self.apm, self.apl, self.ar1, self.ar10,
            self.ar100, self.ars, self.arm, self.arl,
        ]
    }
}

/// Whether `iou` passes pycocotools' test against `floor`, which skips a
/// ground truth when `iou < floor`: NaN (from boxes too large for f64)
/// passes.
fn reaches(iou: f64, floor: f64) -> bool {
    !matches!(iou.partial_cmp(&floor), Some(std::cmp::Ordering::Less))
}

/// One image and category after matching, in every area range.
#[derive(Debug, Clone, Default)]
struct ImageEval {
    /// Detection scores, best first (stable), capped at `max_dets[2]`.
    scores: Vec<f64>,
    /// Per area range then detection: (matched, ignored). Bit `t` of the
    /// first is set when the detection is matched (to a non-zero gt id) at
    /// IoU threshold `t`, of the second when it is ignored at `t`.
    bits: Vec<(u64, u64)>,
    /// Per area range: ground truths that are not ignored.
    npig: [usize; 4],
}

impl ImageEval {
    /// The (matched, ignored) bits of detection `d` in area range `a`.
    fn bits(&self, a: usize, d: usize) -> (u64, u64) {
        self.bits[a * self.scores.len() + d]
    }
}

/// Buffers of one worker, reused from image to image.
#[derive(Default)]
struct Scratch<'a> {
    anns: Vec<&'a super::Annotation>,
    dets: Vec<&'a Prediction>,
    /// Per detection, where its candidates start (and the end).
    starts: Vec<usize>,
    /// Ground truths (index, IoU) each detection may match.
    candidates: Vec<(u32, f64)>,
    ignore: Vec<bool>,
    taken: Vec<u64>,
}

/// The IoU thresholds fit the bits of a `u64`.
const MAX_THRESHOLDS: usize = 64;

/// The bits of `nt` thresholds.
fn threshold_bits(nt: usize) -> u64 {
    if nt >= MAX_THRESHOLDS {
        u64::MAX
    } else {
        (1u64 << nt) - 1
    }
}

/// The result of an evaluation: pycocotools' `eval` arrays and the data to
/// derive per-class figures.
#[derive(Debug, Clone)]
pub struct Evaluation {
    pub params: Params,
    /// Category ids, sorted (pycocotools' `catIds`).
    pub cat_ids: Vec<i64>,
    /// `precision[t][r][k][a][m]`, flattened; -1 where undefined.
    precision: Vec<f64>,
    /// `recall[t][k][a][m]`, flattened; -1 where undefined.
    recall: Vec<f64>,
    /// Scores at each precision point, same layout as `precision`.
    scores: Vec<f64>,
    /// Per category: its detections at IoU 0.5 (area all, last cap), best
    /// score first, ignored ones left out, as (score, true positive); and
    /// its count of unignored ground truth.
    pub sweeps: Vec<(Vec<(f64, bool)>, usize)>,
}

impl Evaluation {
    fn dims(&self) -> (usize, usize, usize, usize, usize) {
        (
            self.params.iou_thrs.len(),
            self.params.rec_thrs.len(),
            self.cat_ids.len(),
            AREA_RANGES.len(),
            self.params.max_dets.len(),
        )
    }

    fn p_index(&self, t: usize, r: usize, k: usize, a: usize, m: usize) -> usize {
        let (_, nr, nk, na, nm) = self.dims();
        (((t * nr + r) * nk + k) * na + a) * nm + m
    }

    fn r_index(&self, t: usize, k: usize, a: usize, m: usize) -> usize {
        let (_, _, nk, na, nm) = self.dims();
        ((t * nk + k) * na + a) * nm + m
    }

    pub fn precision(&self, t: usize, r: usize, k: usize, a: usize, m: usize) -> f64 {
        self.precision[self.p_index(t, r, k, a, m)]
    }

    pub fn recall(&self, t: usize, k: usize, a: usize, m: usize) -> f64 {
        self.recall[self.r_index(t, k, a, m)]
    }

    pub fn score_at(&self, t: usize, r: usize, k: usize, a: usize, m: usize) -> f64 {
        self.scores[self.p_index(t, r, k, a, m)]
    }

    /// `COCOeval._summarize`: the mean of the defined values, or -1.
    fn summarize(&self, ap: bool, iou: Option<f64>, area: usize, max_det: usize) -> f64 {
        let (nt, nr, nk, _, _) = self.dims();
        let threshold_ok = |t: usize| iou.is_none_or(|v| self.params.iou_thrs[t] == v);
        let Some(m) = self.params.max_dets.iter().position(|&d| d == max_det) else {
            return -1.0;
        };
        let (mut sum, mut n) = (0.0, 0usize);
        for t in (0..nt).filter(|&t| threshold_ok(t)) {
            for k in 0..nk {
                if ap {
                    for r in 0..nr {
                        let v = self.precision(t, r, k, area, m);
                        if v > -1.0 {
                            sum += v;
                            n += 1;
                        }
                    }
                } else {
                    let v = self.recall(t, k, area, m);
                    if v > -1.0 {
                        sum += v;
                        n += 1;
                    }
                }
            }
        }
        if n == 0 {
            -1.0
        } else {
            sum / n as f64
        }
    }

    /// The twelve stats of `COCOeval.summarize()`.
    pub fn stats(&self) -> Stats {
        let [d1, d10, d] = self.params.max_dets;
        Stats {
            // pycocotools asks for AP at a cap of 100 whatever the caps are,
            // so with a raised cap it reports -1; see `ap_at_cap`.
            ap: self.summarize(true, None, 0, 100),
            ap50: self.summarize(true, Some(0.5), 0, d),
            ap75: self.summarize(true, Some(0.75), 0, d),
            aps: self.summarize(true, None, 1, d),
            apm: self.summarize(true, None, 2, d),
            apl: self.summarize(true, None, 3, d),
            ar1: self.summarize(false, None, 0, d1),
            ar10: self.summarize(false, None, 0, d10),
            ar100: self.summarize(false, None, 0, d),
            ars: self.summarize(false, None, 1, d),
            arm: self.summarize(false, None, 2, d),
            arl: self.summarize(false, None, 3, d),
        }
    }

    /// AP@[.50:.95] at the last detection cap. Equal to `stats().ap` when
    /// the cap is 100; pycocotools has no figure for other caps (-1).
    pub fn ap_at_cap(&self) -> f64 {
        self.summarize(true, None, 0, self.params.max_dets[2])
    }

    /// AP of one category (index into `cat_ids`) over all thresholds, or at
    /// one IoU threshold; -1 when it has no ground truth.
    pub fn class_ap(&self, k: usize, iou: Option<f64>) -> f64 {
        let (nt, nr, _, _, _) = self.dims();
        let m = 2;
        let (mut sum, mut n) = (0.0, 0usize);
        for t in (0..nt).filter(|&t| iou.is_none_or(|v| self.params.iou_thrs[t] == v)) {
            for r in 0..nr {
                let v = self.precision(t, r, k, 0, m);
                if v > -1.0 {
                    sum += v;
                    n += 1;
                }
            }
        }
        if n == 0 {
            -1.0
        } else {
            sum / n as f64
        }
    }

    /// The interpolated precision–recall curve of one category at one IoU
    /// threshold index (area all, last detection cap): 101 points.
    pub fn pr_curve(&self, k: usize, t: usize) -> (Vec<f64>, Vec<f64>) {
        let rec = self.params.rec_thrs.clone();
        let prec = (0..rec.len())
            .map(|r| self.precision(t, r, k, 0, 2))
            .collect();
        (rec, prec)
    }
}

/// pycocotools' `maskUtils.iou` for boxes `[x, y, w, h]`.
pub(super) fn box_iou(d: &[f64; 4], g: &[f64; 4], crowd: bool) -> f64 {
    let w = (d[2] + d[0]).min(g[2] + g[0]) - d[0].max(g[0]);
    if w <= 0.0 {
        return 0.0;
    }
    let h = (d[3] + d[1]).min(g[3] + g[1]) - d[1].max(g[1]);
    if h <= 0.0 {
        return 0.0;
    }
    let i = w * h;
    let da = d[2] * d[3];
    let u = if crowd { da } else { da + g[2] * g[3] - i };
    i / u
}

/// Checks that predictions refer to images of the ground truth, as
/// pycocotools' `loadRes` does.
pub fn check_predictions(gt: &Dataset, dt: &[Prediction]) -> Result<(), EvalError> {
    let images: IdSet = gt.images.iter().map(|i| i.id).collect();
    let mut unknown: Vec<i64> = dt
        .iter()
        .map(|d| d.image_id)
        .filter(|id| !images.contains(id))
        .collect();
    unknown.sort_unstable();
    unknown.dedup();
    if unknown.is_empty() {
        Ok(())
    } else {
        let shown: Vec<String> = unknown.iter().take(10).map(|i| i.to_string()).collect();
        Err(EvalError::Invalid(format!(
            "{} prediction image id(s) are not in the ground truth: {}{}",
            unknown.len(),
            shown.join(", "),
            if unknown.len() > 10 { ", ..." } else { "" }
        )))
    }
}

/// Item indices (into the slice `group` was called on) grouped by the group
/// `group` gives each, in their order: `items[starts[g]..starts[g + 1]]`
/// are group `g`'s. Items without a group are left out.
struct Groups {
    starts: Vec<usize>,
    items: Vec<u32>,
}

impl Groups {
    fn new(n: usize, keys: impl Iterator<Item = Option<usize>>) -> Groups {
        let keys: Vec<u32> = keys.map(|k| k.map_or(u32::MAX, |k| k as u32)).collect();
        let mut starts = vec![0usize; n + 1];
        for &k in &keys {
            if k != u32::MAX {
                starts[k as usize + 1] += 1;
            }
        }
        for g in 0..n {
            starts[g + 1] += starts[g];
        }
        let mut next = starts.clone();
        let mut items = vec![0u32; starts[n]];
        for (j, &k) in keys.iter().enumerate() {
            if k != u32::MAX {
                items[next[k as usize]] = j as u32;
                next[k as usize] += 1;
            }
        }
        Groups { starts, items }
    }

    fn get(&self, g: usize) -> &[u32] {
        &self.items[self.starts[g]..self.starts[g + 1]]
    }
}

/// Evaluates `dt` against `gt` as pycocotools' `evaluate()` then
/// `accumulate()` do.
pub fn evaluate(gt: &Dataset, dt: &[Prediction], params: &Params) -> Result<Evaluation, EvalError> {
    check_predictions(gt, dt)?;
    let nt = params.iou_thrs.len();
    if nt > MAX_THRESHOLDS {
        return Err(EvalError::Invalid(format!(
            "{nt} IoU thresholds; at most {MAX_THRESHOLDS} are supported"
        )));
    }
    if gt.annotations.len() >= u32::MAX as usize || dt.len() >= u32::MAX as usize {
        return Err(EvalError::Invalid(
            "more than 4 billion annotations or detections".into(),
        ));
    }
    let mut img_ids: Vec<i64> = gt.images.iter().map(|i| i.id).collect();
    img_ids.sort_unstable();
    img_ids.dedup();
    let mut cat_ids: Vec<i64> = gt.categories.iter().map(|c| c.id).collect();
    cat_ids.sort_unstable();
    cat_ids.dedup();
    let img_index: IdMap<usize> = img_ids.iter().enumerate().map(|(i, &id)| (id, i)).collect();
    let cat_index: IdMap<usize> = cat_ids.iter().enumerate().map(|(k, &id)| (id, k)).collect();
    let (ni, nk) = (img_ids.len(), cat_ids.len());
    let group = |cat: i64, img: i64| Some(cat_index.get(&cat)? * ni + img_index.get(&img)?);

    // Annotations and detections per (category, image), in file order.
    let gts = Groups::new(
        nk * ni,
        gt.annotations
            .iter()
            .map(|a| group(a.category_id, a.image_id)),
    );
    let dts = Groups::new(nk * ni, dt.iter().map(|d| group(d.category_id, d.image_id)));

    // per_group[k * ni + i]; None where the image has neither ground truth
    // nor detections of the category.
    // Per threshold, thr.min(1 - 1e-10): the IoU a match must reach.
    let floors: Vec<f64> = params
        .iou_thrs
        .iter()
        .map(|&thr| thr.min(1.0 - 1e-10))
        .collect();
    let per_group: Vec<Option<ImageEval>> = (0..nk * ni)
        .into_par_iter()
        .map_init(Scratch::default, |scratch, g| {
            let (g_idx, d_idx) = (gts.get(g), dts.get(g));
            if g_idx.is_empty() && d_idx.is_empty() {
                return None;
            }
            let mut anns = std::mem::take(&mut scratch.anns);
            let mut dets = std::mem::take(&mut scratch.dets);
            anns.clear();
            anns.extend(g_idx.iter().map(|&j| &gt.annotations[j as usize]));
            dets.clear();
            dets.extend(d_idx.iter().map(|&j| &dt[j as usize]));
            // Stable sort, best score first; then the cap.
            dets.sort_by(|a, b| b.score.total_cmp(&a.score));
            dets.truncate(params.max_dets[2]);
            let ev = evaluate_image(&anns, &dets, &floors, scratch);
            (scratch.anns, scratch.dets) = (anns, dets);
            Some(ev)
        })
        .collect();

    // accumulate(). Per category, every detection in score order (stable:
    // ties keep image then rank order); the same order serves every area
    // range and cap, a cap keeping the detections of rank below it.
    let (nr, na, nm) = (
        params.rec_thrs.len(),
        AREA_RANGES.len(),
        params.max_dets.len(),
    );
    let per_cat: Vec<(Vec<&ImageEval>, Vec<Ranked>)> = (0..nk)
        .into_par_iter()
        .map(|k| {
            let entries: Vec<&ImageEval> = (0..ni)
                .filter_map(|i| per_group[k * ni + i].as_ref())
                .collect();
            let mut order: Vec<Ranked> = Vec::new();
            for (e, entry) in entries.iter().enumerate() {
                order.extend(entry.scores.iter().enumerate().map(|(d, &score)| Ranked {
                    score,
                    entry: e as u32,
                    rank: d as u32,
                }));
            }
            order.sort_by(|a, b| b.score.total_cmp(&a.score));
            (entries, order)
        })
        .collect();
    let mut ev = Evaluation {
        params: params.clone(),
        cat_ids,
        precision: vec![-1.0; nt * nr * nk * na * nm],
        recall: vec![-1.0; nt * nk * na * nm],
        scores: vec![-1.0; nt * nr * nk * na * nm],
        sweeps: Vec::new(),
    };
    ev.sweeps = per_cat
        .iter()
        .map(|(entries, order)| {
            let sweep: Vec<(f64, bool)> = order
                .iter()
                .filter_map(|r| {
                    let (m, ig) = entries[r.entry as usize].bits(0, r.rank as usize);
                    (ig & 1 == 0).then_some((r.score, m & 1 != 0))
                })
                .collect();
            (sweep, entries.iter().map(|e| e.npig[0]).sum())
        })
        .collect();
    let cells: Vec<(usize, usize)> = (0..nk).flat_map(|k| (0..na).map(move |a| (k, a))).collect();
    let results: Vec<(usize, usize, usize, Option<Accumulated>)> = cells
        .into_par_iter()
        .flat_map_iter(|(k, a)| {
            let (entries, order) = &per_cat[k];
            // The (matched, ignored) bits of every detection in score order.
            let bits: Vec<(u64, u64)> = order
                .iter()
                .map(|r| entries[r.entry as usize].bits(a, r.rank as usize))
                .collect();
            let mut hits = Vec::new();
            (0..nm)
                .map(|m| {
                    let cap = params.max_dets[m];
                    let acc = accumulate(entries, order, &bits, a, cap, params, &mut hits);
                    (k, a, m, acc)
                })
                .collect::<Vec<_>>()
        })
        .collect();
    for (k, a, m, acc) in results {
        let Some(acc) = acc else { continue };
        for t in 0..nt {
            let ri = ev.r_index(t, k, a, m);
            ev.recall[ri] = acc.recall[t];
            for r in 0..nr {
                let pi = ev.p_index(t, r, k, a, m);
                ev.precision[pi] = acc.precision[t * nr + r];
                ev.scores[pi] = acc.scores[t * nr + r];
            }
        }
    }
    Ok(ev)
}

/// `COCOeval.evaluateImg` for one image and category, in every area
/// range. `dets` are sorted and capped.
///
/// A ground truth whose IoU with a detection is below every threshold can
/// never be its match, so each detection only looks at the few ground
/// truths it overlaps enough (pycocotools scans them all, at every
/// threshold and area range).
fn evaluate_image(
    anns: &[&super::Annotation],
    dets: &[&Prediction],
    floors: &[f64],
    scratch: &mut Scratch,
) -> ImageEval {
    let (ng, nd) = (anns.len(), dets.len());
    let lowest = floors.iter().copied().fold(f64::INFINITY, f64::min);
    // Per detection, the ground truths (index, IoU) it may match, in file
    // order. NaN (from boxes too large for f64) stays in, as it would match
    // in pycocotools' comparisons.
    let Scratch {
        starts,
        candidates,
        ignore,
        taken,
        ..
    } = scratch;
    starts.clear();
    candidates.clear();
    for d in dets {
        starts.push(candidates.len());
        for (j, g) in anns.iter().enumerate() {
            let iou = box_iou(&d.bbox, &g.bbox, g.iscrowd);
            if reaches(iou, lowest) {
                candidates.push((j as u32, iou));
            }
        }
    }
    starts.push(candidates.len());

    let mut out = ImageEval {
        scores: dets.iter().map(|d| d.score).collect(),
        bits: vec![(0, 0); AREA_RANGES.len() * nd],
        npig: [0; 4],
    };
    let all_thresholds = threshold_bits(floors.len());
    ignore.clear();
    ignore.resize(ng, false);
    // Per ground truth, bit t: taken by a detection at threshold t.
    taken.clear();
    taken.resize(ng, 0);
    for (a, &(_, [lo, hi])) in AREA_RANGES.iter().enumerate() {
        for (flag, g) in ignore.iter_mut().zip(anns) {
            *flag = g.iscrowd || g.area < lo || g.area > hi;
        }
        out.npig[a] = ignore.iter().filter(|&&i| !i).count();
        let bits = &mut out.bits[a * nd..(a + 1) * nd];
        taken.fill(0);
        // Thresholds are independent of one another: each has its own
        // taken ground truth, and detections match in score order.
        for di in 0..nd {
            let near = &candidates[starts[di]..starts[di + 1]];
            if near.is_empty() {
                continue;
            }
            if let [(j, iou)] = *near {
                // One candidate: it is the match wherever it reaches the
                // threshold and is not taken (a crowd region never is).
                let j = j as usize;
                let reached = floors
                    .iter()
                    .enumerate()
                    .filter(|&(_, &floor)| reaches(iou, floor))
                    .fold(0u64, |bits, (t, _)| bits | 1 << t);
                let hits = if anns[j].iscrowd {
                    reached
                } else {
                    reached & !taken[j]
                };
                if ignore[j] {
                    bits[di].1 |= hits;
                }
                if anns[j].id != 0 {
                    bits[di].0 |= hits;
                }
                taken[j] |= hits;
                continue;
            }
            for (t, &floor) in floors.iter().enumerate() {
                let bit = 1u64 << t;
                let mut best = floor;
                let mut m: Option<usize> = None;
                // pycocotools puts unignored ground truth first (stable),
                // and stops at the first ignored one once a detection has
                // an unignored match: so the ignored are only tried when no
                // unignored one matched. Among equal IoUs the last wins.
                for ignored_pass in [false, true] {
                    if ignored_pass && m.is_some() {
                        break;
                    }
                    for &(j, iou) in near {
                        let j = j as usize;
                        if ignore[j] != ignored_pass || (taken[j] & bit != 0 && !anns[j].iscrowd) {
                            continue;
                        }
                        if iou < best {
                            continue;
                        }
                        best = iou;
                        m = Some(j);
                    }
                }
                if let Some(j) = m {
                    if ignore[j] {
                        bits[di].1 |= bit;
                    }
                    if anns[j].id != 0 {
                        bits[di].0 |= bit;
                    }
                    taken[j] |= bit;
                }
            }
        }
        // Unmatched detections outside the area range are ignored.
        for (di, d) in dets.iter().enumerate() {
            let area = d.bbox[2] * d.bbox[3];
            if area < lo || area > hi {
                bits[di].1 |= !bits[di].0 & all_thresholds;
            }
        }
    }
    out
}

/// A detection of one category in the score order of `accumulate()`.
#[derive(Debug, Clone, Copy)]
struct Ranked {
    score: f64,
    /// Index into the category's entries (images).
    entry: u32,
    /// Rank within its image, best first.
    rank: u32,
}

struct Accumulated {
    precision: Vec<f64>,
    recall: Vec<f64>,
    scores: Vec<f64>,
}

/// `COCOeval.accumulate` for one category, area range `a` and detection
/// cap. `order` is every detection of `entries`, best score first, and
/// `bits` their (matched, ignored) bits in area range `a`; `hits` is a
/// buffer.
///
/// pycocotools builds the cumulative recall and precision over every
/// detection under the cap, ignored ones included (where they repeat the
/// values before them), makes precision fall monotonically, and reads it at
/// the first detection that reaches each recall threshold. That detection
/// is a true positive (or the first of all, for a recall of 0), and past a
/// true positive precision peaks at true positives: so only the true
/// positives are kept here, with the false positives before each and its
/// place in the order, which gives the same precisions and scores at every
/// recall threshold. The `n`th true positive has recall `n / npig`.
#[allow(clippy::too_many_arguments)]
fn accumulate(
    entries: &[&ImageEval],
    order: &[Ranked],
    bits: &[(u64, u64)],
    a: usize,
    max_det: usize,
    params: &Params,
    hits: &mut Vec<Vec<(u32, u32)>>,
) -> Option<Accumulated> {
    if entries.is_empty() {
        return None;
    }
    let npig: usize = entries.iter().map(|e| e.npig[a]).sum();
    if npig == 0 {
        return None;
    }
    let nt = params.iou_thrs.len();
    let nr = params.rec_thrs.len();
    let all = threshold_bits(nt);
    let npig = npig as f64;
    // Per threshold: (false positives before it, place in `order`) of each
    // true positive; and the false positives so far.
    hits.resize_with(nt, Vec::new);
    hits.iter_mut().for_each(Vec::clear);
    let mut fp = vec![0u32; nt];
    // The first detection under the cap.
    let mut first = None;
    for (i, (r, &(m, ig))) in order.iter().zip(bits).enumerate() {
        if r.rank as usize >= max_det {
            continue;
        }
        first.get_or_insert(i);
        let mut false_pos = !m & !ig & all;
        while false_pos != 0 {
            fp[false_pos.trailing_zeros() as usize] += 1;
            false_pos &= false_pos - 1;
        }
        let mut true_pos = m & !ig;
        while true_pos != 0 {
            let t = true_pos.trailing_zeros() as usize;
            hits[t].push((fp[t], i as u32));
            true_pos &= true_pos - 1;
        }
    }
    let mut out = Accumulated {
        precision: vec![0.0; nt * nr],
        recall: vec![0.0; nt],
        scores: vec![0.0; nt * nr],
    };
    let Some(first) = first else {
        return Some(out);
    };
    let mut precision: Vec<f64> = Vec::new();
    for (t, hits) in hits.iter().enumerate() {
        // As pycocotools counts: tp / npig and tp / (fp + tp + eps), in f64.
        let recall_at = |n: usize| (n + 1) as f64 / npig;
        out.recall[t] = hits.len() as f64 / npig;
        precision.clear();
        precision.extend(hits.iter().enumerate().map(|(n, &(fp, _))| {
            let tp = (n + 1) as f64;
            tp / (f64::from(fp) + tp + EPS)
        }));
        for i in (1..precision.len()).rev() {
            if precision[i] > precision[i - 1] {
                precision[i - 1] = precision[i];
            }
        }
        for (ri, &r) in params.rec_thrs.iter().enumerate() {
            // np.searchsorted(recall, r, side="left")
            let (p, at) = if r <= 0.0 {
                (precision.first().copied().unwrap_or(0.0), first)
            } else {
                let (mut n, mut end) = (0, hits.len());
                while n < end {
                    let mid = (n + end) / 2;
                    if recall_at(mid) < r {
                        n = mid + 1;
                    } else {
                        end = mid;
                    }
                }
                if n >= hits.len() {
                    break;
                }
                (precision[n], hits[n].1 as usize)
            };
            out.precision[t * nr + ri] = p;
            out.scores[t * nr + ri] = order[at].score;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::{Annotation, Category, Image};

    fn dataset(anns: Vec<Annotation>) -> Dataset {
        Dataset {
            images: (1..=2)
                .map(|id| Image {
                    id,
                    file_name: format!("{id}.png"),
                    width: 640,
                    height: 480,
                })
                .collect(),
            categories: vec![Category {
                id: 1,
                name: "person".into(),
            }],
            annotations: anns,
            ..Default::default()
        }
    }

    fn ann(id: i64, image_id: i64, bbox: [f64; 4]) -> Annotation {
        Annotation {
            id,
            image_id,
            category_id: 1,
            bbox,
            area: bbox[2] * bbox[3],
            iscrowd: false,
        }
    }

    fn pred(image_id: i64, bbox: [f64; 4], score: f64) -> Prediction {
        Prediction {
            image_id,
            category_id: 1,
            bbox,
            score,
        }
    }

    #[test]
    fn thresholds_are_numpys() {
        let p = Params::default();
        assert_eq!(p.iou_thrs.len(), 10);
        assert_eq!(p.iou_thrs[0], 0.5);
        assert_eq!(p.iou_thrs[5], 0.75, "AP75 finds its threshold");
        assert_eq!(p.iou_thrs[9], 0.95);
        assert_eq!(p.rec_thrs[100], 1.0);
    }

    #[test]
    fn perfect_detections_score_one_and_a_miss_halves_recall() {
        let gt = dataset(vec![
            ann(1, 1, [10.0, 10.0, 50.0, 50.0]),
            ann(2, 2, [100.0, 100.0, 20.0, 20.0]),
        ]);
        let s = evaluate(
            &gt,
            &[pred(1, [10.0, 10.0, 50.0, 50.0], 0.9)],
            &Params::default(),
        )
        .unwrap()
        .stats();
        assert!((s.ar100 - 0.5).abs() < 1e-12, "{s:?}");
        // Precision 1 up to recall 0.5, then 0: 51 of 101 points.
        assert!((s.ap - 51.0 / 101.0).abs() < 1e-12, "{s:?}");
        // The small object is missed and the medium one found.
        assert_eq!(s.aps, 0.0);
        assert!((s.apm - 1.0).abs() < 1e-12);
        assert_eq!(s.apl, -1.0, "no large ground truth");
    }

    #[test]
    fn crowd_regions_absorb_detections() {
        let mut crowd = ann(1, 1, [0.0, 0.0, 200.0, 200.0]);
        crowd.iscrowd = true;
        let gt = dataset(vec![crowd, ann(2, 2, [10.0, 10.0, 50.0, 50.0])]);
        let dets = vec![
            pred(1, [10.0, 10.0, 20.0, 20.0], 0.95),
            pred(1, [50.0, 50.0, 20.0, 20.0], 0.94),
            pred(2, [10.0, 10.0, 50.0, 50.0], 0.5),
        ];
        let s = evaluate(&gt, &dets, &Params::default()).unwrap().stats();
        assert!(
            (s.ap - 1.0).abs() < 1e-12,
            "crowd matches are not false positives: {s:?}"
        );
    }

    /// pycocotools' `evaluate()` and `accumulate()` written out directly
    /// (every ground truth at every threshold and area range, the full
    /// cumulative curves), as lookout computed them before the faster
    /// paths, when the integration tests checked it against pycocotools:
    /// the arrays (precision, recall, scores) to compare with.
    fn direct(gt: &Dataset, dt: &[Prediction], params: &Params) -> [Vec<f64>; 3] {
        let mut img_ids: Vec<i64> = gt.images.iter().map(|i| i.id).collect();
        img_ids.sort_unstable();
        img_ids.dedup();
        let mut cat_ids: Vec<i64> = gt.categories.iter().map(|c| c.id).collect();
        cat_ids.sort_unstable();
        cat_ids.dedup();
        let (ni, nk, na) = (img_ids.len(), cat_ids.len(), AREA_RANGES.len());
        let (nt, nr, nm) = (
            params.iou_thrs.len(),
            params.rec_thrs.len(),
            params.max_dets.len(),
        );
        // (scores, matched[t][d], ignored[t][d], npig) per (k, a, i).
        type Eval = (Vec<f64>, Vec<Vec<bool>>, Vec<Vec<bool>>, usize);
        let mut evals: Vec<Option<Eval>> = vec![None; nk * na * ni];
        for (k, &cat) in cat_ids.iter().enumerate() {
            for (i, &img) in img_ids.iter().enumerate() {
                let anns: Vec<&Annotation> = gt
                    .annotations
                    .iter()
                    .filter(|a| a.category_id == cat && a.image_id == img)
                    .collect();
                let mut dets: Vec<&Prediction> = dt
                    .iter()
                    .filter(|d| d.category_id == cat && d.image_id == img)
                    .collect();
                if anns.is_empty() && dets.is_empty() {
                    continue;
                }
                dets.sort_by(|a, b| b.score.total_cmp(&a.score));
                dets.truncate(params.max_dets[2]);
                for (a, &(_, [lo, hi])) in AREA_RANGES.iter().enumerate() {
                    let ignore: Vec<bool> = anns
                        .iter()
                        .map(|g| g.iscrowd || g.area < lo || g.area > hi)
                        .collect();
                    let mut order: Vec<usize> = (0..anns.len()).collect();
                    order.sort_by_key(|&j| ignore[j]);
                    let mut matched = vec![vec![false; dets.len()]; nt];
                    let mut ignored = vec![vec![false; dets.len()]; nt];
                    for (t, &thr) in params.iou_thrs.iter().enumerate() {
                        let mut taken = vec![false; anns.len()];
                        for (di, d) in dets.iter().enumerate() {
                            let mut best = thr.min(1.0 - 1e-10);
                            let mut m: Option<usize> = None;
                            for &gj in &order {
                                if taken[gj] && !anns[gj].iscrowd {
                                    continue;
                                }
                                if m.is_some_and(|mj| !ignore[mj] && ignore[gj]) {
                                    break;
                                }
                                let iou = box_iou(&d.bbox, &anns[gj].bbox, anns[gj].iscrowd);
                                if iou < best {
                                    continue;
                                }
                                best = iou;
                                m = Some(gj);
                            }
                            if let Some(gj) = m {
                                ignored[t][di] = ignore[gj];
                                matched[t][di] = anns[gj].id != 0;
                                taken[gj] = true;
                            }
                            let area = d.bbox[2] * d.bbox[3];
                            if !matched[t][di] && (area < lo || area > hi) {
                                ignored[t][di] = true;
                            }
                        }
                    }
                    let npig = ignore.iter().filter(|&&x| !x).count();
                    let scores = dets.iter().map(|d| d.score).collect();
                    evals[(k * na + a) * ni + i] = Some((scores, matched, ignored, npig));
                }
            }
        }
        let mut precision = vec![-1.0; nt * nr * nk * na * nm];
        let mut recall = vec![-1.0; nt * nk * na * nm];
        let mut scores = vec![-1.0; nt * nr * nk * na * nm];
        for k in 0..nk {
            for a in 0..na {
                for (m, &cap) in params.max_dets.iter().enumerate() {
                    let entries: Vec<&Eval> = (0..ni)
                        .filter_map(|i| evals[(k * na + a) * ni + i].as_ref())
                        .collect();
                    let npig: usize = entries.iter().map(|e| e.3).sum();
                    if entries.is_empty() || npig == 0 {
                        continue;
                    }
                    let mut all: Vec<(f64, usize, usize)> = Vec::new();
                    for (e, entry) in entries.iter().enumerate() {
                        for (d, &s) in entry.0.iter().enumerate().take(cap) {
                            all.push((s, e, d));
                        }
                    }
                    all.sort_by(|x, y| y.0.total_cmp(&x.0));
                    let nd = all.len();
                    for t in 0..nt {
                        let (mut tp, mut fp) = (0.0f64, 0.0f64);
                        let (mut rc, mut pr) = (Vec::new(), Vec::new());
                        for &(_, e, d) in &all {
                            if !entries[e].2[t][d] {
                                if entries[e].1[t][d] {
                                    tp += 1.0;
                                } else {
                                    fp += 1.0;
                                }
                            }
                            rc.push(tp / npig as f64);
                            pr.push(tp / (fp + tp + EPS));
                        }
                        let ri = ((t * nk + k) * na + a) * nm + m;
                        recall[ri] = if nd > 0 { rc[nd - 1] } else { 0.0 };
                        for i in (1..nd).rev() {
                            if pr[i] > pr[i - 1] {
                                pr[i - 1] = pr[i];
                            }
                        }
                        for (r, &thr) in params.rec_thrs.iter().enumerate() {
                            let pi = rc.partition_point(|&x| x < thr);
                            let at = (((t * nr + r) * nk + k) * na + a) * nm + m;
                            if pi < nd {
                                precision[at] = pr[pi];
                                scores[at] = all[pi].0;
                            } else {
                                precision[at] = 0.0;
                                scores[at] = 0.0;
                            }
                        }
                    }
                }
            }
        }
        [precision, recall, scores]
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        /// Small crowded scenes: boxes on a coarse grid (so that IoUs tie
        /// and thresholds are hit exactly), `area` fields across the three
        /// ranges, crowd regions, ground-truth id 0, tied scores, several
        /// detections on one object, and caps below the detection count.
        fn scene() -> impl Strategy<Value = (Dataset, Vec<Prediction>, usize)> {
            let bbox = (0..6u8, 0..6u8, 1..6u8, 1..6u8).prop_map(|(x, y, w, h)| {
                [
                    f64::from(x) * 8.0,
                    f64::from(y) * 8.0,
                    f64::from(w) * 8.0,
                    f64::from(h) * 8.0,
                ]
            });
            let area = prop_oneof![
                Just(None),
                Just(Some(500.0)),
                Just(Some(5000.0)),
                Just(Some(20000.0))
            ];
            let ann = (
                0..3i64,
                1..3i64,
                1..3i64,
                bbox.clone(),
                area,
                prop::bool::weighted(0.15),
            );
            let det = (
                1..3i64,
                1..3i64,
                bbox,
                0..6u8,
                prop::option::of((0..3u8, 0..3u8)),
            );
            (
                prop::collection::vec(ann, 0..14),
                prop::collection::vec(det, 0..24),
                1..8usize,
            )
                .prop_map(|(anns, dets, max_dets)| {
                    let annotations = anns
                        .into_iter()
                        .enumerate()
                        .map(
                            |(n, (zero, image_id, category_id, bbox, area, iscrowd))| Annotation {
                                id: if zero == 0 { 0 } else { n as i64 + 1 },
                                image_id,
                                category_id,
                                bbox,
                                area: area.unwrap_or(bbox[2] * bbox[3]),
                                iscrowd,
                            },
                        )
                        .collect();
                    let gt = Dataset {
                        images: (1..=2)
                            .map(|id| Image {
                                id,
                                file_name: format!("{id}.png"),
                                width: 64,
                                height: 64,
                            })
                            .collect(),
                        categories: (1..=2)
                            .map(|id| Category {
                                id,
                                name: format!("c{id}"),
                            })
                            .collect(),
                        annotations,
                        ..Default::default()
                    };
                    let preds = dets
                        .into_iter()
                        .map(|(image_id, category_id, mut bbox, score, shift)| {
                            // Some detections shifted off the grid by a
                            // fraction of a cell.
                            if let Some((dx, dy)) = shift {
                                bbox[0] += f64::from(dx) * 2.5;
                                bbox[1] += f64::from(dy) * 2.5;
                            }
                            Prediction {
                                image_id,
                                category_id,
                                bbox,
                                score: f64::from(score) / 5.0,
                            }
                        })
                        .collect();
                    (gt, preds, max_dets)
                })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            #[test]
            fn evaluation_equals_the_direct_computation((gt, dt, max_dets) in scene()) {
                let params = Params::new(max_dets);
                let ev = evaluate(&gt, &dt, &params).unwrap();
                let [precision, recall, scores] = direct(&gt, &dt, &params);
                prop_assert_eq!(&ev.precision, &precision);
                prop_assert_eq!(&ev.recall, &recall);
                prop_assert_eq!(&ev.scores, &scores);
            }
        }
    }

    #[test]
    fn unknown_images_are_refused() {
        let gt = dataset(vec![]);
        let err = evaluate(
            &gt,
            &[pred(7, [0.0, 0.0, 1.0, 1.0], 0.5)],
            &Params::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains('7'), "{err}");
    }
}
