//! The DETR family (RT-DETR, D-FINE, DEIM, RF-DETR, DETR), in the two
//! layouts their exporters write. Both have done their own set prediction,
//! so no NMS follows; only the threshold applies. A batch axis may be
//! squeezed out of the outputs.
//!
//! - `labels` `[batch, K]`, `boxes` `[batch, K, 4]` and `scores` `[batch, K]`,
//!   with boxes as x1 y1 x2 y2. When the model has an `orig_target_sizes`
//!   input (`[[width, height]]`, RT-DETR's deploy export), boxes come out in
//!   source pixels; otherwise in model-input pixels.
//! - Class `logits` `[batch, Q, nc]` and `boxes` `[batch, Q, 4]` as
//!   normalised cx cy w h. Scores are `sigmoid(logit)` of the best class,
//!   as the focal-loss heads of RT-DETR, D-FINE and RF-DETR are trained.
//! - Ultralytics' RT-DETR export: one output `[batch, Q, 4 + nc]`, normalised
//!   cx cy w h then class scores already in 0..1, with `names` metadata
//!   (which is what tells it from a YOLOv5 head, `5 + nc` wide).

use super::{
    argmax, output, sigmoid, Candidate, DecodeError, Decoded, Family, FamilyMatch, ModelSignature,
    RawOutput, Space,
};
use crate::geom::BBox;

pub fn matches_labels_boxes_scores(sig: &ModelSignature) -> Option<FamilyMatch> {
    let (labels, boxes, scores) = (
        sig.output("labels")?,
        sig.output("boxes")?,
        sig.output("scores")?,
    );
    if boxes.shape.last() != Some(&4)
        || labels.shape.len() + 1 != boxes.shape.len()
        || scores.shape.len() != labels.shape.len()
    {
        return None;
    }
    let sizes = sig.inputs.iter().any(|i| i.name == "orig_target_sizes");
    let reason = format!(
        "outputs labels {:?}, boxes {:?}, scores {:?} (DETR family, x1 y1 x2 y2 in {})",
        labels.shape,
        boxes.shape,
        scores.shape,
        if sizes {
            "source pixels via the orig_target_sizes input"
        } else {
            "model-input pixels"
        }
    );
    Some(FamilyMatch {
        family: Family::Detr,
        num_classes: None,
        reason,
    })
}

/// Two outputs over the same queries: one ending in 4 (boxes) and one
/// ending in the class count (logits).
pub fn matches_logits(sig: &ModelSignature) -> Option<FamilyMatch> {
    let [a, b] = sig.outputs.as_slice() else {
        return None;
    };
    let (boxes, logits) = if a.shape.last() == Some(&4) && b.shape.last() != Some(&4) {
        (a, b)
    } else {
        (b, a)
    };
    let rank = boxes.shape.len();
    if boxes.shape.last() != Some(&4) || !(2..=3).contains(&rank) || logits.shape.len() != rank {
        return None;
    }
    let (q_boxes, q_logits) = (boxes.shape[rank - 2], logits.shape[rank - 2]);
    let nc = *logits.shape.last()?;
    if q_boxes != q_logits || nc < 1 || q_boxes == 4 {
        return None;
    }
    let reason = format!(
        "outputs {} {:?} (class logits) and {} {:?} (normalised cx cy w h) over the same queries (DETR family)",
        logits.name, logits.shape, boxes.name, boxes.shape
    );
    Some(FamilyMatch {
        family: Family::DetrLogits,
        num_classes: usize::try_from(nc).ok(),
        reason,
    })
}

pub fn decode_labels_boxes_scores(
    outs: &[RawOutput],
    b: usize,
    conf: f32,
    source_sized: bool,
) -> Result<Decoded, DecodeError> {
    let labels = output(outs, "labels", 0)?.image(b, 1)?;
    let boxes = output(outs, "boxes", 1)?.image(b, 2)?;
    let scores = output(outs, "scores", 2)?.image(b, 1)?;
    let candidates = (0..scores.dims[0])
        .filter(|&i| scores.data[i] >= conf && labels.data[i] >= 0.0)
        .map(|i| {
            let r = &boxes.data[i * 4..i * 4 + 4];
            Candidate {
                class_id: labels.data[i].round() as usize,
                score: scores.data[i],
                bbox: BBox::new(r[0], r[1], r[2], r[3]),
            }
        })
        .collect();
    Ok(Decoded {
        candidates,
        space: if source_sized {
            Space::Source
        } else {
            Space::Input
        },
    })
}

pub fn decode_logits(outs: &[RawOutput], b: usize, conf: f32) -> Result<Decoded, DecodeError> {
    let (bi, li) = if outs[0].shape.last() == Some(&4) && outs[1].shape.last() != Some(&4) {
        (0, 1)
    } else {
        (1, 0)
    };
    let boxes = outs[bi].image(b, 2)?;
    let logits = outs[li].image(b, 2)?;
    let rows = logits
        .data
        .chunks_exact(logits.dims[1])
        .zip(boxes.data.chunks_exact(4));
    Ok(best_class_per_query(rows, sigmoid, conf))
}

/// Ultralytics RT-DETR: one `[batch, Q, 4 + nc]` output whose width matches
/// the `names` metadata.
pub fn matches_ultralytics(sig: &ModelSignature) -> Option<FamilyMatch> {
    let [out] = sig.outputs.as_slice() else {
        return None;
    };
    let &[_, q, cols] = out.shape.as_slice() else {
        return None;
    };
    let nc = sig.metadata_classes?;
    if cols != 4 + nc as i64 || sig.meta("end2end") == Some("True") || q > 1000 {
        return None;
    }
    let reason = format!(
        "one output {} {:?} = [batch, {q} queries, 4 + {nc} classes], and the `names` metadata lists {nc} classes (Ultralytics RT-DETR)",
        out.name, out.shape
    );
    Some(FamilyMatch {
        family: Family::Rtdetr,
        num_classes: Some(nc),
        reason,
    })
}

pub fn decode_ultralytics(outs: &[RawOutput], b: usize, conf: f32) -> Result<Decoded, DecodeError> {
    let v = outs[0].image(b, 2)?;
    let rows = v.data.chunks_exact(v.dims[1]).map(|r| (&r[4..], &r[..4]));
    Ok(best_class_per_query(rows, |score| score, conf))
}

/// One candidate per query: its best class, scored by `score_of` (sigmoid
/// for logits, identity for probabilities), with a normalised cx cy w h box.
fn best_class_per_query<'a>(
    rows: impl Iterator<Item = (&'a [f32], &'a [f32])>,
    score_of: fn(f32) -> f32,
    conf: f32,
) -> Decoded {
    let candidates = rows
        .filter_map(|(scores, r)| {
            let (class_id, best) = argmax(scores);
            let score = score_of(best);
            (score >= conf).then(|| Candidate {
                class_id,
                score,
                bbox: BBox::from_cxcywh(r[0], r[1], r[2], r[3]),
            })
        })
        .collect();
    Decoded {
        candidates,
        space: Space::Normalised,
    }
}
