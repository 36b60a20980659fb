//! Non-maximum suppression: the pure function every model family ends with.
//!
//! Class-aware NMS keeps, for each class separately, the highest-scoring box
//! of every cluster of boxes that overlap above an IoU threshold. Two boxes of
//! different classes never suppress each other, so a boat and the people on
//! it both survive.

use super::Detection;

/// Keeps the detections that survive class-aware NMS at `iou_threshold`,
/// ordered by descending score, at most `max_det` of them.
///
/// Ties in score are broken by input order, so the result is deterministic.
pub fn nms_class_aware(
    mut dets: Vec<Detection>,
    iou_threshold: f32,
    max_det: usize,
) -> Vec<Detection> {
    // A stable sort keeps input order among equal scores.
    dets.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<Detection> = Vec::with_capacity(dets.len().min(max_det));
    for d in dets {
        if kept.len() >= max_det {
            break;
        }
        let suppressed = kept
            .iter()
            .any(|k| k.class_id == d.class_id && k.bbox.iou(&d.bbox) > iou_threshold);
        if !suppressed {
            kept.push(d);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geom::BBox;
    use proptest::prelude::*;

    fn det(class_id: usize, score: f32, x1: f32, y1: f32, x2: f32, y2: f32) -> Detection {
        Detection {
            class_id,
            score,
            bbox: BBox::new(x1, y1, x2, y2),
        }
    }

    #[test]
    fn suppresses_same_class_duplicates_only() {
        let dets = vec![
            det(0, 0.9, 0.0, 0.0, 10.0, 10.0),
            det(0, 0.8, 1.0, 0.0, 11.0, 10.0),
            det(1, 0.7, 1.0, 0.0, 11.0, 10.0),
        ];
        let kept = nms_class_aware(dets, 0.5, 100);
        assert_eq!(kept.len(), 2);
        assert_eq!((kept[0].class_id, kept[0].score), (0, 0.9));
        assert_eq!((kept[1].class_id, kept[1].score), (1, 0.7));
    }

    #[test]
    fn respects_max_det() {
        let dets = (0..10)
            .map(|i| {
                det(
                    0,
                    i as f32 / 10.0,
                    i as f32 * 20.0,
                    0.0,
                    i as f32 * 20.0 + 10.0,
                    10.0,
                )
            })
            .collect();
        let kept = nms_class_aware(dets, 0.5, 3);
        assert_eq!(
            kept.iter().map(|d| d.score).collect::<Vec<_>>(),
            vec![0.9, 0.8, 0.7]
        );
    }

    fn arb_det() -> impl Strategy<Value = Detection> {
        (
            0usize..3,
            0.0f32..1.0,
            0.0f32..200.0,
            0.0f32..200.0,
            1.0f32..60.0,
            1.0f32..60.0,
        )
            .prop_map(|(c, s, x, y, w, h)| det(c, s, x, y, x + w, y + h))
    }

    proptest! {
        #[test]
        fn nms_invariants(dets in prop::collection::vec(arb_det(), 0..60), thr in 0.1f32..0.9) {
            let kept = nms_class_aware(dets.clone(), thr, usize::MAX);
            // Kept is a subset of the input.
            for k in &kept {
                prop_assert!(dets.iter().any(|d| d == k));
            }
            // No kept pair of one class overlaps above the threshold.
            for (i, a) in kept.iter().enumerate() {
                for b in &kept[i + 1..] {
                    prop_assert!(a.class_id != b.class_id || a.bbox.iou(&b.bbox) <= thr);
                }
            }
            // Sorted by score, descending.
            prop_assert!(kept.windows(2).all(|w| w[0].score >= w[1].score));
            // Every dropped box is explained by a kept box of its class with
            // at least its score that overlaps it above the threshold.
            for d in &dets {
                if !kept.iter().any(|k| k == d) {
                    prop_assert!(kept.iter().any(|k| k.class_id == d.class_id
                        && k.score >= d.score && k.bbox.iou(&d.bbox) > thr));
                }
            }
            // The best box of each class always survives.
            for c in 0..3 {
                if let Some(best) = dets.iter().filter(|d| d.class_id == c).map(|d| d.score).reduce(f32::max) {
                    prop_assert!(kept.iter().any(|k| k.class_id == c && k.score == best));
                }
            }
        }
    }
}
