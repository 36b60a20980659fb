//! YOLOX exports from the official `export_onnx.py` (raw grid output):
//! one output `[batch, anchors, 5 + nc]`.
//!
//! Anchors run over the stride 8, 16 and 32 grids in that order, each
//! row-major, one per cell. A row is `[tx, ty, tw, th, obj, cls...]`: the
//! box centre is `(t + grid) * stride`, its size `exp(t) * stride`; `obj`
//! and the class scores are already sigmoided, and the score is
//! `obj * cls`. YOLOX models carry no class names, so a labels file
//! supplies them.

use super::{
    argmax, grid_cells, Candidate, DecodeError, Decoded, Family, FamilyMatch, ModelSignature,
    RawOutput, Space,
};
use crate::geom::BBox;

const STRIDES: [u32; 3] = [8, 16, 32];

/// Recognises the layout: one rank-3 output whose middle axis equals the
/// number of grid cells at strides 8/16/32 for the model's input size.
pub fn matches(sig: &ModelSignature, input_w: u32, input_h: u32) -> Option<FamilyMatch> {
    let [out] = sig.outputs.as_slice() else {
        return None;
    };
    let &[_, anchors, cols] = out.shape.as_slice() else {
        return None;
    };
    let expected = grid_cells(input_w, input_h, &STRIDES) as i64;
    if cols < 6 || anchors != expected {
        return None;
    }
    let nc = (cols - 5) as usize;
    if sig.metadata_classes.is_some_and(|n| n != nc) {
        return None;
    }
    let reason = format!(
        "one output {} {:?} = [batch, {expected} anchors (one per cell at strides 8/16/32 on {input_w}x{input_h}), 5 + {nc} classes]",
        out.name, out.shape
    );
    Some(FamilyMatch {
        family: Family::Yolox,
        num_classes: Some(nc),
        reason,
    })
}

/// Decodes image `b`, keeping rows with `obj * cls >= conf`.
pub fn decode(
    outs: &[RawOutput],
    b: usize,
    input_w: u32,
    input_h: u32,
    conf: f32,
) -> Result<Decoded, DecodeError> {
    let v = outs[0].image(b, 2)?;
    let cols = v.dims[1];
    let mut candidates = Vec::new();
    let mut rows = v.data.chunks_exact(cols);
    'strides: for stride in STRIDES {
        let (gw, gh) = (input_w / stride, input_h / stride);
        for gy in 0..gh {
            for gx in 0..gw {
                let Some(r) = rows.next() else { break 'strides };
                let obj = r[4];
                if obj < conf {
                    continue; // obj * cls <= obj, so nothing here can pass.
                }
                let (class_id, cls) = argmax(&r[5..]);
                let score = obj * cls;
                if score < conf {
                    continue;
                }
                let s = stride as f32;
                let (cx, cy) = ((r[0] + gx as f32) * s, (r[1] + gy as f32) * s);
                candidates.push(Candidate {
                    class_id,
                    score,
                    bbox: BBox::from_cxcywh(cx, cy, r[2].exp() * s, r[3].exp() * s),
                });
            }
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
    fn decodes_grid_offsets_per_stride() {
        // 32x32 input: 16 + 4 + 1 anchors, 1 class.
        let mut data = vec![0.0f32; 21 * 6];
        // Stride 8, cell (gx=2, gy=1) is anchor 1*4+2 = 6.
        data[6 * 6..7 * 6].copy_from_slice(&[0.5, 0.5, 1f32.ln(), 2f32.ln(), 0.9, 0.8]);
        // Stride 32, the only cell, anchor 20.
        data[20 * 6..21 * 6].copy_from_slice(&[0.0, 0.0, 0.0, 0.0, 0.5, 0.4]);
        let out = RawOutput {
            name: "output".into(),
            shape: vec![1, 21, 6],
            data,
        };
        let c = decode(&[out], 0, 32, 32, 0.25).unwrap().candidates;
        assert_eq!(c.len(), 1, "0.5 * 0.4 = 0.2 is below the threshold");
        assert!((c[0].score - 0.72).abs() < 1e-6);
        let b = c[0].bbox;
        assert!(
            (b.x1 - 16.0).abs() < 1e-5
                && (b.y1 - 4.0).abs() < 1e-5
                && (b.x2 - 24.0).abs() < 1e-5
                && (b.y2 - 20.0).abs() < 1e-5,
            "{b:?}"
        );
    }
}
