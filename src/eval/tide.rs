//! What costs AP: the TIDE error breakdown (Bolya et al. 2020, "TIDE: A
//! General Toolbox for Identifying Object Detection Errors"), equal to the
//! authors' `tidecv` 1.0.1 in box mode with its defaults.
//!
//! # Definitions (tidecv's, reproduced rule for rule)
//!
//! Each image's detections are sorted by score (stable) and capped at
//! `max_dets` *per image*, over all classes (COCO caps per image and class).
//! In score order, a detection matches the unmatched ground truth of its
//! class with the highest IoU (the first on ties) when that IoU is at least
//! the foreground threshold t_f = 0.5. An unmatched detection that covers a
//! crowd region of its class (intersection over the detection's area above
//! t_f) is ignored. Each detection that is not a true positive, ignored ones
//! included, gets the first error type that fits:
//!
//! 1. **background**, when the image has no (non-crowd) ground truth;
//! 2. **localisation**: its best IoU with a ground truth of its class is in
//!    [t_b, t_f], t_b = 0.1 the background threshold;
//! 3. **classification**: IoU ≥ t_f with a ground truth of another class;
//! 4. **duplicate**: IoU ≥ t_f with a ground truth of its class that another
//!    detection matched;
//! 5. **background**: IoU ≤ t_b with every ground truth;
//! 6. **both** (classification and localisation): anything else.
//!
//! A ground truth left unmatched is **missed** unless a localisation or
//! classification error points at it.
//!
//! The dAP of an error type is TIDE's AP50 with every error of that type
//! fixed, minus TIDE's AP50 as is, floored at 0 (tidecv's "main errors"):
//! a localisation or classification error becomes a true positive (of the
//! ground truth's class) when its ground truth is unmatched and it is that
//! ground truth's best-scoring such error, and is removed otherwise;
//! duplicate, background and both errors are removed; a missed ground truth
//! is removed from the ground-truth count. The two "special" errors are not
//! floored: *false positives* scores every true positive 1 and every false
//! positive 0; *false negatives* removes every unmatched ground truth from
//! the count.
//!
//! TIDE's AP50 is COCO-style: precision made monotone from the right, read
//! at 101 recall points k/100, and averaged over the classes that have
//! ground truth or detections (a class with detections and no ground truth
//! counts as 0). In every fixed data set, a false positive is sorted before
//! a true positive of equal score, as tidecv's rebuilt lists order them; the
//! data as is keeps the order of the images and their detections. So TIDE's
//! AP50 is close to, but not, COCO's AP50 (the cap, crowd handling and tie
//! order differ): the report gives both.
//!
//! Detections of categories the ground truth does not list are left out,
//! as the COCO stats leave them out (tidecv would count each such class as
//! one more class of AP 0); `scripts/tide_reference.py` runs tidecv on the
//! same predictions.
//!
//! # Cost
//!
//! Images are analysed in parallel; a detection's IoU with the ground truth
//! of other classes is computed only when it is not a true positive. One
//! sort of all detections serves the data as is and, with the false
//! positives of each run of equal scores moved to its front, the eight
//! fixed data sets, which are scored in parallel by linear scans. On the
//! bench set (5,000 images, 250,000 objects) it adds about 4% to
//! `lookout eval`.

use std::collections::HashMap;
use std::path::Path;

use rayon::prelude::*;
use serde::Serialize;

use super::coco::box_iou;
use super::report::ReportError;
use super::{Dataset, Prediction};

/// Foreground IoU t_f: a detection at least this close is a hit.
pub const FOREGROUND_IOU: f64 = 0.5;
/// Background IoU t_b: a detection at most this close to every object is
/// background.
pub const BACKGROUND_IOU: f64 = 0.1;
/// How many of the worst false positives and of the worst misses the
/// "largest errors" page shows.
pub const WORST_SHOWN: usize = 20;
/// The page of worst errors, beside `report.html`.
pub const PAGE: &str = "largest_errors.html";
/// The folder of its crops.
pub const CROPS: &str = "largest_errors";

/// TIDE's six main error types, in its order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    Classification,
    Localisation,
    Both,
    Duplicate,
    Background,
    Missed,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 6] = [
        ErrorKind::Classification,
        ErrorKind::Localisation,
        ErrorKind::Both,
        ErrorKind::Duplicate,
        ErrorKind::Background,
        ErrorKind::Missed,
    ];

    /// The name in `report.json`.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Classification => "classification",
            ErrorKind::Localisation => "localisation",
            ErrorKind::Both => "both",
            ErrorKind::Duplicate => "duplicate",
            ErrorKind::Background => "background",
            ErrorKind::Missed => "missed",
        }
    }

    /// tidecv's short name.
    pub fn short(self) -> &'static str {
        match self {
            ErrorKind::Classification => "Cls",
            ErrorKind::Localisation => "Loc",
            ErrorKind::Both => "Both",
            ErrorKind::Duplicate => "Dupe",
            ErrorKind::Background => "Bkg",
            ErrorKind::Missed => "Miss",
        }
    }

    fn meaning(self) -> &'static str {
        match self {
            ErrorKind::Classification => "right place, wrong class",
            ErrorKind::Localisation => "right class, box off (IoU 0.1-0.5)",
            ErrorKind::Both => "wrong class and box off",
            ErrorKind::Duplicate => "a second detection of a found object",
            ErrorKind::Background => "nothing there (IoU at most 0.1)",
            ErrorKind::Missed => "an object no detection came near",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// One error type: AP50 gained by fixing it, and how many errors it has.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorFigure {
    pub dap: f64,
    pub count: usize,
}

/// The breakdown, as `report.json` holds it (`detector.errors`). AP
/// figures are fractions, as the COCO stats are (tidecv prints them ×100).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Breakdown {
    pub method: String,
    pub foreground_iou: f64,
    pub background_iou: f64,
    /// The detection cap per image (all classes together).
    pub max_dets_per_image: usize,
    /// TIDE's AP at IoU 0.5, before any fix.
    pub ap50: f64,
    /// The six main errors.
    pub main: MainErrors,
    /// AP50 gained with no false positives / no false negatives.
    pub special: Special,
    /// The highest-scoring false positives, worst first.
    pub worst_false_positives: Vec<Case>,
    /// The largest missed objects, largest first.
    pub worst_false_negatives: Vec<Case>,
    pub seconds: f64,
}

