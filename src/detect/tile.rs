//! Sliced inference building blocks (as SAHI does it): cut a large image
//! into overlapping tiles of the model's input size, and merge the tiles'
//! detections back into one list in source pixels.
//!
//! The pipeline uses them twice: to slice large video frames and images
//! (`--tile`), and to merge the windows a raster source reads one by one.
//!
//! **Grid.** Tiles are `size` x `size` and start every
//! `size * (1 - overlap)` pixels; the last row and column are moved back to
//! end at the image's edge, so every tile is full size (no padding) and
//! every pixel is covered. An image no larger than a tile is one tile.
//!
//! **Merge.** An object cut by a tile border comes back as a partial box in
//! one tile and a partial or whole box in the next. Boxes are taken best
//! score first; each kept box absorbs the matching boxes of its class from
//! *other* tiles (one tile's boxes were already separated by the model's
//! NMS). A box that touches an inner edge of its tile is cut: greedy
//! non-maximum merging (NMM) grows the kept box to the union, matching by
//! IoS (intersection over the smaller box, which suits a part inside a
//! whole) or IoU. Whole boxes seen twice where tiles overlap are duplicates:
//! the best is kept (IoU). NMS keeps the best box in both cases (matching
//! cut boxes by the configured metric), so a cut object stays cut. Limiting
//! the union to cut boxes matters at low score thresholds: SAHI's plain NMM
//! lets a large low-score box swallow good ones.
//!
//! **Objects larger than a tile.** No tile sees such an object whole: each
//! sees a part cut by its edges, and two parts share only the band where
//! their tiles overlap, too little for IoS (a 780 px bus across 640 px
//! tiles overlapping by 128 px: IoS 0.38). So after NMM, parts are joined
//! across borders (something SAHI does not do): a part cut by its tile's
//! right (bottom) edge joins a part of the same class cut by another tile's
//! left (top) edge when
//! - the two edges bound the band both tiles see (the tiles meet or
//!   overlap there),
//! - each part reaches across that band to the other tile's edge, within
//!   [`BORDER_SLACK`] of the band's width plus 2 px (a neighbour that merely
//!   touches the border, or ends inside the band, does not), and
//! - their extents along the border (the y extents for a vertical border)
//!   overlap with an IoU of at least [`BORDER_IOU`].
//!
//! Joins are transitive: an object across three tiles, or over the corner
//! of four, comes out as one box, the union of its parts, with the best
//! part's score and class. Only NMM joins (NMS never grows a box). With
//! tiles that do not overlap, two objects that end exactly at a border,
//! end to end, cannot be told from one object across it; overlap avoids
//! that. A long object lying diagonally across a border has parts whose
//! extents along it differ, and may stay in parts. For objects far larger
//! than a tile, `--full-frame` adds a pass over the whole frame.

use serde::{Deserialize, Serialize};

use super::Detection;
use crate::geom::BBox;

/// One tile: its top-left corner and size in source pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Tile {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

fn starts(extent: u32, size: u32, step: u32) -> Vec<u32> {
    if extent <= size {
        return vec![0];
    }
    let last = extent - size;
    let mut v: Vec<u32> = (0..).map(|i| i * step).take_while(|&s| s < last).collect();
    v.push(last);
    v
}

/// The tiles covering a `width` x `height` image.
pub fn grid(width: u32, height: u32, size: u32, overlap: f32) -> Vec<Tile> {
    let size = size.max(1);
    let overlap = overlap.clamp(0.0, 0.95);
    let step = ((size as f32 * (1.0 - overlap)).round() as u32).max(1);
    let (xs, ys) = (starts(width, size, step), starts(height, size, step));
    ys.iter()
        .flat_map(|&y| {
            xs.iter().map(move |&x| Tile {
                x,
                y,
                width: size.min(width),
                height: size.min(height),
            })
        })
        .collect()
}

impl Tile {
    /// Moves a detection from tile pixels to source pixels.
    pub fn to_source(&self, mut d: Detection) -> Detection {
        let (dx, dy) = (self.x as f32, self.y as f32);
        d.bbox = BBox::new(
            d.bbox.x1 + dx,
            d.bbox.y1 + dy,
            d.bbox.x2 + dx,
            d.bbox.y2 + dy,
        );
        d
    }
}

/// How to slice frames or rasters, and merge the slices' detections.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tiling {
    /// Tile side in pixels.
    pub size: u32,
    /// Share of a tile that overlaps its neighbour.
    pub overlap: f32,
    /// Also detect on the whole frame, shrunk to the model's input, for
    /// objects larger than a tile.
    pub full_frame: bool,
    pub merge: MergeConfig,
}

