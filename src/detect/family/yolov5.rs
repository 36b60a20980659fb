//! YOLOv5 and its relatives (YOLOv7, Ultralytics YOLOv5u before the v8
//! head): one output `[batch, anchors, 5 + nc]`.
//!
//! Rows are `[cx, cy, w, h, obj, cls...]` in model-input pixels, with
//! objectness and class scores already sigmoided; the score is
//! `obj * cls`. There are three anchor boxes per grid cell at strides
//! 8/16/32, which tells this layout apart from YOLOX (one per cell, raw
//! offsets).

use super::{
    argmax, grid_cells, Candidate, DecodeError, Decoded, Family, FamilyMatch, ModelSignature,
    RawOutput, Space,
};
use crate::geom::BBox;

pub fn matches(sig: &ModelSignature, input_w: u32, input_h: u32) -> Option<FamilyMatch> {
    let [out] = sig.outputs.as_slice() else {
        return None;
    };
    let &[_, anchors, cols] = out.shape.as_slice() else {
        return None;
    };
    if cols < 6 || sig.meta("end2end") == Some("True") {
        return None;
    }
    let nc = (cols - 5) as usize;
    if sig.metadata_classes.is_some_and(|n| n != nc) {
        return None;
    }
    let three_per_cell = 3 * grid_cells(input_w, input_h, &[8, 16, 32]) as i64;
    let reason = if anchors == three_per_cell {
        format!("one output {} {:?} = [batch, {anchors} anchors (3 per cell at strides 8/16/32), 5 + {nc} classes]", out.name, out.shape)
    } else if anchors == -1 && sig.metadata_classes.is_some() {
        format!(
            "one output {} {:?} = [batch, anchors, 5 + {nc} classes] with `names` metadata",
            out.name, out.shape
        )
    } else {
        return None;
    };
    Some(FamilyMatch {
        family: Family::Yolov5,
        num_classes: Some(nc),
        reason,
    })
}

pub fn decode(outs: &[RawOutput], b: usize, conf: f32) -> Result<Decoded, DecodeError> {
    let v = outs[0].image(b, 2)?;
    let cols = v.dims[1];
    let candidates = v
        .data
        .chunks_exact(cols)
        .filter(|r| r[4] >= conf)
        .filter_map(|r| {
            let (class_id, cls) = argmax(&r[5..]);
            let score = r[4] * cls;
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