/// TIDE's main errors, each as the AP50 gained by fixing it alone.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MainErrors {
    pub classification: ErrorFigure,
    pub localisation: ErrorFigure,
    pub both: ErrorFigure,
    pub duplicate: ErrorFigure,
    pub background: ErrorFigure,
    pub missed: ErrorFigure,
}

impl MainErrors {
    pub fn get(&self, kind: ErrorKind) -> &ErrorFigure {
        match kind {
            ErrorKind::Classification => &self.classification,
            ErrorKind::Localisation => &self.localisation,
            ErrorKind::Both => &self.both,
            ErrorKind::Duplicate => &self.duplicate,
            ErrorKind::Background => &self.background,
            ErrorKind::Missed => &self.missed,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Special {
    pub false_positives: f64,
    pub false_negatives: f64,
}

/// One of the worst errors, for the "largest errors" page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Case {
    pub kind: ErrorKind,
    pub image_id: i64,
    pub category_id: i64,
    /// The detection's box, or the missed object's.
    pub bbox: [f64; 4],
    /// The detection's score (none for a miss).
    pub score: Option<f64>,
    /// The ground truth the error is about, if any: the object a
    /// localisation, classification or duplicate error overlaps.
    pub truth: Option<[f64; 4]>,
    pub truth_category_id: Option<i64>,
}

/// How a detection came out of matching.
#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    Hit,
    FalsePositive,
    /// Unmatched but inside a crowd region of its class: not in the AP data.
    Ignored,
}

/// A detection after its image's analysis.
#[derive(Debug, Clone, Copy)]
struct Scored {
    det: usize,
    class: u32,
    score: f64,
    state: State,
    error: Option<ErrorKind>,
    /// Where the point goes when its error is fixed: the class of the true
    /// positive it becomes, or none (removed).
    fix: Option<u32>,
    /// The annotation the error is about.
    truth: Option<usize>,
}

/// No class: a category the ground truth does not list, or no fix.
const NO_CLASS: u32 = u32::MAX;
/// No error: a true positive.
const NO_ERROR: u8 = u8::MAX;

/// The class index of every annotation and detection ([`NO_CLASS`] for
/// categories the ground truth does not list).
struct Classes {
    ann: Vec<u32>,
    det: Vec<u32>,
}

/// Image ids to their place in tidecv's image order: a table where the ids
/// are dense (as they usually are), a hash map otherwise.
enum ImageIndex {
    Dense { min: i64, slots: Vec<u32> },
    Sparse(HashMap<i64, usize>),
}

impl ImageIndex {
    /// Indexes `ids` by first appearance, pushing each new id on `order`.
    fn new(ids: impl Iterator<Item = i64> + Clone, order: &mut Vec<i64>) -> ImageIndex {
        let (min, max) = ids.clone().fold((i64::MAX, i64::MIN), |(lo, hi), id| {
            (lo.min(id), hi.max(id))
        });
        let span = (max as i128 - min as i128 + 1).max(0) as u128;
        let hint = ids.size_hint().0 as u128;
        if span > 0 && span <= 4 * hint + 1024 {
            let mut slots = vec![u32::MAX; span as usize];
            for id in ids {
                let slot = &mut slots[(id - min) as usize];
                if *slot == u32::MAX {
                    *slot = order.len() as u32;
                    order.push(id);
                }
            }
            ImageIndex::Dense { min, slots }
        } else {
            let mut map = HashMap::new();
            for id in ids {
                map.entry(id).or_insert_with(|| {
                    order.push(id);
                    order.len() - 1
                });
            }
            ImageIndex::Sparse(map)
        }
    }

    fn get(&self, id: i64) -> Option<usize> {
        match self {
            ImageIndex::Dense { min, slots } => id
                .checked_sub(*min)
                .and_then(|o| usize::try_from(o).ok())
                .and_then(|o| slots.get(o))
                .filter(|&&s| s != u32::MAX)
                .map(|&s| s as usize),
            ImageIndex::Sparse(map) => map.get(&id).copied(),
        }
    }
}

/// A detection as the fixed data sets read it, packed for linear scans.
#[derive(Debug, Clone, Copy)]
struct Point {
    class: u32,
    /// The class of the true positive it becomes when its error is fixed,
    /// or [`NO_CLASS`] (removed).
    fix: u32,
    /// [`ErrorKind::index`], or [`NO_ERROR`].
    error: u8,
    hit: bool,
    /// In the AP data as is (not ignored by a crowd region).
    counted: bool,
}

impl Point {
    fn of(p: &Scored) -> Point {
        Point {
            class: p.class,
            fix: p.fix.unwrap_or(NO_CLASS),
            error: p.error.map_or(NO_ERROR, |e| e.index() as u8),
            hit: p.state == State::Hit,
            counted: p.state != State::Ignored,
        }
    }
}

#[derive(Debug, Default)]
struct ImageResult {
    preds: Vec<Scored>,
    /// Annotations unmatched and pointed at by no error.
    missed: Vec<usize>,
    /// All unmatched (non-crowd) annotations.
    unmatched: Vec<usize>,
}

/// Score order as tidecv sorts (`key=-score`, stable): equal scores,
/// including 0 and -0, keep their order.
fn by_score(a: f64, b: f64) -> std::cmp::Ordering {
    b.partial_cmp(&a).unwrap_or(std::cmp::Ordering::Equal)
}

/// A key whose ascending order is [`by_score`]'s: higher scores first, 0
/// and -0 equal. Scores are finite (the results reader checks).
fn descending(score: f64) -> u64 {
    let bits = (score + 0.0).to_bits();
    let ascending = if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    };
    !ascending
}

