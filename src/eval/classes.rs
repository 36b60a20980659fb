//! Per-class figures beyond COCO's means: AP and AP50 per class, precision,
//! recall and F1 at a chosen score threshold and at the F1-optimal one
//! (COCO matching at IoU 0.5, crowd regions and their detections ignored),
//! and a confusion matrix with a background row and column.

use rayon::prelude::*;
use serde::Serialize;

use super::coco::{box_iou, Evaluation};
use super::{Dataset, IdMap, Prediction};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OperatingPoint {
    pub threshold: f64,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub true_positives: usize,
    pub false_positives: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassMetrics {
    pub id: i64,
    pub name: String,
    /// Ground-truth objects (not crowd).
    pub objects: usize,
    pub detections: usize,
    /// AP@[.50:.95]; -1 without ground truth.
    pub ap: f64,
    pub ap50: f64,
    /// At the chosen score threshold.
    pub at_threshold: OperatingPoint,
    /// At the threshold that maximises F1 (None without detections).
    pub best_f1: Option<OperatingPoint>,
}

fn point(threshold: f64, tp: usize, fp: usize, objects: usize) -> OperatingPoint {
    let precision = if tp + fp > 0 {
        tp as f64 / (tp + fp) as f64
    } else {
        0.0
    };
    let recall = if objects > 0 {
        tp as f64 / objects as f64
    } else {
        0.0
    };
    let f1 = if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    };
    OperatingPoint {
        threshold,
        precision,
        recall,
        f1,
        true_positives: tp,
        false_positives: fp,
    }
}

/// Per-class metrics from a COCO evaluation. `threshold` is the score at
/// which precision, recall and F1 are reported.
pub fn per_class(ev: &Evaluation, gt: &Dataset, threshold: f64) -> Vec<ClassMetrics> {
    ev.cat_ids
        .iter()
        .enumerate()
        .map(|(k, &id)| {
            let (sweep, objects) = &ev.sweeps[k];
            let name = gt
                .categories
                .iter()
                .find(|c| c.id == id)
                .map_or_else(|| id.to_string(), |c| c.name.clone());
            let (mut tp, mut fp) = (0usize, 0usize);
            let mut at = point(threshold, 0, 0, *objects);
            let mut best: Option<OperatingPoint> = None;
            for (i, &(score, hit)) in sweep.iter().enumerate() {
                if hit {
                    tp += 1;
                } else {
                    fp += 1;
                }
                // An operating point sits after the last detection of a score.
                let last_of_score = sweep.get(i + 1).is_none_or(|n| n.0 != score);
                if !last_of_score {
                    continue;
                }
                let p = point(score, tp, fp, *objects);
                if score >= threshold {
                    at = p.clone();
                }
                if best.as_ref().is_none_or(|b| p.f1 > b.f1) {
                    best = Some(p);
                }
            }
            ClassMetrics {
                id,
                name,
                objects: *objects,
                detections: sweep.len(),
                ap: ev.class_ap(k, None),
                ap50: ev.class_ap(k, Some(0.5)),
                at_threshold: at,
                best_f1: best,
            }
        })
        .collect()
}

/// A confusion matrix over the categories plus background. Rows are
/// predicted classes, columns true classes; the last row and column are
/// background: `[background][c]` counts missed objects of `c`,
/// `[c][background]` false detections of `c`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Confusion {
    /// Category names, then `background`.
    pub labels: Vec<String>,
    pub matrix: Vec<Vec<u64>>,
    pub iou: f64,
    pub threshold: f64,
}