impl Tiling {
    /// Tiles of `size` pixels with the defaults: 20% overlap, no
    /// whole-frame pass, NMM by IoS at 0.5.
    pub fn with_size(size: u32) -> Tiling {
        Tiling {
            size,
            overlap: 0.2,
            full_frame: false,
            merge: MergeConfig::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MergeMethod {
    Nmm,
    Nms,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MatchMetric {
    Iou,
    Ios,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MergeConfig {
    pub method: MergeMethod,
    pub metric: MatchMetric,
    pub threshold: f32,
    /// Merge boxes of different classes too.
    pub class_agnostic: bool,
}

impl Default for MergeConfig {
    fn default() -> Self {
        MergeConfig {
            method: MergeMethod::Nmm,
            metric: MatchMetric::Ios,
            threshold: 0.5,
            class_agnostic: false,
        }
    }
}

fn overlap(a: &BBox, b: &BBox, metric: MatchMetric) -> f32 {
    let w = (a.x2.min(b.x2) - a.x1.max(b.x1)).max(0.0);
    let h = (a.y2.min(b.y2) - a.y1.max(b.y1)).max(0.0);
    let inter = w * h;
    let denominator = match metric {
        MatchMetric::Iou => a.area() + b.area() - inter,
        MatchMetric::Ios => a.area().min(b.area()),
    };
    if denominator > 0.0 {
        inter / denominator
    } else {
        0.0
    }
}

/// Pixels from a tile's edge within which a box touches it.
const EDGE_MARGIN: f32 = 2.0;

/// How far short of the other tile's edge a part may end and still reach
/// across the band two tiles share: this share of the band's width, plus
/// 2 px.
pub const BORDER_SLACK: f32 = 0.2;

/// The least IoU of two parts' extents along the border they are cut by
/// (their y intervals for a vertical border) for them to be joined.
pub const BORDER_IOU: f32 = 0.5;

/// The inner edges of its tile that a box touches, in source pixels: the x
/// of the tile's left or right edge, the y of its top or bottom edge. An
/// edge that is the frame's border is never a cut.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Cuts {
    pub left: Option<f32>,
    pub top: Option<f32>,
    pub right: Option<f32>,
    pub bottom: Option<f32>,
}

impl Cuts {
    /// The box touches an inner edge: the object may continue in a
    /// neighbouring tile.
    pub fn any(&self) -> bool {
        self.left.is_some() || self.top.is_some() || self.right.is_some() || self.bottom.is_some()
    }
}

/// A detection from one tile, in source pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct TileDetection {
    pub detection: Detection,
    /// Index of the tile it came from.
    pub tile: usize,
    /// The edges of its tile that are not edges of the frame and that it
    /// touches.
    pub cut: Cuts,
}

impl Tile {
    /// Wraps a detection in tile pixels for merging: moved to source pixels,
    /// with the inner edges of the tile it touches.
    pub fn place(&self, index: usize, d: Detection, frame_w: u32, frame_h: u32) -> TileDetection {
        let b = d.bbox;
        let margin = EDGE_MARGIN;
        let (w, h) = (self.width as f32, self.height as f32);
        let (x, y) = (self.x as f32, self.y as f32);
        let cut = Cuts {
            left: (self.x > 0 && b.x1 <= margin).then_some(x),
            top: (self.y > 0 && b.y1 <= margin).then_some(y),
            right: (self.x + self.width < frame_w && b.x2 >= w - margin).then_some(x + w),
            bottom: (self.y + self.height < frame_h && b.y2 >= h - margin).then_some(y + h),
        };
        TileDetection {
            detection: self.to_source(d),
            tile: index,
            cut,
        }
    }
}

/// Merges detections gathered from all tiles. Boxes of one tile were
/// already separated by the model's NMS, so only boxes of different tiles
/// are compared. A box cut by its tile's edge is joined (NMM: grown to the
/// union) with a matching box of another tile; two whole boxes of the same
/// object, seen twice where tiles overlap, are deduplicated (the best kept).
/// With `method = nms`, cut boxes are deduplicated too. With NMM, the parts
/// of an object larger than a tile are then joined across tile borders
/// (see the module docs); the result stays best first.
///
/// The boxes are best first, and each in turn takes the later boxes that
/// match it, in order. Only boxes that intersect can match, so the later
/// boxes are found through a grid of cells (a scene of 256 windows gives
/// thousands of boxes, and comparing every pair cost 0.1 s); the result is
/// the same as comparing every pair.
pub fn merge(mut dets: Vec<TileDetection>, cfg: &MergeConfig) -> Vec<Detection> {
    sort_best_first(&mut dets);
    let clusters = merge_greedy(&dets, cfg);
    if cfg.method != MergeMethod::Nmm {
        return clusters.into_iter().map(|c| c.detection).collect();
    }
    join_across_borders(&dets, clusters, &border_pairs(&dets, cfg.class_agnostic))
}

/// Best first; ties by position so the result does not depend on the
/// order tiles finished in.
fn sort_best_first(dets: &mut [TileDetection]) {
    dets.sort_by(|a, b| {
        let (a, b) = (&a.detection, &b.detection);
        b.score
            .total_cmp(&a.score)
            .then(a.bbox.x1.total_cmp(&b.bbox.x1))
            .then(a.bbox.y1.total_cmp(&b.bbox.y1))
    });
}

/// A kept box and the indices of the boxes it took (itself first).
#[derive(Debug, Clone, PartialEq)]
struct Cluster {
    detection: Detection,
    members: Vec<usize>,
}

/// The greedy merge (NMM or NMS) of boxes sorted best first.
fn merge_greedy(dets: &[TileDetection], cfg: &MergeConfig) -> Vec<Cluster> {
    // With no positive threshold, boxes that do not touch match too.
    if cfg.threshold.is_nan() || cfg.threshold <= 0.0 {
        return merge_sorted(dets, cfg, |after, _, out| out.extend(after + 1..dets.len()));
    }
    let grid = Grid::new(dets);
    merge_sorted(dets, cfg, |after, bbox, out| {
        grid.candidates(bbox, after, out)
    })
}

/// The greedy merge over boxes sorted best first. `candidates(after, box,
/// out)` adds to `out` the indices after `after` of every box that may
/// intersect `box` (more are harmless; none may be missed).
fn merge_sorted(
    dets: &[TileDetection],
    cfg: &MergeConfig,
    candidates: impl Fn(usize, &BBox, &mut Vec<usize>),
) -> Vec<Cluster> {
    let mut used = vec![false; dets.len()];
    // Which kept box last queued each box, so none is queued twice.
    let mut queued = vec![usize::MAX; dets.len()];
    let mut found = Vec::new();
    let mut next: std::collections::BinaryHeap<std::cmp::Reverse<usize>> = Default::default();
    let mut out = Vec::new();
    for i in 0..dets.len() {
        if used[i] {
            continue;
        }
        used[i] = true;
        let mut kept = dets[i].detection.clone();
        let mut members = vec![i];
        let mut tiles = vec![dets[i].tile];
        let mut cut = dets[i].cut.any();
        let mut queue = |after: usize, bbox: &BBox, next: &mut std::collections::BinaryHeap<_>| {
            found.clear();
            candidates(after, bbox, &mut found);
            for &j in &found {
                if j > after && queued[j] != i {
                    queued[j] = i;
                    next.push(std::cmp::Reverse(j));
                }
            }
        };
        next.clear();
        queue(i, &kept.bbox, &mut next);
        // Later boxes in index order, as comparing every pair takes them.
        while let Some(std::cmp::Reverse(j)) = next.pop() {
            let other = &dets[j];
            if used[j]
                || tiles.contains(&other.tile)
                || (!cfg.class_agnostic && other.detection.class_id != kept.class_id)
            {
                continue;
            }
            let either_cut = cut || other.cut.any();
            let join = cfg.method == MergeMethod::Nmm && either_cut;
            let metric = if either_cut {
                cfg.metric
            } else {
                MatchMetric::Iou
            };
            if overlap(&kept.bbox, &other.detection.bbox, metric) < cfg.threshold {
                continue;
            }
            used[j] = true;
            members.push(j);
            tiles.push(other.tile);
            if join {
                let (a, b) = (kept.bbox, other.detection.bbox);
                let grown = BBox::new(
                    a.x1.min(b.x1),
                    a.y1.min(b.y1),
                    a.x2.max(b.x2),
                    a.y2.max(b.y2),
                );
                if grown != kept.bbox {
                    // The grown box may reach boxes after this one that
                    // the smaller box did not; those before it were
                    // compared with the box as it was then.
                    queue(j, &grown, &mut next);
                }
                kept.bbox = grown;
                cut = cut && other.cut.any();
            }
        }
        out.push(Cluster {
            detection: kept,
            members,
        });
    }
    out
}

/// IoU of two intervals `(start, end)`.
fn interval_iou(a: (f32, f32), b: (f32, f32)) -> f32 {
    let inter = (a.1.min(b.1) - a.0.max(b.0)).max(0.0);
    let union = (a.1 - a.0).max(0.0) + (b.1 - b.0).max(0.0) - inter;
    if union > 0.0 {
        inter / union
    } else {
        0.0
    }
}

/// Along one axis: part `a` is cut at `end` (where its tile ends) and part
/// `b` at `start` (where its tile begins). The tiles meet or overlap, and
/// each part reaches across the band `[start, end]` that both tiles see,
/// to within [`BORDER_SLACK`] of its width plus 2 px.
fn reach_across(end: f32, start: f32, a: (f32, f32), b: (f32, f32)) -> bool {
    let band = end - start;
    if band.is_nan() || band < -EDGE_MARGIN {
        return false;
    }
    let slack = EDGE_MARGIN + BORDER_SLACK * band.max(0.0);
    a.0 <= start + slack && b.1 >= end - slack
}

/// `a`, cut by its tile's right or bottom edge, continues as `b`, cut by
/// its tile's left or top edge (see the module docs).
fn continues(a: &TileDetection, b: &TileDetection) -> bool {
    let (p, q) = (&a.detection.bbox, &b.detection.bbox);
    let across_x = match (a.cut.right, b.cut.left) {
        (Some(end), Some(start)) => {
            reach_across(end, start, (p.x1, p.x2), (q.x1, q.x2))
                && interval_iou((p.y1, p.y2), (q.y1, q.y2)) >= BORDER_IOU
        }
        _ => false,
    };
    across_x
        || match (a.cut.bottom, b.cut.top) {
            (Some(end), Some(start)) => {
                reach_across(end, start, (p.y1, p.y2), (q.y1, q.y2))
                    && interval_iou((p.x1, p.x2), (q.x1, q.x2)) >= BORDER_IOU
            }
            _ => false,
        }
}

/// Two parts of one object cut by the border between their tiles.
fn joins_across_border(a: &TileDetection, b: &TileDetection, class_agnostic: bool) -> bool {
    a.tile != b.tile
        && (class_agnostic || a.detection.class_id == b.detection.class_id)
        && (continues(a, b) || continues(b, a))
}

/// The pairs `(i, j)`, `i < j`, of cut boxes to join across a border.
/// Such parts overlap in the band their tiles share, or touch where tiles
/// meet, so candidates come from a grid of the cut boxes grown by twice the
/// edge margin.
fn border_pairs(dets: &[TileDetection], class_agnostic: bool) -> Vec<(usize, usize)> {
    let parts: Vec<usize> = (0..dets.len()).filter(|&i| dets[i].cut.any()).collect();
    let pad = 2.0 * EDGE_MARGIN;
    let grown: Vec<TileDetection> = parts
        .iter()
        .map(|&i| {
            let mut d = dets[i].clone();
            let b = d.detection.bbox;
            d.detection.bbox = BBox::new(b.x1 - pad, b.y1 - pad, b.x2 + pad, b.y2 + pad);
            d
        })
        .collect();
    let grid = Grid::new(&grown);
    let mut found = Vec::new();
    let mut pairs = Vec::new();
    for (k, &i) in parts.iter().enumerate() {
        found.clear();
        grid.candidates(&grown[k].detection.bbox, k, &mut found);
        found.sort_unstable();
        found.dedup();
        for &l in &found {
            let j = parts[l];
            if joins_across_border(&dets[i], &dets[j], class_agnostic) {
                pairs.push((i, j));
            }
        }
    }
    pairs
}

/// Joins the clusters whose members are paired across a border
/// (transitively, by union-find). A joined box is the union of its
/// clusters' boxes and keeps the best cluster's score and class; the
/// output stays in the clusters' order (best first).
fn join_across_borders(
    dets: &[TileDetection],
    clusters: Vec<Cluster>,
    pairs: &[(usize, usize)],
) -> Vec<Detection> {
    if pairs.is_empty() {
        return clusters.into_iter().map(|c| c.detection).collect();
    }
    let mut cluster_of = vec![0; dets.len()];
    for (c, cluster) in clusters.iter().enumerate() {
        for &m in &cluster.members {
            cluster_of[m] = c;
        }
    }
    fn root(parent: &mut [usize], mut c: usize) -> usize {
        while parent[c] != c {
            parent[c] = parent[parent[c]];
            c = parent[c];
        }
        c
    }
    let mut parent: Vec<usize> = (0..clusters.len()).collect();
    for &(i, j) in pairs {
        let (a, b) = (
            root(&mut parent, cluster_of[i]),
            root(&mut parent, cluster_of[j]),
        );
        // The earlier (better) cluster is the root.
        parent[a.max(b)] = a.min(b);
    }
    let mut at = vec![usize::MAX; clusters.len()];
    let mut out: Vec<Detection> = Vec::new();
    for (c, cluster) in clusters.into_iter().enumerate() {
        let r = root(&mut parent, c);
        if r == c {
            at[c] = out.len();
            out.push(cluster.detection);
        } else {
            // The root comes first, so it is already out.
            let kept = &mut out[at[r]];
            let (a, b) = (kept.bbox, cluster.detection.bbox);
            kept.bbox = BBox::new(
                a.x1.min(b.x1),
                a.y1.min(b.y1),
                a.x2.max(b.x2),
                a.y2.max(b.y2),
            );
        }
    }
    out
}

/// Boxes by the square cells of a grid they cover. Boxes that cover too
/// many cells are kept apart and offered to every query.
struct Grid {
    cell: f32,
    cells: std::collections::HashMap<(i64, i64), Vec<usize>>,
    large: Vec<usize>,
}

/// Most cells one box is listed in, or one query looks at.
const GRID_MOST_CELLS: i64 = 256;

impl Grid {
    fn new(dets: &[TileDetection]) -> Grid {
        // Cells about twice the mean box: a box covers a few cells.
        let sizes: f64 = dets
            .iter()
            .map(|d| {
                (d.detection.bbox.x2 - d.detection.bbox.x1)
                    .max(d.detection.bbox.y2 - d.detection.bbox.y1) as f64
            })
            .filter(|s| s.is_finite() && *s > 0.0)
            .sum();
        let cell = ((2.0 * sizes / dets.len().max(1) as f64) as f32).max(1.0);
        let mut grid = Grid {
            cell,
            cells: Default::default(),
            large: Vec::new(),
        };
        for (i, d) in dets.iter().enumerate() {
            match grid.span(&d.detection.bbox) {
                Some((x0, y0, x1, y1)) if (x1 - x0 + 1) * (y1 - y0 + 1) <= GRID_MOST_CELLS => {
                    for cy in y0..=y1 {
                        for cx in x0..=x1 {
                            grid.cells.entry((cx, cy)).or_default().push(i);
                        }
                    }
                }
                // A box with no area intersects nothing.
                Some(_) => grid.large.push(i),
                None if d.detection.bbox.area() > 0.0 => grid.large.push(i),
                None => {}
            }
        }
        grid
    }

    /// The cells `b` covers, first and last on each axis; `None` for a box
    /// with no width or height, or out of reach of the grid.
    fn span(&self, b: &BBox) -> Option<(i64, i64, i64, i64)> {
        let at = |v: f32| (v / self.cell).floor();
        let (x0, y0, x1, y1) = (at(b.x1), at(b.y1), at(b.x2), at(b.y2));
        let limit = 1e15_f32;
        if !(x0 <= x1 && y0 <= y1) || [x0, y0, x1, y1].iter().any(|v| v.abs() > limit) {
            return None;
        }
        Some((x0 as i64, y0 as i64, x1 as i64, y1 as i64))
    }

    /// Adds the boxes after `after` that may intersect `b`.
    fn candidates(&self, b: &BBox, after: usize, out: &mut Vec<usize>) {
        out.extend(self.large.iter().copied().filter(|&j| j > after));
        let Some((x0, y0, x1, y1)) = self.span(b) else {
            if b.area() > 0.0 {
                // Too far out to index: every box is a candidate.
                out.extend(
                    self.cells
                        .values()
                        .flatten()
                        .copied()
                        .filter(|&j| j > after),
                );
            }
            return;
        };
        if (x1 - x0 + 1) * (y1 - y0 + 1) > GRID_MOST_CELLS {
            // Looking in every cell would cost more than taking them all.
            out.extend(
                self.cells
                    .values()
                    .flatten()
                    .copied()
                    .filter(|&j| j > after),
            );
            return;
        }
        for cy in y0..=y1 {
            for cx in x0..=x1 {
                if let Some(list) = self.cells.get(&(cx, cy)) {
                    out.extend(list.iter().copied().filter(|&j| j > after));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The merge as it was written first: every later box compared with
    /// each kept one, in order; then the border joins, every pair of cut
    /// boxes compared.
    fn merge_every_pair(mut dets: Vec<TileDetection>, cfg: &MergeConfig) -> Vec<Detection> {
        sort_best_first(&mut dets);
        let mut used = vec![false; dets.len()];
        let mut out = Vec::new();
        for i in 0..dets.len() {
            if used[i] {
                continue;
            }
            used[i] = true;
            let mut kept = dets[i].detection.clone();
            let mut members = vec![i];
            let mut tiles = vec![dets[i].tile];
            let mut cut = dets[i].cut.any();
            for j in i + 1..dets.len() {
                let other = &dets[j];
                if used[j]
                    || tiles.contains(&other.tile)
                    || (!cfg.class_agnostic && other.detection.class_id != kept.class_id)
                {
                    continue;
                }
                let either_cut = cut || other.cut.any();
                let join = cfg.method == MergeMethod::Nmm && either_cut;
                let metric = if either_cut {
                    cfg.metric
                } else {
                    MatchMetric::Iou
                };
                if overlap(&kept.bbox, &other.detection.bbox, metric) < cfg.threshold {
                    continue;
                }
                used[j] = true;
                members.push(j);
                tiles.push(other.tile);
                if join {
                    let (a, b) = (kept.bbox, other.detection.bbox);
                    kept.bbox = BBox::new(
                        a.x1.min(b.x1),
                        a.y1.min(b.y1),
                        a.x2.max(b.x2),
                        a.y2.max(b.y2),
                    );
                    cut = cut && other.cut.any();
                }
            }
            out.push(Cluster {
                detection: kept,
                members,
            });
        }
        if cfg.method != MergeMethod::Nmm {
            return out.into_iter().map(|c| c.detection).collect();
        }
        let pairs = border_pairs_every_pair(&dets, cfg.class_agnostic);
        join_across_borders(&dets, out, &pairs)
    }

    fn border_pairs_every_pair(dets: &[TileDetection], agnostic: bool) -> Vec<(usize, usize)> {
        let mut pairs = Vec::new();
        for i in 0..dets.len() {
            for j in i + 1..dets.len() {
                if joins_across_border(&dets[i], &dets[j], agnostic) {
                    pairs.push((i, j));
                }
            }
        }
        pairs
    }

    mod grid_merge {
        use super::*;
        use proptest::prelude::*;

        fn detection() -> impl Strategy<Value = TileDetection> {
            // Cut edges lie within a few pixels of the box's own edges, so
            // that some pairs join across a border.
            let edge = || proptest::option::of(-3.0f32..3.0);
            (
                (
                    0usize..2,
                    0u32..100,
                    -50.0f32..900.0,
                    -50.0f32..900.0,
                    0.0f32..300.0,
                    0.0f32..200.0,
                    0usize..6,
                ),
                (edge(), edge(), edge(), edge()),
            )
                .prop_map(
                    |((class_id, score, x, y, w, h, tile), (left, top, right, bottom))| {
                        TileDetection {
                            detection: Detection {
                                class_id,
                                score: score as f32 / 100.0,
                                bbox: BBox::new(x, y, x + w, y + h),
                            },
                            tile,
                            cut: Cuts {
                                left: left.map(|d| x + d),
                                top: top.map(|d| y + d),
                                right: right.map(|d| x + w + d),
                                bottom: bottom.map(|d| y + h + d),
                            },
                        }
                    },
                )
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]
            /// The grid finds the same merges as comparing every pair,
            /// boxes grown by joins and joins across borders included.
            #[test]
            fn grid_merge_equals_every_pair(
                dets in proptest::collection::vec(detection(), 0..120),
                nms in any::<bool>(),
                ios in any::<bool>(),
                agnostic in any::<bool>(),
                threshold in prop_oneof![Just(0.0f32), Just(0.1), Just(0.5), Just(0.9)],
            ) {
                let cfg = MergeConfig {
                    method: if nms { MergeMethod::Nms } else { MergeMethod::Nmm },
                    metric: if ios { MatchMetric::Ios } else { MatchMetric::Iou },
                    threshold,
                    class_agnostic: agnostic,
                };
                prop_assert_eq!(
                    border_pairs(&dets, agnostic),
                    border_pairs_every_pair(&dets, agnostic)
                );
                prop_assert_eq!(merge(dets.clone(), &cfg), merge_every_pair(dets, &cfg));
            }
        }
    }

    #[test]
    fn grid_covers_every_pixel_with_full_size_tiles() {
        for (w, h, size, overlap) in [
            (3000, 2000, 640, 0.2),
            (641, 640, 640, 0.2),
            (100, 80, 640, 0.2),
            (5000, 700, 512, 0.0),
        ] {
            let tiles = grid(w, h, size, overlap);
            let mut covered = vec![false; (w * h) as usize];
            for t in &tiles {
                assert!(
                    t.x + t.width <= w && t.y + t.height <= h,
                    "{t:?} in {w}x{h}"
                );
                assert_eq!((t.width, t.height), (size.min(w), size.min(h)));
                for y in t.y..t.y + t.height {
                    for x in t.x..t.x + t.width {
                        covered[(y * w + x) as usize] = true;
                    }
                }
            }
            assert!(covered.iter().all(|&c| c), "{w}x{h} tile {size}");
        }
        // 3000 px at 640 with 20% overlap: starts every 512 px, last at 2360.
        let xs: Vec<u32> = grid(3000, 640, 640, 0.2).iter().map(|t| t.x).collect();
        assert_eq!(xs, vec![0, 512, 1024, 1536, 2048, 2360]);
        assert_eq!(grid(100, 80, 640, 0.2).len(), 1);
    }

    fn det(class_id: usize, score: f32, x1: f32, y1: f32, x2: f32, y2: f32) -> Detection {
        Detection {
            class_id,
            score,
            bbox: BBox::new(x1, y1, x2, y2),
        }
    }

    #[test]
    fn an_object_cut_by_a_tile_border_merges_into_one() {
        // A boat from x 600 to 700 straddles the border of tiles starting
        // at 0 and 512 (size 640): tile A sees 600-640, tile B all of it.
        let a = Tile {
            x: 0,
            y: 0,
            width: 640,
            height: 640,
        };
        let b = Tile { x: 512, ..a };
        let partial = a.place(0, det(1, 0.6, 600.0, 100.0, 640.0, 140.0), 1152, 640);
        assert_eq!(
            partial.cut,
            Cuts {
                right: Some(640.0),
                ..Default::default()
            },
            "touches the inner edge of tile A"
        );
        let whole = b.place(1, det(1, 0.9, 88.0, 100.0, 188.0, 140.0), 1152, 640);
        assert!(!whole.cut.any());
        // Tile B's right edge is the frame's: touching it is no cut.
        let at_frame_edge = b.place(1, det(1, 0.9, 600.0, 100.0, 640.0, 140.0), 1152, 640);
        assert!(!at_frame_edge.cut.any());
        let person = b.place(1, det(0, 0.8, 100.0, 110.0, 110.0, 120.0), 1152, 640);
        let merged = merge(
            vec![partial.clone(), whole.clone(), person.clone()],
            &MergeConfig::default(),
        );
        assert_eq!(merged.len(), 2, "{merged:?}");
        assert_eq!(merged[0].bbox, BBox::new(600.0, 100.0, 700.0, 140.0));
        assert_eq!(merged[0].score, 0.9);
        assert_eq!(merged[1], person.detection, "another class is not merged");
        // Boxes of one tile are never merged with each other.
        let mut same_tile = partial.clone();
        same_tile.tile = 1;
        assert_eq!(
            merge(vec![same_tile, whole.clone()], &MergeConfig::default()).len(),
            2
        );
        // Two whole boxes of one object from overlapping tiles: the best is
        // kept and not grown.
        let twin = a.place(0, det(1, 0.5, 590.0, 101.0, 630.0, 139.0), 1152, 640);
        assert!(!twin.cut.any());
        let near = b.place(1, det(1, 0.8, 79.0, 100.0, 119.0, 140.0), 1152, 640);
        assert_eq!(
            merge(vec![twin, near.clone()], &MergeConfig::default()),
            vec![near.detection]
        );

        // IoU 0.4 < 0.5: with IoU the two stay apart; NMS keeps the best.
        let iou = MergeConfig {
            metric: MatchMetric::Iou,
            ..Default::default()
        };
        assert_eq!(merge(vec![partial.clone(), whole.clone()], &iou).len(), 2);
        let nms = MergeConfig {
            method: MergeMethod::Nms,
            ..Default::default()
        };
        assert_eq!(
            merge(vec![partial, whole.clone()], &nms),
            vec![whole.detection]
        );
    }

    #[test]
    fn distant_boxes_and_classes_stay_apart_unless_agnostic() {
        let td = |tile, d| TileDetection {
            detection: d,
            tile,
            cut: Cuts::default(),
        };
        let d = vec![
            td(0, det(0, 0.9, 0.0, 0.0, 10.0, 10.0)),
            td(1, det(1, 0.8, 1.0, 1.0, 9.0, 9.0)),
            td(1, det(0, 0.7, 100.0, 100.0, 110.0, 110.0)),
        ];
        assert_eq!(merge(d.clone(), &MergeConfig::default()).len(), 3);
        let agnostic = MergeConfig {
            class_agnostic: true,
            ..Default::default()
        };
        let m = merge(d, &agnostic);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].class_id, 0, "the best box's class wins");
    }

    /// What a detector reports for `truth` in each tile of a `w` x `h`
    /// frame: the part inside the tile (none under 8 px), placed for
    /// merging, with a score that grows with the part. The object's own
    /// edges (not those cut by a tile) move by up to `jitter` pixels, as a
    /// model's do, differently in each tile.
    fn parts_of(
        truth: BBox,
        class_id: usize,
        tiles: &[Tile],
        (w, h): (u32, u32),
        jitter: f32,
    ) -> Vec<TileDetection> {
        let mut seed = (truth.x1.to_bits() as u64) ^ ((truth.y1.to_bits() as u64) << 32);
        let mut noise = move || {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            jitter * (((seed >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0)
        };
        let mut out = Vec::new();
        for (i, t) in tiles.iter().enumerate() {
            let (tx, ty, tw, th) = (t.x as f32, t.y as f32, t.width as f32, t.height as f32);
            let (x1, y1) = (truth.x1 - tx, truth.y1 - ty);
            let (x2, y2) = (truth.x2 - tx, truth.y2 - ty);
            let b = BBox::new(
                if x1 > 0.0 { x1 + noise() } else { 0.0 },
                if y1 > 0.0 { y1 + noise() } else { 0.0 },
                if x2 < tw { x2 + noise() } else { tw },
                if y2 < th { y2 + noise() } else { th },
            )
            .clip(tw, th);
            if b.width() < 8.0 || b.height() < 8.0 {
                continue;
            }
            let score = 0.5 + 0.4 * b.area() / truth.area();
            out.push(t.place(i, det(class_id, score, b.x1, b.y1, b.x2, b.y2), w, h));
        }
        out
    }

    /// The merge as it was before border joins: NMM alone.
    fn merge_without_border_joins(mut dets: Vec<TileDetection>) -> Vec<Detection> {
        sort_best_first(&mut dets);
        merge_greedy(&dets, &MergeConfig::default())
            .into_iter()
            .map(|c| c.detection)
            .collect()
    }

    #[test]
    fn objects_larger_than_a_tile_come_out_once() {
        let frame = (3000, 3000);
        let cases = [
            // The 780 px bus of the issue; 56 px of it also reach the
            // third tile.
            (
                "wider than a tile",
                BBox::new(300.0, 100.0, 1080.0, 360.0),
                3,
            ),
            (
                "taller than a tile",
                BBox::new(100.0, 300.0, 360.0, 1080.0),
                3,
            ),
            (
                "across three tiles",
                BBox::new(300.0, 100.0, 1400.0, 300.0),
                3,
            ),
            (
                "at a corner of four",
                BBox::new(300.0, 300.0, 900.0, 900.0),
                4,
            ),
            (
                "over nine tiles",
                BBox::new(300.0, 300.0, 1400.0, 1400.0),
                9,
            ),
        ];
        for overlap in [0.2, 0.0, 0.5] {
            let tiles = grid(frame.0, frame.1, 640, overlap);
            for (what, truth, n) in cases {
                let parts = parts_of(truth, 3, &tiles, frame, 0.0);
                if overlap == 0.2 {
                    assert_eq!(parts.len(), n, "{what}: {parts:?}");
                    // NMM by IoS alone leaves it in parts.
                    let before = merge_without_border_joins(parts.clone());
                    assert!(before.len() > 1, "{what}: {before:?}");
                }
                let merged = merge(parts.clone(), &MergeConfig::default());
                assert_eq!(merged.len(), 1, "{what}, overlap {overlap}: {merged:?}");
                assert_eq!(merged[0].bbox, truth, "{what}, overlap {overlap}");
                let best = parts.iter().map(|p| p.detection.score).fold(0.0, f32::max);
                assert_eq!((merged[0].class_id, merged[0].score), (3, best));
                // A few pixels of noise on the object's own edges change
                // nothing: one box, within the noise of the truth.
                let noisy = merge(
                    parts_of(truth, 3, &tiles, frame, 4.0),
                    &MergeConfig::default(),
                );
                assert_eq!(noisy.len(), 1, "{what}, overlap {overlap}: {noisy:?}");
                let b = noisy[0].bbox;
                let error = [
                    b.x1 - truth.x1,
                    b.y1 - truth.y1,
                    b.x2 - truth.x2,
                    b.y2 - truth.y2,
                ]
                .iter()
                .fold(0.0f32, |m, e| m.max(e.abs()));
                assert!(error <= 4.0, "{what}, overlap {overlap}: {b:?}");
                // NMS never joins: the parts stay apart.
                let nms = MergeConfig {
                    method: MergeMethod::Nms,
                    ..Default::default()
                };
                if overlap == 0.2 {
                    assert!(merge(parts, &nms).len() > 1, "{what}");
                }
            }
        }
    }

    #[test]
    fn a_neighbour_of_the_same_class_is_not_joined() {
        let frame = (3000, 3000);
        let tiles = grid(frame.0, frame.1, 640, 0.2);
        let cases = [
            // End to end across the border of tiles [0, 640] and [512,
            // 1152]: each is cut by the other's tile, but neither reaches
            // across the band both tiles see.
            (
                "end to end",
                BBox::new(300.0, 100.0, 600.0, 160.0),
                BBox::new(620.0, 100.0, 1100.0, 160.0),
            ),
            (
                "end to end, one above the other",
                BBox::new(100.0, 300.0, 160.0, 600.0),
                BBox::new(100.0, 620.0, 160.0, 1100.0),
            ),
            // Side by side, both across the border: the parts of one and
            // the parts of the other overlap too little along it.
            (
                "beside a truck larger than a tile",
                BBox::new(300.0, 100.0, 1000.0, 160.0),
                BBox::new(450.0, 140.0, 700.0, 200.0),
            ),
            (
                "two trucks larger than a tile, side by side",
                BBox::new(300.0, 100.0, 1000.0, 160.0),
                BBox::new(250.0, 165.0, 950.0, 225.0),
            ),
        ];
        for (what, one, two) in cases {
            let mut parts = parts_of(one, 3, &tiles, frame, 0.0);
            parts.extend(parts_of(two, 3, &tiles, frame, 0.0));
            let mut merged: Vec<BBox> = merge(parts, &MergeConfig::default())
                .into_iter()
                .map(|d| d.bbox)
                .collect();
            merged.sort_by(|a, b| a.x1.total_cmp(&b.x1).then(a.y1.total_cmp(&b.y1)));
            let mut truth = vec![one, two];
            truth.sort_by(|a, b| a.x1.total_cmp(&b.x1).then(a.y1.total_cmp(&b.y1)));
            assert_eq!(merged, truth, "{what}");
        }
    }

    #[test]
    fn parts_of_different_classes_are_not_joined_unless_agnostic() {
        let frame = (3000, 3000);
        let tiles = grid(frame.0, frame.1, 640, 0.2);
        let truth = BBox::new(300.0, 100.0, 1000.0, 360.0);
        let mut parts = parts_of(truth, 3, &tiles, frame, 0.0);
        assert_eq!(parts.len(), 2);
        parts[1].detection.class_id = 4;
        assert_eq!(merge(parts.clone(), &MergeConfig::default()).len(), 2);
        let agnostic = MergeConfig {
            class_agnostic: true,
            ..Default::default()
        };
        let merged = merge(parts, &agnostic);
        assert_eq!(merged.len(), 1);
        assert_eq!(merged[0].bbox, truth);
    }

    /// The case measured: a bus 780 x 300 px placed every 16 px
    /// over the first 2048 x 2048 px of a 12,000 px scene in 640 px tiles
    /// (20% overlap), its parts' own edges moved by up to 4 px. For each
    /// place: how many boxes cover the bus, and how far the best box's
    /// edges are from it, before border joins (NMM alone) and after. Run
    /// with `--nocapture` for the figures.
    #[test]
    fn a_bus_larger_than_a_tile_measured() {
        let frame = (12_000, 12_000);
        let tiles = grid(frame.0, frame.1, 640, 0.2);
        let metres_per_px = 0.5;
        #[derive(Default)]
        struct Tally {
            split: usize,
            most_boxes: usize,
            error_sum: f64,
            error_max: f32,
        }
        let (mut before, mut after, mut places) = (Tally::default(), Tally::default(), 0);
        for y in (0..2048).step_by(16) {
            for x in (0..2048).step_by(16) {
                let truth = BBox::new(x as f32, y as f32, x as f32 + 780.0, y as f32 + 300.0);
                let parts = parts_of(truth, 3, &tiles, frame, 4.0);
                places += 1;
                for (tally, merged) in [
                    (&mut before, merge_without_border_joins(parts.clone())),
                    (&mut after, merge(parts, &MergeConfig::default())),
                ] {
                    let boxes = merged.iter().filter(|d| d.bbox.iou(&truth) > 0.0).count();
                    tally.most_boxes = tally.most_boxes.max(boxes);
                    tally.split += usize::from(boxes > 1);
                    // Merged boxes are best first.
                    let b = merged[0].bbox;
                    let error = [
                        b.x1 - truth.x1,
                        b.y1 - truth.y1,
                        b.x2 - truth.x2,
                        b.y2 - truth.y2,
                    ]
                    .iter()
                    .fold(0.0f32, |m, e| m.max(e.abs()));
                    tally.error_sum += error as f64;
                    tally.error_max = tally.error_max.max(error);
                }
            }
        }
        for (name, t) in [("before", &before), ("after", &after)] {
            println!(
                "{name}: split at {} of {places} places (up to {} boxes); best box's worst edge \
                 off by {:.1} px on average ({:.1} m), at most {:.1} px ({:.1} m)",
                t.split,
                t.most_boxes,
                t.error_sum / places as f64,
                t.error_sum / places as f64 * metres_per_px,
                t.error_max,
                t.error_max * metres_per_px as f32,
            );
        }
        assert!(before.split > 0, "the case reproduces the issue");
        assert_eq!(after.split, 0);
        assert!(after.error_max <= 4.0, "{}", after.error_max);
    }
}