/// tidecv's per-image work (`TIDEExample` and `TIDERun._eval_image`).
/// `anns` and `dets` are indices in file order.
fn analyse_image(
    gt: &Dataset,
    dt: &[Prediction],
    classes: &Classes,
    anns: &[usize],
    dets: &[usize],
    max_dets: usize,
) -> ImageResult {
    let truths: Vec<usize> = anns
        .iter()
        .copied()
        .filter(|&j| !gt.annotations[j].iscrowd)
        .collect();
    if dets.is_empty() {
        return ImageResult {
            preds: Vec::new(),
            missed: truths.clone(),
            unmatched: truths,
        };
    }
    let mut order = dets.to_vec();
    order.sort_by(|&a, &b| by_score(dt[a].score, dt[b].score));
    order.truncate(max_dets);
    let ng = truths.len();
    let gt_class: Vec<u32> = truths.iter().map(|&j| classes.ann[j]).collect();
    let mut taken = vec![false; ng];
    let mut preds: Vec<Scored> = order
        .iter()
        .map(|&d| Scored {
            det: d,
            class: classes.det[d],
            score: dt[d].score,
            state: State::FalsePositive,
            error: None,
            fix: None,
            truth: None,
        })
        .collect();
    let boxes: Vec<[f64; 4]> = truths.iter().map(|&j| gt.annotations[j].bbox).collect();
    // The ground truth by class, each class in file order.
    let mut by_class: Vec<usize> = (0..ng).collect();
    by_class.sort_by_key(|&t| gt_class[t]);
    // Matching: the best unmatched ground truth of the class, first on ties.
    for p in preds.iter_mut() {
        let b = &dt[p.det].bbox;
        let mut best = f64::NEG_INFINITY;
        let mut at = 0;
        let lo = by_class.partition_point(|&t| gt_class[t] < p.class);
        let hi = by_class.partition_point(|&t| gt_class[t] <= p.class);
        for &t in &by_class[lo..hi] {
            if taken[t] {
                continue;
            }
            let iou = box_iou(b, &boxes[t], false);
            if iou > best {
                best = iou;
                at = t;
            }
        }
        if best >= FOREGROUND_IOU {
            p.state = State::Hit;
            p.truth = Some(at);
            taken[at] = true;
        }
    }
    // Crowd regions of a detection's class absorb it when unmatched.
    let crowds: Vec<usize> = anns
        .iter()
        .copied()
        .filter(|&j| gt.annotations[j].iscrowd)
        .collect();
    for p in preds.iter_mut().filter(|p| p.state == State::FalsePositive) {
        let b = &dt[p.det].bbox;
        if crowds.iter().any(|&j| {
            let a = &gt.annotations[j];
            classes.ann[j] == p.class && box_iou(b, &a.bbox, true) > FOREGROUND_IOU
        }) {
            p.state = State::Ignored;
        }
    }
    // Errors, in score order. A localisation or classification error on an
    // unmatched ground truth makes it "usable" (not missed); of those on one
    // ground truth, the best-scoring (the first on ties) is fixed.
    let mut usable = vec![false; ng];
    let mut best_score = vec![-1.0f64; ng];
    let mut best_pred = vec![usize::MAX; ng];
    for (pi, p) in preds.iter_mut().enumerate() {
        if p.state == State::Hit {
            continue;
        }
        if ng == 0 {
            p.error = Some(ErrorKind::Background);
            continue;
        }
        let b = &dt[p.det].bbox;
        // Maxima of the rows of tidecv's matrices, each at its first index.
        let (mut cls, mut cls_at) = (0.0f64, 0usize);
        let (mut other, mut other_at) = (0.0f64, 0usize);
        let (mut used, mut used_at) = (0.0f64, 0usize);
        let mut any = 0.0f64;
        for (t, g) in boxes.iter().enumerate() {
            let iou = box_iou(b, g, false);
            if gt_class[t] == p.class {
                if iou > cls {
                    (cls, cls_at) = (iou, t);
                }
                if taken[t] && iou > used {
                    (used, used_at) = (iou, t);
                }
            } else if iou > other {
                (other, other_at) = (iou, t);
            }
            any = any.max(iou);
        }
        let target = if (BACKGROUND_IOU..=FOREGROUND_IOU).contains(&cls) {
            p.error = Some(ErrorKind::Localisation);
            Some(cls_at)
        } else if other >= FOREGROUND_IOU {
            p.error = Some(ErrorKind::Classification);
            Some(other_at)
        } else if used >= FOREGROUND_IOU {
            p.error = Some(ErrorKind::Duplicate);
            p.truth = Some(used_at);
            None
        } else if any <= BACKGROUND_IOU {
            p.error = Some(ErrorKind::Background);
            None
        } else {
            p.error = Some(ErrorKind::Both);
            None
        };
        if let Some(t) = target {
            p.truth = Some(t);
            if !taken[t] {
                usable[t] = true;
                if best_score[t] < p.score {
                    best_score[t] = p.score;
                    best_pred[t] = pi;
                }
            }
        }
    }
    for (pi, p) in preds.iter_mut().enumerate() {
        if let (Some(kind), Some(t)) = (p.error, p.truth) {
            let fixable = matches!(kind, ErrorKind::Localisation | ErrorKind::Classification)
                && !taken[t]
                && best_pred[t] == pi;
            if fixable {
                p.fix = Some(if kind == ErrorKind::Classification {
                    gt_class[t]
                } else {
                    p.class
                });
            }
        }
        // From here on, `truth` is an annotation index.
        p.truth = p.truth.map(|t| truths[t]);
    }
    let unmatched: Vec<usize> = (0..ng).filter(|&t| !taken[t]).map(|t| truths[t]).collect();
    let missed = (0..ng)
        .filter(|&t| !taken[t] && !usable[t])
        .map(|t| truths[t])
        .collect();
    ImageResult {
        preds,
        missed,
        unmatched,
    }
}

/// tidecv's `APDataObject.get_ap`, as a fraction: the true-positive flags
/// of one class in score order, against `n_gt` objects.
fn class_ap(flags: &[bool], n_gt: usize, precision: &mut Vec<f64>, recall: &mut Vec<f64>) -> f64 {
    if n_gt == 0 {
        return 0.0;
    }
    precision.clear();
    recall.clear();
    let (mut tp, mut fp) = (0usize, 0usize);
    for &hit in flags {
        if hit {
            tp += 1;
        } else {
            fp += 1;
        }
        precision.push(tp as f64 / (tp + fp) as f64);
        recall.push(tp as f64 / n_gt as f64);
    }
    for i in (1..precision.len()).rev() {
        if precision[i] > precision[i - 1] {
            precision[i - 1] = precision[i];
        }
    }
    let mut sum = 0.0;
    for x in 0..=100u32 {
        // x / 100 as numpy holds it (not linspace's x * 0.01).
        let at = f64::from(x) / 100.0;
        let i = recall.partition_point(|&r| r < at);
        if i < precision.len() {
            sum += precision[i];
        }
    }
    sum / 101.0
}

