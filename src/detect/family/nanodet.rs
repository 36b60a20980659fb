//! NanoDet heads, in the three layouts their exporters write. Class scores
//! are already sigmoided; box distributions are raw logits, 4 sides (left,
//! top, right, bottom) of `reg_max + 1` bins each. Each side's distance is
//! the stride times the expectation of the softmax over its bins.
//!
//! - **Per-stride outputs** (original NanoDet, `tools/export_onnx.py` before
//!   NanoDet-Plus, and the ncnn/MNN conversions of it): for each stride `s`
//!   a class output `[batch, cells, nc]` and a distribution output
//!   `[batch, cells, 4 * (reg_max + 1)]`. The exporter names them after
//!   graph nodes (`792`, `795`, ...; `output` for the first when given one
//!   name) and writes every class output before every distribution output;
//!   the conversions rename them `cls_pred_stride_8` / `dis_pred_stride_8`.
//!   Outputs are paired by shape: the cell count gives the stride for the
//!   input size. Which of a pair holds the classes is told by the name
//!   (`cls`, `score` against `dis`, `reg`, `box`), else by width (only the
//!   distribution splits into 4 sides of at least 2 bins), else by output
//!   order (class scores first, as the exporter writes them; this settles
//!   `nc == 4 * (reg_max + 1)`). Cell `(gx, gy)` has its centre at
//!   `((gx + 0.5) * s, (gy + 0.5) * s)`, as NanoDet's GFL head decodes.
//! - **NanoDet-Plus** (its official export): one output
//!   `[batch, cells, nc + 32]` over strides 8, 16, 32 and 64, reg_max 7.
//!   Plus puts its priors on cell corners: centre `(gx * s, gy * s)`.
//! - **NanoDet 1.x** (original head, later export script): one output
//!   `[batch, cells, nc + 32]` over strides 8, 16 and 32, centres at
//!   `(gx + 0.5) * s`. Its shape is also a YOLOX output's, so it is taken
//!   for NanoDet only when the image input is named `data` (as that script
//!   names it) or the config forces the family.

use super::{
    argmax, grid_cells, Candidate, DecodeError, Decoded, Family, FamilyMatch, ModelSignature,
    RawOutput, Space,
};
use crate::geom::BBox;

/// Strides a per-stride head may have.
const STRIDES: [u32; 5] = [8, 16, 32, 64, 128];
/// Strides of the NanoDet-Plus and NanoDet 1.x concatenated outputs.
const PLUS_STRIDES: [u32; 4] = [8, 16, 32, 64];
const V1_STRIDES: [u32; 3] = [8, 16, 32];
/// Bins per side of the concatenated outputs (reg_max 7).
const MERGED_BINS: i64 = 8;

/// One stride of a per-stride head: the indices of its class and
/// distribution outputs.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Level {
    stride: u32,
    cls: usize,
    dis: usize,
}

/// How a model lays out its head, read from output names and shapes.
#[derive(Debug, Clone, PartialEq)]
enum Head {
    Split {
        levels: Vec<Level>,
        nc: usize,
        bins: usize,
        /// How the class output of each pair was told from the other.
        told_by: &'static str,
    },
    Merged {
        strides: &'static [u32],
        nc: usize,
        /// Centre of cell `g` is `(g + offset) * stride`.
        offset: f32,
    },
}

/// What a name says an output holds.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Role {
    Classes,
    Boxes,
}

fn role_by_name(name: &str) -> Option<Role> {
    let n = name.to_ascii_lowercase();
    let cls = n.contains("cls") || n.contains("score");
    let dis = ["dis", "reg", "box"].iter().any(|k| n.contains(k));
    match (cls, dis) {
        (true, false) => Some(Role::Classes),
        (false, true) => Some(Role::Boxes),
        _ => None,
    }
}

/// Whether `width` splits into 4 sides of at least 2 bins.
fn box_width(width: i64) -> bool {
    width >= 8 && width % 4 == 0
}

