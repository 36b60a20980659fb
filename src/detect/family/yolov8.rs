//! Ultralytics YOLOv8 / YOLO11 / YOLO12 exports: one output
//! `[batch, 4 + nc, anchors]`.
//!
//! Rows 0–3 are the box centre and size in model-input pixels; rows 4.. are
//! per-class scores, already passed through a sigmoid. There is no
//! objectness row. Ultralytics writes the class names into the `names`
//! metadata entry.

use super::{
    Candidate, DecodeError, Decoded, Family, FamilyMatch, ModelSignature, RawOutput, Space,
};
use crate::geom::BBox;

/// Recognises the layout: one rank-3 output whose middle axis is `4 + nc`
/// and whose last axis (anchors) is the larger one.
pub fn matches(sig: &ModelSignature) -> Option<FamilyMatch> {
    let [out] = sig.outputs.as_slice() else {
        return None;
    };
    let &[_, rows, anchors] = out.shape.as_slice() else {
        return None;
    };
    if rows < 5 || sig.meta("end2end") == Some("True") {
        return None;
    }
    let nc = (rows - 4) as usize;
    let name = &out.name;
    let shape = &out.shape;
    let reason = match sig.metadata_classes {
        Some(n) if n == nc => format!("one output {name} {shape:?} = [batch, 4 + {nc} classes, anchors], and the `names` metadata lists {nc} classes"),
        Some(_) => return None,
        None if anchors == -1 || anchors > rows => {
            format!("one output {name} {shape:?} read as [batch, 4 + {nc} classes, anchors] (no `names` metadata to confirm it)")
        }
        None => return None,
    };
    Some(FamilyMatch {
        family: Family::Yolov8,
        num_classes: Some(nc),
        reason,
    })
}

/// Decodes image `b`, keeping anchors whose best class scores at least `conf`.
pub fn decode(outs: &[RawOutput], b: usize, conf: f32) -> Result<Decoded, DecodeError> {
    let v = outs[0].image(b, 2)?;
    let (rows, anchors) = (v.dims[0], v.dims[1]);
    let data = v.data;
    // Scan class rows one at a time so every read is contiguous.
    let mut best = vec![(0usize, f32::NEG_INFINITY); anchors];
    for class_id in 0..rows.saturating_sub(4) {
        let row = &data[(4 + class_id) * anchors..(5 + class_id) * anchors];
        for (b, &s) in best.iter_mut().zip(row) {
            if s > b.1 {
                *b = (class_id, s);
            }
        }
    }
    let candidates = best
        .iter()
        .enumerate()
        .filter(|(_, (_, s))| *s >= conf)
        .map(|(j, &(class_id, score))| Candidate {
            class_id,
            score,
            bbox: BBox::from_cxcywh(
                data[j],
                data[anchors + j],
                data[2 * anchors + j],
                data[3 * anchors + j],
            ),
        })
        .collect();
    Ok(Decoded {
        candidates,
        space: Space::Input,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::family::TensorDecl;

    #[test]
    fn decodes_best_class_per_anchor() {
        // 2 classes, 3 anchors.
        #[rustfmt::skip]
        let data = vec![
            10.0, 20.0, 30.0,   // cx
            11.0, 21.0, 31.0,   // cy
            4.0, 4.0, 4.0,      // w
            6.0, 6.0, 6.0,      // h
            0.9, 0.1, 0.2,      // class 0
            0.3, 0.8, 0.1,      // class 1
        ];
        let out = RawOutput {
            name: "output0".into(),
            shape: vec![1, 6, 3],
            data,
        };
        let c = decode(&[out], 0, 0.25).unwrap().candidates;
        assert_eq!(c.len(), 2);
        assert_eq!(
            (c[0].class_id, c[0].score, c[0].bbox),
            (0, 0.9, BBox::new(8.0, 8.0, 12.0, 14.0))
        );
        assert_eq!((c[1].class_id, c[1].score), (1, 0.8));
    }

    #[test]
    fn rejects_metadata_class_count_mismatch() {
        let sig = ModelSignature {
            outputs: vec![TensorDecl {
                name: "output0".into(),
                dtype: "float32".into(),
                shape: vec![1, 84, 8400],
                symbols: vec![],
            }],
            metadata_classes: Some(3),
            ..Default::default()
        };
        assert!(matches(&sig).is_none());
    }
}