/// The mean AP over the classes tidecv counts: those it holds data for
/// (`in_data`) that are not empty (some point or some ground truth). 0
/// when none is left (tidecv divides by zero there).
fn mean_ap(points: &[Vec<bool>], n_gt: &[usize], in_data: &[bool]) -> f64 {
    let (mut precision, mut recall) = (Vec::new(), Vec::new());
    let (mut sum, mut n) = (0.0, 0usize);
    for k in 0..points.len() {
        if !in_data[k] || (points[k].is_empty() && n_gt[k] == 0) {
            continue;
        }
        sum += class_ap(&points[k], n_gt[k], &mut precision, &mut recall);
        n += 1;
    }
    if n == 0 {
        0.0
    } else {
        sum / n as f64
    }
}

/// How one of the fixed data sets treats the detections.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Variant {
    /// As is: the order of the images and their detections.
    AsIs,
    /// With every error of one type fixed.
    Fix(ErrorKind),
    /// True positives scored 1, false positives 0.
    NoFalsePositives,
    /// Unmatched ground truth out of the count.
    NoFalseNegatives,
}

/// Runs the breakdown of `dt` against `gt` with a cap of `max_dets`
/// detections per image.
pub fn analyse(gt: &Dataset, dt: &[Prediction], max_dets: usize) -> Breakdown {
    let t0 = std::time::Instant::now();
    let mut cat_ids: Vec<i64> = gt.categories.iter().map(|c| c.id).collect();
    cat_ids.sort_unstable();
    cat_ids.dedup();
    let nk = cat_ids.len();
    let class = |id: i64| cat_ids.binary_search(&id).map_or(NO_CLASS, |k| k as u32);
    let classes = Classes {
        ann: gt
            .annotations
            .iter()
            .map(|a| class(a.category_id))
            .collect(),
        det: dt.par_iter().map(|d| class(d.category_id)).collect(),
    };
    // Images in the ground truth's order (tidecv's), then any others an
    // annotation names.
    let mut order: Vec<i64> = Vec::with_capacity(gt.images.len());
    let index = ImageIndex::new(
        gt.images
            .iter()
            .map(|i| i.id)
            .chain(gt.annotations.iter().map(|a| a.image_id)),
        &mut order,
    );
    let ni = order.len();
    let mut anns: Vec<Vec<usize>> = vec![Vec::new(); ni];
    for (j, a) in gt.annotations.iter().enumerate() {
        if classes.ann[j] != NO_CLASS {
            if let Some(i) = index.get(a.image_id) {
                anns[i].push(j);
            }
        }
    }
    let mut dets: Vec<Vec<usize>> = vec![Vec::new(); ni];
    for (j, d) in dt.iter().enumerate() {
        if classes.det[j] != NO_CLASS {
            if let Some(i) = index.get(d.image_id) {
                dets[i].push(j);
            }
        }
    }
    let images: Vec<ImageResult> = (0..ni)
        .into_par_iter()
        .map(|i| analyse_image(gt, dt, &classes, &anns[i], &dets[i], max_dets))
        .collect();

    // The AP data: ground truth per class, the detections in tidecv's
    // order, and which classes it holds.
    let mut n_gt = vec![0usize; nk];
    let mut missed = vec![0usize; nk];
    let mut unmatched = vec![0usize; nk];
    let mut in_data = vec![false; nk];
    for (a, &k) in gt.annotations.iter().zip(&classes.ann) {
        if !a.iscrowd && k != NO_CLASS {
            n_gt[k as usize] += 1;
            in_data[k as usize] = true;
        }
    }
    let preds: Vec<Scored> = images
        .iter()
        .flat_map(|r| r.preds.iter().copied())
        .collect();
    let mut counts = [0usize; 6];
    for p in &preds {
        if p.state != State::Ignored {
            in_data[p.class as usize] = true;
        }
        if let Some(kind) = p.error {
            counts[kind.index()] += 1;
        }
    }
    for r in &images {
        for &j in &r.missed {
            missed[classes.ann[j] as usize] += 1;
        }
        for &j in &r.unmatched {
            unmatched[classes.ann[j] as usize] += 1;
        }
    }
    counts[ErrorKind::Missed.index()] = missed.iter().sum();

    // As is: score, then tidecv's push order. Rebuilt (every fixed data
    // set): score, then false positives before true positives, then push
    // order; that is, each run of equal scores of the first order with its
    // false positives moved to the front.
    // Integer keys sort several times faster than comparing floats.
    let mut keys: Vec<(u64, u32)> = preds
        .par_iter()
        .enumerate()
        .map(|(i, p)| (descending(p.score), i as u32))
        .collect();
    keys.par_sort_unstable();
    let as_is: Vec<Point> = keys
        .par_iter()
        .map(|&(_, i)| Point::of(&preds[i as usize]))
        .collect();
    let mut rebuilt: Vec<u32> = Vec::with_capacity(keys.len());
    for run in keys.chunk_by(|a, b| a.0 == b.0) {
        let hit = |i: u32| preds[i as usize].state == State::Hit;
        rebuilt.extend(run.iter().map(|k| k.1).filter(|&i| !hit(i)));
        rebuilt.extend(run.iter().map(|k| k.1).filter(|&i| hit(i)));
    }
    let rebuilt_points: Vec<Point> = rebuilt
        .par_iter()
        .map(|&i| Point::of(&preds[i as usize]))
        .collect();

    let mut variants = vec![
        Variant::AsIs,
        Variant::NoFalsePositives,
        Variant::NoFalseNegatives,
    ];
    variants.extend(ErrorKind::ALL.map(Variant::Fix));
    let aps: Vec<f64> = variants
        .par_iter()
        .map(|&v| {
            let mut points: Vec<Vec<bool>> = vec![Vec::new(); nk];
            let mut gts = n_gt.clone();
            match v {
                Variant::AsIs => {
                    for p in as_is.iter().filter(|p| p.counted) {
                        points[p.class as usize].push(p.hit);
                    }
                }
                Variant::NoFalsePositives => {
                    for p in as_is.iter().filter(|p| p.hit) {
                        points[p.class as usize].push(true);
                    }
                    for p in as_is.iter().filter(|p| p.counted && !p.hit) {
                        points[p.class as usize].push(false);
                    }
                }
                Variant::NoFalseNegatives | Variant::Fix(_) => {
                    let fixing = match v {
                        Variant::Fix(kind) => Some(kind.index() as u8),
                        _ => None,
                    };
                    if v == Variant::NoFalseNegatives {
                        for (g, u) in gts.iter_mut().zip(&unmatched) {
                            *g -= u;
                        }
                    }
                    if v == Variant::Fix(ErrorKind::Missed) {
                        for (g, m) in gts.iter_mut().zip(&missed) {
                            *g -= m;
                        }
                    }
                    for p in &rebuilt_points {
                        if Some(p.error) == fixing {
                            if p.fix != NO_CLASS {
                                points[p.fix as usize].push(true);
                            }
                        } else if p.counted {
                            points[p.class as usize].push(p.hit);
                        }
                    }
                }
            }
            mean_ap(&points, &gts, &in_data)
        })
        .collect();
    let base = aps[0];
    let figure = |kind: ErrorKind| ErrorFigure {
        dap: (aps[3 + kind.index()] - base).max(0.0),
        count: counts[kind.index()],
    };
    let main = MainErrors {
        classification: figure(ErrorKind::Classification),
        localisation: figure(ErrorKind::Localisation),
        both: figure(ErrorKind::Both),
        duplicate: figure(ErrorKind::Duplicate),
        background: figure(ErrorKind::Background),
        missed: figure(ErrorKind::Missed),
    };

    let case = |p: &Scored| {
        let d = &dt[p.det];
        let truth = p.truth.map(|j| &gt.annotations[j]);
        Case {
            kind: p.error.unwrap_or(ErrorKind::Background),
            image_id: d.image_id,
            category_id: d.category_id,
            bbox: d.bbox,
            score: Some(d.score),
            truth: truth.map(|a| a.bbox),
            truth_category_id: truth.map(|a| a.category_id),
        }
    };
    let worst_false_positives = rebuilt
        .iter()
        .map(|&i| &preds[i as usize])
        .filter(|p| p.state == State::FalsePositive)
        .take(WORST_SHOWN)
        .map(case)
        .collect();
    let mut misses: Vec<usize> = images
        .iter()
        .flat_map(|r| r.missed.iter().copied())
        .collect();
    let area = |j: usize| gt.annotations[j].bbox[2] * gt.annotations[j].bbox[3];
    misses.sort_by(|&a, &b| by_score(area(a), area(b)));
    let worst_false_negatives = misses
        .iter()
        .take(WORST_SHOWN)
        .map(|&j| {
            let a = &gt.annotations[j];
            Case {
                kind: ErrorKind::Missed,
                image_id: a.image_id,
                category_id: a.category_id,
                bbox: a.bbox,
                score: None,
                truth: None,
                truth_category_id: None,
            }
        })
        .collect();
    Breakdown {
        method: "TIDE (Bolya et al. 2020), as tidecv 1.0.1 computes it".into(),
        foreground_iou: FOREGROUND_IOU,
        background_iou: BACKGROUND_IOU,
        max_dets_per_image: max_dets,
        ap50: base,
        main,
        special: Special {
            false_positives: aps[1] - base,
            false_negatives: aps[2] - base,
        },
        worst_false_positives,
        worst_false_negatives,
        seconds: t0.elapsed().as_secs_f64(),
    }
}

