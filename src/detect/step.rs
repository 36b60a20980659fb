//! The detection step: frames in, detections in source pixels out. It owns
//! preprocessing, tiling, batching, inference and merging, and every driver
//! runs frames through it: `screen` in the pipeline's threads, `watch` on
//! the newest frames of its feeds, `eval` over a labelled set.
//!
//! It comes in two halves so that batch mode can overlap them on two
//! threads: [`Prepare`] (stateless, cheap to clone: letterbox or tiles) and
//! [`Infer`] (the detector: batched calls, then tile merging). [`DetectStep`]
//! runs both in turn on the caller's thread, for live feeds.
//!
//! **Batching.** The tensors of all frames given to [`Infer::run`] go to the
//! detector in calls of at most `batch`, whatever frame they came from: a
//! tiled 4K frame fills calls with its tiles, and the newest frames of
//! several feeds share one call. A model with a fixed batch axis gets one
//! tensor per call.

use std::time::{Duration, Instant};

use rayon::prelude::*;

use super::tile::{self, MergeConfig, Tile, Tiling};
use super::{DetectError, Detection, Detector, Preprocess, Tensorised};
use crate::frame::Frame;

/// Tensorises frames: the whole frame, or one tensor per tile.
#[derive(Debug, Clone)]
pub struct Prepare {
    preprocess: Preprocess,
    tiling: Option<Tiling>,
}

/// A frame, or part of a sliced frame, ready for inference.
pub struct Prepared {
    pub frame: Frame,
    /// One tensor, or one per tile of this part.
    pub tensors: Vec<Tensorised>,
    /// For a sliced frame: which of its tiles the tensors were cut from;
    /// `None` for the whole frame.
    pub tiles: Option<TilePart>,
}

/// Some of a sliced frame's tiles, with their indices among all of them.
pub struct TilePart {
    pub tiles: Vec<(usize, Tile)>,
    /// The frame's last part: its detections can be merged.
    pub last: bool,
}

/// Tiles letterboxed at once per sliced frame. A frame's tiles travel in
/// parts of this many, so memory stays bounded whatever the tile count
/// (a 64-pixel tile over a large frame makes hundreds), while the tiles of
/// a part still go to the model together.
pub const TILE_PART: usize = 8;

impl Prepare {
    /// `tiling`: sliced inference for frames larger than a tile; `None`
    /// detects on whole frames.
    pub fn new(preprocess: Preprocess, tiling: Option<Tiling>) -> Prepare {
        Prepare { preprocess, tiling }
    }

    pub fn tiling(&self) -> Option<&Tiling> {
        self.tiling.as_ref()
    }

    /// The tiles of one frame, or `None` to detect on the whole frame. A
    /// raster's window is already tile-sized and is never cut again.
    pub fn tiles_of(&self, frame: &Frame) -> Option<Vec<Tile>> {
        let t = self.tiling.as_ref()?;
        if frame.window.is_some() {
            return None;
        }
        let (w, h) = (frame.meta.width, frame.meta.height);
        if w <= t.size && h <= t.size {
            return None;
        }
        let mut tiles = tile::grid(w, h, t.size, t.overlap);
        if t.full_frame {
            tiles.push(Tile {
                x: 0,
                y: 0,
                width: w,
                height: h,
            });
        }
        Some(tiles)
    }

    /// Tensorises a whole frame (one that [`tiles_of`](Self::tiles_of)
    /// does not slice).
    pub fn whole(&self, frame: Frame) -> Prepared {
        Prepared {
            tensors: vec![self.preprocess.run_for(&frame.image, frame.source_size())],
            tiles: None,
            frame,
        }
    }

    /// A frame's parts, made one at a time as they are taken: the whole
    /// frame, or its tiles [`TILE_PART`] at a time, letterboxed in parallel
    /// on rayon's pool.
    pub fn parts(&self, frame: Frame) -> Parts<'_> {
        let tiles = self.tiles_of(&frame);
        Parts {
            prepare: self,
            frame: Some(frame),
            tiles,
            next: 0,
        }
    }

    /// Tensorises whole frames in parallel, keeping their order.
    fn run_all(&self, frames: Vec<Frame>) -> Vec<Prepared> {
        frames.into_par_iter().map(|f| self.whole(f)).collect()
    }
}