/// Reads the head layout from `(name, shape)` of every output, in the
/// model's output order. `v1_ok` admits the NanoDet 1.x concatenated output.
fn read_head(outputs: &[(&str, &[i64])], input_w: u32, input_h: u32, v1_ok: bool) -> Option<Head> {
    if let [(_, shape)] = outputs {
        let &[_, cells, cols] = *shape else {
            return None;
        };
        let nc = usize::try_from(cols - 4 * MERGED_BINS)
            .ok()
            .filter(|&n| n > 0)?;
        let (strides, offset): (&'static [u32], f32) =
            if cells == grid_cells(input_w, input_h, &PLUS_STRIDES) as i64 {
                (&PLUS_STRIDES, 0.0)
            } else if v1_ok && cells == grid_cells(input_w, input_h, &V1_STRIDES) as i64 {
                (&V1_STRIDES, 0.5)
            } else {
                return None;
            };
        return Some(Head::Merged {
            strides,
            nc,
            offset,
        });
    }
    read_split(outputs, input_w, input_h)
}

fn read_split(outputs: &[(&str, &[i64])], input_w: u32, input_h: u32) -> Option<Head> {
    if outputs.len() < 4 || !outputs.len().is_multiple_of(2) {
        return None;
    }
    // (stride, output index, width) of every output, by its cell count.
    let mut found = Vec::new();
    for (i, (_, shape)) in outputs.iter().enumerate() {
        let [cells, width] = shape.get(shape.len().checked_sub(2)?..)? else {
            return None;
        };
        if !(2..=3).contains(&shape.len()) || *width < 1 {
            return None;
        }
        let stride = STRIDES
            .into_iter()
            .find(|&s| grid_cells(input_w, input_h, &[s]) as i64 == *cells)?;
        found.push((stride, i, *width));
    }
    // Each stride must hold exactly two outputs: (stride, first, second)
    // in output order.
    let mut pairs: Vec<(u32, usize, usize)> = Vec::new();
    for &s in &STRIDES {
        let at: Vec<usize> = found.iter().filter(|f| f.0 == s).map(|f| f.1).collect();
        match at.as_slice() {
            [] => {}
            [a, b] => pairs.push((s, *a, *b)),
            _ => return None,
        }
    }
    if pairs.len() * 2 != outputs.len() {
        return None;
    }
    let width = |i: usize| *outputs[i].1.last().unwrap_or(&0);
    let name = |i: usize| outputs[i].0;

    // Is the first of each pair the class output?
    let by_name: Option<Vec<bool>> = pairs
        .iter()
        .map(
            |&(_, a, b)| match (role_by_name(name(a)), role_by_name(name(b))) {
                (Some(Role::Classes), Some(Role::Boxes) | None) | (None, Some(Role::Boxes)) => {
                    Some(true)
                }
                (Some(Role::Boxes), Some(Role::Classes) | None) | (None, Some(Role::Classes)) => {
                    Some(false)
                }
                _ => None,
            },
        )
        .collect();
    let mut widths: Vec<i64> = outputs.iter().map(|o| *o.1.last().unwrap_or(&0)).collect();
    widths.sort_unstable();
    widths.dedup();
    let (first_is_cls, told_by): (Vec<bool>, &'static str) = match (by_name, widths.as_slice()) {
        (Some(v), _) => (v, "by name"),
        (None, &[a, b]) => {
            let box_w = match (box_width(a), box_width(b)) {
                (true, false) => a,
                (false, true) => b,
                // Both could be distributions: the exporter writes the
                // class outputs first.
                _ if width(0) == a => b,
                _ => a,
            };
            let told = if box_width(a) != box_width(b) {
                "by width (only the distribution splits into 4 sides)"
            } else {
                "by output order (class scores first, as NanoDet's exporter writes them)"
            };
            (
                pairs.iter().map(|&(_, a, _)| width(a) != box_w).collect(),
                told,
            )
        }
        (None, &[_]) => (
            vec![true; pairs.len()],
            "by output order (class scores first, as NanoDet's exporter writes them)",
        ),
        _ => return None,
    };
    let levels: Vec<Level> = pairs
        .iter()
        .zip(&first_is_cls)
        .map(|(&(stride, a, b), &first)| {
            let (cls, dis) = if first { (a, b) } else { (b, a) };
            Level { stride, cls, dis }
        })
        .collect();
    let nc = width(levels[0].cls);
    let dis_w = width(levels[0].dis);
    if !box_width(dis_w)
        || levels
            .iter()
            .any(|l| width(l.cls) != nc || width(l.dis) != dis_w)
    {
        return None;
    }
    Some(Head::Split {
        levels,
        nc: usize::try_from(nc).ok()?,
        bins: usize::try_from(dis_w / 4).ok()?,
        told_by,
    })
}

/// Recognises a NanoDet head. `forced`: the config names the family, which
/// also admits the NanoDet 1.x output that is shaped like YOLOX's.
pub fn matches(
    sig: &ModelSignature,
    input_w: u32,
    input_h: u32,
    forced: bool,
) -> Option<FamilyMatch> {
    let shapes: Vec<(&str, &[i64])> = sig
        .outputs
        .iter()
        .map(|o| (o.name.as_str(), o.shape.as_slice()))
        .collect();
    let v1_ok = forced || sig.inputs.iter().any(|i| i.name == "data");
    let head = read_head(&shapes, input_w, input_h, v1_ok)?;
    let (nc, reason) = match &head {
        Head::Merged { strides, nc, .. } => {
            let out = &sig.outputs[0];
            let strides: Vec<String> = strides.iter().map(u32::to_string).collect();
            let what = if strides.len() == 4 {
                "NanoDet-Plus"
            } else {
                "NanoDet 1.x, image input `data`"
            };
            (
                *nc,
                format!(
                    "one output {} {:?} = [batch, cells at strides {}, {nc} classes + 4 x {MERGED_BINS} distance bins] ({what})",
                    out.name, out.shape, strides.join("/")
                ),
            )
        }
        Head::Split {
            levels,
            nc,
            bins,
            told_by,
        } => {
            let pairs: Vec<String> = levels
                .iter()
                .map(|l| {
                    format!(
                        "{}: {} + {}",
                        l.stride, sig.outputs[l.cls].name, sig.outputs[l.dis].name
                    )
                })
                .collect();
            (
                *nc,
                format!(
                    "{} outputs paired by cell count into strides ({}), classes told {told_by}; {nc} classes, {bins} distance bins per side (NanoDet per-stride heads)",
                    sig.outputs.len(),
                    pairs.join(", ")
                ),
            )
        }
    };
    if sig.metadata_classes.is_some_and(|n| n != nc) {
        return None;
    }
    Some(FamilyMatch {
        family: Family::Nanodet,
        num_classes: Some(nc),
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

/// One stride's cells: row `i` of classes starts at `cls[i * cls_step]`,
/// its distributions at `dis[i * dis_step]`.
struct Grid<'a> {
    stride: u32,
    cells: usize,
    cls: &'a [f32],
    cls_step: usize,
    dis: &'a [f32],
    dis_step: usize,
}

fn decode_grid(
    g: &Grid<'_>,
    nc: usize,
    bins: usize,
    offset: f32,
    input_w: u32,
    conf: f32,
    out: &mut Vec<Candidate>,
) -> Result<(), DecodeError> {
    let gw = (input_w / g.stride).max(1) as usize;
    let s = g.stride as f32;
    for cell in 0..g.cells {
        let scores = g
            .cls
            .get(cell * g.cls_step..cell * g.cls_step + nc)
            .ok_or(DecodeError::Unpaired)?;
        let (class_id, score) = argmax(scores);
        if score < conf {
            continue;
        }
        let sides = g
            .dis
            .get(cell * g.dis_step..cell * g.dis_step + 4 * bins)
            .ok_or(DecodeError::Unpaired)?;
        let d: Vec<f32> = sides
            .chunks_exact(bins)
            .map(|side| expectation(side) * s)
            .collect();
        let cx = ((cell % gw) as f32 + offset) * s;
        let cy = ((cell / gw) as f32 + offset) * s;
        out.push(Candidate {
            class_id,
            score,
            bbox: BBox::new(cx - d[0], cy - d[1], cx + d[2], cy + d[3]),
        });
    }
    Ok(())
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
    // A model that loaded as NanoDet with one output has already passed the
    // check on its image input.
    let head = read_head(&named, input_w, input_h, true).ok_or(DecodeError::Unpaired)?;
    let mut candidates = Vec::new();
    match head {
        Head::Merged {
            strides,
            nc,
            offset,
        } => {
            let v = outs[0].image(b, 2)?;
            let row = v.dims[1];
            let bins = MERGED_BINS as usize;
            let mut base = 0;
            for &stride in strides {
                let cells = grid_cells(input_w, input_h, &[stride]);
                let data = v.data.get(base * row..).ok_or(DecodeError::Unpaired)?;
                let grid = Grid {
                    stride,
                    cells,
                    cls: data,
                    cls_step: row,
                    dis: data.get(nc..).ok_or(DecodeError::Unpaired)?,
                    dis_step: row,
                };
                decode_grid(&grid, nc, bins, offset, input_w, conf, &mut candidates)?;
                base += cells;
            }
        }
        Head::Split {
            levels, nc, bins, ..
        } => {
            for l in levels {
                let cls = outs[l.cls].image(b, 2)?;
                let dis = outs[l.dis].image(b, 2)?;
                let grid = Grid {
                    stride: l.stride,
                    cells: cls.dims[0],
                    cls: cls.data,
                    cls_step: nc,
                    dis: dis.data,
                    dis_step: 4 * bins,
                };
                decode_grid(&grid, nc, bins, 0.5, input_w, conf, &mut candidates)?;
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
    fn expectation_of_peaked_bins() {
        assert!((expectation(&[0.0, 0.0]) - 0.5).abs() < 1e-6);
        assert!((expectation(&[-100.0, -100.0, 50.0, -100.0]) - 2.0).abs() < 1e-4);
    }

    /// The layout read from shapes alone, for a 64x64 input.
    fn head(outputs: &[(&str, &[i64])]) -> Option<Head> {
        read_head(outputs, 64, 64, false)
    }

    fn split(h: Option<Head>) -> (Vec<(u32, usize, usize)>, usize, usize, &'static str) {
        match h {
            Some(Head::Split {
                levels,
                nc,
                bins,
                told_by,
            }) => (
                levels.iter().map(|l| (l.stride, l.cls, l.dis)).collect(),
                nc,
                bins,
                told_by,
            ),
            other => panic!("not a per-stride head: {other:?}"),
        }
    }

    #[test]
    fn per_stride_outputs_pair_by_cell_count_in_any_order() {
        // The exporter's order: every class output, then every distribution.
        let (levels, nc, bins, told) = split(head(&[
            ("output", &[1, 64, 3]),
            ("796", &[1, 16, 3]),
            ("818", &[1, 4, 3]),
            ("795", &[1, 64, 32]),
            ("817", &[1, 16, 32]),
            ("839", &[1, 4, 32]),
        ]));
        assert_eq!(levels, [(8, 0, 3), (16, 1, 4), (32, 2, 5)]);
        assert_eq!((nc, bins), (3, 8));
        assert!(told.starts_with("by width"), "{told}");
        // Strides out of order, distribution first in a pair: widths decide.
        let (levels, ..) = split(head(&[
            ("a", &[1, 4, 32]),
            ("b", &[1, 64, 3]),
            ("c", &[1, 4, 3]),
            ("d", &[1, 16, 32]),
            ("e", &[1, 64, 32]),
            ("f", &[1, 16, 3]),
        ]));
        assert_eq!(levels, [(8, 1, 4), (16, 5, 3), (32, 2, 0)]);
    }

    #[test]
    fn class_widths_that_could_be_distributions_go_by_name_then_order() {
        // 80 classes split into 4 x 20 as well as 32 does into 4 x 8.
        let numeric: [(&str, &[i64]); 4] = [
            ("792", &[1, 64, 80]),
            ("814", &[1, 16, 80]),
            ("795", &[1, 64, 32]),
            ("817", &[1, 16, 32]),
        ];
        let (levels, nc, bins, told) = split(head(&numeric));
        assert_eq!(levels, [(8, 0, 2), (16, 1, 3)]);
        assert_eq!((nc, bins), (80, 8));
        assert!(told.starts_with("by output order"), "{told}");
        // Names win over order.
        let (levels, nc, _, told) = split(head(&[
            ("dis_pred_stride_8", &[1, 64, 32]),
            ("cls_pred_stride_8", &[1, 64, 80]),
            ("dis_pred_stride_16", &[1, 16, 32]),
            ("cls_pred_stride_16", &[1, 16, 80]),
        ]));
        assert_eq!((levels[0], nc, told), ((8, 1, 0), 80, "by name"));
        // nc == 4 * (reg_max + 1): the first of each pair is the classes.
        let (levels, nc, bins, _) = split(head(&[
            ("1", &[1, 64, 32]),
            ("2", &[1, 16, 32]),
            ("3", &[1, 64, 32]),
            ("4", &[1, 16, 32]),
        ]));
        assert_eq!((levels, nc, bins), (vec![(8, 0, 2), (16, 1, 3)], 32, 8));
    }

    #[test]
    fn heads_that_do_not_pair_are_refused() {
        // Three outputs at one stride.
        assert_eq!(
            head(&[
                ("a", &[1, 64, 3]),
                ("b", &[1, 64, 32]),
                ("c", &[1, 64, 3]),
                ("d", &[1, 16, 32]),
            ]),
            None
        );
        // A cell count that is no stride's.
        assert_eq!(
            head(&[
                ("a", &[1, 63, 3]),
                ("b", &[1, 63, 32]),
                ("c", &[1, 16, 3]),
                ("d", &[1, 16, 32]),
            ]),
            None
        );
        // Distributions that do not split into 4 sides.
        assert_eq!(
            head(&[
                ("a", &[1, 64, 3]),
                ("b", &[1, 64, 6]),
                ("c", &[1, 16, 3]),
                ("d", &[1, 16, 6]),
            ]),
            None
        );
    }

    #[test]
    fn concatenated_outputs_by_stride_count() {
        // NanoDet-Plus: 8/16/32/64 on 64x64 is 85 cells, corner centres.
        assert_eq!(
            head(&[("output", &[1, 85, 35])]),
            Some(Head::Merged {
                strides: &PLUS_STRIDES,
                nc: 3,
                offset: 0.0
            })
        );
        // 8/16/32 is YOLOX's shape too: NanoDet 1.x only when admitted.
        assert_eq!(head(&[("output", &[1, 84, 35])]), None);
        assert_eq!(
            read_head(&[("output", &[1, 84, 35])], 64, 64, true),
            Some(Head::Merged {
                strides: &V1_STRIDES,
                nc: 3,
                offset: 0.5
            })
        );
    }
}