/// The breakdown's section of `report.md`: a table of the errors and a
/// link to the "largest errors" page.
pub fn markdown(b: &Breakdown) -> String {
    let mut s = format!(
        "\n## Errors (TIDE)\n\nWhat costs AP50: the AP50 each kind of error takes away, as the AP50 gained by fixing all errors of that kind (dAP; TIDE, Bolya et al. 2020, as tidecv computes it: foreground IoU {}, background IoU {}, at most {} detections per image). TIDE's own AP50 is {} (its cap, crowd rules and tie order differ a little from COCO's).\n\n| error | dAP50 | errors | what it is |\n|---|---|---|---|\n",
        b.foreground_iou,
        b.background_iou,
        b.max_dets_per_image,
        super::report::fmt(b.ap50),
    );
    for kind in ErrorKind::ALL {
        let f = b.main.get(kind);
        s.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            kind.name(),
            super::report::fmt(f.dap),
            f.count,
            kind.meaning()
        ));
    }
    s.push_str(&format!(
        "| all false positives | {} | - | every false positive scored below every hit |\n| all false negatives | {} | - | every unmatched object out of the count |\n",
        super::report::fmt(b.special.false_positives.max(0.0)),
        super::report::fmt(b.special.false_negatives.max(0.0)),
    ));
    s.push_str(&format!("\n[Largest errors]({PAGE})\n"));
    s
}

