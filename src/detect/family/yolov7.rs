//! YOLOv7 `export.py --end2end --max-wh N` for ONNX Runtime: NMS inside the
//! graph, one output (named `output`) of shape `[N, 7]`.
//!
//! Each row is `[batch_id, x1, y1, x2, y2, class_id, score]` in model-input
//! pixels, one row per kept detection of the whole batch: `N` is dynamic
//! and there is no batch axis, so rows are split per image by `batch_id`.
//! The score is already `obj * cls`; the model has suppressed duplicates
//! (per class when `--max-wh` > 0), so only the score threshold applies.
//! The TensorRT variant (`--end2end` without `--max-wh`) writes
//! `num_dets`, `det_boxes`, `det_scores`, `det_classes` instead and is not
//! this family.

use super::{
    Candidate, DecodeError, Decoded, Family, FamilyMatch, ModelSignature, RawOutput, Space,
};
use crate::geom::BBox;

/// Recognises the layout: exactly one output of rank 2 with 7 columns
/// whose first axis (the detections kept) is dynamic. `forced` also
/// accepts a fixed first axis.
pub fn matches(sig: &ModelSignature, forced: bool) -> Option<FamilyMatch> {
    let [out] = sig.outputs.as_slice() else {
        return None;
    };
    let &[n, 7] = out.shape.as_slice() else {
        return None;
    };
    if sig.meta("end2end") == Some("True") || (n != -1 && !forced) {
        return None;
    }
    let input_batch = sig
        .inputs
        .first()
        .and_then(|i| i.shape.first().copied())
        .unwrap_or(-1);
    let batch = if input_batch == -1 {
        "rows split per image by batch_id"
    } else {
        "a fixed input batch"
    };
    let reason = format!(
        "one output {} {:?} = [detections, batch_id x1 y1 x2 y2 class score] with no batch axis \
         (YOLOv7 export.py --end2end for ONNX Runtime, NMS done in the model; {batch})",
        out.name, out.shape
    );
    Some(FamilyMatch {
        family: Family::Yolov7End2end,
        num_classes: None,
        reason,
    })
}

/// Decodes image `b`: the rows whose batch_id is `b` and whose score
/// reaches `conf`.
pub fn decode(outs: &[RawOutput], b: usize, conf: f32) -> Result<Decoded, DecodeError> {
    let out = &outs[0];
    if out.shape.len() != 2 || out.shape[1] != 7 {
        return Err(DecodeError::Rank {
            name: out.name.clone(),
            shape: out.shape.clone(),
            rank: 2,
        });
    }
    let candidates = out
        .data
        .chunks_exact(7)
        .filter(|r| r[0].round() == b as f32 && r[6] >= conf && r[5] >= 0.0)
        .map(|r| Candidate {
            class_id: r[5].round() as usize,
            score: r[6],
            bbox: BBox::new(r[1], r[2], r[3], r[4]),
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
    use crate::detect::family::{detect_family, TensorDecl};

    fn sig(input: Vec<i64>, output: Vec<i64>) -> ModelSignature {
        let decl = |name: &str, shape| TensorDecl {
            name: name.into(),
            dtype: "float32".into(),
            shape,
            symbols: vec![],
        };
        ModelSignature {
            inputs: vec![decl("images", input)],
            outputs: vec![decl("output", output)],
            ..Default::default()
        }
    }

    #[test]
    fn dynamic_rows_of_seven_are_guessed_and_fixed_ones_only_forced() {
        for input in [vec![1, 3, 640, 640], vec![-1, 3, 640, 640]] {
            let m = detect_family(&sig(input, vec![-1, 7]), 640, 640, None).unwrap();
            assert_eq!(m.family, Family::Yolov7End2end, "{}", m.reason);
            assert!(m.reason.contains("batch_id"), "{}", m.reason);
        }
        // A fixed [1, 7] is a 7-class classifier's shape, not NMS output.
        let fixed = sig(vec![1, 3, 640, 640], vec![1, 7]);
        assert!(matches(&fixed, false).is_none());
        assert!(detect_family(&fixed, 640, 640, None).is_err());
        let forced = detect_family(&fixed, 640, 640, Some(Family::Yolov7End2end)).unwrap();
        assert_eq!(forced.family, Family::Yolov7End2end);
        // end2end's [batch, K, 6] and a [N, 6] output are not this family.
        assert!(matches(&sig(vec![1, 3, 640, 640], vec![-1, 6]), true).is_none());
        assert!(matches(&sig(vec![1, 3, 640, 640], vec![1, 100, 7]), true).is_none());
    }

    #[test]
    fn rows_are_split_per_image_by_batch_id() {
        #[rustfmt::skip]
        let data = vec![
            0.0, 10.0, 12.0, 20.0, 30.0, 2.0, 0.9,
            0.0, 11.0, 12.0, 21.0, 30.0, 2.0, 0.2, // below conf
            1.0, 40.0, 42.0, 50.0, 60.0, 0.0, 0.8,
            2.0, 1.0, 2.0, 3.0, 4.0, 1.0, 0.7,
        ];
        let out = RawOutput {
            name: "output".into(),
            shape: vec![4, 7],
            data,
        };
        let outs = [out];
        let image = |b| decode(&outs, b, 0.25).unwrap().candidates;
        let c0 = image(0);
        assert_eq!(c0.len(), 1);
        assert_eq!(
            (c0[0].class_id, c0[0].score, c0[0].bbox),
            (2, 0.9, BBox::new(10.0, 12.0, 20.0, 30.0))
        );
        let c1 = image(1);
        assert_eq!(
            (c1.len(), c1[0].class_id, c1[0].bbox),
            (1, 0, BBox::new(40.0, 42.0, 50.0, 60.0))
        );
        assert_eq!(image(2).len(), 1);
        assert!(image(3).is_empty());
    }
}
