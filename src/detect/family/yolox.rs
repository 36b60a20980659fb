//! YOLOX exports from the official `export_onnx.py` (raw grid output):
//! one output `[batch, anchors, 5 + nc]`.
//!
//! Anchors run over the stride 8, 16 and 32 grids in that order, each
//! row-major. A row is `[tx, ty, tw, th, obj, cls...]`: the box centre is
//! `(t + grid) * stride`, its size `exp(t) * stride`; `obj` and the class
//! scores are already sigmoided, and the score is `obj * cls`. YOLOX models
//! carry no class names, so a labels file supplies them.

use super::{grid_anchor_count, Candidate, Family, FamilyMatch, ModelSignature};

const STRIDES: [u32; 3] = [8, 16, 32];

/// Recognises the layout: one rank-3 output whose middle axis equals the
/// number of grid cells at strides 8/16/32 for the model's input size.
pub fn matches(sig: &ModelSignature, input_w: u32, input_h: u32) -> Option<FamilyMatch> {
    let [(name, shape)] = sig.outputs.as_slice() else { return None };
    let &[_, anchors, cols] = shape.as_slice() else { return None };
    let expected = grid_anchor_count(input_w, input_h) as i64;
    if cols < 6 || anchors != expected {
        return None;
    }
    let nc = (cols - 5) as usize;
    if sig.metadata_classes.is_some_and(|n| n != nc) {
        return None;
    }
    let reason = format!(
        "one output {name} {shape:?} = [batch, {expected} anchors (strides 8/16/32 on {input_w}x{input_h}), 5 + {nc} classes]"
    );
    Some(FamilyMatch { family: Family::Yolox, num_classes: nc, reason })
}

/// Decodes one image's output, `dims = [anchors, 5 + nc]`.
pub fn decode(data: &[f32], dims: &[usize], input_w: u32, input_h: u32, conf: f32) -> Vec<Candidate> {
    let cols = dims[1];
    let mut out = Vec::new();
    let mut rows = data.chunks_exact(cols);
    for stride in STRIDES {
        let (gw, gh) = (input_w / stride, input_h / stride);
        for gy in 0..gh {
            for gx in 0..gw {
                let Some(r) = rows.next() else { return out };
                let obj = r[4];
                if obj < conf {
                    continue; // obj * cls <= obj, so nothing here can pass.
                }
                let (class_id, cls) = r[5..]
                    .iter()
                    .copied()
                    .enumerate()
                    .fold((0, f32::NEG_INFINITY), |b, (i, s)| if s > b.1 { (i, s) } else { b });
                let score = obj * cls;
                if score < conf {
                    continue;
                }
                let s = stride as f32;
                out.push(Candidate {
                    class_id,
                    score,
                    cx: (r[0] + gx as f32) * s,
                    cy: (r[1] + gy as f32) * s,
                    w: r[2].exp() * s,
                    h: r[3].exp() * s,
                });
            }
        }
    }
    out
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
        let c = decode(&data, &[21, 6], 32, 32, 0.25);
        assert_eq!(c.len(), 1, "0.5 * 0.4 = 0.2 is below the threshold");
        assert!((c[0].score - 0.72).abs() < 1e-6);
        assert_eq!((c[0].cx, c[0].cy), (20.0, 12.0));
        assert!((c[0].w - 8.0).abs() < 1e-5 && (c[0].h - 16.0).abs() < 1e-5);
    }
}