/// The parts of one frame (see [`Prepare::parts`]).
pub struct Parts<'a> {
    prepare: &'a Prepare,
    frame: Option<Frame>,
    tiles: Option<Vec<Tile>>,
    next: usize,
}

impl Iterator for Parts<'_> {
    type Item = Prepared;

    fn next(&mut self) -> Option<Prepared> {
        let Some(tiles) = &self.tiles else {
            return self.frame.take().map(|f| self.prepare.whole(f));
        };
        let frame = self.frame.as_ref()?;
        let end = (self.next + TILE_PART).min(tiles.len());
        let part: Vec<(usize, Tile)> = (self.next..end).map(|i| (i, tiles[i])).collect();
        let tensors = part
            .par_iter()
            .map(|(_, t)| {
                let crop =
                    image::imageops::crop_imm(frame.image.as_ref(), t.x, t.y, t.width, t.height)
                        .to_image();
                self.prepare.preprocess.run(&crop)
            })
            .collect();
        self.next = end;
        let last = end == tiles.len();
        let frame = if last {
            self.frame.take()?
        } else {
            frame.clone()
        };
        Some(Prepared {
            frame,
            tensors,
            tiles: Some(TilePart { tiles: part, last }),
        })
    }
}

/// What the detector has done so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InferStats {
    /// Calls into the model.
    pub calls: u64,
    /// Tensors detected (frames and tiles).
    pub tensors: u64,
    /// Tensors whose model outputs held NaN or infinite values.
    pub non_finite: u64,
    pub time: Duration,
}

/// The detector, batching tensors and merging the tiles of sliced frames.
pub struct Infer<D> {
    detector: D,
    batch: usize,
    stats: InferStats,
    assemble: Assemble,
}

/// A frame, or part of a sliced frame, detected but not yet assembled:
/// what [`Infer::detect`] returns and [`Assemble::push`] takes. Each
/// tensor's detections are in its own pixels (the frame's, or its tile's).
pub struct Inferred {
    pub frame: Frame,
    pub tiles: Option<TilePart>,
    pub per_tensor: Vec<Vec<Detection>>,
}

/// Joins the parts of sliced frames, in the order they were prepared. It
/// is kept apart from [`Infer`] so that several inference workers can
/// detect the parts of one frame while one assembler merges them.
#[derive(Debug, Clone)]
pub struct Assemble {
    merge: Option<MergeConfig>,
    /// The detections of the sliced frame whose parts are arriving, in
    /// frame pixels, until its last part.
    partial: Vec<tile::TileDetection>,
}

impl Assemble {
    /// `merge`: how the tiles of a sliced frame are joined (the tiling's).
    pub fn new(merge: Option<MergeConfig>) -> Assemble {
        Assemble {
            merge,
            partial: Vec::new(),
        }
    }

    /// The frame with its detections in frame pixels once `part` completes
    /// it: at once for a whole frame, with its last part for a sliced one.
    /// A raster window's detections stay in window pixels (the caller
    /// places them in the scene).
    pub fn push(&mut self, part: Inferred) -> Option<(Frame, Vec<Detection>)> {
        let Inferred {
            frame,
            tiles,
            mut per_tensor,
        } = part;
        let Some(part) = tiles else {
            return Some((frame, per_tensor.pop().unwrap_or_default()));
        };
        let (fw, fh) = (frame.meta.width, frame.meta.height);
        self.partial.extend(
            part.tiles
                .iter()
                .zip(per_tensor)
                .flat_map(|(&(i, t), dets)| dets.into_iter().map(move |d| t.place(i, d, fw, fh))),
        );
        if !part.last {
            return None;
        }
        let placed = std::mem::take(&mut self.partial);
        let detections = match self.merge {
            Some(cfg) => tile::merge(placed, &cfg),
            None => placed.into_iter().map(|t| t.detection).collect(),
        };
        Some((frame, detections))
    }
}

