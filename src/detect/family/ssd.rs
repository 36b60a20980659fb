//! TensorFlow Object Detection API exports (SSD, EfficientDet, Faster
//! R-CNN from the TF2 model zoo): a uint8 NHWC image in, and outputs
//! `num_detections` `[batch]`, `detection_boxes` `[batch, K, 4]` as
//! normalised `[y1, x1, y2, x2]`, `detection_scores` `[batch, K]` and
//! `detection_classes` `[batch, K]` holding 1-based label-map ids. The graph
//! has done its own NMS; only the threshold applies. Class index `i` in
//! lookout is label-map id `i + 1`, so a labels file lists the label map's
//! names in id order. Output names may carry converter suffixes
//! (`detection_boxes:0`); they are matched by what they contain.

use super::{
    Candidate, DecodeError, Decoded, Family, FamilyMatch, ModelSignature, RawOutput, Space,
};
use crate::geom::BBox;

const OUTPUTS: [&str; 3] = ["detection_boxes", "detection_scores", "detection_classes"];

fn find<'a>(outs: &'a [RawOutput], name: &str) -> Result<&'a RawOutput, DecodeError> {
    outs.iter()
        .find(|o| o.name.contains(name))
        .ok_or_else(|| DecodeError::MissingOutput(name.to_owned()))
}

pub fn matches(sig: &ModelSignature) -> Option<FamilyMatch> {
    if !OUTPUTS
        .iter()
        .all(|n| sig.outputs.iter().any(|o| o.name.contains(n)))
    {
        return None;
    }
    let reason = format!(
        "outputs named {} (TensorFlow Object Detection API){}",
        OUTPUTS.join(", "),
        if sig.output("num_detections").is_some() {
            " and num_detections"
        } else {
            ""
        }
    );
    Some(FamilyMatch {
        family: Family::Ssd,
        num_classes: None,
        reason,
    })
}

pub fn decode(outs: &[RawOutput], b: usize, conf: f32) -> Result<Decoded, DecodeError> {
    let boxes = find(outs, "detection_boxes")?.image(b, 2)?;
    let scores = find(outs, "detection_scores")?.image(b, 1)?;
    let classes = find(outs, "detection_classes")?.image(b, 1)?;
    let k = scores.dims[0];
    let n = match outs.iter().find(|o| o.name.contains("num_detections")) {
        Some(o) => (o.image(b, 0)?.data.first().copied().unwrap_or(0.0).max(0.0) as usize).min(k),
        None => k,
    };
    let candidates = (0..n)
        .filter(|&i| scores.data[i] >= conf && classes.data[i] >= 1.0)
        .map(|i| {
            let r = &boxes.data[i * 4..i * 4 + 4];
            Candidate {
                class_id: classes.data[i].round() as usize - 1,
                score: scores.data[i],
                bbox: BBox::new(r[1], r[0], r[3], r[2]),
            }
        })
        .collect();
    Ok(Decoded {
        candidates,
        space: Space::Normalised,
    })
}
