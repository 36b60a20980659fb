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
//! cut boxes by the configured metric), so a cut object stays cut. Limiting the union to cut boxes matters at low score
//! thresholds: SAHI's plain NMM lets a large low-score box swallow good ones.

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

/// A detection from one tile, in source pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct TileDetection {
    pub detection: Detection,
    /// Index of the tile it came from.
    pub tile: usize,
    /// It touches an edge of its tile that is not an edge of the frame, so
    /// the object may continue in a neighbouring tile.
    pub cut: bool,
}

impl Tile {
    /// Wraps a detection in tile pixels for merging: moved to source pixels
    /// and marked `cut` when it touches an inner edge of the tile.
    pub fn place(&self, index: usize, d: Detection, frame_w: u32, frame_h: u32) -> TileDetection {
        let b = d.bbox;
        let margin = 2.0;
        let (w, h) = (self.width as f32, self.height as f32);
        let cut = (self.x > 0 && b.x1 <= margin)
            || (self.y > 0 && b.y1 <= margin)
            || (self.x + self.width < frame_w && b.x2 >= w - margin)
            || (self.y + self.height < frame_h && b.y2 >= h - margin);
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
/// With `method = nms`, cut boxes are deduplicated too.
///
/// The boxes are best first, and each in turn takes the later boxes that
/// match it, in order. Only boxes that intersect can match, so the later
/// boxes are found through a grid of cells (a scene of 256 windows gives
/// thousands of boxes, and comparing every pair cost 0.1 s); the result is
/// the same as comparing every pair.
pub fn merge(mut dets: Vec<TileDetection>, cfg: &MergeConfig) -> Vec<Detection> {
    // Best first; ties by position so the result does not depend on the
    // order tiles finished in.
    dets.sort_by(|a, b| {
        let (a, b) = (&a.detection, &b.detection);
        b.score
            .total_cmp(&a.score)
            .then(a.bbox.x1.total_cmp(&b.bbox.x1))
            .then(a.bbox.y1.total_cmp(&b.bbox.y1))
    });
    // With no positive threshold, boxes that do not touch match too.
    if !(cfg.threshold > 0.0) {
        return merge_sorted(&dets, cfg, |after, _, out| {
            out.extend(after + 1..dets.len())
        });
    }
    let grid = Grid::new(&dets);
    merge_sorted(&dets, cfg, |after, bbox, out| {
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
) -> Vec<Detection> {
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
        let mut tiles = vec![dets[i].tile];
        let mut cut = dets[i].cut;
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
            let either_cut = cut || other.cut;
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
                cut = cut && other.cut;
            }
        }
        out.push(kept);
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
    /// each kept one, in order.
    fn merge_every_pair(mut dets: Vec<TileDetection>, cfg: &MergeConfig) -> Vec<Detection> {
        dets.sort_by(|a, b| {
            let (a, b) = (&a.detection, &b.detection);
            b.score
                .total_cmp(&a.score)
                .then(a.bbox.x1.total_cmp(&b.bbox.x1))
                .then(a.bbox.y1.total_cmp(&b.bbox.y1))
        });
        let mut used = vec![false; dets.len()];
        let mut out = Vec::new();
        for i in 0..dets.len() {
            if used[i] {
                continue;
            }
            used[i] = true;
            let mut kept = dets[i].detection.clone();
            let mut tiles = vec![dets[i].tile];
            let mut cut = dets[i].cut;
            for j in i + 1..dets.len() {
                let other = &dets[j];
                if used[j]
                    || tiles.contains(&other.tile)
                    || (!cfg.class_agnostic && other.detection.class_id != kept.class_id)
                {
                    continue;
                }
                let either_cut = cut || other.cut;
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
                tiles.push(other.tile);
                if join {
                    let (a, b) = (kept.bbox, other.detection.bbox);
                    kept.bbox = BBox::new(
                        a.x1.min(b.x1),
                        a.y1.min(b.y1),
                        a.x2.max(b.x2),
                        a.y2.max(b.y2),
                    );
                    cut = cut && other.cut;
                }
            }
            out.push(kept);
        }
        out
    }

    mod grid_merge {
        use super::*;
        use proptest::prelude::*;

        fn detection() -> impl Strategy<Value = TileDetection> {
            (
                0usize..2,
                0u32..100,
                -50.0f32..900.0,
                -50.0f32..900.0,
                0.0f32..300.0,
                0.0f32..200.0,
                0usize..6,
                any::<bool>(),
            )
                .prop_map(|(class_id, score, x, y, w, h, tile, cut)| TileDetection {
                    detection: Detection {
                        class_id,
                        score: score as f32 / 100.0,
                        bbox: BBox::new(x, y, x + w, y + h),
                    },
                    tile,
                    cut,
                })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]
            /// The grid finds the same merges as comparing every pair,
            /// boxes grown by joins included.
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
        assert!(partial.cut, "touches the inner edge of tile A");
        let whole = b.place(1, det(1, 0.9, 88.0, 100.0, 188.0, 140.0), 1152, 640);
        assert!(!whole.cut);
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
        assert!(!twin.cut);
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
            cut: false,
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
}