impl<D: Detector> Infer<D> {
    /// `batch`: most tensors per call, clamped to what the model accepts.
    /// `merge`: how the tiles of a sliced frame are joined (the tiling's).
    pub fn new(detector: D, batch: usize, merge: Option<MergeConfig>) -> Infer<D> {
        let batch = batch.clamp(1, detector.max_batch().max(1));
        Infer {
            detector,
            batch,
            stats: InferStats::default(),
            assemble: Assemble::new(merge),
        }
    }

    /// The batch size in force.
    pub fn batch(&self) -> usize {
        self.batch
    }

    pub fn detector(&self) -> &D {
        &self.detector
    }

    pub fn stats(&self) -> &InferStats {
        &self.stats
    }

    pub fn into_parts(self) -> (D, InferStats) {
        (self.detector, self.stats)
    }

    /// Detects every tensor of `prepared` in calls of at most `batch`, and
    /// returns each part with its detections per tensor, in order, for an
    /// [`Assemble`] to join.
    pub fn detect(&mut self, prepared: Vec<Prepared>) -> Result<Vec<Inferred>, DetectError> {
        let mut counts = Vec::with_capacity(prepared.len());
        let mut parts = Vec::with_capacity(prepared.len());
        let mut tensors: Vec<Tensorised> = Vec::with_capacity(prepared.len());
        for p in prepared {
            counts.push(p.tensors.len());
            tensors.extend(p.tensors);
            parts.push((p.frame, p.tiles));
        }
        let mut results: Vec<Vec<Detection>> = Vec::with_capacity(tensors.len());
        for chunk in tensors.chunks(self.batch) {
            let t0 = Instant::now();
            results.extend(self.detector.detect(chunk)?);
            self.stats.time += t0.elapsed();
            self.stats.calls += 1;
            self.stats.tensors += chunk.len() as u64;
        }
        self.stats.non_finite = self.detector.non_finite_frames();
        let mut results = results.into_iter();
        Ok(parts
            .into_iter()
            .zip(counts)
            .map(|((frame, tiles), n)| Inferred {
                frame,
                tiles,
                per_tensor: results.by_ref().take(n).collect(),
            })
            .collect())
    }

    /// Detects and assembles in turn: each frame with its detections in
    /// frame pixels, in order, a sliced frame once its last part has been
    /// detected (its earlier parts may have come in earlier calls). A
    /// raster window's detections stay in window pixels.
    pub fn run(
        &mut self,
        prepared: Vec<Prepared>,
    ) -> Result<Vec<(Frame, Vec<Detection>)>, DetectError> {
        let parts = self.detect(prepared)?;
        Ok(parts
            .into_iter()
            .filter_map(|p| self.assemble.push(p))
            .collect())
    }
}

/// Both halves on one thread: for drivers that detect a few frames at a
/// time (live feeds, one labelled image after another).
pub struct DetectStep<D> {
    prepare: Prepare,
    infer: Infer<D>,
}

impl<D: Detector> DetectStep<D> {
    pub fn new(prepare: Prepare, infer: Infer<D>) -> DetectStep<D> {
        DetectStep { prepare, infer }
    }

    /// Detects on `frames` (tensors of different frames share calls) and
    /// returns each with its detections, in order. Sliced frames are
    /// prepared a part at a time, and detected once a batch of tensors is
    /// ready, so their tiles never all sit in memory at once.
    pub fn detect(
        &mut self,
        frames: Vec<Frame>,
    ) -> Result<Vec<(Frame, Vec<Detection>)>, DetectError> {
        if self.prepare.tiling().is_none() {
            let prepared = self.prepare.run_all(frames);
            return self.infer.run(prepared);
        }
        let limit = self.infer.batch().max(TILE_PART);
        let mut out = Vec::with_capacity(frames.len());
        let mut queue = Vec::new();
        let mut queued = 0;
        for frame in frames {
            for part in self.prepare.parts(frame) {
                queued += part.tensors.len();
                queue.push(part);
                if queued >= limit {
                    out.extend(self.infer.run(std::mem::take(&mut queue))?);
                    queued = 0;
                }
            }
        }
        if !queue.is_empty() {
            out.extend(self.infer.run(queue)?);
        }
        Ok(out)
    }

    pub fn stats(&self) -> &InferStats {
        self.infer.stats()
    }