/// Where the crops of the "largest errors" page come from.
#[derive(Debug, Clone, Copy)]
pub enum Images<'a> {
    /// The folder the ground truth's `file_name`s are relative to.
    Folder(&'a Path),
    /// No images to crop, and why.
    Unavailable(&'a str),
}

const DETECTION: [u8; 3] = [230, 50, 30];
const TRUTH: [u8; 3] = [20, 200, 60];
/// The longer side of a crop, in pixels.
const THUMB: u32 = 160;

/// Draws a `colour` frame 2 pixels wide around `[x0, y0, x1, y1]`.
fn frame(img: &mut image::RgbImage, [x0, y0, x1, y1]: [f64; 4], colour: [u8; 3]) {
    let (w, h) = (img.width() as i64, img.height() as i64);
    if w == 0 || h == 0 {
        return;
    }
    let clamp = |v: f64, hi: i64| (v.round() as i64).clamp(0, hi - 1);
    let (x0, x1) = (clamp(x0, w), clamp(x1, w));
    let (y0, y1) = (clamp(y0, h), clamp(y1, h));
    for t in 0..2 {
        for x in x0..=x1 {
            for y in [(y0 + t).min(y1), (y1 - t).max(y0)] {
                img.put_pixel(x as u32, y as u32, image::Rgb(colour));
            }
        }
        for y in y0..=y1 {
            for x in [(x0 + t).min(x1), (x1 - t).max(x0)] {
                img.put_pixel(x as u32, y as u32, image::Rgb(colour));
            }
        }
    }
}

/// A thumbnail around a case's boxes (with a margin), the boxes drawn.
fn crop(img: &image::RgbImage, case: &Case) -> Option<image::RgbImage> {
    let own = if case.kind == ErrorKind::Missed {
        TRUTH
    } else {
        DETECTION
    };
    let mut boxes = vec![(case.bbox, own)];
    if let Some(t) = case.truth {
        boxes.push((t, TRUTH));
    }
    let corners = |b: &[f64; 4]| [b[0], b[1], b[0] + b[2], b[1] + b[3]];
    let mut area = corners(&case.bbox);
    for (b, _) in &boxes {
        let c = corners(b);
        area = [
            area[0].min(c[0]),
            area[1].min(c[1]),
            area[2].max(c[2]),
            area[3].max(c[3]),
        ];
    }
    let margin = 0.25 * (area[2] - area[0]).max(area[3] - area[1]) + 8.0;
    let (iw, ih) = (f64::from(img.width()), f64::from(img.height()));
    let x0 = (area[0] - margin).clamp(0.0, iw).floor();
    let y0 = (area[1] - margin).clamp(0.0, ih).floor();
    let x1 = (area[2] + margin).clamp(0.0, iw).ceil();
    let y1 = (area[3] + margin).clamp(0.0, ih).ceil();
    if !(x1 - x0 >= 1.0 && y1 - y0 >= 1.0) {
        return None;
    }
    let (cw, ch) = ((x1 - x0) as u32, (y1 - y0) as u32);
    let part = image::imageops::crop_imm(img, x0 as u32, y0 as u32, cw, ch).to_image();
    let scale = (f64::from(THUMB) / f64::from(cw.max(ch))).min(4.0);
    let (tw, th) = (
        ((f64::from(cw) * scale).round() as u32).max(1),
        ((f64::from(ch) * scale).round() as u32).max(1),
    );
    let mut thumb = image::imageops::resize(&part, tw, th, image::imageops::FilterType::Triangle);
    for (b, colour) in boxes {
        let c = corners(&b);
        frame(
            &mut thumb,
            [
                (c[0] - x0) * scale,
                (c[1] - y0) * scale,
                (c[2] - x0) * scale - 1.0,
                (c[3] - y0) * scale - 1.0,
            ],
            colour,
        );
    }
    Some(thumb)
}

/// Crops every case of `list` (named `prefix-NN.jpg` in `crops`); per case,
/// the crop's file name or why there is none.
fn crops(
    crops: &Path,
    prefix: &str,
    list: &[Case],
    gt: &Dataset,
    root: &Path,
) -> Vec<Result<String, String>> {
    let files: HashMap<i64, &str> = gt
        .images
        .iter()
        .map(|i| (i.id, i.file_name.as_str()))
        .collect();
    // One decode per image.
    let mut by_image: Vec<(i64, Vec<usize>)> = Vec::new();
    for (n, c) in list.iter().enumerate() {
        match by_image.iter_mut().find(|(id, _)| *id == c.image_id) {
            Some((_, v)) => v.push(n),
            None => by_image.push((c.image_id, vec![n])),
        }
    }
    let done: Vec<Vec<(usize, Result<String, String>)>> = by_image
        .par_iter()
        .map(|(id, cases)| {
            let Some(file) = files.get(id) else {
                return cases
                    .iter()
                    .map(|&n| (n, Err(format!("image {id} has no file name"))))
                    .collect();
            };
            let path = root.join(file);
            let img = match image::open(&path) {
                Ok(img) => img.to_rgb8(),
                Err(e) => {
                    let why = format!("{}: {e}", path.display());
                    return cases.iter().map(|&n| (n, Err(why.clone()))).collect();
                }
            };
            cases
                .iter()
                .map(|&n| {
                    let name = format!("{prefix}-{:02}.jpg", n + 1);
                    let out = crops.join(&name);
                    let made = crop(&img, &list[n])
                        .ok_or_else(|| "the box lies outside the image".to_string())
                        .and_then(|t| {
                            crate::evidence::encode_jpeg(&t, 85, &out).map_err(|e| e.to_string())
                        })
                        .and_then(|jpeg| {
                            crate::evidence::write_atomic(&out, &jpeg).map_err(|e| e.to_string())
                        });
                    (n, made.map(|()| format!("{CROPS}/{name}")))
                })
                .collect()
        })
        .collect();
    let mut out: Vec<Result<String, String>> = vec![Err(String::new()); list.len()];
    for (n, r) in done.into_iter().flatten() {
        out[n] = r;
    }
    out
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Writes the "largest errors" page ([`PAGE`]) into `dir`, with JPEG crops
/// of the worst false positives and misses in [`CROPS`] when the images can
/// be read; the page says why where they cannot.
pub fn write_page(
    dir: &Path,
    b: &Breakdown,
    gt: &Dataset,
    images: Images,
) -> Result<(), ReportError> {
    let crop_dir = dir.join(CROPS);
    // Crops of an earlier report into the same folder would be stale.
    let _ = std::fs::remove_dir_all(&crop_dir);
    let lists = [
        ("fp", &b.worst_false_positives),
        ("fn", &b.worst_false_negatives),
    ];
    let made: Vec<Vec<Result<String, String>>> = match images {
        Images::Folder(root) if lists.iter().any(|(_, l)| !l.is_empty()) => {
            std::fs::create_dir_all(&crop_dir).map_err(|source| ReportError::CreateDir {
                path: crop_dir.clone(),
                source,
            })?;
            lists
                .iter()
                .map(|(prefix, list)| crops(&crop_dir, prefix, list, gt, root))
                .collect()
        }
        _ => lists
            .iter()
            .map(|(_, l)| vec![Err(String::new()); l.len()])
            .collect(),
    };
    let names: HashMap<i64, &str> = gt
        .categories
        .iter()
        .map(|c| (c.id, c.name.as_str()))
        .collect();
    let files: HashMap<i64, &str> = gt
        .images
        .iter()
        .map(|i| (i.id, i.file_name.as_str()))
        .collect();
    let name = |id: i64| {
        names
            .get(&id)
            .map_or_else(|| id.to_string(), |n| n.to_string())
    };
    let mut body = format!(
        "<h1>Largest errors</h1>\n<p><a href=\"report.html\">Back to the report</a></p>\n<p>The {n} highest-scoring false positives, with their TIDE error type, and the {n} largest missed objects (TIDE's \"missed\": no detection came near). Boxes: detection red, ground truth green.</p>\n",
        n = WORST_SHOWN
    );
    let failed: Vec<&String> = made
        .iter()
        .flatten()
        .filter_map(|r| r.as_ref().err())
        .collect();
    match images {
        Images::Unavailable(why) => {
            body.push_str(&format!(
                "<p class=\"note\">No crops: {}.</p>\n",
                escape(why)
            ));
        }
        Images::Folder(root) if !failed.is_empty() => {
            let all = failed.len() == made.iter().map(Vec::len).sum::<usize>();
            body.push_str(&format!(
                "<p class=\"note\">{} of the crops could not be made from the images under {} (pass --images DIR where they are elsewhere); first: {}</p>\n",
                if all { "None" } else { "Some" },
                escape(&root.display().to_string()),
                escape(failed[0])
            ));
        }
        Images::Folder(_) => {}
    }
    for (((_, list), made), title) in lists
        .iter()
        .zip(&made)
        .zip(["False positives", "Missed objects"])
    {
        body.push_str(&format!("<h2>{title}</h2>\n"));
        if list.is_empty() {
            body.push_str("<p>None.</p>\n");
            continue;
        }
        body.push_str("<div class=\"grid\">\n");
        for (n, (case, crop)) in list.iter().zip(made).enumerate() {
            let b = case.bbox;
            let mut caption = format!("{}. {} ", n + 1, case.kind.name());
            match case.score {
                Some(s) => caption.push_str(&format!("{} {s:.3}", escape(&name(case.category_id)))),
                None => caption.push_str(&escape(&name(case.category_id))),
            }
            if let Some(t) = case.truth_category_id {
                if t != case.category_id {
                    caption.push_str(&format!(" (truth: {})", escape(&name(t))));
                }
            }
            let file = files
                .get(&case.image_id)
                .map_or_else(|| case.image_id.to_string(), |f| f.to_string());
            caption.push_str(&format!(
                "<br>{} [{:.0}, {:.0}, {:.0}, {:.0}]",
                escape(&file),
                b[0],
                b[1],
                b[2],
                b[3]
            ));
            let img = match crop {
                Ok(src) => format!("<img src=\"{}\" alt=\"\">", escape(src)),
                Err(_) => String::new(),
            };
            body.push_str(&format!(
                "<figure>{img}<figcaption>{caption}</figcaption></figure>\n"
            ));
        }
        body.push_str("</div>\n");
    }
    let page = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>lookout eval: largest errors</title>\n<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto}}.grid{{display:flex;flex-wrap:wrap;gap:8px}}figure{{margin:0;width:200px;font-size:12px}}img{{display:block;max-width:200px}}.note{{color:#a40}}</style></head><body>\n{body}</body></html>\n"
    );
    crate::evidence::write_atomic(&dir.join(PAGE), page.as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::{Annotation, Category, Image};

    fn ann(id: i64, image_id: i64, category_id: i64, bbox: [f64; 4]) -> Annotation {
        Annotation {
            id,
            image_id,
            category_id,
            bbox,
            area: bbox[2] * bbox[3],
            iscrowd: false,
        }
    }

    fn det(image_id: i64, category_id: i64, bbox: [f64; 4], score: f64) -> Prediction {
        Prediction {
            image_id,
            category_id,
            bbox,
            score,
        }
    }

    fn dataset(annotations: Vec<Annotation>) -> Dataset {
        Dataset {
            images: (1..=2)
                .map(|id| Image {
                    id,
                    file_name: format!("{id}.png"),
                    width: 640,
                    height: 480,
                })
                .collect(),
            categories: vec![
                Category {
                    id: 1,
                    name: "person".into(),
                },
                Category {
                    id: 2,
                    name: "boat".into(),
                },
            ],
            annotations,
            ..Default::default()
        }
    }

    #[test]
    fn class_ap_reads_101_recall_points_of_the_monotone_curve() {
        let (mut p, mut r) = (Vec::new(), Vec::new());
        // Precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1: made monotone, 1 up
        // to recall 0.5 (51 points) and 2/3 beyond (50 points).
        let ap = class_ap(&[true, false, true], 2, &mut p, &mut r);
        assert!(
            (ap - (51.0 + 50.0 * 2.0 / 3.0) / 101.0).abs() < 1e-15,
            "{ap}"
        );
        assert_eq!(class_ap(&[true], 0, &mut p, &mut r), 0.0);
        assert_eq!(class_ap(&[], 3, &mut p, &mut r), 0.0);
    }

    #[test]
    fn integer_keys_order_scores_as_tidecv_does() {
        let scores = [
            0.9,
            -0.0,
            0.0,
            1e-300,
            -1e-300,
            0.5,
            0.9,
            -2.0,
            f64::MAX,
            1.0,
        ];
        let mut by_float: Vec<usize> = (0..scores.len()).collect();
        by_float.sort_by(|&a, &b| by_score(scores[a], scores[b]).then(a.cmp(&b)));
        let mut by_key: Vec<usize> = (0..scores.len()).collect();
        by_key.sort_by_key(|&i| (descending(scores[i]), i));
        assert_eq!(by_key, by_float);
        assert_eq!(descending(0.0), descending(-0.0));
    }

    #[test]
    fn perfect_detections_cost_nothing() {
        let gt = dataset(vec![
            ann(1, 1, 1, [10.0, 10.0, 50.0, 50.0]),
            ann(2, 2, 2, [100.0, 100.0, 20.0, 20.0]),
        ]);
        let dt: Vec<Prediction> = gt
            .annotations
            .iter()
            .map(|a| det(a.image_id, a.category_id, a.bbox, 0.9))
            .collect();
        let b = analyse(&gt, &dt, 100);
        assert_eq!(b.ap50, 1.0);
        for kind in ErrorKind::ALL {
            assert_eq!(b.main.get(kind), &ErrorFigure { dap: 0.0, count: 0 });
        }
        assert_eq!(b.special.false_positives, 0.0);
        assert!(b.worst_false_positives.is_empty() && b.worst_false_negatives.is_empty());
    }

    #[test]
    fn each_detection_gets_the_first_error_type_that_fits() {
        let gt = dataset(vec![
            ann(1, 1, 1, [0.0, 0.0, 100.0, 100.0]),
            ann(2, 1, 1, [300.0, 0.0, 100.0, 100.0]),
            ann(3, 1, 2, [0.0, 300.0, 100.0, 100.0]),
            ann(4, 2, 2, [0.0, 0.0, 10.0, 10.0]),
        ]);
        let dt = vec![
            // A hit on object 1, then a duplicate of it.
            det(1, 1, [0.0, 0.0, 100.0, 100.0], 0.9),
            det(1, 1, [5.0, 0.0, 100.0, 100.0], 0.8),
            // A boat on object 1 (a person): classification, not fixable
            // (object 1 is found).
            det(1, 2, [0.0, 0.0, 95.0, 100.0], 0.7),
            // Two poor boxes on object 2 (IoU 0.3 and 0.2): localisation,
            // the better-scoring one fixed.
            det(1, 1, [300.0, 0.0, 30.0, 100.0], 0.6),
            det(1, 1, [300.0, 0.0, 20.0, 100.0], 0.5),
            // A person on the boat, poorly placed (IoU 0.3): both.
            det(1, 1, [0.0, 300.0, 30.0, 100.0], 0.45),
            // Nothing there.
            det(1, 1, [500.0, 300.0, 50.0, 50.0], 0.4),
        ];
        let b = analyse(&gt, &dt, 100);
        let count = |k: ErrorKind| b.main.get(k).count;
        assert_eq!(count(ErrorKind::Duplicate), 1);
        assert_eq!(count(ErrorKind::Classification), 1);
        assert_eq!(count(ErrorKind::Localisation), 2);
        assert_eq!(count(ErrorKind::Both), 1);
        assert_eq!(count(ErrorKind::Background), 1);
        // Object 2 has a localisation error pointing at it, so it is not
        // missed; the boat of image 1 and the one of image 2 are.
        assert_eq!(count(ErrorKind::Missed), 2);
        assert!(b.main.localisation.dap > 0.0, "{b:?}");
        // Without its two objects, the boat class keeps its false positive:
        // AP 0 either way.
        assert_eq!(b.main.missed.dap, 0.0, "{b:?}");
        assert!(b.special.false_negatives > 0.0, "{b:?}");
        assert_eq!(b.main.classification.dap, 0.0, "nothing to fix: {b:?}");
        assert_eq!(
            b.worst_false_positives
                .iter()
                .map(|c| c.kind)
                .collect::<Vec<_>>(),
            vec![
                ErrorKind::Duplicate,
                ErrorKind::Classification,
                ErrorKind::Localisation,
                ErrorKind::Localisation,
                ErrorKind::Both,
                ErrorKind::Background
            ]
        );
        assert_eq!(b.worst_false_negatives[0].bbox, [0.0, 300.0, 100.0, 100.0]);

        // Person AP: hits at 0.9 and (fixed) 0.6 of 2 objects, with false
        // positives at 0.8 (duplicate) and 0.5, 0.45, 0.4 in between.
        // Boat AP: 0 (a false positive at 0.7, two objects missed).
        let (mut p, mut r) = (Vec::new(), Vec::new());
        let person = class_ap(&[true, false, true, false, false, false], 2, &mut p, &mut r);
        let fixed = class_ap(&[true, false, true, false, false], 2, &mut p, &mut r);
        let before = class_ap(
            &[true, false, false, false, false, false],
            2,
            &mut p,
            &mut r,
        );
        assert_eq!(b.ap50, before / 2.0);
        assert!((b.main.localisation.dap - (fixed - before) / 2.0).abs() < 1e-15);
        assert!(person > before);
    }

    #[test]
    fn crowd_regions_absorb_detections_and_the_cap_is_per_image() {
        let mut crowd = ann(9, 1, 1, [0.0, 0.0, 200.0, 200.0]);
        crowd.iscrowd = true;
        let gt = dataset(vec![crowd, ann(1, 2, 1, [10.0, 10.0, 50.0, 50.0])]);
        let mut dt = vec![det(1, 1, [10.0, 10.0, 20.0, 20.0], 0.95)];
        // Image 2: the hit scores below three boats; a cap of 3 per image
        // (all classes) drops it.
        dt.push(det(2, 1, [10.0, 10.0, 50.0, 50.0], 0.5));
        for k in 0..3 {
            dt.push(det(
                2,
                2,
                [300.0 + 30.0 * f64::from(k), 0.0, 20.0, 20.0],
                0.9,
            ));
        }
        let b = analyse(&gt, &dt, 100);
        assert_eq!(
            b.main.background.count, 4,
            "the crowd's detection has an error too"
        );
        // Person AP 1 (the crowd's detection is ignored), boat AP 0 (false
        // positives only).
        assert_eq!(b.ap50, 0.5);
        let capped = analyse(&gt, &dt, 3);
        assert_eq!(capped.ap50, 0.0);
        assert_eq!(capped.main.missed.count, 1);
    }

    #[test]
    fn markdown_tabulates_the_errors_and_links_the_page() {
        let gt = dataset(vec![ann(1, 1, 1, [0.0, 0.0, 10.0, 10.0])]);
        let b = analyse(&gt, &[det(1, 2, [0.0, 0.0, 10.0, 10.0], 0.5)], 100);
        let md = markdown(&b);
        assert!(md.starts_with("\n## Errors (TIDE)\n"), "{md}");
        // Fixed, the boat is a person: person AP 1, and the boat class,
        // left empty, drops out of the mean.
        assert!(
            md.contains("| classification | 1.0000 | 1 | right place, wrong class |"),
            "{md}"
        );
        assert!(md.contains("| missed | 0.0000 | 0 |"), "{md}");
        assert!(
            md.ends_with("\n[Largest errors](largest_errors.html)\n"),
            "{md}"
        );
    }
}
