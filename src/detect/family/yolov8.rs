//! Ultralytics YOLOv8 / YOLO11 / YOLO12 exports: one output
//! `[batch, 4 + nc, anchors]`.
//!
//! Rows 0–3 are the box centre and size in model-input pixels; rows 4.. are
//! per-class scores, already passed through a sigmoid. There is no
//! objectness row. Ultralytics writes the class names into the `names`
//! metadata entry.
//!
//! Some deploy forks and TensorRT-oriented exporters transpose the head to
//! `[batch, anchors, 4 + nc]`, one row per anchor (family
//! `yolov8transposed`). That shape is also YOLOv5's and YOLOX's
//! (`[batch, anchors, 5 + nc]`, with objectness) and Ultralytics RT-DETR's
//! (`[batch, queries, 4 + nc]`), so it is guessed only with evidence: the
//! `names` metadata counts exactly `last axis - 4` classes (a YOLOv5/YOLOX
//! head would count `last - 5`), and there is one row per grid cell at
//! strides 8/16/32 (RT-DETR has a few hundred queries). Without that,
//! `family = "yolov8"` forces it.

use super::{
    argmax, grid_cells, Candidate, DecodeError, Decoded, Family, FamilyMatch, ModelSignature,
    RawOutput, Space,
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

/// Recognises the transposed head `[batch, anchors, 4 + nc]` (see the
/// module notes). `forced` accepts any such output whose anchors axis is
/// dynamic or larger than its last.
pub fn matches_transposed(
    sig: &ModelSignature,
    input_w: u32,
    input_h: u32,
    forced: bool,
) -> Option<FamilyMatch> {
    let [out] = sig.outputs.as_slice() else {
        return None;
    };
    let &[_, anchors, cols] = out.shape.as_slice() else {
        return None;
    };
    if cols < 5 || sig.meta("end2end") == Some("True") {
        return None;
    }
    let nc = (cols - 4) as usize;
    let cells = grid_cells(input_w, input_h, &[8, 16, 32]) as i64;
    let name = &out.name;
    let shape = &out.shape;
    let reason = match sig.metadata_classes {
        Some(n) if n == nc && anchors == cells => format!(
            "one output {name} {shape:?} = [batch, {anchors} anchors (one per cell at strides 8/16/32 on {input_w}x{input_h}), 4 + {nc} classes]: \
             transposed YOLOv8/YOLO11 head, since the `names` metadata lists {nc} classes = last axis - 4 (YOLOv5/YOLOX would list last - 5)"
        ),
        Some(n) if n != nc => return None,
        _ if forced && (anchors == -1 || anchors > cols) => format!(
            "one output {name} {shape:?} read as a transposed YOLOv8/YOLO11 head [batch, anchors, 4 + {nc} classes]"
        ),
        _ => return None,
    };
    Some(FamilyMatch {
        family: Family::Yolov8Transposed,
        num_classes: Some(nc),
        reason,
    })
}

/// Decodes image `b` of a transposed head: one row `[cx, cy, w, h,
/// class scores...]` per anchor.
pub fn decode_transposed(outs: &[RawOutput], b: usize, conf: f32) -> Result<Decoded, DecodeError> {
    let v = outs[0].image(b, 2)?;
    let candidates = v
        .data
        .chunks_exact(v.dims[1].max(1))
        .filter_map(|r| {
            let (class_id, score) = argmax(&r[4..]);
            (score >= conf).then(|| Candidate {
                class_id,
                score,
                bbox: BBox::from_cxcywh(r[0], r[1], r[2], r[3]),
            })
        })
        .collect();
    Ok(Decoded {
        candidates,
        space: Space::Input,
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
    fn transposed_decode_equals_the_standard_one() {
        #[rustfmt::skip]
        let standard = vec![
            10.0, 20.0, 30.0,
            11.0, 21.0, 31.0,
            4.0, 4.0, 4.0,
            6.0, 6.0, 6.0,
            0.9, 0.1, 0.2,
            0.3, 0.8, 0.1,
        ];
        let transposed: Vec<f32> = (0..3)
            .flat_map(|j| (0..6).map(move |r| (r, j)))
            .map(|(r, j)| standard[r * 3 + j])
            .collect();
        let out = |shape, data| RawOutput {
            name: "output0".into(),
            shape,
            data,
        };
        let a = decode(&[out(vec![1, 6, 3], standard)], 0, 0.25).unwrap();
        let b = decode_transposed(&[out(vec![1, 3, 6], transposed)], 0, 0.25).unwrap();
        assert_eq!(a, b);
        assert_eq!(b.candidates.len(), 2);
    }

    fn one_output(shape: Vec<i64>, classes: Option<usize>) -> ModelSignature {
        ModelSignature {
            outputs: vec![TensorDecl {
                name: "output0".into(),
                dtype: "float32".into(),
                shape,
                symbols: vec![],
            }],
            metadata_classes: classes,
            ..Default::default()
        }
    }

    #[test]
    fn transposed_head_needs_names_and_one_row_per_cell_unless_forced() {
        use crate::detect::family::detect_family;
        let guess = |shape: Vec<i64>, classes| {
            detect_family(&one_output(shape, classes), 640, 640, None).map(|m| m.family)
        };
        // names = last - 4 and 8400 rows: transposed YOLOv8.
        let m = detect_family(&one_output(vec![1, 8400, 84], Some(80)), 640, 640, None).unwrap();
        assert_eq!(m.family, Family::Yolov8Transposed);
        assert!(m.reason.contains("last axis - 4"), "{}", m.reason);
        // The untransposed head stays yolov8.
        assert_eq!(guess(vec![1, 84, 8400], Some(80)), Ok(Family::Yolov8));
        // names = last - 5: YOLOX (one row per cell) or YOLOv5 (three).
        assert_eq!(guess(vec![1, 8400, 85], Some(80)), Ok(Family::Yolox));
        assert_eq!(guess(vec![1, 25200, 85], Some(80)), Ok(Family::Yolov5));
        // Without metadata the YOLOX guess stands...
        assert_eq!(guess(vec![1, 8400, 84], None), Ok(Family::Yolox));
        // ... and RT-DETR's few queries stay RT-DETR.
        assert_eq!(guess(vec![1, 300, 84], Some(80)), Ok(Family::Rtdetr));
        // Forcing yolov8 reads any anchors-first head as transposed.
        let forced = |shape| {
            detect_family(&one_output(shape, None), 640, 640, Some(Family::Yolov8))
                .map(|m| m.family)
        };
        assert_eq!(forced(vec![1, 8400, 84]), Ok(Family::Yolov8Transposed));
        assert_eq!(forced(vec![-1, -1, 84]), Ok(Family::Yolov8Transposed));
        assert_eq!(forced(vec![1, 84, 8400]), Ok(Family::Yolov8));
        assert!(
            matches_transposed(&one_output(vec![1, 8400, 84], Some(79)), 640, 640, true).is_none()
        );
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
