//! NMS-free end-to-end exports (YOLOv10, YOLO26, Ultralytics `end2end`):
//! one output `[batch, K, 6]`, rows `[x1, y1, x2, y2, score, class]` in
//! model-input pixels. The model has already suppressed duplicates, so only
//! the score threshold applies.

use super::{
    grid_cells, Candidate, DecodeError, Decoded, Family, FamilyMatch, ModelSignature, RawOutput,
    Space,
};
use crate::geom::BBox;

pub fn matches(sig: &ModelSignature, input_w: u32, input_h: u32) -> Option<FamilyMatch> {
    let [out] = sig.outputs.as_slice() else {
        return None;
    };
    let &[_, k, 6] = out.shape.as_slice() else {
        return None;
    };
    let reason = if sig.meta("end2end") == Some("True") {
        format!("one output {} {:?} = [batch, {k} detections, x1 y1 x2 y2 score class], and the metadata says end2end=True", out.name, out.shape)
    } else {
        // Without metadata, a one-class YOLOv5/YOLOX head also ends in 6;
        // those have one row per grid cell or anchor.
        let cells = grid_cells(input_w, input_h, &[8, 16, 32]) as i64;
        if k == -1 || k == cells || k == 3 * cells || k > 1000 {
            return None;
        }
        format!("one output {} {:?} read as [batch, {k} detections, x1 y1 x2 y2 score class] (no end2end metadata)", out.name, out.shape)
    };
    Some(FamilyMatch {
        family: Family::End2end,
        num_classes: None,
        reason,
    })
}

pub fn decode(outs: &[RawOutput], b: usize, conf: f32) -> Result<Decoded, DecodeError> {
    let v = outs[0].image(b, 2)?;
    let candidates = v
        .data
        .chunks_exact(6)
        .filter(|r| r[4] >= conf && r[5] >= 0.0)
        .map(|r| Candidate {
            class_id: r[5].round() as usize,
            score: r[4],
            bbox: BBox::new(r[0], r[1], r[2], r[3]),
        })
        .collect();
    Ok(Decoded {
        candidates,
        space: Space::Input,
    })
}
