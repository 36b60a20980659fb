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

/// A frame ready for inference.
pub struct Prepared {
    pub frame: Frame,
    /// One tensor, or one per tile.
    pub tensors: Vec<Tensorised>,
    /// The tiles the tensors were cut from; `None` for the whole frame.
    pub tiles: Option<Vec<Tile>>,
}

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

    /// Tensorises one frame; the tiles of a sliced frame are letterboxed in
    /// parallel on rayon's pool.
    pub fn run(&self, frame: Frame) -> Prepared {
        match self.tiles_of(&frame) {
            None => Prepared {
                tensors: vec![self.preprocess.run(&frame.image)],
                tiles: None,
                frame,
            },
            Some(tiles) => {
                let tensors = tiles
                    .par_iter()
                    .map(|t| {
                        let crop = image::imageops::crop_imm(
                            frame.image.as_ref(),
                            t.x,
                            t.y,
                            t.width,
                            t.height,
                        )
                        .to_image();
                        self.preprocess.run(&crop)
                    })
                    .collect();
                Prepared {
                    frame,
                    tensors,
                    tiles: Some(tiles),
                }
            }
        }
    }

    /// Tensorises frames in parallel, keeping their order.
    pub fn run_all(&self, frames: Vec<Frame>) -> Vec<Prepared> {
        frames.into_par_iter().map(|f| self.run(f)).collect()
    }
}

/// What the detector has done so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InferStats {
    /// Calls into the model.
    pub calls: u64,
    /// Tensors detected (frames and tiles).
    pub tensors: u64,
    pub time: Duration,
}

/// The detector, batching tensors and merging the tiles of sliced frames.
pub struct Infer<D> {
    detector: D,
    batch: usize,
    merge: Option<MergeConfig>,
    stats: InferStats,
}

impl<D: Detector> Infer<D> {
    /// `batch`: most tensors per call, clamped to what the model accepts.
    /// `merge`: how the tiles of a sliced frame are joined (the tiling's).
    pub fn new(detector: D, batch: usize, merge: Option<MergeConfig>) -> Infer<D> {
        let batch = batch.clamp(1, detector.max_batch().max(1));
        Infer {
            detector,
            batch,
            merge,
            stats: InferStats::default(),
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
    /// returns each frame with its detections in frame pixels, in order.
    /// A raster window's detections stay in window pixels (the caller
    /// places them in the scene).
    pub fn run(
        &mut self,
        prepared: Vec<Prepared>,
    ) -> Result<Vec<(Frame, Vec<Detection>)>, DetectError> {
        let mut counts = Vec::with_capacity(prepared.len());
        let mut frames = Vec::with_capacity(prepared.len());
        let mut tensors: Vec<Tensorised> = Vec::with_capacity(prepared.len());
        for p in prepared {
            counts.push(p.tensors.len());
            tensors.extend(p.tensors);
            frames.push((p.frame, p.tiles));
        }
        let mut results: Vec<Vec<Detection>> = Vec::with_capacity(tensors.len());
        for chunk in tensors.chunks(self.batch) {
            let t0 = Instant::now();
            results.extend(self.detector.detect(chunk)?);
            self.stats.time += t0.elapsed();
            self.stats.calls += 1;
            self.stats.tensors += chunk.len() as u64;
        }
        let mut results = results.into_iter();
        let mut out = Vec::with_capacity(frames.len());
        for ((frame, tiles), n) in frames.into_iter().zip(counts) {
            let (fw, fh) = (frame.meta.width, frame.meta.height);
            let mut per_tensor: Vec<Vec<Detection>> = (0..n)
                .map(|_| results.next().expect("one result per tensor"))
                .collect();
            let detections = match (tiles, self.merge) {
                (Some(tiles), Some(cfg)) => tile::merge(
                    tiles
                        .iter()
                        .enumerate()
                        .zip(per_tensor)
                        .flat_map(|((i, t), dets)| {
                            dets.into_iter().map(move |d| t.place(i, d, fw, fh))
                        })
                        .collect(),
                    &cfg,
                ),
                _ => per_tensor.pop().unwrap_or_default(),
            };
            out.push((frame, detections));
        }
        Ok(out)
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
    /// returns each with its detections, in order.
    pub fn detect(
        &mut self,
        frames: Vec<Frame>,
    ) -> Result<Vec<(Frame, Vec<Detection>)>, DetectError> {
        let prepared = self.prepare.run_all(frames);
        self.infer.run(prepared)
    }

    pub fn stats(&self) -> &InferStats {
        self.infer.stats()
    }

    pub fn batch(&self) -> usize {
        self.infer.batch()
    }
}
