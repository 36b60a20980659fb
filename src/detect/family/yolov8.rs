//! Ultralytics YOLOv8 / YOLO11 exports: one output `[batch, 4 + nc, anchors]`.
//!
//! Rows 0–3 are the box centre and size in model-input pixels; rows 4.. are
//! per-class scores, already passed through a sigmoid. There is no
//! objectness row. Ultralytics writes the class names into the `names`
//! metadata entry.

use super::{Candidate, Family, FamilyMatch, ModelSignature};

/// Recognises the layout: one rank-3 output whose middle axis is `4 + nc`
/// and whose last axis (anchors) is the larger one.
pub fn matches(sig: &ModelSignature) -> Option<FamilyMatch> {
    let [(name, shape)] = sig.outputs.as_slice() else { return None };
    let &[_, rows, anchors] = shape.as_slice() else { return None };
    if rows < 5 {
        return None;
    }
    let nc = (rows - 4) as usize;
    let reason = match sig.metadata_classes {
        Some(n) if n == nc => format!("one output {name} {shape:?} = [batch, 4 + {nc} classes, anchors], and the model's `names` metadata lists {nc} classes"),
        Some(_) => return None,
        None if anchors == -1 || anchors > rows => {
            format!("one output {name} {shape:?} read as [batch, 4 + {nc} classes, anchors] (no `names` metadata to confirm it)")
        }
        None => return None,
    };
    Some(FamilyMatch { family: Family::Yolov8, num_classes: nc, reason })
}

/// Decodes one image's output, `dims = [4 + nc, anchors]`, keeping anchors
/// whose best class scores at least `conf`.
pub fn decode(data: &[f32], dims: &[usize], conf: f32) -> Vec<Candidate> {
    let (rows, anchors) = (dims[0], dims[1]);
    // Scan class rows one at a time so every read is contiguous.
    let mut best = vec![(0usize, f32::NEG_INFINITY); anchors];
    for class_id in 0..rows - 4 {
        let row = &data[(4 + class_id) * anchors..(5 + class_id) * anchors];
        for (b, &s) in best.iter_mut().zip(row) {
            if s > b.1 {
                *b = (class_id, s);
            }
        }
    }
    best.iter()
        .enumerate()
        .filter(|(_, (_, s))| *s >= conf)
        .map(|(j, &(class_id, score))| Candidate {
            class_id,
            score,
            cx: data[j],
            cy: data[anchors + j],
            w: data[2 * anchors + j],
            h: data[3 * anchors + j],
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_best_class_per_anchor() {
        // 2 classes, 3 anchors.
        #[rustfmt::skip]
        let data = [
            10.0, 20.0, 30.0,   // cx
            11.0, 21.0, 31.0,   // cy
            4.0, 4.0, 4.0,      // w
            6.0, 6.0, 6.0,      // h
            0.9, 0.1, 0.2,      // class 0
            0.3, 0.8, 0.1,      // class 1
        ];
        let c = decode(&data, &[6, 3], 0.25);
        assert_eq!(c.len(), 2);
        assert_eq!((c[0].class_id, c[0].score, c[0].cx, c[0].cy), (0, 0.9, 10.0, 11.0));
        assert_eq!((c[1].class_id, c[1].score, c[1].cx, c[1].h), (1, 0.8, 20.0, 6.0));
    }

    #[test]
    fn rejects_metadata_class_count_mismatch() {
        let sig = ModelSignature {
            input_shape: vec![1, 3, 640, 640],
            outputs: vec![("output0".into(), vec![1, 84, 8400])],
            metadata_classes: Some(3),
        };
        assert!(matches(&sig).is_none());
    }
}
