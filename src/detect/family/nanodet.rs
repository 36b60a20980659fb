//! NanoDet-style per-stride heads: for each stride `s`, an output of class
//! scores `[batch, cells, nc]` (already sigmoided) and one of box
//! distributions `[batch, cells, 4 * (reg_max + 1)]` (raw logits, sides in
//! the order left, top, right, bottom). Outputs are paired by stride, read
//! from names like `cls_pred_stride_8` / `dis_pred_stride_8`, or else by
//! cell count.
//!
//! The official NanoDet-Plus export concatenates everything into one output
//! `[batch, cells, nc + 32]` over strides 8, 16, 32 and 64 (8 bins per
//! side); that layout is read too.
//!
//! A cell `(gx, gy)` has its centre at `(gx * s, gy * s)` (NanoDet-Plus
//! puts priors on cell corners); each side's distance is `s` times the
//! expectation of the softmax over its bins.

use super::{
    argmax, grid_cells, Candidate, DecodeError, Decoded, Family, FamilyMatch, ModelSignature,
    RawOutput, Space,
};
use crate::geom::BBox;

/// The per-stride output pairs, as `(stride, class index, box index)`.
fn pairs(
    shapes: &[(&str, &[i64])],
    input_w: u32,
    input_h: u32,
) -> Option<Vec<(u32, usize, usize)>> {
    if shapes.len() < 4 || !shapes.len().is_multiple_of(2) {
        return None;
    }
    let mut pairs = Vec::new();
    for stride in [8u32, 16, 32, 64] {
        let cells = grid_cells(input_w, input_h, &[stride]) as i64;
        let at = |want_box: bool| {
            shapes.iter().position(|(name, s)| {
                let is_box = s.last().is_some_and(|c| *c > 0 && c % 4 == 0 && *c >= 8);
                let named = if want_box {
                    name.contains("dis") || name.contains("reg") || name.contains("box")
                } else {
                    name.contains("cls")
                };
                s.len() == 3
                    && s[1] == cells
                    && (named
                        || (is_box == want_box && !name.contains("cls") && !name.contains("dis")))
            })
        };
        if let (Some(c), Some(b)) = (at(false), at(true)) {
            if c != b {
                pairs.push((stride, c, b));
            }
        }
    }
    (pairs.len() * 2 == shapes.len()).then_some(pairs)
}

/// Strides of the concatenated NanoDet-Plus output, and its bins per side.
const PLUS_STRIDES: [u32; 4] = [8, 16, 32, 64];
const PLUS_BINS: i64 = 8;

pub fn matches(sig: &ModelSignature, input_w: u32, input_h: u32) -> Option<FamilyMatch> {
    if let [out] = sig.outputs.as_slice() {
        let &[_, cells, cols] = out.shape.as_slice() else {
            return None;
        };
        let nc = cols - 4 * PLUS_BINS;
        if cells != grid_cells(input_w, input_h, &PLUS_STRIDES) as i64
            || nc < 1
            || sig.metadata_classes.is_some_and(|n| n as i64 != nc)
        {
            return None;
        }
        let reason = format!(
            "one output {} {:?} = [batch, {cells} cells at strides 8/16/32/64, {nc} classes + 4 x {PLUS_BINS} distance bins] (NanoDet-Plus)",
            out.name, out.shape
        );
        return Some(FamilyMatch {
            family: Family::Nanodet,
            num_classes: usize::try_from(nc).ok(),
            reason,
        });
    }
    let shapes: Vec<(&str, &[i64])> = sig
        .outputs
        .iter()
        .map(|o| (o.name.as_str(), o.shape.as_slice()))
        .collect();
    let pairs = pairs(&shapes, input_w, input_h)?;
    let nc = *sig.outputs[pairs[0].1].shape.last()?;
    let bins = *sig.outputs[pairs[0].2].shape.last()? / 4;
    let strides: Vec<String> = pairs.iter().map(|p| p.0.to_string()).collect();
    let reason = format!(
        "{} outputs in class/box pairs per stride ({}), {nc} classes, {bins} distance bins per side (NanoDet-style heads)",
        sig.outputs.len(),
        strides.join(", ")
    );
    Some(FamilyMatch {
        family: Family::Nanodet,
        num_classes: usize::try_from(nc).ok(),
        reason,
    })
}

/// Expected distance over softmax bins.
fn expectation(logits: &[f32]) -> f32 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let (mut sum, mut weighted) = (0.0f32, 0.0f32);
    for (i, &l) in logits.iter().enumerate() {
        let e = (l - max).exp();
        sum += e;
        weighted += e * i as f32;
    }
    weighted / sum
}

pub fn decode(
    outs: &[RawOutput],
    b: usize,
    input_w: u32,
    input_h: u32,
    conf: f32,
) -> Result<Decoded, DecodeError> {
    let shapes: Vec<Vec<i64>> = outs
        .iter()
        .map(|o| o.shape.iter().map(|&d| d as i64).collect())
        .collect();
    let named: Vec<(&str, &[i64])> = outs
        .iter()
        .zip(&shapes)
        .map(|(o, s)| (o.name.as_str(), s.as_slice()))
        .collect();
    let pairs = pairs(&named, input_w, input_h).ok_or(DecodeError::Unpaired)?;
    let mut candidates = Vec::new();
    for (stride, ci, bi) in pairs {
        let cls = outs[ci].image(b, 2)?;
        let dis = outs[bi].image(b, 2)?;
        let (nc, nb) = (cls.dims[1], dis.dims[1] / 4);
        let gw = (input_w / stride) as usize;
        let s = stride as f32;
        for (cell, (scores, bins)) in cls
            .data
            .chunks_exact(nc)
            .zip(dis.data.chunks_exact(4 * nb))
            .enumerate()
        {
            let (class_id, score) = argmax(scores);
            if score < conf {
                continue;
            }
            let (cx, cy) = ((cell % gw) as f32 * s, (cell / gw) as f32 * s);
            let d: Vec<f32> = bins
                .chunks_exact(nb)
                .map(|side| expectation(side) * s)
                .collect();
            candidates.push(Candidate {
                class_id,
                score,
                bbox: BBox::new(cx - d[0], cy - d[1], cx + d[2], cy + d[3]),
            });
        }
    }
    Ok(Decoded {
        candidates,
        space: Space::Input,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expectation_of_peaked_bins() {
        assert!((expectation(&[0.0, 0.0]) - 0.5).abs() < 1e-6);
        assert!((expectation(&[-100.0, -100.0, 50.0, -100.0]) - 2.0).abs() < 1e-4);
    }
}