    pub fn batch(&self) -> usize {
        self.infer.batch()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::{ChannelOrder, Layout, Resize};
    use crate::frame::FrameMeta;
    use crate::geom::BBox;

    /// One box per tensor, at the same place in every tile; counts its
    /// calls' sizes.
    struct Fake {
        preprocess: Preprocess,
        calls: Vec<usize>,
    }

    impl Detector for Fake {
        fn preprocess(&self) -> &Preprocess {
            &self.preprocess
        }
        fn labels(&self) -> &[String] {
            &[]
        }
        fn max_batch(&self) -> usize {
            4
        }
        fn detect(&mut self, batch: &[Tensorised]) -> Result<Vec<Vec<Detection>>, DetectError> {
            self.calls.push(batch.len());
            Ok(batch
                .iter()
                .map(|_| {
                    vec![Detection {
                        class_id: 0,
                        score: 0.9,
                        bbox: BBox::new(20.0, 20.0, 30.0, 30.0),
                    }]
                })
                .collect())
        }
    }

    fn preprocess() -> Preprocess {
        Preprocess {
            input_w: 8,
            input_h: 8,
            resize: Resize::Stretch,
            layout: Layout::Nchw,
            channels: ChannelOrder::Rgb,
            scale: 1.0,
            mean: [0.0; 3],
            std: [1.0; 3],
            pad_value: 114,
        }
    }

    fn frame(w: u32, h: u32) -> Frame {
        let meta = FrameMeta {
            source_id: 0,
            seq: 0,
            frame_index: 0,
            pts_s: Some(0.0),
            width: w,
            height: h,
            gsd_m_per_px: None,
            ground: None,
            unplaced: None,
            probe: false,
        };
        Frame::whole(meta, image::RgbImage::new(w, h))
    }

    #[test]
    fn a_sliced_frame_travels_in_bounded_parts_and_comes_out_once() {
        let tiling = Tiling::with_size(64);
        let prepare = Prepare::new(preprocess(), Some(tiling.clone()));
        let big = frame(900, 700);
        let all = prepare.tiles_of(&big).unwrap().len();
        assert!(all > 10 * TILE_PART, "{all} tiles");
        let parts: Vec<Prepared> = prepare.parts(big.clone()).collect();
        assert!(parts.iter().all(|p| p.tensors.len() <= TILE_PART));
        assert_eq!(parts.iter().map(|p| p.tensors.len()).sum::<usize>(), all);
        let lasts: Vec<bool> = parts
            .iter()
            .map(|p| p.tiles.as_ref().unwrap().last)
            .collect();
        assert_eq!(lasts.iter().filter(|l| **l).count(), 1);
        assert!(*lasts.last().unwrap());

        // Parts fed one call at a time, or all together, give the same
        // merged detections, once, after the last part.
        let fake = || Fake {
            preprocess: preprocess(),
            calls: Vec::new(),
        };
        let mut one_by_one = Infer::new(fake(), 4, Some(tiling.merge));
        let mut out = Vec::new();
        for p in prepare.parts(big.clone()) {
            out.extend(one_by_one.run(vec![p]).unwrap());
        }
        let mut together = Infer::new(fake(), 4, Some(tiling.merge));
        let at_once = together.run(prepare.parts(big.clone()).collect()).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(at_once.len(), 1);
        assert_eq!(out[0].1, at_once[0].1);
        assert_eq!(out[0].1.len(), all, "tiles do not overlap at that box");
        assert_eq!(one_by_one.stats().tensors, all as u64);

        // DetectStep sends full calls across parts, and a small frame
        // beside the big one keeps its place.
        let mut step = DetectStep::new(prepare, Infer::new(fake(), 4, Some(tiling.merge)));
        let got = step
            .detect(vec![frame(50, 50), big, frame(40, 40)])
            .unwrap();
        let sizes: Vec<u32> = got.iter().map(|(f, _)| f.meta.width).collect();
        assert_eq!(sizes, vec![50, 900, 40]);
        assert_eq!(got[1].1, at_once[0].1);
        let (fake, _) = step.infer.into_parts();
        assert!(fake.calls.iter().all(|&n| n <= 4));
        assert_eq!(fake.calls.iter().sum::<usize>(), all + 2);
    }
}