/// Builds the confusion matrix: detections scoring at least `threshold`
/// are matched to ground truth of any class, greedily by IoU (at least
/// `iou`), best pair first. Detections that fall mostly inside a crowd
/// region are left out.
pub fn confusion(gt: &Dataset, dt: &[Prediction], threshold: f64, iou: f64) -> Confusion {
    let mut cats: Vec<(i64, String)> = gt
        .categories
        .iter()
        .map(|c| (c.id, c.name.clone()))
        .collect();
    cats.sort_by_key(|c| c.0);
    let n = cats.len();
    // Row and column of a category id: its first place among the sorted.
    let mut rows: IdMap<usize> = IdMap::default();
    for (i, c) in cats.iter().enumerate() {
        rows.entry(c.0).or_insert(i);
    }
    // Annotations and the detections that count, per image, in file order.
    let mut images: IdMap<usize> = IdMap::default();
    let mut image_of = |id: i64| {
        let next = images.len();
        *images.entry(id).or_insert(next)
    };
    let ann_image: Vec<usize> = gt
        .annotations
        .iter()
        .map(|a| image_of(a.image_id))
        .collect();
    let det_image: Vec<Option<usize>> = dt
        .iter()
        .map(|d| {
            (d.score >= threshold && rows.contains_key(&d.category_id))
                .then(|| image_of(d.image_id))
        })
        .collect();
    let ni = images.len();
    let by_image = |keys: &[Option<usize>]| {
        let mut lists: Vec<Vec<usize>> = vec![Vec::new(); ni];
        for (j, k) in keys.iter().enumerate() {
            if let Some(i) = k {
                lists[*i].push(j);
            }
        }
        lists
    };
    let gts = by_image(&ann_image.into_iter().map(Some).collect::<Vec<_>>());
    let dets = by_image(&det_image);
    let side = n + 1;
    let cells = (0..ni)
        .into_par_iter()
        .fold(
            || vec![0u64; side * side],
            |mut cells, i| {
                confuse_image(gt, dt, &gts[i], &dets[i], &rows, iou, &mut cells, n);
                cells
            },
        )
        .reduce(
            || vec![0u64; side * side],
            |mut a, b| {
                a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
                a
            },
        );
    let matrix = cells.chunks(side).map(<[u64]>::to_vec).collect();
    let mut labels: Vec<String> = cats.into_iter().map(|c| c.1).collect();
    labels.push("background".into());
    Confusion {
        labels,
        matrix,
        iou,
        threshold,
    }
}

/// Adds one image's matches, misses and false detections to `cells`
/// (`(n + 1)²`, row-major; `n` is the background).
#[allow(clippy::too_many_arguments)]
fn confuse_image(
    gt: &Dataset,
    dt: &[Prediction],
    gts: &[usize],
    dets: &[usize],
    rows: &IdMap<usize>,
    iou: f64,
    cells: &mut [u64],
    n: usize,
) {
    let side = n + 1;
    let (crowd, objects): (Vec<usize>, Vec<usize>) =
        gts.iter().partition(|&&j| gt.annotations[j].iscrowd);
    let objects: Vec<usize> = objects
        .into_iter()
        .filter(|&j| rows.contains_key(&gt.annotations[j].category_id))
        .collect();
    // Objects by left edge, with the rightmost right edge so far: a
    // detection only overlaps (IoU above 0) objects that start left of its
    // right edge, and none before the first whose running right edge passes
    // its left edge.
    let mut by_left: Vec<([f64; 4], usize)> = objects
        .iter()
        .enumerate()
        .map(|(gi, &g)| (gt.annotations[g].bbox, gi))
        .collect();
    by_left.sort_by(|a, b| a.0[0].total_cmp(&b.0[0]));
    let mut reach = Vec::with_capacity(by_left.len());
    let mut furthest = f64::NEG_INFINITY;
    for (g, _) in &by_left {
        furthest = furthest.max(g[2] + g[0]);
        reach.push(furthest);
    }
    let mut pairs: Vec<(f64, usize, usize)> = Vec::new();
    for (di, &d) in dets.iter().enumerate() {
        let b = &dt[d].bbox;
        // Without a positive threshold every pair counts.
        let range = if iou > 0.0 {
            let from = reach.partition_point(|&r| r <= b[0]);
            let to = by_left.partition_point(|(g, _)| g[0] < b[2] + b[0]);
            from..to.max(from)
        } else {
            0..by_left.len()
        };
        for (g, gi) in &by_left[range] {
            let v = box_iou(b, g, false);
            if v >= iou {
                pairs.push((v, di, *gi));
            }
        }
    }
    pairs.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let row = |id: i64| rows[&id];
    let mut det_used = vec![false; dets.len()];
    let mut gt_used = vec![false; objects.len()];
    for (_, di, gi) in pairs {
        if det_used[di] || gt_used[gi] {
            continue;
        }
        det_used[di] = true;
        gt_used[gi] = true;
        let p = row(dt[dets[di]].category_id);
        let t = row(gt.annotations[objects[gi]].category_id);
        cells[p * side + t] += 1;
    }
    for (gi, &g) in objects.iter().enumerate() {
        if !gt_used[gi] {
            let t = row(gt.annotations[g].category_id);
            cells[n * side + t] += 1;
        }
    }
    for (di, &d) in dets.iter().enumerate() {
        if det_used[di] {
            continue;
        }
        let in_crowd = crowd
            .iter()
            .any(|&c| box_iou(&dt[d].bbox, &gt.annotations[c].bbox, true) >= 0.5);
        if !in_crowd {
            let p = row(dt[d].category_id);
            cells[p * side + n] += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::coco::{evaluate, Params};
    use crate::eval::{Annotation, Category, Image};

    #[test]
    fn operating_points_and_confusion_on_a_known_case() {
        let gt = Dataset {
            images: vec![Image {
                id: 1,
                file_name: "a.png".into(),
                width: 100,
                height: 100,
            }],
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
            annotations: vec![
                Annotation {
                    id: 1,
                    image_id: 1,
                    category_id: 1,
                    bbox: [0.0, 0.0, 10.0, 10.0],
                    area: 100.0,
                    iscrowd: false,
                },
                Annotation {
                    id: 2,
                    image_id: 1,
                    category_id: 2,
                    bbox: [50.0, 50.0, 20.0, 20.0],
                    area: 400.0,
                    iscrowd: false,
                },
            ],
            ..Default::default()
        };
        let p = |c, x: f64, s| Prediction {
            image_id: 1,
            category_id: c,
            bbox: [x, x, 10.0, 10.0],
            score: s,
        };
        // A person found (0.9), a false person (0.8), the boat called a person (0.4).
        let dt = vec![
            p(1, 0.0, 0.9),
            p(1, 30.0, 0.8),
            Prediction {
                bbox: [50.0, 50.0, 20.0, 20.0],
                ..p(1, 0.0, 0.4)
            },
        ];
        let ev = evaluate(&gt, &dt, &Params::default()).unwrap();
        let m = per_class(&ev, &gt, 0.5);
        let person = &m[0];
        assert_eq!((person.objects, person.detections), (1, 3));
        assert_eq!(person.at_threshold.true_positives, 1);
        assert_eq!(person.at_threshold.false_positives, 1);
        assert!((person.at_threshold.precision - 0.5).abs() < 1e-12);
        let best = person.best_f1.as_ref().unwrap();
        assert_eq!((best.threshold, best.f1), (0.9, 1.0));
        assert_eq!(m[1].ap, 0.0, "the boat was never found as a boat");

        let c = confusion(&gt, &dt, 0.3, 0.5);
        assert_eq!(c.labels, vec!["person", "boat", "background"]);
        // rows: predicted person, boat, background; columns: true.
        assert_eq!(c.matrix, vec![vec![1, 1, 1], vec![0, 0, 0], vec![0, 0, 0]]);
    }

    /// The confusion matrix written out directly: every detection against
    /// every object of its image, as before the search by box edges.
    fn direct_confusion(
        gt: &Dataset,
        dt: &[Prediction],
        threshold: f64,
        iou: f64,
    ) -> Vec<Vec<u64>> {
        let mut ids: Vec<i64> = gt.categories.iter().map(|c| c.id).collect();
        ids.sort();
        let n = ids.len();
        let index = |id: i64| ids.iter().position(|&c| c == id);
        let mut matrix = vec![vec![0u64; n + 1]; n + 1];
        let mut images: Vec<i64> = gt.annotations.iter().map(|a| a.image_id).collect();
        images.extend(dt.iter().map(|d| d.image_id));
        images.sort();
        images.dedup();
        for img in images {
            let crowd: Vec<&Annotation> = gt
                .annotations
                .iter()
                .filter(|a| a.image_id == img && a.iscrowd)
                .collect();
            let objects: Vec<&Annotation> = gt
                .annotations
                .iter()
                .filter(|a| a.image_id == img && !a.iscrowd && index(a.category_id).is_some())
                .collect();
            let dets: Vec<&Prediction> = dt
                .iter()
                .filter(|d| {
                    d.image_id == img && d.score >= threshold && index(d.category_id).is_some()
                })
                .collect();
            let mut pairs = Vec::new();
            for (di, d) in dets.iter().enumerate() {
                for (gi, g) in objects.iter().enumerate() {
                    let v = box_iou(&d.bbox, &g.bbox, false);
                    if v >= iou {
                        pairs.push((v, di, gi));
                    }
                }
            }
            pairs.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
            let (mut det_used, mut gt_used) = (vec![false; dets.len()], vec![false; objects.len()]);
            for (_, di, gi) in pairs {
                if !det_used[di] && !gt_used[gi] {
                    det_used[di] = true;
                    gt_used[gi] = true;
                    matrix[index(dets[di].category_id).unwrap()]
                        [index(objects[gi].category_id).unwrap()] += 1;
                }
            }
            for (gi, g) in objects.iter().enumerate() {
                if !gt_used[gi] {
                    matrix[n][index(g.category_id).unwrap()] += 1;
                }
            }
            for (di, d) in dets.iter().enumerate() {
                if !det_used[di] && !crowd.iter().any(|c| box_iou(&d.bbox, &c.bbox, true) >= 0.5) {
                    matrix[index(d.category_id).unwrap()][n] += 1;
                }
            }
        }
        matrix
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn bbox() -> impl Strategy<Value = [f64; 4]> {
            (0.0..100.0f64, 0.0..100.0f64, 0.0..60.0f64, 0.0..60.0f64)
                .prop_map(|(x, y, w, h)| [x, y, w, h])
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn confusion_equals_the_direct_computation(
                anns in prop::collection::vec((1..4i64, 1..4i64, bbox(), prop::bool::weighted(0.1)), 0..30),
                dets in prop::collection::vec((1..4i64, 1..5i64, bbox(), 0.0..1.0f64), 0..40),
                iou in prop_oneof![Just(0.5), Just(0.1), Just(0.0), 0.0..1.0f64],
            ) {
                let gt = Dataset {
                    images: (1..4).map(|id| Image { id, file_name: format!("{id}.png"), width: 100, height: 100 }).collect(),
                    // Category 4 is unknown: its detections are left out.
                    categories: (1..4).map(|id| Category { id, name: format!("c{id}") }).collect(),
                    annotations: anns
                        .into_iter()
                        .enumerate()
                        .map(|(n, (image_id, category_id, bbox, iscrowd))| Annotation {
                            id: n as i64 + 1,
                            image_id,
                            category_id,
                            bbox,
                            area: bbox[2] * bbox[3],
                            iscrowd,
                        })
                        .collect(),
                    ..Default::default()
                };
                let dt: Vec<Prediction> = dets
                    .into_iter()
                    .map(|(image_id, category_id, bbox, score)| Prediction { image_id, category_id, bbox, score })
                    .collect();
                let c = confusion(&gt, &dt, 0.3, iou);
                prop_assert_eq!(c.matrix, direct_confusion(&gt, &dt, 0.3, iou));
            }
        }
    }
}
